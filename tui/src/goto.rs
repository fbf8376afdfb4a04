//! `t` (go to a time): the instant a typed text names, which clock it was read
//! on, and a refusal when it falls outside the trace.
//!
//! Engineers type times from two places: the timeline (UTC on the dump's clock)
//! and the trace file or the dump's `Debug session time` (local, in the dump's
//! zone). A wall-clock time without a zone (`14:08:14.806`, `2009-10-09
//! 10:08:14`) is therefore read both ways: the reading that falls inside the
//! trace is taken, UTC when both do; `UTC`/`Z` or `local` after it picks one.
//! The status line says which reading was used. A time outside the trace is
//! refused with the trace's span, never clamped to its first or last event.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Utc};

use crate::screen::rfc3339_ns;

/// What a typed time is read against.
pub(crate) struct Clocks {
    /// The UTC date of the event selected in the timeline (for a bare time of day).
    pub day_utc: Option<NaiveDate>,
    /// The same event's date in the dump's zone.
    pub day_local: Option<NaiveDate>,
    /// The dump's zone (`Debug session time`), what "local" means.
    pub zone: Option<FixedOffset>,
    /// The dump time (ns), for `+/-SECONDS`.
    pub dump_ns: Option<i64>,
    /// First and last trace event, on the dump's clock (ns).
    pub window: Option<(i64, i64)>,
}

/// Where to go, and the status line that says how the text was read.
#[derive(Debug, PartialEq)]
pub(crate) struct Target {
    pub ns: i64,
    pub said: String,
}

/// Which clock a zone-less time is on.
#[derive(Clone, Copy, PartialEq)]
enum Clock {
    Utc,
    Local,
}

/// `14:08:14.806000 UTC`.
fn shown(ns: i64) -> String {
    format!(
        "{} UTC",
        DateTime::<Utc>::from_timestamp_nanos(ns).format("%Y-%m-%d %H:%M:%S%.6f")
    )
}

/// Splits off a trailing `UTC`, `Z` or `local`.
fn clock_word(s: &str) -> (&str, Option<Clock>) {
    let lower = s.to_ascii_lowercase();
    for (word, clock) in [(" utc", Clock::Utc), (" local", Clock::Local)] {
        if lower.ends_with(word) {
            return (s[..s.len() - word.len()].trim_end(), Some(clock));
        }
    }
    match s.strip_suffix(['Z', 'z']) {
        Some(rest) => (rest, Some(Clock::Utc)),
        None => (s, None),
    }
}

/// A wall-clock time without a zone: a full date and time, or a time of day to
/// be put on a day the caller picks per clock.
enum Wall {
    Full(NaiveDateTime),
    TimeOfDay(NaiveTime),
}

fn wall(s: &str) -> Option<Wall> {
    let full = ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok());
    match full {
        Some(t) => Some(Wall::Full(t)),
        None => NaiveTime::parse_from_str(s, "%H:%M:%S%.f")
            .ok()
            .map(Wall::TimeOfDay),
    }
}

/// The instant `w` names on `clock`, or why it names none.
fn reading(w: &Wall, clock: Clock, c: &Clocks) -> Result<i64, String> {
    let day = match clock {
        Clock::Utc => c.day_utc,
        Clock::Local => c.day_local,
    };
    let naive = match w {
        Wall::Full(t) => *t,
        Wall::TimeOfDay(t) => day
            .ok_or("no date known: give YYYY-MM-DD HH:MM:SS")?
            .and_time(*t),
    };
    let utc = match clock {
        Clock::Utc => naive.and_utc(),
        Clock::Local => {
            let zone = c.zone.ok_or(
                "the dump's zone is unknown, so a local time cannot be read: type it in UTC",
            )?;
            naive
                .and_local_timezone(zone)
                .single()
                .ok_or("not a time in the dump's zone")?
                .with_timezone(&Utc)
        }
    };
    utc.timestamp_nanos_opt()
        .ok_or_else(|| "out of range".to_string())
}

