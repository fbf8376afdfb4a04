//! Kernel (MOF) events that correlation needs: process and thread start, end and rundown,
//! and context switches. Other kernel events are named by group and shown as hex.
//!
//! Payload layouts are the classic kernel MOF classes `Process_TypeGroup1`,
//! `Thread_TypeGroup1` and `CSwitch` (learn.microsoft.com "Process class", "Thread class",
//! "CSwitch class"; perfview `KernelTraceEventParser.cs`). No public sample holds them, so
//! they are [source] only; the test-data writer holds them to these layouts.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Arc;

use super::bytes::{ansiz, push_hex, push_int, u32_at, u8_at, utf16z};
use super::event::{push_value, HEX_CAP};

/// What a kernel record gives the row beyond its message.
pub(crate) struct KernelRow {
    pub pid: Option<u32>,
    pub tid: Option<u32>,
}

/// Threads and processes seen so far, so context switches can name their process.
///
/// Records are decoded on several threads, so the state is kept apart from decoding: the
/// merge applies each process, thread and context-switch record to it in time order
/// ([`KernelState::apply`]) and hands the decoder what it looked up ([`Looked`]).
#[derive(Default)]
pub(crate) struct KernelState {
    thread_pid: HashMap<u32, u32>,
    /// Process id → the image its last process record gave.
    images: HashMap<u32, Arc<str>>,
}

/// What decoding a kernel record takes from the records before it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum Looked {
    /// Nothing (most records).
    #[default]
    Nothing,
    /// A thread record: the image of its process.
    Image(Option<Arc<str>>),
    /// A context switch: the processes of the thread switched out and of the one switched in.
    Pids(Option<u32>, Option<u32>),
}

/// Whether a record of this group and type reads or changes [`KernelState`].
pub(crate) fn stateful(group: u8, kind: u8) -> bool {
    matches!(
        (group, kind),
        (GROUP_PROCESS, 1..=4 | 39) | (GROUP_THREAD, 1..=4 | CSWITCH)
    )
}

impl KernelState {
    /// Applies one record (in time order) and returns what decoding it needs: the same
    /// reads of the payload as [`decode`], so the state changes exactly when the decoder
    /// would have changed it.
    pub(crate) fn apply(
        &mut self,
        group: u8,
        kind: u8,
        version: u16,
        pointer64: bool,
        p: &[u8],
    ) -> Looked {
        match (group, kind) {
            (GROUP_PROCESS, 1..=4 | 39) => {
                if let Some(f) = process_fields(version, pointer64, p) {
                    self.images.insert(f.pid, f.image.into());
                }
                Looked::Nothing
            }
            (GROUP_THREAD, 1..=4) => {
                let (Some(pid), Some(tid)) = (u32_at(p, 0), u32_at(p, 4)) else {
                    return Looked::Nothing;
                };
                let image = self.images.get(&pid).cloned();
                self.thread_pid.insert(tid, pid);
                Looked::Image(image)
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
            _ => Looked::Nothing,
        }
    }
}

const GROUP_HEADER: u8 = 0x00;
const GROUP_PROCESS: u8 = 0x03;
const GROUP_THREAD: u8 = 0x05;
const CSWITCH: u8 = 36;

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

/// Event names of the groups decoded here (perfview `KernelTraceEventParser.cs`).
fn event_name(group: u8, kind: u8) -> Option<&'static str> {
    Some(match (group, kind) {
        (GROUP_HEADER, 0) => "Header",
        (GROUP_HEADER, 5) => "Extension",
        (GROUP_HEADER, 8) => "RundownComplete",
        (GROUP_HEADER, 32) => "EndExtension",
        (GROUP_HEADER, 0x50) => "PartitionInfoExtension",
        (GROUP_PROCESS | GROUP_THREAD, 1) => "Start",
        (GROUP_PROCESS | GROUP_THREAD, 2) => "End",
        (GROUP_PROCESS | GROUP_THREAD, 3) => "DCStart",
        (GROUP_PROCESS | GROUP_THREAD, 4) => "DCEnd",
        (GROUP_PROCESS, 39) => "Defunct",
        (GROUP_THREAD, CSWITCH) => "CSwitch",
        (GROUP_THREAD, 50) => "ReadyThread",
        _ => return None,
    })
}

/// KWAIT_REASON names, as WPA and PerfView print them.
const WAIT_REASONS: [&str; 42] = [
    "Executive",
    "FreePage",
    "PageIn",
    "PoolAllocation",
    "DelayExecution",
    "Suspended",
    "UserRequest",
    "WrExecutive",
    "WrFreePage",
    "WrPageIn",
    "WrPoolAllocation",
    "WrDelayExecution",
    "WrSuspended",
    "WrUserRequest",
    "WrEventPair",
    "WrQueue",
    "WrLpcReceive",
    "WrLpcReply",
    "WrVirtualMemory",
    "WrPageOut",
    "WrRendezvous",
    "WrKeyedEvent",
    "WrTerminated",
    "WrProcessInSwap",
    "WrCpuRateControl",
    "WrCalloutStack",
    "WrKernel",
    "WrResource",
    "WrPushLock",
    "WrMutex",
    "WrQuantumEnd",
    "WrDispatchInt",
    "WrPreempted",
    "WrYieldExecution",
    "WrFastMutex",
    "WrGuardedMutex",
    "WrRundown",
    "WrAlertByThreadId",
    "WrDeferredPreempt",
    "WrPhysicalFault",
    "WrIoRing",
    "WrMdlCache",
];
const THREAD_STATES: [&str; 8] = [
    "Initialized",
    "Ready",
    "Running",
    "Standby",
    "Terminated",
    "Waiting",
    "Transition",
    "DeferredReady",
];

