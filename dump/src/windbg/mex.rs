//! Tables of the MEX debugger extension (`!mex.lt`, `!mex.t`, `!mex.us`,
//! `!mex.eresource`, `!mex.mut`), as engineers paste them: their thread, owner and
//! waiter columns. MEX prints fixed tables under `====` rules; the shapes below are
//! the ones its public walkthroughs show (WinDbg with "Mex External 3.0"):
//!
//! ```text
//! 0: kd> !mex.lt ffffdf8215882040 -wr WrResource
//! Process PID Thread             Id State     Time Reason
//! ======= === ================ ==== ======= ====== ==========
//! System    4 ffffdf821f4b8040 3304 Waiting 3s.218 WrResource
//!
//! 0: kd> !mex.t ffffdf821f4b8040
//! Process                   Thread                       CID       UserTime KernelTime ContextSwitches Wait Reason   Time State
//! System (ffffdf8215882040) ffffdf821f4b8040 (E|K|W|R|V) 4.3304           0          0              18 WrResource  3s.218 Waiting
//!
//! WaitBlockList:
//!     Object           Type                 Other Waiters
//!     ffffdc8b3e30f230 SynchronizationEvent             0
//! # Child-SP         Return           Call Site                               Info
//! 5 ffffdc8b3e30f1d0 fffff8027d7013c4 nt!ExAcquireResourceExclusiveLite+0x1fe Thread: ffffdf8217a30040 (System) exclusive owner of EResource: ffffdf821ce68448
//!
//! 0: kd> !mex.eresource ffffdf821ce68448
//! nt!_ERESOURCE @ ffffdf821ce68448 [verbose]
//! Contention count: 1
//! Exclusive owner:
//!     Process Thread             Time Wait Function
//!     ======= ================ ====== ==================================
//!     System  ffffdf8217a30040 2s.343 TestDriver!FileDeletionThread+0x38
//! Exclusive Waiters: 0
//!
//! 0: kd> !mex.mut ffffc983f2cf36a0
//!    +0x028 OwnerThread          : 0xffffc983`f2d47040 _KTHREAD (System)
//! Owning Thread: ffffc983f2d47040
//! ```
//!
//! In user mode `!mex.lt` lists `# DbgID ThdID Wait Function User Kernel Info TEB
//! Create Time` (`->` marks the current thread), `!mex.t -t TID` starts with `DbgID
//! ThreadID User Kernel Create Time (UTC)`, and `!mex.us` groups threads of one stack
//! under `5 threads [stats]: 6 7 8 9 10` (debugger ids; thread addresses in kernel
//! mode) with frames `    00007ff92bb6edd4 ntdll!NtWaitForSingleObject+0x14`.
//!
//! A MEX wait time (`3s.218`, `13m:47.640`, `46ms`) becomes Ticks at the default
//! 15.625 ms tick, so that chains can tell the longest wait; MEX rows carry no
//! `Ticks` text, so they never sway the tick length the log's own blocks imply.

use super::grammar::{self, hex_token};
use super::usermode::{Pick, UserThreadLine, UserThreads};
use super::{Ctx, Out, Step};
use crate::model::{Args, Frame, Resource, Thread, ThreadOrigin, ThreadState, WaitObject};

/// Which MEX command's output is being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Command {
    /// `!mex.lt`: the thread list (kernel or user form).
    Lt,
    /// `!mex.t`: one thread, its wait blocks and stack.
    T,
    /// `!mex.us`: unique stacks, the threads that share each.
    Us,
    /// `!mex.eresource ADDR`: an ERESOURCE's owners and waiters.
    Eresource(Option<u64>),
    /// `!mex.mut ADDR`: a KMUTANT's owner.
    Mut(Option<u64>),
}

impl Command {
    /// The MEX command of an extension name (`lt` of `!mex.lt`), with its argument.
    pub(crate) fn of(name: &str, arg: Option<&str>) -> Option<Command> {
        let address = arg.and_then(hex_token);
        Some(match name {
            "lt" => Command::Lt,
            "t" => Command::T,
            "us" => Command::Us,
            "eresource" => Command::Eresource(address),
            "mut" => Command::Mut(address),
            _ => return None,
        })
    }
}

