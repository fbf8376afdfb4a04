//! `Get-WinEvent … | Export-Csv` output: optional `#TYPE System.Diagnostics.Eventing.Reader.
//! EventLogRecord` line, then a quoted header `"Message","Id","Version","Qualifiers","Level",
//! "Task","Opcode","Keywords","RecordId","ProviderName","ProviderId","LogName","ProcessId",
//! "ThreadId","MachineName","UserId","TimeCreated",…` (the EventLogRecord properties).
//!
//! Quirks:
//! * every cell is quoted and `Message` spans several lines (CRLF inside the quotes);
//! * `TimeCreated` is the exporting machine's **local** time in its culture's format, with no
//!   zone: `10/9/2009 10:05:11 AM` (en-US), `09.10.2009 10:05:11` (de-DE), `09/10/2009
//!   10:05:11` (en-GB, fr-FR), `2009-10-09 10:05:11` (sv-SE). Slash dates with AM/PM are read
//!   month first, 24-hour slash dates day first; the zone must come from `--trace-tz`.

use chrono::NaiveDateTime;

use crate::csvmap::{col, IdCell, Part, Roles, TimeCell};
use crate::read::When;
use crate::ReadOptions;

/// Note for the report.
pub(crate) const NOTE: &str = "Get-WinEvent TimeCreated is the exporting machine's local \
    time without a zone: give that machine's zone with --trace-tz (slash dates with AM/PM \
    are read month/day, 24-hour slash dates day/month)";

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
        message: vec![Part::Cell(message)],
    })
}

/// A `TimeCreated` cell in one of the culture formats above, as local time.
pub(crate) fn local_time(t: &str) -> Option<When> {
    const FORMATS: [&str; 6] = [
        "%m/%d/%Y %I:%M:%S %p",
        "%d/%m/%Y %H:%M:%S",
        "%d.%m.%Y %H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y/%m/%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S%.f",
    ];
    let dt = FORMATS
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(t, f).ok())?;
    Some(When::Local {
        date: Some(dt.date()),
        two_digit_year: false,
        tod: dt.time(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, NaiveTime};

    #[test]
    fn culture_formats() {
        let want = When::Local {
            date: NaiveDate::from_ymd_opt(2009, 10, 9),
            two_digit_year: false,
            tod: NaiveTime::from_hms_opt(22, 5, 11).expect("t"),
        };
        for t in [
            "10/9/2009 10:05:11 PM",
            "09/10/2009 22:05:11",
            "09.10.2009 22:05:11",
            "2009-10-09 22:05:11",
        ] {
            assert_eq!(local_time(t), Some(want), "{t}");
        }
        assert_eq!(local_time("13/13/2009 22:05:11"), None);
    }
}
