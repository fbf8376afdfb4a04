//! Ranked findings that join both sides: sentences an engineer would write, each
//! with the evidence lines (file:line, time, message) behind it.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap as HashMap;

use chrono::{DateTime, Duration, Utc};
use dumptrace_dump::{pid_hex, DumpSnapshot, Thread, ThreadState};
use polars::prelude::*;

use crate::events::{Hit, TraceSource, TraceView};
use crate::graph::{ChainData, WaitGraph};
use crate::report::{ChainOut, EndsAtOut, EventOut, Evidence, Finding, ThreadId};
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
    "wow64win",
    "ntkrnlmp",
    "ntoskrnl",
];

/// How far before a root's wait start its process's recurring errors are looked for.
const RECURRENCE_WINDOW_NS: i64 = 30 * 60 * 1_000_000_000;

/// Words that make a message an error rather than chatter.
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

/// One ASCII case-insensitive pass over the message, no allocation: it runs on
/// every event of a chain root's process.
pub(crate) fn is_error(msg: &str) -> bool {
    static MATCHER: std::sync::OnceLock<Option<aho_corasick::AhoCorasick>> =
        std::sync::OnceLock::new();
    let m = MATCHER.get_or_init(|| {
        aho_corasick::AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(ERROR_WORDS)
            .ok()
    });
    match m {
        Some(ac) => ac.is_match(msg),
        None => {
            let lower = msg.to_ascii_lowercase();
            ERROR_WORDS.iter().any(|w| lower.contains(w))
        }
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
pub(crate) fn location(t: &Thread) -> Option<&str> {
    t.frames()
        .find(|f| {
            f.module()
                .is_some_and(|m| !SYSTEM_MODULES.contains(&m.to_ascii_lowercase().as_str()))
        })
        .map(|f| f.function())
}

/// `kernel32!Sleep(0x1b00)`: the milliseconds a sleeping thread asked for.
fn sleep_ms(t: &Thread) -> Option<u64> {
    t.frames().find_map(|f| match f.function() {
        "kernel32!Sleep" | "kernel32!SleepEx" | "KERNELBASE!SleepEx" => f.args.first().copied(),
        _ => None,
    })
}

/// An evidence row of a trace event: its `file:line`, UTC time and the time as written.
fn trace_evidence(e: crate::events::TraceEvent) -> Evidence {
    Evidence {
        time_raw: e.time_raw,
        source: e.source,
        line: e.input_line,
        time: Some(rfc3339(e.time)),
        message: e.message,
    }
}

pub(crate) fn thread_evidence(t: &Thread) -> Evidence {
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
        time_raw: None,
        source: t.source.clone(),
        line: Some(t.line),
        time: t.wait_start.map(rfc3339),
        // User-mode logs (`~*kv`) print no ETHREAD address: the thread is named by its Cid.
        message: match t.address {
            0 => format!("Thread {} {}{}{}", t.cid(), t.state.name(), reason, ticks),
            a => format!(
                "THREAD {a:x} Cid {} {}{}{}",
                t.cid(),
                t.state.name(),
                reason,
                ticks
            ),
        },
    }
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
        ("alpc:", "ALPC message"),
        ("process:", "process"),
        ("thread:", "thread"),
    ] {
        if let Some(rest) = id.strip_prefix(prefix) {
            return format!("{name} {rest}");
        }
    }
    id.to_string()
}

fn wait_phrase(t: &Thread) -> String {
    // User-mode `~*k` output and minidumps give no Ticks: the wait is unknown, and
    // the phrase says so rather than printing nothing or a zero.
    const UNKNOWN: &str = "for a time the output does not give: no Ticks";
    let (long, note) = match t.wait_seconds() {
        Some(w) => (format!(" {}", human_duration(w)), String::new()),
        None => (String::new(), UNKNOWN.to_string()),
    };
    let inside = |reason: &str| match (reason.is_empty(), note.is_empty()) {
        (true, true) => String::new(),
        (false, true) => format!(" ({reason})"),
        (true, false) => format!(" ({note})"),
        (false, false) => format!(" ({reason}; {note})"),
    };
    let how = match &t.state {
        ThreadState::Wait { reason, .. } if reason == "DelayExecution" => {
            format!("has slept{long}{}", inside(""))
        }
        ThreadState::Wait { reason, .. } => format!("has waited{long}{}", inside(reason)),
        other => format!("is {}", other.name()),
    };
    match location(t) {
        Some(loc) => format!("{how} in {loc}"),
        None => how,
    }
}

