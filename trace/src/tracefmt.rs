//! Tracefmt / TraceView text: `[CPU]PID.TID::TIME [Provider]Message`.
//!
//! That is the default trace message prefix `[%9!d!]%8!04X!.%3!04X!::%4!s! [%1!s!]`
//! (windows-driver-docs `devtest/trace-message-prefix.md`, formats.md §5). netsh
//! `trace convert` and pktmon print the same shape with other date forms.
//!
//! A custom `%TRACE_FORMAT_PREFIX%` is read where its parts can be recognised:
//! * a sequence number (`%7`) before the rest, `405: ` or `405 `;
//! * no CPU part (`%8!04X!.%3!04X!::%4!s!` alone);
//! * numbers between the time and `[Provider]` (kernel and user times, `%5 %6`);
//! * groups right after `[Provider]`, `(COMPNAME:FUNC:file_c123)` as in the docs' example
//!   (`how-do-i-include-the-source-line-number-in-the-trace-message-prefix-.md`) or
//!   `[file.c(123)]`, whose parts give `source`/`line` (`%2` prints `file_c123`: the dot of
//!   the file name turned into `_`, then the line) and `level` (`%!LEVEL!`, `TRACE_LEVEL_*`);
//! * a `TRACE_LEVEL_*` word opening the message (`%!LEVEL!` at the prefix's end).
//!
//! Other parts (`%!FUNC!` alone) cannot be told from message text and stay in the message.

use std::borrow::Cow;

use crate::cells::level_name;
use crate::clock::{date_prefix, time_of_day};
use crate::read::{Parsed, Row, When, BAD_ID, BAD_TIME, NO_PREFIX};

/// Parses one line. Borrowed slices only; nothing is allocated.
pub(crate) fn parse_line(line: &str) -> Parsed<'_> {
    let b = line.as_bytes();
    let mut i = sequence(b);
    if b.get(i) == Some(&b'[') {
        let cpu = count(b, i + 1, |c| c.is_ascii_digit());
        if cpu == 0 || b.get(i + 1 + cpu) != Some(&b']') {
            return Err(NO_PREFIX);
        }
        i += 2 + cpu;
        // `[2] 0C34.2FF0::…`: a space after `]` is printed by netsh trace convert
        // (SupportArticles-docs wireless troubleshooting article, formats.md §5).
        i += count(b, i, |c| c == b' ');
    }
    // Wrapped continuation lines of multi-line messages fail here: no `PID.TID::`.
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
    let after = skip_numbers(line.get(i + 1..).unwrap_or_default());
    // The provider part may be missing (e.g. a prefix without `%1`); then all of it is message.
    let (provider, message) = match after.strip_prefix('[').and_then(|r| r.split_once(']')) {
        Some((p, m)) if !p.is_empty() => (Some(p), m),
        _ => (None, after),
    };
    let when = When::Local {
        date,
        two_digit_year,
        tod,
    };
    let mut row = Row::new(when, time_raw, message.trim_end());
    row.pid = Some(pid);
    row.tid = Some(tid);
    row.provider = provider;
    extras(&mut row);
    Ok(row)
}

/// A sequence number (`%7!u!`) in front of the prefix: digits, an optional `:`, blanks.
fn sequence(b: &[u8]) -> usize {
    let n = count(b, 0, |c| c.is_ascii_digit());
    if n == 0 {
        return 0;
    }
    let mut i = n + usize::from(b.get(n) == Some(&b':'));
    let blanks = count(b, i, |c| c == b' ');
    if blanks == 0 {
        return 0;
    }
    i += blanks;
    i
}

/// Kernel and user times (`%5 %6`) between the time and `[Provider]`: skipped only when a
/// `[` follows them, so a message that starts with numbers keeps them.
fn skip_numbers(s: &str) -> &str {
    let mut rest = s;
    for _ in 0..3 {
        let t = rest.trim_start();
        let n = t.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 || t.as_bytes().get(n) != Some(&b' ') {
            break;
        }
        rest = t.get(n..).unwrap_or_default();
    }
    let t = rest.trim_start();
    if rest.len() != s.len() && t.starts_with('[') {
        t
    } else {
        s
    }
}

