//! The snapshot: what a dump says about processes, threads and locks.

use chrono::{DateTime, FixedOffset, NaiveDateTime, Utc};
use compact_str::CompactString;
use std::sync::Arc;

use serde::Serialize;

/// Everything read from the dump-side inputs of one incident.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DumpSnapshot {
    /// When the dump was taken (`Debug session time:`, or a binary dump's header time).
    pub session_time: Option<SessionTime>,
    /// `System Uptime:` in milliseconds, when the log has it.
    pub uptime_ms: Option<u64>,
    /// `Process Uptime:` in milliseconds (`.time` and the banner of user-mode dumps).
    pub process_uptime_ms: Option<u64>,
    /// Length of one wait tick in nanoseconds (15.625 ms unless the log says otherwise).
    pub tick_ns: u64,
    /// How `tick_ns` was decided.
    pub tick_source: String,
    pub processes: Vec<Process>,
    pub threads: Vec<Thread>,
    pub critical_sections: Vec<CriticalSection>,
    pub resources: Vec<Resource>,
    pub lpc_messages: Vec<LpcMessage>,
    /// `!alpc /m` messages: who waits, which queue, which thread serves it.
    pub alpc_messages: Vec<AlpcMessage>,
    /// `!irp X`: where an IRP is, and whether it is pending there.
    pub irps: Vec<Irp>,
    /// Facts about the dump itself that a reader should know (inconsistencies, missing times).
    pub notes: Vec<String>,
    /// Binary dump files read (minidumps, kernel dumps): header facts, truncation.
    pub dump_files: Vec<crate::dumpfile::DumpFile>,
    /// Modules of the dumped process (minidump ModuleList).
    pub modules: Vec<crate::dumpfile::Module>,
    /// Handles of the dumped process (minidump HandleData), with mutant owners where recorded.
    pub handles: Vec<crate::dumpfile::Handle>,
    /// Per-thread facts a minidump adds: names, create times, suspend counts, stacks
    /// (and, from a log, the suspend counts and names of the `~` thread list).
    pub thread_details: Vec<crate::dumpfile::ThreadDetail>,
    /// `!running`: each processor's current and next thread.
    pub processors: Vec<crate::system::Processor>,
    /// `!vm`: memory, page files, pool usage and its warnings.
    pub memory: Vec<crate::system::VirtualMemory>,
    /// `!poolused` rows.
    pub pool_tags: Vec<crate::system::PoolTag>,
    /// `!irpfind` rows.
    pub irpfind: Vec<crate::system::IrpRow>,
    /// `!handle`: each handle table's size and, in user mode, the count per type.
    /// (The handles themselves are in `handles`.)
    pub handle_tables: Vec<crate::system::HandleTable>,
    /// `!analyze -v` and the `BugCheck X, {...}` banner line.
    pub bugchecks: Vec<crate::system::Bugcheck>,
    /// What a reader noticed about its input while reading (inconsistencies it
    /// cannot keep in a field); copied into `notes` when the snapshot is finished.
    #[serde(skip)]
    pub read_notes: Vec<String>,
}

/// The `Debug session time:` line, as written and as UTC.
#[derive(Debug, Clone, Serialize)]
pub struct SessionTime {
    /// The text after `Debug session time:` (for a binary dump: the header time and its source).
    pub raw: String,
    /// The wall-clock time as printed, in the debugger machine's zone.
    pub local: NaiveDateTime,
    /// The zone printed in parentheses, if any (`(UTC - 4:00)`, `(GMT-7)`).
    #[serde(serialize_with = "offset_text")]
    pub offset: Option<FixedOffset>,
    /// `local` converted with `offset`; `None` when the line has no zone.
    pub utc: Option<DateTime<Utc>>,
}

