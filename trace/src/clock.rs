//! Local wall-clock times in text traces: their shapes, and their conversion to UTC.
//!
//! Text exports print local time (Tracefmt's default; `-utc` changes that, formats.md §5)
//! and sometimes only the time of day. Nothing here guesses a zone or a date: both come from
//! the caller's [`TimeContext`], and the report says which were used.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Utc};

use crate::read::When;
use crate::TimeContext;

/// `H?H:MM:SS.f{3,9}` at the start of `b`: the time (None if a field is out of range) and
/// the bytes taken. None if `b` does not start with that shape.
pub(crate) fn time_of_day(b: &[u8]) -> Option<(Option<NaiveTime>, usize)> {
    // Every sample pads the hour to 2 digits; a 1-digit hour (`9:05:11.005`) is accepted as
    // well because it cannot be misread.
    let hour_len = if b.get(1) == Some(&b':') { 1 } else { 2 };
    let hour = digits(b, 0, hour_len)?;
    let mut i = hour_len;
    byte_is(b, i, b':')?;
    let minute = digits(b, i + 1, 2)?;
    byte_is(b, i + 3, b':')?;
    let second = digits(b, i + 4, 2)?;
    byte_is(b, i + 6, b'.')?;
    i += 7;
    let frac_len = b
        .get(i..)?
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .count();
    // 3 digits by default, 6 or 9 with Tracefmt `-hires` or from netsh/pktmon (formats.md §5).
    if !(3..=9).contains(&frac_len) {
        return None;
    }
    let frac = digits(b, i, frac_len)?;
    let nanos = frac * 10u32.pow(9 - frac_len as u32);
    let time = if second < 60 {
        NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)
    } else {
        None
    };
    Some((time, i + frac_len))
}

/// A date in front of a Tracefmt time, with its separator: `MM/DD/YYYY-`, `MM/DD/YY-`,
/// `YYYY/MM/DD-` or `YYYY-MM-DD `. Returns the date (None if it does not exist), whether the
/// year had 2 digits, and the bytes taken. None if there is no date.
pub(crate) fn date_prefix(b: &[u8]) -> Option<(Option<NaiveDate>, bool, usize)> {
    let ymd = |y: u32, m: u32, d: u32| NaiveDate::from_ymd_opt(i32::try_from(y).ok()?, m, d);
    if let Some(y) = digits(b, 0, 4) {
        // `2025/03/27-16:12:13.966003800` (netsh) and `2025-03-27 16:10:34.934020500`
        // (pktmon etl2txt, netsh trace convert): learn.microsoft.com, formats.md §5.
        let sep = *b.get(4)?;
        let end = match sep {
            b'/' => b'-',
            b'-' => b' ',
            _ => return None,
        };
        let m = digits(b, 5, 2)?;
        byte_is(b, 7, sep)?;
        let d = digits(b, 8, 2)?;
        byte_is(b, 10, end)?;
        return Some((ymd(y, m, d), false, 11));
    }
    // `01/13/2024-23:31:07.097` (hw3d FmtFile.txt sample) and `08/28/17-13:24:28.693`
    // (netsh trace convert, SupportArticles-docs wireless article): formats.md §5.
    let m = digits(b, 0, 2)?;
    byte_is(b, 2, b'/')?;
    let d = digits(b, 3, 2)?;
    byte_is(b, 5, b'/')?;
    if let Some(y) = digits(b, 6, 4) {
        byte_is(b, 10, b'-')?;
        return Some((ymd(y, m, d), false, 11));
    }
    let yy = digits(b, 6, 2)?;
    byte_is(b, 8, b'-')?;
    // Two-digit years follow Windows' default two-digit-year window (1950–2049).
    let y = if yy < 50 { 2000 + yy } else { 1900 + yy };
    Some((ymd(y, m, d), true, 9))
}

/// Exactly `n` ASCII digits at `at`, as a number.
pub(crate) fn digits(b: &[u8], at: usize, n: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(n)?)?;
    s.iter().try_fold(0u32, |acc, &c| {
        c.is_ascii_digit()
            .then(|| acc.wrapping_mul(10).wrapping_add(u32::from(c - b'0')))
    })
}

fn byte_is(b: &[u8], at: usize, c: u8) -> Option<()> {
    (b.get(at) == Some(&c)).then_some(())
}

