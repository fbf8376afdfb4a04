//! A table of Windows Performance Analyzer exported with "Export to CSV" (typically Generic
//! Events). WPA writes the visible columns under their UI names; no sample of such a file
//! is at hand, so the names below are the UI's (`Provider Name`, `Task Name`, `Opcode Name`,
//! `Id`, `Process`, `Thread Id`, `Time`/`Time (s)`, `Field 1`…) and the reader only needs
//! `Provider Name` and a time column.
//!
//! Quirks:
//! * times are seconds after the trace start (WPA's time axis); a unit in the header
//!   (`Time (ms)`, `Time (us)`) is honoured; the start is not in the file;
//! * processes are shown as `name (pid)`, like xperf (formats.md §5).

use crate::csvmap::{col, IdCell, Part, Roles, TimeCell};
use crate::ReadOptions;

pub(crate) fn roles(header: &[String], _: &ReadOptions) -> Option<Roles> {
    let provider = col(header, &["Provider Name"])?;
    let (time, unit_ns) = header.iter().enumerate().find_map(|(i, h)| {
        let unit = match h.to_ascii_lowercase().as_str() {
            "time" | "time (s)" | "timestamp" | "timestamp (s)" => 1_000_000_000,
            "time (ms)" | "timestamp (ms)" => 1_000_000,
            "time (us)" | "time (µs)" | "timestamp (us)" => 1_000,
            "time (ns)" | "timestamp (ns)" => 1,
            _ => return None,
        };
        Some((i, unit))
    })?;
    let pid = match col(header, &["Process Id", "Process ID", "PID"]) {
        Some(i) => Some((i, IdCell::Grouped)),
        None => col(header, &["Process", "Process Name"]).map(|i| (i, IdCell::Process)),
    };
    let tid =
        col(header, &["Thread Id", "ThreadId", "Thread ID", "TID"]).map(|i| (i, IdCell::Grouped));
    let message = match col(header, &["Message"]) {
        Some(m) => vec![Part::Cell(m)],
        None => {
            let mut parts: Vec<Part> = ["Task Name", "Opcode Name", "Event Name"]
                .iter()
                .filter_map(|n| col(header, &[n]))
                .map(Part::Cell)
                .collect();
            for (i, h) in header.iter().enumerate() {
                if h.starts_with("Field ") {
                    parts.push(Part::Cell(i));
                }
            }
            parts
        }
    };
    Some(Roles {
        time: (time, TimeCell::Relative { unit_ns }),
        pid,
        tid,
        provider: Some((provider, false)),
        level: col(header, &["Level"]),
        event_id: col(header, &["Id", "Event Id", "Event ID"]),
        event: None,
        message,
    })
}
