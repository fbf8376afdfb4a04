//! A synthetic incident at any size, the same for every run of a seed: N
//! threads in processes of 100, one process in four holding a critical section
//! that 50 of its threads wait on (the owner sleeping, as in cs-periodic-error),
//! and M trace events over the hour before the dump, in time order (the
//! chains' waiters stop logging at their wait start, each owner logs a
//! periodic error).

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, Utc};
use dumptrace_dump::{
    CriticalSection, DumpSnapshot, Frame, Process, SessionTime, Thread, ThreadState,
};
use dumptrace_trace::schema;
use polars::prelude::*;

use crate::Rng;

const TICK_NS: u64 = 15_625_000;
const THREADS_PER_PROCESS: u32 = 100;
const WAITERS_PER_CHAIN: u32 = 50;
/// One process in this many holds a contended critical section.
const CHAIN_EVERY: u32 = 4;

fn frame(symbol: &str, args: Vec<u64>) -> Frame {
    Frame {
        frame: 0x1020_e900,
        ret: 0x7c90_e514,
        args: args.into(),
        symbol: symbol.into(),
    }
}

/// The dump side of the incident.
pub struct World {
    pub snapshot: DumpSnapshot,
    /// (pid, tid, wait start ns or None, is owner)
    pub roles: Vec<(u32, u32, Option<i64>, bool)>,
    pub dump_ns: i64,
}

/// `threads` threads; the dump is taken 2009-10-09 14:08:21.713 UTC (10:08 at UTC-4).
pub fn world(threads: u32, rng: &mut Rng) -> World {
    let dump: DateTime<Utc> = DateTime::from_naive_utc_and_offset(
        NaiveDate::from_ymd_opt(2009, 10, 9)
            .and_then(|d| d.and_hms_milli_opt(14, 8, 21, 713))
            .expect("valid date"),
        Utc,
    );
    let mut s = DumpSnapshot {
        session_time: Some(SessionTime {
            raw: "Fri Oct  9 10:08:21.713 2009 (UTC - 4:00)".into(),
            local: dump.naive_utc() - Duration::hours(4),
            offset: FixedOffset::west_opt(4 * 3600),
            utc: Some(dump),
        }),
        tick_ns: TICK_NS,
        ..Default::default()
    };
    let mut roles = Vec::with_capacity(threads as usize);
    let procs = threads.div_ceil(THREADS_PER_PROCESS);
    let mut addr = 0x8000_0000u64;
    for p in 0..procs {
        let pid = 0x100 + p * 4;
        let image = format!("Process{p}.exe");
        s.processes.push(Process {
            address: 0x8700_0000 + u64::from(p) * 0x1000,
            pid,
            parent_pid: None,
            session_id: Some(0),
            image: image.clone(),
            handle_count: Some(200),
            elapsed_time: None,
            user_time: None,
            kernel_time: None,
            line: 0,
            source: String::new(),
        });
        let chain = p % CHAIN_EVERY == 0;
        let cs = 0x0032_be30 + u64::from(p) * 0x100;
        let n = THREADS_PER_PROCESS.min(threads - p * THREADS_PER_PROCESS);
        for k in 0..n {
            let tid = 0x1000 + k * 4;
            addr += 0x400;
            let owner = chain && k == 0;
            let waiter = chain && (1..=WAITERS_PER_CHAIN).contains(&k);
            let ticks = if owner {
                442
            } else if waiter {
                rng.range(100, 12_000)
            } else {
                rng.range(1_000, 2_000_000)
            };
            let state = ThreadState::Wait {
                reason: if owner {
                    "DelayExecution"
                } else {
                    "UserRequest"
                }
                .into(),
                mode: "UserMode".into(),
                alertable: false,
            };
            let source = format!("synthetic.log:{}", roles.len() + 1);
            let mut t = Thread::new(addr, pid, tid, state, source, 0);
            t.image = Some(image.as_str().into());
            t.ticks = Some(ticks);
            t.wait_ns = Some(ticks * TICK_NS);
            t.wait_start = Some(dump - Duration::nanoseconds((ticks * TICK_NS) as i64));
            t.stack = if owner {
                vec![
                    frame("kernel32!SleepEx+0x68", vec![0x1b00, 0, 0]),
                    frame("kernel32!Sleep+0xf", vec![0x1b00, 0, 0]),
                    frame("ComponentA!DB_Driver_Command+0xa7", vec![]),
                ]
            } else if waiter {
                vec![
                    frame("ntdll!RtlpWaitForCriticalSection+0x132", vec![cs, 0, 0]),
                    frame("ntdll!RtlEnterCriticalSection+0x46", vec![cs, 0, 0]),
                    frame("ComponentB!DatabaseSearch+0x1b", vec![]),
                ]
            } else {
                vec![frame("ntdll!ZwWaitForSingleObject+0xc", vec![])]
            };
            let ws = t.wait_start.and_then(|w| w.timestamp_nanos_opt());
            roles.push((pid, tid, if owner || waiter { ws } else { None }, owner));
            if owner {
                s.critical_sections.push(CriticalSection {
                    address: cs,
                    symbol: None,
                    locked: true,
                    lock_count: Some(i64::from(WAITERS_PER_CHAIN)),
                    recursion_count: Some(1),
                    owning_tid: Some(tid),
                    owning_thread: Some(addr),
                    contention_count: None,
                    lock_semaphore: None,
                    waiter_woken: None,
                    process_address: None,
                    pid: Some(pid),
                    line: 0,
                    source: String::new(),
                });
            }
            s.threads.push(t);
        }
    }
    World {
        snapshot: s,
        roles,
        dump_ns: dump.timestamp_nanos_opt().unwrap_or(0),
    }
}