/// Turns each row's local time into UTC nanoseconds and keeps the date of time-of-day rows.
pub(crate) struct Clock<'c> {
    ctx: &'c TimeContext,
    /// Day of the previous row (from its own date, or carried forward).
    day: Option<NaiveDate>,
    prev: Option<NaiveTime>,
    first_dateless_day: Option<NaiveDate>,
    dated_rows: u64,
    dateless_rows: u64,
    rollovers: u64,
    two_digit_years: bool,
    /// Start of the trace for relative times, if the caller knows it.
    anchor: Option<DateTime<Utc>>,
    utc_rows: u64,
    relative_rows: u64,
    /// Rows whose text gave their own zone: (offset in seconds east of UTC, rows).
    zones: Vec<(i32, u64)>,
    /// A time-of-day row took its day from the caller rather than from an earlier row.
    pub(crate) took_callers_day: bool,
}

/// A time-of-day row arrived before any date was known.
pub(crate) struct NoDate;

impl<'c> Clock<'c> {
    pub(crate) fn new(ctx: &'c TimeContext) -> Self {
        Clock {
            ctx,
            day: None,
            prev: None,
            first_dateless_day: None,
            dated_rows: 0,
            dateless_rows: 0,
            rollovers: 0,
            two_digit_years: false,
            anchor: None,
            utc_rows: 0,
            relative_rows: 0,
            zones: Vec::new(),
            took_callers_day: false,
        }
    }

    /// Takes in the counts and the end state of a clock that read the rows right after
    /// this one's (a parallel worker; it must not have needed an earlier row's day).
    pub(crate) fn absorb(&mut self, later: Clock<'_>) {
        self.dated_rows += later.dated_rows;
        self.dateless_rows += later.dateless_rows;
        self.rollovers += later.rollovers;
        self.two_digit_years |= later.two_digit_years;
        self.utc_rows += later.utc_rows;
        self.relative_rows += later.relative_rows;
        for (offset, n) in later.zones {
            self.count_zone(offset, n);
        }
        if self.first_dateless_day.is_none() {
            self.first_dateless_day = later.first_dateless_day;
        }
        if later.day.is_some() {
            self.day = later.day;
            self.prev = later.prev;
        }
    }

