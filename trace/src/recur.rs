//! Recurring messages: one template repeating at a steady period in one process, the
//! signature of a retry or polling loop (e.g. "Error: [DB Driver] Not enough space on temp
//! disk" every ~6.6 s from several threads of one process, in the seed's trace excerpt).

use std::collections::BTreeSet;

use rustc_hash::FxHashMap as HashMap;

use chrono::{DateTime, Utc};
use polars::prelude::{DataFrame, DataType, TimeUnit};

use crate::schema::{MESSAGE, PID, TID, TIME};
use crate::strings::Strings;
use crate::{template_into, Error};

/// Events of one template closer than this to the first of a burst are one occurrence
/// (a retry loop often logs the same line from several threads at once).
const BURST_NS: i64 = 1_000_000;
/// Largest jitter, as a fraction of the period, still called regular.
const MAX_JITTER: f64 = 0.1;

/// A message template that recurs regularly in one process.
#[derive(Debug, Clone, PartialEq)]
pub struct Recurrence {
    /// The message with numbers, hex and GUIDs masked ([`template_of`]).
    pub template: String,
    /// The first message with this template.
    pub example: String,
    pub pid: u32,
    /// Threads that logged it, ascending.
    pub tids: Vec<u32>,
    /// Occurrences (bursts), not events.
    pub count: usize,
    /// Median interval between occurrences, seconds.
    pub period_s: f64,
    /// Median absolute deviation of the intervals from `period_s`, seconds.
    pub jitter_s: f64,
    /// Time of the first event.
    pub first: DateTime<Utc>,
    /// Time of the last event.
    pub last: DateTime<Utc>,
    /// Frame row indices of all its events, in time order.
    pub rows: Vec<usize>,
}

struct Event {
    ns: i64,
    row: usize,
    tid: Option<u32>,
}

/// Finds templates that recur regularly per process in an event frame (columns as in
/// [`schema`](crate::schema); `time`, `pid`, `tid` and `message` are used).
///
/// Per (pid, template), events within 1 ms of a burst's first event form one occurrence.
/// A group qualifies with at least `min_count` occurrences (and at least 2) whose intervals
/// are regular: jitter ≤ 0.1 × period. Rows with a null time, pid or message are ignored.
/// Sorted by `count`, most first.
pub fn recurring(frame: &DataFrame, min_count: usize) -> Result<Vec<Recurrence>, Error> {
    templates(frame, min_count).map(|t| t.recurring)
}

/// Every message template of a frame with its number of events, and the recurring ones
/// ([`recurring`]), from one pass: masking every message is the costly part of both.
#[derive(Debug, Clone, PartialEq)]
pub struct Templates {
    /// Each template with its event count, in order of first appearance. Rows with a null
    /// message count as the empty template.
    pub counts: Vec<(String, u64)>,
    pub recurring: Vec<Recurrence>,
}

/// The frame's [`Templates`]; `min_count` as for [`recurring`].
pub fn templates(frame: &DataFrame, min_count: usize) -> Result<Templates, Error> {
    templates_in(frame, min_count, crate::cores())
}

/// [`templates`] with the rows masked in at most `stretches` stretches at once.
fn templates_in(frame: &DataFrame, min_count: usize, stretches: usize) -> Result<Templates, Error> {
    let column = |name: &'static str| {
        frame.column(name).map_err(|e| Error::Column {
            column: name,
            problem: e.to_string(),
        })
    };
    let wrong_type = |name: &'static str, want: &str, got: &DataType| Error::Column {
        column: name,
        problem: format!("expected {want}, found {got}"),
    };
    let time_col = column(TIME)?;
    let time = time_col
        .datetime()
        .map_err(|_| wrong_type(TIME, "Datetime", time_col.dtype()))?;
    let scale: i64 = match time.time_unit() {
        TimeUnit::Nanoseconds => 1,
        TimeUnit::Microseconds => 1_000,
        TimeUnit::Milliseconds => 1_000_000,
    };
    let pid_col = column(PID)?;
    let pid = pid_col
        .u32()
        .map_err(|_| wrong_type(PID, "UInt32", pid_col.dtype()))?;
    let tid_col = column(TID)?;
    let tid = tid_col
        .u32()
        .map_err(|_| wrong_type(TID, "UInt32", tid_col.dtype()))?;
    let msg_col = column(MESSAGE)?;
    let message = msg_col
        .str()
        .map_err(|_| wrong_type(MESSAGE, "String", msg_col.dtype()))?;

    // Stretches of rows are masked on every core; each numbers its templates as it first
    // sees them (a row costs one lookup by &str and no allocation), and the stretches are
    // joined in row order, so the numbering is the one a single pass gives.
    let rows = time.len();
    let n = stretches.min(rows / MIN_STRETCH).max(1);
    let step = rows.div_ceil(n);
    let masked = |from: usize, len: usize| {
        let at = i64::try_from(from).unwrap_or(i64::MAX);
        let time = time.physical().slice(at, len);
        let (pid, tid, message) = (
            pid.slice(at, len),
            tid.slice(at, len),
            message.slice(at, len),
        );
        move || {
            let rows = time
                .iter()
                .zip(pid.iter())
                .zip(tid.iter())
                .zip(message.iter());
            stretch(rows, from, scale)
        }
    };
    // Frames of one process (the correlation asks for many) take one stretch, no thread.
    let stretches: Vec<Stretch> = if n == 1 {
        vec![masked(0, rows)()]
    } else {
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..n)
                .map(|k| {
                    let from = k * step;
                    s.spawn(masked(from, step.min(rows.saturating_sub(from))))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect()
        })
    };
    let mut all = Numbering::default();
    let mut groups: HashMap<(u32, u32), Vec<Event>> = HashMap::default();
    for st in stretches {
        let global: Vec<u32> = st
            .templates
            .into_counts()
            .map(|(name, count)| all.count(&name, count))
            .collect();
        for ((pid, local), events) in st.groups {
            let id = global.get(local as usize).copied().unwrap_or(local);
            match groups.entry((pid, id)) {
                std::collections::hash_map::Entry::Occupied(mut e) => e.get_mut().extend(events),
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(events);
                }
            }
        }
    }

    let mut found = Vec::new();
    for ((pid, id), mut events) in groups {
        let template = all.names.get(id).unwrap_or_default().to_owned();
        events.sort_by_key(|e| (e.ns, e.row));
        if let Some(r) = judge(pid, template, &events, min_count.max(2)) {
            found.push(r);
        }
    }
    // Fill in examples from the frame only for the groups that qualified.
    for r in &mut found {
        if let Some(&row) = r.rows.first() {
            r.example = message.get(row).unwrap_or_default().to_owned();
        }
    }
    found.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then(a.first.cmp(&b.first))
            .then(a.pid.cmp(&b.pid))
            .then_with(|| a.template.cmp(&b.template))
    });
    Ok(Templates {
        counts: all.into_counts().collect(),
        recurring: found,
    })
}

