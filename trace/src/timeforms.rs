//! The absolute time forms Windows tools write into CSV cells, read by one function
//! ([`parse`]) that every CSV dialect uses: one table of forms ([`FORMS`]), tried in order.
//!
//! * .NET round-trip `o`: `2024-06-04T09:33:22.2003060-07:00`, `…Z`, or with no offset
//!   (`DateTimeKind.Unspecified`, a local time); what `Get-WinEvent | Select TimeCreated`
//!   exported with `-Format o` writes. Also sortable `s` (`2024-06-04T09:33:22`), universal
//!   sortable `u` (`2024-06-04 16:33:22Z`) and ISO 8601 with a space for the `T`;
//!   1 to 9 fraction digits (more are refused).
//! * RFC 1123 `r`: `Tue, 04 Jun 2024 16:33:22 GMT`.
//! * Numbers, told apart by magnitude (a wall-clock time after 1973 is assumed):
//!   `[1e8, 1e11)` Unix seconds, `[1e11, 1e14)` Unix milliseconds, `[1e14, 1e16)` Unix
//!   microseconds, `[1e16, 1e18)` FILETIME (100-ns ticks since 1601, integer or tracerpt's
//!   double `1.3312743573048245e+17`; before 1970 refused, a raw QPC count),
//!   `[1e18, 1e20)` Unix nanoseconds. Smaller numbers are no absolute time.
//! * Culture forms of `DateTime.ToString()`: `6/4/2024 9:33:22 AM` (en-US), `04/06/2024
//!   09:33:22` (en-GB, fr-FR), `04.06.2024 09:33:22` (de-DE), `04-06-2024 09:33:22` (nl-NL),
//!   `2024/06/04 9:33:22` (ja-JP, zh-CN), each with an optional fraction. Slash dates with
//!   the day first cannot be told from month-first ones row by row: [`DayScan`] decides
//!   from the column.
//!
//! A time with its own zone (`Z`, `±hh:mm`, `GMT`) is a [`When::Zoned`] instant; one
//! without is [`When::Local`] and takes the caller's zone.

use chrono::{DateTime, FixedOffset, NaiveDateTime};

use crate::cells::{decimal_ns, filetime_ns};
use crate::read::When;

/// Which field of a slash date is the month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum DayOrder {
    /// `6/4/2024` is June 4 (en-US), the form assumed when a column does not say.
    #[default]
    MonthFirst,
    /// `6/4/2024` is 6 April (en-GB, fr-FR, …).
    DayFirst,
}

/// One time form: its name for reports and how it is read.
struct Form {
    name: &'static str,
    read: fn(&str, DayOrder) -> Option<When>,
}

/// The forms, in the order they are tried (each refuses the others' shapes quickly).
const FORMS: [Form; 4] = [
    Form {
        name: "ISO 8601 (.NET o, s, u)",
        read: iso,
    },
    Form {
        name: "RFC 1123 (.NET r)",
        read: rfc1123,
    },
    Form {
        name: "number (Unix epoch or FILETIME by magnitude)",
        read: number,
    },
    Form {
        name: "culture date and time",
        read: culture,
    },
];

/// Culture patterns as (month-first, day-first) chrono patterns; forms without a slash
/// date have one order only. `%.f` takes an optional fraction.
const CULTURE: [(&str, &str); 6] = [
    ("%m/%d/%Y %I:%M:%S%.f %p", "%d/%m/%Y %I:%M:%S%.f %p"),
    ("%m/%d/%Y %H:%M:%S%.f", "%d/%m/%Y %H:%M:%S%.f"),
    ("%d.%m.%Y %H:%M:%S%.f", "%d.%m.%Y %H:%M:%S%.f"),
    ("%d-%m-%Y %H:%M:%S%.f", "%d-%m-%Y %H:%M:%S%.f"),
    ("%Y/%m/%d %H:%M:%S%.f", "%Y/%m/%d %H:%M:%S%.f"),
    ("%Y/%m/%d %I:%M:%S%.f %p", "%Y/%m/%d %I:%M:%S%.f %p"),
];

/// The time in `text` in any of the forms above, with the name of the form; None if it is
/// in none of them or names no real instant.
pub(crate) fn parse(text: &str, order: DayOrder) -> Option<(When, &'static str)> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    FORMS
        .iter()
        .find_map(|f| (f.read)(t, order).map(|w| (w, f.name)))
}

/// The names of the forms [`parse`] reads, for messages.
pub(crate) fn form_names() -> String {
    FORMS.iter().map(|f| f.name).collect::<Vec<_>>().join(", ")
}

/// A date and time without a zone, as the local time it is.
pub(crate) fn local(dt: NaiveDateTime) -> When {
    When::Local {
        date: Some(dt.date()),
        two_digit_year: false,
        tod: dt.time(),
    }
}

