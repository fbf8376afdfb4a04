//! Turning what the reader collected into a consistent snapshot: one entry per
//! thread, owners resolved, wait durations and wait start times computed.

use std::collections::HashMap;

use chrono::Duration;

use crate::model::{DumpSnapshot, Thread};

/// WinDbg's default clock interval: 156,250 x 100 ns (formats.md §4; also the
/// ETL header's TimerResolution in every sample).
const DEFAULT_TICK_NS: u64 = 15_625_000;

pub(crate) fn finish(s: &mut DumpSnapshot) {
    s.notes.clear();
    dedupe_processes(s);
    dedupe_threads(s);
    let images: HashMap<u32, String> = s
        .processes
        .iter()
        .filter(|p| !p.image.is_empty())
        .map(|p| (p.pid, p.image.clone()))
        .collect();
    // EPROCESS address -> pid, from PROCESS blocks and from threads' Owning/Attached
    // Process lines (logs often hold `!thread` output without the PROCESS block).
    let mut by_address: HashMap<u64, u32> = HashMap::new();
    for t in &s.threads {
        if let Some(a) = t.process_address {
            by_address.entry(a).or_insert(t.pid);
        }
    }
    for p in &s.processes {
        by_address.insert(p.address, p.pid);
    }
    for t in &mut s.threads {
        if t.image.is_none() {
            t.image = images.get(&t.pid).cloned();
        }
    }
    for cs in &mut s.critical_sections {
        cs.pid = cs.process_address.and_then(|a| by_address.get(&a).copied());
        if cs.pid.is_none() {
            // The owner's thread tells the process when `.process` was not captured.
            if let Some(owner) = cs.owning_thread {
                cs.pid = s.threads.iter().find(|t| t.address == owner).map(|t| t.pid);
            }
        }
    }
    let (tick_ns, source) = tick_length(&s.threads);
    s.tick_ns = tick_ns;
    s.tick_source = source;
    let dump_utc = s.session_time.as_ref().and_then(|t| t.utc);
    for t in &mut s.threads {
        t.wait_ns = t.ticks.map(|k| k.saturating_mul(tick_ns));
        t.wait_start = match (dump_utc, t.wait_ns) {
            (Some(d), Some(ns)) => i64::try_from(ns)
                .ok()
                .and_then(|ns| d.checked_sub_signed(Duration::nanoseconds(ns))),
            _ => None,
        };
    }
    add_notes(s);
}

/// A minidump's process (no EPROCESS address, 0) is the log's process with the same pid.
fn dedupe_processes(s: &mut DumpSnapshot) {
    let mut out: Vec<crate::model::Process> = Vec::with_capacity(s.processes.len());
    for p in std::mem::take(&mut s.processes) {
        let same = out
            .iter_mut()
            .find(|k| k.pid == p.pid && (k.address == 0 || p.address == 0));
        match same {
            Some(k) => {
                if k.address == 0 {
                    k.address = p.address;
                }
                if k.image.is_empty() {
                    k.image = p.image;
                }
                k.handle_count = k.handle_count.or(p.handle_count);
                k.elapsed_time = k.elapsed_time.take().or(p.elapsed_time);
                k.user_time = k.user_time.take().or(p.user_time);
                k.kernel_time = k.kernel_time.take().or(p.kernel_time);
            }
            None => out.push(p),
        }
    }
    s.processes = out;
}

/// One thread may be printed several times (`!process 0 ff`, then `!thread X 1f`).
/// Keep the first, filling what it lacks from the others; keep the richest stack.
/// Threads read from a minidump have no ETHREAD address (0): they are the
/// log's thread with the same Cid.
fn dedupe_threads(s: &mut DumpSnapshot) {
    let mut seen: HashMap<u64, usize> = HashMap::new();
    let mut by_cid: HashMap<(u32, u32), usize> = HashMap::new();
    let mut out: Vec<Thread> = Vec::with_capacity(s.threads.len());
    for t in std::mem::take(&mut s.threads) {
        let same_address = seen.get(&t.address).copied().filter(|_| t.address != 0);
        let same_cid = || {
            by_cid
                .get(&(t.pid, t.tid))
                .copied()
                .filter(|&i| t.address == 0 || out[i].address == 0)
        };
        match same_address.or_else(same_cid) {
            Some(i) => {
                if out[i].address == 0 && t.address != 0 {
                    seen.insert(t.address, i);
                    out[i].address = t.address;
                    out[i].state = t.state.clone();
                }
                let kept = &mut out[i];
                kept.teb = kept.teb.or(t.teb);
                kept.user_time = kept.user_time.take().or(t.user_time);
                kept.kernel_time = kept.kernel_time.take().or(t.kernel_time);
                kept.start_address = kept.start_address.take().or(t.start_address);
                let richer = t.stack.len() > kept.stack.len()
                    || (t.stack.iter().any(|f| !f.args.is_empty())
                        && !kept.stack.iter().any(|f| !f.args.is_empty()));
                if richer {
                    kept.stack = t.stack;
                }
                kept.ticks = kept.ticks.or(t.ticks);
                kept.ticks_text = kept.ticks_text.take().or(t.ticks_text);
                kept.wait_start_tick = kept.wait_start_tick.or(t.wait_start_tick);
                kept.lpc_serving = kept.lpc_serving.or(t.lpc_serving);
                kept.lpc_waiting_for = kept.lpc_waiting_for.or(t.lpc_waiting_for);
                kept.image = kept.image.take().or(t.image);
                kept.process_address = kept.process_address.or(t.process_address);
                if kept.wait_objects.is_empty() {
                    kept.wait_objects = t.wait_objects;
                }
            }
            None => {
                seen.insert(t.address, out.len());
                by_cid.entry((t.pid, t.tid)).or_insert(out.len());
                out.push(t);
            }
        }
    }
    s.threads = out;
}

