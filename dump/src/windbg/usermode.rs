//! User-mode sessions (cdb/WinDbg on a process or a user dump): the `~` thread
//! lines, `!runaway`, `|`, and the wait state of threads that such a dump does
//! not record.
//!
//! ```text
//! 0:000> ~*kv
//!
//! .  0  Id: 1c3c.1c40 Suspend: 1 Teb: 7ffdf000 Unfrozen
//! ChildEBP RetAddr  Args to Child
//! 0012fe8c 7c90df3c 7c8025db 00000784 00000000 ntdll!KiFastSystemCallRet
//! ...
//!    3  Id: 1914.278 Suspend: 1 Teb: 000000dd`ea989000 Unfrozen "worker"
//!  # Child-SP          RetAddr           : Args to Child                     : Call Site
//! 00 000000dd`eafff9d8 00007ffe`c14657ff : 00000003`00000003 ... : ntdll!NtWaitForAlertByThreadId+0x14
//! ```
//! `.` marks the current thread, `#` the one that raised the event; newer
//! debuggers append the thread's description in quotes. The Cid is pid.tid in
//! hex, as in kernel output (formats.md §4). A user-mode session has no
//! `!process`: the process id comes from these lines (or from `|`).

use std::collections::HashMap;

use super::grammar::hex_token;
use super::{Ctx, Out, Step};
use crate::dumpfile::ThreadDetail;
use crate::model::{
    richer_stack, DumpSnapshot, Process, Thread, ThreadOrigin, ThreadState, STATE_NOT_RECORDED,
};

pub(crate) struct UserThreadLine {
    /// The debugger's thread number (`~3s`, `0:003>`).
    pub num: u32,
    pub pid: u32,
    pub tid: u32,
    pub suspend: Option<u32>,
    pub teb: Option<u64>,
    pub frozen: bool,
    pub name: Option<String>,
}

/// `.  0  Id: 1c3c.1c40 Suspend: 1 Teb: 7ffdf000 Unfrozen "name"`.
pub(crate) fn thread_line(t: &str) -> Option<UserThreadLine> {
    // Cheap rejection: an optional mark, the debugger's thread number, then
    // `Id: ` (a stack frame also starts with digits; this runs on every line).
    let b = t.as_bytes();
    let marks = b
        .iter()
        .take_while(|&&c| matches!(c, b'.' | b'#' | b' '))
        .count();
    let digits = b[marks..].iter().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 || !t[marks + digits..].trim_ascii_start().starts_with("Id: ") {
        return None;
    }
    let t = &t[marks..];
    let mut words = t.split_whitespace();
    let num = words.next()?.parse::<u32>().ok()?;
    if words.next()? != "Id:" {
        return None;
    }
    let (p, th) = words.next()?.split_once('.')?;
    let mut h = UserThreadLine {
        num,
        pid: u32::try_from(hex_token(p)?).ok()?,
        tid: u32::try_from(hex_token(th)?).ok()?,
        suspend: None,
        teb: None,
        frozen: false,
        name: None,
    };
    while let Some(w) = words.next() {
        match w {
            "Suspend:" => h.suspend = words.next().and_then(|v| v.parse().ok()),
            "Teb:" => h.teb = words.next().and_then(hex_token),
            "Frozen" => h.frozen = true,
            _ => {}
        }
    }
    if let Some((_, rest)) = t.split_once('"') {
        h.name = rest.rsplit_once('"').map(|(n, _)| n.to_string());
    }
    Some(h)
}

/// The thread a thread specifier before a command names (debugger docs, "Thread
/// Syntax"): `~3` by debugger number, `~~[1a4c]` by system thread id, `~.` the
/// current thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pick {
    Num(u32),
    Tid(u32),
    Current,
}

