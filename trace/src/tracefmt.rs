//! Tracefmt / TraceView text: `[CPU]PID.TID::TIME [Provider]Message`.
//!
//! That is the default trace message prefix `[%9!d!]%8!04X!.%3!04X!::%4!s! [%1!s!]`
//! (windows-driver-docs `devtest/trace-message-prefix.md`, formats.md §5). netsh
//! `trace convert` and pktmon print the same shape with other date forms. A custom
//! `%TRACE_FORMAT_PREFIX%` is not understood; such lines are skipped as "no prefix".

use crate::clock::{date_prefix, time_of_day};
use crate::read::{Parsed, Row, BAD_ID, BAD_TIME, NO_PREFIX};

/// Parses one line. Borrowed slices only; nothing is allocated.
pub(crate) fn parse_line(line: &str) -> Parsed<'_> {
    let b = line.as_bytes();
    if b.first() != Some(&b'[') {
        // Wrapped continuation lines of multi-line messages land here.
        return Err(NO_PREFIX);
    }
    let cpu = count(b, 1, |c| c.is_ascii_digit());
    if cpu == 0 || b.get(1 + cpu) != Some(&b']') {
        return Err(NO_PREFIX);
    }
    let mut i = 2 + cpu;
    // `[2] 0C34.2FF0::…`: a space after `]` is printed by netsh trace convert
    // (SupportArticles-docs wireless troubleshooting article, formats.md §5).
    i += count(b, i, |c| c == b' ');
    let (pid, n) = hex_id(b, i)?;
    i += n;
    if b.get(i) != Some(&b'.') {
        return Err(NO_PREFIX);
    }
    let (tid, n) = hex_id(b, i + 1)?;
    i += 1 + n;
    if b.get(i..i + 2) != Some(b"::".as_slice()) {
        return Err(NO_PREFIX);
    }
    i += 2;
    let time_start = i;
    let rest = b.get(i..).unwrap_or_default();
    let (date, two_digit_year, date_len) = match date_prefix(rest) {
        Some((date, short, len)) => (Some(date), short, len),
        None => (None, false, 0),
    };
    i += date_len;
    let (tod, time_len) = time_of_day(b.get(i..).unwrap_or_default()).ok_or(NO_PREFIX)?;
    i += time_len;
    let time_raw = line.get(time_start..i).ok_or(NO_PREFIX)?;
    // The prefix ends with one space before `[Provider]`, or the line ends here.
    match b.get(i) {
        None | Some(b' ') => {}
        Some(_) => return Err(NO_PREFIX),
    }
    let tod = tod.ok_or(BAD_TIME)?;
    let date = match date {
        Some(Some(d)) => Some(d),
        Some(None) => return Err(BAD_TIME),
        None => None,
    };
    let after = line.get(i + 1..).unwrap_or_default();
    // The provider part may be missing (e.g. a prefix without `%1`); then all of it is message.
    let (provider, message) = match after.strip_prefix('[').and_then(|r| r.split_once(']')) {
        Some((p, m)) if !p.is_empty() => (Some(p), m),
        _ => (None, after),
    };
    Ok(Row {
        pid,
        tid,
        date,
        two_digit_year,
        tod,
        time_raw,
        provider,
        message: message.trim_end(),
    })
}

fn count(b: &[u8], at: usize, pred: impl Fn(u8) -> bool) -> usize {
    b.get(at..)
        .unwrap_or_default()
        .iter()
        .take_while(|&&c| pred(c))
        .count()
}

/// A PID or TID: at least 4 hex digits (`%8!04X!`; kernel events show `0000`).
fn hex_id(b: &[u8], at: usize) -> Result<(u32, usize), &'static str> {
    let n = count(b, at, |c| c.is_ascii_hexdigit());
    if n < 4 {
        return Err(NO_PREFIX);
    }
    let text = b.get(at..at + n).ok_or(NO_PREFIX)?;
    let text = std::str::from_utf8(text).map_err(|_| NO_PREFIX)?;
    let id = u32::from_str_radix(text, 16).map_err(|_| BAD_ID)?;
    Ok((id, n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, NaiveTime};

    fn row(line: &str) -> Row<'_> {
        match parse_line(line) {
            Ok(r) => r,
            Err(e) => panic!("{line:?}: {e}"),
        }
    }

    #[test]
    fn default_prefix_hw3d_shape() {
        let r = row("[1]5FEC.0E48::01/13/2024-23:31:07.097 [Atum-Hw3d]{\"a\":1}");
        assert_eq!((r.pid, r.tid), (0x5FEC, 0x0E48));
        assert_eq!(r.date, NaiveDate::from_ymd_opt(2024, 1, 13));
        assert_eq!(
            r.tod,
            NaiveTime::from_hms_milli_opt(23, 31, 7, 97).expect("t")
        );
        assert_eq!(r.time_raw, "01/13/2024-23:31:07.097");
        assert_eq!(r.provider, Some("Atum-Hw3d"));
        assert_eq!(r.message, "{\"a\":1}");
    }

    #[test]
    fn netsh_space_and_two_digit_year() {
        let r =
            row("[2] 0C34.2FF0::08/28/17-13:24:28.693 [Microsoft-Windows-WLAN-AutoConfig]Done ");
        assert_eq!((r.pid, r.tid), (0x0C34, 0x2FF0));
        assert_eq!(r.date, NaiveDate::from_ymd_opt(2017, 8, 28));
        assert!(r.two_digit_year);
        assert_eq!(r.provider, Some("Microsoft-Windows-WLAN-AutoConfig"));
        assert_eq!(r.message, "Done");
    }

    #[test]
    fn other_date_forms_and_no_date() {
        let r = row("[0]0000.0000::2025/03/27-16:12:13.966003800 [Kernel]x");
        assert_eq!((r.pid, r.tid), (0, 0), "kernel events show 0000.0000");
        assert_eq!(r.time_raw, "2025/03/27-16:12:13.966003800");
        let r = row("[3]1A2B3C.0004::2025-03-27 16:10:34.934020500 [P]y");
        assert_eq!(
            (r.pid, r.date),
            (0x1A2B3C, NaiveDate::from_ymd_opt(2025, 3, 27))
        );
        let r = row("[0]0004.0008::10:05:11.005 no provider here");
        assert_eq!(
            (r.date, r.provider, r.message),
            (None, None, "no provider here")
        );
        let r = row("[0]0004.0008::10:05:11.005");
        assert_eq!(r.message, "");
    }

    #[test]
    fn rejects_with_reasons() {
        let cases = [
            ("    continued text of the previous message", NO_PREFIX),
            ("[1]5FE.0E48::01/13/2024-23:31:07.097 [P]m", NO_PREFIX),
            ("[1]5FEC.0E48:01/13/2024-23:31:07.097 [P]m", NO_PREFIX),
            ("[1]5FEC.0E48::01/13/2024-23:31:07 [P]m", NO_PREFIX),
            ("[1]5FEC.0E48::01/13/2024-23:31:07.097[P]m", NO_PREFIX),
            ("[x]5FEC.0E48::01/13/2024-23:31:07.097 [P]m", NO_PREFIX),
            ("[1]5FEC.0E48::13/13/2024-23:31:07.097 [P]m", BAD_TIME),
            ("[1]5FEC.0E48::01/13/2024-24:31:07.097 [P]m", BAD_TIME),
            ("[1]123456789.0E48::01/13/2024-23:31:07.097 [P]m", BAD_ID),
        ];
        for (line, reason) in cases {
            assert_eq!(parse_line(line).err(), Some(reason), "{line}");
        }
    }
}
