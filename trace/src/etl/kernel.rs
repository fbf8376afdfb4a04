//! Kernel (MOF) events: the state the merge keeps for them (which process each thread
//! belongs to) and their rendering by the class table ([`super::mof`]). Events of a class
//! the table lacks keep a raw form, `Group/TypeN vV data=...`.

use std::collections::HashMap;

use super::bytes::{push_hex, push_int, u32_at};
use super::event::HEX_CAP;
use super::manifest::decode::render_values;
use super::mof::{self, Entry, Key, Thread};

/// Why a kernel event kept its raw form although its class is known.
pub(crate) const LAYOUT_SHORT: &str = "kernel class layout does not fit the payload";

/// What a kernel record gives the row beyond its message.
pub(crate) struct KernelRow {
    pub pid: Option<u32>,
    pub tid: Option<u32>,
    /// `Provider/Task/Event` when the class table names the event.
    pub event: Option<&'static str>,
    /// Why the class layout did not fit the payload (the row keeps its raw form).
    pub misfit: Option<&'static str>,
}

/// Threads seen so far, so events about a thread can name its process.
///
/// Records are decoded on several threads, so the state is kept apart from decoding: the
/// merge applies each thread record and each record naming a thread to it in time order
/// ([`KernelState::apply`]) and hands the decoder what it looked up ([`Looked`]).
#[derive(Default)]
pub(crate) struct KernelState {
    thread_pid: HashMap<u32, u32>,
}

/// What decoding a kernel record takes from the records before it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum Looked {
    /// Nothing (most records).
    #[default]
    Nothing,
    /// The process of the thread the payload names.
    Pid(Option<u32>),
    /// A context switch: the processes of the thread switched out and of the one switched in.
    Pids(Option<u32>, Option<u32>),
}

const GROUP_THREAD: u8 = 0x05;
const CSWITCH: u8 = 36;

/// Whether a record of this group and type reads or changes [`KernelState`].
pub(crate) fn stateful(group: u8, kind: u8) -> bool {
    matches!((group, kind), (GROUP_THREAD, 1..=4 | CSWITCH))
        || mof::table().has_tid_at(Key::Group(group), kind)
}

/// The thread and process a kernel record's header names, if both (SYSTEM headers do):
/// the merge learns the thread's process from it, as PerfView does.
pub(crate) fn names_thread(pid: Option<u32>, tid: Option<u32>) -> Option<(u32, u32)> {
    Some((known(pid)?, known(tid)?))
}

impl KernelState {
    /// Learns a thread's process from a record header that names both.
    pub(crate) fn learn(&mut self, pid: u32, tid: u32) {
        if self.thread_pid.get(&tid) != Some(&pid) {
            self.thread_pid.insert(tid, pid);
        }
    }

    /// Applies one record (in time order) and returns what decoding it needs.
    pub(crate) fn apply(
        &mut self,
        group: u8,
        kind: u8,
        version: u16,
        pointer64: bool,
        p: &[u8],
    ) -> Looked {
        match (group, kind) {
            // Every Thread_TypeGroup1 version starts with ProcessId, TThreadId.
            (GROUP_THREAD, 1..=4) => {
                if let (Some(pid), Some(tid)) = (u32_at(p, 0), u32_at(p, 4)) {
                    self.thread_pid.insert(tid, pid);
                }
                Looked::Nothing
            }
            (GROUP_THREAD, CSWITCH) => {
                let (Some(new_tid), Some(old_tid)) = (u32_at(p, 0), u32_at(p, 4)) else {
                    return Looked::Nothing;
                };
                Looked::Pids(
                    self.thread_pid.get(&old_tid).copied(),
                    self.thread_pid.get(&new_tid).copied(),
                )
            }
            _ => {
                let at = mof::table()
                    .get(Key::Group(group), kind, version)
                    .and_then(|e| e.class.tid_at);
                match at.and_then(|at| at.read(p, pointer64)) {
                    Some(tid) => Looked::Pid(self.thread_pid.get(&tid).copied()),
                    None => Looked::Nothing,
                }
            }
        }
    }
}

/// The raw name of a kernel event of a class the table lacks (`StackWalk/Type35`).
pub(crate) fn raw_name(group: u8, kind: u8) -> String {
    format!("{}/Type{kind}", group_name(group))
}

/// `EVENT_TRACE_GROUP_*` names (ntwmi.h): the group byte is the high byte of the HookId.
fn group_name(group: u8) -> &'static str {
    const NAMES: [&str; 0x1F] = [
        "EventTrace",
        "DiskIo",
        "PageFault",
        "Process",
        "FileIo",
        "Thread",
        "TcpIp",
        "Job",
        "UdpIp",
        "Registry",
        "DbgPrint",
        "SystemConfig",
        "Spare",
        "Wnf",
        "Pool",
        "PerfInfo",
        "Heap",
        "Object",
        "Power",
        "Modbound",
        "Image",
        "Dpc",
        "CacheManager",
        "CritSec",
        "StackWalk",
        "Ums",
        "Alpc",
        "SplitIo",
        "ThreadPool",
        "Hypervisor",
        "HypervisorX",
    ];
    NAMES.get(usize::from(group)).copied().unwrap_or("Kernel")
}

