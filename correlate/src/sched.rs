//! The scheduler as a kernel trace saw it: context switches (`Thread/CSwitch`) and
//! readyings (`Dispatcher/ReadyThread`) replayed in time order into one
//! [`ThreadSched`] per thread.
//!
//! [`Sched::build`] streams over the frames' rows once. Per thread it keeps the
//! running / ready / waiting totals, the state it is in, its last switch-out (with the
//! wait reason and mode), the longest time it stayed ready without running, and the
//! last [`KEEP_CYCLES`] wait cycles (switch-out, who readied it, switch-in). Memory is
//! proportional to the number of threads, not of switches.
//!
//! Input that contradicts itself is counted in [`Sched::bad`] and reported as notes:
//! a switch-in of a thread already running, a switch-out of a thread that was not
//! running, a switch-in from a wait with no ReadyThread before it, times going back.
//!
//! ```ignore
//! let s = Sched::build(&view_sources);
//! if let Some(t) = s.threads.get(&0x1c64) {
//!     println!("last switch-out at {:?}", t.last_out.map(|o| o.at.t));
//! }
//! ```

use std::collections::VecDeque;

use compact_str::CompactString;
use dumptrace_trace::schema;
use polars::prelude::*;
use rustc_hash::FxHashMap as HashMap;

use crate::events::TraceSource;

/// `event` of a context switch row (the ETL reader's kernel class names).
pub(crate) const CSWITCH: &str = "Windows Kernel/Thread/CSwitch";
/// `event` of a ReadyThread row; the row's thread is the one that readies.
pub(crate) const READY: &str = "Windows Kernel/Dispatcher/ReadyThread";
/// Wait cycles kept per thread (the most recent).
pub(crate) const KEEP_CYCLES: usize = 8;

/// Where a scheduler event is: trace time (ns) and its row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct At {
    pub t: i64,
    pub src: u32,
    pub row: u32,
    /// Byte offset of the ETL record (`file@offset`).
    pub offset: Option<u64>,
}

/// A switch-out: why the thread stopped running.
#[derive(Debug, Clone)]
pub(crate) struct SwitchOut {
    pub at: At,
    /// `OldThreadWaitReason` (`WrResource`, `UserRequest`, `WrPreempted` ...).
    pub reason: CompactString,
    /// `OldThreadWaitMode`: `UserMode` or `KernelMode`.
    pub mode: CompactString,
    /// `OldThreadState`: `Waiting`, `Ready`, `Terminated` ...
    pub state: CompactString,
}

/// A readying: who made the thread ready, and when.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Readied {
    pub at: At,
    /// The readying thread (0: the idle thread or an interrupt, on no thread).
    pub by: u32,
    pub by_pid: Option<u32>,
}

/// One wait: the switch-out into it, the readying that ended it, the switch-in after.
#[derive(Debug, Clone)]
pub(crate) struct Cycle {
    pub out: SwitchOut,
    pub readied: Option<Readied>,
    pub ran: Option<At>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// Not seen switching yet.
    Unknown,
    Running {
        since: i64,
    },
    Ready {
        since: i64,
    },
    Waiting {
        since: i64,
    },
    Terminated,
}

/// The longest time a thread stayed ready without running.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReadySpan {
    pub from: i64,
    pub ns: i64,
    pub readied: Option<Readied>,
    /// The switch-in that ended it; `None` when it was still ready at the trace end.
    pub ran: Option<At>,
}

/// One thread's scheduling as the trace saw it.
#[derive(Debug, Clone)]
pub(crate) struct ThreadSched {
    pub pid: Option<u32>,
    pub state: State,
    pub running_ns: i64,
    pub ready_ns: i64,
    pub waiting_ns: i64,
    pub switch_ins: u64,
    pub readies: u64,
    pub last_in: Option<At>,
    pub last_out: Option<SwitchOut>,
    /// The readying pending since the last wait (moves into the cycle at switch-in).
    pending_ready: Option<Readied>,
    pub longest_ready: Option<ReadySpan>,
    /// The most recent waits, oldest first.
    pub cycles: VecDeque<Cycle>,
}