/// `~3 kv`, `~3kb`, `~~[1a4c] k`, `~. kb`: the thread picked, and the command
/// after the specifier. `~*` (every thread) and `~#` (the event's) are not one
/// picked thread: `~*k*` prints a `~` line before each stack instead.
pub(crate) fn thread_pick(cmd: &str) -> Option<(Pick, &str)> {
    let rest = cmd.trim_start().strip_prefix('~')?;
    if let Some(r) = rest.strip_prefix("~[") {
        let (id, after) = r.split_once(']')?;
        let tid = u32::try_from(hex_token(id.trim())?).ok()?;
        return Some((Pick::Tid(tid), after.trim_start()));
    }
    if let Some(after) = rest.strip_prefix('.') {
        return Some((Pick::Current, after.trim_start()));
    }
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let num = rest[..digits].parse().ok()?;
    Some((Pick::Num(num), rest[digits..].trim_start()))
}

/// The `~` threads read so far: printed once per stack command (`~*k`, then
/// `.effmach x86` and `~*kv` again), they are one thread each.
#[derive(Default)]
pub(crate) struct UserThreads {
    by_cid: HashMap<(u32, u32), usize>,
    details: HashMap<(u32, u32), usize>,
    /// Debugger thread number -> Cid, from the `~` lines.
    by_num: HashMap<u32, (u32, u32)>,
    runaway: Vec<(u32, Runaway, String, u64)>,
    /// Debugger process number -> pid, from `|` and from `~` lines at a prompt.
    processes: HashMap<u32, u32>,
    /// Stacks printed by `k*` at a `0:NNN>` prompt or by `~N k*`: which thread,
    /// frames, WOW64.
    stacks: Vec<(Pick, Vec<crate::model::Frame>, bool)>,
}

impl UserThreads {
    /// Nothing gathered yet.
    pub(crate) fn is_empty(&self) -> bool {
        let UserThreads {
            by_cid,
            details,
            by_num,
            runaway,
            stacks,
            processes,
        } = self;
        processes.is_empty()
            && by_cid.is_empty()
            && details.is_empty()
            && by_num.is_empty()
            && runaway.is_empty()
            && stacks.is_empty()
    }

    /// Debugger process `n` is `pid`.
    pub(crate) fn process_number(&mut self, n: u32, pid: u32) {
        self.processes.insert(n, pid);
    }

    /// The pid of debugger process `n`, when known.
    pub(crate) fn pid_of(&self, n: u32) -> Option<u32> {
        self.processes.get(&n).copied()
    }

    /// A thread record for a `~` line; its stack follows.
    pub(crate) fn start(
        &mut self,
        h: UserThreadLine,
        source: String,
        n: u64,
        snap: &mut DumpSnapshot,
    ) -> Thread {
        let key = (h.pid, h.tid);
        self.by_num.insert(h.num, key);
        let detail = match self.details.get(&key) {
            Some(&i) => &mut snap.thread_details[i],
            None => {
                self.details.insert(key, snap.thread_details.len());
                snap.thread_details.push(ThreadDetail {
                    pid: Some(h.pid),
                    tid: h.tid,
                    ..ThreadDetail::default()
                });
                let last = snap.thread_details.len() - 1;
                &mut snap.thread_details[last]
            }
        };
        detail.suspend_count = h.suspend.or(detail.suspend_count);
        detail.teb = h.teb.or(detail.teb);
        detail.name = h.name.or(detail.name.take());
        let state = ThreadState::Other(STATE_NOT_RECORDED.into());
        let mut t = Thread::new(0, h.pid, h.tid, state, source, n);
        t.origin = ThreadOrigin::UserList;
        t.teb = h.teb;
        t
    }

