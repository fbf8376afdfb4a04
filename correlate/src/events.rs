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
    /// The time as the file writes it.
    pub time_raw: Option<String>,
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
    raw: Option<&'a StringChunked>,
    /// Row where each chunk ends, when every column is chunked like `time` (a reader's
    /// frame always is); empty otherwise.
    ends: Vec<usize>,
}

impl<'a> Cols<'a> {
    /// Row `i` of `ca` in O(log chunks). `ChunkedArray::get` walks the chunk list on every
    /// call, and a large trace read in pieces has hundreds of chunks.
    fn at<T: PolarsDataType>(&self, ca: &'a ChunkedArray<T>, i: usize) -> Option<T::Physical<'a>> {
        if self.ends.is_empty() {
            // Columns chunked differently (not a reader's frame): the slow path.
            return ca.get(i);
        }
        let chunk = self.ends.partition_point(|&e| e <= i);
        let start = chunk.checked_sub(1).map_or(0, |c| self.ends[c]);
        ca.downcast_get(chunk)?.get(i - start)
    }
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
                raw: df.column(schema::TIME_RAW).ok().and_then(|c| c.str().ok()),
                ends: Vec::new(),
            });
            if let Some(c) = cols.last_mut() {
                let same = |lens: &mut dyn Iterator<Item = usize>| lens.eq(c.time.chunk_lengths());
                let aligned = same(&mut c.pid.chunk_lengths())
                    && same(&mut c.tid.chunk_lengths())
                    && same(&mut c.msg.chunk_lengths())
                    && same(&mut c.line.chunk_lengths())
                    && c.raw.is_none_or(|r| same(&mut r.chunk_lengths()));
                if aligned {
                    c.ends = c
                        .time
                        .chunk_lengths()
                        .scan(0, |end, n| {
                            *end += n;
                            Some(*end)
                        })
                        .collect();
                }
            }
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
        let n = c.at(c.line, i);
        let t = c.at(c.time, i).unwrap_or(0);
        TraceEvent {
            time: DateTime::from_timestamp_nanos(t.saturating_add(offset_ns)),
            pid: c.at(c.pid, i),
            tid: c.at(c.tid, i),
            message: c.at(c.msg, i).unwrap_or("").to_string(),
            source: match n {
                Some(n) => format!("{}:{n}", c.label),
                None => c.label.to_string(),
            },
            input_line: n,
            time_raw: c
                .raw
                .and_then(|r| c.at(r, i))
                .filter(|r| !r.is_empty())
                .map(str::to_string),
        }
    }

    pub(crate) fn message(&self, hit: Hit) -> &'a str {
        self.row_message(hit.src as usize, hit.row as usize)
    }

    pub(crate) fn row_message(&self, src: usize, i: usize) -> &'a str {
        let c = &self.cols[src];
        c.at(c.msg, i).unwrap_or("")
    }

    /// One pass over every event: calls `f(pid, tid, hit)` for each timed event.
    fn scan(&self, mut f: impl FnMut(Option<u32>, Option<u32>, Hit)) {
        for (src, c) in self.cols.iter().enumerate() {
            let src = src as u32;
            // Fast path: the three columns chunked alike (always so for frames the
            // readers build): walk the raw value slices and validity bitmaps
            // instead of per-element Option iterators.
            let aligned = c.time.chunk_lengths().eq(c.pid.chunk_lengths())
                && c.time.chunk_lengths().eq(c.tid.chunk_lengths());
            if aligned {
                let mut row = 0u32;
                let chunks = c
                    .time
                    .downcast_iter()
                    .zip(c.pid.downcast_iter())
                    .zip(c.tid.downcast_iter());
                for ((ta, pa), da) in chunks {
                    let (tv, pv, dv) = (ta.values(), pa.values(), da.values());
                    let (tn, pn, dn) = (ta.validity(), pa.validity(), da.validity());
                    for i in 0..tv.len() {
                        let r = row + i as u32;
                        if tn.is_some_and(|b| !b.get_bit(i)) {
                            continue;
                        }
                        let pid = pn.is_none_or(|b| b.get_bit(i)).then(|| pv[i]);
                        let tid = dn.is_none_or(|b| b.get_bit(i)).then(|| dv[i]);
                        f(
                            pid,
                            tid,
                            Hit {
                                t: tv[i],
                                src,
                                row: r,
                            },
                        );
                    }
                    row += tv.len() as u32;
                }
                continue;
            }
            let it = c.time.iter().zip(c.pid.iter()).zip(c.tid.iter());
            for (row, ((t, pid), tid)) in it.enumerate() {
                if let Some(t) = t {
                    f(
                        pid,
                        tid,
                        Hit {
                            t,
                            src,
                            row: row as u32,
                        },
                    );
                }
            }
        }
    }

    /// One pass over every event: the events of the given threads and of the
    /// given processes (each list in time order), and every thread's last event
    /// (time order). See [`Indexer`] for how the per-event lookup stays in cache.
    pub(crate) fn index(&self, threads: &HashSet<(u32, u32)>, pids: &HashSet<u32>) -> Index {
        let mut ix = Indexer::new(threads, pids);
        self.scan(|pid, tid, hit| {
            if let (Some(p), Some(t)) = (pid, tid) {
                ix.add((p, t), hit);
            }
        });
        ix.finish()
    }
}

