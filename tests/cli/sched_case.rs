//! The scheduler case (fixtures/cases/cs-sched-switches): a critical-section hang whose
//! kernel trace has CSwitch and ReadyThread rows for the owner, the waiters and noise
//! threads on 4 CPUs, on a clock 7.3537 s behind the dump's. The generator below writes
//! both files (the .etl with the project's ETL writer); `committed_files_are_generated`
//! holds the committed copies to it, and `DUMPTRACE_REGEN=1` rewrites them.

use std::fmt::Write as _;

use dumptrace_trace::etl_synth::{
    buffer, compact, logfile_header, system, thread_payload, BufferSpec, Header,
};
use serde_json::Value;

use super::util::{fixture, json};

const CASE: &str = "cases/cs-sched-switches";
const MS: i64 = 1_000_000;
const S: i64 = 1_000 * MS;
const TICK: i64 = 15_625_000;
/// Added to trace times to put them on the dump's clock.
const OFFSET: i64 = 7_353_700_000;
/// Dump time: Tue Mar 12 2024 22:07:44.906 UTC; uptime 3 days 1:22:09.640.
const SESSION_UNIX_MS: i64 = 1_710_281_264_906;
const UPTIME_MS: i64 = 264_129_640;
/// The trace starts 40 s before the dump moment (dump clock).
const TRACE_FROM: i64 = -40 * S;

/// Processes: billing.exe holds the lock and its waiters; svchost.exe the pool threads
/// and the starved one; cruncher.exe the CPU hogs; System the timer thread.
const APP: u32 = 0x2f3c;
const SVC: u32 = 0x03a0;
const HOG: u32 = 0x1e0c;
const SYSTEM: u32 = 4;
/// Threads with a part of their own: the section's owner, the timer thread that wakes
/// it (and the pool), the pool thread left ready while the hogs run.
const OWNER: u32 = 0x2a10;
const TIMER: u32 = 0x005c;
const STARVED: u32 = 0x07a0;
/// An event's consumer and the producer that sets it (the dump names no owner).
const CONSUMER: u32 = 0x2d00;
const PRODUCER: u32 = 0x2d40;
/// billing!g_csLedger.
const CS: u32 = 0x0032_be30;

/// What the generator made, for the tests.
pub struct Truth {
    pub never: Vec<u32>,
    pub slept: Vec<u32>,
}

/// A thread's run on a CPU: switched in at `from`, out at `to` into `reason`.
struct Run {
    tid: u32,
    from: i64,
    to: i64,
    reason: u8,
    /// The readying before the run: (time, readying pid, readying tid).
    ready: Option<(i64, u32, u32)>,
    /// Hand the CPU straight to this run's thread at `to` (no idle in between).
    hand_to: Option<u32>,
}

const DELAY: u8 = 4;
const USER_REQUEST: u8 = 6;
const WR_QUEUE: u8 = 15;

/// The dump-side facts of a blocked thread.
struct Blocked {
    pid: u32,
    tid: u32,
    reason: &'static str,
    wait_start: i64,
    kind: &'static str,
}

