//! Reading WinDbg/kd/cdb session logs.
//!
//! A log is commands (after prompts such as `0: kd> ` or `0:000> `) and their
//! output, with noise in between. [`LogReader`] takes it one line at a time
//! (the file is streamed, never held whole), keeping the debugger's context the
//! way the engineer's session had it (`.process /r /p X` selects the process
//! whose critical sections `!cs` lists; `.thread X` selects the thread whose
//! stack `kv` prints; `.thread /w` and `.effmach x86` make stacks the 32-bit
//! WOW64 ones), and recognises blocks wherever they appear: `PROCESS` and
//! `THREAD` blocks come from `!process`, `!thread`, `!handle` and
//! `!for_each_thread` alike, and `~` thread lines from `~`, `~*k` and `~*kv`.
//!
//! The output of each other command has its own module: `cs` (`!cs`, `dt
//! _RTL_CRITICAL_SECTION`), `locks` (`!locks`, both forms), `lpc` (`!lpc
//! message`, `!alpc /m`), `irp` (`!irp`, `!irpfind`), `stacks` (`!stacks`,
//! `!running`), `memory` (`!vm`, `!poolused`), `handles` (`!handle`), `modules`
//! (`lm`), `analyze` (`!analyze -v`, the `BugCheck` banner) and `usermode` (`~`
//! lines, `!runaway`, `|`, wait states of user-mode threads).
//!
//! A large log is read in parts at once ([`read_parts`]): a part starts at a `PROCESS`
//! line with a fresh reader, and is joined to the reader of everything before it only
//! where that reader's state is a fresh one's, so the joined result is the one reader's.

mod analyze;
mod cs;
mod grammar;
mod handles;
mod irp;
mod locks;
mod lpc;
mod memory;
mod mex;
mod modules;
mod session;
mod stacks;
mod thread;
mod usermode;

pub(crate) use grammar::dhms_ms;

use std::ops::ControlFlow;
use std::sync::mpsc;

use rustc_hash::FxHashMap as HashMap;

use crate::model::{DumpSnapshot, Frame, Process, Thread};
use crate::text;
use crate::{InputReport, Skip, WINDBG_LOG};
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
            || usermode::thread_line(&l).is_some()
            || l.trim_start().starts_with("Debug session time:")
            || l.trim_start().starts_with("Critical section   =")
    })
}

/// Where the parsers put what they read: the snapshot, and the report of
/// records read and lines skipped.
pub(crate) struct Out<'a> {
    pub(crate) label: &'a str,
    pub(crate) snap: DumpSnapshot,
    pub(crate) report: InputReport,
}

impl Out<'_> {
    pub(crate) fn skip(&mut self, line: u64, reason: &str, text: &str) {
        self.report.skip(Skip {
            line,
            reason: reason.to_string(),
            text: text::escape_control(text.trim())
                .chars()
                .take(120)
                .collect(),
        });
    }

    pub(crate) fn record(&mut self) {
        self.report.records += 1;
    }

    /// `file:line`, as threads keep their source.
    pub(crate) fn source(&self, line: u64) -> String {
        // Once per thread of the log: no formatting machinery, one allocation.
        let mut digits = itoa::Buffer::new();
        let digits = digits.format(line);
        let mut s = String::with_capacity(self.label.len() + 1 + digits.len());
        s.push_str(self.label);
        s.push(':');
        s.push_str(digits);
        s
    }
}

/// The debugger context at a line, as the session had it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Ctx {
    /// `.process` / `Implicit process is now`: an EPROCESS address.
    pub(crate) process: Option<u64>,
    /// Its pid, when a PROCESS block of it was read.
    pub(crate) process_pid: Option<u32>,
    /// `.thread` / `Implicit thread is now`: an ETHREAD address.
    pub(crate) thread: Option<u64>,
    /// The effective machine is x86 on an x64 target: stacks are WOW64 ones.
    pub(crate) wow64: bool,
    /// The process of a user-mode session (from `~` lines or `|`).
    pub(crate) user_pid: Option<u32>,
    /// The current thread of a user-mode session, by debugger number (`0:003>`).
    pub(crate) user_thread: Option<u32>,
    /// The current process of a user-mode session, by debugger number (`1:003>`).
    pub(crate) user_process: Option<u32>,
}

impl Ctx {
    /// The context a command's output was read in, as a reader of the
    /// snapshot would name it.
    pub(crate) fn describe(&self) -> String {
        let pid = self.pid().map_or("?".to_string(), |p| format!("0x{p:x}"));
        match (self.user_process, self.process) {
            (Some(n), _) => format!("user-mode process {n} (pid {pid})"),
            (None, Some(a)) => format!(".process {a:x} (pid {pid})"),
            (None, None) => format!("process {pid}"),
        }
    }

    /// The process that command output refers to: the user-mode process, or
    /// the kernel context's.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.user_pid.or(self.process_pid)
    }
}

