//! `Debug session time:` and `System Uptime:` lines (vertarget, .time, the banner).

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Utc};

use crate::model::SessionTime;

/// Parses the text after `Debug session time:`. Three forms (formats.md §4):
/// `Wed Jan 31 14:47:08 2001`, `Tue Jun 17 02:28:23.000 2008 (GMT-7)`,
/// `Sat Oct 12 18:27:59.711 2024 (UTC + 5:30)`.
pub(crate) fn session_time(text: &str) -> Option<SessionTime> {
    let raw = text.trim().to_string();
    let (main, zone) = match raw.split_once('(') {
        Some((m, z)) => (m.trim(), Some(z.trim_end_matches(')').trim())),
        None => (raw.as_str(), None),
    };
    let words: Vec<&str> = main.split_whitespace().collect();
    // weekday month day time year
    let [_, month, day, time, year] = words.as_slice() else {
        return None;
    };
    let month = month_number(month)?;
    let day: u32 = day.parse().ok()?;
    let year: i32 = year.parse().ok()?;
    let date = NaiveDate::from_ymd_opt(year, month, day)?;
    let time = NaiveTime::parse_from_str(time, "%H:%M:%S%.f").ok()?;
    let local = NaiveDateTime::new(date, time);
    let offset = zone.and_then(zone_offset);
    let utc = offset.and_then(|o| {
        local
            .checked_sub_offset(o)
            .map(|n| DateTime::<Utc>::from_naive_utc_and_offset(n, Utc))
    });
    Some(SessionTime {
        raw,
        local,
        offset,
        utc,
    })
}

fn month_number(m: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    MONTHS
        .iter()
        .position(|x| x.eq_ignore_ascii_case(m))
        .map(|i| i as u32 + 1)
}

/// `UTC - 4:00`, `UTC + 5:30`, `GMT-7`, `UTC`: local = UTC + offset.
pub(crate) fn zone_offset(z: &str) -> Option<FixedOffset> {
    let z: String = z.chars().filter(|c| !c.is_whitespace()).collect();
    let rest = z.strip_prefix("UTC").or_else(|| z.strip_prefix("GMT"))?;
    if rest.is_empty() {
        return FixedOffset::east_opt(0);
    }
    let (sign, hm) = match rest.as_bytes().first()? {
        b'+' => (1, &rest[1..]),
        b'-' => (-1, &rest[1..]),
        _ => return None,
    };
    let (h, m) = hm.split_once(':').unwrap_or((hm, "0"));
    let h: i32 = h.parse().ok()?;
    let m: i32 = m.parse().ok()?;
    FixedOffset::east_opt(sign * (h * 3600 + m * 60))
}

/// `System Uptime: 12 days 3:14:55.031`, `0 days 2:53:56`, `not available`.
pub(crate) fn uptime_ms(text: &str) -> Option<u64> {
    let t = text.trim();
    let (days, clock) = match t.split_once("day") {
        Some((d, rest)) => (
            d.trim().parse::<u64>().ok()?,
            rest.trim_start_matches('s').trim(),
        ),
        None => (0, t),
    };
    let (hms, frac) = clock.split_once('.').unwrap_or((clock, ""));
    let parts: Vec<u64> = hms
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [h, m, s] = parts.as_slice() else {
        return None;
    };
    let ms = super::grammar::fraction_ms(frac)?;
    Some(((days * 24 + h) * 60 + m) * 60_000 + s * 1000 + ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_time_forms() {
        let s = session_time("Fri Oct  9 10:08:21.713 2009 (UTC - 4:00)").unwrap();
        assert_eq!(s.utc.unwrap().to_rfc3339(), "2009-10-09T14:08:21.713+00:00");
        let s = session_time("Sat Oct 12 18:27:59.711 2024 (UTC + 5:30)").unwrap();
        assert_eq!(s.utc.unwrap().to_rfc3339(), "2024-10-12T12:57:59.711+00:00");
        let s = session_time("Tue Jun 17 02:28:23.000 2008 (GMT-7)").unwrap();
        assert_eq!(s.utc.unwrap().to_rfc3339(), "2008-06-17T09:28:23+00:00");
        let s = session_time("Wed Jan 31 14:47:08 2001").unwrap();
        assert!(s.utc.is_none());
        assert_eq!(s.local.to_string(), "2001-01-31 14:47:08");
    }

    #[test]
    fn uptime_forms() {
        assert_eq!(uptime_ms("61 days 3:40:01.122"), Some(5_283_601_122));
        assert_eq!(uptime_ms("0 days 2:53:56"), Some(10_436_000));
        assert_eq!(uptime_ms("not available"), None);
    }
}
