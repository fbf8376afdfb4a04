//! Reading WinDbg/kd/cdb session logs.
//!
//! A log is commands (after prompts such as `0: kd> `) and their output, with
//! noise in between. The reader walks it line by line, keeping the debugger's
//! context the way the engineer's session had it (`.process /r /p X` selects
//! the process whose critical sections `!cs` lists; `.thread X` selects the
//! thread whose stack `kv` prints), and recognises blocks wherever they appear:
//! `PROCESS` and `THREAD` blocks come from `!process`, `!thread`, `!handle` and
//! `!for_each_thread` alike.

mod grammar;
pub(crate) use grammar::dhms_ms;
mod locks;
mod session;
mod thread;

use std::collections::BTreeMap;

use crate::model::{
    AlpcMessage, CriticalSection, DumpSnapshot, Frame, Irp, LpcMessage, Process, Thread,
};
use crate::text;
use crate::{InputReport, Skip};
use grammar::hex_token;
use thread::LineKind;

/// Does this text look like a WinDbg/kd/cdb log? Cheap: looks at the first 64 KiB.
pub(crate) fn looks_like_log(text: &str) -> bool {
    let head = match text.char_indices().nth(65_536) {
        Some((i, _)) => &text[..i],
        None => text,
    };
    head.lines().take(5000).any(|l| {
        let l = text::normalize(l);
        grammar::prompt(&l).is_some()
            || grammar::thread_header(&l).is_some()
            || grammar::process_header(&l).is_some()
            || l.trim_start().starts_with("Debug session time:")
            || l.trim_start().starts_with("Critical section   =")
    })
}

/// What the lines after a prompt are expected to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Other,
    /// `!cs`: critical section entries.
    Cs,
    /// `dt _RTL_CRITICAL_SECTION ADDR`.
    DtCs(u64),
    /// `!locks`.
    Locks,
    /// `!lpc message X`.
    Lpc,
    /// `!alpc /m X`.
    Alpc,
    /// `!irp X`.
    Irp,
    /// `k`, `kv`, `kb`, ...: a stack of the thread chosen with `.thread`.
    Stack,
}

enum Action {
    Done,
    Skip,
    EndBlock,
}

enum Block {
    None,
    /// `PROCESS addr` whose ids come on the next line (x64).
    PendingProcess(grammar::ProcessHeader, u64),
    Process(usize),
    Thread {
        t: Box<Thread>,
        in_stack: bool,
    },
}

pub(crate) struct LogReader<'a> {
    label: &'a str,
    snap: DumpSnapshot,
    report: InputReport,
    mode: Mode,
    block: Block,
    /// Blank lines seen inside a block; a stack may continue after them
    /// (web copies insert blank lines between frames).
    pending_blank: bool,
    process: Option<u64>,
    thread: Option<u64>,
    process_index: BTreeMap<u64, usize>,
    cs: Option<CriticalSection>,
    lpc: Option<LpcMessage>,
    alpc: Option<AlpcMessage>,
    irp: Option<Irp>,
    /// The previous `!irp` line was the current (`>`) stack location.
    irp_current: bool,
    locks: locks::LocksParser,
    /// Stacks printed by `k*` after `.thread X`, by thread address.
    context_stacks: Vec<(u64, Vec<Frame>)>,
    stack_frames: Vec<Frame>,
    /// `dt _RTL_CRITICAL_SECTION` values, applied when the snapshot is finished.
    dt_cs: Vec<CriticalSection>,
}

impl<'a> LogReader<'a> {
    pub(crate) fn new(label: &'a str, format: &'static str) -> Self {
        LogReader {
            label,
            snap: DumpSnapshot::default(),
            report: InputReport::new(label, format),
            mode: Mode::Other,
            block: Block::None,
            pending_blank: false,
            process: None,
            thread: None,
            process_index: BTreeMap::new(),
            cs: None,
            lpc: None,
            alpc: None,
            irp: None,
            irp_current: false,
            locks: locks::LocksParser::default(),
            context_stacks: Vec::new(),
            stack_frames: Vec::new(),
            dt_cs: Vec::new(),
        }
    }

