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
    /// Neither known layout was recognised in the first lines.
    #[error(
        "{}: not a known text trace; expected Tracefmt lines such as \
         `[1]5FEC.0E48::01/13/2024-23:31:07.097 [Provider]message` or a viewer table \
         headed `#  PID  TID  Time  Message`",
        path.display()
    )]
    NotATrace { path: PathBuf },
    /// A row carries only a time of day and the caller gave no date to anchor it.
    #[error(
        "{}:{line}: no date for a time-of-day trace; pass --trace-date",
        path.display()
    )]
    NoDate { path: PathBuf, line: u64 },
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
