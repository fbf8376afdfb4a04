//! `tracerpt FILE.etl -of CSV` output (Log-parser sample `dumpfile.csv`; learn.microsoft.com
//! `windows-commands/tracerpt`; formats.md §5).
//!
//! ```text
//! Index,  Event Name,  Type, Event ID, Version, Channel, Level, Opcode, Task, Keyword, PID, TID,
//!   Processor Number, Instance ID, Parent Instance ID, Activity ID, Related Activity ID,
//!   Clock-Time, Kernel(ms), User(ms), User Data
//! 3,Microsoft-Windows-PktMon,0,20,0,0,4,0,0,2,12536,9460,6, , , {0000…}, ,1.3312743607246872e+17,15,0,158," ""HTTP Protocol """,,,
//! ```
//!
//! Quirks, all seen in the Log-parser sample:
//! * the file starts with a UTF-8 BOM, and cells are padded with spaces;
//! * Clock-Time is a FILETIME (UTC) printed as a double; see [`crate::cells::filetime_ns`];
//! * the user-data fields spill past the `User Data` header into extra columns (42 per
//!   row there), trailing ones empty; they are joined into the message;
//! * row 1 is the EventTrace/Header event (its user data is the logfile header) and row 2
//!   EventTrace/PartitionInfoExtensionV2 on newer systems. They are events of the trace
//!   and are kept, with provider `EventTrace`.

use crate::csvmap::{col, IdCell, Part, Roles, TimeCell};
use crate::ReadOptions;

/// Note for the report.
pub(crate) const NOTE: &str = "tracerpt Clock-Time is a FILETIME (UTC) printed as a double, \
    so detail below about 2 µs is not in the file";

pub(crate) fn roles(header: &[String], _: &ReadOptions) -> Option<Roles> {
    let time = col(header, &["Clock-Time"])?;
    let provider = col(header, &["Event Name"])?;
    let user = col(header, &["User Data"])?;
    Some(Roles {
        time: (time, TimeCell::Filetime),
        pid: col(header, &["PID"]).map(|i| (i, IdCell::Decimal)),
        tid: col(header, &["TID"]).map(|i| (i, IdCell::Decimal)),
        provider: Some((provider, false)),
        level: col(header, &["Level"]),
        event_id: col(header, &["Event ID"]),
        event: None,
        message: vec![Part::Spill(user)],
    })
}
