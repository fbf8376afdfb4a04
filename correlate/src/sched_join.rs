//! The scheduler model ([`crate::sched`]) joined with the dump's wait chains.
//!
//! Two joins live here: [`align`], the clock offset from each blocked thread's last
//! switch-out (trace clock) against its wait start (dump clock, whole ticks), and
//! [`findings`], what only the join can say: the chain root's last run and who
//! readied it before, which waiters were readied and slept again and which were never
//! readied, and threads left ready without running (starved).

use dumptrace_dump::{DumpSnapshot, Thread, ThreadState};

use crate::events::{TraceSource, TraceView};
use crate::graph::ChainData;
use crate::report::{Evidence, Finding};
use crate::sched::{At, Readied, Sched, ThreadSched};

/// Fewer blocked threads with a matching switch-out than this: no estimate.
const MIN_SAMPLES: usize = 3;
/// A thread ready at least this long without running is reported as starved.
pub(crate) const STARVED_NS: i64 = 100_000_000;
/// Starved threads reported, the longest first.
const MAX_STARVED: usize = 5;
/// A wait outside the chains this long or longer gets a probable signaler.
const SIGNALER_MIN_WAIT_NS: u64 = 5_000_000_000;
/// Probable signalers reported, the longest waits first.
const MAX_SIGNALERS: usize = 5;
/// Waits no thread signals (timers, idle pools, suspension) or that chains explain
/// already (LPC).
const NOT_SIGNALED: [&str; 5] = [
    "DelayExecution",
    "WrQueue",
    "Suspended",
    "WrLpcReceive",
    "WrLpcReply",
];
/// Earlier readyings shown as evidence of the root's cycles.
const ROOT_CYCLES_SHOWN: usize = 4;

/// The offset pinned by switch-outs.
#[derive(Debug, Clone)]
pub(crate) struct SwitchFit {
    pub offset_ns: i64,
    /// Blocked threads whose switch-out fits the offset within their tick.
    pub agree: usize,
    /// Blocked threads with a switch-out of the dump's wait reason.
    pub samples: usize,
    /// Range of (wait start − switch-out) over the agreeing threads.
    pub spread_ns: i64,
    pub median_ns: i64,
    /// How wide the window of offsets every agreeing thread allows is (0: none).
    pub window_ns: i64,
}

/// The dump's and the trace's names for one wait reason: `DelayExecution` in a
/// WinDbg `WAIT:` line is `DelayExecution` or, for a kernel-mode wait,
/// `WrDelayExecution` in CSwitch's `OldThreadWaitReason`.
fn same_reason(dump: &str, trace: &str) -> bool {
    let bare = |s: &str| s.strip_prefix("Wr").unwrap_or(s).to_ascii_lowercase();
    dump.eq_ignore_ascii_case(trace) || bare(dump) == bare(trace)
}

/// The scheduler entry of a dump thread: same tid, and same process when the trace
/// names one (thread ids are reused across processes over time).
pub(crate) fn of<'a>(sched: &'a Sched, t: &Thread) -> Option<&'a ThreadSched> {
    sched
        .threads
        .get(&t.tid)
        .filter(|s| s.pid.is_none_or(|p| p == t.pid))
}