/// What a MEX table adds beyond threads and resources, applied when the log is read.
#[derive(Default)]
pub(crate) struct Gathered {
    /// Kernel `!mex.us` stacks, by thread address (the reader's `.thread` stacks).
    pub(crate) stacks: Vec<(u64, Vec<Frame>)>,
    /// `!mex.mut`: KMUTANT address -> owner ETHREAD address.
    pub(crate) mutant_owners: Vec<(u64, u64)>,
}

impl Gathered {
    /// Takes over what the reader of a later part of the log gathered.
    pub(crate) fn absorb(&mut self, later: Gathered) {
        self.stacks.extend(later.stacks);
        self.mutant_owners.extend(later.mutant_owners);
    }
}

/// `!mex.mut` owners given to the waits on those mutants that name no owner.
pub(crate) fn apply_mutant_owners(snap: &mut crate::model::DumpSnapshot, owners: &[(u64, u64)]) {
    if owners.is_empty() {
        return;
    }
    for o in snap
        .threads
        .iter_mut()
        .flat_map(|t| t.wait_objects.iter_mut())
    {
        if o.owner_thread.is_none() && o.kind.starts_with("Mutant") {
            if let Some(&(_, owner)) = owners.iter().find(|(m, _)| *m == o.address) {
                o.owner_thread = Some(owner);
            }
        }
    }
}

/// Where an `!mex.eresource` row belongs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    None,
    Owners,
    ExclusiveWaiters,
    SharedWaiters,
}

enum Table {
    /// Before the first header line.
    Start,
    /// `!mex.t` (kernel): the thread read from its row; stack and wait blocks follow.
    KernelThread(Box<Thread>),
    /// `!mex.t` (user): the debugger id; the stack follows.
    UserThread(u32, Vec<Frame>),
    /// `!mex.us`: the threads of the group being read, and its frames.
    Group(Vec<GroupId>, Vec<Frame>),
}

#[derive(Clone, Copy)]
enum GroupId {
    Num(u32),
    Address(u64),
}

pub(crate) struct MexParser {
    cmd: Command,
    table: Table,
    /// `!mex.t`: which part of the thread's output the line is in.
    in_waits: bool,
    in_priority: bool,
    /// `!mex.eresource`: the lock, and the list its rows go to.
    resource: Option<Resource>,
    section: Section,
    mutant_owner: Option<u64>,
}

impl MexParser {
    pub(crate) fn new(cmd: Command) -> Self {
        MexParser {
            cmd,
            table: Table::Start,
            in_waits: false,
            in_priority: false,
            resource: None,
            section: Section::None,
            mutant_owner: None,
        }
    }

    pub(crate) fn line(
        &mut self,
        t: &str,
        n: u64,
        ctx: Ctx,
        user: &mut UserThreads,
        gathered: &mut Gathered,
        out: &mut Out,
    ) -> Step {
        let t = t.trim();
        if is_rule(t) {
            return Step::Used;
        }
        match self.cmd {
            Command::Lt => self.lt_line(t, n, ctx, user, out),
            Command::T => self.t_line(t, n, ctx, user, out),
            Command::Us => self.us_line(t, ctx, user, gathered),
            Command::Eresource(address) => self.eresource_line(t, n, address, out),
            Command::Mut(_) => self.mut_line(t),
        }
        Step::Used
    }

    /// The end of the command's output.
    pub(crate) fn end(
        &mut self,
        out: &mut Out,
        ctx: Ctx,
        user: &mut UserThreads,
        gathered: &mut Gathered,
    ) {
        match std::mem::replace(&mut self.table, Table::Start) {
            Table::KernelThread(th) => {
                out.record();
                out.snap.threads.push(*th);
            }
            Table::UserThread(num, frames) => {
                user.context_stack(Pick::Num(num), frames, ctx.wow64);
            }
            Table::Group(ids, frames) => end_group(ids, frames, ctx, user, gathered),
            Table::Start => {}
        }
        if let Some(r) = self.resource.take() {
            out.record();
            out.snap.resources.push(r);
        }
        if let (Command::Mut(Some(m)), Some(o)) = (self.cmd, self.mutant_owner.take()) {
            out.record();
            gathered.mutant_owners.push((m, o));
        }
    }

