//! Correlation: joining what the dump says (who waits on whom, since when) with
//! what the trace says (what those threads and processes did before).
//!
//! [`analyze`] takes a [`DumpSnapshot`](dumptrace_dump::DumpSnapshot) and the
//! trace inputs ([`TraceSource`]) and returns an [`Analysis`]: the wait graph's
//! chains and deadlocks, the threads with what they wait on and own, the clock
//! alignment between dump and trace, and ranked [`Finding`]s with evidence lines
//! from both sides.
//!
//! ```no_run
//! # fn demo(snapshot: dumptrace_dump::DumpSnapshot) {
//! let analysis = dumptrace_correlate::analyze(&snapshot, &[], &Default::default());
//! for f in &analysis.findings {
//!     println!("{}. {}", f.rank, f.summary);
//! }
//! # }
//! ```

mod advice;
mod alignment;
mod events;
mod findings;
mod graph;
pub mod ids;
mod patterns;
mod report;
mod sched;
mod sched_join;
#[cfg(test)]
mod tests;
mod tree;

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use chrono::SecondsFormat;
use dumptrace_dump::{DumpSnapshot, Thread, ThreadState};

pub use events::{trace_events, TraceEvent, TraceSource};
pub use report::{
    Alignment, Analysis, ChainOut, EndsAtOut, EventOut, Evidence, Finding, FirstBlocked, Input,
    SwitchOuts, ThreadId, ThreadOut,
};
pub use tree::{chain_trees, TreeNode, TreeRow};

/// How many of the most recently blocked threads the alignment may look at.
const ALIGNMENT_THREADS: usize = 2000;

/// Version of the `--json` document; bumped on incompatible changes.
pub const SCHEMA_VERSION: u32 = 1;

/// What the caller decided about clocks.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--offset`: seconds added to trace times to put them on the dump's clock.
    /// When absent the offset is estimated from the inputs.
    pub offset_seconds: Option<f64>,
    /// How trace times were put in UTC (said in `alignment.method`).
    pub trace_time_note: Option<String>,
    /// Seconds of trace shown before a chain root's wait start (default 30).
    pub context_seconds: Option<f64>,
}

pub(crate) fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

pub(crate) fn thread_id(t: &Thread) -> ThreadId {
    ThreadId {
        pid: t.pid,
        tid: t.tid,
    }
}

/// What the scheduler model made of the traces' CSwitch/ReadyThread rows: for the
/// benchmark and for tools that want the counts alone.
#[derive(Debug, Clone)]
pub struct SchedStats {
    pub threads: usize,
    pub switches: u64,
    pub readyings: u64,
    /// Threads ready at least 100 ms without running.
    pub starved: usize,
    pub notes: Vec<String>,
}

/// Builds the scheduler model over `traces` (see the `sched` module) and counts it.
pub fn scheduler_stats(traces: &[TraceSource]) -> SchedStats {
    let s = sched::Sched::build(traces);
    SchedStats {
        threads: s.threads.len(),
        switches: s.switches,
        readyings: s.readyings,
        starved: s
            .threads
            .values()
            .filter(|t| {
                t.longest_ready
                    .is_some_and(|r| r.ns >= sched_join::STARVED_NS)
            })
            .count(),
        notes: s.notes(),
    }
}

/// Joins a dump snapshot and trace inputs into chains and ranked findings.
pub fn analyze(snapshot: &DumpSnapshot, traces: &[TraceSource], opts: &Options) -> Analysis {
    let (graph, mut notes) = graph::WaitGraph::build(snapshot);
    notes.extend(snapshot.notes.iter().cloned());
    let view = match events::TraceView::new(traces) {
        Ok(v) => Some(v),
        Err(e) => {
            notes.push(format!(
                "trace events could not be read for correlation: {e}"
            ));
            None
        }
    };
    let sched = sched::Sched::build(traces);
    notes.extend(sched.notes());
    let chains = graph.chains(snapshot);

    // Events of the threads correlation looks at: chain members ("last words")
    // and the most recently blocked threads (the alignment's samples).
    let mut waiting: HashSet<(u32, u32)> = chains
        .iter()
        .flat_map(|c| c.members.iter())
        .map(|&m| (snapshot.threads[m].pid, snapshot.threads[m].tid))
        .collect();
    let mut recent: Vec<&Thread> = snapshot
        .threads
        .iter()
        .filter(|t| matches!(t.state, ThreadState::Wait { .. }) && t.wait_start.is_some())
        .collect();
    recent.sort_by_key(|t| std::cmp::Reverse(t.wait_start));
    waiting.extend(
        recent
            .iter()
            .take(ALIGNMENT_THREADS)
            .map(|t| (t.pid, t.tid)),
    );
    let root_pids: HashSet<u32> = chains
        .iter()
        .map(|c| snapshot.threads[c.root].pid)
        .collect();
    let index = view
        .as_ref()
        .map(|v| v.index(&waiting, &root_pids))
        .unwrap_or_default();
    let by_thread = &index.by_thread;
    let by_process = &index.by_process;
    let has_trace = view.as_ref().is_some_and(|v| !v.is_empty());
    let (offset_ns, alignment) = align(snapshot, by_thread, &sched, has_trace, opts);

    let ctx = findings::Ctx {
        s: snapshot,
        graph: &graph,
        chains: &chains,
        view: view.as_ref(),
        traces,
        by_thread,
        by_process,
        last: &index.last,
        offset_ns,
        context_ns: (opts.context_seconds.unwrap_or(30.0) * 1e9) as i64,
        recur_cache: Default::default(),
        by_pid: Default::default(),
    };
    let chain_outs: Vec<ChainOut> = chains
        .iter()
        .enumerate()
        .map(|(i, c)| ctx.chain_out(c, i + 1))
        .collect();
    let mut findings = ctx.rank();
    findings.extend(
        sched_join::Join {
            s: snapshot,
            chains: &chains,
            sched: &sched,
            view: view.as_ref(),
            traces,
            offset_ns,
        }
        .findings(),
    );
    findings.extend(patterns::dump_patterns(snapshot, &chains, &graph));
    findings::number(&mut findings, &chains);
    let first_blocked = chain_outs
        .iter()
        .filter_map(|c| c.first_blocked.map(|f| (c.id, f)))
        .filter_map(|(id, f)| {
            let t = snapshot
                .threads
                .iter()
                .find(|t| t.pid == f.pid && t.tid == f.tid)?;
            Some(FirstBlocked {
                pid: f.pid,
                tid: f.tid,
                chain: id,
                wait_seconds: t.wait_seconds()?,
            })
        })
        .max_by(|a, b| a.wait_seconds.total_cmp(&b.wait_seconds));
    let threads = snapshot
        .threads
        .iter()
        .enumerate()
        .map(|(i, t)| ThreadOut {
            pid: t.pid,
            tid: t.tid,
            process: t.image.as_deref().map(str::to_string),
            state: t.state.name().to_string(),
            wait_reason: t.state.wait_reason().map(str::to_string),
            wait_seconds: t.wait_seconds(),
            wait_start: t.wait_start.map(rfc3339),
            waits_on: graph.waits_on(i),
            owns: graph.owns(i),
            stack: t.frames().map(|f| f.symbol.to_string()).collect(),
            source: t.source.clone(),
        })
        .collect();
    let mut alignment = alignment;
    if let Some(n) = &opts.trace_time_note {
        alignment.method = format!("{}; trace times: {n}", alignment.method);
    }
    Analysis {
        schema_version: SCHEMA_VERSION,
        inputs: Vec::new(),
        dump_time: snapshot
            .session_time
            .as_ref()
            .and_then(|s| s.utc)
            .map(rfc3339),
        dump_time_raw: snapshot.session_time.as_ref().map(|s| s.raw.clone()),
        tick: snapshot.tick_source.clone(),
        threads,
        chains: chain_outs,
        findings,
        first_blocked,
        alignment,
        notes,
    }
}