/// Source file, line and level from groups opening the message (see the module docs).
fn extras(row: &mut Row<'_>) {
    let mut msg = row.message;
    for _ in 0..3 {
        let close = match msg.as_bytes().first() {
            Some(b'(') => ')',
            Some(b'[') => ']',
            _ => break,
        };
        let Some(end) = msg.find(close) else { break };
        let inner = msg.get(1..end).unwrap_or_default();
        let mut known = false;
        for part in inner.split(':') {
            if let Some((file, line)) = file_line(part.trim()) {
                row.source = Some(file);
                row.line = Some(line);
                known = true;
            } else if part.trim().starts_with("TRACE_LEVEL_") {
                row.level = level_name(part);
                known = true;
            }
        }
        if !known {
            break;
        }
        msg = msg.get(end + 1..).unwrap_or_default().trim_start();
    }
    if let Some(rest) = msg.strip_prefix("TRACE_LEVEL_") {
        let n = rest
            .bytes()
            .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
            .count();
        let word = msg.get(..12 + n).unwrap_or_default();
        if n > 0 && matches!(rest.as_bytes().get(n), None | Some(b' ' | b':')) {
            row.level = level_name(word);
            msg = rest.get(n..).unwrap_or_default();
            msg = msg.strip_prefix(':').unwrap_or(msg).trim_start();
        }
    }
    row.message = msg;
}