/// What the lines after a prompt are expected to be.
enum Mode {
    Other,
    Cs(cs::CsParser),
    DtCs(u64),
    Locks(locks::LocksParser),
    Lpc(lpc::LpcParser),
    Alpc(lpc::AlpcParser),
    Irp(irp::IrpParser),
    Irpfind,
    /// `k`, `kv`, `kb`, ...: a stack of the thread chosen with `.thread` or the
    /// prompt's, or of the one the command picks itself (`~3 kv`, `~~[1a4c] k`).
    Stack(Vec<Frame>, Option<usermode::Pick>),
    Stacks(Box<stacks::StacksParser>),
    Running(stacks::RunningParser),
    Vm(memory::VmParser),
    PoolUsed(memory::PoolParser),
    Handle(handles::HandleParser),
    Lm(modules::LmParser),
    Analyze(analyze::AnalyzeParser),
    /// `!mex.lt`, `!mex.t`, `!mex.us`, `!mex.eresource`, `!mex.mut`.
    Mex(mex::MexParser),
    Runaway(usermode::RunawayParser),
    /// `|`: the user-mode process list.
    Processes,
}

/// What a line did to a table-like mode.
pub(crate) enum Step {
    /// Used (or known noise).
    Used,
    /// Not this command's output: the mode ends and the line is read afresh.
    End,
}

// One Block lives in the reader; boxing its Thread would cost an allocation
// per THREAD block of a 1 GB log for nothing.
#[allow(clippy::large_enum_variant)]
enum Block {
    None,
    /// `PROCESS addr` whose ids come on the next line (x64).
    PendingProcess(grammar::ProcessHeader, u64),
    Process(usize),
    Thread {
        t: Thread,
        in_stack: bool,
        /// A `~` thread whose stack was printed under an x86 effective machine.
        wow64: bool,
    },
}

pub(crate) struct LogReader<'a> {
    out: Out<'a>,
    lines: u64,
    mode: Mode,
    block: Block,
    /// Blank lines seen inside a block; a stack may continue after them
    /// (web copies insert blank lines between frames).
    pending_blank: bool,
    ctx: Ctx,
    process_index: HashMap<u64, usize>,
    /// Stacks printed by `k*` after `.thread X`: thread address, frames, WOW64.
    context_stacks: Vec<(u64, Vec<Frame>, bool)>,
    /// `dt _RTL_CRITICAL_SECTION` values, applied when the log is read.
    dt_cs: Vec<crate::model::CriticalSection>,
    user: usermode::UserThreads,
    /// What MEX tables add beyond threads and locks, applied when the log is read.
    mex: mex::Gathered,
    /// The buffer THREAD blocks read their frames into (one allocation per
    /// thread then holds them, instead of a vector grown frame by frame).
    frames: Vec<Frame>,
    /// Reading a part of a log from its middle (see [`read_parts`]): stop before a line
    /// whose meaning depends on the lines before the part in a way the join cannot
    /// check ([`LogReader::leave`]).
    part: bool,
    /// Such a line was met; nothing more is read.
    stopped: bool,
    /// Processes a part's `.process` lines named but the part had not listed: the
    /// lines before the part must not list them either.
    missed: Vec<u64>,
}

impl<'a> LogReader<'a> {
    pub(crate) fn new(label: &'a str, format: &'static str) -> Self {
        grammar::forget_symbols();
        LogReader {
            out: Out {
                label,
                snap: DumpSnapshot::default(),
                report: InputReport::new(label, format),
            },
            lines: 0,
            mode: Mode::Other,
            block: Block::None,
            pending_blank: false,
            ctx: Ctx::default(),
            process_index: HashMap::default(),
            context_stacks: Vec::new(),
            dt_cs: Vec::new(),
            user: usermode::UserThreads::default(),
            mex: mex::Gathered::default(),
            frames: Vec::new(),
            part: false,
            stopped: false,
            missed: Vec::new(),
        }
    }

    /// A reader for a part of a log that starts at a `PROCESS` line, line `first` + 1.
    fn part(label: &'a str, first: u64) -> Self {
        LogReader {
            lines: first,
            part: true,
            ..LogReader::new(label, WINDBG_LOG)
        }
    }

    /// True (and the reader stops) when the reader reads a part and the line at hand
    /// may mean something that depends on the lines before the part in a way the join
    /// cannot check: the user-mode session's lines (thread lists, `!runaway`, the
    /// current thread's stack), whose records refer to each other by thread number,
    /// and the bugcheck culprit of a bugcheck line read before the part.
    fn leave(&mut self) -> bool {
        self.stopped = self.part;
        self.stopped
    }

