//! Turning what the reader collected into a consistent snapshot: one entry per
//! thread, owners resolved, wait durations and wait start times computed.

use rustc_hash::FxHashMap as HashMap;

use chrono::Duration;

use crate::model::{richer_stack, DumpSnapshot, Thread, ThreadState};

/// WinDbg's default clock interval: 156,250 x 100 ns (formats.md §4; also the
/// ETL header's TimerResolution in every sample).
pub(crate) const DEFAULT_TICK_NS: u64 = 15_625_000;

pub(crate) fn finish(s: &mut DumpSnapshot) {
    s.notes.clear();
    s.notes.extend(s.read_notes.iter().cloned());
    dedupe_processes(s);
    dedupe_threads(s);
    dedupe_critical_sections(s);
    dedupe_handles(s);
    dedupe_resources(s);
    let images: HashMap<u32, &str> = s
        .processes
        .iter()
        .filter(|p| !p.image.is_empty())
        .map(|p| (p.pid, p.image.as_str()))
        .collect();
    // EPROCESS address -> pid, from PROCESS blocks and from threads' Owning/Attached
    // Process lines (logs often hold `!thread` output without the PROCESS block).
    let mut by_address: HashMap<u64, u32> = HashMap::default();
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
            t.image = images.get(&t.pid).map(|&i| i.into());
        }
    }
    for h in &mut s.handle_tables {
        h.pid = h
            .process_address
            .and_then(|a| by_address.get(&a).copied())
            .or(h.pid);
    }
    for cs in &mut s.critical_sections {
        // A user-mode log gives the pid itself (there is no EPROCESS).
        cs.pid = cs
            .process_address
            .and_then(|a| by_address.get(&a).copied())
            .or(cs.pid);
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
/// Indexed by pid: a busy server's log has tens of thousands of processes.
fn dedupe_processes(s: &mut DumpSnapshot) {
    let mut out: Vec<crate::model::Process> = Vec::with_capacity(s.processes.len());
    // pid -> the kept processes with that pid (a pid is reused after exit).
    let mut by_pid: HashMap<u32, Vec<usize>> =
        HashMap::with_capacity_and_hasher(s.processes.len(), Default::default());
    for p in std::mem::take(&mut s.processes) {
        let slots = by_pid.entry(p.pid).or_default();
        let same = slots
            .iter()
            .copied()
            .find(|&i| out[i].address == 0 || p.address == 0);
        match same {
            Some(i) => {
                let k = &mut out[i];
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
            None => {
                slots.push(out.len());
                out.push(p);
            }
        }
    }
    s.processes = out;
}

/// One thread may be printed several times (`!stacks`, `!process 0 ff`, then
/// `!thread X 1f`). Keep one record in the place of the first, taken from the
/// richest output ([`ThreadOrigin`] order; the first of equals) and filled with
/// what the others add. Threads read from a minidump have no ETHREAD address
/// (0): they are the log's thread with the same Cid. Done in place: a 1 GB log
/// has hundreds of thousands of threads, and a second vector would double them.
fn dedupe_threads(s: &mut DumpSnapshot) {
    let n = s.threads.len();
    let mut by_address: HashMap<u64, usize> =
        HashMap::with_capacity_and_hasher(n, Default::default());
    // Joining by Cid is only for records without an address (minidumps, `~`
    // lines): a kernel log needs no second map.
    let by_cid_needed = s.threads.iter().any(|t| t.address == 0);
    let mut by_cid: HashMap<(u32, u32), usize> = HashMap::default();
    let mut keep = vec![true; n];
    let mut dropped = 0;
    for (i, kept) in keep.iter_mut().enumerate() {
        let (address, cid) = {
            let t = &s.threads[i];
            (t.address, (t.pid, t.tid))
        };
        let same = (address != 0)
            .then(|| by_address.get(&address).copied())
            .flatten()
            .or_else(|| {
                by_cid
                    .get(&cid)
                    .copied()
                    .filter(|&j| address == 0 || s.threads[j].address == 0)
            });
        match same {
            Some(j) => {
                let t = std::mem::replace(&mut s.threads[i], placeholder());
                join_thread(&mut s.threads[j], t);
                *kept = false;
                dropped += 1;
                let a = s.threads[j].address;
                if a != 0 {
                    by_address.insert(a, j);
                }
            }
            None => {
                if address != 0 {
                    by_address.insert(address, i);
                }
                if by_cid_needed {
                    by_cid.entry(cid).or_insert(i);
                }
            }
        }
    }
    if dropped > 0 {
        let mut k = keep.iter();
        s.threads.retain(|_| *k.next().unwrap_or(&true));
    }
}

/// One section printed twice (`!locks`, then `!critsec` or `!cs ADDR` on it) is
/// one section: the first entry, filled from the later ones.
fn dedupe_critical_sections(s: &mut DumpSnapshot) {
    let mut seen: HashMap<(u64, Option<u64>, Option<u32>), usize> = HashMap::default();
    let mut out: Vec<crate::model::CriticalSection> = Vec::with_capacity(s.critical_sections.len());
    for cs in std::mem::take(&mut s.critical_sections) {
        match seen.get(&(cs.address, cs.process_address, cs.pid)) {
            Some(&i) => {
                let k = &mut out[i];
                k.locked |= cs.locked;
                k.symbol = k.symbol.take().or(cs.symbol);
                k.lock_count = k.lock_count.or(cs.lock_count);
                k.recursion_count = k.recursion_count.or(cs.recursion_count);
                k.owning_tid = k.owning_tid.or(cs.owning_tid);
                k.owning_thread = k.owning_thread.or(cs.owning_thread);
                k.contention_count = k.contention_count.or(cs.contention_count);
                k.lock_semaphore = k.lock_semaphore.or(cs.lock_semaphore);
                k.waiter_woken = k.waiter_woken.or(cs.waiter_woken);
            }
            None => {
                seen.insert((cs.address, cs.process_address, cs.pid), out.len());
                out.push(cs);
            }
        }
    }
    s.critical_sections = out;
}

/// One handle listed twice (`!handle`, then `!handle X f` on it) is one handle.
fn dedupe_handles(s: &mut DumpSnapshot) {
    let mut seen: HashMap<(Option<u32>, u64), usize> = HashMap::default();
    let mut out: Vec<crate::dumpfile::Handle> = Vec::with_capacity(s.handles.len());
    for h in std::mem::take(&mut s.handles) {
        match seen.get(&(h.pid, h.handle)) {
            Some(&i) => {
                let k = &mut out[i];
                k.type_name = k.type_name.take().or(h.type_name);
                k.object_name = k.object_name.take().or(h.object_name);
                k.object = k.object.or(h.object);
                k.mutant = k.mutant.take().or(h.mutant);
                k.context = k.context.take().or(h.context);
                k.attributes |= h.attributes;
                k.granted_access |= h.granted_access;
                k.handle_count = k.handle_count.max(h.handle_count);
                k.pointer_count = k.pointer_count.max(h.pointer_count);
            }
            None => {
                seen.insert((h.pid, h.handle), out.len());
                out.push(h);
            }
        }
    }
    s.handles = out;
}

/// One ERESOURCE listed twice (`!locks`, then `!locks -v X` on it) is one lock:
/// its owners and waiters are the union of both listings.
fn dedupe_resources(s: &mut DumpSnapshot) {
    let mut seen: HashMap<u64, usize> = HashMap::default();
    let mut out: Vec<crate::model::Resource> = Vec::with_capacity(s.resources.len());
    for r in std::mem::take(&mut s.resources) {
        let Some(&i) = seen.get(&r.address) else {
            seen.insert(r.address, out.len());
            out.push(r);
            continue;
        };
        let k = &mut out[i];
        k.symbol = k.symbol.take().or(r.symbol);
        k.exclusive |= r.exclusive;
        k.contention_count = k.contention_count.max(r.contention_count);
        k.exclusive_waiters_count = k.exclusive_waiters_count.max(r.exclusive_waiters_count);
        k.shared_waiters_count = k.shared_waiters_count.max(r.shared_waiters_count);
        for (mine, theirs) in [
            (&mut k.owners, r.owners),
            (&mut k.exclusive_waiters, r.exclusive_waiters),
            (&mut k.shared_waiters, r.shared_waiters),
        ] {
            for a in theirs {
                if !mine.contains(&a) {
                    mine.push(a);
                }
            }
        }
    }
    s.resources = out;
}

/// An allocation-free thread to leave in a slot being emptied.
fn placeholder() -> Thread {
    Thread::new(
        0,
        0,
        0,
        ThreadState::Other(Default::default()),
        String::new(),
        0,
    )
}

/// Joins two records of one thread into `kept`.
fn join_thread(kept: &mut Thread, mut t: Thread) {
    if t.origin < kept.origin {
        std::mem::swap(kept, &mut t);
    }
    fn fill<T>(a: &mut Option<T>, b: Option<T>) {
        if a.is_none() {
            *a = b;
        }
    }
    if kept.address == 0 {
        kept.address = t.address;
    }
    fill(&mut kept.teb, t.teb);
    fill(&mut kept.win32_thread, t.win32_thread);
    fill(&mut kept.user_time, t.user_time);
    fill(&mut kept.kernel_time, t.kernel_time);
    fill(&mut kept.elapsed_time, t.elapsed_time);
    fill(&mut kept.start_address, t.start_address);
    fill(&mut kept.win32_start_address, t.win32_start_address);
    fill(&mut kept.ticks, t.ticks);
    fill(&mut kept.ticks_text, t.ticks_text);
    fill(&mut kept.wait_start_tick, t.wait_start_tick);
    fill(&mut kept.lpc_serving, t.lpc_serving);
    fill(&mut kept.lpc_waiting_for, t.lpc_waiting_for);
    fill(&mut kept.alpc_waiting_for, t.alpc_waiting_for);
    fill(&mut kept.image, t.image);
    fill(&mut kept.process_address, t.process_address);
    fill(&mut kept.context_switches, t.context_switches);
    fill(&mut kept.priority, t.priority);
    if richer_stack(&t.stack, &kept.stack) {
        kept.stack = t.stack;
    }
    if richer_stack(&t.wow64_stack, &kept.wow64_stack) {
        kept.wow64_stack = t.wow64_stack;
    }
    if kept.wait_objects.is_empty() {
        kept.wait_objects = t.wait_objects;
    }
    if kept.irps.is_empty() {
        kept.irps = t.irps;
    }
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
    s.notes.extend(crate::system::notes(s));
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