fn runs() -> (Vec<Run>, Truth) {
    let mut runs = Vec::new();
    // The owner: a retry loop sleeping 6.9 s, woken by a kernel timer thread.
    let owner_runs: Vec<i64> = (0..6).map(|j| -4_300 * MS - j * 6_900 * MS).collect();
    for &r in &owner_runs {
        runs.push(Run {
            tid: OWNER,
            from: r + 30_000,
            to: r + 12 * MS + 30_000,
            reason: DELAY,
            ready: Some((r, SYSTEM, TIMER)),
            hand_to: None,
        });
    }
    // Waiters never readied: one run, then the wait on the section.
    let never: Vec<u32> = (0..5).map(|j| 0x2b00 + 4 * j).collect();
    let never_at = [-36_400, -29_700, -22_150, -13_800, -6_050];
    for (j, (&tid, &at)) in never.iter().zip(never_at.iter()).enumerate() {
        let out = at * MS + j as i64 * 1_370_000;
        runs.push(Run {
            tid,
            from: out - 2 * MS,
            to: out,
            reason: USER_REQUEST,
            ready: None,
            hand_to: None,
        });
    }
    // Waiters readied by the owner on two of its runs, each time back to the wait.
    let slept: Vec<u32> = (0..5).map(|j| 0x2c00 + 4 * j).collect();
    for (j, &tid) in slept.iter().enumerate() {
        let j = j as i64;
        let first = -34_200 * MS - j * 300 * MS;
        runs.push(Run {
            tid,
            from: first - MS,
            to: first,
            reason: USER_REQUEST,
            ready: None,
            hand_to: None,
        });
        let owner_run = |k: usize| owner_runs[k] + 30_000;
        for k in [if j % 2 == 0 { 3 } else { 2 }, 1] {
            let r = owner_run(k) + 5 * MS + j * 700_000;
            runs.push(Run {
                tid,
                from: r + 200_000,
                to: r + 500_000 + j * 10_000,
                reason: USER_REQUEST,
                ready: Some((r, APP, OWNER)),
                hand_to: None,
            });
        }
    }
    // Pool threads of a service: short runs every ~3.1 s, woken by the timer thread.
    for j in 0..8i64 {
        let tid = 0x0700 + 4 * j as u32;
        let mut r = -39 * S + j * 377 * MS;
        while r < -1_500 * MS {
            // Keep out of the window where the hogs hold every CPU.
            if !(-20_200 * MS..-19_500 * MS).contains(&r) {
                runs.push(Run {
                    tid,
                    from: r + 40_000,
                    to: r + 40_000 + (3 + j) * 100_000,
                    reason: WR_QUEUE,
                    ready: Some((r, SYSTEM, TIMER)),
                    hand_to: None,
                });
            }
            r += 3_100 * MS + j * 13 * MS;
        }
    }
    // A consumer waiting on an event (no owner in any dump), set by the same producer
    // each time: the producer is readied by the timer thread and readies the consumer.
    for (k, at) in [-33_700, -27_300, -21_100, -15_800, -9_000]
        .iter()
        .enumerate()
    {
        let r = at * MS;
        runs.push(Run {
            tid: PRODUCER,
            from: r + 40_000,
            to: r + 2 * MS,
            reason: WR_QUEUE,
            ready: Some((r, SYSTEM, TIMER)),
            hand_to: None,
        });
        // Its first run has no readying: what woke it came before the trace.
        let ready = (k > 0).then_some((r + MS, APP, PRODUCER));
        runs.push(Run {
            tid: CONSUMER,
            from: r + MS + 150_000,
            to: r + MS + 900_000,
            reason: USER_REQUEST,
            ready,
            hand_to: None,
        });
    }
    // Four hogs take every CPU for 550 ms; a pool thread readied meanwhile starves.
    for j in 0..4u32 {
        runs.push(Run {
            tid: 0x1f00 + 4 * j,
            from: -20_100 * MS,
            to: -19_550 * MS + i64::from(j) * MS,
            reason: WR_QUEUE,
            ready: None,
            hand_to: (j == 0).then_some(STARVED),
        });
    }
    runs.push(Run {
        tid: STARVED,
        from: -19_550 * MS,
        to: -19_549 * MS,
        reason: WR_QUEUE,
        ready: Some((-20_000 * MS, HOG, 0x1f00)),
        hand_to: None,
    });
    (runs, Truth { never, slept })
}

fn pid_of(tid: u32) -> u32 {
    match tid {
        TIMER => SYSTEM,
        0x0700..=0x07ff => SVC,
        0x1f00..=0x1fff => HOG,
        _ => APP,
    }
}

/// The .etl: thread starts, then per CPU its switches and readyings.
pub fn etl() -> Vec<u8> {
    etl_with(false)
}

