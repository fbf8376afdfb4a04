//! PerfView's Events view saved with "Save View as CSV" (format only: microsoft/perfview
//! `src/PerfView/EventViewer/EventWindow.xaml.cs` `SaveDataToCsvFile`; formats.md §5).
//!
//! ```text
//! Event Name,Time MSec,Process Name,Rest
//! Microsoft-Windows-DotNETRuntime/GC/Start,1234.567,dotnet (4321),"HasStack=""True"" ThreadID=""1,234"" Count=""12"""
//! ```
//!
//! Quirks (from that source):
//! * the separator is the culture's list separator, `;` in many locales, where the decimal
//!   mark of `Time MSec` is then `,`;
//! * a cell is quoted only if it holds the separator, so `Rest` is often unquoted with its
//!   own quotes literal; integers in `Rest` carry group separators (`ThreadID="1,234"`);
//! * times are milliseconds after the trace start (3 decimals); the start is not in the file;
//! * columns the user picked sit between `Process Name` and `Rest`.

use crate::csvmap::{col, IdCell, Part, Roles, TimeCell};
use crate::ReadOptions;

pub(crate) fn roles(header: &[String], _: &ReadOptions) -> Option<Roles> {
    let fixed = ["Event Name", "Time MSec", "Process Name"];
    if header.len() < 3
        || !fixed
            .iter()
            .zip(header)
            .all(|(a, b)| b.eq_ignore_ascii_case(a))
    {
        return None;
    }
    let rest = col(header, &["Rest"]);
    let thread_col = col(header, &["ThreadID", "Thread ID", "TID"]);
    let tid = match (thread_col, rest) {
        (Some(i), _) => Some((i, IdCell::Grouped)),
        (None, Some(r)) => Some((r, IdCell::Attr("ThreadID"))),
        (None, None) => None,
    };
    let mut message = vec![Part::AfterSlash(0)];
    for (i, name) in header.iter().enumerate().skip(3) {
        if Some(i) != rest && Some(i) != thread_col {
            message.push(Part::Labeled(i, name.clone()));
        }
    }
    if let Some(r) = rest {
        message.push(Part::Cell(r));
    }
    Some(Roles {
        time: (1, TimeCell::Relative { unit_ns: 1_000_000 }),
        pid: Some((2, IdCell::Process)),
        tid,
        provider: Some((0, true)),
        level: None,
        event_id: None,
        event: Some(0),
        message,
    })
}
