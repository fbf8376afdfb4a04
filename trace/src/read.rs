//! Reading a whole text trace: the public entry points, the row every format parses into,
//! and the report. The read loop itself is in [`crate::stream`].

use std::collections::BTreeMap;
use std::fs::File;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use chrono::{NaiveDate, NaiveTime};
use polars::prelude::DataFrame;
use serde::Serialize;

use crate::decode::decode;
use crate::stream::{Input, Sink};
use crate::{Error, ReadOptions, TimeContext, TraceFormat};

// Skip reasons, the keys of `TraceReport::skip_reasons`.
pub(crate) const BLANK: &str = "blank";
pub(crate) const HEADER: &str = "header";
pub(crate) const ELISION: &str = "elision";
pub(crate) const NO_PREFIX: &str = "no prefix";
pub(crate) const NOT_A_ROW: &str = "not a row";
pub(crate) const BAD_TIME: &str = "bad time";
pub(crate) const BAD_ID: &str = "bad pid/tid";
pub(crate) const OUT_OF_RANGE: &str = "time out of range";
pub(crate) const TOO_FEW_FIELDS: &str = "too few fields";
pub(crate) const UNTERMINATED: &str = "unterminated quote";
pub(crate) const BAD_TIME_FORMAT: &str = "time does not fit --time-format";
pub(crate) const TOO_LONG: &str = "line longer than 1 MiB";

/// When an event happened, as its format says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum When {
    /// Local wall-clock time: the line's own date (None for a time-of-day line) and time.
    Local {
        date: Option<NaiveDate>,
        two_digit_year: bool,
        tod: NaiveTime,
    },
    /// An instant: nanoseconds since 1970-01-01 UTC (FILETIMEs, Unix epoch numbers).
    Utc(i64),
    /// An instant written with its own zone: nanoseconds since 1970-01-01 UTC and the
    /// offset the text gave (seconds east of UTC), for the report.
    Zoned { ns: i64, offset_s: i32 },
    /// Nanoseconds after the start of the trace (PerfView, WPA).
    Relative(i64),
}

/// One event, as parsed; strings borrow from the record or the reader's scratch space.
#[derive(Debug)]
pub(crate) struct Row<'a> {
    pub pid: Option<u32>,
    pub tid: Option<u32>,
    pub when: When,
    pub time_raw: &'a str,
    pub provider: Option<&'a str>,
    pub level: Option<&'a str>,
    pub event_id: Option<u32>,
    /// Full event name, `Provider/Task/Opcode` as PerfView writes it.
    pub event: Option<&'a str>,
    pub message: &'a str,
    pub source: Option<std::borrow::Cow<'a, str>>,
    pub line: Option<u64>,
}

impl<'a> Row<'a> {
    /// A row with only a time and a message; the readers fill in what they know.
    pub(crate) fn new(when: When, time_raw: &'a str, message: &'a str) -> Self {
        Row {
            pid: None,
            tid: None,
            when,
            time_raw,
            provider: None,
            level: None,
            event_id: None,
            event: None,
            message,
            source: None,
            line: None,
        }
    }
}

/// A parsed row, or the reason the line is skipped.
pub(crate) type Parsed<'a> = Result<Row<'a>, &'static str>;

/// How many skipped lines are kept as examples.
const FIRST_SKIPS: usize = 10;
/// Characters of a skipped line kept in [`Skip::text`].
const SKIP_TEXT_CHARS: usize = 120;
/// Bytes [`looks_like_trace`] decodes.
pub(crate) const SNIFF_BYTES: usize = 64 * 1024;
/// Bytes [`read_path_with`] reads to tell binary ETL from text: a buffer header and the
/// start of the logfile-header record.
const ETL_SNIFF: usize = 0x48 + 8;

/// A line that produced no event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skip {
    /// 1-based line in the trace file; 0 for ETL input, which gives `offset` instead.
    pub line: u64,
    /// Byte offset in the file, for binary (ETL) input.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
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
    /// For ETL input: the logfile header and what reading the buffers found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etl: Option<crate::EtlInfo>,
}

/// A trace read into the event frame (columns in [`schema`](crate::schema)).
#[derive(Debug, Clone)]
pub struct Trace {
    pub frame: DataFrame,
    pub report: TraceReport,
}

/// Reads a text trace file into a frame. See [`read_bytes`].
pub fn read_path(path: &Path, ctx: &TimeContext) -> Result<Trace, Error> {
    read_path_with(path, ctx, &ReadOptions::default())
}

/// [`read_path`] with options: a start for relative times, a column mapping for other CSVs.
///
/// The file is read in chunks and each chunk is released once its rows are in the frame, so
/// peak memory is about the frame's size plus a few MiB, whatever the file's size.
pub fn read_path_with(path: &Path, ctx: &TimeContext, opts: &ReadOptions) -> Result<Trace, Error> {
    open_path(path, ctx, opts, None)
}