fn offset_text<S: serde::Serializer>(o: &Option<FixedOffset>, s: S) -> Result<S::Ok, S::Error> {
    match o {
        Some(o) => s.serialize_str(&o.to_string()),
        None => s.serialize_none(),
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Process {
    /// EPROCESS address.
    pub address: u64,
    pub pid: u32,
    pub parent_pid: Option<u32>,
    pub session_id: Option<u32>,
    pub image: String,
    pub handle_count: Option<u32>,
    pub elapsed_time: Option<String>,
    pub user_time: Option<String>,
    pub kernel_time: Option<String>,
    /// Line of the `PROCESS` header in the log.
    pub line: u64,
    /// `file:line` of the header, for evidence rows (not serialized: `line` is); empty
    /// for a process no text line describes (a minidump's).
    #[serde(skip)]
    pub source: String,
}

/// Scheduling state from the end of the `THREAD` header line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ThreadState {
    Wait {
        reason: CompactString,
        mode: CompactString,
        alertable: bool,
    },
    Running {
        processor: Option<u32>,
    },
    Ready,
    Standby,
    Terminated,
    Transition,
    Initialized,
    /// A state word this reader does not know, kept as written (`UNKNOWN` for
    /// minidump threads, which record no state). JSON: `{"state": "other", "word": ...}`.
    #[serde(serialize_with = "state_word")]
    Other(CompactString),
}

/// An internally tagged enum cannot carry a bare string: wrap it in a map.
fn state_word<S: serde::Serializer>(word: &str, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut m = s.serialize_map(Some(1))?;
    m.serialize_entry("word", word)?;
    m.end()
}

impl ThreadState {
    pub fn name(&self) -> &str {
        match self {
            ThreadState::Wait { .. } => "WAIT",
            ThreadState::Running { .. } => "RUNNING",
            ThreadState::Ready => "READY",
            ThreadState::Standby => "STANDBY",
            ThreadState::Terminated => "TERMINATED",
            ThreadState::Transition => "TRANSITION",
            ThreadState::Initialized => "INITIALIZED",
            ThreadState::Other(s) => s,
        }
    }

    pub fn wait_reason(&self) -> Option<&str> {
        match self {
            ThreadState::Wait { reason, .. } => Some(reason),
            _ => None,
        }
    }
}

/// One object a thread waits on, from the lines under the `THREAD` header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WaitObject {
    pub address: u64,
    /// `SynchronizationEvent`, `Semaphore Limit 0x1`, `Mutant`, `ProcessObject`, ...
    pub kind: CompactString,
    /// `Mutant - owning thread X`: the owner's ETHREAD address.
    pub owner_thread: Option<u64>,
}

/// One stack frame. A busy server's log holds millions, so a frame owns no heap memory of
/// its own: the arguments are inline and the symbol (with the frame's note) is shared with
/// every other frame that prints it alike (the reader interns them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// ChildEBP (x86) or Child-SP (x64).
    pub frame: u64,
    pub ret: u64,
    /// `Args to Child`, when the stack was printed with them.
    pub args: Args,
    /// `module!function+0xoff`, or a bare address; and the frame's trailing note.
    pub symbol: Symbol,
}

/// JSON as `frame`, `ret`, `args`, `symbol`, `note` (the note null when none).
impl Serialize for Frame {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut f = s.serialize_struct("Frame", 5)?;
        f.serialize_field("frame", &self.frame)?;
        f.serialize_field("ret", &self.ret)?;
        f.serialize_field("args", &self.args)?;
        f.serialize_field("symbol", self.symbol.as_str())?;
        f.serialize_field("note", &self.symbol.note())?;
        f.end()
    }
}

/// A frame's symbol, `module!function+0xoff` or a bare address, with the text printed after
/// it (`(TrapFrame @ b88a0d64)`, `(FPO: [1,0,0])`), behind one thin pointer. It reads as the
/// symbol's `str`.
///
/// A shared `Arc<str>` and an `Option<Box<str>>` took 32 bytes of every frame; this takes 8,
/// and a frame 64 bytes instead of 88 (6.29 million frames in the 1 GB `gen-windbg` log:
/// 150 MB less to write into fresh memory). Frames without a note share one copy per symbol;
/// a frame with a note has its own (in a kernel stack, typically the one trap frame of each
/// thread), symbol and note in one string.
#[derive(Clone)]
pub struct Symbol(Arc<SymbolText>);

struct SymbolText {
    /// The symbol, then the note if any: a note is never empty, so the two are told apart
    /// by `split` alone.
    joined: Box<str>,
    split: usize,
}

impl Symbol {
    /// `text` with `note` after it (an empty note is no note).
    pub fn new(text: &str, note: Option<&str>) -> Self {
        let joined = match note {
            Some(note) => [text, note].concat().into_boxed_str(),
            None => Box::from(text),
        };
        Symbol(Arc::new(SymbolText {
            joined,
            split: text.len(),
        }))
    }

