//! The trace side as correlation sees it: the events of every input, read in
//! place from their polars columns. Messages are fetched only for the rows that
//! become evidence, so tens of millions of events cost their times and ids.

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use chrono::{DateTime, Utc};
use dumptrace_trace::schema;
use polars::prelude::*;

/// One trace input: where it came from and its events in the fixed schema.
pub struct TraceSource {
    /// The path as the user gave it; evidence lines are `label:line`.
    pub label: String,
    pub frame: DataFrame,
}

/// One trace event, as evidence lines and the timeline exports use it.
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

/// Where an event is: its time (trace clock, ns since the epoch) and its row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Hit {
    pub t: i64,
    pub src: u32,
    pub row: u32,
}

struct Cols<'a> {
    label: &'a str,
    time: &'a Int64Chunked,
    pid: &'a UInt32Chunked,
    tid: &'a UInt32Chunked,
    msg: &'a StringChunked,
    line: &'a UInt64Chunked,
}

pub(crate) struct TraceView<'a> {
    cols: Vec<Cols<'a>>,
}

impl<'a> TraceView<'a> {
    pub(crate) fn new(sources: &'a [TraceSource]) -> PolarsResult<Self> {
        let mut cols = Vec::with_capacity(sources.len());
        for s in sources {
            let df = &s.frame;
            cols.push(Cols {
                label: &s.label,
                time: df.column(schema::TIME)?.datetime()?.physical(),
                pid: df.column(schema::PID)?.u32()?,
                tid: df.column(schema::TID)?.u32()?,
                msg: df.column(schema::MESSAGE)?.str()?,
                line: df.column(schema::INPUT_LINE)?.u64()?,
            });
        }
        Ok(TraceView { cols })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.cols.iter().all(|c| c.time.is_empty())
    }

    /// The event at `hit`, with `offset_ns` added to its time.
    pub(crate) fn event(&self, hit: Hit, offset_ns: i64) -> TraceEvent {
        self.row_event(hit.src as usize, hit.row as usize, offset_ns)
    }

    /// The event in row `i` of input `src`, with `offset_ns` added to its time.
    pub(crate) fn row_event(&self, src: usize, i: usize, offset_ns: i64) -> TraceEvent {
        let c = &self.cols[src];
        let n = c.line.get(i);
        let t = c.time.get(i).unwrap_or(0);
        TraceEvent {
            time: DateTime::from_timestamp_nanos(t.saturating_add(offset_ns)),
            pid: c.pid.get(i),
            tid: c.tid.get(i),
            message: c.msg.get(i).unwrap_or("").to_string(),
            source: match n {
                Some(n) => format!("{}:{n}", c.label),
                None => c.label.to_string(),
            },
            input_line: n,
        }
    }

    pub(crate) fn message(&self, hit: Hit) -> &'a str {
        self.row_message(hit.src as usize, hit.row as usize)
    }

    pub(crate) fn row_message(&self, src: usize, i: usize) -> &'a str {
        self.cols[src].msg.get(i).unwrap_or("")
    }

    /// One pass over every event: calls `f(pid, tid, hit)` for each timed event.
    fn scan(&self, mut f: impl FnMut(Option<u32>, Option<u32>, Hit)) {
        for (src, c) in self.cols.iter().enumerate() {
            let it = c.time.iter().zip(c.pid.iter()).zip(c.tid.iter());
            for (row, ((t, pid), tid)) in it.enumerate() {
                if let Some(t) = t {
                    f(
                        pid,
                        tid,
                        Hit {
                            t,
                            src: src as u32,
                            row: row as u32,
                        },
                    );
                }
            }
        }
    }

    /// Events of the given threads, each list in time order.
    pub(crate) fn by_thread(&self, keys: &HashSet<(u32, u32)>) -> HashMap<(u32, u32), Vec<Hit>> {
        let mut out: HashMap<(u32, u32), Vec<Hit>> = HashMap::default();
        if keys.is_empty() {
            return out;
        }
        self.scan(|pid, tid, hit| {
            if let (Some(p), Some(t)) = (pid, tid) {
                if keys.contains(&(p, t)) {
                    out.entry((p, t)).or_default().push(hit);
                }
            }
        });
        for v in out.values_mut() {
            v.sort_unstable();
        }
        out
    }

    /// Events of the given processes, each list in time order.
    pub(crate) fn by_process(&self, pids: &HashSet<u32>) -> HashMap<u32, Vec<Hit>> {
        let mut out: HashMap<u32, Vec<Hit>> = HashMap::default();
        if pids.is_empty() {
            return out;
        }
        self.scan(|pid, _, hit| {
            if let Some(p) = pid {
                if pids.contains(&p) {
                    out.entry(p).or_default().push(hit);
                }
            }
        });
        for v in out.values_mut() {
            v.sort_unstable();
        }
        out
    }

    /// The last event of every thread (trace clock), for "who went silent when".
    pub(crate) fn last_by_thread(&self) -> HashMap<(u32, u32), Hit> {
        let mut out: HashMap<(u32, u32), Hit> = HashMap::default();
        self.scan(|pid, tid, hit| {
            if let (Some(p), Some(t)) = (pid, tid) {
                let e = out.entry((p, t)).or_insert(hit);
                if hit.t > e.t {
                    *e = hit;
                }
            }
        });
        out
    }
}

/// All events of all trace inputs, in time order (stable: equal times keep input order).
pub fn trace_events(sources: &[TraceSource]) -> PolarsResult<Vec<TraceEvent>> {
    let view = TraceView::new(sources)?;
    let mut hits = Vec::new();
    view.scan(|_, _, h| hits.push(h));
    hits.sort_by_key(|h| h.t);
    Ok(hits.into_iter().map(|h| view.event(h, 0)).collect())
}
