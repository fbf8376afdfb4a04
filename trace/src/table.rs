//! Viewer table: `#    PID  TID  Time         Message` then rows
//! `1972 2780 5992 10:05:11.005 Error: [DB Driver] Not enough space on temp disk`
//! (line number, decimal PID, decimal TID, time of day, message). Seen in the trace excerpts
//! of the seed articles (DumpAnalysis.org pattern posts), where cut parts show as `[...]`.

use crate::clock::time_of_day;
use crate::read::{Parsed, Row, When, BAD_ID, BAD_TIME, ELISION, HEADER, NOT_A_ROW};

/// Parses one line. Borrowed slices only; nothing is allocated.
pub(crate) fn parse_line(line: &str) -> Parsed<'_> {
    // `trim` and `split_whitespace` include U+00A0: the seed's header is padded with
    // no-break spaces (text copied from a web page), so plain `' '` splitting would miss it.
    let text = line.trim();
    if is_elision(text) {
        return Err(ELISION);
    }
    if is_header(text) {
        return Err(HEADER);
    }
    let (number, rest) = token(text);
    let (pid, rest) = token(rest);
    let (tid, rest) = token(rest);
    let (time, message) = token(rest);
    if ![number, pid, tid].iter().all(|t| is_decimal(t)) {
        return Err(NOT_A_ROW);
    }
    let (tod, len) = time_of_day(time.as_bytes()).ok_or(NOT_A_ROW)?;
    if len != time.len() {
        return Err(NOT_A_ROW);
    }
    let tod = tod.ok_or(BAD_TIME)?;
    let when = When::Local {
        date: None,
        two_digit_year: false,
        tod,
    };
    let mut row = Row::new(when, time, message);
    row.pid = Some(pid.parse().map_err(|_| BAD_ID)?);
    row.tid = Some(tid.parse().map_err(|_| BAD_ID)?);
    Ok(row)
}

/// `[...]` marks lines cut from an excerpt; the seed also has `[…]` (U+2026).
pub(crate) fn is_elision(text: &str) -> bool {
    matches!(text, "[...]" | "[…]")
}

/// `#`, then the column names `PID TID Time Message` in any spacing and case.
pub(crate) fn is_header(text: &str) -> bool {
    let Some(rest) = text.strip_prefix('#') else {
        return false;
    };
    let mut names = rest.split_whitespace();
    ["pid", "tid", "time", "message"]
        .iter()
        .all(|want| names.next().is_some_and(|n| n.eq_ignore_ascii_case(want)))
        && names.next().is_none()
}

/// The text up to the next whitespace, and the rest with its leading whitespace removed.
fn token(s: &str) -> (&str, &str) {
    match s.find(char::is_whitespace) {
        Some(i) => {
            let (head, tail) = s.split_at(i);
            (head, tail.trim_start())
        }
        None => (s, ""),
    }
}

fn is_decimal(t: &str) -> bool {
    !t.is_empty() && t.bytes().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_header_elision() {
        let r = parse_line("1972 2780 5992 10:05:11.005 Error: [DB Driver] Not enough space")
            .expect("row");
        assert_eq!(
            (r.pid, r.tid, r.time_raw),
            (Some(2780), Some(5992), "10:05:11.005")
        );
        assert!(matches!(r.when, When::Local { date: None, .. }));
        assert_eq!(r.provider, None);
        assert_eq!(r.message, "Error: [DB Driver] Not enough space");
        // header padded with no-break spaces, as in the seed
        assert_eq!(
            parse_line("#\u{a0}\u{a0} PID\u{a0} TID\u{a0} Time\u{a0}\u{a0} Message").err(),
            Some(HEADER)
        );
        assert_eq!(
            parse_line("#    PID  TID  Time         Message").err(),
            Some(HEADER)
        );
        assert_eq!(parse_line("[...]").err(), Some(ELISION));
        assert_eq!(parse_line(" […] ").err(), Some(ELISION));
    }

    #[test]
    fn not_rows() {
        let cases = [
            ("- Dmitry Vostokov @ DumpAnalysis.org -", NOT_A_ROW),
            ("1972 2780 5992", NOT_A_ROW),
            ("1972 2780 5992 10:05:11", NOT_A_ROW),
            ("1972 0xAE 5992 10:05:11.005 m", NOT_A_ROW),
            ("1972 2780 5992 10:05:11.005x m", NOT_A_ROW),
            ("1972 2780 5992 10:65:11.005 m", BAD_TIME),
            ("1972 4294967296 5992 10:05:11.005 m", BAD_ID),
            ("# PID TID Time Message Extra", NOT_A_ROW),
        ];
        for (line, reason) in cases {
            assert_eq!(parse_line(line).err(), Some(reason), "{line}");
        }
        let r = parse_line("1 2 3 10:05:11.005").expect("row without message");
        assert_eq!(r.message, "");
    }
}