/// Reads a trace file like [`read_path_with`] but hands its rows to `sink` in chunks, in
/// input order, instead of keeping them: each chunk is a frame with the [`schema`] columns
/// (a few MiB of input's worth of rows, or about a million ETL records). `sink` returns
/// [`ControlFlow::Break`] to stop reading. The report counts the rows handed over.
///
/// Memory stays near one chunk whatever the file's size, for callers that write rows
/// elsewhere (an export) rather than analyse them all at once.
///
/// [`schema`]: crate::schema
pub fn read_path_chunks(
    path: &Path,
    ctx: &TimeContext,
    opts: &ReadOptions,
    sink: &mut (dyn FnMut(DataFrame) -> ControlFlow<()> + Send),
) -> Result<TraceReport, Error> {
    open_path(path, ctx, opts, Some(sink)).map(|t| t.report)
}

fn open_path<'p>(
    path: &'p Path,
    ctx: &'p TimeContext,
    opts: &ReadOptions,
    sink: Option<&'p mut Sink<'p>>,
) -> Result<Trace, Error> {
    let io = |error| Error::Io {
        path: path.to_path_buf(),
        error,
    };
    let mut file = File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    // Binary ETL is recognised by content and read from a memory map: its buffers are
    // walked per processor, not front to back.
    let mut head = Vec::with_capacity(ETL_SNIFF);
    std::io::Read::read_to_end(
        &mut std::io::Read::take(&mut file, ETL_SNIFF as u64),
        &mut head,
    )
    .map_err(io)?;
    if crate::etl::sniff(&head) {
        // Mapped with a guard: pages past the end of a file that shrinks meanwhile read as
        // zeros instead of killing the process. Then the file is read again with ordinary
        // reads, unless rows already went to the caller's sink.
        let tmf = opts.tmf_dir.as_deref();
        let manifests = opts.manifests.as_ref();
        let Some(sink) = sink else {
            return dumptrace_mapfile::read_with_fallback_releasing(&mut file, |bytes, release| {
                crate::etl::read(path, bytes, release, tmf, manifests, None)
            })
            .map_err(io)?;
        };
        let map = dumptrace_mapfile::Map::new(&file).map_err(io)?;
        let read = crate::etl::read(
            path,
            &map,
            &|end| map.release(end),
            tmf,
            manifests,
            Some(sink),
        );
        map.unchanged(&file).map_err(io)?;
        return read;
    }
    std::io::Seek::rewind(&mut file).map_err(io)?;
    crate::stream::read(path, Input::File { file, len }, ctx, opts, sink)
}

/// Reads a text trace from memory. `path` is only used to name the input in the report and
/// in errors.
///
/// Accepts UTF-8 (with or without BOM) and UTF-16 with BOM, LF or CRLF. Every line becomes a
/// row or a counted [`Skip`]; only a missing date for a time-of-day line, input that is no
/// known trace at all, or a mapped CSV none of whose times fit `--time-format`, is an error.
pub fn read_bytes(path: &Path, bytes: &[u8], ctx: &TimeContext) -> Result<Trace, Error> {
    read_bytes_with(path, bytes, ctx, &ReadOptions::default())
}

/// [`read_bytes`] with options (see [`read_path_with`]).
pub fn read_bytes_with(
    path: &Path,
    bytes: &[u8],
    ctx: &TimeContext,
    opts: &ReadOptions,
) -> Result<Trace, Error> {
    if crate::etl::sniff(bytes) {
        return crate::etl::read(
            path,
            bytes,
            &|_| {},
            opts.tmf_dir.as_deref(),
            opts.manifests.as_ref(),
            None,
        );
    }
    crate::stream::read(path, Input::Bytes(bytes), ctx, opts, None)
}

/// Whether `bytes` look like a text trace this crate reads, and which. Only the first
/// 64 KiB are decoded.
pub fn looks_like_trace(bytes: &[u8]) -> Option<TraceFormat> {
    looks_like_trace_with(bytes, &ReadOptions::default())
}

/// [`looks_like_trace`], also recognising a CSV whose header has the columns of
/// [`ReadOptions::csv`].
pub fn looks_like_trace_with(bytes: &[u8], opts: &ReadOptions) -> Option<TraceFormat> {
    if crate::etl::sniff(bytes) {
        return Some(TraceFormat::Etl);
    }
    let head = bytes.get(..SNIFF_BYTES).unwrap_or(bytes);
    crate::detect::detect_with(&decode(head), opts)
}

#[derive(Default)]
pub(crate) struct Skips {
    pub(crate) total: u64,
    pub(crate) reasons: BTreeMap<String, u64>,
    pub(crate) first: Vec<Skip>,
}

impl Skips {
    /// Appends the skips of the records that followed.
    pub(crate) fn absorb(&mut self, later: Skips) {
        self.total += later.total;
        for (reason, n) in later.reasons {
            *self.reasons.entry(reason).or_insert(0) += n;
        }
        let room = FIRST_SKIPS.saturating_sub(self.first.len());
        self.first.extend(later.first.into_iter().take(room));
    }

    pub(crate) fn add(&mut self, line: u64, reason: &'static str, text: &str) {
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
                offset: None,
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