impl ThreadSched {
    /// Ends a ready span at `t` (`ran`: the switch-in, or none at the trace end).
    fn ready_until(&mut self, since: i64, t: i64, ran: Option<At>) {
        let ns = span(since, t);
        self.ready_ns = self.ready_ns.saturating_add(ns);
        if self.longest_ready.is_none_or(|l| ns > l.ns) {
            self.longest_ready = Some(ReadySpan {
                from: since,
                ns,
                readied: self.pending_ready,
                ran,
            });
        }
    }

    fn new() -> Self {
        ThreadSched {
            pid: None,
            state: State::Unknown,
            running_ns: 0,
            ready_ns: 0,
            waiting_ns: 0,
            switch_ins: 0,
            readies: 0,
            last_in: None,
            last_out: None,
            pending_ready: None,
            longest_ready: None,
            cycles: VecDeque::new(),
        }
    }
}

/// Counts of rows that contradict the model (see the module doc).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Bad {
    pub switched_in_twice: u64,
    pub out_without_in: u64,
    pub ran_without_ready: u64,
    pub out_of_order: u64,
    pub unparsed: u64,
}

/// Every thread's scheduling, keyed by thread id.
#[derive(Debug, Default)]
pub(crate) struct Sched {
    pub threads: HashMap<u32, ThreadSched>,
    pub switches: u64,
    pub readyings: u64,
    pub first: Option<i64>,
    pub end: Option<i64>,
    pub bad: Bad,
}

/// Nanoseconds from `since` to `t`; zero when the times went back (counted apart),
/// saturating on a hostile file's extreme times.
fn span(since: i64, t: i64) -> i64 {
    t.saturating_sub(since).max(0)
}

/// The `key=value` pairs of a kernel message (`Thread/CSwitch K=v; K=v`), in one pass
/// over its bytes (the model reads every CSwitch message: this is its hot loop).
fn pairs(msg: &str) -> Pairs<'_> {
    let at = msg.find(' ').map_or(msg.len(), |i| i + 1);
    Pairs { msg, at }
}

struct Pairs<'m> {
    msg: &'m str,
    at: usize,
}

impl<'m> Iterator for Pairs<'m> {
    type Item = (&'m str, &'m str);

    fn next(&mut self) -> Option<Self::Item> {
        let b = self.msg.as_bytes();
        while self.at < b.len() {
            let start = self.at;
            let mut eq = None;
            let mut i = start;
            while i < b.len() && b[i] != b';' {
                if eq.is_none() && b[i] == b'=' {
                    eq = Some(i);
                }
                i += 1;
            }
            // Past the `;` and the blank after it, if any.
            self.at = i + 1;
            if b.get(self.at) == Some(&b' ') {
                self.at += 1;
            }
            if let Some(e) = eq {
                // `=` and `;` are ASCII: both cuts fall on character boundaries.
                return Some((self.msg.get(start..e)?, self.msg.get(e + 1..i)?));
            }
        }
        None
    }
}

/// A decimal id; numbers may carry thousands separators (`3,680`, as PerfView-style
/// renderings print them).
fn number(v: &str) -> Option<u32> {
    let mut n: u32 = 0;
    let mut any = false;
    for b in v.trim().bytes() {
        match b {
            b'0'..=b'9' => {
                n = n.checked_mul(10)?.checked_add(u32::from(b - b'0'))?;
                any = true;
            }
            b',' => {}
            _ => return None,
        }
    }
    any.then_some(n)
}

/// The fields of a CSwitch message the model reads.
#[derive(Default)]
struct Switch<'m> {
    new: Option<u32>,
    old: Option<u32>,
    new_pid: Option<u32>,
    old_pid: Option<u32>,
    reason: &'m str,
    mode: &'m str,
    state: &'m str,
}

impl<'m> Switch<'m> {
    fn parse(m: &'m str) -> Self {
        let mut s = Switch::default();
        for (k, v) in pairs(m) {
            match k {
                "NewThreadID" => s.new = number(v),
                "OldThreadID" => s.old = number(v),
                "NewProcessID" => s.new_pid = number(v),
                "OldProcessID" => s.old_pid = number(v),
                "OldThreadWaitReason" => s.reason = v,
                "OldThreadWaitMode" => s.mode = v,
                "OldThreadState" => s.state = v,
                _ => {}
            }
        }
        s
    }
}