/// The tick length the log itself implies. WinDbg prints `Ticks: N (d:hh:mm:ss.fff)`
/// with the time truncated to ms, so each pair bounds the tick to
/// `[text/N, (text+1ms)/N)`. Use 15.625 ms when it fits every pair; otherwise the
/// middle of what fits (formats.md §4: "derive the tick as text ÷ N").
fn tick_length(threads: &[Thread]) -> (u64, String) {
    let mut lo = 0f64;
    let mut hi = f64::INFINITY;
    let mut pairs = 0;
    for t in threads {
        let (Some(n), Some(text)) = (t.ticks, t.ticks_text.as_deref()) else {
            continue;
        };
        let Some(ms) = crate::windbg::dhms_ms(text) else {
            continue;
        };
        if n < 64 {
            continue; // too short to bound the tick usefully
        }
        pairs += 1;
        lo = lo.max(ms as f64 * 1e6 / n as f64);
        hi = hi.min((ms as f64 + 1.0) * 1e6 / n as f64);
    }
    let default = DEFAULT_TICK_NS as f64;
    if pairs == 0 {
        return (
            DEFAULT_TICK_NS,
            "15.625 ms assumed (no Ticks with durations in the log)".into(),
        );
    }
    if lo <= default && default < hi {
        return (
            DEFAULT_TICK_NS,
            format!("15.625 ms, consistent with all {pairs} Ticks durations in the log"),
        );
    }
    if lo < hi {
        let mid = (lo + hi) / 2.0;
        return (
            mid.round() as u64,
            format!(
                "{:.4} ms, derived from {pairs} Ticks durations in the log",
                mid / 1e6
            ),
        );
    }
    (
        DEFAULT_TICK_NS,
        format!(
            "15.625 ms assumed: the {pairs} Ticks durations in the log disagree with each other"
        ),
    )
}

fn add_notes(s: &mut DumpSnapshot) {
    s.notes
        .extend(s.dump_files.iter().flat_map(crate::dumpfile::notes));
    match &s.session_time {
        None => s.notes.push(
            "the log has no Debug session time: wait durations are kept, wait start times are unknown".into(),
        ),
        Some(t) if t.utc.is_none() => s.notes.push(format!(
            "Debug session time '{}' has no zone: wait start times are unknown until a zone is given",
            t.raw
        )),
        Some(_) => {}
    }
    let missing = s
        .threads
        .iter()
        .filter(|t| {
            t.wait_start_tick.is_some()
                && t.ticks.is_none()
                && matches!(t.state, crate::model::ThreadState::Wait { .. })
        })
        .count();
    if missing > 0 {
        s.notes.push(format!(
            "{missing} waiting thread(s) show Wait Start TickCount without Ticks: the dump is inconsistent for them (their wait start is not guessed)"
        ));
    }
    // The tick count at dump time is about System Uptime / tick; a wait that
    // starts later than that started after the dump (LiveKd and other dumpers
    // that read memory while the system runs; seed: LiveKd case, 2010-02-27).
    if let (Some(up), true) = (s.uptime_ms, s.tick_ns > 0) {
        let now = u128::from(up) * 1_000_000 / u128::from(s.tick_ns);
        let late: Vec<String> = s
            .threads
            .iter()
            .filter(|t| t.wait_start_tick.is_some_and(|w| u128::from(w) > now + 1))
            .map(|t| t.cid())
            .collect();
        if !late.is_empty() {
            s.notes.push(format!(
                "{} thread(s) started waiting after the dump's tick count ({now} = System Uptime / tick), so the dump is inconsistent: {}",
                late.len(),
                late.iter().take(20).cloned().collect::<Vec<_>>().join(", ")
            ));
        }
    }
    // Wait Start TickCount + Ticks is the tick count at dump time, the same for
    // every thread of a consistent dump.
    let mut nows: Vec<u64> = s
        .threads
        .iter()
        .filter_map(|t| Some(t.wait_start_tick? + t.ticks?))
        .collect();
    nows.sort_unstable();
    nows.dedup();
    if nows.len() > 1 {
        s.notes.push(format!(
            "Wait Start TickCount + Ticks differs between threads ({} distinct values from {} to {}): the dump is inconsistent",
            nows.len(),
            nows[0],
            nows[nows.len() - 1]
        ));
    }
    if let (Some(up), Some(max)) = (
        s.uptime_ms,
        s.threads.iter().filter_map(|t| t.wait_ns).max(),
    ) {
        if max / 1_000_000 > up {
            s.notes.push(format!(
                "a wait of {:.3} s is longer than the system uptime of {:.3} s: the dump is inconsistent",
                max as f64 / 1e9,
                up as f64 / 1e3
            ));
        }
    }
}
