//! Reads text exports of ETW traces into one polars event frame.
//!
//! The key types:
//!
//! * [`Trace`]: what [`read_path`] / [`read_bytes`] return, a
//!   [`DataFrame`](polars::prelude::DataFrame) whose columns are fixed by [`schema`], plus a
//!   [`TraceReport`] (detected [`TraceFormat`], counts, skipped lines with reasons, and the
//!   date/offset used for UTC).
//! * [`TimeContext`]: text traces print local time, sometimes only the time of day. The caller
//!   supplies the date and the UTC offset; nothing is guessed.
//! * [`Recurrence`]: found by [`recurring`], a message template that repeats at a steady
//!   period in one process, the signature of a retry loop.
//!
//! The layouts read, recognised from content (see [`detect`]; [`TraceFormat`] lists them):
//! Tracefmt text (`[CPU]PID.TID::TIME [Provider]Message`, custom prefixes included where
//! their parts can be recognised), the viewer table (`#  PID  TID  Time  Message`),
//! `tracerpt -of CSV`, `xperf -a dumper` text, PerfView and WPA CSV exports,
//! `Get-WinEvent | Export-Csv`, and any CSV whose columns the caller names in
//! [`ReadOptions`] ([`CsvMapping`]). Formats with relative times take their start from
//! [`ReadOptions::trace_start`].
//!
//! ```
//! use std::path::Path;
//! use chrono::{FixedOffset, NaiveDate};
//! use dumptrace_trace::{read_bytes, recurring, schema, TimeContext, TraceFormat};
//!
//! let text = "#    PID  TID  Time         Message\n\
//!             1972 2780 5992 10:05:11.005 Error: Not enough space on temp disk\n\
//!             [...]\n\
//!             4513 2780 3292 10:05:17.661 Error: Not enough space on temp disk\n\
//!             4515 2780 3292 10:05:24.317 Error: Not enough space on temp disk\n";
//! let ctx = TimeContext {
//!     date: NaiveDate::from_ymd_opt(2009, 10, 9),
//!     offset: FixedOffset::west_opt(4 * 3600).expect("valid offset"),
//!     source: "zone UTC-04:00 from the dump's Debug session time".into(),
//! };
//! let trace = read_bytes(Path::new("trace.txt"), text.as_bytes(), &ctx)?;
//! assert_eq!(trace.report.format, TraceFormat::ViewerTable);
//! assert_eq!((trace.report.records, trace.report.skipped), (3, 2)); // header, elision
//! assert_eq!(trace.frame.column(schema::PID)?.u32()?.get(0), Some(2780));
//!
//! let loops = recurring(&trace.frame, 3)?;
//! assert_eq!(loops[0].tids, [3292, 5992]);
//! assert!((loops[0].period_s - 6.656).abs() < 1e-9);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod cells;
mod clock;
mod csvmap;
mod csvrow;
mod decode;
mod detect;
mod error;
mod etl;
mod formats;
mod options;
mod perfview;
mod read;
mod recur;
pub mod schema;
mod stream;
mod strings;
mod table;
mod template;
#[cfg(test)]
mod test_util;
mod timeforms;
mod tracefmt;
mod tracerpt;
mod winevent;
mod wpa;
mod xperf;

/// The cores this process may use, found once: finding it reads cgroup files, and the
/// template pass runs for every frame the correlation asks about.
pub(crate) fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

pub use detect::{detect, TraceFormat};
pub use error::Error;
/// The ETL test-data writer, for generators outside this crate (feature `synth`).
#[cfg(feature = "synth")]
pub use etl::synth as etl_synth;
pub use etl::{EtlInfo, LogfileHeader, Manifests};
pub use options::{CsvMapping, ReadOptions, TimeFormat};
pub use read::{
    looks_like_trace, looks_like_trace_with, read_bytes, read_bytes_with, read_path,
    read_path_chunks, read_path_with, Skip, Trace, TraceReport,
};
pub use recur::{recurring, templates, Recurrence, Templates};
pub use template::{template_into, template_of};

/// Where a trace's local times sit: the date for time-of-day traces and the UTC offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeContext {
    /// Date for date-less formats (from the dump or --trace-date); None = error for date-less input.
    pub date: Option<chrono::NaiveDate>,
    /// Offset of the trace's local clock from UTC (local = UTC + offset).
    pub offset: chrono::FixedOffset,
    /// Human note of where date/offset came from, e.g. "zone UTC-04:00 from the dump's Debug session time".
    pub source: String,
}
