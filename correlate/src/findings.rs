//! Ranked findings: sentences an engineer would write, each with the evidence
//! lines (file:line, time, message) from the dump and the trace behind it.

use chrono::{DateTime, Duration, Utc};
use dumptrace_dump::{DumpSnapshot, Thread, ThreadState};

use crate::events::{TraceEvent as Event, TraceSource};
use crate::graph::{ChainData, WaitGraph};
use crate::report::{ChainOut, EventOut, Evidence, Finding};
use crate::{rfc3339, thread_id};

/// Modules whose frames say how a thread waits, not why.
const SYSTEM_MODULES: &[&str] = &[
    "nt",
    "ntdll",
    "kernel32",
    "kernelbase",
    "hal",
    "wow64",
    "wow64cpu",
    "ntkrnlmp",
    "ntoskrnl",
];

/// Words that make a recurring message an error rather than chatter.
const ERROR_WORDS: &[&str] = &[
    "error",
    "fail",
    "not enough",
    "denied",
    "timeout",
    "timed out",
    "cannot",
    "unable",
    "exception",
    "retry",
];

pub(crate) fn chain_out(
    s: &DumpSnapshot,
    c: &ChainData,
    id: usize,
    events: &[Event],
    context_s: f64,
) -> ChainOut {
    let root = &s.threads[c.root];
    let anchor = root
        .wait_start
        .or(s.session_time.as_ref().and_then(|t| t.utc));
    let trace_context = match anchor {
        Some(a) => {
            let from = a - Duration::milliseconds((context_s * 1000.0) as i64);
            let to = a + Duration::seconds(5);
            events
                .iter()
                .filter(|e| e.pid == Some(root.pid) && e.time >= from && e.time <= to)
                .take(500)
                .map(|e| event_out(e, Some(a)))
                .collect()
        }
        None => Vec::new(),
    };
    ChainOut {
        id,
        root: thread_id(root),
        members: c
            .members
            .iter()
            .map(|&m| thread_id(&s.threads[m]))
            .collect(),
        resources: c.resources.clone(),
        blocked_threads: c
            .members
            .len()
            .saturating_sub(if c.deadlock { 0 } else { 1 }),
        direct_waiters: c.direct,
        deadlock: c.deadlock,
        processes: c.processes.iter().copied().collect(),
        first_blocked: c
            .members
            .iter()
            .filter(|&&m| s.threads[m].wait_ns.is_some())
            .max_by_key(|&&m| s.threads[m].wait_ns)
            .map(|&m| thread_id(&s.threads[m])),
        trace_context,
    }
}

fn event_out(e: &Event, anchor: Option<DateTime<Utc>>) -> EventOut {
    EventOut {
        time: rfc3339(e.time),
        relative_seconds: anchor.map(|a| secs(e.time - a)),
        pid: e.pid,
        tid: e.tid,
        message: e.message.clone(),
        source: e.source.clone(),
    }
}

fn secs(d: Duration) -> f64 {
    d.num_nanoseconds()
        .map(|n| n as f64 / 1e9)
        .unwrap_or(f64::NAN)
}

/// `6.9 s`, `12 min 34 s`, `5 h 34 min`, `2 d 3 h`.
pub(crate) fn human_duration(s: f64) -> String {
    if s < 60.0 {
        return format!("{s:.1} s");
    }
    let total = s.round() as u64;
    let (d, h, m, sec) = (
        total / 86400,
        total / 3600 % 24,
        total / 60 % 60,
        total % 60,
    );
    match (d, h) {
        (0, 0) => format!("{m} min {sec} s"),
        (0, _) => format!("{h} h {m} min"),
        _ => format!("{d} d {h} h"),
    }
}

/// The frame that says what the thread is doing: the first one outside system modules.
fn location(t: &Thread) -> Option<&str> {
    t.stack
        .iter()
        .map(|f| f.function())
        .find(|f| match f.split_once('!') {
            Some((m, _)) => !SYSTEM_MODULES.contains(&m.to_ascii_lowercase().as_str()),
            None => false,
        })
}

/// `kernel32!Sleep(0x1b00)`: the milliseconds a sleeping thread asked for.
fn sleep_ms(t: &Thread) -> Option<u64> {
    t.stack.iter().find_map(|f| match f.function() {
        "kernel32!Sleep" | "kernel32!SleepEx" | "KERNELBASE!SleepEx" => f.args.first().copied(),
        _ => None,
    })
}

fn describe_resource(s: &DumpSnapshot, id: &str) -> String {
    if let Some(rest) = id.strip_prefix("cs:") {
        let addr = rest.split('@').next().unwrap_or(rest);
        let symbol = s
            .critical_sections
            .iter()
            .find(|c| format!("0x{:08x}", c.address) == addr)
            .and_then(|c| c.symbol.clone());
        return match symbol {
            Some(sym) => format!("critical section {addr} ({sym})"),
            None => format!("critical section {addr}"),
        };
    }
    for (prefix, name) in [
        ("mutant:", "mutant"),
        ("eresource:", "ERESOURCE"),
        ("lpc:", "LPC message"),
        ("process:", "process"),
    ] {
        if let Some(rest) = id.strip_prefix(prefix) {
            return format!("{name} {rest}");
        }
    }
    id.to_string()
}