/// `YYYY-MM-DD[T ]HH:MM:SS[.f{1,9}][Z|±HH[:MM]]`.
fn iso(t: &str, _: DayOrder) -> Option<When> {
    let b = t.as_bytes();
    if b.len() < 19 || b.get(4) != Some(&b'-') || !matches!(b.get(10), Some(b'T' | b't' | b' ')) {
        return None;
    }
    // The zone: a trailing `Z`, or a sign after the time of day (the date has `-` too).
    let (naive, offset_s) = if let Some(rest) = t.strip_suffix(['Z', 'z']) {
        (rest, Some(0))
    } else {
        match t
            .get(11..)?
            .rfind(['+', '-'])
            .map(|i| i + 11)
            .and_then(|i| Some((t.get(..i)?, t.get(i..)?)))
        {
            Some((naive, zone)) => (naive, Some(offset_seconds(zone)?)),
            None => (t, None),
        }
    };
    let naive = naive.trim_end();
    // 1 to 9 fraction digits (chrono would drop a 10th silently).
    if let Some(dot) = naive.rfind('.') {
        let frac = naive.get(dot + 1..)?;
        if !(1..=9).contains(&frac.len()) || !frac.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
    }
    let pattern = match b.get(10) {
        Some(b' ') => "%Y-%m-%d %H:%M:%S%.f",
        Some(b't') => "%Y-%m-%dt%H:%M:%S%.f",
        _ => "%Y-%m-%dT%H:%M:%S%.f",
    };
    let dt = NaiveDateTime::parse_from_str(naive, pattern).ok()?;
    match offset_s {
        None => Some(local(dt)),
        Some(off) => zoned(dt, off),
    }
}

/// A local date and time at `offset_s` seconds east of UTC, as an instant.
fn zoned(dt: NaiveDateTime, offset_s: i32) -> Option<When> {
    let utc = dt.checked_sub_signed(chrono::TimeDelta::try_seconds(i64::from(offset_s))?)?;
    Some(When::Zoned {
        ns: utc.and_utc().timestamp_nanos_opt()?,
        offset_s,
    })
}

/// `±HH:MM`, `±HHMM` or `±HH` as seconds east of UTC (below 24 h).
fn offset_seconds(zone: &str) -> Option<i32> {
    let (sign, rest) = match zone.as_bytes().first()? {
        b'+' => (1, zone.get(1..)?),
        b'-' => (-1, zone.get(1..)?),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if !digits.bytes().all(|c| c.is_ascii_digit()) || rest.matches(':').count() > 1 {
        return None;
    }
    let (h, m) = match digits.len() {
        2 => (digits.parse::<i32>().ok()?, 0),
        4 => (
            digits.get(..2)?.parse::<i32>().ok()?,
            digits.get(2..)?.parse::<i32>().ok()?,
        ),
        _ => return None,
    };
    (h < 24 && m < 60).then_some(sign * (h * 3600 + m * 60))
}

/// `Tue, 04 Jun 2024 16:33:22 GMT` (RFC 1123, which RFC 2822 includes).
fn rfc1123(t: &str, _: DayOrder) -> Option<When> {
    if !t.as_bytes().first()?.is_ascii_alphabetic() {
        return None;
    }
    instant(DateTime::parse_from_rfc2822(t).ok()?)
}

/// A time read with its own offset, as an instant that remembers the offset.
pub(crate) fn instant(dt: DateTime<FixedOffset>) -> Option<When> {
    Some(When::Zoned {
        ns: dt.timestamp_nanos_opt()?,
        offset_s: dt.offset().local_minus_utc(),
    })
}

/// Epoch numbers by magnitude (see the module docs).
fn number(t: &str, _: DayOrder) -> Option<When> {
    if !t
        .bytes()
        .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+'))
        || !t.as_bytes().first()?.is_ascii_digit()
    {
        return None;
    }
    let v: f64 = t.parse().ok()?;
    let exp = t.contains(['e', 'E']);
    let unix = |unit_ns: i64| {
        if exp {
            return None;
        }
        decimal_ns(t, unit_ns, b'.').map(When::Utc)
    };
    match v {
        v if v < 1e8 => None,
        v if v < 1e11 => unix(1_000_000_000),
        v if v < 1e14 => unix(1_000_000),
        v if v < 1e16 => unix(1_000),
        v if v < 1e18 => filetime_ns(t).filter(|ns| *ns >= 0).map(When::Utc),
        v if v < 1e20 => unix(1),
        _ => None,
    }
}

fn culture(t: &str, order: DayOrder) -> Option<When> {
    if !t.as_bytes().first()?.is_ascii_digit() {
        return None;
    }
    CULTURE.iter().find_map(|(month_first, day_first)| {
        let p = match order {
            DayOrder::MonthFirst => month_first,
            DayOrder::DayFirst => day_first,
        };
        NaiveDateTime::parse_from_str(t, p).ok().map(local)
    })
}

/// What the slash dates of a column say about their order, from the cells seen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct DayScan {
    /// A cell whose first field is above 12 (so the day comes first).
    day_first: Option<String>,
    /// A cell whose second field is above 12 (so the month comes first).
    month_first: Option<String>,
    /// Slash dates with both fields 12 or below.
    ambiguous: u64,
}

