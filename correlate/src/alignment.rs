//! Putting the trace on the dump's clock.
//!
//! A thread stops logging when it blocks, so with the right offset each blocked
//! thread's last trace event falls just before its wait start, and none after.
//! The offset is searched in two steps: zone-sized candidates (multiples of
//! 15 minutes, ±14 h) scored tolerantly, then a fine search around the best one
//! over offsets that put some thread's event exactly at its wait start.

use rustc_hash::FxHashMap as HashMap;

use crate::events::Hit;

const NS: i64 = 1_000_000_000;
/// Zone candidates: every 15 minutes from UTC-14:00 to UTC+14:00.
const ZONE_STEP: i64 = 15 * 60 * NS;
const ZONE_RANGE: i64 = 14 * 3600 * NS;
/// Fine search window around the best zone candidate.
const FINE_WINDOW: i64 = 120 * NS;
/// At most this many threads and candidate offsets are scored.
const MAX_THREADS: usize = 500;
const MAX_CANDIDATES: usize = 4000;

/// A blocked thread's wait start (dump clock) and its events (trace clock).
pub(crate) struct Sample<'a> {
    pub wait_start: i64,
    pub events: &'a [Hit],
}

pub(crate) struct Estimate {
    pub offset_ns: i64,
    pub confidence: f64,
    pub threads: usize,
    pub consistent: usize,
    pub zone_offset_ns: i64,
    pub snapped_to_zone: bool,
}

/// How well `d` (added to trace times) puts each thread's last event just before
/// its wait start. `slack` is how far after the wait start an event may fall
/// (the wait start is only known to a tick or two); `tau` is the gap scale.
fn score(samples: &[Sample], d: i64, slack: i64, tau: f64) -> (f64, usize) {
    let mut total = 0.0;
    let mut consistent = 0;
    for s in samples {
        let x = s.wait_start - d; // the wait start on the trace clock
        let after = s.events.partition_point(|h| h.t <= x + slack);
        if after < s.events.len() {
            // It logged after it blocked: this offset is wrong for this thread.
            total -= 0.5;
            continue;
        }
        let Some(last) = after.checked_sub(1).map(|i| s.events[i].t) else {
            continue;
        };
        let gap = (x - last).max(0) as f64 / NS as f64;
        total += 1.0 / (1.0 + gap / tau);
        if gap <= 1.0 {
            consistent += 1;
        }
    }
    (total / samples.len().max(1) as f64, consistent)
}

pub(crate) fn estimate(samples: &mut Vec<Sample>, tick_ns: i64) -> Option<Estimate> {
    samples.retain(|s| !s.events.is_empty());
    if samples.len() < 3 {
        return None;
    }
    // Deterministic subsample: the threads with the most recent wait starts
    // carry the sharpest "stopped logging here" edges.
    samples.sort_by_key(|s| std::cmp::Reverse(s.wait_start));
    samples.truncate(MAX_THREADS);

    // 1. Zone candidates, tolerant of a few minutes of skew.
    let mut best_zone = (f64::MIN, 0i64);
    let mut d = -ZONE_RANGE;
    while d <= ZONE_RANGE {
        let (sc, _) = score(samples, d, 150 * NS, 60.0);
        if sc > best_zone.0 + 1e-12 || (sc >= best_zone.0 - 1e-12 && d.abs() < best_zone.1.abs()) {
            best_zone = (sc, d);
        }
        d += ZONE_STEP;
    }
    let zone = best_zone.1;

    // 2. Fine: offsets that put one of a thread's events exactly at its wait start.
    let mut candidates: Vec<i64> = Vec::new();
    for s in samples.iter() {
        let lo = s.wait_start - zone - FINE_WINDOW;
        let hi = s.wait_start - zone + FINE_WINDOW;
        let from = s.events.partition_point(|h| h.t < lo);
        let to = s.events.partition_point(|h| h.t <= hi);
        for h in s.events[from..to].iter().rev().take(3) {
            candidates.push(s.wait_start - h.t);
        }
    }
    candidates.push(zone);
    candidates.sort_unstable();
    candidates.dedup();
    if candidates.len() > MAX_CANDIDATES {
        let step = candidates.len() as f64 / MAX_CANDIDATES as f64;
        candidates = (0..MAX_CANDIDATES)
            .map(|i| candidates[(i as f64 * step) as usize])
            .collect();
        candidates.push(zone);
    }
    let slack = 2 * tick_ns;
    let tau = 0.25;
    let mut best = (f64::MIN, zone, 0usize);
    for &c in &candidates {
        let (sc, n) = score(samples, c, slack, tau);
        if sc > best.0 + 1e-12 || (sc >= best.0 - 1e-12 && (c - zone).abs() < (best.1 - zone).abs())
        {
            best = (sc, c, n);
        }
    }
    // When the zone offset explains the trace nearly as well, the clocks agree
    // up to the zone: prefer it over an offset fitted to last-event gaps.
    let (zsc, zn) = score(samples, zone, slack, tau);
    let snapped = zsc >= 0.9 * best.0 && best.0 > 0.0;
    let (offset, consistent) = if snapped {
        (zone, zn)
    } else {
        (best.1, best.2)
    };
    let threads = samples.len();
    let confidence = (consistent as f64 / threads as f64) * (threads.min(10) as f64 / 10.0);
    Some(Estimate {
        offset_ns: offset,
        confidence: (confidence * 100.0).round() / 100.0,
        threads,
        consistent,
        zone_offset_ns: zone,
        snapped_to_zone: snapped,
    })
}

