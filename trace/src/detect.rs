//! Which text layout a file uses, judged from its first lines (never from its name).
//!
//! CSV exports and xperf text announce themselves in their first line (a header row, or
//! `BeginHeader`); they are checked first, by [`crate::formats::sniff_header`]. The line-based
//! layouts are judged by how many of the first lines parse.

use serde::Serialize;

use crate::decode::lines;
use crate::read::BAD_TIME;
use crate::{table, tracefmt, ReadOptions};

/// A text trace layout this crate reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[non_exhaustive]
pub enum TraceFormat {
    /// Tracefmt / TraceView / netsh text: `[CPU]PID.TID::TIME [Provider]Message`.
    #[serde(rename = "tracefmt-text")]
    TracefmtText,
    /// Viewer table: `#  PID  TID  Time  Message` with decimal ids and times of day.
    #[serde(rename = "trace-table")]
    ViewerTable,
    /// `tracerpt -of CSV`: `Index, Event Name, …, Clock-Time, …, User Data` header.
    #[serde(rename = "tracerpt-csv")]
    TracerptCsv,
    /// `xperf -a dumper` text: `BeginHeader` … `EndHeader`, then rows by schema.
    #[serde(rename = "xperf-dumper")]
    XperfDumper,
    /// PerfView's "Save View as CSV": `Event Name,Time MSec,Process Name[,…][,Rest]`.
    #[serde(rename = "perfview-csv")]
    PerfViewCsv,
    /// A WPA table exported to CSV (`Provider Name`, a `Time` column in seconds, …).
    #[serde(rename = "wpa-csv")]
    WpaCsv,
    /// `Get-WinEvent | Export-Csv`: `Message, Id, …, ProviderName, …, TimeCreated, …`.
    #[serde(rename = "winevent-csv")]
    WinEventCsv,
    /// Any CSV whose columns the caller named ([`CsvMapping`](crate::CsvMapping)).
    #[serde(rename = "mapped-csv")]
    MappedCsv,
    /// Binary ETW log (.etl), recognised by its first buffer and logfile-header record.
    #[serde(rename = "etl")]
    Etl,
}

impl TraceFormat {
    /// Short stable name for reports and JSON, e.g. `tracefmt-text`, `tracerpt-csv`.
    pub fn name(&self) -> &'static str {
        match self {
            TraceFormat::TracefmtText => "tracefmt-text",
            TraceFormat::ViewerTable => "trace-table",
            TraceFormat::TracerptCsv => "tracerpt-csv",
            TraceFormat::XperfDumper => "xperf-dumper",
            TraceFormat::PerfViewCsv => "perfview-csv",
            TraceFormat::WpaCsv => "wpa-csv",
            TraceFormat::WinEventCsv => "winevent-csv",
            TraceFormat::MappedCsv => "mapped-csv",
            TraceFormat::Etl => "etl",
        }
    }
}

/// Non-empty lines looked at.
const SAMPLE_LINES: usize = 50;

/// Guesses the layout from the first 50 non-empty lines.
///
/// A table header (`#  PID  TID  Time  Message`) decides for the viewer table. Otherwise the
/// layout with more matching lines wins, provided the first sampled line is one of them or at
/// least a quarter of the sampled lines match (elision lines `[...]` are not counted). So a
/// trace whose messages wrap over many lines is still found, while a log that merely quotes
/// a trace line somewhere is not taken for a trace.
pub fn detect(text: &str) -> Option<TraceFormat> {
    detect_with(text, &ReadOptions::default())
}

/// [`detect`], also recognising a CSV whose header has the columns of [`ReadOptions::csv`]
/// (checked before the known CSV layouts, so a mapping can override them).
pub(crate) fn detect_with(text: &str, opts: &ReadOptions) -> Option<TraceFormat> {
    if let Some(format) = crate::formats::sniff_header(text, opts) {
        return Some(format);
    }
    let mut considered = 0usize;
    let mut tracefmt_rows = 0usize;
    let mut table_rows = 0usize;
    let mut header = false;
    let mut first: Option<TraceFormat> = None;
    for line in lines(text)
        .filter(|l| !l.trim().is_empty())
        .take(SAMPLE_LINES)
    {
        let trimmed = line.trim();
        if table::is_elision(trimmed) {
            continue;
        }
        let kind = if table::is_header(trimmed) {
            header = true;
            Some(TraceFormat::ViewerTable)
        } else if matches!(tracefmt::parse_line(line), Ok(_) | Err(BAD_TIME)) {
            tracefmt_rows += 1;
            Some(TraceFormat::TracefmtText)
        } else if matches!(table::parse_line(line), Ok(_) | Err(BAD_TIME)) {
            table_rows += 1;
            Some(TraceFormat::ViewerTable)
        } else {
            None
        };
        if considered == 0 {
            first = kind;
        }
        considered += 1;
    }
    if header {
        return Some(TraceFormat::ViewerTable);
    }
    let (format, hits) = if tracefmt_rows >= table_rows {
        (TraceFormat::TracefmtText, tracefmt_rows)
    } else {
        (TraceFormat::ViewerTable, table_rows)
    };
    (hits > 0 && (first == Some(format) || hits * 4 >= considered)).then_some(format)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_both_layouts() {
        let tf = "[1]5FEC.0E48::01/13/2024-23:31:07.097 [Atum-Hw3d]{}\n";
        assert_eq!(detect(tf), Some(TraceFormat::TracefmtText));
        let table = "\n#    PID  TID  Time  Message\n[...]\n1 2 3 10:05:11.005 m\n";
        assert_eq!(detect(table), Some(TraceFormat::ViewerTable));
        let headerless = "1 2 3 10:05:11.005 m\n2 2 3 10:05:11.006 n\n";
        assert_eq!(detect(headerless), Some(TraceFormat::ViewerTable));
        // one event whose message wraps over many lines
        let wrapped = format!("{tf}{}", "  stack frame\n".repeat(40));
        assert_eq!(detect(&wrapped), Some(TraceFormat::TracefmtText));
        assert_eq!(TraceFormat::ViewerTable.name(), "trace-table");
        assert_eq!(TraceFormat::TracefmtText.name(), "tracefmt-text");
    }

    #[test]
    fn rejects_other_text() {
        assert_eq!(detect(""), None);
        assert_eq!(
            detect("0: kd> !locks\n\nCritSec ntdll!LdrpLoaderLock+0 at 77fc2340\n"),
            None
        );
        // one quoted trace line inside a longer log is not enough
        let mut log = "some prose line\n".repeat(10);
        log.push_str("[1]5FEC.0E48::01/13/2024-23:31:07.097 [P]m\n");
        assert_eq!(detect(&log), None);
        // only the first 50 non-empty lines count
        let mut late = "prose\n".repeat(60);
        late.push_str(&"[1]5FEC.0E48::01/13/2024-23:31:07.097 [P]m\n".repeat(100));
        assert_eq!(detect(&late), None);
    }
}