    /// The end of a `~` thread's output: joins it to the same thread read before.
    pub(crate) fn end(&mut self, mut t: Thread, wow64: bool, snap: &mut DumpSnapshot) {
        if wow64 {
            t.wow64_stack = std::mem::take(&mut t.stack);
        }
        match self.by_cid.get(&(t.pid, t.tid)) {
            Some(&i) => {
                let kept = &mut snap.threads[i];
                for (mine, theirs) in [
                    (&mut kept.stack, t.stack),
                    (&mut kept.wow64_stack, t.wow64_stack),
                ] {
                    if richer_stack(&theirs, mine) {
                        *mine = theirs;
                    }
                }
                kept.start_address = kept.start_address.take().or(t.start_address);
                kept.priority = kept.priority.or(t.priority);
                kept.teb = kept.teb.or(t.teb);
            }
            None => {
                self.by_cid.insert((t.pid, t.tid), snap.threads.len());
                snap.threads.push(t);
            }
        }
    }

    /// A stack `k*` printed for the current thread of a user-mode session.
    pub(crate) fn context_stack(
        &mut self,
        pick: Pick,
        frames: Vec<crate::model::Frame>,
        wow64: bool,
    ) {
        self.stacks.push((pick, frames, wow64));
    }

    /// Applies `k*` stacks and `!runaway` times, gives records without a
    /// process the session's, and derives each thread's wait state from its stacks.
    pub(crate) fn finish(&mut self, snap: &mut DumpSnapshot, user_pid: Option<u32>) {
        for (pick, frames, wow64) in std::mem::take(&mut self.stacks) {
            let cid = match pick {
                Pick::Num(num) => self.by_num.get(&num).copied(),
                // `~~[tid]`: the session's thread of that system id.
                Pick::Tid(tid) => user_pid
                    .map(|p| (p, tid))
                    .filter(|c| self.by_cid.contains_key(c))
                    .or_else(|| self.by_cid.keys().copied().find(|c| c.1 == tid)),
                Pick::Current => None,
            };
            let Some(&i) = cid.and_then(|c| self.by_cid.get(&c)) else {
                continue;
            };
            super::thread::offer_stack(&mut snap.threads[i], frames, wow64);
        }
        let mut unmatched = 0;
        for (tid, kind, text, _line) in std::mem::take(&mut self.runaway) {
            let Some(&i) = user_pid.and_then(|p| self.by_cid.get(&(p, tid))) else {
                unmatched += 1;
                continue;
            };
            let t = &mut snap.threads[i];
            let slot = match kind {
                Runaway::User => &mut t.user_time,
                Runaway::Kernel => &mut t.kernel_time,
                Runaway::Elapsed => &mut t.elapsed_time,
            };
            *slot = Some(text.into());
        }
        if unmatched > 0 {
            snap.read_notes.push(format!(
                "{unmatched} !runaway row(s) name threads that no ~ line of the log lists"
            ));
        }
        for &i in self.by_cid.values() {
            let t = &mut snap.threads[i];
            if let Some(s) = state_from_stack(t) {
                t.state = s;
            }
            if let Some(&d) = self.details.get(&(t.pid, t.tid)) {
                snap.thread_details[d].priority = t.priority;
            }
        }
        if let Some(pid) = user_pid {
            for cs in snap
                .critical_sections
                .iter_mut()
                .filter(|c| c.pid.is_none())
            {
                cs.pid = Some(pid);
            }
            for h in snap.handles.iter_mut().filter(|h| h.pid.is_none()) {
                h.pid = Some(pid);
            }
            for m in snap.modules.iter_mut().filter(|m| m.pid.is_none()) {
                m.pid = Some(pid);
            }
        }
    }
}