    pub fn as_str(&self) -> &str {
        self.0.joined.get(..self.0.split).unwrap_or_default()
    }

    /// Trailing notes such as `(TrapFrame @ b88a0d64)` or `(FPO: [1,0,0])`.
    pub fn note(&self) -> Option<&str> {
        self.0.joined.get(self.0.split..).filter(|n| !n.is_empty())
    }
}

impl std::ops::Deref for Symbol {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for Symbol {
    fn from(text: &str) -> Self {
        Symbol::new(text, None)
    }
}

impl PartialEq for Symbol {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
            || (self.0.split == other.0.split && self.0.joined == other.0.joined)
    }
}

impl Eq for Symbol {}

impl std::fmt::Debug for Symbol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.note() {
            None => self.as_str().fmt(f),
            Some(note) => write!(f, "{:?} {note:?}", self.as_str()),
        }
    }
}

/// A frame's `Args to Child`: at most four, as WinDbg prints them (three on x86 `kb`/`kv`,
/// four on x64 `Child-SP RetAddr : Args to Child`, formats.md §4). Reads as a `[u64]`.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct Args {
    len: u8,
    values: [u64; 4],
}

impl Args {
    pub const MAX: usize = 4;

    /// Adds a value; false (and nothing kept) when four are already held.
    pub fn push(&mut self, v: u64) -> bool {
        match self.values.get_mut(usize::from(self.len)) {
            Some(slot) => {
                *slot = v;
                self.len += 1;
                true
            }
            None => false,
        }
    }
}

impl std::ops::Deref for Args {
    type Target = [u64];
    fn deref(&self) -> &[u64] {
        self.values.get(..usize::from(self.len)).unwrap_or_default()
    }
}

impl std::fmt::Debug for Args {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Serialize for Args {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

/// The first four values (a frame never prints more).
impl From<&[u64]> for Args {
    fn from(values: &[u64]) -> Self {
        let mut a = Args::default();
        for &v in values {
            a.push(v);
        }
        a
    }
}

impl From<Vec<u64>> for Args {
    fn from(values: Vec<u64>) -> Self {
        Args::from(values.as_slice())
    }
}

impl PartialEq<Vec<u64>> for Args {
    fn eq(&self, other: &Vec<u64>) -> bool {
        **self == **other
    }
}

impl Frame {
    /// `ntdll!RtlEnterCriticalSection+0x46` -> `ntdll!RtlEnterCriticalSection`.
    pub fn function(&self) -> &str {
        match self.symbol.rfind("+0x") {
            Some(i) => &self.symbol[..i],
            None => &self.symbol,
        }
    }

    /// Is this frame in `name` (`module!function`)? A module name with a base
    /// address suffix counts as the module: WinDbg names the 32-bit ntdll of a
    /// WOW64 process `ntdll_772b0000` because the 64-bit one took `ntdll` (seed:
    /// "Complete Stack Traces from x64 System", `ntdll_772b0000!ZwWaitForSingleObject+0x15`).
    pub fn function_is(&self, name: &str) -> bool {
        same_function(self.function(), name)
    }

