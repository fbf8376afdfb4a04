//! Column names of the event frame. Every reader fills the same columns, in this order.
//!
//! | column | type | meaning | null when |
//! |---|---|---|---|
//! | [`TIME`] | Datetime(ns, "UTC") | event time, converted from the trace's local clock with the caller's [`TimeContext`](crate::TimeContext) (UTC = local − offset) | never |
//! | [`PID`] | UInt32 | process id (Tracefmt prints it in hex, the viewer table in decimal; kernel events show 0) | never |
//! | [`TID`] | UInt32 | thread id, same bases as `pid` | never |
//! | [`PROVIDER`] | String | provider (friendly) name from Tracefmt's `[Provider]` part | the format has none: viewer table, or a Tracefmt line without `[...]` |
//! | [`LEVEL`] | String | event level | neither text format carries one |
//! | [`EVENT_ID`] | UInt32 | event id | neither text format carries one |
//! | [`MESSAGE`] | String | the formatted message, trailing blanks removed | never (may be empty) |
//! | [`SOURCE`] | String | source-code file a WPP message was logged from (`%!FILE!`) | the default prefixes do not print it |
//! | [`LINE`] | UInt64 | source-code line a WPP message was logged from (`%!LINE!`) | as `source` |
//! | [`TIME_RAW`] | String | the time exactly as written in the trace (date part included when present) | never |
//! | [`INPUT_LINE`] | UInt64 | 1-based line of the trace file the event was read from; with [`TraceReport::path`](crate::TraceReport::path) it makes a `file:line` reference | never |
//!
//! Unknown values are null; nothing is filled in from guesses.

use polars::prelude::{
    Column, DataFrame, DataType, Int64Chunked, IntoColumn, NamedFrom, PolarsResult, Series,
    TimeUnit, TimeZone,
};

use crate::read::Row;

/// Event time in UTC, nanoseconds.
pub const TIME: &str = "time";
/// Process id.
pub const PID: &str = "pid";
/// Thread id.
pub const TID: &str = "tid";
/// Provider name.
pub const PROVIDER: &str = "provider";
/// Event level.
pub const LEVEL: &str = "level";
/// Event id.
pub const EVENT_ID: &str = "event_id";
/// Formatted message.
pub const MESSAGE: &str = "message";
/// Source-code file of a WPP message.
pub const SOURCE: &str = "source";
/// Source-code line of a WPP message.
pub const LINE: &str = "line";
/// Time text as written in the trace.
pub const TIME_RAW: &str = "time_raw";
/// 1-based line in the trace file.
pub const INPUT_LINE: &str = "input_line";

/// All columns, in frame order.
pub const ALL: [&str; 11] = [
    TIME, PID, TID, PROVIDER, LEVEL, EVENT_ID, MESSAGE, SOURCE, LINE, TIME_RAW, INPUT_LINE,
];

/// One growing vector per column the text readers know; the rest are null.
///
/// Strings are borrowed from the decoded input, so collecting a row allocates nothing.
#[derive(Default)]
pub(crate) struct Columns<'a> {
    time: Vec<i64>,
    pid: Vec<u32>,
    tid: Vec<u32>,
    provider: Vec<Option<&'a str>>,
    message: Vec<&'a str>,
    time_raw: Vec<&'a str>,
    input_line: Vec<u64>,
}

impl<'a> Columns<'a> {
    pub(crate) fn push(&mut self, time_ns: i64, row: &Row<'a>, input_line: u64) {
        self.time.push(time_ns);
        self.pid.push(row.pid);
        self.tid.push(row.tid);
        self.provider.push(row.provider);
        self.message.push(row.message);
        self.time_raw.push(row.time_raw);
        self.input_line.push(input_line);
    }

    pub(crate) fn len(&self) -> usize {
        self.time.len()
    }

    pub(crate) fn into_frame(self) -> PolarsResult<DataFrame> {
        let n = self.len();
        let time = Int64Chunked::from_vec(TIME.into(), self.time)
            .into_datetime(TimeUnit::Nanoseconds, Some(TimeZone::UTC))
            .into_column();
        let columns = vec![
            time,
            Column::new(PID.into(), self.pid),
            Column::new(TID.into(), self.tid),
            Series::new(PROVIDER.into(), self.provider).into_column(),
            Column::full_null(LEVEL.into(), n, &DataType::String),
            Column::full_null(EVENT_ID.into(), n, &DataType::UInt32),
            Series::new(MESSAGE.into(), self.message).into_column(),
            Column::full_null(SOURCE.into(), n, &DataType::String),
            Column::full_null(LINE.into(), n, &DataType::UInt64),
            Series::new(TIME_RAW.into(), self.time_raw).into_column(),
            Column::new(INPUT_LINE.into(), self.input_line),
        ];
        DataFrame::new(n, columns)
    }
}
