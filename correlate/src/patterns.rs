//! Dump-side patterns: what an engineer checks in a complete dump when the trace
//! explains nothing (seed pattern names in parentheses): high contention,
//! spiking thread, message box, special process, handle leak and thread count
//! outliers, inconsistent or truncated dump.

use std::collections::HashMap;

use dumptrace_dump::{pid_hex, DumpSnapshot, ThreadState};

use crate::findings::{human_duration, location, thread_evidence};
use crate::graph::{ChainData, WaitGraph};
use crate::report::{Evidence, Finding};

/// Frames of threads that wait for work, not for something stuck: thread-pool
/// waiters and workers, LPC/RPC listeners, kernel worker queues, message loops.
const IDLE_FRAMES: &[&str] = &[
    "ntdll!TppWaiterpThread",
    "ntdll!NtWaitForWorkViaWorkerFactory",
    "ntdll!ZwWaitForWorkViaWorkerFactory",
    "ntdll!NtReplyWaitReceivePort",
    "ntdll!ZwReplyWaitReceivePort",
    "ntdll!NtReplyWaitReceivePortEx",
    "ntdll!ZwReplyWaitReceivePortEx",
    "ntdll!NtRemoveIoCompletion",
    "ntdll!ZwRemoveIoCompletion",
    "nt!KeRemoveQueue",
    "nt!KeRemoveQueueEx",
    "nt!ExpWorkerThread",
    "USER32!NtUserGetMessage",
    "USER32!GetMessageW",
    "USER32!GetMessageA",
];

/// Waits for work rather than for a stuck resource; such threads are not
/// candidates for "blocked first" (their wait starts when they went idle).
pub(crate) fn is_idle(t: &dumptrace_dump::Thread) -> bool {
    if matches!(
        t.state.wait_reason(),
        Some("WrQueue" | "WrLpcReceive" | "WrWorkerFactory")
    ) {
        return true;
    }
    if t.lpc_waiting_for.is_some() || t.alpc_waiting_for.is_some() {
        return false;
    }
    t.frames().any(|f| IDLE_FRAMES.contains(&f.function()))
}

/// Frames of process exit: a thread stuck here holds its process in "terminating".
const EXIT_FRAMES: &[&str] = &[
    "kernel32!ExitProcess",
    "kernel32!_ExitProcess",
    "ntdll!LdrShutdownProcess",
    "ntdll!RtlExitUserProcess",
];

/// Frames of the debugger's own break-in: the clock interrupt's check for a
/// break-in request and the breakpoint it raises (kernel: `nt!KdCheckForDebugBreak`,
/// `nt!DbgBreakPointWithStatus`, `nt!RtlpBreakWithStatusInstruction`, as a kd
/// session broken in with Ctrl+Break shows on the current processor), and the
/// thread `.breakin` or an attach creates in a user-mode process
/// (`ntdll!DbgUiRemoteBreakin`). Such a thread runs because the debugger stopped
/// the machine there, not because the workload spins.
const BREAKIN_FRAMES: &[&str] = &[
    "KdCheckForDebugBreak",
    "DbgBreakPointWithStatus",
    "RtlpBreakWithStatusInstruction",
    "DbgUiRemoteBreakin",
];

fn is_debugger_breakin(t: &dumptrace_dump::Thread) -> bool {
    t.frames().any(|f| {
        let func = f.function();
        let name = func.rsplit('!').next().unwrap_or(func);
        BREAKIN_FRAMES.contains(&name)
    })
}

fn in_exit(t: &dumptrace_dump::Thread) -> bool {
    t.frames().any(|f| {
        let func = f.function();
        EXIT_FRAMES.contains(&func)
            || func.ends_with("!_doexit")
            || func.ends_with("!__crtExitProcess")
    })
}

/// `00:01:04.515` or `4 Days 08:57:56.171` -> seconds.
fn cpu_seconds(s: &str) -> Option<f64> {
    let s = s.trim();
    let (days, clock) = match s.split_once("Day") {
        Some((d, rest)) => (
            d.trim().parse::<f64>().ok()?,
            rest.trim_start_matches('s').trim(),
        ),
        None => (0.0, s),
    };
    let parts: Vec<f64> = clock
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [h, m, sec] = parts.as_slice() else {
        return None;
    };
    Some(days * 86400.0 + h * 3600.0 + m * 60.0 + sec)
}