/// Everything the findings are made from.
pub(crate) struct Ctx<'a> {
    pub s: &'a DumpSnapshot,
    pub graph: &'a WaitGraph,
    pub chains: &'a [ChainData],
    pub view: Option<&'a TraceView<'a>>,
    pub traces: &'a [TraceSource],
    pub by_thread: &'a HashMap<(u32, u32), Vec<Hit>>,
    pub by_process: &'a HashMap<u32, Vec<Hit>>,
    pub offset_ns: i64,
    pub context_ns: i64,
    pub recur_cache: std::cell::RefCell<HashMap<u32, std::rc::Rc<Vec<ProcRecurrence>>>>,
    /// Every thread's last event time, sorted.
    pub last: &'a [(i64, (u32, u32))],
    /// Thread indexes by pid, built once when first needed.
    pub by_pid: std::cell::OnceCell<HashMap<u32, Vec<usize>>>,
}

/// A recurring message of a process and its last occurrences as evidence.
pub(crate) struct ProcRecurrence {
    rec: dumptrace_trace::Recurrence,
    evidence: Vec<Evidence>,
}

struct Periodic {
    example: String,
    count: usize,
    period_s: f64,
    jitter_s: f64,
    span_s: f64,
    from_root_thread: bool,
    before_wait_s: Option<f64>,
    evidence: Vec<Evidence>,
}

