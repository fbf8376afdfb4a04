//! `!stacks` (one row per thread: Cid, ETHREAD, Ticks, state, top frame) and
//! `!running` (each processor's current and next thread).
//!
//! `!stacks` rows become threads of origin [`ThreadOrigin::Stacks`]; when the
//! log also has the thread's `THREAD` block, the two are one thread (joined
//! by address when the snapshot is finished).
//!
//! ```text
//! Proc.Thread  .Thread  Ticks   ThreadState Blocker
//!                             [8ca72020 ApplicationA.exe]
//!  4bc.0004c4  8bf76af0 0000cc4 Blocked    nt!KeBugCheckEx+0x1b
//! ```
//!
//! Folklore:
//! - Ticks are hex: thread 89d36b60 shows `0000163` in `!stacks` and
//!   `Ticks: 355` in its THREAD block (seed: "Stack trace collection, missing
//!   threads, waiting time..."). Older builds print no Ticks column at all
//!   (`!stacks` docs: `Proc.Thread  .Thread  ThreadState  Blocker`).
//! - A LiveKd dump prints `ffffff42`: the wait began after the dump's tick
//!   count was read, a negative 32-bit difference (seed: "IRP distribution
//!   anomaly, inconsistent dump..."). It is not a wait time.
//! - Process headings are `[8ca72020 ApplicationA.exe]`, or `[System]` alone
//!   in older builds; `!stacks 2` continues a row with one frame per line.

use super::grammar::{self, hex_token};
use super::{Out, Step};
use crate::model::{Args, Frame, Thread, ThreadOrigin, ThreadState};
use crate::system::Processor;

#[derive(Default)]
pub(crate) struct StacksParser {
    process: Option<u64>,
    image: Option<compact_str::CompactString>,
    row: Option<Thread>,
    negative: Vec<String>,
}

/// Lines `!stacks` prints around its rows (the cache statistics of newer builds).
const STACKS_NOISE: &[&str] = &[
    "Proc.Thread",
    "Max cache size",
    "Total memory in cache",
    "Number of regions cached",
    "counts:",
    "bytes :",
    "** ",
    "Threads Processed",
];

impl StacksParser {
    pub(crate) fn line(&mut self, t: &str, n: u64, out: &mut Out) -> Step {
        if let Some(heading) = t.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            if super::thread::is_noise(t) {
                return Step::Used;
            }
            self.end_row(out);
            // `8ca72020 ApplicationA.exe` or `System`.
            let (address, image) = match heading.split_once(' ') {
                Some((a, i)) if hex_token(a).is_some() => (hex_token(a), i.trim()),
                _ => (None, heading.trim()),
            };
            self.process = address;
            self.image = (!image.is_empty()).then(|| image.into());
            return Step::Used;
        }
        if STACKS_NOISE.iter().any(|p| t.starts_with(p))
            || t.contains("full reads broken into")
            || super::thread::is_noise(t)
        {
            return Step::Used;
        }
        let mut words = t.split_whitespace();
        let (Some(first), second) = (words.next(), words.next()) else {
            return Step::Used;
        };
        if let Some((pid, tid)) = cid(first) {
            self.end_row(out);
            match self.row(pid, tid, second, words, n, out) {
                Some(th) => self.row = Some(th),
                None => out.skip(n, "!stacks row not understood", t),
            }
            return Step::Used;
        }
        // `!stacks 2`: the rest of the row's stack, one symbol per line.
        if let (Some(row), None) = (self.row.as_mut(), second) {
            if is_symbol(first) {
                row.stack.push(symbol_frame(first));
                return Step::Used;
            }
        }
        Step::End
    }

    fn row<'t>(
        &mut self,
        pid: u32,
        tid: u32,
        address: Option<&str>,
        mut words: impl Iterator<Item = &'t str>,
        n: u64,
        out: &Out,
    ) -> Option<Thread> {
        let address = hex_token(address?)?;
        let mut next = words.next()?;
        let mut ticks = None;
        if let (Some(v), None) = (hex_token(next), state_word(next)) {
            // `!stacks` prints a 32-bit tick difference: a wider number in its
            // place is not a Ticks column, and the row is not one we can read.
            if v > u64::from(u32::MAX) {
                return None;
            }
            ticks = Some(v);
            next = words.next()?;
        }
        let state = state_word(next)?;
        let blocker: Vec<&str> = words.collect();
        let mut th = Thread::new(address, pid, tid, state, out.source(n), n);
        th.origin = ThreadOrigin::Stacks;
        th.process_address = self.process;
        th.image = self.image.clone();
        th.kernel_stack_resident = true;
        match blocker.as_slice() {
            ["Stack", "paged", "out", ..] => th.kernel_stack_resident = false,
            [sym] if is_symbol(sym) => th.stack.push(symbol_frame(sym)),
            _ => {}
        }
        // A 32-bit tick difference above 2^31 is negative: see the module docs.
        match ticks {
            Some(v) if v >= 0x8000_0000 => {
                self.negative
                    .push(format!("{} ({v:x} = -{})", th.cid(), 0x1_0000_0000 - v))
            }
            v => th.ticks = v,
        }
        Some(th)
    }

    fn end_row(&mut self, out: &mut Out) {
        if let Some(th) = self.row.take() {
            out.record();
            out.snap.threads.push(th);
        }
    }

    pub(crate) fn end(mut self, out: &mut Out) {
        self.end_row(out);
        if !self.negative.is_empty() {
            out.snap.read_notes.push(format!(
                "!stacks shows negative Ticks for {} thread(s): they began waiting after the dump's tick count was read, so the dump is inconsistent (their wait times are not used): {}",
                self.negative.len(),
                self.negative.iter().take(20).cloned().collect::<Vec<_>>().join(", ")
            ));
        }
    }
}

