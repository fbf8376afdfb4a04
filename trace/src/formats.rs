//! From a detected [`TraceFormat`] to its parser, and the first-line check that recognises
//! the self-announcing layouts (CSV headers, xperf's `BeginHeader`).

use crate::csvmap::{is_type_line, sniff, CsvReader};
use crate::decode::lines;
use crate::read::Parsed;
use crate::stream::Format;
use crate::xperf::Xperf;
use crate::{table, tracefmt, tracerpt, winevent, ReadOptions, TraceFormat};

/// A line-based layout parsed by a plain function; `true` if its rows usually carry their
/// own date (so pieces can be parsed in parallel).
struct Lines(fn(&str) -> Parsed<'_>, bool);

impl Format for Lines {
    fn parse<'s>(&'s mut self, record: &'s str, _fresh: bool) -> Parsed<'s> {
        (self.0)(record)
    }

    fn fork(&self) -> Option<Box<dyn Format>> {
        self.1
            .then(|| Box::new(Lines(self.0, true)) as Box<dyn Format>)
    }
}

/// The parser for `format`; `head` (the start of the input) gives CSV dialects their
/// separator.
pub(crate) fn open(format: TraceFormat, head: &str, opts: &ReadOptions) -> Box<dyn Format> {
    match format {
        TraceFormat::TracefmtText => Box::new(Lines(tracefmt::parse_line, true)),
        // Viewer-table rows are times of day: each needs the day of the row before.
        TraceFormat::ViewerTable => Box::new(Lines(table::parse_line, false)),
        TraceFormat::XperfDumper => Box::<Xperf>::default(),
        _ => {
            let (roles_of, note) = match format {
                TraceFormat::TracerptCsv => (crate::tracerpt::roles as _, Some(tracerpt::NOTE)),
                TraceFormat::PerfViewCsv => (crate::perfview::roles as _, None),
                TraceFormat::WpaCsv => (crate::wpa::roles as _, None),
                TraceFormat::WinEventCsv => (crate::winevent::roles as _, Some(winevent::NOTE)),
                _ => (crate::csvmap::mapped_roles as _, None),
            };
            let mut reader = CsvReader::new(separator(head, opts), roles_of, opts, note);
            reader.prime(head);
            Box::new(reader)
        }
    }
}

/// The layout announced by the first non-blank line (the second after a `#TYPE` line).
pub(crate) fn sniff_header(text: &str, opts: &ReadOptions) -> Option<TraceFormat> {
    let mut candidates = lines(text).filter(|l| !l.trim().is_empty());
    let mut first = candidates.next()?;
    if first.trim() == "BeginHeader" {
        return Some(TraceFormat::XperfDumper);
    }
    if is_type_line(first) {
        first = candidates.next()?;
    }
    sniff(first, opts).map(|(format, _)| format)
}

/// The separator of the CSV header in `text` (`,` unless the header only parses with `;`).
fn separator(text: &str, opts: &ReadOptions) -> u8 {
    lines(text)
        .filter(|l| !l.trim().is_empty() && !is_type_line(l))
        .find_map(|l| sniff(l, opts))
        .map_or(b',', |(_, sep)| sep)
}

#[cfg(test)]
#[path = "formats_tests.rs"]
mod tests;