/// The offset from switch-outs: for each thread blocked in the dump whose last
/// switch-out in the trace is a wait of the same reason, `d = wait start − switch-out`.
///
/// The dump's wait start is `session time − Ticks × tick`; the true wait start lies
/// in `[that − phase, that − phase + tick)` where `phase` is how far the session time
/// is into its tick (`uptime mod tick`; half a tick when the dump gives no uptime). So
/// the offset lies in `[d − phase, d − phase + tick)` for every thread: the threads
/// within a tick of the median are intersected and the window's middle is the offset.
pub(crate) fn align(s: &DumpSnapshot, sched: &Sched) -> Option<SwitchFit> {
    if sched.is_empty() {
        return None;
    }
    let tick = i64::try_from(s.tick_ns).unwrap_or(15_625_000).max(1);
    let mut d: Vec<i64> = s
        .threads
        .iter()
        .filter_map(|t| {
            let reason = t.state.wait_reason()?;
            let ws = t.wait_start?.timestamp_nanos_opt()?;
            let out = of(sched, t)?.last_out.as_ref()?;
            (out.state == "Waiting" && same_reason(reason, &out.reason))
                .then(|| ws.saturating_sub(out.at.t))
        })
        .collect();
    if d.len() < MIN_SAMPLES {
        return None;
    }
    d.sort_unstable();
    let samples = d.len();
    let median = d[samples / 2];
    let inliers: Vec<i64> = d
        .iter()
        .copied()
        .filter(|&x| x.saturating_sub(median).unsigned_abs() <= tick.unsigned_abs())
        .collect();
    if inliers.len() < MIN_SAMPLES || inliers.len() * 2 < samples {
        return None;
    }
    let phase = s
        .uptime_ms
        .and_then(|u| i64::try_from(u).ok())
        .map_or(tick / 2, |u| (u.saturating_mul(1_000_000)).rem_euclid(tick));
    let (min, max) = (inliers[0], inliers[inliers.len() - 1]);
    let (lo, hi) = (
        max.saturating_sub(phase),
        min.saturating_sub(phase).saturating_add(tick),
    );
    let (offset_ns, window_ns) = if lo <= hi {
        (lo + (hi - lo) / 2, hi - lo)
    } else {
        (median.saturating_sub(phase).saturating_add(tick / 2), 0)
    };
    Some(SwitchFit {
        offset_ns,
        agree: inliers.len(),
        samples,
        spread_ns: max.saturating_sub(min),
        median_ns: median,
        window_ns,
    })
}

/// What the join says, as findings with evidence rows.
pub(crate) struct Join<'a> {
    pub s: &'a DumpSnapshot,
    pub chains: &'a [ChainData],
    pub sched: &'a Sched,
    pub view: Option<&'a TraceView<'a>>,
    pub traces: &'a [TraceSource],
    pub offset_ns: i64,
}

/// How a waiter spent the hang, from its wait cycles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WaiterClass {
    /// Readied since the hang began, ran, and went back to the same wait.
    ReadiedAndSlept,
    /// No readying since its wait began.
    NeverReadied,
}