    /// `System    4 ffffdf821f4b8040 3304 Waiting 3s.218 WrResource` (kernel) or
    /// `->     0  25dc Test!main+0x17a  0  0 Event... 000000859f17f000 08/11/2023 ...` (user).
    fn lt_line(&mut self, t: &str, n: u64, ctx: Ctx, user: &mut UserThreads, out: &mut Out) {
        if t.starts_with("Process ") || t.starts_with("# DbgID") || t.starts_with("Thread Count:") {
            return;
        }
        let words: Vec<&str> = t.split_whitespace().collect();
        // Kernel form: the thread's address is a column of its own, the tid and the
        // state after it (the user form's TEB column is an address too, but no state
        // follows it).
        let kernel = (0..words.len()).find(|&i| {
            is_address(words[i])
                && words
                    .get(i + 2)
                    .is_some_and(|w| super::stacks::state_word(w).is_some())
        });
        if let Some(i) = kernel {
            let Some(th) = kernel_row(&words, i, out.source(n), n) else {
                out.skip(n, "!mex.lt row not understood", t);
                return;
            };
            out.record();
            out.snap.threads.push(th);
            return;
        }
        let words: Vec<&str> = match words.first() {
            Some(&"->") => words[1..].to_vec(),
            _ => words,
        };
        let Some((num, tid)) = user_ids(&words) else {
            out.skip(n, "!mex.lt row not understood", t);
            return;
        };
        let teb = words.iter().skip(2).rev().find_map(|w| {
            (w.len() >= 8 && w.bytes().all(|b| b.is_ascii_hexdigit()))
                .then(|| hex_token(w))
                .flatten()
        });
        user_thread(num, tid, teb, ctx, user, n, t, out);
    }

    fn t_line(&mut self, t: &str, n: u64, ctx: Ctx, user: &mut UserThreads, out: &mut Out) {
        if t.starts_with("Process ") || t.starts_with("DbgID ") {
            return;
        }
        match &mut self.table {
            Table::Start => {
                let words: Vec<&str> = t.split_whitespace().collect();
                if let Some(i) = words.iter().position(|w| is_address(w)) {
                    match kernel_thread(&words, i, out.source(n), n) {
                        Some(th) => self.table = Table::KernelThread(Box::new(th)),
                        None => out.skip(n, "!mex.t thread row not understood", t),
                    }
                    return;
                }
                // `1     3324 (0n13092)    0      0 08/11/2023 08:04:20.146 PM`
                let Some((num, tid)) = user_ids(&words) else {
                    out.skip(n, "!mex.t thread row not understood", t);
                    return;
                };
                user_thread(num, tid, None, ctx, user, n, t, out);
                self.table = Table::UserThread(num, Vec::new());
            }
            Table::KernelThread(th) => {
                if t == "WaitBlockList:" {
                    self.in_waits = true;
                    return;
                }
                if t == "Priority:" {
                    (self.in_waits, self.in_priority) = (false, true);
                    return;
                }
                if t.starts_with("# ") || t.starts_with("Thread at address") {
                    self.in_waits = false;
                    return;
                }
                if t.starts_with("Object ") || t.starts_with("Current ") {
                    return;
                }
                if self.in_priority {
                    self.in_priority = false;
                    th.priority = t.split_whitespace().next().and_then(|v| v.parse().ok());
                    return;
                }
                if self.in_waits {
                    let mut w = t.split_whitespace();
                    if let (Some(address), Some(kind)) = (w.next().and_then(hex_token), w.next()) {
                        th.wait_objects.push(WaitObject {
                            address,
                            kind: kind.into(),
                            owner_thread: None,
                        });
                    }
                    return;
                }
                if let Some((f, info)) = stack_row(t) {
                    if let Some(r) = owner_info(info, &f, th, out.source(n), n) {
                        out.record();
                        out.snap.resources.push(r);
                    }
                    th.stack.push(f);
                }
            }
            Table::UserThread(_, frames) => {
                if let Some((f, _)) = stack_row(t) {
                    frames.push(f);
                }
            }
            Table::Group(..) => {}
        }
    }

    /// `5 threads [stats]: 6 7 8 9 10`, then the group's frames.
    fn us_line(&mut self, t: &str, ctx: Ctx, user: &mut UserThreads, gathered: &mut Gathered) {
        if let Some(ids) = group_header(t) {
            // The group before this one ends; its stack goes to each of its threads.
            if let Table::Group(ids, frames) =
                std::mem::replace(&mut self.table, Table::Group(ids, Vec::new()))
            {
                end_group(ids, frames, ctx, user, gathered);
            }
            return;
        }
        if let Table::Group(_, frames) = &mut self.table {
            let mut w = t.split_whitespace();
            let (Some(addr), Some(sym)) = (w.next(), w.next()) else {
                return;
            };
            let ret = match addr {
                "(Inline)" => 0,
                a => match hex_token(a) {
                    Some(v) => v,
                    None => return,
                },
            };
            if sym.contains('!') || sym.starts_with("0x") {
                frames.push(Frame {
                    frame: 0,
                    ret,
                    args: Args::default(),
                    symbol: grammar::intern(sym),
                });
            }
        }
    }

