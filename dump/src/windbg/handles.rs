//! `!handle`, kernel and user-mode forms (debugger docs, `!handle`; seed:
//! "Crash Dump Analysis Patterns (Part 13b)").
//!
//! Kernel mode prints the process, the table, then one entry per handle:
//!
//! ```text
//! PROCESS 8896e670 SessionId: 1 Cid: 24b4 Peb: 7ffdd000 ParentCid: 1270
//!     ...
//! Handle table at e50ed000 with 8717 Entries in use
//! 0d94: Object: 88a6b020 GrantedAccess: 001f03ff Entry: e35e1b28
//! Object: 88a6b020 Type: (8b780c68) Thread
//!     ObjectHeader: 88a6b008 (old version)
//!         HandleCount: 1 PointerCount: 1
//!         Directory Object: e62c4ab8 Name: WindowStations
//! ```
//!
//! User mode prints `Handle X` entries (with `f`, every field, and for a mutant
//! its owner as `pid.tid`) and a summary per type:
//!
//! ```text
//! Handle 1b0
//!   Type             Mutant
//!   GrantedAccess    0x1f0001:
//!          Delete,ReadControl,WriteDac,WriteOwner,Synch
//!   HandleCount      2
//!   Name             \Sessions\1\BaseNamedObjects\MYMUTEX1
//!   Object Specific Information
//!     Mutex is Owned
//!     Mutant Owner aa8.3ff8
//! 6 Handles
//! Type            Count
//! Event           3
//! ```
//! `Mutant Owner 0.0` is a free mutant. Web copies prefix a stray `0` to
//! `Handle table at` (`0Handle table at e50ed000`, seed 13b).

use super::grammar::hex_token;
use super::{Ctx, Out, Step};
use crate::dumpfile::{Handle, MutantInfo};
use crate::system::HandleTable;

/// The System process.
const SYSTEM_PID: u32 = 4;

pub(crate) struct HandleParser {
    process: Option<u64>,
    pid: Option<u32>,
    current: Option<Handle>,
    table: Option<HandleTable>,
    /// Inside the user-mode `Type Count` summary.
    in_types: bool,
}

/// A line that starts a kernel handle table: `Handle table at`, `Kernel Handle
/// table at`, `New version of handle table at`.
pub(crate) fn is_table_line(t: &str) -> bool {
    t.contains("andle table at ") && t.contains("ntries in use")
}

impl HandleParser {
    pub(crate) fn new(process: Option<u64>) -> Self {
        HandleParser {
            process,
            pid: None,
            current: None,
            table: None,
            in_types: false,
        }
    }

    /// A PROCESS block printed by `!handle`: the handles after it are its own.
    pub(crate) fn set_process(&mut self, address: u64, pid: Option<u32>) {
        self.process = Some(address);
        self.pid = pid;
    }

    fn pid(&self, ctx: Ctx) -> Option<u32> {
        ctx.user_pid.or(self.pid).or(ctx.process_pid)
    }

    /// Which context a handle entry is credited to: a PROCESS block printed by
    /// `!handle` itself, else the session's current process.
    fn context(&self, ctx: Ctx) -> String {
        match (ctx.user_pid, self.process) {
            (None, Some(a)) => format!(
                "PROCESS {a:x} block before it (pid {})",
                self.pid.map_or("?".into(), |p| format!("0x{p:x}"))
            ),
            _ => ctx.describe(),
        }
    }

    pub(crate) fn line(&mut self, t: &str, n: u64, ctx: Ctx, out: &mut Out) -> Step {
        if super::thread::is_noise(t) || t.starts_with("processor number") {
            return Step::Used;
        }
        if is_table_line(t) {
            self.end(out, ctx);
            // `!handle 0 1x` lists the kernel handle table, which is the System
            // process's (pid 4), whatever the current process.
            if t.starts_with("Kernel") {
                self.process = None;
                self.pid = Some(SYSTEM_PID);
            }
            let words: Vec<&str> = t.split_whitespace().collect();
            let after = |key: &str| {
                words
                    .iter()
                    .position(|w| *w == key)
                    .and_then(|i| words.get(i + 1))
            };
            self.table = Some(HandleTable {
                process_address: self.process,
                pid: self.pid(ctx),
                kernel: t.starts_with("Kernel"),
                table: after("at").and_then(|w| hex_token(w)),
                entries: after("with").and_then(|w| w.parse().ok()),
                by_type: Vec::new(),
                line: n,
                source: out.source(n),
            });
            return Step::Used;
        }
        // Kernel entry: `0d94: Object: 88a6b020 GrantedAccess: 001f03ff Entry: e35e1b28`.
        if let Some((h, rest)) = t.split_once(": ") {
            if let (Some(handle), true) = (hex_token(h), rest.starts_with("Object:")) {
                self.end_handle(out);
                let words: Vec<&str> = rest.split_whitespace().collect();
                self.current = Some(Handle {
                    pid: self.pid(ctx),
                    context: Some(self.context(ctx)),
                    handle,
                    object: words.get(1).and_then(|w| hex_token(w)),
                    granted_access: words
                        .get(3)
                        .and_then(|w| hex_token(w))
                        .and_then(|v| u32::try_from(v).ok())
                        .unwrap_or(0),
                    ..Handle::default()
                });
                return Step::Used;
            }
            if hex_token(h).is_some() && rest.starts_with("free handle") {
                return Step::Used;
            }
        }
        // User-mode entry: `Handle 1b0`, `Handle 0000000000000078`.
        if let Some(h) = t.strip_prefix("Handle ").and_then(|h| hex_token(h.trim())) {
            self.end_handle(out);
            self.current = Some(Handle {
                pid: self.pid(ctx),
                context: Some(self.context(ctx)),
                handle: h,
                ..Handle::default()
            });
            return Step::Used;
        }
        if let Some(step) = self.summary_line(t, n, ctx, out) {
            return step;
        }
        match self.current.as_mut() {
            Some(h) => {
                field(h, t);
                Step::Used
            }
            None => Step::End,
        }
    }

