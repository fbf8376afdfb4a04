//! What every fuzz target checks: a reader returns a result or an error for any input, and
//! its report accounts for every row it produced.

use std::path::Path;

use chrono::{FixedOffset, NaiveDate, TimeZone, Utc};
use dumptrace_trace::{CsvMapping, ReadOptions, TimeContext, TimeFormat};

/// A fixed clock for date-less traces, so the time-of-day paths run too.
pub fn ctx() -> TimeContext {
    TimeContext {
        date: NaiveDate::from_ymd_opt(2009, 10, 9),
        offset: FixedOffset::west_opt(4 * 3600).expect("valid offset"),
        source: "fuzz".into(),
    }
}

/// Reads `data` as a dump-side input (log, minidump or kernel dump header).
pub fn dump(name: &str, data: &[u8]) {
    read_dump(name, data);
}

/// Reads `data` as a dump-side input, then correlates what was read: the wait
/// graph, chains and findings must stand on any snapshot a reader can produce.
pub fn dump_and_analyze(name: &str, data: &[u8]) {
    if let Some(load) = read_dump(name, data) {
        let a = dumptrace_correlate::analyze(&load.snapshot, &[], &Default::default());
        let _ = serde_json::to_string(&a);
    }
}

fn read_dump(name: &str, data: &[u8]) -> Option<dumptrace_dump::DumpLoad> {
    let load = dumptrace_dump::read_bytes(Path::new(name), data).ok()?;
    let r = &load.report;
    assert_eq!(r.skipped, r.skip_reasons.values().sum::<u64>());
    // The rendered report must be printable whatever the input held.
    let _ = serde_json::to_string(&load.report);
    Some(load)
}

/// Reads `data` as a trace with `opts`.
pub fn trace(name: &str, data: &[u8], opts: &ReadOptions) {
    if let Ok(t) = dumptrace_trace::read_bytes_with(Path::new(name), data, &ctx(), opts) {
        let r = &t.report;
        assert_eq!(r.records as usize, t.frame.height(), "rows vs records");
        assert_eq!(r.skipped, r.skip_reasons.values().sum::<u64>());
        let _ = serde_json::to_string(r);
    }
}

/// Options with a trace start, for formats whose times are relative.
pub fn anchored() -> ReadOptions {
    ReadOptions::new(Utc.with_ymd_and_hms(2009, 10, 9, 14, 0, 0).single(), None)
}

/// The column mapping of `fixtures/traces/mapped.csv`.
pub fn mapped() -> ReadOptions {
    ReadOptions::new(
        None,
        Some(CsvMapping {
            time_col: "when".into(),
            pid_col: Some("proc".into()),
            tid_col: Some("thread".into()),
            message_col: Some("text".into()),
            time_format: Some(TimeFormat::Strftime("%d.%m.%Y %H:%M:%S,%3f".into())),
        }),
    )
}