/// With `bad`, the trace contradicts itself three ways: the last readying of 2f3c.2c00 is
/// missing, a pool thread's switch-in is logged twice, and CPU 3 ends with a record
/// earlier than the ones before it.
fn etl_with(bad: bool) -> Vec<u8> {
    let (mut runs, _) = runs();
    runs.sort_by_key(|r| r.from);
    let h = Header {
        cpus: 4,
        start_time: filetime(SESSION_UNIX_MS * MS + TRACE_FROM - OFFSET),
        bias_minutes: 420,
        ..Header::default()
    };
    let ts = |rel: i64| h.anchor + (rel - TRACE_FROM) / 100;
    let mut cpu: [Vec<(i64, Vec<u8>)>; 4] = Default::default();
    let mut busy = [i64::MIN; 4];
    let mut tids: Vec<u32> = runs.iter().map(|r| r.tid).collect();
    tids.push(TIMER);
    tids.sort_unstable();
    tids.dedup();
    for (i, &tid) in tids.iter().enumerate() {
        let at = TRACE_FROM + i as i64 * 1_000;
        cpu[0].push((
            at,
            system(
                true,
                0x05,
                1,
                3,
                pid_of(tid),
                tid,
                ts(at),
                &thread_payload(pid_of(tid), tid),
            ),
        ));
    }
    let handed: Vec<u32> = runs.iter().filter_map(|r| r.hand_to).collect();
    let mut handoff: Vec<(u32, usize)> = Vec::new();
    for r in &runs {
        let c = match handoff.iter().position(|&(t, _)| t == r.tid) {
            Some(i) => handoff.remove(i).1,
            None => (0..4)
                .find(|&c| busy[c] <= r.from)
                .expect("a free CPU in the generated schedule"),
        };
        let dropped = bad && r.tid == 0x2c00 && r.ready.is_some_and(|x| x.0 > -12 * S);
        if let Some((t, pid, by)) = r.ready.filter(|_| !dropped) {
            let mut p = r.tid.to_le_bytes().to_vec();
            p.extend_from_slice(&[1, 0, 0, 0]);
            cpu[c].push((t, compact(true, 0x05, 50, 2, pid, by, ts(t), &p)));
        }
        if !handed.contains(&r.tid) {
            let p = dumptrace_trace::etl_synth::cswitch_payload(r.tid, 0, 0, 1);
            cpu[c].push((r.from, compact(true, 0x05, 36, 2, 0, 0, ts(r.from), &p)));
            if bad && r.tid == 0x0704 && (-30 * S..-27 * S).contains(&r.from) {
                cpu[c].push((
                    r.from + 1,
                    compact(true, 0x05, 36, 2, 0, 0, ts(r.from + 1), &p),
                ));
            }
        }
        let next = r.hand_to.unwrap_or(0);
        let p = dumptrace_trace::etl_synth::cswitch_payload(next, r.tid, r.reason, 5);
        cpu[c].push((r.to, compact(true, 0x05, 36, 2, 0, 0, ts(r.to), &p)));
        busy[c] = r.to;
        if let Some(t) = r.hand_to {
            handoff.push((t, c));
        }
    }
    let mut file = buffer(&BufferSpec::header(1024), &[logfile_header(&h)]);
    let mut seq = 1;
    for (c, recs) in cpu.iter_mut().enumerate() {
        recs.sort_by_key(|r| r.0);
        if bad && c == 3 {
            // Idle to idle: changes no thread, only goes back in time.
            let p = dumptrace_trace::etl_synth::cswitch_payload(0, 0, 0, 1);
            let at = -30 * S;
            recs.push((at, compact(true, 0x05, 36, 2, 0, 0, ts(at), &p)));
        }
        for chunk in recs.chunks(60) {
            let rs: Vec<Vec<u8>> = chunk.iter().map(|r| r.1.clone()).collect();
            file.extend(buffer(&BufferSpec::new(c as u16, seq), &rs));
            seq += 1;
        }
    }
    file
}

fn filetime(unix_ns: i64) -> u64 {
    ((unix_ns / 100) + 116_444_736_000_000_000) as u64
}

/// `d:hh:mm:ss.fff` of `ticks`, truncated to ms as WinDbg prints it.
fn tick_text(ticks: i64) -> String {
    let ms = ticks * TICK / MS;
    let (d, rest) = (ms / 86_400_000, ms % 86_400_000);
    let (h, rest) = (rest / 3_600_000, rest % 3_600_000);
    let (m, rest) = (rest / 60_000, rest % 60_000);
    format!("{d}:{h:02}:{m:02}:{:02}.{:03}", rest / 1000, rest % 1000)
}

fn blocked() -> Vec<Blocked> {
    let (runs, truth) = runs();
    let mut last: std::collections::BTreeMap<u32, (i64, u8)> = Default::default();
    for r in &runs {
        let e = last.entry(r.tid).or_insert((i64::MIN, 0));
        if r.to > e.0 {
            *e = (r.to, r.reason);
        }
    }
    last.into_iter()
        .map(|(tid, (t, reason))| Blocked {
            pid: pid_of(tid),
            tid,
            reason: match reason {
                DELAY => "DelayExecution",
                USER_REQUEST => "UserRequest",
                _ => "WrQueue",
            },
            wait_start: t,
            kind: if tid == OWNER {
                "owner"
            } else if tid == CONSUMER {
                "consumer"
            } else if truth.never.contains(&tid) || truth.slept.contains(&tid) {
                "waiter"
            } else {
                "pool"
            },
        })
        .collect()
}

