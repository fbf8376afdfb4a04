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

use super::grammar::hex_token;
use crate::model::Resource;

#[derive(Default)]
pub(crate) struct LocksParser {
    current: Option<Resource>,
    waiting: Waiting,
}

#[derive(Default, Clone, Copy)]
enum Waiting {
    #[default]
    None,
    Exclusive,
    Shared,
}

impl LocksParser {
    /// Feeds one line; returns a finished resource when a new one starts.
    pub(crate) fn line(&mut self, t: &str, n: u64) -> Option<Resource> {
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
            self.current = address.map(|address| Resource {
                address,
                symbol,
                exclusive: rest.contains("Exclusively owned"),
                contention_count: None,
                exclusive_waiters_count: None,
                shared_waiters_count: None,
                owners: Vec::new(),
                exclusive_waiters: Vec::new(),
                shared_waiters: Vec::new(),
                line: n,
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
            // `86ba5638-01<*>`: thread address, hold count, `<*>` = exclusive owner.
            for w in rest.split_whitespace() {
                if w.starts_with("<<") {
                    break;
                }
                if let Some(a) = w.split('-').next().and_then(hex_token) {
                    r.owners.push(a);
                }
            }
            return None;
        }
        let list = match self.waiting {
            Waiting::Exclusive => &mut r.exclusive_waiters,
            Waiting::Shared => &mut r.shared_waiters,
            Waiting::None => return None,
        };
        for w in t.split_whitespace() {
            match hex_token(w) {
                Some(a) => list.push(a),
                None => break,
            }
        }
        None
    }

    pub(crate) fn finish(&mut self) -> Option<Resource> {
        self.waiting = Waiting::None;
        self.current.take()
    }
}