/// The offset to apply and how it was chosen: given, estimated, or none.
fn align(
    s: &DumpSnapshot,
    by_thread: &HashMap<(u32, u32), Vec<events::Hit>>,
    sched: &sched::Sched,
    has_trace: bool,
    opts: &Options,
) -> (i64, Alignment) {
    if let Some(o) = opts.offset_seconds {
        return (
            (o * 1e9).round() as i64,
            Alignment {
                offset_seconds: o,
                method: format!("given with --offset ({o:+.3} s)"),
                confidence: None,
                switch_outs: None,
            },
        );
    }
    if !has_trace {
        return (0, Alignment::none("no trace input"));
    }
    if let Some(f) = sched_join::align(s, sched) {
        let ms = |ns: i64| (ns as f64 / 1e3).round() / 1e3;
        return (
            f.offset_ns,
            Alignment {
                offset_seconds: f.offset_ns as f64 / 1e9,
                method: format!(
                    "estimated from switch-outs: {} of {} blocked threads whose last context switch in the trace is a wait of the dump's wait reason agree within a tick (wait start minus switch-out: median {:+.3} s, spread {} ms; the offsets all of them allow span {} ms)",
                    f.agree,
                    f.samples,
                    f.median_ns as f64 / 1e9,
                    ms(f.spread_ns),
                    ms(f.window_ns),
                ),
                confidence: Some(
                    ((f.agree as f64 / f.samples as f64) * (f.agree.min(10) as f64 / 10.0) * 100.0)
                        .round()
                        / 100.0,
                ),
                switch_outs: Some(SwitchOuts {
                    samples: f.samples,
                    agree: f.agree,
                    spread_ms: ms(f.spread_ns),
                }),
            },
        );
    }
    let mut samples = alignment::samples(s, by_thread);
    let tick = i64::try_from(s.tick_ns).unwrap_or(15_625_000);
    match alignment::estimate(&mut samples, tick) {
        Some(e) if e.confidence >= 0.3 => {
            let secs = e.offset_ns as f64 / 1e9;
            let how = if e.snapped_to_zone {
                format!(
                    "the zone offset {:+} min explains the trace: {} of {} blocked threads with trace events log for the last time within 1 s before their wait start and never after",
                    e.zone_offset_ns / 60_000_000_000,
                    e.consistent,
                    e.threads
                )
            } else {
                format!(
                    "zone candidate {:+} min, then a fine search: {} of {} blocked threads with trace events log for the last time within 1 s before their wait start and never after (resolution about 50 ms)",
                    e.zone_offset_ns / 60_000_000_000,
                    e.consistent,
                    e.threads
                )
            };
            (
                e.offset_ns,
                Alignment {
                    offset_seconds: secs,
                    method: format!("estimated: {how}"),
                    confidence: Some(e.confidence),
                    switch_outs: None,
                },
            )
        }
        Some(e) => (
            0,
            Alignment {
                offset_seconds: 0.0,
                method: format!(
                    "none applied: the best estimate ({:+.3} s) fits only {} of {} blocked threads; pass --offset to set it",
                    e.offset_ns as f64 / 1e9,
                    e.consistent,
                    e.threads
                ),
                confidence: Some(e.confidence),
                switch_outs: None,
            },
        ),
        None => (
            0,
            Alignment::none("fewer than 3 blocked threads have trace events, too few to estimate an offset"),
        ),
    }
}