/// `4bc.0004c4`: pid.tid in hex.
fn cid(s: &str) -> Option<(u32, u32)> {
    let (p, t) = s.split_once('.')?;
    Some((
        u32::try_from(hex_token(p)?).ok()?,
        u32::try_from(hex_token(t)?).ok()?,
    ))
}

/// The ThreadState column: initialized, ready, running, standby, terminated,
/// transition or blocked (`!stacks` docs). `Blocked` is a wait whose reason,
/// mode and alertability `!stacks` does not print.
pub(crate) fn state_word(w: &str) -> Option<ThreadState> {
    let s = match w.to_ascii_lowercase().as_str() {
        "blocked" | "waiting" => ThreadState::Wait {
            reason: Default::default(),
            mode: Default::default(),
            alertable: false,
        },
        "ready" | "deferredready" => ThreadState::Ready,
        "running" => ThreadState::Running { processor: None },
        "standby" => ThreadState::Standby,
        "terminated" => ThreadState::Terminated,
        "transition" => ThreadState::Transition,
        "initialized" => ThreadState::Initialized,
        "gatewait" => ThreadState::Wait {
            reason: "GateWait".into(),
            mode: Default::default(),
            alertable: false,
        },
        _ => return None,
    };
    Some(s)
}

/// `nt!KeBugCheckEx+0x1b`, `3rdPartyAVDriver+0x1394`, `+0xf6fb2044`.
fn is_symbol(w: &str) -> bool {
    w.contains('!') || w.contains("+0x") || w.starts_with("0x")
}

/// `!stacks` prints symbols only: the frame and return addresses are unknown (0).
fn symbol_frame(symbol: &str) -> Frame {
    Frame {
        frame: 0,
        ret: 0,
        args: Args::default(),
        symbol: grammar::intern(symbol),
    }
}

/// The first line of `!running` output, or its table header.
pub(crate) fn is_running_header(t: &str) -> bool {
    t.starts_with("System Processors")
        || ((t.starts_with("Prcb ") || t.starts_with("Prcbs ")) && t.contains("Current"))
}

/// `!running`:
///
/// ```text
/// System Processors ff (affinity mask)
///   Idle Processors 0
///      Prcb      Current   Next
///   0  ffdff120  86300b40            ................
///   1  f772f120  f77320a0  852fadb0  ................
/// ```
/// The 16 characters at the end are the queued spin locks (`.`, `O`, `W`);
/// `!running -t` prints each processor's stack under its row.
#[derive(Default)]
pub(crate) struct RunningParser {
    current: Option<Processor>,
    /// A stack header was seen under the current row.
    in_stack: bool,
}

impl RunningParser {
    pub(crate) fn line(&mut self, t: &str, n: u64, out: &mut Out) -> Step {
        if is_running_header(t)
            || t.starts_with("Idle Processors")
            || t.starts_with("All processors idle")
            || super::thread::is_noise(t)
        {
            return Step::Used;
        }
        if grammar::is_stack_header(t) {
            self.in_stack = self.current.is_some();
            return Step::Used;
        }
        // Frames only under a stack header, and never a row: a row
        // (`1  f772f120  f77320a0  852fadb0  ....`) also reads as a `kn` frame.
        let row = t
            .split_whitespace()
            .last()
            .is_some_and(|w| w.len() >= 8 && w.bytes().all(|b| matches!(b, b'.' | b'O' | b'W')));
        if let (Some(p), true, false) = (self.current.as_mut(), self.in_stack, row) {
            if let Some(f) = grammar::frame(t) {
                p.stack.push(f);
                return Step::Used;
            }
        }
        let mut words = t.split_whitespace();
        let Some(number) = words.next().and_then(|w| w.parse::<u32>().ok()) else {
            return Step::End;
        };
        let prcb = words.next().and_then(hex_token);
        let current = words.next().and_then(hex_token);
        let next = words.next().and_then(hex_token);
        self.end(out);
        match (prcb, current) {
            (Some(prcb), Some(current)) => {
                self.current = Some(Processor {
                    number,
                    prcb,
                    current,
                    next,
                    stack: Vec::new(),
                    line: n,
                })
            }
            _ => out.skip(n, "!running row not understood", t),
        }
        Step::Used
    }

    pub(crate) fn end(&mut self, out: &mut Out) {
        self.in_stack = false;
        if let Some(p) = self.current.take() {
            out.record();
            out.snap.processors.push(p);
        }
    }
}