impl Sched {
    /// Replays the CSwitch and ReadyThread rows of every source, in row order
    /// (the readers' order is time order; a time going back is counted).
    pub(crate) fn build(sources: &[TraceSource]) -> Self {
        let mut s = Sched::default();
        for (src, source) in sources.iter().enumerate() {
            // A frame without the columns has no scheduler events.
            let _ = s.feed(src as u32, &source.frame);
        }
        s.finish();
        s
    }

    fn feed(&mut self, src: u32, df: &DataFrame) -> PolarsResult<()> {
        let time = df.column(schema::TIME)?.datetime()?.physical();
        let pid = df.column(schema::PID)?.u32()?;
        let tid = df.column(schema::TID)?.u32()?;
        let event = df.column(schema::EVENT)?.str()?;
        let msg = df.column(schema::MESSAGE)?.str()?;
        let off = df.column(schema::INPUT_OFFSET)?.u64()?;
        // Text inputs carry no event names: nothing to replay.
        if event.null_count() == event.len() {
            return Ok(());
        }
        let rows = time
            .iter()
            .zip(pid.iter())
            .zip(tid.iter())
            .zip(event.iter())
            .zip(msg.iter())
            .zip(off.iter());
        for (row, (((((t, p), d), e), m), o)) in rows.enumerate() {
            let (Some(t), Some(e)) = (t, e) else { continue };
            let is_switch = e == CSWITCH;
            if !is_switch && e != READY {
                continue;
            }
            let at = At {
                t,
                src,
                row: row as u32,
                offset: o,
            };
            let m = m.unwrap_or("");
            if let Some(end) = self.end {
                if t < end {
                    self.bad.out_of_order += 1;
                }
            }
            self.first = Some(self.first.map_or(t, |f| f.min(t)));
            self.end = Some(self.end.map_or(t, |x| x.max(t)));
            if is_switch {
                self.switch(at, m);
            } else {
                self.ready(at, p, d, m);
            }
        }
        Ok(())
    }

    fn switch(&mut self, at: At, m: &str) {
        let sw = Switch::parse(m);
        let (Some(new), Some(old)) = (sw.new, sw.old) else {
            self.bad.unparsed += 1;
            return;
        };
        self.switches += 1;
        let t = at.t;
        // Thread 0 is the idle thread of every CPU: not a thread that waits.
        if old != 0 {
            let th = self.threads.entry(old).or_insert_with(ThreadSched::new);
            if let Some(p) = sw.old_pid {
                th.pid = Some(p);
            }
            match th.state {
                State::Running { since } => {
                    th.running_ns = th.running_ns.saturating_add(span(since, t))
                }
                State::Unknown => {}
                _ => self.bad.out_without_in += 1,
            }
            let out = SwitchOut {
                at,
                reason: sw.reason.into(),
                mode: sw.mode.into(),
                state: sw.state.into(),
            };
            th.state = match out.state.as_str() {
                "Waiting" => State::Waiting { since: t },
                "Terminated" => State::Terminated,
                // Preempted or yielding: ready again at once.
                _ => State::Ready { since: t },
            };
            th.pending_ready = None;
            if out.state == "Waiting" {
                if th.cycles.len() == KEEP_CYCLES {
                    th.cycles.pop_front();
                }
                th.cycles.push_back(Cycle {
                    out: out.clone(),
                    readied: None,
                    ran: None,
                });
            }
            th.last_out = Some(out);
        }
        if new != 0 {
            let th = self.threads.entry(new).or_insert_with(ThreadSched::new);
            if let Some(p) = sw.new_pid {
                th.pid = Some(p);
            }
            match th.state {
                State::Running { .. } => self.bad.switched_in_twice += 1,
                State::Ready { since } => th.ready_until(since, t, Some(at)),
                State::Waiting { since } => {
                    th.waiting_ns = th.waiting_ns.saturating_add(span(since, t));
                    self.bad.ran_without_ready += 1;
                }
                State::Unknown | State::Terminated => {}
            }
            if let Some(c) = th.cycles.back_mut() {
                if c.ran.is_none() && th.last_out.as_ref().is_some_and(|o| o.at == c.out.at) {
                    c.ran = Some(at);
                    c.readied = th.pending_ready;
                }
            }
            th.pending_ready = None;
            th.state = State::Running { since: t };
            th.switch_ins += 1;
            th.last_in = Some(at);
        }
    }