/// `events` events over the hour before the dump, in time order. Blocked chain members
/// stop at their wait start; owners log an error every ~6.95 s.
pub fn trace(w: &World, events: u64, rng: &mut Rng) -> PolarsResult<DataFrame> {
    let start = w.dump_ns - 3_600_000_000_000;
    let step = (3_600_000_000_000 / events.max(1)) as i64;
    let n = events as usize;
    let mut time = Vec::with_capacity(n);
    let mut pid = Vec::with_capacity(n);
    let mut tid = Vec::with_capacity(n);
    let mut msg: Vec<String> = Vec::with_capacity(n);
    let owners: Vec<&(u32, u32, Option<i64>, bool)> = w.roles.iter().filter(|r| r.3).collect();
    let mut next_error: Vec<i64> = owners
        .iter()
        .map(|r| r.2.unwrap_or(0) - 43 * 6_950_000_000)
        .collect();
    let mut t = start;
    for i in 0..n {
        t += step;
        // Owners' periodic errors, interleaved in time order.
        if let Some((k, due)) = next_error.iter().enumerate().find(|(_, &d)| d <= t) {
            let _ = due;
            let o = owners[k];
            if t <= o.2.unwrap_or(i64::MAX) {
                time.push(t);
                pid.push(o.0);
                tid.push(o.1);
                msg.push("Error: [DB Driver] Not enough space on temp disk".into());
                next_error[k] += 6_950_000_000 + rng.range(0, 40_000_000) as i64;
                continue;
            }
            next_error[k] = i64::MAX;
        }
        let r = rng.pick(&w.roles);
        if r.2.is_some_and(|ws| t > ws) {
            continue; // blocked: it does not log any more
        }
        time.push(t);
        pid.push(r.0);
        tid.push(r.1);
        msg.push(format!(
            "Request 0x{:08x} completed in {} ms",
            i,
            rng.range(1, 40)
        ));
    }
    let rows = time.len();
    let time = Int64Chunked::from_vec(schema::TIME.into(), time)
        .into_datetime(TimeUnit::Nanoseconds, Some(TimeZone::UTC));
    let line: Vec<u64> = (1..=rows as u64).collect();
    DataFrame::new_infer_height(vec![
        time.into_column(),
        UInt32Chunked::from_vec(schema::PID.into(), pid).into_column(),
        UInt32Chunked::from_vec(schema::TID.into(), tid).into_column(),
        StringChunked::from_iter_values(schema::MESSAGE.into(), msg.iter().map(String::as_str))
            .into_column(),
        UInt64Chunked::from_vec(schema::INPUT_LINE.into(), line).into_column(),
    ])
}