fn wait_phrase(t: &Thread) -> String {
    let how = match &t.state {
        ThreadState::Wait { reason, .. } if reason == "DelayExecution" => "slept".to_string(),
        ThreadState::Wait { reason, .. } if !reason.is_empty() => format!("waited ({reason})"),
        ThreadState::Wait { .. } => "waited".to_string(),
        other => {
            return format!("is {}", other.name())
                + &location(t).map(|l| format!(" in {l}")).unwrap_or_default()
        }
    };
    let long = match t.wait_seconds() {
        Some(w) if matches!(t.state, ThreadState::Wait { .. }) => format!(" {}", human_duration(w)),
        _ => String::new(),
    };
    match location(t) {
        Some(loc) => format!("{how}{long} in {loc}"),
        None => format!("{how}{long}"),
    }
}

struct Periodic {
    template_example: String,
    count: usize,
    period_s: f64,
    jitter_s: f64,
    span_s: f64,
    from_root_thread: bool,
    before_wait_s: Option<f64>,
    evidence: Vec<Evidence>,
}

fn is_error(msg: &str) -> bool {
    let m = msg.to_ascii_lowercase();
    ERROR_WORDS.iter().any(|w| m.contains(w))
}

/// The recurring error of the root's process that was still recurring when the
/// root started waiting (the seeds' "periodic error" pattern).
fn periodic_error(root: &Thread, traces: &[TraceSource]) -> Option<Periodic> {
    let anchor = root.wait_start;
    let mut best: Option<(Periodic, (bool, usize))> = None;
    for src in traces {
        let Ok(recs) = dumptrace_trace::recurring(&src.frame, 4) else {
            continue;
        };
        for r in recs {
            if r.pid != root.pid || !is_error(&r.example) {
                continue;
            }
            let before = anchor.map(|a| secs(a - r.last));
            // Still recurring when the root blocked: the last occurrence is at most
            // two periods (plus a margin) before the wait start, and not long after.
            if let Some(b) = before {
                if b < -2.0 || b > 2.0 * r.period_s + 5.0 {
                    continue;
                }
            }
            let from_root_thread = r.tids.contains(&root.tid);
            let evidence = last_occurrences(&src.frame, &src.label, &r.rows, 3);
            let key = (from_root_thread, r.count);
            let p = Periodic {
                template_example: r.example.clone(),
                count: r.count,
                period_s: r.period_s,
                jitter_s: r.jitter_s,
                span_s: secs(r.last - r.first),
                from_root_thread,
                before_wait_s: before,
                evidence,
            };
            if best.as_ref().is_none_or(|(_, k)| key > *k) {
                best = Some((p, key));
            }
        }
    }
    best.map(|(p, _)| p)
}

fn last_occurrences(
    frame: &polars::prelude::DataFrame,
    label: &str,
    rows: &[usize],
    n: usize,
) -> Vec<Evidence> {
    let Ok(one) = crate::events::trace_events(&[TraceSource {
        label: label.to_string(),
        frame: frame.clone(),
    }]) else {
        return Vec::new();
    };
    // `collect` sorts by time; the frame is already in time order for text traces,
    // so map rows by position in the time-sorted copy only when lengths agree.
    if one.len() != frame.height() {
        return Vec::new();
    }
    let mut idx: Vec<usize> = rows.iter().rev().take(n).copied().collect();
    idx.reverse();
    idx.iter()
        .filter_map(|&i| one.get(i))
        .map(|e| Evidence {
            source: e.source.clone(),
            line: e.input_line,
            time: Some(rfc3339(e.time)),
            message: e.message.clone(),
        })
        .collect()
}

fn thread_evidence(t: &Thread) -> Evidence {
    let ticks = match (t.ticks, &t.ticks_text) {
        (Some(k), Some(text)) => format!(" Ticks: {k} ({text})"),
        (Some(k), None) => format!(" Ticks: {k}"),
        _ => String::new(),
    };
    let reason = t
        .state
        .wait_reason()
        .map(|r| format!(" ({r})"))
        .unwrap_or_default();
    Evidence {
        source: t.source.clone(),
        line: Some(t.line),
        time: t.wait_start.map(rfc3339),
        message: format!(
            "THREAD {:x} Cid {} {}{}{}",
            t.address,
            t.cid(),
            t.state.name(),
            reason,
            ticks
        ),
    }
}