    fn eresource_line(&mut self, t: &str, n: u64, address: Option<u64>, out: &Out) {
        let r = self
            .resource
            .get_or_insert_with(|| Resource::new(address.unwrap_or(0), out.source(n), n));
        if let Some((_, rest)) = t.split_once("_ERESOURCE @ ") {
            if let Some(a) = rest.split_whitespace().next().and_then(hex_token) {
                r.address = a;
            }
            r.line = n;
            r.source = out.source(n);
            return;
        }
        let count = |s: &str| s.trim().parse::<u32>().ok();
        if let Some(v) = t.strip_prefix("Contention count:") {
            r.contention_count = count(v).map(u64::from);
        } else if t.starts_with("Exclusive owner") {
            r.exclusive = true;
            self.section = Section::Owners;
        } else if t.starts_with("Shared owner") {
            self.section = Section::Owners;
        } else if let Some(v) = t.strip_prefix("Exclusive Waiters:") {
            r.exclusive_waiters_count = count(v);
            self.section = Section::ExclusiveWaiters;
        } else if let Some(v) = t.strip_prefix("Shared Waiters:") {
            r.shared_waiters_count = count(v);
            self.section = Section::SharedWaiters;
        } else if !t.starts_with("Thread at address") && !t.starts_with("Process ") {
            // A row: `System  ffffdf8217a30040 2s.343 TestDriver!FileDeletionThread+0x38`.
            let Some(thread) = t.split_whitespace().skip(1).find_map(address_word) else {
                return;
            };
            let list = match self.section {
                Section::Owners => &mut r.owners,
                Section::ExclusiveWaiters => &mut r.exclusive_waiters,
                Section::SharedWaiters => &mut r.shared_waiters,
                Section::None => return,
            };
            if !list.contains(&thread) {
                list.push(thread);
            }
        }
    }

    /// `+0x028 OwnerThread : 0xffffc983`f2d47040 _KTHREAD (System)`, `Owning Thread: X`.
    fn mut_line(&mut self, t: &str) {
        let value = if let Some(v) = t.strip_prefix("Owning Thread:") {
            v
        } else if let Some((_, v)) = t
            .split_once("OwnerThread")
            .and_then(|(_, r)| r.split_once(':'))
        {
            v
        } else {
            return;
        };
        if let Some(owner) = value
            .split_whitespace()
            .next()
            .and_then(hex_token)
            .filter(|&o| o != 0)
        {
            self.mutant_owner = Some(owner);
        }
    }
}

/// `====== === ====`: a table's rule.
fn is_rule(t: &str) -> bool {
    t.starts_with("==") && t.bytes().all(|b| b == b'=' || b == b' ')
}

/// A thread or object address: 8 or more hex digits (16 on x64), or with a backtick.
fn is_address(w: &str) -> bool {
    let digits = w.bytes().filter(u8::is_ascii_hexdigit).count();
    digits >= 8 && w.bytes().all(|b| b.is_ascii_hexdigit() || b == b'`') && hex_token(w).is_some()
}

fn address_word(w: &str) -> Option<u64> {
    is_address(w).then(|| hex_token(w)).flatten()
}

/// A user-mode row's first two columns: the debugger id (decimal) and the thread id (hex).
fn user_ids(words: &[&str]) -> Option<(u32, u32)> {
    let num = words.first()?.parse().ok()?;
    Some((num, hex_u32(words.get(1)?)?))
}

fn hex_u32(w: &str) -> Option<u32> {
    hex_token(w).and_then(|v| u32::try_from(v).ok())
}

/// MEX's state column: `Waiting`, `Running`, `Ready`, `Terminated`, ...
fn state(word: &str, reason: &str) -> Option<ThreadState> {
    Some(match super::stacks::state_word(word)? {
        ThreadState::Wait {
            mode, alertable, ..
        } => ThreadState::Wait {
            reason: reason.into(),
            mode,
            alertable,
        },
        s => s,
    })
}

