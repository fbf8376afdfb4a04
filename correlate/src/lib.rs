//! Correlation: joining what the dump says (who waits on whom, since when) with
//! what the trace says (what those threads and processes did before).
//!
//! [`analyze`] takes a [`DumpSnapshot`](dumptrace_dump::DumpSnapshot) and the
//! trace inputs ([`TraceSource`]) and returns an [`Analysis`]: the wait graph's
//! chains and deadlocks, the threads with what they wait on and own, and ranked
//! [`Finding`]s with evidence lines from both sides.
//!
//! ```no_run
//! # fn demo(snapshot: dumptrace_dump::DumpSnapshot) {
//! let analysis = dumptrace_correlate::analyze(&snapshot, &[], &Default::default());
//! for f in &analysis.findings {
//!     println!("{}. {}", f.rank, f.summary);
//! }
//! # }
//! ```

mod events;
mod findings;
mod graph;
mod report;

use chrono::SecondsFormat;
use dumptrace_dump::{DumpSnapshot, Thread};

pub use events::{trace_events, TraceEvent, TraceSource};
pub use report::{
    Alignment, Analysis, ChainOut, EventOut, Evidence, Finding, Input, ThreadId, ThreadOut,
};

/// Version of the `--json` document; bumped on incompatible changes.
pub const SCHEMA_VERSION: u32 = 1;

/// What the caller decided about clocks.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--offset`: seconds added to trace times to put them on the dump's clock.
    pub offset_seconds: Option<f64>,
    /// How trace times were put in UTC (said in `alignment.method`).
    pub trace_time_note: Option<String>,
    /// Seconds of trace shown around a chain root's wait start.
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

/// Joins a dump snapshot and trace inputs into chains and ranked findings.
pub fn analyze(snapshot: &DumpSnapshot, traces: &[TraceSource], opts: &Options) -> Analysis {
    let (graph, mut notes) = graph::WaitGraph::build(snapshot);
    notes.extend(snapshot.notes.iter().cloned());
    let offset = opts.offset_seconds.unwrap_or(0.0);
    let mut events = match events::trace_events(traces) {
        Ok(e) => e,
        Err(e) => {
            notes.push(format!(
                "trace events could not be read for correlation: {e}"
            ));
            Vec::new()
        }
    };
    if offset != 0.0 {
        let d = chrono::Duration::nanoseconds((offset * 1e9).round() as i64);
        for e in &mut events {
            e.time += d;
        }
    }
    let chains_data = graph.chains(snapshot);
    let threads = snapshot
        .threads
        .iter()
        .enumerate()
        .map(|(i, t)| ThreadOut {
            pid: t.pid,
            tid: t.tid,
            process: t.image.clone(),
            state: t.state.name().to_string(),
            wait_reason: t.state.wait_reason().map(str::to_string),
            wait_seconds: t.wait_seconds(),
            wait_start: t.wait_start.map(rfc3339),
            waits_on: graph.waits_on(i),
            owns: graph.owns(i),
            stack: t.stack.iter().map(|f| f.symbol.clone()).collect(),
            source: t.source.clone(),
        })
        .collect();
    let context = opts.context_seconds.unwrap_or(30.0);
    let chains: Vec<ChainOut> = chains_data
        .iter()
        .enumerate()
        .map(|(id, c)| findings::chain_out(snapshot, c, id + 1, &events, context))
        .collect();
    let findings = findings::rank(snapshot, &graph, &chains_data, &events, traces);
    let method = match (opts.offset_seconds, &opts.trace_time_note) {
        (Some(o), _) => format!("given with --offset ({o:+.3} s)"),
        (None, Some(note)) => format!("none applied: {note}"),
        (None, None) => "none applied: no trace input".to_string(),
    };
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
        chains,
        findings,
        alignment: Alignment {
            offset_seconds: offset,
            method,
            confidence: None,
        },
        notes,
    }
}