    /// The frame's module, without the base-address suffix of a WOW64 copy
    /// (`ntdll_772b0000!…` -> `ntdll`); None for a bare address.
    pub fn module(&self) -> Option<&str> {
        self.symbol.split_once('!').map(|(m, _)| module_base(m))
    }
}

/// `ntdll_772b0000` -> `ntdll`: WinDbg names the 32-bit copy of a module loaded twice in a
/// WOW64 process by its base address (see [`Frame::function_is`]).
fn module_base(module: &str) -> &str {
    match module.rsplit_once('_') {
        Some((base, hex)) if hex.len() >= 8 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => base,
        _ => module,
    }
}

/// Is stack `new` worth more than `old`: more frames, or as many with
/// arguments where `old` has none?
pub(crate) fn richer_stack(new: &[Frame], old: &[Frame]) -> bool {
    let args = |s: &[Frame]| s.iter().any(|f| !f.args.is_empty());
    new.len() > old.len() || (new.len() == old.len() && args(new) && !args(old))
}

/// What a dump records of a thread's state when it records none (minidumps;
/// user-mode logs whose stack shows no wait).
pub(crate) const STATE_NOT_RECORDED: &str = "UNKNOWN";

/// `ntdll_772b0000!ZwWaitForSingleObject` is `ntdll!ZwWaitForSingleObject`.
fn same_function(function: &str, name: &str) -> bool {
    if function == name {
        return true;
    }
    let (Some((m, f)), Some((nm, nf))) = (function.split_once('!'), name.split_once('!')) else {
        return false;
    };
    f == nf && module_base(m) == nm
}

/// Which debugger output a thread record came from, richest first. One thread
/// printed by several commands is kept once, from the richest (see `finish`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ThreadOrigin {
    /// A `THREAD` block: `!process`, `!thread`, `!for_each_thread`.
    #[default]
    ThreadBlock,
    /// A user-mode thread line: `~`, `~*k`, `~*kv` (`   0  Id: 1c3c.1c40 Suspend: 1 ...`).
    UserList,
    /// A MEX table (`!mex.t`, `!mex.lt`): address, Cid, state, wait time, and
    /// from `!mex.t` the wait blocks and stack.
    Mex,
    /// A `!stacks` row: address, Cid, state, Ticks and the top frame only.
    Stacks,
    /// A minidump's ThreadList (no state, no ETHREAD address).
    Minidump,
}

#[derive(Debug, Clone, Serialize)]
pub struct Thread {
    /// ETHREAD address.
    pub address: u64,
    pub pid: u32,
    pub tid: u32,
    pub teb: Option<u64>,
    pub win32_thread: Option<u64>,
    pub state: ThreadState,
    pub wait_objects: Vec<WaitObject>,
    /// `Waiting for reply to LPC MessageId X`.
    pub lpc_waiting_for: Option<u32>,
    /// `LPC Server thread working on message Id X`.
    pub lpc_serving: Option<u32>,
    /// `Waiting for reply to ALPC Message X : queued at port Y : owned by process Z`.
    pub alpc_waiting_for: Option<AlpcWait>,
    pub irps: Vec<u64>,
    pub impersonating: bool,
    /// `Owning Process` (or `Attached Process` when the owner is printed as 0).
    pub process_address: Option<u64>,
    pub image: Option<CompactString>,
    pub wait_start_tick: Option<u64>,
    /// `Ticks: N`; absent on running threads and inconsistent dumps.
    pub ticks: Option<u64>,
    /// The `(d:hh:mm:ss.fff)` text after Ticks, as printed (truncated to ms by WinDbg).
    pub ticks_text: Option<CompactString>,
    pub context_switches: Option<u64>,
    pub user_time: Option<CompactString>,
    pub kernel_time: Option<CompactString>,
    pub win32_start_address: Option<CompactString>,
    pub start_address: Option<CompactString>,
    pub priority: Option<u32>,
    pub kernel_stack_resident: bool,
    pub stack: Vec<Frame>,
    /// The 32-bit stack of a WOW64 thread (`.thread /w` then `k` in kernel mode,
    /// `.effmach x86` then `~*k` in user mode).
    pub wow64_stack: Vec<Frame>,
    /// `!runaway 4`: time since the thread was created, as printed.
    pub elapsed_time: Option<CompactString>,
    /// Which debugger output this record came from.
    pub origin: ThreadOrigin,
    /// Wait duration: Ticks x tick length, in nanoseconds (filled when the snapshot is finished).
    pub wait_ns: Option<u64>,
    /// Dump time minus the wait duration (filled when the snapshot is finished).
    pub wait_start: Option<DateTime<Utc>>,
    /// Where the block starts in the log, as `file:line`.
    pub source: String,
    pub line: u64,
}

impl Thread {
    /// A thread known only by its identity and state; every other field empty.
    pub fn new(
        address: u64,
        pid: u32,
        tid: u32,
        state: ThreadState,
        source: String,
        line: u64,
    ) -> Self {
        Thread {
            address,
            pid,
            tid,
            teb: None,
            win32_thread: None,
            state,
            wait_objects: Vec::new(),
            lpc_waiting_for: None,
            lpc_serving: None,
            alpc_waiting_for: None,
            irps: Vec::new(),
            impersonating: false,
            process_address: None,
            image: None,
            wait_start_tick: None,
            ticks: None,
            ticks_text: None,
            context_switches: None,
            user_time: None,
            kernel_time: None,
            win32_start_address: None,
            start_address: None,
            priority: None,
            kernel_stack_resident: false,
            stack: Vec::new(),
            wow64_stack: Vec::new(),
            elapsed_time: None,
            origin: ThreadOrigin::ThreadBlock,
            wait_ns: None,
            wait_start: None,
            source,
            line,
        }
    }