impl Join<'_> {
    fn secs(ns: i64) -> f64 {
        (ns as f64 / 1e6).round() / 1e3
    }

    fn time(&self, t: i64) -> String {
        crate::rfc3339(chrono::DateTime::from_timestamp_nanos(
            t.saturating_add(self.offset_ns),
        ))
    }

    /// An evidence row: `file@offset` for an ETL record, the message as the reader wrote it.
    fn evidence(&self, at: At) -> Evidence {
        let label = self
            .traces
            .get(at.src as usize)
            .map_or("trace", |t| t.label.as_str());
        Evidence {
            time_raw: None,
            source: match at.offset {
                Some(o) => format!("{label}@{o}"),
                None => label.to_string(),
            },
            line: None,
            time: Some(self.time(at.t)),
            message: self
                .view
                .map(|v| v.row_message(at.src as usize, at.row as usize).to_string())
                .unwrap_or_default(),
        }
    }

    fn who(&self, tid: u32, pid: Option<u32>) -> String {
        if tid == 0 {
            return "the idle thread (an interrupt or DPC)".into();
        }
        match self
            .s
            .threads
            .iter()
            .find(|t| t.tid == tid && pid.is_none_or(|p| p == t.pid))
        {
            Some(t) => format!(
                "thread {} ({})",
                t.cid(),
                t.image.as_deref().unwrap_or(dumptrace_dump::NO_IMAGE)
            ),
            None => match pid {
                Some(p) => format!("thread {p:x}.{tid:x}"),
                None => format!("thread ?.{tid:x}"),
            },
        }
    }

    pub(crate) fn findings(&self) -> Vec<Finding> {
        let mut out = Vec::new();
        if self.sched.is_empty() {
            return out;
        }
        for (ci, c) in self.chains.iter().enumerate() {
            out.extend(self.root_last_run(ci, c));
            out.extend(self.waiters(ci, c));
        }
        out.extend(self.starved());
        out.extend(self.signalers());
        // Rows that contradict the model (see the notes) make every conclusion less sure.
        let b = self.sched.bad;
        let bad = b.switched_in_twice + b.out_without_in + b.ran_without_ready + b.out_of_order;
        if bad > 0 {
            for f in &mut out {
                f.confidence *= 0.7;
                f.summary.push_str(&format!(
                    " (the trace has {bad} contradicting scheduler row(s), see the notes)"
                ));
            }
        }
        out
    }

    fn root_last_run(&self, ci: usize, c: &ChainData) -> Option<Finding> {
        let root = self.s.threads.get(c.root)?;
        let th = of(self.sched, root)?;
        let last_in = th.last_in?;
        let out = th.last_out.as_ref()?;
        let end = self.sched.end?;
        let earlier: Vec<_> = th
            .cycles
            .iter()
            .filter(|k| k.ran.is_some())
            .filter_map(|k| k.readied.map(|r| (k, r)))
            .collect();
        let mut by: Vec<(u32, Option<u32>)> =
            earlier.iter().map(|(_, r)| (r.by, r.by_pid)).collect();
        by.sort_unstable();
        by.dedup();
        let names: Vec<String> = by.iter().map(|&(t, p)| self.who(t, p)).collect();
        let period = (earlier.len() >= 2).then(|| {
            let first = earlier[0].0.out.at.t;
            let last = earlier[earlier.len() - 1].0.out.at.t;
            last.saturating_sub(first) / (earlier.len() as i64 - 1)
        });
        let mut summary = format!(
            "Chain root {} last ran at {} and switched out {:.3} s before the trace ends, waiting {} ({}); it never ran again in the trace",
            root.cid(),
            self.time(last_in.t),
            Self::secs(end.saturating_sub(out.at.t)),
            out.reason,
            out.mode,
        );
        if names.is_empty() {
            summary.push_str("; no earlier wait of it was seen ending");
        } else {
            summary.push_str(&format!(
                "; its earlier {} wait(s) were ended by {}",
                earlier.len(),
                names.join(", ")
            ));
            if let Some(p) = period {
                summary.push_str(&format!(", one every {:.3} s", Self::secs(p)));
            }
            summary.push_str(": whoever readies it next is who should have woken it");
        }
        let mut evidence: Vec<Evidence> = earlier
            .iter()
            .rev()
            .take(ROOT_CYCLES_SHOWN)
            .rev()
            .map(|(_, r)| self.evidence(r.at))
            .collect();
        evidence.push(self.evidence(last_in));
        evidence.push(self.evidence(out.at));
        Some(Finding {
            rank: 0,
            kind: "root-last-run".into(),
            summary,
            pid: Some(root.pid),
            tid: Some(root.tid),
            chain: Some(ci + 1),
            confidence: 0.8,
            evidence,
        })
    }

    /// A waiter's class, with the rows that show it: the readyings since the hang
    /// began (readied-and-slept), or its last switch-out (never readied).
    pub(crate) fn classify(&self, t: &Thread, since: i64) -> Option<(WaiterClass, Vec<At>)> {
        let reason = t.state.wait_reason()?;
        let th = of(self.sched, t)?;
        let out = th.last_out.as_ref()?;
        if out.state != "Waiting" || !same_reason(reason, &out.reason) {
            return None;
        }
        // The trailing waits of the same reason, the current one excluded.
        let mut readied = Vec::new();
        for k in th.cycles.iter().rev().skip(1) {
            if !same_reason(reason, &k.out.reason) || k.out.at.t < since {
                break;
            }
            // It ran again, so something woke it: the readying, or the switch-in
            // itself when the ReadyThread is missing (counted in the notes).
            if let Some(ran) = k.ran {
                readied.push(k.readied.map_or(ran, |r| r.at));
            }
        }
        readied.reverse();
        Some(if readied.is_empty() {
            (WaiterClass::NeverReadied, vec![out.at])
        } else {
            readied.push(out.at);
            (WaiterClass::ReadiedAndSlept, readied)
        })
    }

    fn waiters(&self, ci: usize, c: &ChainData) -> Vec<Finding> {
        let members: Vec<&Thread> = c
            .members
            .iter()
            .filter(|&&m| m != c.root)
            .filter_map(|&m| self.s.threads.get(m))
            .filter(|t| matches!(t.state, ThreadState::Wait { .. }))
            .collect();
        // The hang began at the earliest wait start of the chain (trace clock).
        let Some(since) = c
            .members
            .iter()
            .filter_map(|&m| self.s.threads.get(m)?.wait_start?.timestamp_nanos_opt())
            .min()
            .map(|t| t.saturating_sub(self.offset_ns))
        else {
            return Vec::new();
        };
        let mut slept = (Vec::new(), Vec::new());
        let mut never = (Vec::new(), Vec::new());
        for t in members {
            match self.classify(t, since) {
                Some((WaiterClass::ReadiedAndSlept, rows)) => {
                    slept.0.push(t.cid());
                    slept.1.extend(rows);
                }
                Some((WaiterClass::NeverReadied, rows)) => {
                    never.0.push(t.cid());
                    never.1.extend(rows);
                }
                None => {}
            }
        }
        let Some(root) = self.s.threads.get(c.root) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for ((cids, rows), kind, what) in [
            (
                slept,
                "waiters-readied-and-slept",
                "were readied after the hang began, ran, and went back to the same wait (the lock handed around or a convoy)",
            ),
            (
                never,
                "waiters-never-readied",
                "were never readied since their wait began (nothing signalled them)",
            ),
        ] {
            if cids.is_empty() {
                continue;
            }
            out.push(Finding {
                rank: 0,
                kind: kind.into(),
                summary: format!(
                    "{} waiter(s) behind {} {what}: {}",
                    cids.len(),
                    root.cid(),
                    cids.join(", ")
                ),
                pid: Some(root.pid),
                tid: Some(root.tid),
                chain: Some(ci + 1),
                confidence: 0.7,
                evidence: {
                    let mut rows = rows;
                    rows.sort_by_key(|a| (a.t, a.src, a.row));
                    rows.into_iter().map(|a| self.evidence(a)).collect()
                },
            });
        }
        out
    }

    /// Waits no dump can attribute (events, SRW locks, pushlocks, semaphores: no owner
    /// recorded), outside every chain: when most of the thread's earlier waits of the
    /// same reason were ended by one thread, that thread is the probable signaler of
    /// this one. Inferred, and said so.
    fn signalers(&self) -> Vec<Finding> {
        let in_chain: std::collections::HashSet<usize> = self
            .chains
            .iter()
            .flat_map(|c| c.members.iter().copied())
            .collect();
        let mut out: Vec<(u64, Finding)> = Vec::new();
        for (i, t) in self.s.threads.iter().enumerate() {
            if in_chain.contains(&i) {
                continue;
            }
            let (Some(reason), Some(ns)) = (t.state.wait_reason(), t.wait_ns) else {
                continue;
            };
            if ns < SIGNALER_MIN_WAIT_NS || NOT_SIGNALED.iter().any(|r| same_reason(r, reason)) {
                continue;
            }
            let Some(th) = of(self.sched, t) else {
                continue;
            };
            let Some(last) = th.last_out.as_ref().filter(|o| o.state == "Waiting") else {
                continue;
            };
            if !same_reason(reason, &last.reason) {
                continue;
            }
            let ended: Vec<Readied> = th
                .cycles
                .iter()
                .filter(|k| k.ran.is_some() && same_reason(reason, &k.out.reason))
                .filter_map(|k| k.readied)
                .filter(|r| r.by != 0)
                .collect();
            let mut counts: Vec<((u32, Option<u32>), usize)> = Vec::new();
            for r in &ended {
                match counts.iter_mut().find(|(k, _)| *k == (r.by, r.by_pid)) {
                    Some((_, n)) => *n += 1,
                    None => counts.push(((r.by, r.by_pid), 1)),
                }
            }
            let Some(&((by, by_pid), n)) = counts
                .iter()
                .max_by_key(|(k, n)| (*n, std::cmp::Reverse(*k)))
            else {
                continue;
            };
            if n < 2 || n * 3 < ended.len() * 2 {
                continue;
            }
            let mut evidence: Vec<Evidence> = ended
                .iter()
                .filter(|r| (r.by, r.by_pid) == (by, by_pid))
                .map(|r| self.evidence(r.at))
                .collect();
            evidence.push(self.evidence(last.at));
            out.push((
                ns,
                Finding {
                    rank: 0,
                    kind: "probable-signaler".into(),
                    summary: format!(
                        "Inferred: thread {} ({}) has waited {:.3} s ({reason}) on an object the dump names no owner for; its earlier waits of that reason were ended by {} ({n} of {}): the probable signaler of this one",
                        t.cid(),
                        t.image.as_deref().unwrap_or(dumptrace_dump::NO_IMAGE),
                        ns as f64 / 1e9,
                        self.who(by, by_pid),
                        ended.len(),
                    ),
                    pid: Some(t.pid),
                    tid: Some(t.tid),
                    chain: None,
                    confidence: 0.4,
                    evidence,
                },
            ));
        }
        out.sort_by_key(|(ns, f)| (std::cmp::Reverse(*ns), f.pid, f.tid));
        out.into_iter()
            .take(MAX_SIGNALERS)
            .map(|(_, f)| f)
            .collect()
    }

    fn starved(&self) -> Vec<Finding> {
        let mut spans: Vec<(u32, &ThreadSched, crate::sched::ReadySpan)> = self
            .sched
            .threads
            .iter()
            .filter_map(|(&tid, th)| Some((tid, th, th.longest_ready?)))
            .filter(|(_, _, r)| r.ns >= STARVED_NS)
            .collect();
        spans.sort_by_key(|(tid, _, r)| (std::cmp::Reverse(r.ns), *tid));
        spans
            .into_iter()
            .take(MAX_STARVED)
            .map(|(tid, th, r)| {
                let chain = self
                    .chains
                    .iter()
                    .position(|c| {
                        c.members.iter().any(|&m| {
                            self.s
                                .threads
                                .get(m)
                                .is_some_and(|t| t.tid == tid && th.pid.is_none_or(|p| p == t.pid))
                        })
                    })
                    .map(|i| i + 1);
                let by = r
                    .readied
                    .map(|x| format!(", readied by {}", self.who(x.by, x.by_pid)))
                    .unwrap_or_default();
                let until = match r.ran {
                    Some(a) => format!("until it ran at {}", self.time(a.t)),
                    None => "and still ready when the trace ends".into(),
                };
                let mut evidence: Vec<Evidence> =
                    r.readied.map(|x| self.evidence(x.at)).into_iter().collect();
                evidence.extend(r.ran.map(|a| self.evidence(a)));
                Finding {
                    rank: 0,
                    kind: "ready-starved".into(),
                    summary: format!(
                        "{} was ready for {:.3} s without running, from {}{by} {until}: the CPUs were taken (saturation or a priority inversion)",
                        self.who(tid, th.pid),
                        Self::secs(r.ns),
                        self.time(r.from),
                    ),
                    pid: th.pid,
                    tid: Some(tid),
                    chain,
                    confidence: 0.6,
                    evidence,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_reasons_match_across_the_two_namings() {
        assert!(same_reason("DelayExecution", "WrDelayExecution"));
        assert!(same_reason("UserRequest", "UserRequest"));
        assert!(!same_reason("UserRequest", "WrQueue"));
    }
}