/// The dump log: `!process 0 ff` of the three processes and `!cs -l -o -s`.
pub fn memory_log() -> String {
    let cur_tick = UPTIME_MS * MS / TICK;
    let mut o = String::new();
    o.push_str(
        "Microsoft (R) Windows Debugger Version 10.0.25921.1001 AMD64\n\
         Copyright (c) Microsoft Corporation. All rights reserved.\n\n\
         Loading Dump File [D:\\cases\\billing-host\\MEMORY.DMP]\n\
         Kernel Complete Dump File: Full address space is available\n\n\
         0: kd> vertarget\n\
         Windows Server 2003 Kernel Version 3790 (Service Pack 2) MP (4 procs) Free x86 compatible\n\
         Product: Server, suite: Enterprise TerminalServer SingleUserTS\n\
         Built by: 3790.srv03_sp2_gdr.090319-1204\n\
         Debug session time: Tue Mar 12 15:07:44.906 2024 (UTC - 7:00)\n\
         System Uptime: 3 days 1:22:09.640\n\n\
         0: kd> !process 0 ff\n\
         **** NT ACTIVE PROCESS DUMP ****\n",
    );
    let procs = [
        (SYSTEM, 0x8a4c_9020u32, "System"),
        (SVC, 0x8801_f3a0, "svchost.exe"),
        (HOG, 0x8624_1020, "cruncher.exe"),
        (APP, 0x87f7_6020, "billing.exe"),
    ];
    let threads = blocked();
    for (pid, addr, image) in procs {
        let _ = writeln!(
            o,
            "PROCESS {addr:08x}  SessionId: 0  Cid: {pid:04x}    Peb: 7ffdf000  ParentCid: 0250\n    \
             DirBase: 295b4000  ObjectTable: e59cf140  HandleCount: 114.\n    Image: {image}\n"
        );
        for (i, b) in threads.iter().filter(|b| b.pid == pid).enumerate() {
            let taddr = addr.wrapping_sub(0x10_0000) + (b.tid << 8);
            let alert = if b.reason == "WrQueue" {
                "Alertable"
            } else {
                "Non-Alertable"
            };
            let object = match b.kind {
                "owner" => format!("{:08x}  NotificationTimer", taddr + 0x78),
                "waiter" => "8633a5e8  SynchronizationEvent".to_string(),
                "consumer" => "8633b010  SynchronizationEvent".to_string(),
                _ => format!("{:08x}  QueueObject", 0x8650_0000u32 + i as u32 * 0x40),
            };
            // The tick the wait began in: the generator's times are on the dump clock.
            let ws_tick = (UPTIME_MS * MS + b.wait_start).div_euclid(TICK);
            let ticks = cur_tick - ws_tick;
            let _ = writeln!(
                o,
                "        THREAD {taddr:08x}  Cid {:04x}.{:04x}  Teb: 7ffb7000 Win32Thread: 00000000 WAIT: ({}) UserMode {alert}\n            \
                 {object}\n        Not impersonating\n        DeviceMap                 e1003170\n        \
                 Owning Process            {addr:08x}       Image:         {image}\n        \
                 Attached Process          N/A            Image:         N/A\n        \
                 Wait Start TickCount      {ws_tick}       Ticks: {ticks} ({})\n        \
                 Context Switch Count      1720            \n        UserTime                  00:00:00.546\n        \
                 KernelTime                00:00:01.000\n        Win32 Start Address {image}!worker (0x0040{:04x})\n        \
                 Start Address kernel32!BaseThreadStartThunk (0x77e617ec)\n        \
                 Stack Init ae7f9000 Current ae7f8c80 Base ae7f9000 Limit ae7f6000 Call 0\n        \
                 Priority 8 BasePriority 8 PriorityDecrement 0\n        ChildEBP RetAddr  Args to Child             \n        \
                 ae7f8c98 8083d5b1 86396e20 {taddr:08x} 8083cf69 nt!KiSwapContext+0x26\n        \
                 ae7f8cc4 8083cf69 {taddr:08x} 86396e58 00000000 nt!KiSwapThread+0x2e5",
                b.pid,
                b.tid,
                b.reason,
                tick_text(ticks),
                b.tid,
            );
            let frames = match b.kind {
                "owner" => "        ae7f8d0c 8092b03f 00000001 00000000 ae7f8d2c nt!KeDelayExecutionThread+0x2ab\n        \
                            1020e918 77e424fd 00001b00 00000000 1020e944 kernel32!SleepEx+0x68\n        \
                            1020e928 67739357 00001af4 00000000 0032ac6c kernel32!Sleep+0xf\n        \
                            1020e944 6773c3a2 0032ac6c 0a3f5e08 00000000 billing!Db_Retry+0xa7\n        \
                            1020ec64 67485393 0a3e1f40 1020ecb8 00000000 billing!Ledger_Post+0x34\n"
                    .to_string(),
                "waiter" => format!(
                    "        ad8cdcf0 80842258 87748918 00000010 00000001 nt!KeWaitForSingleObject+0x346\n        \
                     0fb7fcc0 674ab750 {CS:08x} 67485393 00000000 ntdll!RtlEnterCriticalSection+0x46\n        \
                     0fb7fcdc 67485393 00000dd4 00000001 00000000 billing!Ledger_Read+0x1b\n"
                ),
                "consumer" => "        ad8cdcf0 80842258 87748918 00000010 00000001 nt!KeWaitForSingleObject+0x346\n        \
                               0fb7fcc0 674ab750 00000120 ffffffff 00000000 kernel32!WaitForSingleObject+0x12\n        \
                               0fb7fcdc 67485393 00000dd4 00000001 00000000 billing!Queue_Take+0x2b\n"
                    .to_string(),
                _ => "        ad8cdcf0 80842258 87748918 00000010 00000001 nt!KeRemoveQueue+0x346\n        \
                      027dfc9c 77c574e9 008140f0 027dfde4 0080dbd8 ntdll!TppWorkerThread+0x12a\n"
                    .to_string(),
            };
            o.push_str(&frames);
            o.push('\n');
        }
    }
    let owner_addr = 0x87f7_6020u32.wrapping_sub(0x10_0000) + (OWNER << 8);
    let _ = write!(
        o,
        "0: kd> .process /r /p 87f76020\nImplicit process is now 87f76020\n\
         0: kd> !cs -l -o -s\n-----------------------------------------\n\
         DebugInfo          = 0x0016c6d8\nCritical section   = 0x{CS:08x} (billing!g_csLedger+0x0)\n\
         LOCKED\nLockCount          = 0xa\nWaiterWoken        = No\nOwningThread       = 0x{OWNER:08x}\n\
         RecursionCount     = 0x1\nLockSemaphore      = 0x624\nSpinCount          = 0x00000000\n\
         OwningThread       = .thread {owner_addr:08x}\n\
         ntdll!RtlpStackTraceDataBase is NULL. Probably the stack traces are not enabled.\n\n\
         0: kd> q\nquit:\n"
    );
    o
}