/// Fewest rows a stretch of [`templates`] gets: below this a thread costs more than it
/// saves. (Tests take every frame through the joining of stretches.)
const MIN_STRETCH: usize = if cfg!(test) { 1 } else { 1 << 20 };

/// Templates numbered in order of first appearance, each with its event count.
#[derive(Default)]
struct Numbering {
    names: Strings,
    counts: Vec<u64>,
}

impl Numbering {
    /// Adds `n` events to `template`'s count; its number.
    fn count(&mut self, template: &str, n: u64) -> u32 {
        let id = self.names.id(template);
        if id as usize == self.counts.len() {
            self.counts.push(0);
        }
        if let Some(c) = self.counts.get_mut(id as usize) {
            *c += n;
        }
        id
    }

    /// Each template with its count, in number order.
    fn into_counts(self) -> impl Iterator<Item = (String, u64)> {
        self.names.into_vec().into_iter().zip(self.counts)
    }
}

/// What one stretch of rows gives: its templates, and its events by (pid, template
/// number in `templates`).
struct Stretch {
    templates: Numbering,
    groups: HashMap<(u32, u32), Vec<Event>>,
}

/// Masks the messages of the rows (time, pid, tid, message) that start at row `first`.
fn stretch<'a>(
    rows: impl Iterator<Item = (((Option<i64>, Option<u32>), Option<u32>), Option<&'a str>)>,
    first: usize,
    scale: i64,
) -> Stretch {
    let mut st = Stretch {
        templates: Numbering::default(),
        groups: HashMap::default(),
    };
    let mut buf = String::new();
    for (row, (((t, p), tid), m)) in rows.enumerate() {
        template_into(m.unwrap_or(""), &mut buf);
        let id = st.templates.count(&buf, 1);
        let (Some(ns), Some(p), Some(_)) = (t.and_then(|t| t.checked_mul(scale)), p, m) else {
            continue;
        };
        st.groups.entry((p, id)).or_default().push(Event {
            ns,
            row: first + row,
            tid,
        });
    }
    st
}

fn judge(pid: u32, template: String, events: &[Event], min_count: usize) -> Option<Recurrence> {
    let (first, last) = (events.first()?, events.last()?);
    let mut starts: Vec<i64> = Vec::new();
    for e in events {
        match starts.last() {
            Some(&s) if e.ns.saturating_sub(s) <= BURST_NS => {}
            _ => starts.push(e.ns),
        }
    }
    if starts.len() < min_count {
        return None;
    }
    let intervals: Vec<f64> = starts
        .windows(2)
        .map(|w| w[1].saturating_sub(w[0]) as f64 / 1e9)
        .collect();
    let period_s = median(intervals.clone())?;
    let jitter_s = median(intervals.iter().map(|i| (i - period_s).abs()).collect())?;
    if period_s <= 0.0 || jitter_s > MAX_JITTER * period_s {
        return None;
    }
    let tids: BTreeSet<u32> = events.iter().filter_map(|e| e.tid).collect();
    Some(Recurrence {
        template,
        example: String::new(),
        pid,
        tids: tids.into_iter().collect(),
        count: starts.len(),
        period_s,
        jitter_s,
        first: DateTime::from_timestamp_nanos(first.ns),
        last: DateTime::from_timestamp_nanos(last.ns),
        rows: events.iter().map(|e| e.row).collect(),
    })
}

/// The median, by selection: each (pid, template) group of a long trace has as many
/// intervals as occurrences (96,000 in the 2 GB benchmark trace), and sorting them all
/// twice per group cost more than selecting the middle.
fn median(mut v: Vec<f64>) -> Option<f64> {
    let n = v.len();
    if n == 0 {
        return None;
    }
    let (lower, upper, _) = v.select_nth_unstable_by(n / 2, f64::total_cmp);
    let upper = *upper;
    if n % 2 == 1 {
        return Some(upper);
    }
    // An even count: the mean of the two middle values; the lower one is the largest of
    // the values selected below the upper one.
    let below = lower.iter().copied().max_by(f64::total_cmp)?;
    Some((below + upper) / 2.0)
}

#[cfg(test)]
#[path = "recur_tests.rs"]
mod tests;
