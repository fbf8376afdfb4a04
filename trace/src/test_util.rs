//! Column readers the unit tests of every reader share.

use chrono::{DateTime, Utc};

use crate::{schema, Trace};

/// A small deterministic generator (xorshift64) for the robustness tests: each call
/// steps it and returns the new state.
pub(crate) fn xorshift(mut seed: u64) -> impl FnMut() -> u64 {
    move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    }
}

/// The `time` column as RFC 3339 UTC text.
pub(crate) fn times(t: &Trace) -> Vec<String> {
    let col = t.frame.column(schema::TIME).expect("time");
    col.datetime()
        .expect("datetime")
        .physical()
        .iter()
        .map(|ns| {
            DateTime::<Utc>::from_timestamp_nanos(ns.expect("time never null"))
                .format("%Y-%m-%dT%H:%M:%S%.fZ")
                .to_string()
        })
        .collect()
}

pub(crate) fn strs<'a>(t: &'a Trace, name: &str) -> Vec<Option<&'a str>> {
    let col = t.frame.column(name).expect("col");
    col.str().expect("str").iter().collect()
}

pub(crate) fn u32s(t: &Trace, name: &str) -> Vec<Option<u32>> {
    let col = t.frame.column(name).expect("col");
    col.u32().expect("u32").iter().collect()
}

/// The report's time note says `part` (shown whole when it does not).
pub(crate) fn assert_time_note(t: &Trace, part: &str) {
    assert!(
        t.report.time_note.contains(part),
        "time note lacks {part:?}: {}",
        t.report.time_note
    );
}