/// `file.c(123)`, or WPP's `%2` form `file_c123` / `file_c_123` (the file name's dot
/// turned into `_`).
fn file_line(part: &str) -> Option<(Cow<'_, str>, u64)> {
    if let Some(open) = part.rfind('(') {
        let line = part.strip_suffix(')')?.get(open + 1..)?.parse().ok()?;
        let file = part.get(..open)?;
        return (file.contains('.') && !file.is_empty()).then_some((Cow::Borrowed(file), line));
    }
    let (stem, tail) = part.rsplit_once('_')?;
    let digits = tail.bytes().rev().take_while(u8::is_ascii_digit).count();
    let (ext, line) = if digits == tail.len() {
        let (stem2, ext) = stem.rsplit_once('_')?;
        (ext, (stem2, tail))
    } else {
        let ext = tail.get(..tail.len() - digits)?;
        (ext, (stem, tail.get(tail.len() - digits..)?))
    };
    let (stem, line_text) = line;
    let ext_ok = (1..=4).contains(&ext.len())
        && ext.bytes().all(|c| c.is_ascii_alphanumeric())
        && ext.as_bytes().first().is_some_and(u8::is_ascii_alphabetic);
    if !ext_ok || stem.is_empty() || line_text.is_empty() {
        return None;
    }
    let line = line_text.parse().ok()?;
    Some((Cow::Owned(format!("{stem}.{ext}")), line))
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
    // Digits are folded in as they are scanned: this runs twice on every line.
    let (mut id, mut n, mut overflow) = (0u32, 0usize, false);
    for &c in b.get(at..).unwrap_or_default() {
        let digit = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => break,
        };
        overflow |= id > u32::MAX >> 4;
        id = (id << 4) | u32::from(digit);
        n += 1;
    }
    match (n, overflow) {
        (0..=3, _) => Err(NO_PREFIX),
        (_, true) => Err(BAD_ID),
        _ => Ok((id, n)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, NaiveTime};

    #[test]
    fn hex_ids_fold_digits_and_reject_overflow() {
        assert_eq!(hex_id(b"[0]0ADC.1c64", 3), Ok((0x0ADC, 4)));
        assert_eq!(hex_id(b"1c64::", 0), Ok((0x1C64, 4)));
        assert_eq!(hex_id(b"FFFFFFFF.", 0), Ok((u32::MAX, 8)));
        assert_eq!(hex_id(b"100000000.", 0), Err(BAD_ID));
        assert_eq!(hex_id(b"ADC.", 0), Err(NO_PREFIX));
        assert_eq!(hex_id(b"0ADC", 9), Err(NO_PREFIX));
    }

    fn row(line: &str) -> Row<'_> {
        match parse_line(line) {
            Ok(r) => r,
            Err(e) => panic!("{line:?}: {e}"),
        }
    }

    #[test]
    fn default_prefix_hw3d_shape() {
        let r = row("[1]5FEC.0E48::01/13/2024-23:31:07.097 [Atum-Hw3d]{\"a\":1}");
        assert_eq!((r.pid, r.tid), (Some(0x5FEC), Some(0x0E48)));
        assert_eq!(
            r.when,
            When::Local {
                date: NaiveDate::from_ymd_opt(2024, 1, 13),
                two_digit_year: false,
                tod: NaiveTime::from_hms_milli_opt(23, 31, 7, 97).expect("t")
            }
        );
        assert_eq!(r.time_raw, "01/13/2024-23:31:07.097");
        assert_eq!(r.provider, Some("Atum-Hw3d"));
        assert_eq!(r.message, "{\"a\":1}");
    }

    #[test]
    fn netsh_space_and_two_digit_year() {
        let r =
            row("[2] 0C34.2FF0::08/28/17-13:24:28.693 [Microsoft-Windows-WLAN-AutoConfig]Done ");
        assert_eq!((r.pid, r.tid), (Some(0x0C34), Some(0x2FF0)));
        assert!(
            matches!(r.when, When::Local { date, two_digit_year: true, .. }
            if date == NaiveDate::from_ymd_opt(2017, 8, 28))
        );
        assert_eq!(r.provider, Some("Microsoft-Windows-WLAN-AutoConfig"));
        assert_eq!(r.message, "Done");
    }

    #[test]
    fn other_date_forms_and_no_date() {
        let r = row("[0]0000.0000::2025/03/27-16:12:13.966003800 [Kernel]x");
        assert_eq!(
            (r.pid, r.tid),
            (Some(0), Some(0)),
            "kernel events show 0000.0000"
        );
        assert_eq!(r.time_raw, "2025/03/27-16:12:13.966003800");
        let r = row("[3]1A2B3C.0004::2025-03-27 16:10:34.934020500 [P]y");
        assert_eq!(r.pid, Some(0x1A2B3C));
        assert!(matches!(r.when, When::Local { date, .. }
            if date == NaiveDate::from_ymd_opt(2025, 3, 27)));
        let r = row("[0]0004.0008::10:05:11.005 no provider here");
        assert!(matches!(r.when, When::Local { date: None, .. }));
        assert_eq!((r.provider, r.message), (None, "no provider here"));
        let r = row("[0]0004.0008::10:05:11.005");
        assert_eq!(r.message, "");
    }

    #[test]
    fn rejects_with_reasons() {
        let cases = [
            ("    continued text of the previous message", NO_PREFIX),
            ("12 apples", NO_PREFIX),
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

    #[test]
    fn custom_prefixes() {
        // the docs' example: [Provider](COMPNAME:FUNC:file_line), here with %!LEVEL! too
        let r = row("[0]0AF4.0C64::07/25/2003-14:55:39.998 [tracedrv](TRACEDRV:DriverEntry:tracedrv_c37:TRACE_LEVEL_ERROR)Hello, 1 Hi");
        assert_eq!(r.provider, Some("tracedrv"));
        assert_eq!(
            (r.source.as_deref(), r.line),
            (Some("tracedrv.c"), Some(37))
        );
        assert_eq!((r.level, r.message), (Some("error"), "Hello, 1 Hi"));
        // sequence number, no CPU, kernel/user times, [file.c(123)], level word
        let r = row(
            "405: 0AF4.0C64::14:55:39.998123 12 34 [drv][queue.cpp(123)] TRACE_LEVEL_VERBOSE: m",
        );
        assert_eq!((r.pid, r.provider), (Some(0x0AF4), Some("drv")));
        assert_eq!(
            (r.source.as_deref(), r.line),
            (Some("queue.cpp"), Some(123))
        );
        assert_eq!((r.level, r.message), (Some("verbose"), "m"));
        assert_eq!(r.time_raw, "14:55:39.998123");
        // %2 with an underscore before the line; unrecognised groups stay in the message
        let r = row("[1]0004.0008::10:05:11.005 [P](x_h_9)(not a prefix) text");
        assert_eq!((r.source.as_deref(), r.line), (Some("x.h"), Some(9)));
        assert_eq!(r.message, "(not a prefix) text");
        let r = row("[1]0004.0008::10:05:11.005 [P]12 apples [x]");
        assert_eq!(r.message, "12 apples [x]");
        assert_eq!(file_line("readme_txt"), None);
        assert_eq!(file_line("a.c(x)"), None);
    }
}