/// -1 (0xFFFFFFFF) means "no process/thread" (PerfView prints -1).
/// A process or thread id, `None` for 0xFFFFFFFF (no such process or thread).
pub(crate) fn known(v: Option<u32>) -> Option<u32> {
    v.filter(|&v| v != u32::MAX)
}

/// Writes a kernel record's message and returns its row fields.
#[allow(clippy::too_many_arguments)]
pub(crate) fn decode(
    looked: &Looked,
    group: u8,
    kind: u8,
    version: u16,
    pointer64: bool,
    header_pid: Option<u32>,
    header_tid: Option<u32>,
    payload: &[u8],
    msg: &mut String,
) -> KernelRow {
    let header = (known(header_pid), known(header_tid));
    let key = Key::Group(group);
    let mut misfit = None;
    let entry = mof::table().get(key, kind, version);
    if let Some(e) = entry {
        match render(e, looked, pointer64, header, payload, msg) {
            Ok(row) => return row,
            Err(reason) => misfit = Some(reason),
        }
    }
    msg.clear();
    let event = name_unrendered(key, kind, entry, msg);
    if msg.is_empty() {
        msg.push_str(group_name(group));
        msg.push_str("/Type");
        push_int(msg, kind);
    }
    raw_tail(version, payload, msg);
    KernelRow {
        pid: header.0,
        tid: header.1,
        event,
        misfit,
    }
}

/// Names an event of a known class that was not rendered (its layout did not fit, or the
/// table lacks its opcode: PerfView's `SysConfig/Opcode(37)`): writes `Task/Event` to
/// `msg` and returns the `event` column. Writes nothing for a key the table lacks.
pub(crate) fn name_unrendered(
    key: Key,
    kind: u8,
    entry: Option<&'static Entry>,
    msg: &mut String,
) -> Option<&'static str> {
    if let Some(e) = entry {
        msg.push_str(&e.short);
        return Some(&e.full);
    }
    let (task, _) = mof::table().task(key)?;
    msg.push_str(task);
    msg.push_str("/Opcode(");
    push_int(msg, kind);
    msg.push(')');
    mof::table().unlisted(key, kind)
}

/// ` vV data=...`: the raw part of an event no layout rendered.
pub(crate) fn raw_tail(version: u16, payload: &[u8], msg: &mut String) {
    msg.push_str(" v");
    push_int(msg, version);
    msg.push_str(" data=");
    push_hex(msg, payload, HEX_CAP);
}

/// Renders a record by its class: `Task/Event Name=Value; ...`, with the row's process and
/// thread taken from the fields that name them.
///
/// PerfView's attribution (net.4.5.2.x64's baseline): an event with a process field
/// (Image, TcpIp, Process) is that process's, on no thread unless the thread that logged
/// it is of the same process; an event with a thread field (SampledProfile, StackWalk) is
/// that thread's, in the thread's process as the thread events before it said.
/// `header` is the record header's process and thread, 0xFFFFFFFF already `None`
/// ([`known`]).
pub(crate) fn render(
    e: &'static Entry,
    looked: &Looked,
    pointer64: bool,
    (header_pid, header_tid): (Option<u32>, Option<u32>),
    payload: &[u8],
    msg: &mut String,
) -> Result<KernelRow, &'static str> {
    msg.clear();
    msg.push_str(&e.short);
    let c = &e.class;
    if !c.fields.is_empty() {
        msg.push(' ');
    }
    let mut values = [0u64; 64];
    render_values(&c.fields, payload, pointer64, msg, &mut values).map_err(|_| LAYOUT_SHORT)?;
    if c.fields.is_empty() && !payload.is_empty() {
        msg.push_str(" data=");
        push_hex(msg, payload, HEX_CAP);
    }
    let value = |i: Option<usize>| {
        i.and_then(|i| values.get(i))
            .and_then(|&v| u32::try_from(v).ok())
    };
    let (pid_field, tid_field) = (known(value(c.pid)), known(value(c.tid)));
    let (mut pid, mut tid) = (header_pid, header_tid);
    if c.pid.is_some() {
        pid = pid_field;
        tid = match c.thread {
            Thread::SameProcess if header_pid != pid_field => None,
            Thread::SameProcess | Thread::Logger => header_tid,
            Thread::None => None,
        };
    }
    if c.thread == Thread::None {
        tid = None;
    }
    if c.tid.is_some() {
        tid = tid_field;
        if c.pid.is_none() && tid != header_tid {
            pid = match *looked {
                Looked::Pid(p) | Looked::Pids(p, _) => p,
                Looked::Nothing => None,
            };
        }
    }
    if let Looked::Pids(old, new) = *looked {
        // PerfView's CSwitch adds the processes of both threads.
        for (name, v) in [("; OldProcessID=", old), ("; NewProcessID=", new)] {
            if let Some(v) = v {
                msg.push_str(name);
                push_int(msg, v);
            }
        }
    }
    Ok(KernelRow {
        pid,
        tid,
        event: Some(&e.full),
        misfit: None,
    })
}
