//! Turning decoded minidump streams into snapshot types: one [`Thread`] and one
//! [`ThreadDetail`] per thread id (ThreadList, ThreadInfoList and ThreadNames
//! joined by id), the process from MiscInfo and the first module, the dump
//! time from the header and the MiscInfo time zone.

use std::collections::HashMap;

use super::streams::{RawThread, RawThreadInfo};
use crate::dumpfile::{filetime, header_session_time, DumpFile, Handle, Module, ThreadDetail};
use crate::model::{DumpSnapshot, Process, Thread, ThreadOrigin, ThreadState};

// A minidump records no scheduling state; its threads carry this state word
// (or TERMINATED when ThreadInfoList flags them as exited).
use crate::model::STATE_NOT_RECORDED;

/// ThreadInfoList DumpFlags bit: the thread had exited (skelsec ThreadInfoListStream.py).
const EXITED_THREAD: u32 = 0x4;

/// What the streams gave, before assembly.
#[derive(Default)]
pub(super) struct Parts {
    pub(super) threads: Vec<RawThread>,
    pub(super) infos: Vec<RawThreadInfo>,
    pub(super) names: Vec<(u32, String)>,
    pub(super) modules: Vec<Module>,
    pub(super) handles: Vec<Handle>,
}

pub(super) fn snapshot(label: &str, mut dump: DumpFile, parts: Parts) -> DumpSnapshot {
    let misc = dump.minidump.as_ref().and_then(|m| m.misc.clone());
    let pid = misc.as_ref().and_then(|m| m.process_id);
    let zone = misc.as_ref().and_then(|m| m.time_zone.as_ref());
    let mut s = DumpSnapshot {
        session_time: dump.time.map(|t| {
            header_session_time(
                t,
                zone.map(|z| z.utc_offset_minutes()),
                "minidump header TimeDateStamp",
            )
        }),
        ..DumpSnapshot::default()
    };
    if pid.is_some() || !parts.modules.is_empty() {
        s.processes.push(Process {
            address: 0,
            pid: pid.unwrap_or(0),
            parent_pid: None,
            session_id: None,
            // The first module of a minidump is the process's executable (minidumpapiset.h:
            // MiniDumpWriteDump lists the main image first; all 6 samples agree).
            image: parts
                .modules
                .first()
                .map(|m| m.file_name().to_string())
                .unwrap_or_default(),
            handle_count: (!parts.handles.is_empty()).then_some(parts.handles.len() as u32),
            elapsed_time: misc
                .as_ref()
                .and_then(|m| Some(dump.time? - m.process_create_time?))
                .map(|d| duration_text(d.num_milliseconds().max(0) as u64 * 10_000)),
            user_time: misc
                .as_ref()
                .and_then(|m| m.process_user_seconds)
                .map(|sec| duration_text(u64::from(sec) * 10_000_000)),
            kernel_time: misc
                .as_ref()
                .and_then(|m| m.process_kernel_seconds)
                .map(|sec| duration_text(u64::from(sec) * 10_000_000)),
            line: 0,
            source: String::new(),
        });
    }
    let (threads, details) = threads(label, pid, &parts);
    s.threads = threads;
    s.thread_details = details;
    s.modules = parts
        .modules
        .into_iter()
        .map(|m| Module { pid, ..m })
        .collect();
    if let Some(info) = dump.minidump.as_mut() {
        for m in &mut info.unloaded_modules {
            m.pid = pid;
        }
    }
    s.handles = parts.handles;
    s.dump_files.push(dump);
    s
}

fn threads(label: &str, pid: Option<u32>, parts: &Parts) -> (Vec<Thread>, Vec<ThreadDetail>) {
    // File order: ThreadList first, then threads only the other streams name.
    let mut details: Vec<(ThreadDetail, u64)> = Vec::new();
    let mut index: HashMap<u32, usize> = HashMap::new();
    let mut entry = |tid: u32, offset: u64| -> usize {
        *index.entry(tid).or_insert_with(|| {
            let d = ThreadDetail {
                pid,
                tid,
                ..ThreadDetail::default()
            };
            details.push((d, offset));
            details.len() - 1
        })
    };
    let ids: Vec<usize> = parts
        .threads
        .iter()
        .map(|t| entry(t.tid, t.offset))
        .collect();
    let info_ids: Vec<usize> = parts.infos.iter().map(|i| entry(i.tid, 0)).collect();
    let name_ids: Vec<usize> = parts.names.iter().map(|(tid, _)| entry(*tid, 0)).collect();
    for (t, &k) in parts.threads.iter().zip(&ids) {
        let d = &mut details[k].0;
        d.suspend_count = Some(t.suspend_count);
        d.priority_class = Some(t.priority_class);
        d.priority = Some(t.priority);
        d.teb = Some(t.teb);
        d.stack_start = Some(t.stack_start);
        d.stack_size = Some(t.stack_size);
    }
    for (i, &k) in parts.infos.iter().zip(&info_ids) {
        let d = &mut details[k].0;
        d.dump_flags = Some(i.dump_flags);
        d.exit_status = Some(i.exit_status);
        // FILETIME UTC (formats.md §2, ThreadInfoList; rust-minidump: "UTC time the thread was created").
        d.create_time = filetime(i.create_time);
        d.exit_time = filetime(i.exit_time);
        d.kernel_time_ns = Some(i.kernel_time.saturating_mul(100));
        d.user_time_ns = Some(i.user_time.saturating_mul(100));
        d.start_address = Some(i.start_address);
    }
    for ((_, name), &k) in parts.names.iter().zip(&name_ids) {
        details[k].0.name = Some(name.clone()).filter(|n| !n.is_empty());
    }
    let threads = details
        .iter()
        .map(|(d, offset)| thread(label, d, *offset))
        .collect();
    (threads, details.into_iter().map(|(d, _)| d).collect())
}

fn thread(label: &str, d: &ThreadDetail, offset: u64) -> Thread {
    let exited = d.dump_flags.is_some_and(|f| f & EXITED_THREAD != 0);
    let state = if exited {
        ThreadState::Terminated
    } else {
        ThreadState::Other(STATE_NOT_RECORDED.into())
    };
    let source = format!("{label}@{offset:#x}");
    let mut t = Thread::new(0, d.pid.unwrap_or(0), d.tid, state, source, offset);
    t.origin = ThreadOrigin::Minidump;
    t.teb = d.teb;
    t.user_time = d.user_time_ns.map(|ns| duration_text(ns / 100).into());
    t.kernel_time = d.kernel_time_ns.map(|ns| duration_text(ns / 100).into());
    t.start_address = d.start_address.map(|a| format!("0x{a:x}").into());
    t
}

/// 100 ns units as WinDbg prints thread times: `00:00:00.015`.
fn duration_text(units: u64) -> String {
    let ms = units / 10_000;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}