    pub(crate) fn read(mut self, text: &str) -> (DumpSnapshot, InputReport) {
        let mut n = 0u64;
        for raw in text.lines() {
            n += 1;
            let line = text::normalize(raw);
            self.line(&line, n);
        }
        self.end_block();
        self.end_mode();
        self.report.lines = n;
        self.merge_context();
        (self.snap, self.report)
    }

    fn skip(&mut self, line: u64, reason: &str, text: &str) {
        self.report.skip(Skip {
            line,
            reason: reason.to_string(),
            text: text::escape_control(text.trim())
                .chars()
                .take(120)
                .collect(),
        });
    }

    fn line(&mut self, line: &str, n: u64) {
        let t = line.trim();
        if let Some(cmd) = grammar::prompt(line) {
            self.end_block();
            self.end_mode();
            self.command(cmd);
            return;
        }
        if let Some(rest) = t.strip_prefix("Debug session time:") {
            match session::session_time(rest) {
                Some(s) => {
                    if self.snap.session_time.is_none() {
                        self.report.records += 1;
                    }
                    self.snap.session_time.get_or_insert(s);
                }
                None => self.skip(n, "Debug session time not understood", t),
            }
            return;
        }
        if let Some(rest) = t.strip_prefix("System Uptime:") {
            if let Some(ms) = session::uptime_ms(rest) {
                self.snap.uptime_ms.get_or_insert(ms);
            }
            return;
        }
        if let Some(rest) = t
            .strip_prefix("Implicit process is now")
            .or_else(|| t.strip_prefix("Implicit thread is now"))
        {
            let v = hex_token(rest.trim());
            if t.contains("process") {
                self.process = v;
            } else {
                self.thread = v;
            }
            return;
        }
        if t.starts_with("THREAD ") {
            self.end_block();
            match grammar::thread_header(t) {
                Some(h) => {
                    let th = thread::new_thread(h, format!("{}:{n}", self.label), n);
                    self.block = Block::Thread {
                        t: Box::new(th),
                        in_stack: false,
                    };
                }
                None => self.skip(n, "THREAD header not understood", t),
            }
            return;
        }
        if t.starts_with("PROCESS ") {
            self.end_block();
            match grammar::process_header(t) {
                Some(h) if h.pid.is_some() => {
                    let idx = self.upsert_process(h, n);
                    self.block = Block::Process(idx);
                }
                Some(h) => self.block = Block::PendingProcess(h, n),
                None => self.skip(n, "PROCESS header not understood", t),
            }
            return;
        }
        if let Block::PendingProcess(..) = self.block {
            let Block::PendingProcess(mut h, at) = std::mem::replace(&mut self.block, Block::None)
            else {
                return;
            };
            if grammar::process_ids(t, &mut h) {
                let idx = self.upsert_process(h, at);
                self.block = Block::Process(idx);
            } else {
                self.skip(at, "PROCESS header without a Cid on it or the next line", t);
            }
            return;
        }
        // `!ready` prints THREAD lines between `Processor N:` headings.
        if t.starts_with("Processor ") && matches!(self.block, Block::Thread { .. }) {
            self.end_block();
        }
        if t.is_empty() {
            match self.block {
                Block::Thread { .. } => self.pending_blank = true,
                Block::Process(_) | Block::PendingProcess(..) => self.end_block(),
                Block::None => {}
            }
            if matches!(self.mode, Mode::Cs) {
                self.end_cs();
            }
            return;
        }
        match &mut self.block {
            Block::Thread { t: th, in_stack } => {
                let was_blank = std::mem::take(&mut self.pending_blank);
                let action = if was_blank {
                    // After a blank line only a continued stack belongs to the block.
                    match grammar::frame(t) {
                        Some(f) if *in_stack => {
                            th.stack.push(f);
                            Action::Done
                        }
                        _ => Action::EndBlock,
                    }
                } else {
                    match thread::body_line(th, line, in_stack) {
                        LineKind::Frame | LineKind::Used => Action::Done,
                        LineKind::Unknown if !*in_stack => Action::Skip,
                        LineKind::Unknown => Action::EndBlock,
                    }
                };
                match action {
                    Action::Done => return,
                    Action::Skip => {
                        self.skip(n, "line not understood in THREAD block", t);
                        return;
                    }
                    Action::EndBlock => self.end_block(),
                }
            }
            Block::Process(idx) => {
                let idx = *idx;
                self.process_field(idx, t);
                return;
            }
            Block::PendingProcess(..) | Block::None => {}
        }
        self.mode_line(t, n);
    }