impl Ctx<'_> {
    fn dump_ns(t: DateTime<Utc>) -> i64 {
        t.timestamp_nanos_opt().unwrap_or(0)
    }

    fn event_out(&self, h: Hit, anchor: Option<i64>) -> Option<EventOut> {
        let e = self.view?.event(h, self.offset_ns);
        Some(EventOut {
            time: rfc3339(e.time),
            relative_seconds: anchor.map(|a| (h.t + self.offset_ns - a) as f64 / 1e9),
            pid: e.pid,
            tid: e.tid,
            message: e.message,
            source: e.source,
        })
    }

    fn evidence(&self, h: Hit) -> Option<Evidence> {
        Some(trace_evidence(self.view?.event(h, self.offset_ns)))
    }

    /// The anchor of a chain on the dump clock: the root's wait start, else the dump time.
    fn anchor(&self, root: &Thread) -> Option<i64> {
        root.wait_start
            .or(self.s.session_time.as_ref().and_then(|t| t.utc))
            .map(Self::dump_ns)
    }

    pub(crate) fn chain_out(&self, c: &ChainData, id: usize) -> ChainOut {
        let s = self.s;
        let root = &s.threads[c.root];
        let anchor = self.anchor(root);
        let trace_context = match (anchor, self.by_process.get(&root.pid)) {
            (Some(a), Some(hits)) => {
                let from = a - self.context_ns - self.offset_ns;
                let to = a + 5_000_000_000 - self.offset_ns;
                let lo = hits.partition_point(|h| h.t < from);
                let hi = hits.partition_point(|h| h.t <= to);
                hits[lo..hi]
                    .iter()
                    .take(500)
                    .filter_map(|&h| self.event_out(h, Some(a)))
                    .collect()
            }
            _ => Vec::new(),
        };
        // First blocked: the longest wait among members and the waiting threads
        // of the process the chain ends at (seed: ServiceA blocked before ServiceB).
        // (For a process-queue chain the server's own threads are not counted:
        // the ones that should serve are missing, the others wait for other work.)
        let end_pid = c
            .ends_at
            .as_ref()
            .filter(|_| !c.queue_root)
            .and_then(|e| e.server_pid);
        let by_pid = self.by_pid.get_or_init(|| {
            let mut m: HashMap<u32, Vec<usize>> = HashMap::default();
            for (i, t) in s.threads.iter().enumerate() {
                m.entry(t.pid).or_default().push(i);
            }
            m
        });
        let end_threads = end_pid
            .and_then(|p| by_pid.get(&p))
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let candidates = c.members.iter().copied().chain(
            end_threads
                .iter()
                .copied()
                .filter(|&i| matches!(s.threads[i].state, ThreadState::Wait { .. }))
                .filter(|&i| !crate::patterns::is_idle(&s.threads[i])),
        );
        let first_blocked = candidates
            .filter(|&m| s.threads[m].wait_ns.is_some())
            .max_by_key(|&m| s.threads[m].wait_ns)
            .map(|m| thread_id(&s.threads[m]));
        let mut notes = Vec::new();
        let longest_member = c
            .members
            .iter()
            .filter(|&&m| m != c.root)
            .filter_map(|&m| s.threads[m].wait_ns)
            .max();
        if let (Some(r), Some(m)) = (root.wait_ns, longest_member) {
            if !c.deadlock && matches!(root.state, ThreadState::Wait { .. }) && r * 10 < m {
                notes.push(format!(
                    "the root has waited {}, its waiters up to {}: it has been running and re-waiting since they blocked (a retry or polling loop), or the dump is inconsistent",
                    human_duration(r as f64 / 1e9),
                    human_duration(m as f64 / 1e9)
                ));
            }
        }
        let (root_kind, root_id) = match (&c.ends_at, c.queue_root) {
            (Some(e), true) => (
                "process-queue",
                ThreadId {
                    pid: e.server_pid.unwrap_or(0),
                    tid: 0,
                },
            ),
            _ => ("thread", thread_id(root)),
        };
        ChainOut {
            id,
            root_kind: root_kind.into(),
            root: root_id,
            members: c
                .members
                .iter()
                .map(|&m| thread_id(&s.threads[m]))
                .collect(),
            resources: c.resources.clone(),
            blocked_threads: c.blocked(),
            direct_waiters: c.direct,
            deadlock: c.deadlock,
            cycle: {
                let mut cycle: Vec<ThreadId> =
                    c.cycle.iter().map(|&m| thread_id(&s.threads[m])).collect();
                cycle.sort();
                cycle
            },
            processes: c.processes.iter().copied().collect(),
            first_blocked,
            ends_at: c.ends_at.as_ref().map(|e| EndsAtOut {
                resource: e.resource.clone(),
                server_pid: e.server_pid,
                server_image: e.server_image.clone(),
                owner_gone: e.owner_gone.map(|tid| ThreadId { pid: root.pid, tid }),
            }),
            notes,
            trace_context,
        }
    }

    /// Recurring messages of one process, computed once per process from its
    /// rows only (a `take` of the rows found in the single scan of the trace).
    fn recurrences(&self, pid: u32) -> std::rc::Rc<Vec<ProcRecurrence>> {
        if let Some(r) = self.recur_cache.borrow().get(&pid) {
            return r.clone();
        }
        let mut out = Vec::new();
        // Only error-like messages can make a periodic-error finding: keep those
        // rows, so templates are computed for few events of a busy process.
        let mut rows: HashMap<u32, Vec<IdxSize>> = HashMap::default();
        let Some(view) = self.view else {
            return std::rc::Rc::new(out);
        };
        let hits = self.by_process.get(&pid).map(Vec::as_slice).unwrap_or(&[]);
        // The recurrence that matters is the one still going when the root
        // blocked: look at the half hour before the latest wait start of a root
        // in this process (trace clock).
        let until = self
            .chains
            .iter()
            .map(|c| &self.s.threads[c.root])
            .filter(|t| t.pid == pid)
            .filter_map(|t| t.wait_start)
            .max()
            .map(|w| Self::dump_ns(w) - self.offset_ns + 5_000_000_000);
        let (lo, hi) = match until {
            Some(u) => (
                hits.partition_point(|h| h.t < u - RECURRENCE_WINDOW_NS),
                hits.partition_point(|h| h.t <= u),
            ),
            None => (0, hits.len()),
        };
        for h in &hits[lo..hi] {
            if is_error(view.message(*h)) {
                rows.entry(h.src).or_default().push(h.row as IdxSize);
            }
        }
        for (src, mut idx) in rows {
            idx.sort_unstable();
            let Some(source) = self.traces.get(src as usize) else {
                continue;
            };
            let Ok(frame) = source.frame.take(&IdxCa::from_vec("row".into(), idx)) else {
                continue;
            };
            let Ok(recs) = dumptrace_trace::recurring(&frame, 4) else {
                continue;
            };
            let one = [TraceSource {
                label: source.label.clone(),
                frame,
            }];
            let Ok(view) = TraceView::new(&one) else {
                continue;
            };
            for rec in recs {
                let evidence: Vec<Evidence> = rec
                    .rows
                    .iter()
                    .rev()
                    .filter(|&&i| view.row_message(0, i) == rec.example)
                    .take(3)
                    .map(|&i| trace_evidence(view.row_event(0, i, self.offset_ns)))
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                out.push(ProcRecurrence { rec, evidence });
            }
        }
        let out = std::rc::Rc::new(out);
        self.recur_cache.borrow_mut().insert(pid, out.clone());
        out
    }

    /// The recurring error of the root's process that was still recurring when
    /// the root started waiting (the seeds' "periodic error" pattern).
    fn periodic_error(&self, root: &Thread) -> Option<Periodic> {
        let anchor = root.wait_start;
        let off = Duration::nanoseconds(self.offset_ns);
        let mut best: Option<(Periodic, (bool, usize))> = None;
        for pr in self.recurrences(root.pid).iter() {
            let r = &pr.rec;
            if r.pid != root.pid || !is_error(&r.example) {
                continue;
            }
            let before = anchor.map(|a| secs(a - (r.last + off)));
            // Still recurring when the root blocked: the last occurrence at
            // most two periods (plus a margin) before the wait start.
            if let Some(b) = before {
                if b < -2.0 || b > 2.0 * r.period_s + 5.0 {
                    continue;
                }
            }
            let from_root_thread = r.tids.contains(&root.tid);
            let key = (from_root_thread, r.count);
            if best.as_ref().is_none_or(|(_, k)| key > *k) {
                best = Some((
                    Periodic {
                        example: r.example.clone(),
                        count: r.count,
                        period_s: r.period_s,
                        jitter_s: r.jitter_s,
                        span_s: secs(r.last - r.first),
                        from_root_thread,
                        before_wait_s: before,
                        evidence: pr.evidence.clone(),
                    },
                    key,
                ));
            }
        }
        best.map(|(p, _)| p)
    }

    /// The root thread's last event before its wait start: what it said before it stopped.
    fn last_words(&self, t: &Thread) -> Option<(Hit, f64)> {
        let ws = Self::dump_ns(t.wait_start?);
        let hits = self.by_thread.get(&(t.pid, t.tid))?;
        let x = ws - self.offset_ns;
        let i = hits.partition_point(|h| h.t <= x);
        let h = *hits.get(i.checked_sub(1)?)?;
        Some((h, (x - h.t) as f64 / 1e9))
    }

    pub(crate) fn rank(&self) -> Vec<Finding> {
        let mut out = Vec::new();
        for (ci, c) in self.chains.iter().enumerate() {
            out.push(self.chain_finding(ci, c));
            if let Some(f) = self.discontinuity(ci, c) {
                out.push(f);
            }
            if let Some(f) = self.errors_near(ci, c) {
                out.push(f);
            }
        }
        out
    }

    /// What the root blocks its chain with: of the resources it owns, the one most
    /// members wait on (a root owning several critical sections blocks with the
    /// contended one, not with the first by address); the others are named as also
    /// owned.
    fn blocking_resource(&self, c: &ChainData, owned: &[String]) -> String {
        let waiting = |id: &String| {
            c.members
                .iter()
                .filter(|&&m| self.graph.waits_on(m).contains(id))
                .count()
        };
        let mut ranked: Vec<(usize, &String)> = owned.iter().map(|id| (waiting(id), id)).collect();
        // Most waiters first; ties keep the graph's (address) order.
        ranked.sort_by_key(|r| std::cmp::Reverse(r.0));
        let Some(((_, first), rest)) = ranked.split_first() else {
            return "a resource".into();
        };
        let mut what = describe_resource(self.s, first);
        if !rest.is_empty() {
            let others: Vec<String> = rest
                .iter()
                .map(|(_, id)| describe_resource(self.s, id))
                .collect();
            what.push_str(&format!(" (also owns {})", others.join(", ")));
        }
        what
    }

    fn chain_finding(&self, ci: usize, c: &ChainData) -> Finding {
        let s = self.s;
        let root = &s.threads[c.root];
        let owned = self.graph.owns(c.root);
        let what = self.blocking_resource(c, &owned);
        let blocked = c.blocked();
        let procs = if c.processes.len() > 1 {
            format!(" in {} processes", c.processes.len())
        } else {
            String::new()
        };
        let image = root.image.as_deref().unwrap_or(dumptrace_dump::NO_IMAGE);
        let orphan = c.ends_at.as_ref().and_then(|e| Some((e, e.owner_gone?)));
        let mut summary = if let Some((e, owner)) = orphan {
            format!(
                "Orphaned {}: its owner, thread {:x}.{owner:x}, is not among the process's threads (it exited inside the section, which nobody will leave now); {} thread{} wait on it directly, {blocked} in all{procs}; the longest wait is thread {} ({image}), which {}",
                describe_resource(s, &e.resource),
                root.pid,
                c.direct,
                if c.direct == 1 { "" } else { "s" },
                root.cid(),
                wait_phrase(root)
            )
        } else if let (true, Some(e)) = (c.queue_root, &c.ends_at) {
            let all_procs = c.processes.len();
            format!(
                "{} (pid {}) serves none of the messages queued for it: {} threads wait on its queue directly, {} in all across {all_procs} process{}; the longest direct wait is thread {} ({image}), which {}",
                e.server_image.as_deref().unwrap_or("a process"),
                e.server_pid.map_or("?".into(), pid_hex),
                c.direct,
                blocked,
                if all_procs == 1 { "" } else { "es" },
                root.cid(),
                wait_phrase(root)
            )
        } else if c.deadlock {
            let cycle: Vec<String> = c.cycle.iter().map(|&m| s.threads[m].cid()).collect();
            let behind = c.members.len().saturating_sub(c.cycle.len());
            format!(
                "Deadlock: {} threads wait on each other ({}){}; thread {} ({image}) {}",
                c.cycle.len(),
                cycle.join(", "),
                if behind > 0 {
                    format!("; {behind} more wait behind them{procs}")
                } else {
                    String::new()
                },
                root.cid(),
                wait_phrase(root)
            )
        } else {
            format!(
                "Thread {} ({image}) owns {what} and blocks {blocked} thread{}{procs}; it {}",
                root.cid(),
                if blocked == 1 { "" } else { "s" },
                wait_phrase(root)
            )
        };
        if let (false, None, Some(e)) = (c.queue_root, orphan, &c.ends_at) {
            if e.resource.starts_with("irp:") {
                summary.push_str(&format!(
                    "; its IRP {} is pending in {}",
                    e.resource.trim_start_matches("irp:"),
                    e.server_image.as_deref().unwrap_or("a driver")
                ));
            } else {
                summary.push_str(&format!(
                    " on {}, which no thread serves{}",
                    describe_resource(s, &e.resource),
                    match (&e.server_image, e.server_pid) {
                        (Some(img), Some(pid)) => {
                            format!(" (queued for {img}, pid {})", pid_hex(pid))
                        }
                        (Some(img), None) => format!(" (queued for {img})"),
                        _ => String::new(),
                    }
                ));
            }
        }
        let mut evidence = vec![thread_evidence(root)];
        let gone = orphan.map(|(e, _)| e.resource.as_str());
        for cs in s.critical_sections.iter().filter(|cs| {
            let id = crate::graph::cs_id(cs.address, cs.pid.unwrap_or(u32::MAX));
            owned.contains(&id) || gone == Some(id.as_str())
        }) {
            evidence.push(Evidence {
                time_raw: None,
                source: crate::patterns::entry_source(s, &cs.source, cs.line),
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
        if orphan.is_some() {
            // Nothing will release the section: as sure a hang as a deadlock.
            kind = "orphaned-critical-section";
            confidence += 0.2;
        }
        if let Some(p) = self.periodic_error(root) {
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
                p.example,
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
        } else if let Some((h, gap)) = self.last_words(root) {
            if let Some(e) = self.evidence(h) {
                summary.push_str(&format!(
                    "; its last trace event, {gap:.3} s before its wait began: '{}'",
                    e.message
                ));
                evidence.push(e);
            }
        }
        Finding {
            rank: 0,
            kind: kind.into(),
            summary,
            pid: Some(root.pid),
            tid: Some(root.tid),
            chain: Some(ci + 1),
            confidence,
            evidence,
        }
    }

    /// Blocked threads stop logging: the chain's members' last words, and other
    /// threads that went silent at the same moment as the chain's first waiter.
    fn discontinuity(&self, ci: usize, c: &ChainData) -> Option<Finding> {
        let s = self.s;
        let mut silent = Vec::new();
        let mut words: BTreeMap<String, (usize, String)> = BTreeMap::new();
        for &m in &c.members {
            if m == c.root && !c.deadlock {
                continue;
            }
            let t = &s.threads[m];
            let Some((h, gap)) = self.last_words(t) else {
                continue;
            };
            let after = self
                .by_thread
                .get(&(t.pid, t.tid))
                .map(|v| v.last().is_some_and(|l| l.t > h.t))
                .unwrap_or(false);
            if gap <= 1.0 && !after {
                silent.push((m, h, gap));
                if let Some(v) = self.view {
                    let msg = v.message(h);
                    let e = words
                        .entry(dumptrace_trace::template_of(msg))
                        .or_insert((0, msg.to_string()));
                    e.0 += 1;
                }
            }
        }
        let with_events = c
            .members
            .iter()
            .filter(|&&m| c.deadlock || m != c.root)
            .filter(|&&m| {
                self.by_thread
                    .contains_key(&(s.threads[m].pid, s.threads[m].tid))
            })
            .count();
        if silent.len() < 2 {
            return None;
        }
        let (top_count, top_msg) = words
            .values()
            .max_by_key(|(n, _)| *n)
            .cloned()
            .unwrap_or((0, String::new()));
        let root = &s.threads[c.root];
        let mut summary = format!(
            "{} of the {} blocked threads of chain {} with trace events logged for the last time less than 1 s before their wait start and never after; the commonest last words ({} threads): '{}'",
            silent.len(),
            with_events,
            ci + 1,
            top_count,
            top_msg
        );
        // Other threads (any process) that went silent when the first member did.
        let first = silent
            .iter()
            .min_by_key(|(_, h, _)| h.t)
            .map(|(_, h, _)| h.t);
        if let Some(first) = first {
            let members: std::collections::HashSet<(u32, u32)> = c
                .members
                .iter()
                .map(|&m| (s.threads[m].pid, s.threads[m].tid))
                .collect();
            let lasts = self.last;
            let lo = lasts.partition_point(|(t, _)| *t < first - 1_000_000_000);
            let hi = lasts.partition_point(|(t, _)| *t <= first + 1_000_000_000);
            let mut quiet: Vec<(u32, u32)> = lasts[lo..hi]
                .iter()
                .map(|(_, k)| *k)
                .filter(|k| !members.contains(k))
                .collect();
            quiet.sort_unstable();
            if !quiet.is_empty() {
                summary.push_str(&format!(
                    "; {} other thread(s) went silent within 1 s of the first of them: {}",
                    quiet.len(),
                    quiet
                        .iter()
                        .take(5)
                        .map(|(p, t)| format!("{p}.{t}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        let mut evidence: Vec<Evidence> = Vec::new();
        silent.sort_by_key(|(_, h, _)| h.t);
        for (m, h, _) in silent.iter().take(4) {
            evidence.push(thread_evidence(&s.threads[*m]));
            evidence.extend(self.evidence(*h));
        }
        let share = silent.len() as f64 / with_events.max(1) as f64;
        Some(Finding {
            rank: 0,
            kind: "trace-discontinuity".into(),
            summary,
            pid: Some(root.pid),
            tid: Some(root.tid),
            chain: Some(ci + 1),
            confidence: 0.4 + 0.3 * share,
            evidence,
        })
    }

    /// Error messages of the root's process near its wait start, other than the
    /// periodic one already reported.
    fn errors_near(&self, ci: usize, c: &ChainData) -> Option<Finding> {
        let s = self.s;
        let root = &s.threads[c.root];
        let a = self.anchor(root)?;
        let hits = self.by_process.get(&root.pid)?;
        let view = self.view?;
        let from = a - 60_000_000_000 - self.offset_ns;
        let to = a + 5_000_000_000 - self.offset_ns;
        let lo = hits.partition_point(|h| h.t < from);
        let hi = hits.partition_point(|h| h.t <= to);
        let periodic = self
            .periodic_error(root)
            .map(|p| dumptrace_trace::template_of(&p.example));
        let mut by_template: BTreeMap<String, Vec<Hit>> = BTreeMap::new();
        for &h in &hits[lo..hi] {
            let msg = view.message(h);
            if !is_error(msg) {
                continue;
            }
            let tpl = dumptrace_trace::template_of(msg);
            if periodic.as_ref() == Some(&tpl) || msg.to_ascii_lowercase().contains("retry") {
                continue;
            }
            by_template.entry(tpl).or_default().push(h);
        }
        if by_template.is_empty() {
            return None;
        }
        let n: usize = by_template.values().map(Vec::len).sum();
        let names: Vec<String> = by_template
            .values()
            .take(3)
            .map(|v| format!("'{}' x{}", view.message(v[0]), v.len()))
            .collect();
        let evidence = by_template
            .values()
            .flat_map(|v| v.iter().take(2))
            .take(6)
            .filter_map(|&h| self.evidence(h))
            .collect();
        Some(Finding {
            rank: 0,
            kind: "errors-near-wait".into(),
            summary: format!(
                "Process {} ({}) logged {n} error message(s) in the minute before thread {} began waiting: {}",
                root.pid,
                root.image.as_deref().unwrap_or(dumptrace_dump::NO_IMAGE),
                root.cid(),
                names.join(", ")
            ),
            pid: Some(root.pid),
            tid: Some(root.tid),
            chain: Some(ci + 1),
            confidence: 0.45,
            evidence,
        })
    }
}

/// Orders findings and numbers them. The rule, in order:
/// 1. deadlocks, the one blocking most threads first;
/// 2. the findings about a wait chain, the chain blocking most threads first; of one
///    chain, the finding that states the chain (`wait-chain`, `periodic-error`) before
///    those that add to it (the trace's discontinuities and errors near its root);
/// 3. findings about no chain (what stands behind a chain's end, such as a process
///    stuck in exit, which the chain's finding names; dump-wide patterns).
///
/// Ties go to the most confident, then to chain order. Confidence says how sure a
/// finding's evidence makes us; it orders findings of one place in this rule, never
/// one above another, so a well-evidenced side observation cannot push the chain
/// that explains the hang off the first line.
pub(crate) fn number(findings: &mut [Finding], chains: &[ChainData]) {
    for f in findings.iter_mut() {
        f.confidence = (f.confidence.min(0.99) * 100.0).round() / 100.0;
    }
    let key = |f: &Finding| {
        let chain = f.chain.and_then(|c| chains.get(c.wrapping_sub(1)));
        let behind = usize::MAX - chain.map_or(0, ChainData::blocked);
        match (f.kind.as_str(), chain) {
            ("deadlock", _) => (0, behind, 0),
            ("wait-chain" | "periodic-error", Some(_)) => (1, behind, 0),
            (_, Some(_)) => (1, behind, 1),
            (_, None) => (2, 0, 0),
        }
    };
    findings.sort_by(|a, b| {
        key(a)
            .cmp(&key(b))
            .then(b.confidence.total_cmp(&a.confidence))
            .then(
                a.chain
                    .unwrap_or(usize::MAX)
                    .cmp(&b.chain.unwrap_or(usize::MAX)),
            )
    });
    for (i, f) in findings.iter_mut().enumerate() {
        f.rank = i + 1;
    }
    // A chain that ends at a process whose exit is blocked says so, with the number
    // of the finding that shows the exit (seed: ServiceB's lock owner waits for
    // ServiceA, which is stuck in DllB!Cleanup under ExitProcess).
    let exits: Vec<(u32, usize)> = findings
        .iter()
        .filter(|f| f.kind == "blocked-exit")
        .filter_map(|f| Some((f.pid?, f.rank)))
        .collect();
    for f in findings.iter_mut() {
        let Some(end) = f
            .chain
            .and_then(|c| chains.get(c.wrapping_sub(1)))
            .and_then(|c| c.ends_at.as_ref())
        else {
            continue;
        };
        if let Some(&(_, rank)) = exits.iter().find(|(pid, _)| Some(*pid) == end.server_pid) {
            f.summary.push_str(&format!(
                "; {} is stuck in its own exit (finding {rank})",
                end.server_image.as_deref().unwrap_or("that process")
            ));
        }
    }
}
