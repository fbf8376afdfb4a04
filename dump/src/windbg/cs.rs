//! User-mode critical sections: `!cs -l -o -s`, `!cs ADDR` and
//! `dt _RTL_CRITICAL_SECTION ADDR`.
//!
//! ```text
//! -----------------------------------------
//! DebugInfo          = 0x7c97e420
//! Critical section   = 0x0032be30 (+0x32BE30)
//! LOCKED
//! LockCount          = 0x34
//! WaiterWoken        = No
//! OwningThread       = 0x00001c64
//! RecursionCount     = 0x1
//! LockSemaphore      = 0x7C
//! SpinCount          = 0x00000000
//! OwningThread DbgId = ~29s
//! OwningThread       = .thread 86396db0
//! ```

use super::grammar::{self, hex_token};
use super::{Ctx, Out, Step};
use crate::model::{CriticalSection, DumpSnapshot};

#[derive(Default)]
pub(crate) struct CsParser {
    cs: Option<CriticalSection>,
}

pub(crate) fn empty_cs(source: String, line: u64) -> CriticalSection {
    CriticalSection {
        address: 0,
        symbol: None,
        locked: false,
        lock_count: None,
        recursion_count: None,
        owning_tid: None,
        owning_thread: None,
        contention_count: None,
        lock_semaphore: None,
        waiter_woken: None,
        process_address: None,
        pid: None,
        line,
        source,
    }
}

/// Where a critical section belongs: the `.process` context of a kernel
/// session, or the process of a user-mode one.
pub(crate) fn place(cs: &mut CriticalSection, ctx: Ctx) {
    cs.process_address = ctx.process;
    cs.pid = ctx.pid();
}

impl CsParser {
    pub(crate) fn line(&mut self, t: &str, n: u64, ctx: Ctx, out: &mut Out) -> Step {
        if t.starts_with("-----") {
            self.end(out);
            return Step::Used;
        }
        match t {
            "LOCKED" => {
                if let Some(cs) = &mut self.cs {
                    cs.locked = true;
                }
                return Step::Used;
            }
            "NOT LOCKED" => return Step::Used,
            _ => {}
        }
        let Some((k, v)) = grammar::key_value(t) else {
            return Step::Used;
        };
        if k == "Critical section" {
            // `!cs ADDR` prints `Critical section` first; `!cs -l` prints DebugInfo first.
            if self.cs.as_ref().is_some_and(|c| c.address != 0) {
                self.end(out);
            }
            let mut words = v.split_whitespace();
            let Some(address) = words.next().and_then(hex_token) else {
                out.skip(n, "critical section address not understood", t);
                return Step::Used;
            };
            let symbol = words
                .next()
                .map(|s| s.trim_matches(|c| c == '(' || c == ')').to_string())
                .filter(|s| !s.starts_with('+'));
            let source = out.source(n);
            let cs = self.cs.get_or_insert_with(|| empty_cs(String::new(), n));
            cs.address = address;
            cs.symbol = symbol;
            cs.line = n;
            cs.source = source;
            place(cs, ctx);
            return Step::Used;
        }
        let cs = self.cs.get_or_insert_with(|| empty_cs(out.source(n), n));
        let first = v.split_whitespace().next().unwrap_or("");
        match k {
            "LockCount" => cs.lock_count = hex_token(first).map(|v| v as i64),
            "RecursionCount" => cs.recursion_count = hex_token(first).map(|v| v as u32),
            "LockSemaphore" => cs.lock_semaphore = hex_token(first),
            "WaiterWoken" => cs.waiter_woken = Some(first == "Yes"),
            "OwningThread" => {
                // Printed twice: `= 0x00001c64` (the TID) and `= .thread 86396db0`.
                if let Some(addr) = v.strip_prefix(".thread") {
                    cs.owning_thread = hex_token(addr.trim());
                } else {
                    cs.owning_tid = hex_token(first).and_then(|v| u32::try_from(v).ok());
                }
            }
            _ => {}
        }
        Step::Used
    }

    /// Ends the current entry (a `-----` rule, a blank line or the command's end).
    pub(crate) fn end(&mut self, out: &mut Out) {
        if let Some(cs) = self.cs.take() {
            if cs.address != 0 {
                out.record();
                out.snap.critical_sections.push(cs);
            }
        }
    }
}

/// `dt -r1 _RTL_CRITICAL_SECTION 0x0032be30`: `+0x014 ContentionCount  : 0xac352`.
pub(crate) fn dt_line(
    dt: &mut Vec<CriticalSection>,
    addr: u64,
    t: &str,
    n: u64,
    ctx: Ctx,
    out: &Out,
) -> Step {
    let Some((k, v)) = t.split_once(':') else {
        return Step::Used;
    };
    let name = k.split_whitespace().last().unwrap_or("");
    let value = v.split_whitespace().next().unwrap_or("");
    let i = match dt.iter().position(|c| c.address == addr) {
        Some(i) => i,
        None => {
            let mut cs = empty_cs(out.source(n), n);
            cs.address = addr;
            place(&mut cs, ctx);
            dt.push(cs);
            dt.len() - 1
        }
    };
    let entry = &mut dt[i];
    match name {
        "ContentionCount" => entry.contention_count = hex_token(value),
        "LockCount" => entry.lock_count = dt_number(value),
        "RecursionCount" => {
            entry.recursion_count = dt_number(value).and_then(|v| u32::try_from(v).ok())
        }
        "OwningThread" => {
            // `0x00000000`00002b44 Void`: the owner's thread id (a handle-free id,
            // not a HANDLE), 0 when the section is free.
            entry.owning_tid = hex_token(value).and_then(|v| u32::try_from(v).ok());
            entry.locked = entry.owning_tid.is_some_and(|t| t != 0);
        }
        _ => {}
    }
    Step::Used
}

/// A `dt` number: `0n-6` and `0n1` (decimal, what `dt` prints for `LONG` fields
/// since WinDbg 6.x: `+0x008 LockCount : 0n-6`), a bare decimal (older builds and
/// web copies), or `0x2` hex.
fn dt_number(value: &str) -> Option<i64> {
    if let Some(dec) = value.strip_prefix("0n") {
        return dec.parse().ok();
    }
    value
        .parse()
        .ok()
        .or(hex_token(value).and_then(|v| i64::try_from(v).ok()))
}

/// Applies `dt` values to the `!cs` entry of the same section, or keeps them
/// as an entry of their own.
pub(crate) fn merge_dt(snap: &mut DumpSnapshot, dt: Vec<CriticalSection>) {
    for dt in dt {
        match snap
            .critical_sections
            .iter_mut()
            .find(|c| c.address == dt.address && c.process_address == dt.process_address)
        {
            Some(cs) => {
                cs.contention_count = dt.contention_count.or(cs.contention_count);
                cs.owning_tid = cs.owning_tid.or(dt.owning_tid);
                cs.locked |= dt.locked;
                cs.lock_count = cs.lock_count.or(dt.lock_count);
                cs.recursion_count = cs.recursion_count.or(dt.recursion_count);
            }
            None => snap.critical_sections.push(dt),
        }
    }
}