impl DayScan {
    /// Looks at one time cell: `d?d/d?d/dddd` at its start counts.
    pub(crate) fn see(&mut self, cell: &str) {
        let mut parts = cell.trim().splitn(3, '/');
        let field = |p: Option<&str>| -> Option<u32> {
            let p = p?;
            ((1..=2).contains(&p.len()) && p.bytes().all(|c| c.is_ascii_digit()))
                .then(|| p.parse().ok())
                .flatten()
        };
        let (Some(a), Some(b)) = (field(parts.next()), field(parts.next())) else {
            return;
        };
        let year_ok = parts.next().is_some_and(|rest| {
            rest.len() >= 4 && rest.bytes().take(4).all(|c| c.is_ascii_digit())
        });
        if !year_ok {
            return;
        }
        if a > 12 && b <= 12 {
            self.day_first.get_or_insert_with(|| cell.to_owned());
        } else if b > 12 && a <= 12 {
            self.month_first.get_or_insert_with(|| cell.to_owned());
        } else if a <= 12 && b <= 12 {
            self.ambiguous += 1;
        }
    }

    /// The order to read the column with: day first if any first field is above 12, else
    /// month first (the US form, also when nothing decides).
    pub(crate) fn order(&self) -> DayOrder {
        if self.day_first.is_some() {
            DayOrder::DayFirst
        } else {
            DayOrder::MonthFirst
        }
    }