#[test]
fn committed_files_are_generated() {
    let dir = fixture(CASE);
    if std::env::var_os("DUMPTRACE_REGEN").is_some() {
        std::fs::create_dir_all(&dir).expect("case folder");
        std::fs::write(dir.join("memory.log"), memory_log()).expect("memory.log");
        std::fs::write(dir.join("kernel.etl"), etl()).expect("kernel.etl");
    }
    assert!(
        std::fs::read(dir.join("memory.log")).expect("memory.log") == memory_log().into_bytes()
    );
    assert!(std::fs::read(dir.join("kernel.etl")).expect("kernel.etl") == etl());
}

fn analysis() -> Value {
    json(&["analyze", "--json", fixture(CASE).to_str().expect("path")])
}

fn of_kind<'a>(a: &'a Value, kind: &str) -> Vec<&'a Value> {
    a["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["kind"] == kind)
        .collect()
}

/// The summary of the one finding of `kind`, which is about thread `tid`.
fn only_summary<'a>(a: &'a Value, kind: &str, tid: u32) -> &'a str {
    let f = of_kind(a, kind);
    assert_eq!(f.len(), 1, "{a:#}");
    assert_eq!(f[0]["tid"], tid);
    f[0]["summary"].as_str().expect("summary")
}

#[test]
fn offset_is_recovered_from_switch_outs() {
    let a = analysis();
    let al = &a["alignment"];
    let off = al["offset_seconds"].as_f64().expect("offset");
    assert!(
        (off * 1e9 - OFFSET as f64).abs() <= 2e6,
        "offset {off} s, truth {} s: {al}",
        OFFSET as f64 / 1e9
    );
    assert!(
        al["method"]
            .as_str()
            .expect("method")
            .starts_with("estimated from switch-outs"),
        "{al}"
    );
    let n = blocked().len() as u64;
    assert_eq!(al["switch_outs"]["samples"], n, "{al}");
    assert_eq!(al["switch_outs"]["agree"], n, "{al}");
}