/// `3s.218`, `13m:47.640`, `1h:02m:03.004`, `46ms`, `0`: milliseconds.
fn mex_time_ms(w: &str) -> Option<u64> {
    if let Some(ms) = w.strip_suffix("ms") {
        return ms.parse().ok();
    }
    if w == "0" {
        return Some(0);
    }
    let mut total = 0u64;
    for part in w.split(':') {
        let (num, unit) = part.split_at(part.find(|c: char| c.is_ascii_alphabetic())?);
        let (unit, frac) = unit.split_at(1);
        let whole: u64 = num.parse().ok()?;
        let scale = match unit {
            "d" => 86_400_000,
            "h" => 3_600_000,
            "m" => 60_000,
            "s" => 1_000,
            _ => return None,
        };
        total += whole * scale;
        if let Some(ms) = frac.strip_prefix('.') {
            // Only seconds carry a fraction, in ms.
            total += ms.parse::<u64>().ok()?;
        } else if !frac.is_empty() {
            // `13m:47.640`: the last part may be `47.640` with no unit.
            return None;
        }
    }
    Some(total)
}

/// The last part of `13m:47.640` has no unit: seconds with a fraction.
fn wait_ms(w: &str) -> Option<u64> {
    if let Some(v) = mex_time_ms(w) {
        return Some(v);
    }
    let (head, secs) = w.rsplit_once(':')?;
    let (s, ms) = secs.split_once('.')?;
    let head = mex_time_ms(head)?;
    Some(head + s.parse::<u64>().ok()? * 1_000 + ms.parse::<u64>().ok()?)
}

/// Ticks at the default tick (see the module docs).
fn ticks_of(ms: u64) -> u64 {
    let tick = crate::finish::DEFAULT_TICK_NS;
    (ms * 1_000_000 + tick / 2) / tick
}

/// `!mex.lt` kernel row: `Process PID Thread Id State Time Reason`, the thread at `i`.
fn kernel_row(words: &[&str], i: usize, source: String, n: u64) -> Option<Thread> {
    let address = hex_token(words[i])?;
    let pid = hex_u32(words.get(i.checked_sub(1)?)?)?;
    let tid = hex_u32(words.get(i + 1)?)?;
    let st = words.get(i + 2)?;
    let reason = words.get(i + 4).copied().unwrap_or("");
    let mut th = Thread::new(address, pid, tid, state(st, reason)?, source, n);
    th.origin = ThreadOrigin::Mex;
    let image = words.get(..i - 1).map(|w| w.join(" ")).unwrap_or_default();
    if !image.is_empty() {
        th.image = Some(image.into());
    }
    if matches!(th.state, ThreadState::Wait { .. }) {
        th.ticks = words.get(i + 3).and_then(|w| wait_ms(w)).map(ticks_of);
    }
    Some(th)
}

/// `!mex.t` kernel row: `System (ffffdf8215882040) ffffdf821f4b8040 (E|K|W|R|V) 4.3304
/// 0 0 18 WrResource 3s.218 Waiting`; the thread at `i`.
fn kernel_thread(words: &[&str], i: usize, source: String, n: u64) -> Option<Thread> {
    let address = hex_token(words[i])?;
    let (pid, tid) = words[i + 1..]
        .iter()
        .find_map(|w| w.split_once('.').filter(|(p, _)| !p.is_empty()))
        .and_then(|(p, t)| Some((hex_u32(p)?, hex_u32(t)?)))?;
    let [.., reason, time, st] = words else {
        return None;
    };
    let mut th = Thread::new(address, pid, tid, state(st, reason)?, source, n);
    th.origin = ThreadOrigin::Mex;
    th.kernel_stack_resident = true;
    let before = &words[..i];
    if let Some(p) = before.iter().position(|w| w.starts_with('(')) {
        th.image = Some(before[..p].join(" ").into());
        th.process_address = hex_token(before[p].trim_matches(['(', ')']));
    }
    if matches!(th.state, ThreadState::Wait { .. }) {
        th.ticks = wait_ms(time).map(ticks_of);
    }
    Some(th)
}