    /// A clock with the same context and anchor and nothing counted, for a worker.
    pub(crate) fn fresh(&self) -> Clock<'c> {
        let mut c = Clock::new(self.ctx);
        c.anchor = self.anchor;
        c
    }

    /// Sets the trace start that relative times are added to.
    pub(crate) fn set_anchor(&mut self, start: Option<DateTime<Utc>>) {
        self.anchor = start;
    }

    /// UTC nanoseconds for any row time. Err if a time-of-day row has no date to take;
    /// Ok(None) if the instant does not fit the frame's range.
    pub(crate) fn convert(&mut self, when: &When) -> Result<Option<i64>, NoDate> {
        match *when {
            When::Local {
                date: Some(date),
                two_digit_year,
                tod,
            } => Ok(self.dated(date, tod, two_digit_year)),
            When::Local {
                date: None, tod, ..
            } => self.dateless(tod),
            When::Utc(ns) => {
                self.utc_rows += 1;
                Ok(Some(ns))
            }
            When::Zoned { ns, offset_s } => {
                self.count_zone(offset_s, 1);
                Ok(Some(ns))
            }
            When::Relative(ns) => {
                self.relative_rows += 1;
                let start = self.anchor.map_or(Some(0), |a| a.timestamp_nanos_opt());
                Ok(start.and_then(|s| s.checked_add(ns)))
            }
        }
    }

    fn count_zone(&mut self, offset_s: i32, n: u64) {
        match self.zones.iter_mut().find(|z| z.0 == offset_s) {
            Some(z) => z.1 += n,
            None => self.zones.push((offset_s, n)),
        }
    }

    /// A row with its own date. None if the instant does not fit the frame's range.
    pub(crate) fn dated(
        &mut self,
        date: NaiveDate,
        tod: NaiveTime,
        two_digit_year: bool,
    ) -> Option<i64> {
        self.dated_rows += 1;
        self.two_digit_years |= two_digit_year;
        self.day = Some(date);
        self.prev = Some(tod);
        self.utc_nanos(date, tod)
    }

    /// A row with only a time of day: it takes the previous row's day, or the caller's date.
    pub(crate) fn dateless(&mut self, tod: NaiveTime) -> Result<Option<i64>, NoDate> {
        self.took_callers_day |= self.day.is_none();
        let mut day = self.day.or(self.ctx.date).ok_or(NoDate)?;
        self.first_dateless_day.get_or_insert(day);
        self.dateless_rows += 1;
        // Midnight roll-over: time-of-day traces (the seed's viewer table prints no date) that
        // run past midnight go from 23:59 back to 00:00. A step back of more than 12 h is read
        // as that; smaller steps back are left alone, because events from different CPUs are
        // not strictly ordered in text exports.
        if let Some(prev) = self.prev {
            if prev - tod > TimeDelta::hours(12) {
                match day.succ_opt() {
                    Some(next) => day = next,
                    None => return Ok(None),
                }
                self.rollovers += 1;
            }
        }
        self.day = Some(day);
        self.prev = Some(tod);
        Ok(self.utc_nanos(day, tod))
    }

    /// utc = local − offset, where the context says local = UTC + offset.
    fn utc_nanos(&self, day: NaiveDate, tod: NaiveTime) -> Option<i64> {
        let offset = TimeDelta::try_seconds(i64::from(self.ctx.offset.local_minus_utc()))?;
        NaiveDateTime::new(day, tod)
            .checked_sub_signed(offset)?
            .and_utc()
            .timestamp_nanos_opt()
    }

    /// Says which date and offset were used, for [`TraceReport::time_note`](crate::TraceReport).
    pub(crate) fn note(&self) -> String {
        let mut parts = Vec::new();
        if self.dated_rows > 0 {
            let mut s = format!("{} rows dated by the trace itself", self.dated_rows);
            if self.two_digit_years {
                s.push_str(" (2-digit years read as 1950-2049)");
            }
            parts.push(s);
        }
        if let Some(first) = self.first_dateless_day {
            let origin = if self.dated_rows == 0 {
                "the date given by the caller"
            } else {
                "the date of the dated rows above"
            };
            let mut s = format!(
                "{} time-of-day rows start on {first} ({origin})",
                self.dateless_rows
            );
            if self.rollovers > 0 {
                if let Some(last) = self.day {
                    s.push_str(&format!(
                        ", {} midnight roll-over(s), last day {last}",
                        self.rollovers
                    ));
                }
            }
            parts.push(s);
        }
        if self.utc_rows > 0 {
            parts.push(format!(
                "{} rows carry UTC instants (FILETIME or zoned times; no zone applied)",
                self.utc_rows
            ));
        }
        for (offset, n) in &self.zones {
            let zone = chrono::FixedOffset::east_opt(*offset)
                .map_or_else(|| format!("{offset} s"), |o| o.to_string());
            parts.push(format!(
                "{n} rows with zone taken from the text: {zone} (UTC = local - offset)"
            ));
        }
        if self.relative_rows > 0 {
            parts.push(match self.anchor {
                Some(a) => format!(
                    "{} rows are relative to the trace start, anchored at {} (the given trace start)",
                    self.relative_rows,
                    a.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
                ),
                None => format!(
                    "{} rows are relative to the trace start, which the file does not record and \
                     none was given: their times are offsets from 1970-01-01T00:00:00Z \
                     (pass --trace-start to anchor them)",
                    self.relative_rows
                ),
            });
        }
        if parts.is_empty() {
            parts.push("no rows".to_owned());
        }
        let mut note = parts.join("; ");
        if self.dated_rows + self.dateless_rows > 0 {
            note.push_str(&format!(
                "; local clock UTC{}, UTC = local - offset",
                self.ctx.offset
            ));
            if !self.ctx.source.is_empty() {
                note.push_str(&format!(" ({})", self.ctx.source));
            }
        }
        note
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, FixedOffset};

    fn ctx(date: Option<(i32, u32, u32)>, offset_min: i32) -> TimeContext {
        TimeContext {
            date: date.and_then(|(y, m, d)| NaiveDate::from_ymd_opt(y, m, d)),
            offset: FixedOffset::east_opt(offset_min * 60).expect("offset in range"),
            source: "test".into(),
        }
    }

    fn tod(s: &str) -> NaiveTime {
        time_of_day(s.as_bytes())
            .and_then(|t| t.0)
            .expect("valid time")
    }

    fn iso(ns: i64) -> String {
        DateTime::from_timestamp_nanos(ns)
            .format("%Y-%m-%dT%H:%M:%S%.fZ")
            .to_string()
    }

    #[test]
    fn time_shapes() {
        assert_eq!(
            time_of_day(b"10:05:11.005 x"),
            Some((Some(tod("10:05:11.005")), 12))
        );
        assert_eq!(time_of_day(b"9:05:11.005").map(|t| t.1), Some(11));
        let ns = time_of_day(b"16:12:13.966003800").and_then(|t| t.0);
        assert_eq!(
            ns.map(|t| t.format("%.9f").to_string()),
            Some(".966003800".into())
        );
        assert_eq!(time_of_day(b"10:05:11.05"), None, "2 fraction digits");
        assert_eq!(
            time_of_day(b"10:05:11.0123456789"),
            None,
            "10 fraction digits"
        );
        assert_eq!(time_of_day(b"10:05:11"), None);
        assert_eq!(
            time_of_day(b"25:05:11.000"),
            Some((None, 12)),
            "shaped, not valid"
        );
        assert_eq!(time_of_day(b"23:59:60.000"), Some((None, 12)));
    }

    #[test]
    fn date_shapes() {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d);
        assert_eq!(
            date_prefix(b"01/13/2024-23"),
            Some((d(2024, 1, 13), false, 11))
        );
        assert_eq!(date_prefix(b"08/28/17-13"), Some((d(2017, 8, 28), true, 9)));
        assert_eq!(
            date_prefix(b"12/31/99-13"),
            Some((d(1999, 12, 31), true, 9))
        );
        assert_eq!(
            date_prefix(b"2025/03/27-16"),
            Some((d(2025, 3, 27), false, 11))
        );
        assert_eq!(
            date_prefix(b"2025-03-27 16"),
            Some((d(2025, 3, 27), false, 11))
        );
        assert_eq!(date_prefix(b"02/30/2024-00"), Some((None, false, 11)));
        assert_eq!(date_prefix(b"2025-03-27-16"), None);
        assert_eq!(date_prefix(b"10:05:11.005"), None);
    }

    #[test]
    fn utc_is_local_minus_offset() {
        let c = ctx(Some((2009, 10, 9)), -4 * 60);
        let mut clock = Clock::new(&c);
        let ns = clock.dateless(tod("10:05:11.005")).ok().flatten();
        assert_eq!(ns.map(iso), Some("2009-10-09T14:05:11.005Z".into()));

        // east of UTC, crossing back over midnight: 00:10 at UTC+05:30 is 18:40 the day before
        let c = ctx(None, 5 * 60 + 30);
        let mut clock = Clock::new(&c);
        let day = NaiveDate::from_ymd_opt(2024, 10, 12).expect("date");
        let ns = clock.dated(day, tod("00:10:00.000"), false);
        assert_eq!(ns.map(iso), Some("2024-10-11T18:40:00Z".into()));
        assert!(clock.note().contains("UTC+05:30"), "{}", clock.note());
    }

    #[test]
    fn midnight_rollover() {
        let c = ctx(Some((2009, 10, 9)), 0);
        let mut clock = Clock::new(&c);
        let times = [
            "23:59:58.000",
            "23:59:59.500",
            "23:59:59.400",
            "00:00:00.100",
            "11:00:00.000",
            "00:30:00.000",
        ];
        let got: Vec<String> = times
            .iter()
            .filter_map(|t| clock.dateless(tod(t)).ok().flatten().map(iso))
            .collect();
        assert_eq!(
            got,
            [
                "2009-10-09T23:59:58Z",
                "2009-10-09T23:59:59.500Z",
                // 100 ms backwards: out of order, same day
                "2009-10-09T23:59:59.400Z",
                "2009-10-10T00:00:00.100Z",
                "2009-10-10T11:00:00Z",
                // 10.5 h backwards is not a roll-over
                "2009-10-10T00:30:00Z",
            ]
        );
        assert_eq!(clock.rollovers, 1);
        assert!(clock
            .note()
            .contains("1 midnight roll-over(s), last day 2009-10-10"));
    }

    #[test]
    fn dateless_without_date_is_refused() {
        let c = ctx(None, 0);
        let mut clock = Clock::new(&c);
        assert!(clock.dateless(tod("10:00:00.000")).is_err());
        // once a row brought its own date, later time-only rows can use it
        let day = NaiveDate::from_ymd_opt(2024, 1, 1).expect("date");
        assert!(clock.dated(day, tod("10:00:00.000"), false).is_some());
        assert!(clock.dateless(tod("10:00:01.000")).is_ok());
    }
}
