//! The one error type of this crate.

use std::path::PathBuf;

use polars::error::PolarsError;

/// Why a trace could not be read, or a frame could not be analysed.
///
/// Messages start with the file (and line, where one is to blame) so they can be printed as
/// they are. Lines that merely fail to parse are not errors: they are counted in
/// [`TraceReport::skip_reasons`](crate::TraceReport::skip_reasons).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be opened, sized or mapped.
    #[error("{}: cannot read the file: {error}", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    /// The input has no bytes at all.
    #[error("{}: the file is empty; a text trace needs at least one event line", path.display())]
    Empty { path: PathBuf },
    /// No known layout was recognised in the first lines.
    #[error(
        "{}: not a known trace export; tried Tracefmt text \
         (`[1]5FEC.0E48::01/13/2024-23:31:07.097 [Provider]message`), the viewer table \
         (`#  PID  TID  Time  Message`), tracerpt -of CSV, xperf -a dumper, PerfView CSV, \
         WPA CSV, Get-WinEvent | Export-Csv, and a CSV mapped with --time-col",
        path.display()
    )]
    NotATrace { path: PathBuf },
    /// No time cell of a mapped CSV fits the given time format.
    #[error(
        "{}:{line}: time '{value}' does not fit --time-format '{format}'; \
         no row could be read with it",
        path.display()
    )]
    TimeFormat {
        path: PathBuf,
        line: u64,
        value: String,
        format: String,
    },
    /// A row carries only a time of day and the caller gave no date to anchor it.
    #[error(
        "{}:{line}: no date for a time-of-day trace; pass --trace-date",
        path.display()
    )]
    NoDate { path: PathBuf, line: u64 },
    /// An ETL file whose logfile header cannot be used (damaged buffers and records after it
    /// are skipped and counted instead).
    #[error("{}: byte {offset} ({offset:#x}): {reason}", path.display())]
    Etl {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    /// The folder given for WPP format (TMF) files cannot be listed.
    #[error("{}: cannot read the TMF folder: {error}", path.display())]
    Tmf {
        path: PathBuf,
        error: std::io::Error,
    },
    /// An instrumentation manifest given for manifest-based ETW events cannot be used.
    #[error("{}:{line}: manifest: {reason}", path.display())]
    Manifest {
        path: PathBuf,
        line: u64,
        reason: String,
    },
    /// polars refused the columns (should not happen; the columns are built together).
    #[error("{}: could not build the event table: {error}", path.display())]
    Frame { path: PathBuf, error: PolarsError },
    /// A frame handed to an analysis lacks a column or has it with another type.
    #[error("frame column `{column}`: {problem}")]
    Column {
        column: &'static str,
        problem: String,
    },
}