    fn command(&mut self, cmd: &str) {
        let mut words = cmd.split_whitespace();
        let first = words.next().unwrap_or("");
        self.mode = Mode::Other;
        match first {
            ".process" => {
                // `.process /r /p X`, `.process /p /r X`, `.process X`; `0` resets.
                self.process = words.rfind(|w| !w.starts_with('/')).and_then(hex_token);
            }
            ".thread" => {
                self.thread = words.rfind(|w| !w.starts_with('/')).and_then(hex_token);
            }
            "!cs" => self.mode = Mode::Cs,
            "!locks" => self.mode = Mode::Locks,
            "!lpc" => self.mode = Mode::Lpc,
            "!alpc" => self.mode = Mode::Alpc,
            "!irp" => {
                self.mode = Mode::Irp;
                self.irp = words.next().and_then(hex_token).map(|address| Irp {
                    address,
                    thread: None,
                    driver: None,
                    pending: false,
                    line: 0,
                });
                self.irp_current = false;
            }
            "dt" if cmd.contains("_RTL_CRITICAL_SECTION") => {
                if let Some(a) = cmd.split_whitespace().last().and_then(hex_token) {
                    self.mode = Mode::DtCs(a);
                }
            }
            k if is_stack_command(k) => {
                self.mode = Mode::Stack;
                self.stack_frames.clear();
            }
            _ => {}
        }
    }

    fn end_mode(&mut self) {
        match self.mode {
            Mode::Cs => self.end_cs(),
            Mode::Lpc => self.end_lpc(),
            Mode::Alpc => self.end_alpc(),
            Mode::Irp => {
                if let Some(i) = self.irp.take() {
                    self.report.records += 1;
                    self.snap.irps.push(i);
                }
            }
            Mode::Locks => {
                let mut parsed = std::mem::take(&mut self.locks);
                if let Some(r) = parsed.finish() {
                    self.report.records += 1;
                    self.snap.resources.push(r);
                }
            }
            Mode::Stack => {
                if let Some(addr) = self.thread {
                    if !self.stack_frames.is_empty() {
                        self.context_stacks
                            .push((addr, std::mem::take(&mut self.stack_frames)));
                    }
                }
            }
            Mode::DtCs(_) | Mode::Other => {}
        }
        self.mode = Mode::Other;
    }

    fn mode_line(&mut self, t: &str, n: u64) {
        match self.mode {
            Mode::Cs => self.cs_line(t, n),
            Mode::DtCs(addr) => self.dt_cs_line(addr, t, n),
            Mode::Locks => {
                if let Some(done) = self.locks.line(t, n) {
                    self.report.records += 1;
                    self.snap.resources.push(done);
                }
            }
            Mode::Lpc => self.lpc_line(t, n),
            Mode::Alpc => self.alpc_line(t, n),
            Mode::Irp => self.irp_line(t, n),
            Mode::Stack => {
                if let Some(f) = grammar::frame(t) {
                    self.stack_frames.push(f);
                }
            }
            Mode::Other => {
                // `Critical section = ...` pasted without its command (seed: the
                // FwLock chain quotes `!cs` entries between `[...]` lines).
                if t.starts_with("Critical section") {
                    self.mode = Mode::Cs;
                    self.cs_line(t, n);
                }
            }
        }
    }