    /// `0adc.1c64`, the way WinDbg prints a Cid.
    pub fn cid(&self) -> String {
        format!("{}.{:04x}", pid_hex(self.pid), self.tid)
    }

    /// The thread's stacks: the native one, then the WOW64 32-bit one.
    pub fn stacks(&self) -> impl Iterator<Item = &[Frame]> {
        [self.stack.as_slice(), self.wow64_stack.as_slice()]
            .into_iter()
            .filter(|s| !s.is_empty())
    }

    /// Every frame of [`Thread::stacks`], native first.
    pub fn frames(&self) -> impl Iterator<Item = &Frame> {
        self.stacks().flatten()
    }

    pub fn wait_seconds(&self) -> Option<f64> {
        self.wait_ns.map(|ns| ns as f64 / 1e9)
    }

    /// The first frame above the kernel wait plumbing: what the thread is really doing.
    pub fn top_frames(&self, n: usize) -> impl Iterator<Item = &Frame> {
        self.stack
            .iter()
            .filter(|f| !is_plumbing(f.function()))
            .take(n)
    }
}

/// Frames every waiting thread has; they say nothing about why it waits.
fn is_plumbing(function: &str) -> bool {
    const PLUMBING: &[&str] = &[
        "nt!KiSwapContext",
        "nt!KiSwapThread",
        "nt!KeWaitForSingleObject",
        "nt!KeWaitForMultipleObjects",
        "nt!KeDelayExecutionThread",
        "nt!KiFastCallEntry",
        "nt!KiSystemServiceCopyEnd",
        "nt!KiSystemServicePostCall",
        "nt!NtWaitForSingleObject",
        "nt!NtWaitForMultipleObjects",
        "nt!NtDelayExecution",
        "nt!NtRequestWaitReplyPort",
        "nt!KiCommitThreadWait",
        "ntdll!KiFastSystemCallRet",
        "ntdll!ZwWaitForSingleObject",
        "ntdll!NtWaitForSingleObject",
        "ntdll!ZwWaitForMultipleObjects",
        "ntdll!NtWaitForMultipleObjects",
        "ntdll!NtDelayExecution",
        "ntdll!ZwDelayExecution",
        "ntdll!ZwRequestWaitReplyPort",
        "ntdll!NtRequestWaitReplyPort",
    ];
    PLUMBING.iter().any(|p| same_function(function, p))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlpcWait {
    pub message: u64,
    pub port: Option<u64>,
    pub server_process: Option<u64>,
    pub server_image: Option<String>,
}

/// A user-mode critical section from `!cs -l -o -s`, `!cs ADDR` or `dt _RTL_CRITICAL_SECTION`.
#[derive(Debug, Clone, Serialize)]
pub struct CriticalSection {
    pub address: u64,
    /// `(ntdll!FastPebLock+0x0)`; `+0x32BE30`-style non-symbols are dropped.
    pub symbol: Option<String>,
    pub locked: bool,
    /// As printed. Before Vista this counts waiters (-1 free, 0 owned, N waiters);
    /// `dt` on Vista+ shows the encoded negative form.
    pub lock_count: Option<i64>,
    pub recursion_count: Option<u32>,
    pub owning_tid: Option<u32>,
    /// `OwningThread = .thread X` (the owner's ETHREAD address).
    pub owning_thread: Option<u64>,
    pub contention_count: Option<u64>,
    pub lock_semaphore: Option<u64>,
    pub waiter_woken: Option<bool>,
    /// The process set by the preceding `.process /r /p X`.
    pub process_address: Option<u64>,
    /// Filled when the snapshot is finished, from `process_address`.
    pub pid: Option<u32>,
    pub line: u64,
    /// `file:line` of the entry, for evidence rows (not serialized: `line` is).
    #[serde(skip)]
    pub source: String,
}

impl CriticalSection {
    /// Threads waiting for the section, from `lock_count` in either of its forms:
    /// before Vista (and in `!cs`, `!locks`) the count itself (-1 free, 0 owned, N
    /// waiters); `dt` on Vista and later shows the raw field, negative, where bit 0
    /// clear means locked, bit 1 the woken flag, and the rest minus the waiter count
    /// (`-6`: locked, one waiter; "Windows Internals", critical sections; the
    /// debugger docs' "Displaying a Critical Section").
    pub fn waiters(&self) -> u64 {
        match self.lock_count {
            Some(n) if n > 0 => n.unsigned_abs(),
            Some(n) if n < -1 => (-1 - n).unsigned_abs() >> 2,
            _ => 0,
        }
    }
}

/// A kernel ERESOURCE from `!locks`.
#[derive(Debug, Clone, Serialize)]
pub struct Resource {
    pub address: u64,
    pub symbol: Option<String>,
    pub exclusive: bool,
    pub contention_count: Option<u64>,
    pub exclusive_waiters_count: Option<u32>,
    pub shared_waiters_count: Option<u32>,
    /// `Threads: 86ba5638-01<*>`: owner ETHREAD addresses.
    pub owners: Vec<u64>,
    pub exclusive_waiters: Vec<u64>,
    pub shared_waiters: Vec<u64>,
    pub line: u64,
    /// `file:line` of the entry, for evidence rows (not serialized: `line` is).
    #[serde(skip)]
    pub source: String,
}

impl Resource {
    /// A lock known by its address only; owners and waiters are added as read.
    pub fn new(address: u64, source: String, line: u64) -> Self {
        Resource {
            address,
            symbol: None,
            exclusive: false,
            contention_count: None,
            exclusive_waiters_count: None,
            shared_waiters_count: None,
            owners: Vec::new(),
            exclusive_waiters: Vec::new(),
            shared_waiters: Vec::new(),
            line,
            source,
        }
    }
}

/// `!lpc message X`: who waits for a reply and who serves it.
#[derive(Debug, Clone, Serialize)]
pub struct LpcMessage {
    pub id: u32,
    pub server_thread: Option<u64>,
    pub client_thread: Option<u64>,
    pub server_process: Option<u64>,
    pub server_image: Option<String>,
    pub port_name: Option<String>,
    pub line: u64,
}

/// `!alpc /m ADDR`: one ALPC message (Vista and later).
#[derive(Debug, Clone, Serialize)]
pub struct AlpcMessage {
    /// `Message @ fffff8800ca972b0`: the address client threads print in
    /// `Waiting for reply to ALPC Message X`.
    pub address: u64,
    pub id: Option<u32>,
    pub waiting_thread: Option<u64>,
    /// `ServerThread : 0000000000000000` is kept as `None`: nobody serves it.
    pub server_thread: Option<u64>,
    pub queue_port: Option<u64>,
    /// `QueuePortOwnerProcess : fffffa800a4628f0 (ServiceA.exe)`.
    pub queue_owner_process: Option<u64>,
    pub queue_owner_image: Option<String>,
    /// `ALPC_MSGQUEUE_MAIN` (not yet picked up), `ALPC_MSGQUEUE_PENDING` (being served), ...
    pub queue_type: Option<String>,
    pub line: u64,
}

/// `!irp ADDR`: the IRP's thread and its current stack location.
///
/// ```text
/// Irp is active with 1 stacks 1 is current (= 0x893a74e0)
///  No Mdl: No System Buffer: Thread 89edadb0:  Irp stack trace.
///      cmd  flg cl Device   File     Completion-Context
/// >[  e, 0]   0  1 8a216f18 8a023f70 00000000-00000000    pending
///         \Driver\DriverB
/// ```
#[derive(Debug, Clone, Serialize)]
pub struct Irp {
    pub address: u64,
    pub thread: Option<u64>,
    /// The driver of the current (`>`) stack location.
    pub driver: Option<String>,
    /// The current location is marked `pending`.
    pub pending: bool,
    pub line: u64,
}

/// What a report shows for a thread whose process image the input does not name (a
/// user-mode `~` list without `|`, a minidump without modules), instead of a bare `?`.
pub const NO_IMAGE: &str = "image not in the output";

/// A process id as WinDbg prints it in a Cid and in `!process` (`Cid: 0adc`): hex, at
/// least four digits, no `0x`. Every report shows pids this way.
pub fn pid_hex(pid: u32) -> String {
    format!("{pid:04x}")
}