/// The `file:line` of a lock entry for an evidence row: the entry's own, as
/// its reader kept it; for an entry built without one, the file of the
/// snapshot's threads (one log), never a bare `:line`.
pub(crate) fn entry_source(s: &DumpSnapshot, source: &str, line: u64) -> String {
    if !source.is_empty() {
        return source.to_string();
    }
    let file = s
        .threads
        .iter()
        .find_map(|t| t.source.rsplit_once(':').map(|x| x.0))
        .filter(|f| !f.is_empty())
        .unwrap_or("<unknown input>");
    format!("{file}:{line}")
}

fn finding(kind: &str, summary: String, confidence: f64, evidence: Vec<Evidence>) -> Finding {
    Finding {
        rank: 0,
        kind: kind.into(),
        summary,
        pid: None,
        tid: None,
        chain: None,
        confidence,
        evidence,
    }
}

fn median(mut v: Vec<u64>) -> u64 {
    if v.is_empty() {
        return 0;
    }
    v.sort_unstable();
    v[v.len() / 2]
}

pub(crate) fn dump_patterns(
    s: &DumpSnapshot,
    chains: &[ChainData],
    graph: &WaitGraph,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let in_chain: std::collections::HashSet<usize> = chains
        .iter()
        .flat_map(|c| c.members.iter().copied())
        .collect();

    // High contention (seed: ContentionCount 0xac352; !locks Contention Count = 277088870).
    for cs in &s.critical_sections {
        let waiters = cs.lock_count.filter(|&n| n > 0).unwrap_or(0);
        let contention = cs.contention_count.unwrap_or(0);
        if waiters >= 10 || contention >= 100_000 {
            out.push(finding(
                "high-contention",
                format!(
                    "Critical section 0x{:08x}{} in pid {} is highly contended: LockCount {}{}",
                    cs.address,
                    cs.symbol
                        .as_deref()
                        .map(|x| format!(" ({x})"))
                        .unwrap_or_default(),
                    cs.pid.map_or("?".into(), pid_hex),
                    waiters,
                    if contention > 0 {
                        format!(", ContentionCount {contention}")
                    } else {
                        String::new()
                    }
                ),
                0.4,
                vec![Evidence {
                    time_raw: None,
                    source: entry_source(s, &cs.source, cs.line),
                    line: Some(cs.line),
                    time: None,
                    message: format!(
                        "Critical section = 0x{:08x} LockCount = {waiters}",
                        cs.address
                    ),
                }],
            ));
        }
    }
    for r in &s.resources {
        let waiters = r.exclusive_waiters_count.unwrap_or(0) + r.shared_waiters_count.unwrap_or(0);
        let contention = r.contention_count.unwrap_or(0);
        if waiters >= 10 || contention >= 100_000 {
            out.push(finding(
                "high-contention",
                format!(
                    "ERESOURCE 0x{:08x}{} is highly contended: Contention Count {contention}, {waiters} waiters",
                    r.address,
                    r.symbol.as_deref().map(|x| format!(" ({x})")).unwrap_or_default()
                ),
                0.45,
                vec![Evidence {
                    time_raw: None,
                    source: entry_source(s, &r.source, r.line),
                    line: Some(r.line),
                    time: None,
                    message: format!("Resource @ 0x{:08x} Contention Count = {contention}", r.address),
                }],
            ));
        }
    }

    // Spiking thread (seed: calc.exe RUNNING with UserTime 00:01:04.515).
    for t in &s.threads {
        if !matches!(t.state, ThreadState::Running { .. }) || t.pid == 0 || is_debugger_breakin(t) {
            continue;
        }
        let cpu = t.user_time.as_deref().and_then(cpu_seconds).unwrap_or(0.0)
            + t.kernel_time
                .as_deref()
                .and_then(cpu_seconds)
                .unwrap_or(0.0);
        if cpu >= 10.0 {
            let mut f = finding(
                "spiking-thread",
                format!(
                    "Thread {} ({}) is RUNNING with {} of CPU time{}",
                    t.cid(),
                    t.image.as_deref().unwrap_or(dumptrace_dump::NO_IMAGE),
                    human_duration(cpu),
                    location(t).map(|l| format!(" in {l}")).unwrap_or_default()
                ),
                0.5,
                vec![thread_evidence(t)],
            );
            f.pid = Some(t.pid);
            f.tid = Some(t.tid);
            out.push(f);
        }
    }

    // Message box on a blocked thread (seed: spoolsv.exe USER32!MessageBoxA).
    for (i, t) in s.threads.iter().enumerate() {
        let boxed = t.frames().any(|f| {
            let func = f.function().to_ascii_lowercase();
            func.contains("!messagebox") || func.contains("!softmodalmessagebox")
        });
        if !boxed || !matches!(t.state, ThreadState::Wait { .. }) {
            continue;
        }
        let serves = !graph.owns(i).is_empty() || in_chain.contains(&i);
        let mut f = finding(
            "message-box",
            format!(
                "Thread {} ({}) is showing a message box{}; it has waited {}",
                t.cid(),
                t.image.as_deref().unwrap_or(dumptrace_dump::NO_IMAGE),
                if serves {
                    " while other threads wait on it"
                } else {
                    ""
                },
                t.wait_seconds().map(human_duration).unwrap_or("?".into())
            ),
            if serves { 0.7 } else { 0.4 },
            vec![thread_evidence(t)],
        );
        f.pid = Some(t.pid);
        f.tid = Some(t.tid);
        out.push(f);
    }

    // Special processes (seed: userinit.exe still present 5 h after logon).
    for p in &s.processes {
        let img = p.image.to_ascii_lowercase();
        let elapsed = p.elapsed_time.as_deref().and_then(cpu_seconds);
        let why = match img.as_str() {
            "werfault.exe" | "werfaultsecure.exe" | "dwwin.exe" | "drwtsn32.exe" => Some(
                "an error reporting process: some process crashed or hung before the dump"
                    .to_string(),
            ),
            "userinit.exe" if elapsed.unwrap_or(0.0) > 600.0 => Some(format!(
                "userinit.exe normally exits right after logon; this one has run for {}",
                human_duration(elapsed.unwrap_or(0.0))
            )),
            _ => None,
        };
        if let Some(why) = why {
            let mut f = finding(
                "special-process",
                format!(
                    "Process {} (pid {}) is present: {why}",
                    p.image,
                    pid_hex(p.pid)
                ),
                0.35,
                vec![Evidence {
                    time_raw: None,
                    source: entry_source(s, &p.source, p.line),
                    line: Some(p.line),
                    time: None,
                    message: format!(
                        "PROCESS {:x} Cid: {:04x} Image: {}",
                        p.address, p.pid, p.image
                    ),
                }],
            );
            f.pid = Some(p.pid);
            out.push(f);
        }
    }

    // Handle leak and thread count outliers (seed: iexplore.exe HandleCount 143428).
    let handles: Vec<u64> = s
        .processes
        .iter()
        .filter_map(|p| p.handle_count.map(u64::from))
        .collect();
    let med = median(handles.clone());
    for p in &s.processes {
        let Some(h) = p.handle_count.map(u64::from) else {
            continue;
        };
        if h >= 10_000 && h >= 10 * med.max(1) {
            let mut f = finding(
                "handle-leak",
                format!(
                    "Process {} (pid {}) holds {h} handles, {}x the median of {} processes ({med})",
                    p.image,
                    pid_hex(p.pid),
                    h / med.max(1),
                    handles.len()
                ),
                0.45,
                vec![Evidence {
                    time_raw: None,
                    source: entry_source(s, &p.source, p.line),
                    line: Some(p.line),
                    time: None,
                    message: format!(
                        "PROCESS {:x} Cid: {:04x} HandleCount: {h}",
                        p.address, p.pid
                    ),
                }],
            );
            f.pid = Some(p.pid);
            out.push(f);
        }
    }
    let mut per_pid: HashMap<u32, u64> = HashMap::new();
    for t in &s.threads {
        *per_pid.entry(t.pid).or_default() += 1;
    }
    handle_tables(s, &per_pid, &mut out);
    let med = median(per_pid.values().copied().collect());
    for (&pid, &n) in &per_pid {
        if n >= 500 && n >= 10 * med.max(1) {
            let mut f = finding(
                "thread-count",
                format!(
                    "Process pid {} has {n} threads, {}x the median ({med})",
                    pid_hex(pid),
                    n / med.max(1)
                ),
                0.4,
                Vec::new(),
            );
            f.pid = Some(pid);
            out.push(f);
        }
    }

    // Blocked process exit (seeds: ServiceA's DllB!Cleanup under ExitProcess;
    // terminating ApplicationD.exe instances with one thread left in ModuleE).
    let longest_chain_wait = chains
        .iter()
        .flat_map(|c| c.members.iter())
        .filter_map(|&m| s.threads[m].wait_ns)
        .max();
    let mut exits: std::collections::BTreeMap<String, Vec<usize>> = Default::default();
    for (i, t) in s.threads.iter().enumerate() {
        if matches!(t.state, ThreadState::Wait { .. }) && in_exit(t) {
            let key = format!(
                "{}|{}",
                t.image.as_deref().unwrap_or(dumptrace_dump::NO_IMAGE),
                location(t).unwrap_or("?")
            );
            exits.entry(key).or_default().push(i);
        }
    }
    for (key, idx) in exits {
        let (image, loc) = key.split_once('|').unwrap_or((&key, "?"));
        let Some(&first) = idx
            .iter()
            .max_by_key(|&&i| s.threads[i].wait_ns.unwrap_or(0))
        else {
            continue;
        };
        let t = &s.threads[first];
        let before_all = match (t.wait_ns, longest_chain_wait) {
            (Some(w), Some(c)) => w > c,
            _ => false,
        };
        let left: Vec<usize> = idx
            .iter()
            .map(|&i| per_pid.get(&s.threads[i].pid).copied().unwrap_or(0) as usize)
            .collect();
        let mut summary = format!(
            "{} {} of {image} {} stuck in process exit in {loc}; the longest has waited {} (thread {}, {} thread{} left in its process)",
            idx.len(),
            if idx.len() == 1 { "instance" } else { "instances" },
            if idx.len() == 1 { "is" } else { "are" },
            t.wait_seconds().map(human_duration).unwrap_or("?".into()),
            t.cid(),
            left.first().copied().unwrap_or(0),
            if left.first().copied().unwrap_or(0) == 1 { "" } else { "s" }
        );
        if before_all {
            summary.push_str(&format!(
                "; it blocked before every thread of the wait chains (their longest wait: {})",
                longest_chain_wait
                    .map(|c| human_duration(c as f64 / 1e9))
                    .unwrap_or_default()
            ));
        }
        let mut f = finding(
            "blocked-exit",
            summary,
            if before_all { 0.8 } else { 0.5 },
            idx.iter()
                .take(4)
                .map(|&i| thread_evidence(&s.threads[i]))
                .collect(),
        );
        f.pid = Some(t.pid);
        f.tid = Some(t.tid);
        out.push(f);
    }

    // A thread waiting with an IRP pending in a driver (seed "10 Common Mistakes
    // (Part 8)": ProcessB's thread with IRP 893a7470 pending in \Driver\DriverB
    // had waited 14 h, longer than the mutant owner everyone looked at first).
    let pending: HashMap<u64, &str> = s
        .irps
        .iter()
        .filter(|i| i.pending)
        .filter_map(|i| Some((i.address, i.driver.as_deref()?)))
        .collect();
    for t in &s.threads {
        if !matches!(t.state, ThreadState::Wait { .. }) {
            continue;
        }
        let Some((irp, driver)) = t.irps.iter().find_map(|a| pending.get(a).map(|d| (*a, *d)))
        else {
            continue;
        };
        let before_all = match (t.wait_ns, longest_chain_wait) {
            (Some(w), Some(c)) => w > c,
            _ => false,
        };
        let mut f = finding(
            "pending-irp",
            format!(
                "Thread {} ({}) has waited {} with IRP 0x{irp:08x} pending in {driver}{}",
                t.cid(),
                t.image.as_deref().unwrap_or(dumptrace_dump::NO_IMAGE),
                t.wait_seconds().map(human_duration).unwrap_or("?".into()),
                if before_all {
                    format!(
                        "; it blocked before every thread of the wait chains (their longest wait: {})",
                        longest_chain_wait.map(|c| human_duration(c as f64 / 1e9)).unwrap_or_default()
                    )
                } else {
                    String::new()
                }
            ),
            if before_all { 0.75 } else { 0.45 },
            vec![thread_evidence(t)],
        );
        f.pid = Some(t.pid);
        f.tid = Some(t.tid);
        out.push(f);
    }

    // Truncated dump (seeds: "Truncated dump" pattern; the kernel header says so).
    for n in s.notes.iter().filter(|n| n.starts_with("truncated dump")) {
        out.push(finding(
            "truncated-dump",
            format!("The dump file is truncated: {n}"),
            0.45,
            Vec::new(),
        ));
    }

    // Inconsistent dump: what the snapshot noted.
    let inconsistent: Vec<&String> = s
        .notes
        .iter()
        .filter(|n| n.contains("inconsistent"))
        .collect();
    if !inconsistent.is_empty() {
        out.push(finding(
            "inconsistent-dump",
            format!(
                "The dump is inconsistent (typical of live or external dumpers); weigh wait times with care: {}",
                inconsistent.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("; ")
            ),
            0.3,
            Vec::new(),
        ));
    }
    out
}