    fn end_block(&mut self) {
        self.pending_blank = false;
        match std::mem::replace(&mut self.block, Block::None) {
            Block::Thread { t, .. } => {
                self.report.records += 1;
                self.snap.threads.push(*t);
            }
            Block::Process(_) | Block::PendingProcess(..) | Block::None => {}
        }
    }

    fn upsert_process(&mut self, h: grammar::ProcessHeader, n: u64) -> usize {
        if let Some(&i) = self.process_index.get(&h.address) {
            return i;
        }
        self.report.records += 1;
        let i = self.snap.processes.len();
        self.snap.processes.push(Process {
            address: h.address,
            pid: h.pid.unwrap_or(0),
            parent_pid: h.parent_pid,
            session_id: h.session_id,
            image: String::new(),
            handle_count: None,
            elapsed_time: None,
            user_time: None,
            kernel_time: None,
            line: n,
        });
        self.process_index.insert(h.address, i);
        i
    }

    fn process_field(&mut self, idx: usize, t: &str) {
        let Some(p) = self.snap.processes.get_mut(idx) else {
            return;
        };
        if let Some(rest) = t.strip_prefix("Image:") {
            p.image = rest.trim().to_string();
        } else if let Some(i) = t.find("HandleCount:") {
            p.handle_count = t[i + 12..]
                .trim()
                .trim_end_matches('.')
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|v| v.parse().ok());
        } else if let Some(rest) = t.strip_prefix("ElapsedTime") {
            p.elapsed_time = Some(rest.trim().to_string());
        } else if let Some(rest) = t.strip_prefix("UserTime") {
            p.user_time = Some(rest.trim().to_string());
        } else if let Some(rest) = t.strip_prefix("KernelTime") {
            p.kernel_time = Some(rest.trim().to_string());
        }
    }

    fn cs_line(&mut self, t: &str, n: u64) {
        if t.starts_with("-----") {
            self.end_cs();
            return;
        }
        match t {
            "LOCKED" => {
                if let Some(cs) = &mut self.cs {
                    cs.locked = true;
                }
                return;
            }
            "NOT LOCKED" => return,
            _ => {}
        }
        let Some((k, v)) = grammar::key_value(t) else {
            return;
        };
        if k == "Critical section" {
            // `!cs ADDR` prints `Critical section` first; `!cs -l` prints DebugInfo first.
            if self.cs.as_ref().is_some_and(|c| c.address != 0) {
                self.end_cs();
            }
            let mut words = v.split_whitespace();
            let Some(address) = words.next().and_then(hex_token) else {
                self.skip(n, "critical section address not understood", t);
                return;
            };
            let symbol = words
                .next()
                .map(|s| s.trim_matches(|c| c == '(' || c == ')').to_string())
                .filter(|s| !s.starts_with('+'));
            let cs = self.cs.get_or_insert_with(|| empty_cs(n));
            cs.address = address;
            cs.symbol = symbol;
            cs.line = n;
            cs.process_address = self.process;
            return;
        }
        let cs = self.cs.get_or_insert_with(|| empty_cs(n));
        let first = v.split_whitespace().next().unwrap_or("");
        match k {
            "LockCount" => cs.lock_count = hex_token(first).map(|v| v as i64),
            "RecursionCount" => cs.recursion_count = hex_token(first).map(|v| v as u32),
            "LockSemaphore" => cs.lock_semaphore = hex_token(first),
            "WaiterWoken" => cs.waiter_woken = Some(first == "Yes"),
            "OwningThread" => {
                // Printed twice: `= 0x00001c64` (the TID) and `= .thread 86396db0`.
                if let Some(addr) = v.strip_prefix(".thread") {
                    cs.owning_thread = hex_token(addr.trim());
                } else {
                    cs.owning_tid = hex_token(first).and_then(|v| u32::try_from(v).ok());
                }
            }
            _ => {}
        }
    }

    fn end_cs(&mut self) {
        if let Some(cs) = self.cs.take() {
            if cs.address != 0 {
                self.report.records += 1;
                self.snap.critical_sections.push(cs);
            }
        }
    }

    /// `dt -r1 _RTL_CRITICAL_SECTION 0x0032be30`: `+0x014 ContentionCount  : 0xac352`.
    fn dt_cs_line(&mut self, addr: u64, t: &str, n: u64) {
        let Some((k, v)) = t.split_once(':') else {
            return;
        };
        let name = k.split_whitespace().last().unwrap_or("");
        let value = v.split_whitespace().next().unwrap_or("");
        let entry = match self.dt_cs.iter_mut().find(|c| c.address == addr) {
            Some(e) => e,
            None => {
                let mut cs = empty_cs(n);
                cs.address = addr;
                cs.process_address = self.process;
                self.dt_cs.push(cs);
                match self.dt_cs.last_mut() {
                    Some(e) => e,
                    None => return,
                }
            }
        };
        match name {
            "ContentionCount" => entry.contention_count = hex_token(value),
            "LockCount" => {
                entry.lock_count = value.parse().ok().or(hex_token(value).map(|v| v as i64))
            }
            "RecursionCount" => entry.recursion_count = value.parse().ok(),
            "OwningThread" => {
                entry.owning_tid = hex_token(value).and_then(|v| u32::try_from(v).ok())
            }
            _ => {}
        }
    }

    fn lpc_line(&mut self, t: &str, n: u64) {
        let words: Vec<&str> = t.split_whitespace().collect();
        let msg = self.lpc.get_or_insert(LpcMessage {
            id: 0,
            server_thread: None,
            client_thread: None,
            server_process: None,
            server_image: None,
            port_name: None,
            line: n,
        });
        match words.as_slice() {
            ["Searching", "message", id, ..] => {
                msg.id = hex_token(id)
                    .and_then(|v| u32::try_from(v).ok())
                    .unwrap_or(0)
            }
            ["Server", "thread", addr, "is", "working", "on", "message", id, ..] => {
                msg.server_thread = hex_token(addr);
                if msg.id == 0 {
                    msg.id = hex_token(id)
                        .and_then(|v| u32::try_from(v).ok())
                        .unwrap_or(0);
                }
            }
            ["Client", "thread", addr, "waiting", "a", "reply", "from", id, ..] => {
                msg.client_thread = hex_token(addr);
                if msg.id == 0 {
                    msg.id = hex_token(id)
                        .and_then(|v| u32::try_from(v).ok())
                        .unwrap_or(0);
                }
            }
            ["Server", "process", ":", addr, image @ ..] => {
                msg.server_process = hex_token(addr);
                msg.server_image = image
                    .first()
                    .map(|s| s.trim_matches(|c| c == '(' || c == ')').to_string());
            }
            ["Server", "connection", "port", _, "Name:", name, ..] => {
                msg.port_name = Some(name.to_string())
            }
            _ => {}
        }
    }

    fn end_lpc(&mut self) {
        if let Some(m) = self.lpc.take() {
            if m.id != 0 {
                self.report.records += 1;
                self.snap.lpc_messages.push(m);
            }
        }
    }

    /// `!alpc /m X`:
    ///
    /// ```text
    /// Message @ fffff8800ca972b0
    ///   MessageID             : 0x23AC (9132)
    ///   WaitingThread         : fffffa80090fbc60
    ///   QueueType             : ALPC_MSGQUEUE_MAIN
    ///   QueuePort             : fffffa8004e44b60 [ALPC_CONNECTION_PORT]
    ///   QueuePortOwnerProcess : fffffa800a4628f0 (ServiceA.exe)
    ///   ServerThread          : 0000000000000000
    /// ```
    fn alpc_line(&mut self, t: &str, n: u64) {
        if let Some(rest) = t.strip_prefix("Message @") {
            self.end_alpc();
            self.alpc = hex_token(rest.trim()).map(|address| AlpcMessage {
                address,
                id: None,
                waiting_thread: None,
                server_thread: None,
                queue_port: None,
                queue_owner_process: None,
                queue_owner_image: None,
                queue_type: None,
                line: n,
            });
            return;
        }
        let (Some(m), Some((k, v))) = (self.alpc.as_mut(), t.split_once(':')) else {
            return;
        };
        let mut words = v.split_whitespace();
        let first = words.next().unwrap_or("");
        let addr = hex_token(first).filter(|&a| a != 0);
        match k.trim() {
            "MessageID" => m.id = hex_token(first).and_then(|v| u32::try_from(v).ok()),
            "WaitingThread" => m.waiting_thread = addr,
            "ServerThread" => m.server_thread = addr,
            "QueuePort" => m.queue_port = addr,
            "QueueType" => m.queue_type = Some(first.to_string()),
            "QueuePortOwnerProcess" => {
                m.queue_owner_process = addr;
                m.queue_owner_image = words
                    .next()
                    .map(|w| w.trim_matches(|c| c == '(' || c == ')').to_string());
            }
            _ => {}
        }
    }

    fn irp_line(&mut self, t: &str, n: u64) {
        let Some(irp) = self.irp.as_mut() else {
            return;
        };
        if irp.line == 0 && t.starts_with("Irp is active") {
            irp.line = n;
        }
        // ` No Mdl: No System Buffer: Thread 89edadb0:  Irp stack trace.`
        if let Some(i) = t.find("Thread ") {
            if t.contains("Irp stack trace") {
                irp.thread = t[i + 7..]
                    .split(|c: char| c == ':' || c.is_whitespace())
                    .next()
                    .and_then(hex_token);
            }
        }
        if t.starts_with('>') {
            irp.pending = t.split_whitespace().any(|w| w == "pending");
            self.irp_current = true;
            return;
        }
        if self.irp_current && t.starts_with('\\') {
            irp.driver = t.split_whitespace().next().map(str::to_string);
        }
        self.irp_current = false;
    }

    fn end_alpc(&mut self) {
        if let Some(m) = self.alpc.take() {
            self.report.records += 1;
            self.snap.alpc_messages.push(m);
        }
    }

    /// Applies `kv` stacks and `dt` values gathered under `.thread`/`.process`.
    fn merge_context(&mut self) {
        for (addr, frames) in std::mem::take(&mut self.context_stacks) {
            if let Some(t) = self.snap.threads.iter_mut().find(|t| t.address == addr) {
                let has_args = frames.iter().any(|f| !f.args.is_empty());
                let had_args = t.stack.iter().any(|f| !f.args.is_empty());
                if t.stack.is_empty() || (has_args && !had_args) {
                    t.stack = frames;
                }
            }
        }
        for dt in std::mem::take(&mut self.dt_cs) {
            match self
                .snap
                .critical_sections
                .iter_mut()
                .find(|c| c.address == dt.address && c.process_address == dt.process_address)
            {
                Some(cs) => {
                    cs.contention_count = dt.contention_count.or(cs.contention_count);
                    cs.owning_tid = cs.owning_tid.or(dt.owning_tid);
                }
                None => self.snap.critical_sections.push(dt),
            }
        }
    }
}

fn empty_cs(line: u64) -> CriticalSection {
    CriticalSection {
        address: 0,
        symbol: None,
        locked: false,
        lock_count: None,
        recursion_count: None,
        owning_tid: None,
        owning_thread: None,
        contention_count: None,
        lock_semaphore: None,
        waiter_woken: None,
        process_address: None,
        pid: None,
        line,
    }
}

/// `k`, `kb`, `kv`, `kL 100`, `kn`, `kp`, `kP`, `kc`, `kvn`...
fn is_stack_command(w: &str) -> bool {
    w.starts_with('k') && w.len() <= 4 && w[1..].chars().all(|c| "bvLnpPcf".contains(c))
}