/// What the index pass keeps per thread seen: 24 bytes.
struct Slot {
    last: Hit,
    /// Index in `thread_lists` + 1, or 0 when the thread's events are not kept.
    thread: u32,
    /// Index in `process_lists` + 1, or 0.
    process: u32,
}

/// How many partitions the threads are split into (a power of two).
const PARTITIONS: usize = 256;
/// Events held back before they are applied partition by partition (96 MiB of
/// them at most). A partition's table is reloaded into the cache once per batch,
/// so the batch must be large against the tables: with 2^18 events a 200,000-thread
/// run still cost three times more per event than a 20,000-thread one; with 2^22 the
/// cost per event no longer depends on the thread count (`bench-correlate`).
/// Tests use a small batch so that small inputs cross many batches.
const BATCH: usize = if cfg!(test) { 1 << 12 } else { 1 << 22 };

/// The index pass. One hash lookup per event into a table of every thread seen
/// is a cache miss once a busy server's few hundred thousand threads outgrow
/// the cache, so the cost per event grew with the thread count. Instead the
/// threads are split by a hash of their id into [`PARTITIONS`] small tables;
/// events are buffered per partition ([`BATCH`] at a time) and applied one
/// partition after another, so each lookup hits a table that is in cache.
/// One thread lives in one partition, so its events keep their order.
struct Indexer<'a> {
    threads: &'a HashSet<(u32, u32)>,
    pids: &'a HashSet<u32>,
    tables: Vec<HashMap<(u32, u32), Slot>>,
    pending: Vec<Vec<((u32, u32), Hit)>>,
    held: usize,
    thread_lists: Vec<Vec<Hit>>,
    thread_keys: Vec<(u32, u32)>,
    process_lists: Vec<Vec<Hit>>,
    process_keys: Vec<u32>,
    process_slot: HashMap<u32, u32>,
}

impl<'a> Indexer<'a> {
    fn new(threads: &'a HashSet<(u32, u32)>, pids: &'a HashSet<u32>) -> Self {
        Indexer {
            threads,
            pids,
            tables: (0..PARTITIONS).map(|_| HashMap::default()).collect(),
            pending: (0..PARTITIONS).map(|_| Vec::new()).collect(),
            held: 0,
            thread_lists: Vec::new(),
            thread_keys: Vec::new(),
            process_lists: Vec::new(),
            process_keys: Vec::new(),
            process_slot: HashMap::default(),
        }
    }

