//! Reading a whole text trace: decode, detect, parse each line, build the frame and report.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use chrono::{NaiveDate, NaiveTime};
use memmap2::Mmap;
use polars::prelude::DataFrame;
use serde::Serialize;

use crate::clock::Clock;
use crate::decode::{decode, lines};
use crate::schema::Columns;
use crate::{detect, table, tracefmt, Error, TimeContext, TraceFormat};

// Skip reasons, the keys of `TraceReport::skip_reasons`.
pub(crate) const BLANK: &str = "blank";
pub(crate) const HEADER: &str = "header";
pub(crate) const ELISION: &str = "elision";
pub(crate) const NO_PREFIX: &str = "no prefix";
pub(crate) const NOT_A_ROW: &str = "not a row";
pub(crate) const BAD_TIME: &str = "bad time";
pub(crate) const BAD_ID: &str = "bad pid/tid";
pub(crate) const OUT_OF_RANGE: &str = "time out of range";

/// One event line, as parsed; strings borrow from the decoded input.
#[derive(Debug)]
pub(crate) struct Row<'a> {
    pub pid: u32,
    pub tid: u32,
    /// The line's own date; None for a time-of-day line.
    pub date: Option<NaiveDate>,
    pub two_digit_year: bool,
    /// Local time of day.
    pub tod: NaiveTime,
    pub time_raw: &'a str,
    pub provider: Option<&'a str>,
    pub message: &'a str,
}

/// A parsed row, or the reason the line is skipped.
pub(crate) type Parsed<'a> = Result<Row<'a>, &'static str>;

/// How many skipped lines are kept as examples.
const FIRST_SKIPS: usize = 10;
/// Characters of a skipped line kept in [`Skip::text`].
const SKIP_TEXT_CHARS: usize = 120;
/// Bytes [`looks_like_trace`] decodes.
const SNIFF_BYTES: usize = 64 * 1024;

/// A line that produced no event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skip {
    /// 1-based line in the trace file.
    pub line: u64,
    /// Why, e.g. `blank`, `header`, `elision`, `no prefix`, `not a row`, `bad time`.
    pub reason: String,
    /// The first 120 characters, control characters escaped (`\t`, `\u{0}`).
    pub text: String,
}

/// What reading a trace did: counts, skip reasons and the time basis used.
#[derive(Debug, Clone, Serialize)]
pub struct TraceReport {
    /// The trace file.
    pub path: PathBuf,
    /// The detected layout.
    pub format: TraceFormat,
    /// Rows in the frame.
    pub records: u64,
    /// Lines that gave no row; `records + skipped` is the number of lines.
    pub skipped: u64,
    /// Skipped lines per reason.
    pub skip_reasons: BTreeMap<String, u64>,
    /// The first 10 skipped lines.
    pub first_skips: Vec<Skip>,
    /// Which date and UTC offset turned local times into UTC, and where they came from.
    pub time_note: String,
}

/// A trace read into the event frame (columns in [`schema`](crate::schema)).
#[derive(Debug, Clone)]
pub struct Trace {
    pub frame: DataFrame,
    pub report: TraceReport,
}

/// Reads a text trace file (memory-mapped) into a frame. See [`read_bytes`].
pub fn read_path(path: &Path, ctx: &TimeContext) -> Result<Trace, Error> {
    let io = |error| Error::Io {
        path: path.to_path_buf(),
        error,
    };
    let file = File::open(path).map_err(io)?;
    if file.metadata().map_err(io)?.len() == 0 {
        // Mapping a zero-length file fails on some systems; there is nothing to map anyway.
        return read_bytes(path, &[], ctx);
    }
    // SAFETY: the map is only read. If another process truncates the file meanwhile, reads
    // past the new end fault; this is the usual trade-off of mapping files (ripgrep makes it
    // too) and acceptable for finished trace exports.
    let map = unsafe { Mmap::map(&file) }.map_err(io)?;
    read_bytes(path, &map, ctx)
}

/// Reads a text trace from memory. `path` is only used to name the input in the report and
/// in errors.
///
/// Accepts UTF-8 (with or without BOM) and UTF-16 with BOM, LF or CRLF. Every line becomes a
/// row or a counted [`Skip`]; only a missing date for a time-of-day line, or input that is no
/// known trace at all, is an error.
pub fn read_bytes(path: &Path, bytes: &[u8], ctx: &TimeContext) -> Result<Trace, Error> {
    if bytes.is_empty() {
        return Err(Error::Empty {
            path: path.to_path_buf(),
        });
    }
    let text = decode(bytes);
    let format = detect(&text).ok_or_else(|| Error::NotATrace {
        path: path.to_path_buf(),
    })?;
    let parse: fn(&str) -> Parsed<'_> = match format {
        TraceFormat::TracefmtText => tracefmt::parse_line,
        TraceFormat::ViewerTable => table::parse_line,
    };
    let mut columns = Columns::default();
    let mut clock = Clock::new(ctx);
    let mut skips = Skips::default();
    for (index, line) in lines(&text).enumerate() {
        let number = index as u64 + 1;
        let row = if line.trim().is_empty() {
            Err(BLANK)
        } else {
            parse(line)
        };
        let row = match row {
            Ok(row) => row,
            Err(reason) => {
                skips.add(number, reason, line);
                continue;
            }
        };
        let utc = match row.date {
            Some(date) => clock.dated(date, row.tod, row.two_digit_year),
            None => clock.dateless(row.tod).map_err(|_| Error::NoDate {
                path: path.to_path_buf(),
                line: number,
            })?,
        };
        match utc {
            Some(ns) => columns.push(ns, &row, number),
            None => skips.add(number, OUT_OF_RANGE, line),
        }
    }
    let records = columns.len() as u64;
    let frame = columns.into_frame().map_err(|error| Error::Frame {
        path: path.to_path_buf(),
        error,
    })?;
    let report = TraceReport {
        path: path.to_path_buf(),
        format,
        records,
        skipped: skips.total,
        skip_reasons: skips.reasons,
        first_skips: skips.first,
        time_note: clock.note(),
    };
    Ok(Trace { frame, report })
}

/// Whether `bytes` look like a text trace this crate reads, and which. Only the first
/// 64 KiB are decoded.
pub fn looks_like_trace(bytes: &[u8]) -> Option<TraceFormat> {
    let head = bytes.get(..SNIFF_BYTES).unwrap_or(bytes);
    detect(&decode(head))
}

#[derive(Default)]
struct Skips {
    total: u64,
    reasons: BTreeMap<String, u64>,
    first: Vec<Skip>,
}

impl Skips {
    fn add(&mut self, line: u64, reason: &'static str, text: &str) {
        self.total += 1;
        match self.reasons.get_mut(reason) {
            Some(n) => *n += 1,
            None => {
                self.reasons.insert(reason.to_owned(), 1);
            }
        }
        if self.first.len() < FIRST_SKIPS {
            self.first.push(Skip {
                line,
                reason: reason.to_owned(),
                text: excerpt(text),
            });
        }
    }
}

fn excerpt(line: &str) -> String {
    let mut out = String::new();
    for c in line.chars().take(SKIP_TEXT_CHARS) {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
#[path = "read_tests.rs"]
mod tests;