    fn ready(&mut self, at: At, pid: Option<u32>, tid: Option<u32>, m: &str) {
        let woken = pairs(m).find_map(|(k, v)| (k == "AwakenedThreadID").then(|| number(v)));
        let Some(woken) = woken.flatten() else {
            self.bad.unparsed += 1;
            return;
        };
        self.readyings += 1;
        let th = self.threads.entry(woken).or_insert_with(ThreadSched::new);
        let r = Readied {
            at,
            by: tid.unwrap_or(0),
            by_pid: pid,
        };
        th.readies += 1;
        match th.state {
            State::Waiting { since } => {
                th.waiting_ns = th.waiting_ns.saturating_add(span(since, at.t));
                th.state = State::Ready { since: at.t };
                th.pending_ready = Some(r);
            }
            State::Unknown => {
                th.state = State::Ready { since: at.t };
                th.pending_ready = Some(r);
            }
            // Readied while ready (a second signal) or running (a wait satisfied
            // before the switch-out was logged): the first readying stands.
            _ => {}
        }
    }

    /// Closes the spans still open at the trace end.
    fn finish(&mut self) {
        let Some(end) = self.end else { return };
        for th in self.threads.values_mut() {
            match th.state {
                State::Running { since } => {
                    th.running_ns = th.running_ns.saturating_add(span(since, end))
                }
                State::Waiting { since } => {
                    th.waiting_ns = th.waiting_ns.saturating_add(span(since, end))
                }
                State::Ready { since } => th.ready_until(since, end, None),
                State::Unknown | State::Terminated => {}
            }
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.switches == 0
    }

    /// The counts of contradicting rows, as notes.
    pub(crate) fn notes(&self) -> Vec<String> {
        let b = &self.bad;
        let mut n = Vec::new();
        let mut say = |count: u64, what: &str| {
            if count > 0 {
                n.push(format!("scheduler model: {count} {what}"));
            }
        };
        say(
            b.switched_in_twice,
            "switch-in(s) of a thread already running (a switch-out missing: lost events?)",
        );
        say(
            b.out_without_in,
            "switch-out(s) of a thread that was not running (a switch-in missing)",
        );
        say(
            b.ran_without_ready,
            "switch-in(s) from a wait with no ReadyThread before (ReadyThread not recorded or lost)",
        );
        say(
            b.out_of_order,
            "scheduler event(s) earlier than one before them (CPUs' buffers out of order); durations clamped at zero",
        );
        say(b.unparsed, "CSwitch/ReadyThread row(s) without thread ids");
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(rows: &[(i64, u32, &str, String)]) -> TraceSource {
        let n = rows.len();
        let df = DataFrame::new(
            n,
            vec![
                Int64Chunked::from_vec(schema::TIME.into(), rows.iter().map(|r| r.0).collect())
                    .into_datetime(TimeUnit::Nanoseconds, None)
                    .into_column(),
                UInt32Chunked::from_vec(schema::PID.into(), vec![7; n]).into_column(),
                UInt32Chunked::from_vec(schema::TID.into(), rows.iter().map(|r| r.1).collect())
                    .into_column(),
                StringChunked::from_iter_values(schema::EVENT.into(), rows.iter().map(|r| r.2))
                    .into_column(),
                StringChunked::from_iter_values(
                    schema::MESSAGE.into(),
                    rows.iter().map(|r| r.3.as_str()),
                )
                .into_column(),
                UInt64Chunked::from_vec(schema::INPUT_OFFSET.into(), (0..n as u64).collect())
                    .into_column(),
            ],
        )
        .expect("frame");
        TraceSource {
            label: "k.etl".into(),
            frame: df,
        }
    }

    fn cs(
        t: i64,
        new: u32,
        old: u32,
        reason: &str,
        state: &str,
    ) -> (i64, u32, &'static str, String) {
        (
            t,
            old,
            CSWITCH,
            format!(
                "Thread/CSwitch NewThreadID={new}; OldThreadID={old}; NewThreadPriority=8; \
                 OldThreadPriority=8; PreviousCState=0; SpareByte=0; OldThreadWaitReason={reason}; \
                 OldThreadWaitMode=UserMode; OldThreadState={state}; OldThreadWaitIdealProcessor=0; \
                 NewThreadWaitTime=0; OldProcessID=7; NewProcessID=7"
            ),
        )
    }

    fn rd(t: i64, by: u32, woken: u32) -> (i64, u32, &'static str, String) {
        (
            t,
            by,
            READY,
            format!("Dispatcher/ReadyThread AwakenedThreadID={woken}; AdjustReason=1; AdjustIncrement=0; Flag=0; Reserved=0"),
        )
    }

    #[test]
    fn cycles_readiers_and_totals() {
        let rows = vec![
            cs(100, 3_680, 0, "Executive", "Ready"),
            cs(200, 0, 3_680, "WrResource", "Waiting"),
            rd(500, 9, 3_680),
            cs(550, 3_680, 0, "Executive", "Ready"),
            cs(600, 0, 3_680, "WrResource", "Waiting"),
        ];
        // Thousands separators in the ids, as some renderings print them.
        let mut rows = rows;
        rows[0].3 = rows[0].3.replace("NewThreadID=3680", "NewThreadID=3,680");
        let s = Sched::build(&[frame(&rows)]);
        let t = s.threads.get(&3680).expect("thread");
        assert_eq!(t.cycles.len(), 2);
        assert_eq!(t.cycles[0].readied.map(|r| r.by), Some(9));
        assert_eq!(t.cycles[0].ran.map(|a| a.t), Some(550));
        assert_eq!(
            t.last_out.as_ref().map(|o| o.reason.as_str()),
            Some("WrResource")
        );
        assert_eq!(t.last_out.as_ref().map(|o| o.at.offset), Some(Some(4)));
        assert_eq!(t.running_ns, 150);
        assert_eq!(t.waiting_ns, 300);
        assert_eq!(t.ready_ns, 50);
        assert_eq!(t.pid, Some(7));
        assert!(s.notes().is_empty(), "{:?}", s.notes());
    }

    #[test]
    fn pairs_of_a_message() {
        let p: Vec<_> = pairs("Thread/CSwitch A=1; B=x=y; C; D=3,680").collect();
        assert_eq!(p, [("A", "1"), ("B", "x=y"), ("D", "3,680")]);
        assert_eq!(pairs("Thread/CSwitch").count(), 0);
        assert_eq!(pairs("").count(), 0);
        assert_eq!(pairs("X A=é;").collect::<Vec<_>>(), [("A", "é")]);
        assert_eq!(
            pairs("X A=1;B=2").collect::<Vec<_>>(),
            [("A", "1"), ("B", "2")]
        );
    }

    #[test]
    fn bad_input_is_counted_not_fatal() {
        let rows = vec![
            cs(100, 5, 0, "Executive", "Ready"),
            cs(90, 5, 0, "Executive", "Ready"),
            cs(200, 0, 5, "UserRequest", "Waiting"),
            cs(300, 0, 5, "UserRequest", "Waiting"),
            cs(400, 5, 0, "Executive", "Ready"),
            (500, 1, CSWITCH, "Thread/CSwitch garbage".to_string()),
        ];
        let s = Sched::build(&[frame(&rows)]);
        assert_eq!(s.bad.out_of_order, 1);
        assert_eq!(s.bad.switched_in_twice, 1);
        assert_eq!(s.bad.out_without_in, 1);
        assert_eq!(s.bad.ran_without_ready, 1);
        assert_eq!(s.bad.unparsed, 1);
        assert_eq!(s.notes().len(), 5);
    }

    #[test]
    fn longest_ready_open_at_the_end() {
        let rows = vec![
            cs(100, 0, 4, "UserRequest", "Waiting"),
            rd(200, 8, 4),
            cs(10_000, 0, 8, "UserRequest", "Waiting"),
        ];
        let s = Sched::build(&[frame(&rows)]);
        let l = s
            .threads
            .get(&4)
            .and_then(|t| t.longest_ready)
            .expect("span");
        assert_eq!((l.from, l.ns, l.ran), (200, 9_800, None));
        assert_eq!(l.readied.map(|r| r.by), Some(8));
    }
}
