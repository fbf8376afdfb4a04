//! The trace events correlation needs, read once from each input's DataFrame.

use chrono::{DateTime, Utc};
use dumptrace_trace::schema;
use polars::prelude::*;

/// One trace input: where it came from and its events in the fixed schema.
pub struct TraceSource {
    /// The path as the user gave it; evidence lines are `label:line`.
    pub label: String,
    pub frame: DataFrame,
}

/// One trace event, as correlation and the timeline exports use it.
#[derive(Debug, Clone)]
pub struct TraceEvent {
    pub time: DateTime<Utc>,
    pub pid: Option<u32>,
    pub tid: Option<u32>,
    pub message: String,
    /// `trace.txt:4513`.
    pub source: String,
    pub input_line: Option<u64>,
}

/// All events of all trace inputs, in time order (stable: equal times keep input order).
pub fn trace_events(sources: &[TraceSource]) -> PolarsResult<Vec<TraceEvent>> {
    let mut out = Vec::new();
    for s in sources {
        let df = &s.frame;
        let time = df.column(schema::TIME)?.datetime()?.physical();
        let pid = df.column(schema::PID)?.u32()?;
        let tid = df.column(schema::TID)?.u32()?;
        let msg = df.column(schema::MESSAGE)?.str()?;
        let line = df.column(schema::INPUT_LINE)?.u64()?;
        for i in 0..df.height() {
            let Some(ns) = time.get(i) else { continue };
            let n = line.get(i);
            out.push(TraceEvent {
                time: DateTime::from_timestamp_nanos(ns),
                pid: pid.get(i),
                tid: tid.get(i),
                message: msg.get(i).unwrap_or("").to_string(),
                source: match n {
                    Some(n) => format!("{}:{n}", s.label),
                    None => s.label.clone(),
                },
                input_line: n,
            });
        }
    }
    out.sort_by_key(|e| e.time);
    Ok(out)
}