#[test]
fn root_last_run_names_the_readying_thread() {
    let a = analysis();
    let f = of_kind(&a, "root-last-run");
    assert_eq!(f.len(), 1, "{a:#}");
    let s = f[0]["summary"].as_str().expect("summary");
    assert!(
        s.starts_with(&format!("Chain root {APP:04x}.{OWNER:04x} last ran")),
        "{s}"
    );
    assert!(s.contains("DelayExecution"), "{s}");
    assert!(
        s.contains(&format!("ended by thread {SYSTEM:x}.{TIMER:x}")),
        "{s}"
    );
    assert!(s.contains("one every 6.900 s"), "{s}");
    let ev = f[0]["evidence"].as_array().expect("evidence");
    assert!(
        ev.iter().all(|e| e["source"]
            .as_str()
            .is_some_and(|s| s.contains("kernel.etl@"))),
        "{ev:?}"
    );
}

#[test]
fn every_waiter_is_classified() {
    let a = analysis();
    let truth = runs().1;
    let listed = |kind: &str| -> Vec<String> {
        let f = of_kind(&a, kind);
        assert_eq!(f.len(), 1, "{kind}: {a:#}");
        let s = f[0]["summary"].as_str().expect("summary");
        let list = s.rsplit(": ").next().expect("list");
        let mut v: Vec<String> = list.split(", ").map(str::to_string).collect();
        v.sort();
        v
    };
    let cids = |tids: &[u32]| -> Vec<String> {
        let mut v: Vec<String> = tids.iter().map(|t| format!("{APP:04x}.{t:04x}")).collect();
        v.sort();
        v
    };
    assert_eq!(listed("waiters-never-readied"), cids(&truth.never));
    assert_eq!(listed("waiters-readied-and-slept"), cids(&truth.slept));
}

#[test]
fn the_starved_thread_is_found() {
    let a = analysis();
    let s = only_summary(&a, "ready-starved", STARVED);
    assert!(s.contains("ready for 0.450 s"), "{s}");
    assert!(
        s.contains(&format!("readied by thread {HOG:x}.1f00")),
        "{s}"
    );
    assert!(
        a["notes"]
            .as_array()
            .expect("notes")
            .iter()
            .all(|n| !n.as_str().unwrap_or("").starts_with("scheduler model")),
        "{:#}",
        a["notes"]
    );
}

#[test]
fn contradicting_rows_are_counted_and_change_no_conclusion() {
    let dir = super::util::scratch("sched-bad");
    std::fs::write(dir.join("memory.log"), memory_log()).expect("memory.log");
    std::fs::write(dir.join("kernel.etl"), etl_with(true)).expect("kernel.etl");
    let a = json(&["analyze", "--json", dir.to_str().expect("path")]);
    let notes: Vec<&str> = a["notes"]
        .as_array()
        .expect("notes")
        .iter()
        .filter_map(Value::as_str)
        .filter(|n| n.starts_with("scheduler model"))
        .collect();
    let has = |what: &str| {
        notes
            .iter()
            .any(|n| n.starts_with(&format!("scheduler model: 1 {what}")))
    };
    assert!(has("switch-in(s) of a thread already running"), "{notes:?}");
    assert!(
        has("switch-in(s) from a wait with no ReadyThread"),
        "{notes:?}"
    );
    assert!(has("scheduler event(s) earlier"), "{notes:?}");
    let off = a["alignment"]["offset_seconds"].as_f64().expect("offset");
    assert!((off * 1e9 - OFFSET as f64).abs() <= 2e6, "{off}");
    // 2c00 ran after its wait began though its readying is missing: still woken.
    let slept = of_kind(&a, "waiters-readied-and-slept");
    assert_eq!(slept.len(), 1, "{a:#}");
    assert!(slept[0]["summary"]
        .as_str()
        .expect("summary")
        .contains("2f3c.2c00"));
    assert!(slept[0]["confidence"].as_f64().expect("confidence") < 0.7);
}

#[test]
fn the_probable_signaler_of_an_event_wait_is_inferred() {
    let a = analysis();
    let s = only_summary(&a, "probable-signaler", CONSUMER);
    assert!(s.starts_with("Inferred"), "{s}");
    assert!(
        s.contains(&format!(
            "thread {APP:04x}.{PRODUCER:04x} (billing.exe) (4 of 4)"
        )),
        "{s}"
    );
}