    /// A sentence for the report; None if the column had no slash dates.
    pub(crate) fn note(&self) -> Option<String> {
        match (&self.day_first, &self.month_first) {
            (Some(d), Some(m)) => Some(format!(
                "slash dates read day/month ('{d}' has a first field above 12), though \
                 '{m}' reads only month/day: such rows are skipped as bad time"
            )),
            (Some(d), None) => Some(format!(
                "slash dates read day/month: '{d}' has a first field above 12"
            )),
            (None, Some(m)) => Some(format!(
                "slash dates read month/day: '{m}' has a second field above 12"
            )),
            (None, None) if self.ambiguous > 0 => Some(format!(
                "slash dates ambiguous ({} seen, no field above 12): assumed month/day, the \
                 US form; if the exporting machine wrote day/month, give --time-col and \
                 --time-format '%d/%m/%Y %H:%M:%S'",
                self.ambiguous
            )),
            (None, None) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, TimeZone, Utc};

    fn utc_ns(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, nanos: u32) -> i64 {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
            .single()
            .and_then(|t| t.timestamp_nanos_opt())
            .map(|ns| ns + i64::from(nanos))
            .expect("valid instant")
    }

    fn when(t: &str) -> Option<When> {
        parse(t, DayOrder::MonthFirst).map(|w| w.0)
    }

    fn local(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, nanos: u32) -> When {
        When::Local {
            date: NaiveDate::from_ymd_opt(y, mo, d),
            two_digit_year: false,
            tod: chrono::NaiveTime::from_hms_nano_opt(h, mi, s, nanos).expect("time"),
        }
    }

    #[test]
    fn dotnet_standard_forms() {
        let at = utc_ns(2024, 6, 4, 16, 33, 22, 200_306_000);
        assert_eq!(
            when("2024-06-04T09:33:22.2003060-07:00"),
            Some(When::Zoned {
                ns: at,
                offset_s: -7 * 3600
            })
        );
        assert_eq!(
            when("2024-06-04T16:33:22.2003060Z"),
            Some(When::Zoned {
                ns: at,
                offset_s: 0
            })
        );
        assert_eq!(
            when("2024-06-05T02:03:22.2003060+09:30"),
            Some(When::Zoned {
                ns: at,
                offset_s: 34_200
            })
        );
        assert_eq!(
            when("2024-06-04T09:33:22.2003060"),
            Some(local(2024, 6, 4, 9, 33, 22, 200_306_000))
        );
        assert_eq!(
            when("2024-06-04T09:33:22"),
            Some(local(2024, 6, 4, 9, 33, 22, 0))
        );
        let u = utc_ns(2024, 6, 4, 16, 33, 22, 0);
        assert_eq!(
            when("2024-06-04 16:33:22Z"),
            Some(When::Zoned { ns: u, offset_s: 0 })
        );
        assert_eq!(
            when("Tue, 04 Jun 2024 16:33:22 GMT"),
            Some(When::Zoned { ns: u, offset_s: 0 })
        );
        for digits in 1..=9u32 {
            let frac = "123456789".get(..digits as usize).unwrap_or_default();
            let want = 123_456_789 / 10u32.pow(9 - digits) * 10u32.pow(9 - digits);
            assert_eq!(
                when(&format!("2024-06-04T09:33:22.{frac}")),
                Some(local(2024, 6, 4, 9, 33, 22, want)),
                "{digits} digits"
            );
        }
        assert_eq!(when("2024-06-04T09:33:22.0123456789"), None);
        assert_eq!(when("2024-06-04T09:33:22+25:00"), None);
        assert_eq!(when("2024-02-30T09:33:22"), None);
        assert_eq!(when("Mon, 04 Jun 2024 16:33:22 GMT"), None, "wrong weekday");
    }

    #[test]
    fn epoch_numbers_by_magnitude() {
        let at = utc_ns(2024, 6, 4, 16, 33, 22, 0);
        let s = at / 1_000_000_000;
        assert_eq!(when(&s.to_string()), Some(When::Utc(at)));
        assert_eq!(when(&format!("{s}.5")), Some(When::Utc(at + 500_000_000)));
        assert_eq!(when(&(s * 1000).to_string()), Some(When::Utc(at)));
        assert_eq!(when(&(s * 1_000_000).to_string()), Some(When::Utc(at)));
        assert_eq!(when(&at.to_string()), Some(When::Utc(at)));
        let ticks = at / 100 + 116_444_736_000_000_000;
        assert_eq!(when(&ticks.to_string()), Some(When::Utc(at)));
        // tracerpt's double: row 1 of the Log-parser sample, 2022-11-12T16:19:33.048245Z
        assert_eq!(
            when("1.3312743573048245e+17"),
            Some(When::Utc(utc_ns(2022, 11, 12, 16, 19, 33, 48_245_000)))
        );
        assert_eq!(when("12"), None, "too small for a wall-clock time");
        assert_eq!(when("-1717518802"), None);
        assert_eq!(when("1e400"), None);
    }

    #[test]
    fn culture_forms_and_day_order() {
        let us = local(2024, 6, 4, 9, 33, 22, 0);
        assert_eq!(when("6/4/2024 9:33:22 AM"), Some(us));
        assert_eq!(
            when("6/4/2024 9:33:22 PM"),
            Some(local(2024, 6, 4, 21, 33, 22, 0))
        );
        assert_eq!(when("06/04/2024 09:33:22"), Some(us));
        assert_eq!(
            parse("04/06/2024 09:33:22", DayOrder::DayFirst).map(|w| w.0),
            Some(us)
        );
        assert_eq!(when("04.06.2024 09:33:22"), Some(us));
        assert_eq!(when("04-06-2024 09:33:22"), Some(us));
        assert_eq!(when("2024/06/04 9:33:22"), Some(us));
        assert_eq!(
            when("04.06.2024 09:33:22.125"),
            Some(local(2024, 6, 4, 9, 33, 22, 125_000_000))
        );
        assert_eq!(when("13/13/2024 09:33:22"), None);
        assert_eq!(when("yesterday"), None);
        assert_eq!(when(""), None);

        let mut scan = DayScan::default();
        scan.see("04/06/2024 09:33:22");
        assert_eq!(scan.order(), DayOrder::MonthFirst);
        assert!(scan.note().is_some_and(|n| n.contains("assumed month/day")));
        scan.see("13/06/2024 09:33:22");
        assert_eq!(scan.order(), DayOrder::DayFirst);
        assert!(scan.note().is_some_and(|n| n.contains("'13/06/2024")));
        let mut scan = DayScan::default();
        scan.see("6/13/2024 9:33:22 AM");
        scan.see("2024-06-04T09:33:22");
        assert_eq!(scan.order(), DayOrder::MonthFirst);
        assert!(scan.note().is_some_and(|n| n.contains("read month/day")));
        assert_eq!(DayScan::default().note(), None);
    }

    /// Any text: no panic, and an instant only from a form's shape.
    #[test]
    fn arbitrary_text_does_not_panic() {
        let mut rng = crate::test_util::xorshift(0x1234_5678_9abc_def0);
        let alphabet = b"0123456789-+:.TZ /APMGe,";
        for _ in 0..20_000 {
            let len = (rng() % 40) as usize;
            let s: String = (0..len)
                .map(|_| char::from(alphabet[(rng() % alphabet.len() as u64) as usize]))
                .collect();
            let _ = parse(&s, DayOrder::DayFirst);
            let _ = parse(&s, DayOrder::MonthFirst);
            DayScan::default().see(&s);
        }
        let _ = parse("2024-06-04Té09:33:22", DayOrder::MonthFirst);
        let _ = parse("2024-06-04é09:33:22", DayOrder::MonthFirst);
    }
}
