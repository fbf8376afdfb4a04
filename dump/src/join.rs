//! Joining a debugger log and a binary dump of the same incident.
//!
//! The dump header's time is the dump time (a log's `Debug session time` is the
//! debugger's view of the same instant, printed in its machine's zone). Where
//! the two disagree, or where the thread sets of one process differ, the
//! merged snapshot says so in its notes.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::DumpSnapshot;

/// Header times are whole seconds (minidump TimeDateStamp); a log prints
/// milliseconds. Differences up to this are the same instant.
const SAME_INSTANT_MS: i64 = 1000;

/// Puts the part whose time comes from a dump header first (so that its time
/// becomes the dump time), lends it a log's zone when it has none, and returns
/// the notes on what disagrees.
pub(crate) fn prepare(parts: &mut Vec<DumpSnapshot>) -> Vec<String> {
    let header = parts
        .iter()
        .position(|p| p.session_time.is_some() && p.dump_files.iter().any(|f| f.time.is_some()));
    let Some(h) = header else {
        return Vec::new();
    };
    let first = parts.remove(h);
    parts.insert(0, first);
    let mut notes = Vec::new();
    let (head, rest) = parts.split_at_mut(1);
    let Some(chosen) = head[0].session_time.as_mut() else {
        return notes;
    };
    let Some(utc) = chosen.utc else {
        return notes;
    };
    for other in rest.iter().filter_map(|p| p.session_time.as_ref()) {
        let Some(other_utc) = other.utc else {
            notes.push(format!(
                "the dump time is {} from a dump header; '{}' (another input) has no zone and was not compared",
                utc.to_rfc3339(),
                other.raw
            ));
            continue;
        };
        let diff_ms = (other_utc - utc).num_milliseconds();
        if diff_ms.abs() > SAME_INSTANT_MS {
            notes.push(format!(
                "inputs disagree on the dump time: '{}' is {:+.3} s from '{}'; the dump header's time is used",
                other.raw,
                diff_ms as f64 / 1000.0,
                chosen.raw
            ));
        } else if chosen.offset.is_none() {
            // The header has no zone (kernel dumps, minidumps without MiscInfo v3):
            // take the log's, which describes the same instant.
            if let Some(o) = other.offset {
                chosen.offset = Some(o);
                chosen.local = utc.with_timezone(&o).naive_local();
                chosen.raw = format!("{} (zone UTC{o} from '{}')", chosen.raw, other.raw);
            }
        }
    }
    notes.extend(thread_set_notes(parts));
    notes
}

/// Per process seen by both a binary dump and a log: threads only one shows.
fn thread_set_notes(parts: &[DumpSnapshot]) -> Vec<String> {
    type Tids = BTreeMap<u32, BTreeSet<u32>>;
    let mut from_dump: Tids = BTreeMap::new();
    let mut from_log: Tids = BTreeMap::new();
    for p in parts {
        let side = if p.dump_files.is_empty() {
            &mut from_log
        } else {
            &mut from_dump
        };
        for t in &p.threads {
            side.entry(t.pid).or_default().insert(t.tid);
        }
    }
    let mut notes = Vec::new();
    for (pid, dump_tids) in &from_dump {
        let Some(log_tids) = from_log.get(pid) else {
            continue;
        };
        let only_dump: Vec<String> = dump_tids
            .difference(log_tids)
            .map(|t| format!("{t:x}"))
            .collect();
        let only_log: Vec<String> = log_tids
            .difference(dump_tids)
            .map(|t| format!("{t:x}"))
            .collect();
        if only_dump.is_empty() && only_log.is_empty() {
            continue;
        }
        notes.push(format!(
            "process {pid:x}: the dump file has {} thread(s) the log does not show [{}]; the log has {} the dump file lacks [{}]",
            only_dump.len(),
            only_dump.join(" "),
            only_log.len(),
            only_log.join(" ")
        ));
    }
    notes
}