/// System services a user-mode thread blocks in, the wait reason the kernel
/// passes for each (WRK `KWAIT_REASON` uses: NtWaitForSingleObject waits with
/// UserRequest, NtDelayExecution with DelayExecution, NtRemoveIoCompletion with
/// WrQueue, NtReplyWaitReceivePort with WrLpcReceive, NtRequestWaitReplyPort
/// with WrLpcReply, win32k's message waits with WrUserRequest), and which x86
/// argument says alertable. An empty reason: a wait whose reason depends on
/// its arguments (ALPC send-and-wait serves both sides).
const WAIT_SERVICES: &[(&str, &str, Option<usize>)] = &[
    ("NtWaitForSingleObject", "UserRequest", Some(1)),
    ("NtWaitForMultipleObjects", "UserRequest", Some(3)),
    ("NtWaitForMultipleObjects32", "UserRequest", Some(3)),
    ("NtSignalAndWaitForSingleObject", "UserRequest", Some(2)),
    ("NtDelayExecution", "DelayExecution", Some(0)),
    ("NtRemoveIoCompletion", "WrQueue", None),
    ("NtRemoveIoCompletionEx", "WrQueue", None),
    ("NtWaitForWorkViaWorkerFactory", "WrQueue", None),
    ("NtReplyWaitReceivePort", "WrLpcReceive", None),
    ("NtReplyWaitReceivePortEx", "WrLpcReceive", None),
    ("NtRequestWaitReplyPort", "WrLpcReply", None),
    ("NtAlpcSendWaitReceivePort", "", None),
    ("NtWaitForAlertByThreadId", "WrAlertByThreadId", None),
    ("NtWaitForKeyedEvent", "WrKeyedEvent", Some(1)),
    ("NtUserGetMessage", "WrUserRequest", None),
    ("NtUserWaitMessage", "WrUserRequest", None),
    ("NtUserMsgWaitForMultipleObjectsEx", "WrUserRequest", None),
];

/// The system-call stubs above the service on x86 and WOW64 stacks.
const STUBS: &[&str] = &["KiFastSystemCallRet", "KiFastSystemCall", "KiIntSystemCall"];