/// Appends the table's name for `v`, or the number when the table has none.
fn push_named(msg: &mut String, table: &[&'static str], v: u8) {
    match table.get(usize::from(v)) {
        Some(name) => msg.push_str(name),
        None => push_int(msg, v),
    }
}

/// Writes `Group/Event ...` for a kernel record and returns its pid/tid.
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
    msg.push_str(group_name(group));
    msg.push('/');
    match event_name(group, kind) {
        Some(name) => msg.push_str(name),
        None => {
            msg.push_str("Type");
            push_int(msg, kind);
        }
    }
    // -1 (0xFFFFFFFF) in a header means "no process/thread" (PerfView prints -1).
    let known = |v: Option<u32>| v.filter(|&v| v != u32::MAX);
    let header = KernelRow {
        pid: known(header_pid),
        tid: known(header_tid),
    };
    let decoded = match (group, kind) {
        (GROUP_PROCESS, 1..=4 | 39) => process(kind, version, pointer64, payload, msg, &header),
        (GROUP_THREAD, 1..=4) => thread(looked, payload, msg),
        (GROUP_THREAD, CSWITCH) => cswitch(looked, payload, msg),
        _ => None,
    };
    decoded.unwrap_or_else(|| {
        msg.push_str(" v");
        push_int(msg, version);
        msg.push_str(" data=");
        push_hex(msg, payload, HEX_CAP);
        header
    })
}

/// The fields of a process record that are shown.
struct ProcessFields {
    pid: u32,
    ppid: u32,
    session: u32,
    exit: i32,
    image: String,
    command: String,
}

fn process_fields(version: u16, pointer64: bool, p: &[u8]) -> Option<ProcessFields> {
    let ptr = if pointer64 { 8 } else { 4 };
    // V1 starts with PageDirectoryBase, V2+ with UniqueProcessKey: a pointer either way.
    let ids = ptr;
    let pid = u32_at(p, ids)?;
    let ppid = u32_at(p, ids + 4)?;
    let session = u32_at(p, ids + 8)?;
    let exit = u32_at(p, ids + 12)? as i32;
    let mut at = ids + 16;
    match version {
        1 | 2 => {}
        3 => at += ptr,     // DirectoryTableBase
        _ => at += ptr + 4, // DirectoryTableBase, Flags (V4+)
    }
    at = skip_sid(p, at, ptr)?;
    let (image, used) = ansiz(p.get(at..)?);
    let command = if version >= 2 {
        utf16z(p.get(at + used..).unwrap_or(&[])).0
    } else {
        String::new()
    };
    Some(ProcessFields {
        pid,
        ppid,
        session,
        exit,
        image,
        command,
    })
}

fn process(
    kind: u8,
    version: u16,
    pointer64: bool,
    p: &[u8],
    msg: &mut String,
    header: &KernelRow,
) -> Option<KernelRow> {
    let f = process_fields(version, pointer64, p)?;
    let _ = write!(
        msg,
        " pid={} ppid={} session={} image=",
        f.pid, f.ppid, f.session
    );
    push_value(msg, &f.image);
    if !f.command.is_empty() {
        msg.push_str(" cmdline=");
        push_value(msg, &f.command);
    }
    if kind != 1 && kind != 3 {
        let _ = write!(msg, " exit={:#x}", f.exit);
    }
    Some(KernelRow {
        pid: Some(f.pid),
        tid: header.tid,
    })
}

/// Skips the `UserSID` field: a TOKEN_USER (two pointers) then a SID, or 4 zero bytes when
/// there is none (perfview `ProcessTraceData.SkipSID`).
fn skip_sid(p: &[u8], at: usize, ptr: usize) -> Option<usize> {
    if u32_at(p, at)? == 0 {
        return Some(at + 4);
    }
    let sub_authorities = usize::from(u8_at(p, at + 2 * ptr + 1)?);
    Some(at + 2 * ptr + 8 + 4 * sub_authorities)
}

fn thread(looked: &Looked, p: &[u8], msg: &mut String) -> Option<KernelRow> {
    // Every version starts with ProcessId, TThreadId.
    let pid = u32_at(p, 0)?;
    let tid = u32_at(p, 4)?;
    let _ = write!(msg, " pid={pid} tid={tid}");
    if let Looked::Image(Some(image)) = looked {
        msg.push_str(" image=");
        push_value(msg, image);
    }
    Some(KernelRow {
        pid: Some(pid),
        tid: Some(tid),
    })
}

/// A context switch. The row belongs to the thread switched out: its wait reason is what
/// explains a hang; its process comes from the thread events seen before.
fn cswitch(looked: &Looked, p: &[u8], msg: &mut String) -> Option<KernelRow> {
    let new_tid = u32_at(p, 0)?;
    let old_tid = u32_at(p, 4)?;
    let reason = u8_at(p, 12)?;
    let mode = u8_at(p, 13)?;
    let old_state = u8_at(p, 14)?;
    let (old_pid, new_pid) = match *looked {
        Looked::Pids(old, new) => (old, new),
        _ => (None, None),
    };
    // Written piece by piece: context switches are the most frequent kernel event.
    msg.push_str(" old_tid=");
    push_int(msg, old_tid);
    msg.push_str(" new_tid=");
    push_int(msg, new_tid);
    msg.push_str(" wait_reason=");
    push_named(msg, &WAIT_REASONS, reason);
    msg.push_str(if mode == 0 {
        " wait_mode=Kernel"
    } else {
        " wait_mode=User"
    });
    msg.push_str(" old_state=");
    push_named(msg, &THREAD_STATES, old_state);
    if let Some(pid) = new_pid {
        msg.push_str(" new_pid=");
        push_int(msg, pid);
    }
    Some(KernelRow {
        pid: old_pid,
        tid: Some(old_tid),
    })
}