pub(crate) fn rank(
    s: &DumpSnapshot,
    graph: &WaitGraph,
    chains: &[ChainData],
    events: &[Event],
    traces: &[TraceSource],
) -> Vec<Finding> {
    let mut out = Vec::new();
    for (ci, c) in chains.iter().enumerate() {
        let root = &s.threads[c.root];
        let owned = graph.owns(c.root);
        let what = owned
            .first()
            .map(|id| describe_resource(s, id))
            .unwrap_or_else(|| "a resource".into());
        let blocked = c.members.len().saturating_sub(usize::from(!c.deadlock));
        let procs = if c.processes.len() > 1 {
            format!(" in {} processes", c.processes.len())
        } else {
            String::new()
        };
        let image = root.image.as_deref().unwrap_or("?");
        let has = if matches!(root.state, ThreadState::Wait { .. }) {
            "has "
        } else {
            ""
        };
        let mut summary = if c.deadlock {
            format!(
                "Deadlock: {} threads{} wait on each other; thread {} ({image}) {has}{}",
                c.members.len(),
                procs,
                root.cid(),
                wait_phrase(root)
            )
        } else {
            format!(
                "Thread {} ({image}) owns {what} and blocks {blocked} thread{}{procs}; it {has}{}",
                root.cid(),
                if blocked == 1 { "" } else { "s" },
                wait_phrase(root)
            )
        };
        let mut evidence = vec![thread_evidence(root)];
        for cs in s.critical_sections.iter().filter(|cs| {
            owned.contains(&crate::graph::cs_id(cs.address, cs.pid.unwrap_or(u32::MAX)))
        }) {
            evidence.push(Evidence {
                source: format!(
                    "{}:{}",
                    root.source.rsplit_once(':').map_or("", |x| x.0),
                    cs.line
                ),
                line: Some(cs.line),
                time: None,
                message: format!(
                    "Critical section = 0x{:08x} LOCKED LockCount = {} OwningThread = 0x{:x}{}",
                    cs.address,
                    cs.lock_count.map_or("?".into(), |v| format!("0x{v:x}")),
                    cs.owning_tid.unwrap_or(0),
                    cs.contention_count
                        .map(|c| format!(" ContentionCount = 0x{c:x}"))
                        .unwrap_or_default()
                ),
            });
        }
        let mut confidence = 0.5 + (blocked as f64 / 100.0).min(0.2);
        let mut kind = if c.deadlock { "deadlock" } else { "wait-chain" };
        if let Some(p) = periodic_error(root, traces) {
            kind = "periodic-error";
            let sleep = sleep_ms(root);
            let matches_sleep = sleep.is_some_and(|ms| {
                let sl = ms as f64 / 1000.0;
                (p.period_s - sl).abs() <= 0.15 * sl
            });
            let last = match (p.before_wait_s, p.from_root_thread) {
                (Some(b), true) => {
                    format!(", the last by this thread {b:.3} s before its wait began")
                }
                (Some(b), false) => format!(", the last {b:.3} s before its wait began"),
                (None, _) => String::new(),
            };
            summary.push_str(&format!(
                "; its process logged '{}' every {:.1} s (jitter {:.2} s, {} times over {}{last})",
                p.template_example,
                p.period_s,
                p.jitter_s,
                p.count,
                human_duration(p.span_s)
            ));
            if let (Some(ms), true) = (sleep, matches_sleep) {
                summary.push_str(&format!(
                    "; the period matches its Sleep(0x{ms:x}) = {:.3} s",
                    ms as f64 / 1000.0
                ));
            }
            confidence = 0.75
                + if p.from_root_thread { 0.1 } else { 0.0 }
                + if matches_sleep { 0.1 } else { 0.0 };
            evidence.extend(p.evidence);
        } else if let Some(last) = last_words(root, events) {
            summary.push_str(&format!(
                "; its last trace event, {:.3} s before its wait began: '{}'",
                last.1, last.0.message
            ));
            evidence.push(Evidence {
                source: last.0.source.clone(),
                line: last.0.input_line,
                time: Some(rfc3339(last.0.time)),
                message: last.0.message.clone(),
            });
        }
        out.push(Finding {
            rank: 0,
            kind: kind.into(),
            summary,
            pid: Some(root.pid),
            tid: Some(root.tid),
            chain: Some(ci + 1),
            confidence: (confidence * 100.0).round() / 100.0,
            evidence,
        });
    }
    out.sort_by(|a, b| {
        b.confidence
            .total_cmp(&a.confidence)
            .then(a.chain.cmp(&b.chain))
    });
    for (i, f) in out.iter_mut().enumerate() {
        f.rank = i + 1;
    }
    out
}

/// The root thread's last event before its wait start: what it said before it stopped.
fn last_words<'e>(t: &Thread, events: &'e [Event]) -> Option<(&'e Event, f64)> {
    let ws = t.wait_start?;
    events
        .iter()
        .rev()
        .filter(|e| e.pid == Some(t.pid) && e.tid == Some(t.tid) && e.time <= ws)
        .map(|e| (e, secs(ws - e.time)))
        .next()
}