/// A user-mode dump records no scheduler state; a thread whose stack tops in
/// a wait service waits, as `!analyze -hang` and every engineer reads it. The
/// service is `ntdll!NtX` or `ntdll!ZwX` (`win32u`/`user32` for message
/// waits), under `ntdll!KiFastSystemCallRet` on x86. The 64-bit stack of a
/// WOW64 thread tops in `wow64cpu`, so its 32-bit stack is read too.
pub(crate) fn state_from_stack(t: &Thread) -> Option<ThreadState> {
    for stack in t.stacks() {
        let Some(top) = stack.iter().find(|f| {
            let func = f.function();
            let name = func.rsplit('!').next().unwrap_or(func);
            !STUBS.contains(&name)
        }) else {
            continue;
        };
        let func = top.function();
        let Some((module, name)) = func.split_once('!') else {
            continue;
        };
        let base = module.split('_').next().unwrap_or(module);
        if !matches!(
            base.to_ascii_lowercase().as_str(),
            "ntdll" | "win32u" | "user32"
        ) {
            continue;
        }
        let service = name
            .strip_prefix("Zw")
            .map_or(name.to_string(), |n| format!("Nt{n}"));
        let Some(&(_, reason, alertable_arg)) = WAIT_SERVICES.iter().find(|(s, ..)| *s == service)
        else {
            continue;
        };
        // x86 arguments are the real ones; x64 `Args to Child` are home slots.
        let x86 = stack.iter().all(|f| f.frame <= u64::from(u32::MAX));
        let alertable = match alertable_arg {
            Some(i) if x86 => top.args.get(i).is_some_and(|&a| a != 0),
            _ => false,
        };
        return Some(ThreadState::Wait {
            reason: reason.into(),
            mode: "UserMode".into(),
            alertable,
        });
    }
    None
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Runaway {
    #[default]
    User,
    Kernel,
    Elapsed,
}

/// `!runaway 7`:
///
/// ```text
///  User Mode Time
///   Thread       Time
///    0:55c       0:00:00.0093
///    2:1a4c      0 days 0:00:38.656
///  Kernel Mode Time
///  ...
///  Elapsed Time
/// ```
/// (debugger docs, `!runaway`; newer builds print `0 days` before the clock.)
#[derive(Default)]
pub(crate) struct RunawayParser {
    kind: Runaway,
}

impl RunawayParser {
    pub(crate) fn line(&mut self, t: &str, n: u64, user: &mut UserThreads, out: &mut Out) -> Step {
        match t {
            "User Mode Time" => self.kind = Runaway::User,
            "Kernel Mode Time" => self.kind = Runaway::Kernel,
            "Elapsed Time" => self.kind = Runaway::Elapsed,
            _ if t.starts_with("Thread") && t.ends_with("Time") => {}
            _ => {
                let Some((id, rest)) = t.split_once(char::is_whitespace) else {
                    return Step::End;
                };
                let Some((num, tid)) = id.split_once(':') else {
                    return Step::End;
                };
                let tid = hex_token(tid).and_then(|v| u32::try_from(v).ok());
                match (num.parse::<u32>(), tid) {
                    (Ok(_), Some(tid)) => {
                        out.record();
                        user.runaway
                            .push((tid, self.kind, rest.trim().to_string(), n));
                    }
                    _ => out.skip(n, "!runaway row not understood", t),
                }
            }
        }
        Step::Used
    }
}

/// `|`: `.  0\tid: 17c8\texamine\tname: C:\Windows\System32\notepad.exe`.
/// `.` marks the current process, `#` the one that raised the event; the
/// number is the debugger's (the `1` of a `1:000>` prompt).
pub(crate) fn process_line(
    t: &str,
    n: u64,
    ctx: &mut Ctx,
    user: &mut UserThreads,
    out: &mut Out,
) -> Step {
    let current = t.trim_start().starts_with('.');
    let t2 = t.trim_start_matches(['.', '#', ' ']).trim_start();
    let Some((num, rest)) = t2.split_once("id: ") else {
        return Step::End;
    };
    let mut words = rest.split_whitespace();
    let Some(pid) = words
        .next()
        .and_then(hex_token)
        .and_then(|v| u32::try_from(v).ok())
    else {
        out.skip(n, "| line not understood", t);
        return Step::Used;
    };
    if let Ok(num) = num.trim().parse() {
        user.process_number(num, pid);
    }
    if current {
        ctx.user_pid = Some(pid);
    } else {
        ctx.user_pid.get_or_insert(pid);
    }
    let image = rest
        .split_once("name: ")
        .map(|(_, p)| p.trim())
        .map(|p| p.rsplit(['\\', '/']).next().unwrap_or(p).to_string())
        .unwrap_or_default();
    if !out
        .snap
        .processes
        .iter()
        .any(|p| p.pid == pid && p.address == 0)
    {
        out.record();
        out.snap.processes.push(Process {
            address: 0,
            pid,
            parent_pid: None,
            session_id: None,
            image,
            handle_count: None,
            elapsed_time: None,
            user_time: None,
            kernel_time: None,
            line: n,
            source: out.source(n),
        });
    }
    Step::Used
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_lines() {
        let h = thread_line(".  0  Id: 1c3c.1c40 Suspend: 1 Teb: 7ffdf000 Unfrozen").unwrap();
        assert_eq!(
            (h.pid, h.tid, h.suspend, h.teb),
            (0x1c3c, 0x1c40, Some(1), Some(0x7ffdf000))
        );
        let h = thread_line(
            "   3  Id: 1914.278 Suspend: 1 Teb: 000000dd`ea989000 Unfrozen \"worker pool\"",
        )
        .unwrap();
        assert_eq!(h.teb, Some(0xdd_ea98_9000));
        assert_eq!(h.name.as_deref(), Some("worker pool"));
        assert!(
            thread_line("#  2  Id: aa8.3ff8 Suspend: 0 Teb: 00000087`6dcb3000 Frozen")
                .is_some_and(|h| h.frozen)
        );
        assert!(thread_line("0  Id: hello").is_none());
        assert!(thread_line("12 threads waiting").is_none());
    }
}