/// Handles of one type that a process holds this many of are a leak, not a working set.
const LEAKED_OF_A_TYPE: u64 = 1000;

/// Handle leaks seen in `!handle` output (user-mode dumps print no PROCESS
/// `HandleCount`). A program that starts threads or opens processes and never
/// closes the handle `CreateThread`/`OpenProcess` returned keeps every one: the
/// `!handle 0 0` summary then shows `Thread 1129` in a process of 6 threads
/// (fixtures/readers/handle-summary-thread-leak.log), or thousands of `Process`
/// handles (seed "Crash Dump Analysis Patterns (Part 13b)": 8459 to one process).
/// A table of 10,000 handles or more is a leak whatever their types, as for
/// `HandleCount`. A process already found by its `HandleCount` is not named twice.
fn handle_tables(s: &DumpSnapshot, threads: &HashMap<u32, u64>, out: &mut Vec<Finding>) {
    for t in s.handle_tables.iter().filter(|t| !t.kernel) {
        let Some(pid) = t.pid else { continue };
        if out
            .iter()
            .any(|f| f.kind == "handle-leak" && f.pid == Some(pid))
        {
            continue;
        }
        let own = threads.get(&pid).copied().unwrap_or(0);
        let worst = t
            .by_type
            .iter()
            .filter(|(kind, n)| match kind.as_str() {
                // Handles to its own live threads are normal; ten times more are not.
                "Thread" => *n >= LEAKED_OF_A_TYPE && *n >= 10 * own,
                "Process" => *n >= LEAKED_OF_A_TYPE,
                _ => false,
            })
            .max_by_key(|(_, n)| *n);
        let image = s
            .processes
            .iter()
            .find(|p| p.pid == pid)
            .map(|p| p.image.as_str())
            .or_else(|| {
                s.threads
                    .iter()
                    .find(|th| th.pid == pid)
                    .and_then(|th| th.image.as_deref())
            })
            .map_or(String::new(), |i| format!("{i} "));
        let total = t.entries.unwrap_or(0);
        let in_all = t
            .entries
            .map_or(String::new(), |e| format!(" ({e} handles in all)"));
        let (summary, message) = match worst {
            Some((kind, n)) => {
                let why = if kind == "Thread" {
                    format!(
                        ", for {own} threads of its own in the dump: handles of exited threads are not closed"
                    )
                } else {
                    ": process handles are opened and not closed".to_string()
                };
                (
                    format!(
                        "Process {image}(pid {}) holds {n} {kind} handles{why}{in_all}",
                        pid_hex(pid)
                    ),
                    format!("!handle summary: {kind} {n}{in_all}"),
                )
            }
            None if total >= 10_000 => (
                format!(
                    "Process {image}(pid {}) holds {total} handles in its handle table",
                    pid_hex(pid)
                ),
                format!("!handle: {total} handles in use"),
            ),
            None => continue,
        };
        let mut f = finding(
            "handle-leak",
            summary,
            0.45,
            vec![Evidence {
                time_raw: None,
                source: entry_source(s, &t.source, t.line),
                line: Some(t.line),
                time: None,
                message,
            }],
        );
        f.pid = Some(pid);
        out.push(f);
    }
}

#[cfg(test)]
mod tests {
    use super::cpu_seconds;

    #[test]
    fn cpu_times() {
        assert_eq!(cpu_seconds("00:01:04.515"), Some(64.515));
        assert_eq!(
            cpu_seconds("4 Days 08:57:56.171"),
            Some(4.0 * 86400.0 + 8.0 * 3600.0 + 57.0 * 60.0 + 56.171)
        );
    }
}