    /// Reads the next line of the log (`ascii`: known to be ASCII, so there
    /// is no web typography to undo).
    pub(crate) fn feed(&mut self, raw: &str, ascii: bool) -> ControlFlow<()> {
        self.lines += 1;
        let n = self.lines;
        if ascii {
            self.line(raw, n);
        } else {
            let line = text::normalize(raw);
            self.line(&line, n);
        }
        if self.stopped {
            // The line is left to the reader of what comes before.
            self.lines -= 1;
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    }

    /// Ends the last block and command, and applies what was gathered under
    /// `.thread`/`.process` contexts.
    pub(crate) fn finish(mut self) -> (DumpSnapshot, InputReport) {
        grammar::forget_symbols();
        self.note_cut();
        self.end_block();
        self.end_mode();
        self.out.report.lines = self.lines;
        // The session time is one record, however many times the log prints it.
        if self.out.snap.session_time.is_some() {
            self.out.record();
        }
        self.merge_context();
        (self.out.snap, self.out.report)
    }

    /// At the end of the input: a THREAD block or `!locks` entry still open that
    /// lacks what a whole one has is a log cut there (a paste or a capture that
    /// stopped). What was read is kept; the skip notes say where the cut is.
    fn note_cut(&mut self) {
        let n = self.lines;
        if let Block::Thread { t, in_stack, .. } = &self.block {
            // A block with its detail lines (`!process 0 ff`, `!thread`) but no
            // frame yet; `!process 0 2` and `!ready` print headers alone, and a
            // paged-out stack is not printed.
            let details = t.wait_start_tick.is_some()
                || t.context_switches.is_some()
                || t.process_address.is_some();
            let cut = t.origin == crate::model::ThreadOrigin::ThreadBlock
                && t.stack.is_empty()
                && t.kernel_stack_resident
                && (*in_stack || details);
            if cut {
                let text = format!(
                    "THREAD {:x} Cid {} (block from line {})",
                    t.address,
                    t.cid(),
                    t.line
                );
                self.out.skip(
                    n,
                    "input ends inside a THREAD block, before its stack (cut there)",
                    &text,
                );
            }
        }
        if let Mode::Locks(p) = &self.mode {
            if let (Some(why), Some(at)) = (p.cut_short(), p.entry_line()) {
                let text = format!("!locks entry from line {at}");
                self.out.skip(n, why, &text);
            }
        }
    }

    fn line(&mut self, line: &str, n: u64) {
        let t = grammar::trim_line(line);
        // The hot path: a frame of the stack being read. No prompt, header or
        // session line parses as a frame (two addresses, then a symbol).
        if let (
            Block::Thread {
                t: th,
                in_stack: true,
                ..
            },
            false,
        ) = (&mut self.block, self.pending_blank)
        {
            if let Some(f) = grammar::frame(t) {
                th.stack.push(f);
                return;
            }
        }
        if let Some(p) = grammar::prompt(t) {
            let user_mode =
                p.user_thread.is_some() || matches!(command_name(p.command).1, "|" | "runaway");
            if user_mode && self.leave() {
                return;
            }
            self.end_block();
            self.end_mode();
            self.ctx.wow64 = p.x86;
            self.ctx.user_thread = p.user_thread;
            if let Some(n) = p.user_process {
                self.user_process(n);
            }
            self.command(p.command);
            return;
        }
        if self.global_line(t, n) {
            return;
        }
        if t.starts_with("THREAD ") {
            self.end_block();
            match grammar::thread_header(t) {
                Some(h) => {
                    let mut th = thread::new_thread(h, self.out.source(n), n);
                    th.stack = std::mem::take(&mut self.frames);
                    self.block = Block::Thread {
                        t: th,
                        in_stack: false,
                        wow64: false,
                    };
                }
                None => self.out.skip(n, "THREAD header not understood", t),
            }
            return;
        }
        if t.starts_with("PROCESS ") {
            self.end_block();
            match grammar::process_header(t) {
                Some(h) if h.pid.is_some() => self.start_process(h, n),
                Some(h) => self.block = Block::PendingProcess(h, n),
                None => self.out.skip(n, "PROCESS header not understood", t),
            }
            return;
        }
        if let Some(h) = usermode::thread_line(t) {
            if self.leave() {
                return;
            }
            self.end_block();
            // `~` lists the current process's threads.
            match self.ctx.user_process {
                Some(n) => {
                    self.ctx.user_pid = Some(h.pid);
                    self.user.process_number(n, h.pid);
                }
                None => {
                    self.ctx.user_pid.get_or_insert(h.pid);
                }
            }
            let mut th = self
                .user
                .start(h, self.out.source(n), n, &mut self.out.snap);
            th.stack = std::mem::take(&mut self.frames);
            self.block = Block::Thread {
                t: th,
                in_stack: false,
                wow64: self.ctx.wow64,
            };
            return;
        }
        if let Block::PendingProcess(..) = self.block {
            let Block::PendingProcess(mut h, at) = std::mem::replace(&mut self.block, Block::None)
            else {
                return;
            };
            if grammar::process_ids(t, &mut h) {
                self.start_process(h, at);
            } else {
                self.out
                    .skip(at, "PROCESS header without a Cid on it or the next line", t);
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
            match &mut self.mode {
                Mode::Cs(cs) => cs.end(&mut self.out),
                Mode::Locks(l) => l.blank(),
                _ => {}
            }
            return;
        }
        match &mut self.block {
            Block::Thread {
                t: th, in_stack, ..
            } => {
                let was_blank = std::mem::take(&mut self.pending_blank);
                let end = if was_blank {
                    // After a blank line only a continued stack belongs to the block.
                    match grammar::frame(t) {
                        Some(f) if *in_stack => {
                            th.stack.push(f);
                            return;
                        }
                        _ => true,
                    }
                } else {
                    match thread::body_line(th, t, in_stack) {
                        LineKind::Frame | LineKind::Used => return,
                        LineKind::Unknown if !*in_stack => {
                            self.out.skip(n, "line not understood in THREAD block", t);
                            return;
                        }
                        LineKind::Unknown => true,
                    }
                };
                if end {
                    self.end_block();
                }
            }
            Block::Process(idx) => {
                let idx = *idx;
                if process_field(&mut self.out.snap.processes[idx], t) || self.in_other_mode() {
                    return;
                }
                // Command output after a PROCESS block (`!handle` prints one
                // before each process's handles) ends the block.
                self.end_block();
            }
            Block::PendingProcess(..) | Block::None => {}
        }
        self.mode_line(t, n);
    }

    fn in_other_mode(&self) -> bool {
        matches!(self.mode, Mode::Other)
    }

    /// Lines that mean the same wherever they appear: session times, context
    /// switches, the commands `!for_each_thread` echoes without a prompt.
    fn global_line(&mut self, t: &str, n: u64) -> bool {
        let Some(g) = Global::of(t) else {
            return false;
        };
        if matches!(g, Global::Culprit(_)) && self.out.snap.bugchecks.is_empty() && self.leave() {
            return true;
        }
        match g {
            // The first one read is kept (and counted as a record in `finish`).
            Global::SessionTime(rest) => match session::session_time(rest) {
                Some(s) => {
                    self.out.snap.session_time.get_or_insert(s);
                }
                None => self.out.skip(n, "Debug session time not understood", t),
            },
            Global::SystemUptime(rest) => {
                if let Some(ms) = session::uptime_ms(rest) {
                    self.out.snap.uptime_ms.get_or_insert(ms);
                }
            }
            Global::ProcessUptime(rest) => {
                if let Some(ms) = session::uptime_ms(rest) {
                    self.out.snap.process_uptime_ms.get_or_insert(ms);
                }
            }
            Global::Culprit(rest) => {
                if let Some(b) = self.out.snap.bugchecks.last_mut() {
                    let culprit = rest.trim().trim_start_matches(':').trim();
                    b.image_name.get_or_insert_with(|| culprit.to_string());
                }
            }
            Global::Implicit { process, rest } => {
                let v = hex_token(rest.trim());
                if process {
                    self.set_process(v);
                } else {
                    self.ctx.thread = v;
                }
            }
            Global::DotProcess => {
                self.end_block();
                self.end_mode();
                self.command(t);
            }
            Global::X86Context => {
                self.end_block();
                self.end_mode();
                self.ctx.wow64 = true;
            }
            Global::EffectiveMachine(rest) => {
                self.end_mode();
                self.ctx.wow64 = rest.contains("(x86)");
            }
            Global::BugCheck => match analyze::banner(t, n) {
                Some(b) => {
                    self.out.record();
                    self.out.snap.bugchecks.push(b);
                }
                None => self.out.skip(n, "BugCheck line not understood", t),
            },
        }
        true
    }

    /// The prompt names user-mode process `n` (`1:000>` after `|1s`): its pid,
    /// when `|` or a `~` line at its prompt gave it, is the process of what follows.
    fn user_process(&mut self, n: u32) {
        match self.ctx.user_process.replace(n) {
            Some(was) if was != n => self.ctx.user_pid = self.user.pid_of(n),
            Some(_) => {}
            // The first prompt: `~` lines pasted before it were this process's.
            None => match (self.ctx.user_pid, self.user.pid_of(n)) {
                (_, Some(pid)) => self.ctx.user_pid = Some(pid),
                (Some(pid), None) => self.user.process_number(n, pid),
                (None, None) => {}
            },
        }
    }

    fn set_process(&mut self, address: Option<u64>) {
        self.ctx.process = address.filter(|&a| a != 0);
        self.ctx.process_pid = self
            .ctx
            .process
            .and_then(|a| self.process_index.get(&a))
            .map(|&i| self.out.snap.processes[i].pid);
        if let (true, Some(a), None) = (self.part, self.ctx.process, self.ctx.process_pid) {
            self.missed.push(a);
        }
    }

    fn command(&mut self, cmd: &str) {
        let (bang, name) = command_name(cmd);
        // The arguments, after the name.
        let mut words = cmd.split_whitespace();
        words.next();
        if bang {
            let arg = cmd.split_whitespace().skip(1).find(|w| !w.starts_with('-'));
            if let Some(c) = mex::Command::of(name, arg) {
                self.mode = Mode::Mex(mex::MexParser::new(c));
                return;
            }
        }
        self.mode = match (bang, name) {
            (false, ".process") => {
                // `.process /r /p X`, `.process /p /r X`, `.process X`; `0` resets.
                let v = words.rfind(|w| !w.starts_with('/')).and_then(hex_token);
                self.set_process(v);
                Mode::Other
            }
            (false, ".thread") => {
                let mut wow64 = false;
                let mut address = None;
                for w in words {
                    match w {
                        "/w" => wow64 = true,
                        w if w.starts_with('/') => {}
                        w => address = hex_token(w),
                    }
                }
                self.ctx.thread = address;
                if wow64 {
                    self.ctx.wow64 = true;
                }
                Mode::Other
            }
            (false, ".effmach") => {
                if let Some(m) = words.next() {
                    self.ctx.wow64 = m.eq_ignore_ascii_case("x86");
                }
                Mode::Other
            }
            (true, "cs") => Mode::Cs(cs::CsParser::default()),
            (true, "locks" | "critsec") => Mode::Locks(locks::LocksParser::default()),
            (true, "lpc") => Mode::Lpc(lpc::LpcParser::default()),
            (true, "alpc") => Mode::Alpc(lpc::AlpcParser::default()),
            (true, "irp") => Mode::Irp(irp::IrpParser::new(words.next().and_then(hex_token))),
            (true, "irpfind") => Mode::Irpfind,
            (true, "stacks") => Mode::Stacks(Box::default()),
            (true, "running") => Mode::Running(stacks::RunningParser::default()),
            (true, "vm") => Mode::Vm(memory::VmParser::default()),
            (true, "poolused") => Mode::PoolUsed(memory::PoolParser::default()),
            (true, "handle") => Mode::Handle(handles::HandleParser::new(self.ctx.process)),
            (true, "analyze") => Mode::Analyze(analyze::AnalyzeParser::default()),
            (true, "runaway") => Mode::Runaway(usermode::RunawayParser::default()),
            (false, "|") => Mode::Processes,
            (false, "lm" | "lmv" | "lmm" | "lmvm" | "lml" | "lmf") => {
                Mode::Lm(modules::LmParser::default())
            }
            (false, "dt") if cmd.contains("_RTL_CRITICAL_SECTION") => {
                match cmd.split_whitespace().last().and_then(hex_token) {
                    Some(a) => Mode::DtCs(a),
                    None => Mode::Other,
                }
            }
            // `k L=BasePtr StackPtr InstructionPtr` rebuilds a stack from
            // addresses found on the raw stack (seed: "execution residue"):
            // not the thread's current stack, so not attached to it.
            (false, k) if is_stack_command(k) && !cmd.contains('=') => {
                Mode::Stack(Vec::new(), None)
            }
            // `~3 kv`, `~3kb`, `~~[1a4c] k`, `~. k`: a stack command run for one
            // thread of a user-mode session, which the prompt does not name
            // (debugger docs, "~ (Thread Status)": a thread specifier before a
            // command runs the command for that thread only).
            (false, w) if w.starts_with('~') => match usermode::thread_pick(cmd) {
                Some((pick, rest))
                    if rest.split_whitespace().next().is_some_and(is_stack_command)
                        && !rest.contains('=') =>
                {
                    Mode::Stack(Vec::new(), Some(pick))
                }
                _ => Mode::Other,
            },
            _ => Mode::Other,
        };
    }

    fn end_mode(&mut self) {
        let out = &mut self.out;
        match std::mem::replace(&mut self.mode, Mode::Other) {
            Mode::Cs(mut p) => p.end(out),
            Mode::Locks(mut p) => p.end(out),
            Mode::Lpc(p) => p.end(out),
            Mode::Alpc(mut p) => p.end(out),
            Mode::Irp(p) => p.end(out),
            Mode::Stacks(p) => p.end(out),
            Mode::Running(mut p) => p.end(out),
            Mode::Vm(p) => p.end(out),
            Mode::Handle(mut p) => p.end(out, self.ctx),
            Mode::Lm(mut p) => p.end(out, self.ctx),
            Mode::Analyze(mut p) => p.end(out),
            Mode::Mex(mut p) => p.end(out, self.ctx, &mut self.user, &mut self.mex),
            Mode::Runaway(_) | Mode::PoolUsed(_) | Mode::Irpfind | Mode::Processes => {}
            Mode::Stack(frames, _) if frames.is_empty() => {}
            // `~3 kv`: thread 3's stack, whatever the current thread.
            Mode::Stack(frames, Some(pick)) => {
                let pick = match pick {
                    usermode::Pick::Current => self.ctx.user_thread.map(usermode::Pick::Num),
                    p => Some(p),
                };
                if let Some(p) = pick {
                    self.user.context_stack(p, frames, self.ctx.wow64);
                }
            }
            Mode::Stack(frames, None) => match (self.ctx.thread, self.ctx.user_thread) {
                (Some(addr), _) => self.context_stacks.push((addr, frames, self.ctx.wow64)),
                // `~3s` then `kv` at `0:003>`: debugger thread 3's stack.
                (None, Some(num)) => {
                    self.user
                        .context_stack(usermode::Pick::Num(num), frames, self.ctx.wow64)
                }
                (None, None) => {}
            },
            Mode::DtCs(_) | Mode::Other => {}
        }
    }

    fn mode_line(&mut self, t: &str, n: u64) {
        if !self.in_other_mode() {
            if let Step::Used = self.dispatch(t, n) {
                return;
            }
            self.end_mode();
        }
        if let Some(mode) = self.pasted_output(t) {
            self.mode = mode;
            if let Step::End = self.dispatch(t, n) {
                self.end_mode();
            }
        }
    }

    /// Feeds a line to the current command's parser.
    fn dispatch(&mut self, t: &str, n: u64) -> Step {
        let ctx = self.ctx;
        let out = &mut self.out;
        match &mut self.mode {
            Mode::Cs(p) => p.line(t, n, ctx, out),
            Mode::DtCs(addr) => cs::dt_line(&mut self.dt_cs, *addr, t, n, ctx, out),
            Mode::Locks(p) => p.line(t, n, ctx, out),
            Mode::Lpc(p) => p.line(t, n),
            Mode::Alpc(p) => p.line(t, n, out),
            Mode::Irp(p) => p.line(t, n),
            Mode::Irpfind => irp::irpfind_line(t, n, out),
            Mode::Stack(frames, _) => stack_line(frames, t),
            Mode::Stacks(p) => p.line(t, n, out),
            Mode::Running(p) => p.line(t, n, out),
            Mode::Vm(p) => p.line(t, n, out),
            Mode::PoolUsed(p) => p.line(t, n, out),
            Mode::Handle(p) => p.line(t, n, ctx, out),
            Mode::Lm(p) => p.line(t, n, ctx, out),
            Mode::Analyze(p) => p.line(t, n, out),
            Mode::Mex(p) => p.line(t, n, ctx, &mut self.user, &mut self.mex, out),
            Mode::Runaway(p) => p.line(t, n, &mut self.user, out),
            Mode::Processes => usermode::process_line(t, n, &mut self.ctx, &mut self.user, out),
            Mode::Other => Step::End,
        }
    }

    /// Output pasted without its command (blog posts and mails quote the
    /// interesting part): the first line of a table says what it is.
    fn pasted_output(&self, t: &str) -> Option<Mode> {
        // `Critical section = ...` between `[...]` lines (seed: the FwLock chain).
        if t.starts_with("Critical section") {
            return Some(Mode::Cs(cs::CsParser::default()));
        }
        if t.starts_with("CritSec ") || t.starts_with("Resource @") {
            return Some(Mode::Locks(locks::LocksParser::default()));
        }
        if t.starts_with("Proc.Thread") {
            return Some(Mode::Stacks(Box::default()));
        }
        if t.starts_with("*** Virtual Memory Usage") {
            return Some(Mode::Vm(memory::VmParser::default()));
        }
        if irp::is_irpfind_header(t) {
            return Some(Mode::Irpfind);
        }
        if t.starts_with("Sorting by") {
            return Some(Mode::PoolUsed(memory::PoolParser::default()));
        }
        if stacks::is_running_header(t) {
            return Some(Mode::Running(stacks::RunningParser::default()));
        }
        if handles::is_table_line(t) {
            return Some(Mode::Handle(handles::HandleParser::new(self.ctx.process)));
        }
        // A stack printed after `.thread /w` by `!for_each_thread`, no prompt.
        if self.ctx.thread.is_some() && grammar::is_stack_header(t) {
            return Some(Mode::Stack(Vec::new(), None));
        }
        None
    }

    fn end_block(&mut self) {
        self.pending_blank = false;
        match std::mem::replace(&mut self.block, Block::None) {
            Block::Thread { mut t, wow64, .. } => {
                self.out.record();
                // The frames were read into the reused buffer: move them to a
                // vector of their exact size, and keep the buffer.
                let mut frames = std::mem::take(&mut t.stack);
                t.stack = Vec::with_capacity(frames.len());
                t.stack.append(&mut frames);
                self.frames = frames;
                if t.origin == crate::model::ThreadOrigin::UserList {
                    self.user.end(t, wow64, &mut self.out.snap);
                } else {
                    self.out.snap.threads.push(t);
                }
            }
            Block::Process(_) | Block::PendingProcess(..) | Block::None => {}
        }
    }

    fn start_process(&mut self, h: grammar::ProcessHeader, n: u64) {
        let idx = match self.process_index.get(&h.address) {
            Some(&i) => i,
            None => {
                self.out.record();
                let i = self.out.snap.processes.len();
                self.out.snap.processes.push(Process {
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
                    source: self.out.source(n),
                });
                self.process_index.insert(h.address, i);
                i
            }
        };
        if self.ctx.process == Some(h.address) {
            self.ctx.process_pid = h.pid;
        }
        if let Mode::Handle(p) = &mut self.mode {
            p.set_process(h.address, h.pid);
        }
        self.block = Block::Process(idx);
    }

    /// Applies `kv` stacks and `dt` values gathered under `.thread`/`.process`,
    /// and gives user-mode records their process.
    fn merge_context(&mut self) {
        let snap = &mut self.out.snap;
        let mut stacks = std::mem::take(&mut self.context_stacks);
        let mex = std::mem::take(&mut self.mex);
        stacks.extend(mex.stacks.into_iter().map(|(a, f)| (a, f, false)));
        mex::apply_mutant_owners(snap, &mex.mutant_owners);
        // A `!process 0 ff` log has no `kv` after `.thread`: no index of its threads.
        let by_address: HashMap<u64, usize> = if stacks.is_empty() {
            HashMap::default()
        } else {
            snap.threads
                .iter()
                .enumerate()
                .filter(|(_, t)| t.address != 0)
                .map(|(i, t)| (t.address, i))
                .collect()
        };
        for (addr, frames, wow64) in stacks {
            let Some(&i) = by_address.get(&addr) else {
                continue;
            };
            thread::offer_stack(&mut snap.threads[i], frames, wow64);
        }
        cs::merge_dt(snap, std::mem::take(&mut self.dt_cs));
        self.user.finish(snap, self.ctx.user_pid);
    }
}

impl<'a> LogReader<'a> {
    /// Takes over what `part` read, as if this reader had read those lines itself;
    /// `part` starts where this reader's lines end, on line `first` + 1. False (nothing
    /// taken) when this reader's state there is not a fresh reader's, which the part
    /// assumed: a command's output still open, a debugger context set, or a process
    /// of the part (or one its `.process` lines looked for) already listed.
    fn absorb(&mut self, part: LogReader<'a>, first: u64) -> bool {
        // The part's first line is a `PROCESS` line: it would end the open block.
        self.end_block();
        let LogReader {
            out: Out { snap, report, .. },
            lines,
            mode,
            block,
            pending_blank,
            ctx,
            process_index,
            mut context_stacks,
            mut dt_cs,
            user,
            mex,
            frames: _,
            part: _,
            stopped: _,
            missed,
        } = part;
        let known = |a: &u64| self.process_index.contains_key(a);
        if self.lines != first
            || !self.in_other_mode()
            || self.ctx != Ctx::default()
            // (The part stops before user-mode lines, so this holds; it is checked so
            // that a new user-mode path cannot slip through.)
            || !user.is_empty()
            || process_index.keys().any(known)
            || missed.iter().any(known)
        {
            return false;
        }
        let base = self.out.snap.processes.len();
        self.process_index
            .extend(process_index.into_iter().map(|(a, i)| (a, base + i)));
        crate::append(&mut self.out.snap, snap);
        self.out.report.absorb(report);
        self.lines = lines;
        self.mode = mode;
        self.block = match block {
            Block::Process(i) => Block::Process(base + i),
            b => b,
        };
        self.pending_blank = pending_blank;
        self.ctx = ctx;
        self.context_stacks.append(&mut context_stacks);
        self.dt_cs.append(&mut dt_cs);
        self.mex.absorb(mex);
        true
    }
}

/// The smallest part [`part_starts`] makes: below this, starting threads costs more
/// than it saves.
const MIN_PART: usize = 16 << 20;

/// Where a UTF-8 log may be cut into `parts` parts read at once: at a `PROCESS` line
/// at the start of a line, near each equal share. Fewer cuts (none) for small logs.
pub(crate) fn part_starts(bytes: &[u8], parts: usize) -> Vec<usize> {
    let parts = parts.min(bytes.len() / MIN_PART).max(1);
    let finder = memchr::memmem::Finder::new(b"\nPROCESS ");
    let mut cuts: Vec<usize> = Vec::new();
    for k in 1..parts {
        let from = (bytes.len() / parts * k).max(cuts.last().copied().unwrap_or(0));
        match finder.find(&bytes[from..]) {
            Some(i) => cuts.push(from + i + 1),
            None => break,
        }
    }
    cuts
}

/// Reads a UTF-8 log in parts, one thread each: the first from the start, the others
/// from each of `cuts` (line starts, ascending, each a `PROCESS` line). A part's reader
/// stops before the first line that may depend on what came before it; the parts are
/// then joined in order, and the reader of all that came before reads on from where a
/// part stopped (or, when its state at the cut differs from a fresh reader's, the
/// whole part again). The result is the one reader's result, line numbers included
/// (tests compare both on the fixtures, the seeds and logs stitched from random runs of
/// their lines, cut at `PROCESS` lines).
/// `release(from, to)` is told which bytes have been read. Also returns how many parts
/// were joined (not read again).
pub(crate) fn read_parts(
    label: &str,
    bytes: &[u8],
    cuts: &[usize],
    release: &(dyn Fn(usize, usize) + Sync),
) -> (DumpSnapshot, InputReport, usize) {
    let ends: Vec<usize> = cuts.iter().copied().chain([bytes.len()]).collect();
    let read = |reader: &mut LogReader, from: usize, to: usize| {
        text::for_each_mapped_line(bytes, from..to, release, |line, ascii, _| {
            reader.feed(line, ascii)
        })
    };
    std::thread::scope(|s| {
        // Each part counts the lines of the span before its cut and adds the count the
        // part before it passes on, so every line is counted once. (A count lost to a
        // panic leaves a wrong `first`, and the join then reads that part again.)
        let mut before: Option<mpsc::Receiver<u64>> = None;
        let parts: Vec<_> = cuts
            .iter()
            .zip(&ends[1..])
            .enumerate()
            .map(|(k, (&from, &to))| {
                let span = k.checked_sub(1).and_then(|p| cuts.get(p)).map_or(0, |&c| c)..from;
                let (pass_on, next) = mpsc::channel();
                let earlier = before.replace(next);
                s.spawn(move || {
                    let lines = text::count_mapped_lines(bytes, span);
                    let first = earlier.map_or(0, |e| e.recv().unwrap_or(0)) + lines;
                    let _ = pass_on.send(first);
                    let mut reader = LogReader::part(label, first);
                    let stop = read(&mut reader, from, to);
                    grammar::forget_symbols();
                    (reader, first, stop.unwrap_or(to))
                })
            })
            .collect();
        let mut reader = LogReader::new(label, WINDBG_LOG);
        read(&mut reader, 0, ends[0]);
        let mut joined = 0;
        for ((part, &from), &to) in parts.into_iter().zip(cuts).zip(&ends[1..]) {
            let (part, first, stop) = match part.join() {
                Ok(done) => done,
                Err(panic) => std::panic::resume_unwind(panic),
            };
            let resume = if reader.absorb(part, first) {
                joined += 1;
                stop
            } else {
                from
            };
            read(&mut reader, resume, to);
        }
        let (snap, report) = reader.finish();
        (snap, report, joined)
    })
}

/// A line that means the same wherever it appears (see [`LogReader::global_line`]).
enum Global<'a> {
    /// `Debug session time: ...`
    SessionTime(&'a str),
    /// `System Uptime: ...`
    SystemUptime(&'a str),
    /// `Process Uptime: ...`
    ProcessUptime(&'a str),
    /// After the `BugCheck` banner: `Probably caused by : LiveKdD.SYS ( LiveKdD+12d1 )`.
    Culprit(&'a str),
    /// `Implicit process is now X` / `Implicit thread is now X`.
    Implicit { process: bool, rest: &'a str },
    /// `!for_each_thread "!thread @#Thread 1f;.thread /w @#Thread; .reload; kb 256"`
    /// echoes `.process /p /r X` without a prompt (seed: "Complete Stack Traces from
    /// x64 System").
    DotProcess,
    /// `.thread /w` answers `x86 context set`.
    X86Context,
    /// `Effective machine: x86 compatible (x86)`.
    EffectiveMachine(&'a str),
    /// `BugCheck E2, {0, 0, 0, 0}` when the debugger opens a kernel dump.
    BugCheck,
}

impl<'a> Global<'a> {
    fn of(t: &'a str) -> Option<Self> {
        let first = *t.as_bytes().first()?;
        Some(match first {
            b'D' => Global::SessionTime(t.strip_prefix("Debug session time:")?),
            b'S' => Global::SystemUptime(t.strip_prefix("System Uptime:")?),
            b'P' => match t.strip_prefix("Process Uptime:") {
                Some(rest) => Global::ProcessUptime(rest),
                None => Global::Culprit(t.strip_prefix("Probably caused by")?),
            },
            b'I' => match t.strip_prefix("Implicit process is now") {
                Some(rest) => Global::Implicit {
                    process: true,
                    rest,
                },
                None => Global::Implicit {
                    process: false,
                    rest: t.strip_prefix("Implicit thread is now")?,
                },
            },
            b'.' if t.starts_with(".process /") => Global::DotProcess,
            b'x' if t == "x86 context set" => Global::X86Context,
            b'E' => Global::EffectiveMachine(t.strip_prefix("Effective machine:")?),
            b'B' if t.starts_with("BugCheck ") => Global::BugCheck,
            _ => return None,
        })
    }
}

/// A line of `k*` output: frames, and the noise between them; anything else
/// after the first frame ends the stack.
fn stack_line(frames: &mut Vec<Frame>, t: &str) -> Step {
    if let Some(f) = grammar::frame(t) {
        frames.push(f);
        return Step::Used;
    }
    if frames.is_empty() || grammar::is_stack_header(t) || thread::is_noise(t) {
        Step::Used
    } else {
        Step::End
    }
}

/// A line of a PROCESS block; false when it is not one.
fn process_field(p: &mut Process, t: &str) -> bool {
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
    } else {
        // The other lines `!process` prints between the header and the threads.
        const FIELDS: &[&str] = &[
            "DirBase",
            "VadRoot",
            "DeviceMap",
            "Token",
            "QuotaPoolUsage",
            "Working Set Sizes",
            "PeakWorkingSetSize",
            "VirtualSize",
            "PeakVirtualSize",
            "PageFaultCount",
            "MemoryPriority",
            "BasePriority",
            "CommitCharge",
            "Job",
            "DebugPort",
            "SessionId:",
        ];
        return FIELDS.iter().any(|f| t.starts_with(f)) || text::is_elision(t);
    }
    true
}

/// A command's name, and whether it is an extension command: `!ext.cmd` is `!cmd` from
/// a named extension (`!ntsdexts.locks`, `!kdexts.handle`).
fn command_name(cmd: &str) -> (bool, &str) {
    let first = cmd.split_whitespace().next().unwrap_or("");
    match first.strip_prefix('!') {
        Some(ext) => (true, ext.rsplit('.').next().unwrap_or(ext)),
        None => (false, first),
    }
}

/// `k`, `kb`, `kv`, `kL 100`, `kn`, `kp`, `kP`, `kc`, `kvn`...
fn is_stack_command(w: &str) -> bool {
    w.starts_with('k') && w.len() <= 4 && w[1..].chars().all(|c| "bvLnpPcf".contains(c))
}

#[cfg(test)]
mod tests;