    /// `6 Handles`, `Type Count`, `Event 3`, `2 handles of type Mutant`.
    fn summary_line(&mut self, t: &str, n: u64, ctx: Ctx, out: &mut Out) -> Option<Step> {
        let words: Vec<&str> = t.split_whitespace().collect();
        match words.as_slice() {
            [count, "Handles"] => {
                self.end(out, ctx);
                self.table = Some(HandleTable {
                    pid: self.pid(ctx),
                    entries: count.parse().ok(),
                    line: n,
                    source: out.source(n),
                    ..HandleTable::default()
                });
                Some(Step::Used)
            }
            ["Type", "Count"] => {
                self.end_handle(out);
                self.in_types = true;
                Some(Step::Used)
            }
            [_, "handles", "of", "type", _] => {
                self.end_handle(out);
                Some(Step::Used)
            }
            [name @ .., count] if self.in_types && !name.is_empty() => {
                let count = count.parse().ok()?;
                if let Some(table) = self.table.as_mut() {
                    table.by_type.push((name.join(" "), count));
                }
                Some(Step::Used)
            }
            _ => {
                self.in_types = false;
                None
            }
        }
    }

    fn end_handle(&mut self, out: &mut Out) {
        if let Some(h) = self.current.take() {
            out.record();
            out.snap.handles.push(h);
        }
    }

    pub(crate) fn end(&mut self, out: &mut Out, _ctx: Ctx) {
        self.end_handle(out);
        self.in_types = false;
        if let Some(t) = self.table.take() {
            out.record();
            out.snap.handle_tables.push(t);
        }
    }
}

/// One line of a handle entry, kernel or user form.
fn field(h: &mut Handle, t: &str) {
    // Kernel: `Object: 88a6b020 Type: (8b780c68) Thread`.
    if let Some(rest) = t.strip_prefix("Object:") {
        if let Some((_, ty)) = rest.split_once(')') {
            h.type_name = Some(ty.trim().to_string());
        }
        return;
    }
    if let Some(rest) = t.strip_prefix("Mutant Owner") {
        let mutant = h.mutant.get_or_insert_with(MutantInfo::default);
        if let Some((p, th)) = rest.trim().split_once('.') {
            // `0.0`: the mutant is free.
            let pid = hex_token(p).and_then(|v| u32::try_from(v).ok());
            let tid = hex_token(th).and_then(|v| u32::try_from(v).ok());
            if pid.unwrap_or(0) != 0 || tid.unwrap_or(0) != 0 {
                mutant.owner_pid = pid;
                mutant.owner_tid = tid;
            }
        }
        return;
    }
    if let Some(rest) = t.strip_prefix("Mutex is ") {
        let mutant = h.mutant.get_or_insert_with(MutantInfo::default);
        mutant.abandoned = Some(rest.contains("Abandoned"));
        return;
    }
    // `HandleCount: 1 PointerCount: 1` (kernel) or `HandleCount  \t2` (user).
    let words: Vec<&str> = t
        .split(|c: char| c.is_whitespace() || c == ':')
        .filter(|w| !w.is_empty())
        .collect();
    let mut i = 0;
    while i < words.len() {
        let next = words.get(i + 1).copied().unwrap_or("");
        let number = || next.parse::<u32>().ok();
        match words[i] {
            "HandleCount" => h.handle_count = number().unwrap_or(h.handle_count),
            "PointerCount" => h.pointer_count = number().unwrap_or(h.pointer_count),
            "Attributes" => h.attributes = hex_token(next).map_or(h.attributes, |v| v as u32),
            "GrantedAccess" => {
                h.granted_access = hex_token(next).map_or(h.granted_access, |v| v as u32)
            }
            "Type" if i == 0 => h.type_name = Some(words[1..].join(" ")),
            "Name" => {
                // `Name  \t\Sessions\1\...` or `Directory Object: X  Name: WindowStations`.
                let name = t.split_once("Name").map(|(_, r)| r).unwrap_or("");
                let name = name.trim_start_matches(':').trim();
                if !name.is_empty() && name != "<none>" {
                    h.object_name = Some(name.to_string());
                }
                return;
            }
            _ => {}
        }
        i += 1;
    }
}