    /// The partition of a thread: a multiplicative hash of its id, a different
    /// function from the tables' own hash so that a table's keys do not share hash bits.
    fn partition((p, t): (u32, u32)) -> usize {
        let h = (u64::from(p) << 32 | u64::from(t)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (h >> (64 - PARTITIONS.trailing_zeros())) as usize
    }

    fn add(&mut self, key: (u32, u32), hit: Hit) {
        if let Some(v) = self.pending.get_mut(Self::partition(key)) {
            v.push((key, hit));
        }
        self.held += 1;
        if self.held == BATCH {
            self.apply();
        }
    }

    /// Applies the held events, one partition at a time.
    fn apply(&mut self) {
        self.held = 0;
        for (table, pending) in self.tables.iter_mut().zip(self.pending.iter_mut()) {
            for ((p, t), hit) in pending.drain(..) {
                let slot = table.entry((p, t)).or_insert_with(|| {
                    let thread = if self.threads.contains(&(p, t)) {
                        self.thread_lists.push(Vec::new());
                        self.thread_keys.push((p, t));
                        self.thread_lists.len() as u32
                    } else {
                        0
                    };
                    let process = if self.pids.contains(&p) {
                        *self.process_slot.entry(p).or_insert_with(|| {
                            self.process_lists.push(Vec::new());
                            self.process_keys.push(p);
                            self.process_lists.len() as u32
                        })
                    } else {
                        0
                    };
                    Slot {
                        last: hit,
                        thread,
                        process,
                    }
                });
                if hit.t > slot.last.t {
                    slot.last = hit;
                }
                if let Some(list) = (slot.thread as usize)
                    .checked_sub(1)
                    .and_then(|i| self.thread_lists.get_mut(i))
                {
                    list.push(hit);
                }
                if let Some(list) = (slot.process as usize)
                    .checked_sub(1)
                    .and_then(|i| self.process_lists.get_mut(i))
                {
                    list.push(hit);
                }
            }
        }
    }

    fn finish(mut self) -> Index {
        self.apply();
        let mut by_thread: HashMap<(u32, u32), Vec<Hit>> = self
            .thread_keys
            .into_iter()
            .zip(self.thread_lists)
            .collect();
        let mut by_process: HashMap<u32, Vec<Hit>> = self
            .process_keys
            .into_iter()
            .zip(self.process_lists)
            .collect();
        for v in by_thread.values_mut().chain(by_process.values_mut()) {
            v.sort_unstable();
        }
        let mut last: Vec<(i64, (u32, u32))> = self
            .tables
            .into_iter()
            .flatten()
            .map(|(k, s)| (s.last.t, k))
            .collect();
        last.sort_unstable();
        Index {
            by_thread,
            by_process,
            last,
        }
    }
}

/// What one pass over the trace gives correlation.
#[derive(Default)]
pub(crate) struct Index {
    pub by_thread: HashMap<(u32, u32), Vec<Hit>>,
    pub by_process: HashMap<u32, Vec<Hit>>,
    /// Every thread's last event time, sorted.
    pub last: Vec<(i64, (u32, u32))>,
}

/// All events of all trace inputs, in time order (stable: equal times keep input order).
pub fn trace_events(sources: &[TraceSource]) -> PolarsResult<Vec<TraceEvent>> {
    let view = TraceView::new(sources)?;
    let mut hits = Vec::new();
    view.scan(|_, _, h| hits.push(h));
    hits.sort_by_key(|h| h.t);
    Ok(hits.into_iter().map(|h| view.event(h, 0)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn piece(first: i64, n: i64) -> DataFrame {
        let rows = first..first + n;
        let time = Int64Chunked::from_vec(schema::TIME.into(), rows.clone().collect())
            .into_datetime(TimeUnit::Nanoseconds, Some(TimeZone::UTC));
        DataFrame::new_infer_height(vec![
            time.into_column(),
            Column::new(
                schema::PID.into(),
                rows.clone().map(|r| r as u32 % 7).collect::<Vec<u32>>(),
            ),
            Column::new(
                schema::TID.into(),
                rows.clone().map(|r| r as u32).collect::<Vec<u32>>(),
            ),
            Column::new(
                schema::MESSAGE.into(),
                rows.clone()
                    .map(|r| format!("event {r}"))
                    .collect::<Vec<String>>(),
            ),
            Column::new(
                schema::INPUT_LINE.into(),
                rows.map(|r| r as u64 + 1).collect::<Vec<u64>>(),
            ),
        ])
        .expect("frame")
    }

    /// A frame of several chunks (as the readers build them) reads row by row exactly like
    /// its rows say, through the chunk search.
    #[test]
    fn rows_of_a_chunked_frame() {
        let mut frame = piece(0, 5);
        frame.vstack_mut_owned(piece(5, 1)).expect("same schema");
        frame.vstack_mut_owned(piece(6, 9)).expect("same schema");
        let sources = [TraceSource {
            label: "t.txt".into(),
            frame,
        }];
        let view = TraceView::new(&sources).expect("view");
        assert_eq!(view.cols[0].ends, [5, 6, 15]);
        for i in 0..15usize {
            let e = view.row_event(0, i, 0);
            assert_eq!(e.time.timestamp_nanos_opt(), Some(i as i64));
            assert_eq!((e.pid, e.tid), (Some(i as u32 % 7), Some(i as u32)));
            assert_eq!(e.message, format!("event {i}"));
            assert_eq!(e.source, format!("t.txt:{}", i + 1));
            assert_eq!(view.row_message(0, i), format!("event {i}"));
        }
    }

    /// The partitioned pass gives what one lookup per event into one table gives:
    /// every list and every last event, over forty batches and
    /// with times out of order (a merge of inputs is not sorted).
    #[test]
    fn index_equals_a_direct_pass() {
        let n = BATCH * 40 + 1_234;
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let (mut time, mut pid, mut tid) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..n {
            let r = next();
            time.push((r % 1_000_000) as i64);
            pid.push((r >> 20) as u32 % 50);
            tid.push((r >> 32) as u32 % 3000);
        }
        let frame = DataFrame::new_infer_height(vec![
            Int64Chunked::from_vec(schema::TIME.into(), time.clone())
                .into_datetime(TimeUnit::Nanoseconds, Some(TimeZone::UTC))
                .into_column(),
            Column::new(schema::PID.into(), pid.clone()),
            Column::new(schema::TID.into(), tid.clone()),
            Column::new(schema::MESSAGE.into(), vec![""; n]),
            Column::new(schema::INPUT_LINE.into(), vec![0u64; n]),
        ])
        .expect("frame");
        let sources = [TraceSource {
            label: "t.txt".into(),
            frame,
        }];
        let threads: HashSet<(u32, u32)> = (0..3000).step_by(7).map(|t| (t % 50, t)).collect();
        let pids: HashSet<u32> = [3, 17, 42].into_iter().collect();
        let ix = TraceView::new(&sources)
            .expect("view")
            .index(&threads, &pids);

        let mut by_thread: HashMap<(u32, u32), Vec<Hit>> = HashMap::default();
        let mut by_process: HashMap<u32, Vec<Hit>> = HashMap::default();
        let mut last: HashMap<(u32, u32), i64> = HashMap::default();
        for row in 0..n {
            let (k, t) = ((pid[row], tid[row]), time[row]);
            let hit = Hit {
                t,
                src: 0,
                row: row as u32,
            };
            if threads.contains(&k) {
                by_thread.entry(k).or_default().push(hit);
            }
            if pids.contains(&k.0) {
                by_process.entry(k.0).or_default().push(hit);
            }
            let l = last.entry(k).or_insert(t);
            *l = (*l).max(t);
        }
        for v in by_thread.values_mut().chain(by_process.values_mut()) {
            v.sort_unstable();
        }
        let mut last: Vec<(i64, (u32, u32))> = last.into_iter().map(|(k, t)| (t, k)).collect();
        last.sort_unstable();
        assert!(by_thread.len() > 100 && by_process.len() == 3);
        assert_eq!(ix.by_thread, by_thread);
        assert_eq!(ix.by_process, by_process);
        assert_eq!(ix.last, last);
    }
}
