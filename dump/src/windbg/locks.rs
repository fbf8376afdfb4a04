//! `!locks`, kernel form:
//!
//! ```text
//! Resource @ 0x85610d30    Exclusively owned
//!     Contention Count = 4
//!     NumberOfExclusiveWaiters = 1
//!      Threads: 86ba5638-01<*>
//!      Threads Waiting On Exclusive Access:
//!               85a6fdb0
//! ```
//! and `Resource @ DriverA (0xbae016a0)    Exclusively owned` with
//! `Threads: 83b46db0-01<*> << Too many exclusive waiters to list>>` (seed).
//!
//! `!locks` in user mode is ntsdexts' (also `!critsec ADDR`), one critical
//! section per entry:
//!
//! ```text
//! CritSec ntdll!LdrpLoaderLock+0 at 7c8877a0
//! WaiterWoken        No
//! LockCount          1
//! RecursionCount     1
//! OwningThread       1c40
//! EntryCount         0
//! ContentionCount    1
//! *** Locked
//! ```
//!
//! ntsdexts prints LockCount and RecursionCount with `%ld` (decimal) and
//! OwningThread, EntryCount and ContentionCount with `%lx` (hex), and
//! `LockCount NOT LOCKED` for -1 (ntsdexts.c `DumpCritSec`; the
//! debugger docs' "Displaying a Critical Section" examples agree).

use super::cs::{empty_cs, place};
use super::grammar::hex_token;
use super::{Ctx, Out, Step};
use crate::model::{CriticalSection, Resource};

#[derive(Default)]
pub(crate) struct LocksParser {
    current: Option<Resource>,
    waiting: Waiting,
    critsec: Option<CriticalSection>,
    /// The current entry's header says it is held (`Exclusively owned`, `Shared N
    /// owning threads`): its `Threads:` line must follow.
    held: bool,
}

#[derive(Default, Clone, Copy, PartialEq, Eq)]
enum Waiting {
    #[default]
    None,
    /// After `Threads:`: its continuation lines (a long list wraps).
    Threads,
    Exclusive,
    Shared,
}

/// The low bits of a thread address in an owner entry are flags (debugger
/// docs, `!locks`: `80ed0023-01<*> *** Actual Thread 80ed0020`); threads are
/// at least 8-byte aligned, so masking them gives the thread.
const THREAD_FLAG_BITS: u64 = 0x7;

/// One entry of a `!locks` thread list: `86ba5638-01<*>` (address, hold
/// count, `<*>`: an owner), or a bare address; None when the word is not one.
fn thread_entry(w: &str) -> Option<(u64, bool)> {
    let (w, owner) = match w.strip_suffix("<*>") {
        Some(w) => (w, true),
        None => (w, false),
    };
    let address = match w.split_once('-') {
        Some((a, count)) => {
            hex_token(count)?;
            a
        }
        None => w,
    };
    // A thread address is 8 or 16 digits (x64 with a backtick): not a count
    // such as the `2263` of `2263 total locks`.
    let digits = address.bytes().filter(u8::is_ascii_hexdigit).count();
    if digits < 8 {
        return None;
    }
    Some((hex_token(address)? & !THREAD_FLAG_BITS, owner))
}

/// Reads a line of thread entries; false (nothing taken) unless every word
/// up to `***`/`<<` is one. `<*>` entries are owners; the others wait
/// (debugger docs, `!locks`: "If a thread is followed by <*>, that thread is
/// one of the owners of the lock").
fn thread_list(t: &str, r: &mut Resource, waiting: Waiting) -> bool {
    let words: Vec<&str> = t
        .split_whitespace()
        .take_while(|w| !w.starts_with("***") && !w.starts_with("<<"))
        .collect();
    let Some(entries) = words
        .iter()
        .map(|w| thread_entry(w))
        .collect::<Option<Vec<_>>>()
    else {
        return false;
    };
    for (a, owner) in entries {
        let list = match (owner, waiting) {
            (true, _) => &mut r.owners,
            (false, Waiting::Shared) => &mut r.shared_waiters,
            // A plain entry of the `Threads:` list, or under `Threads Waiting
            // On Exclusive Access:`.
            (false, _) => &mut r.exclusive_waiters,
        };
        if !list.contains(&a) {
            list.push(a);
        }
    }
    true
}

impl LocksParser {
    pub(crate) fn line(&mut self, t: &str, n: u64, ctx: Ctx, out: &mut Out) -> Step {
        if let Some(rest) = t.strip_prefix("CritSec ") {
            self.end_critsec(out);
            self.critsec = critsec_header(rest, out.source(n), n, ctx);
            if self.critsec.is_none() {
                out.skip(n, "CritSec line not understood", t);
            }
            return Step::Used;
        }
        if let Some(cs) = &mut self.critsec {
            critsec_field(cs, t);
            return Step::Used;
        }
        if let Some(r) = self.resource_line(t, n, out) {
            out.record();
            out.snap.resources.push(r);
        }
        Step::Used
    }

    pub(crate) fn end(&mut self, out: &mut Out) {
        self.end_critsec(out);
        if let Some(r) = self.finish() {
            out.record();
            out.snap.resources.push(r);
        }
    }

    fn end_critsec(&mut self, out: &mut Out) {
        if let Some(cs) = self.critsec.take() {
            out.record();
            out.snap.critical_sections.push(cs);
        }
    }