/// The time `s` names, read as the module docs say.
pub(crate) fn resolve(s: &str, c: &Clocks) -> Result<Target, String> {
    let s = s.trim();
    let (lo, hi) = c
        .window
        .ok_or("no trace events: there is no timeline to go to")?;
    let inside = |ns: i64| (lo..=hi).contains(&ns);
    let outside = |what: String| {
        format!(
            "'{s}' is outside the trace, not moved (the trace: {} to {}; {what})",
            shown(lo),
            shown(hi)
        )
    };
    let exact = |ns: i64, how: String| {
        if inside(ns) {
            Ok(Target {
                ns,
                said: format!("went to {} ({how})", shown(ns)),
            })
        } else {
            Err(outside(format!("it is {}", shown(ns))))
        }
    };
    if let Some(ns) = rfc3339_ns(s) {
        return exact(ns, "its own zone".into());
    }
    if s.starts_with(['+', '-']) {
        let secs: f64 = s
            .parse()
            .map_err(|_| format!("'{s}': not a number of seconds"))?;
        let d = c
            .dump_ns
            .ok_or("the dump time is unknown: give a full time")?;
        return exact(
            d.saturating_add((secs * 1e9).round() as i64),
            "seconds from the dump time".into(),
        );
    }
    let (text, picked) = clock_word(s);
    let w = wall(text).ok_or_else(|| {
        format!("'{s}': expected HH:MM:SS.fff (UTC or local; add UTC or local to choose), an RFC 3339 time, or +/-SECONDS from the dump")
    })?;
    let zone = c.zone.map_or("zone unknown".into(), |z| z.to_string());
    let local_name = format!("local time ({zone})");
    let clocks: &[Clock] = match picked {
        Some(Clock::Utc) => &[Clock::Utc],
        Some(Clock::Local) => &[Clock::Local],
        None => &[Clock::Utc, Clock::Local],
    };
    let mut read = Vec::new();
    for &clock in clocks {
        match reading(&w, clock, c) {
            Ok(ns) => read.push((clock, ns)),
            // Asked for by name: its failure is the answer.
            Err(e) if picked.is_some() => return Err(format!("'{s}': {e}")),
            Err(_) => {}
        }
    }
    let name = |clock| match clock {
        Clock::Utc => "UTC".to_string(),
        Clock::Local => local_name.clone(),
    };
    let fits: Vec<&(Clock, i64)> = read.iter().filter(|(_, ns)| inside(*ns)).collect();
    match fits.as_slice() {
        [] if read.is_empty() => Err(format!("'{s}': no date known: give YYYY-MM-DD HH:MM:SS")),
        [] => {
            let as_read: Vec<String> = read
                .iter()
                .map(|(k, ns)| format!("as {} {}", name(*k), shown(*ns)))
                .collect();
            Err(outside(as_read.join(", ")))
        }
        [(k, ns), rest @ ..] => {
            let mut said = format!("went to {} ('{text}' read as {})", shown(*ns), name(*k));
            if let Some((other, ons)) = rest.iter().find(|(_, o)| o != ns) {
                said.push_str(&format!(
                    "; as {} it is {}, also in the trace: add '{}' for it",
                    name(*other),
                    shown(*ons),
                    if *other == Clock::Local {
                        "local"
                    } else {
                        "UTC"
                    }
                ));
            }
            Ok(Target { ns: *ns, said })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(s: &str) -> i64 {
        rfc3339_ns(s).expect("a valid time")
    }

    /// The cs-periodic-error case's clocks: dump zone UTC-4, trace 14:05 to 14:10 UTC.
    fn clocks() -> Clocks {
        Clocks {
            day_utc: NaiveDate::from_ymd_opt(2009, 10, 9),
            day_local: NaiveDate::from_ymd_opt(2009, 10, 9),
            zone: FixedOffset::west_opt(4 * 3600),
            dump_ns: Some(ns("2009-10-09T14:08:21.713Z")),
            window: Some((ns("2009-10-09T14:05:00Z"), ns("2009-10-09T14:10:00Z"))),
        }
    }

    #[test]
    fn a_bare_time_is_read_on_the_clock_that_falls_in_the_trace() {
        let c = clocks();
        let want = ns("2009-10-09T14:08:14.806Z");
        let t = resolve("14:08:14.806", &c).expect("in the trace as UTC");
        assert_eq!(t.ns, want);
        assert!(t.said.contains("read as UTC"), "{}", t.said);
        // The trace file's own wall clock: local, 4 h behind.
        let t = resolve("10:08:14.806", &c).expect("in the trace as local time");
        assert_eq!(t.ns, want);
        assert!(t.said.contains("read as local time (-04:00)"), "{}", t.said);
        let t = resolve("2009-10-09 10:08:14.806", &c).expect("full local time");
        assert_eq!(t.ns, want);
        assert!(t.said.contains("local"), "{}", t.said);
    }

    #[test]
    fn a_named_clock_is_the_only_reading() {
        let c = clocks();
        let want = ns("2009-10-09T14:08:14.806Z");
        assert_eq!(resolve("10:08:14.806 local", &c).map(|t| t.ns), Ok(want));
        assert_eq!(resolve("14:08:14.806 UTC", &c).map(|t| t.ns), Ok(want));
        assert_eq!(resolve("14:08:14.806Z", &c).map(|t| t.ns), Ok(want));
        // 10:08 as UTC is not in the trace: refused, not read as local.
        let e = resolve("10:08:14.806 utc", &c).expect_err("outside as UTC");
        assert!(e.contains("outside the trace"), "{e}");
        // Without the dump's zone, local cannot be read.
        let c = Clocks {
            zone: None,
            ..clocks()
        };
        let e = resolve("10:08:14 local", &c).expect_err("no zone");
        assert!(e.contains("zone is unknown"), "{e}");
    }

    #[test]
    fn a_time_outside_the_trace_is_refused_not_clamped() {
        let c = clocks();
        let e = resolve("14:20:00", &c).expect_err("after the trace either way");
        assert!(
            e.contains("outside the trace, not moved (the trace: 2009-10-09 14:05:00.000000 UTC to 2009-10-09 14:10:00.000000 UTC;"),
            "{e}"
        );
        assert!(e.contains("as UTC 2009-10-09 14:20:00.000000 UTC"), "{e}");
        assert!(e.contains("not moved"), "{e}");
        let e = resolve("2009-10-08T14:08:00Z", &c).expect_err("a day early");
        assert!(e.contains("outside the trace"), "{e}");
        // +/-SECONDS count from the dump (14:08:21.713): -600 s is before the trace.
        assert!(resolve("-600", &c).is_err());
        assert_eq!(
            resolve("-1.5", &c).map(|t| t.ns),
            Ok(ns("2009-10-09T14:08:20.213Z"))
        );
        // No trace events: nowhere to go.
        let c = Clocks {
            window: None,
            ..clocks()
        };
        assert!(resolve("14:08:14", &c).is_err());
    }

    #[test]
    fn both_readings_in_the_trace_take_utc_and_name_the_other() {
        // A trace 30 h long holds 10:08 both as UTC and as local time.
        let c = Clocks {
            window: Some((ns("2009-10-09T00:00:00Z"), ns("2009-10-10T06:00:00Z"))),
            ..clocks()
        };
        let t = resolve("10:08:14", &c).expect("in the trace");
        assert_eq!(t.ns, ns("2009-10-09T10:08:14Z"));
        assert!(
            t.said.contains("as local time (-04:00) it is 2009-10-09 14:08:14.000000 UTC, also in the trace: add 'local'"),
            "{}",
            t.said
        );
    }

    #[test]
    fn malformed_times_say_what_is_accepted() {
        let c = clocks();
        for bad in ["14:08", "noon", "+x", ""] {
            assert!(resolve(bad, &c).is_err(), "{bad}");
        }
        let c = Clocks {
            day_utc: None,
            day_local: None,
            ..clocks()
        };
        assert!(resolve("14:08:14", &c)
            .expect_err("no day")
            .contains("no date known"));
    }
}