/// Blocked threads with a wait start and trace events, for [`estimate`].
pub(crate) fn samples<'a>(
    s: &dumptrace_dump::DumpSnapshot,
    by_thread: &'a HashMap<(u32, u32), Vec<Hit>>,
) -> Vec<Sample<'a>> {
    s.threads
        .iter()
        .filter(|t| matches!(t.state, dumptrace_dump::ThreadState::Wait { .. }))
        .filter_map(|t| {
            let ws = t.wait_start?.timestamp_nanos_opt()?;
            let ev = by_thread.get(&(t.pid, t.tid))?;
            Some(Sample {
                wait_start: ws,
                events: ev,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hits(ts: &[i64]) -> Vec<Hit> {
        ts.iter().map(|&t| Hit { t, src: 0, row: 0 }).collect()
    }

    /// Threads whose last event is 5..40 ms before their wait start, on a trace
    /// clock that runs `true_offset` behind the dump's.
    fn case(true_offset: i64) -> Vec<Vec<Hit>> {
        (0..20)
            .map(|i| {
                let ws = 1_000 * NS + i * 7 * NS;
                let last = ws - (5 + (i * 7) % 35) * 1_000_000;
                hits(&[
                    last - 3 * NS - true_offset,
                    last - NS - true_offset,
                    last - true_offset,
                ])
            })
            .collect()
    }

    fn run(true_offset: i64) -> Estimate {
        let ev = case(true_offset);
        let mut s: Vec<Sample> = ev
            .iter()
            .enumerate()
            .map(|(i, e)| Sample {
                wait_start: 1_000 * NS + i as i64 * 7 * NS,
                events: e,
            })
            .collect();
        estimate(&mut s, 15_625_000).expect("enough threads")
    }

    #[test]
    fn same_clock_snaps_to_zero() {
        let e = run(0);
        assert_eq!(e.offset_ns, 0);
        assert!(e.snapped_to_zone);
        assert_eq!(e.consistent, 20);
    }

    #[test]
    fn zone_difference_plus_skew_is_found() {
        // Trace clock is 1 h 3.2 s behind: the offset to add is +3603.2 s.
        let truth = 3600 * NS + 3_200_000_000;
        let e = run(truth);
        assert_eq!(e.zone_offset_ns, 3600 * NS);
        assert!(!e.snapped_to_zone);
        assert!((e.offset_ns - truth).abs() <= 50_000_000, "{}", e.offset_ns);
        // And ahead by 5 h 30 min minus 2 s.
        let truth = -(5 * 3600 + 1800) * NS + 2 * NS;
        let e = run(truth);
        assert!((e.offset_ns - truth).abs() <= 50_000_000, "{}", e.offset_ns);
    }
}