/// A thread of a user-mode MEX table, as a `~` line would give it.
#[allow(clippy::too_many_arguments)]
fn user_thread(
    num: u32,
    tid: u32,
    teb: Option<u64>,
    ctx: Ctx,
    user: &mut UserThreads,
    n: u64,
    t: &str,
    out: &mut Out,
) {
    let Some(pid) = ctx.pid() else {
        out.skip(
            n,
            "MEX thread row before the process is known (run | or ~ first)",
            t,
        );
        return;
    };
    let h = UserThreadLine {
        num,
        pid,
        tid,
        suspend: None,
        teb,
        frozen: false,
        name: None,
    };
    let th = user.start(h, out.source(n), n, &mut out.snap);
    out.record();
    user.end(th, ctx.wow64, &mut out.snap);
}

/// `5 ffffdc8b3e30f1d0 fffff8027d7013c4 nt!ExAcquireResourceExclusiveLite+0x1fe Info...`:
/// the frame, and the text after its symbol (MEX's Info and Source columns).
fn stack_row(t: &str) -> Option<(Frame, &str)> {
    let mut rest = t;
    let mut next = || {
        let s = rest.trim_start();
        let end = s.find(char::is_whitespace).unwrap_or(s.len());
        let (w, r) = s.split_at(end);
        rest = r;
        Some(w).filter(|w| !w.is_empty())
    };
    next()?.parse::<u32>().ok()?;
    let frame = hex_token(next()?)?;
    let ret = hex_token(next()?)?;
    let symbol = next()?;
    Some((
        Frame {
            frame,
            ret,
            args: Args::default(),
            symbol: grammar::intern(symbol),
        },
        rest.trim(),
    ))
}

/// `Thread: ffffdf8217a30040 (System) exclusive owner of EResource: ffffdf821ce68448`
/// in the Info column of a thread's acquire frame: the lock it waits for, and its owner.
fn owner_info(info: &str, f: &Frame, th: &Thread, source: String, n: u64) -> Option<Resource> {
    let (who, lock) = info.split_once("owner of EResource:")?;
    let owner = who
        .trim()
        .strip_prefix("Thread:")?
        .split_whitespace()
        .next()
        .and_then(hex_token)?;
    let address = lock.split_whitespace().next().and_then(hex_token)?;
    let exclusive = who.contains("exclusive");
    let shared_wait = f.function().contains("Shared");
    let mut r = Resource::new(address, source, n);
    r.exclusive = exclusive;
    r.owners.push(owner);
    match shared_wait {
        true => r.shared_waiters.push(th.address),
        false => r.exclusive_waiters.push(th.address),
    }
    Some(r)
}

/// `5 threads [stats]: 6 7 8 9 10`, `1 thread: ffffc181ef7ea540 --> ...`,
/// `3 threads [stats]: 22[!mex.t 22] 46[!mex.t 46] ...`: the group's threads.
fn group_header(t: &str) -> Option<Vec<GroupId>> {
    let (count, rest) = t.split_once(' ')?;
    count.parse::<u32>().ok()?;
    let rest = rest
        .strip_prefix("threads")
        .or_else(|| rest.strip_prefix("thread"))?;
    let (_, ids) = rest.split_once(':')?;
    let ids = ids.split("-->").next().unwrap_or("");
    Some(
        ids.split_whitespace()
            .filter_map(|w| {
                let w = w.split('[').next().unwrap_or(w);
                if is_address(w) {
                    hex_token(w).map(GroupId::Address)
                } else {
                    w.parse().ok().map(GroupId::Num)
                }
            })
            .collect(),
    )
}

fn end_group(
    ids: Vec<GroupId>,
    frames: Vec<Frame>,
    ctx: Ctx,
    user: &mut UserThreads,
    gathered: &mut Gathered,
) {
    if frames.is_empty() {
        return;
    }
    for id in ids {
        match id {
            GroupId::Num(num) => user.context_stack(Pick::Num(num), frames.clone(), ctx.wow64),
            GroupId::Address(a) => gathered.stacks.push((a, frames.clone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mex_times() {
        assert_eq!(wait_ms("3s.218"), Some(3_218));
        assert_eq!(wait_ms("13m:47.640"), Some(827_640));
        assert_eq!(wait_ms("46ms"), Some(46));
        assert_eq!(wait_ms("7m:30.000"), Some(450_000));
        assert_eq!(wait_ms("0"), Some(0));
        assert_eq!(wait_ms("Waiting"), None);
        assert_eq!(ticks_of(3_218), 206);
    }
}
