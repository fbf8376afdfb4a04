//! `Get-WinEvent … | Export-Csv` output: optional `#TYPE System.Diagnostics.Eventing.Reader.
//! EventLogRecord` line, then a quoted header `"Message","Id","Version","Qualifiers","Level",
//! "Task","Opcode","Keywords","RecordId","ProviderName","ProviderId","LogName","ProcessId",
//! "ThreadId","MachineName","UserId","TimeCreated",…` (the EventLogRecord properties).
//!
//! Quirks:
//! * every cell is quoted and `Message` spans several lines (CRLF inside the quotes);
//! * `TimeCreated` is the exporting machine's **local** time in its culture's format, with no
//!   zone: `10/9/2009 10:05:11 AM` (en-US), `09.10.2009 10:05:11` (de-DE), `09/10/2009
//!   10:05:11` (en-GB, fr-FR), `2009-10-09 10:05:11` (sv-SE); the zone must come from
//!   `--trace-tz`. Slash dates are read day first if a first field above 12 is in the
//!   column, month first otherwise ([`crate::timeforms::DayScan`]);
//! * exported with `Select-Object @{n='TimeCreated';e={$_.TimeCreated.ToString('o')}}` (or
//!   converted by PowerShell 7 with `-Format o`), it is the round-trip form
//!   `2024-06-04T09:33:22.2003060-07:00`, whose offset is used. Every form is read by
//!   [`crate::timeforms::parse`].

use crate::csvmap::{col, IdCell, Part, Roles, TimeCell};
use crate::ReadOptions;

/// Note for the report.
pub(crate) const NOTE: &str = "Get-WinEvent TimeCreated in a culture format is the \
    exporting machine's local time without a zone (give that machine's zone with \
    --trace-tz); a round-trip time (-Format o) carries its own offset";

pub(crate) fn roles(header: &[String], _: &ReadOptions) -> Option<Roles> {
    let time = col(header, &["TimeCreated"])?;
    let provider = col(header, &["ProviderName"])?;
    let message = col(header, &["Message"])?;
    let id = col(header, &["Id"])?;
    Some(Roles {
        time: (time, TimeCell::LocalText),
        pid: col(header, &["ProcessId"]).map(|i| (i, IdCell::Decimal)),
        tid: col(header, &["ThreadId"]).map(|i| (i, IdCell::Decimal)),
        provider: Some((provider, false)),
        level: col(header, &["Level", "LevelDisplayName"]),
        event_id: Some(id),
        event: None,
        message: vec![Part::Cell(message)],
    })
}