    /// Feeds one line of the kernel form; returns a finished resource when a new one starts.
    fn resource_line(&mut self, t: &str, n: u64, out: &Out) -> Option<Resource> {
        if let Some(rest) = t.strip_prefix("Resource @") {
            let done = self.finish();
            let rest = rest.trim();
            // `0x85610d30    Exclusively owned` or `DriverA (0xbae016a0)    Exclusively owned`.
            let (symbol, address) = match rest.split_once('(') {
                Some((sym, after)) if after.contains(')') => (
                    Some(sym.trim().to_string()),
                    after.split(')').next().and_then(hex_token),
                ),
                _ => (None, rest.split_whitespace().next().and_then(hex_token)),
            };
            self.held = rest.contains("owned") || rest.contains("owning");
            self.current = address.map(|address| Resource {
                symbol,
                exclusive: rest.contains("Exclusively owned"),
                ..Resource::new(address, out.source(n), n)
            });
            self.waiting = Waiting::None;
            return done;
        }
        let r = self.current.as_mut()?;
        if let Some((k, v)) = t.split_once('=') {
            let v = v.trim().parse().ok();
            match k.trim() {
                "Contention Count" => r.contention_count = v,
                "NumberOfExclusiveWaiters" => r.exclusive_waiters_count = v.map(|v| v as u32),
                "NumberOfSharedWaiters" => r.shared_waiters_count = v.map(|v| v as u32),
                _ => {}
            }
            return None;
        }
        if t.starts_with("Threads Waiting On Exclusive Access") {
            self.waiting = Waiting::Exclusive;
            return None;
        }
        if t.starts_with("Threads Waiting On Shared Access") {
            self.waiting = Waiting::Shared;
            return None;
        }
        if let Some(rest) = t.strip_prefix("Threads:") {
            // `86ba5638-01<*>`: thread address, hold count, `<*>` = owner.
            thread_list(rest, r, Waiting::Threads);
            self.waiting = Waiting::Threads;
            return None;
        }
        // A continuation of the list, or a waiter line; anything else (the
        // next table, `2263 total locks`, a `KD: Scanning` line) ends it.
        if self.waiting != Waiting::None && !thread_list(t, r, self.waiting) {
            self.waiting = Waiting::None;
        }
        None
    }

    /// Why the entry being read looks cut short, when the input ends here: a held
    /// lock with no `Threads:` owners yet, a `Threads Waiting On ...` heading with no
    /// thread under it, or fewer exclusive waiters than `NumberOfExclusiveWaiters`
    /// (a `!locks` pasted or saved only in part; the docs' entries always list them).
    pub(crate) fn cut_short(&self) -> Option<&'static str> {
        let r = self.current.as_ref()?;
        let heading_only = match self.waiting {
            Waiting::Exclusive => r.exclusive_waiters.is_empty(),
            Waiting::Shared => r.shared_waiters.is_empty(),
            Waiting::None | Waiting::Threads => false,
        };
        let fewer = r
            .exclusive_waiters_count
            .is_some_and(|n| (r.exclusive_waiters.len() as u64) < u64::from(n));
        if self.held && r.owners.is_empty() {
            Some("input ends inside a !locks entry, before its owners (cut there)")
        } else if heading_only || fewer {
            Some("input ends inside a !locks entry's waiter list (cut there)")
        } else {
            None
        }
    }

    /// The line of the entry being read, for the note of a cut.
    pub(crate) fn entry_line(&self) -> Option<u64> {
        self.current.as_ref().map(|r| r.line)
    }

    /// A blank line ends a thread list.
    pub(crate) fn blank(&mut self) {
        self.waiting = Waiting::None;
    }

    fn finish(&mut self) -> Option<Resource> {
        self.waiting = Waiting::None;
        self.current.take()
    }
}

/// `ntdll!LdrpLoaderLock+0 at 7c8877a0`, `+24e750 at 24e750`.
fn critsec_header(rest: &str, source: String, n: u64, ctx: Ctx) -> Option<CriticalSection> {
    let (symbol, address) = rest.rsplit_once(" at ")?;
    let mut cs = empty_cs(source, n);
    cs.address = hex_token(address.trim())?;
    let symbol = symbol.trim();
    // `sym+off`: ntsdexts prints the displacement in hex without `0x`; a
    // section with no symbol prints only `+address`.
    cs.symbol = (!symbol.starts_with('+')).then(|| symbol.to_string());
    place(&mut cs, ctx);
    Some(cs)
}

fn critsec_field(cs: &mut CriticalSection, t: &str) {
    if t.starts_with("*** Locked") {
        cs.locked = true;
        return;
    }
    let mut words = t.split_whitespace();
    let (Some(k), Some(v)) = (words.next(), words.next()) else {
        return;
    };
    match k {
        "LockCount" if v == "NOT" => cs.lock_count = Some(-1),
        "LockCount" => cs.lock_count = v.parse().ok(),
        "RecursionCount" => cs.recursion_count = v.parse().ok(),
        "OwningThread" => cs.owning_tid = hex_token(v).and_then(|v| u32::try_from(v).ok()),
        "ContentionCount" => cs.contention_count = hex_token(v),
        "WaiterWoken" => cs.waiter_woken = Some(v == "Yes"),
        _ => {}
    }
}
