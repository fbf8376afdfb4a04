//! Cell values shared by the export readers: levels, `name (pid)` process cells, numbers
//! with group separators, decimal times scaled to nanoseconds, and FILETIMEs.

/// FILETIME of 1970-01-01T00:00:00Z (100 ns units since 1601-01-01 UTC).
const FILETIME_UNIX_EPOCH: i128 = 116_444_736_000_000_000;

/// The level vocabulary of the frame, by ETW level number 0–5.
pub(crate) const LEVELS: [&str; 6] = [
    "log-always",
    "critical",
    "error",
    "warning",
    "information",
    "verbose",
];

/// `str::trim`, with ASCII white space (all a cell has in practice: tracerpt's ` "…"` string
/// values) taken off byte by byte, and Unicode's rules applied only at a non-ASCII end.
pub(crate) fn trim(s: &str) -> &str {
    // `char::is_whitespace` on ASCII: these six (`\x0b` included, unlike
    // `u8::is_ascii_whitespace`).
    let ws = |c: &u8| matches!(c, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r');
    let b = s.as_bytes();
    let start = b.iter().position(|c| !ws(c)).unwrap_or(b.len());
    let end = b.iter().rposition(|c| !ws(c)).map_or(start, |i| i + 1);
    // ASCII bytes are character boundaries.
    let t = s.get(start..end).unwrap_or_default();
    let tb = t.as_bytes();
    if tb.first().is_some_and(|c| !c.is_ascii()) || tb.last().is_some_and(|c| !c.is_ascii()) {
        t.trim()
    } else {
        t
    }
}

/// The level as the frame stores it: ETW's numbers 0–5, WPP's `TRACE_LEVEL_*` names and the
/// event log's display names become one vocabulary; other values are kept as written.
/// None for an empty cell.
pub(crate) fn level_name(raw: &str) -> Option<&str> {
    let t = trim(raw);
    // The common case first: one digit (tracerpt, Get-WinEvent).
    if let [d @ b'0'..=b'5'] = t.as_bytes() {
        return Some(LEVELS[usize::from(d - b'0')]);
    }
    let name = t.strip_prefix("TRACE_LEVEL_").unwrap_or(t);
    let known = [
        (["0", "NONE", "LogAlways"], "log-always"),
        (["1", "CRITICAL", "FATAL"], "critical"),
        (["2", "ERROR", "Error"], "error"),
        (["3", "WARNING", "Warning"], "warning"),
        (["4", "INFORMATION", "Information"], "information"),
        (["5", "VERBOSE", "Verbose"], "verbose"),
    ];
    if t.is_empty() {
        return None;
    }
    for (spellings, norm) in known {
        if spellings.iter().any(|s| s.eq_ignore_ascii_case(name)) {
            return Some(norm);
        }
    }
    Some(t)
}

/// `rustc.exe (10612)`, `Idle (   0)` (xperf, formats.md §5; PerfView and WPA print processes
/// the same way): the number in the last parentheses. None if there is none.
pub(crate) fn process_pid(cell: &str) -> Option<u32> {
    let t = cell.trim_end();
    let inner = t.strip_suffix(')')?;
    let open = inner.rfind('(')?;
    inner.get(open + 1..)?.trim().parse().ok()
}

/// A whole number that may carry group separators (`1,234`, `1.234`, `1 234`): PerfView
/// formats integers in its `Rest` column with the culture's grouping (formats.md §5).
pub(crate) fn grouped_u32(cell: &str) -> Option<u32> {
    let mut v: u32 = 0;
    let mut any = false;
    for c in cell.trim().chars() {
        match c {
            '0'..='9' => {
                v = v.checked_mul(10)?.checked_add(c as u32 - '0' as u32)?;
                any = true;
            }
            ',' | '.' | ' ' | '\'' | '\u{a0}' | '\u{202f}' if any => {}
            _ => return None,
        }
    }
    any.then_some(v)
}

/// Plain decimal `u32` (PID/TID columns).
pub(crate) fn decimal_u32(cell: &str) -> Option<u32> {
    let t = trim(cell);
    if t.is_empty() {
        return None;
    }
    t.bytes().try_fold(0u32, |v, c| {
        let d = c.is_ascii_digit().then(|| u32::from(c - b'0'))?;
        v.checked_mul(10)?.checked_add(d)
    })
}

/// A decimal number of `unit_ns`-nanosecond units (`1234.567` ms, `12.345678901` s) as
/// nanoseconds, exactly (no binary floating point). `decimal` is the decimal mark; the
/// other of `.`/`,` is taken as a group separator and skipped. A leading `-` is allowed.
pub(crate) fn decimal_ns(cell: &str, unit_ns: i64, decimal: u8) -> Option<i64> {
    let t = cell.trim();
    let (neg, t) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t),
    };
    let group = if decimal == b'.' { b',' } else { b'.' };
    let mut whole: i64 = 0;
    let mut frac_ns: i64 = 0;
    let mut frac_scale = unit_ns;
    let mut in_frac = false;
    let mut digits = 0;
    for &b in t.as_bytes() {
        match b {
            b'0'..=b'9' => {
                digits += 1;
                let d = i64::from(b - b'0');
                if in_frac {
                    if frac_scale >= 10 {
                        frac_scale /= 10;
                        frac_ns += d * frac_scale;
                    }
                } else {
                    whole = whole.checked_mul(10)?.checked_add(d)?;
                }
            }
            c if c == decimal && !in_frac => in_frac = true,
            c if c == group && !in_frac && digits > 0 => {}
            _ => return None,
        }
    }
    if digits == 0 {
        return None;
    }
    let ns = whole.checked_mul(unit_ns)?.checked_add(frac_ns)?;
    Some(if neg { -ns } else { ns })
}

/// A FILETIME cell as Unix nanoseconds: an integer, or a double as tracerpt prints it
/// (`1.3312743607246872e+17`, Log-parser sample, formats.md §5).
///
/// Quirk: tracerpt's Clock-Time went through a double. At 1.3e17 a double's steps are
/// 16 × 100 ns, and 17 significant digits print to 10 × 100 ns, so detail below about 2 µs
/// is lost in the file itself. The text is read exactly (digits and exponent, no float
/// rounding on our side), so what is printed is what is kept.
pub(crate) fn filetime_ns(cell: &str) -> Option<i64> {
    let ticks = decimal_e(trim(cell))?;
    unix_ns_from_filetime(ticks)
}

/// 100-ns ticks since 1601 → ns since 1970, if within the frame's range.
pub(crate) fn unix_ns_from_filetime(ticks: i128) -> Option<i64> {
    // In i64 when the ticks fit (an overflow there is out of the frame's range in i128 too).
    if let Ok(t) = i64::try_from(ticks) {
        return t.checked_sub(FILETIME_UNIX_EPOCH as i64)?.checked_mul(100);
    }
    let ns = (ticks - FILETIME_UNIX_EPOCH).checked_mul(100)?;
    i64::try_from(ns).ok()
}

/// Powers of ten that fit a u64.
const POW10: [u64; 20] = {
    let mut t = [1u64; 20];
    let mut i = 1;
    while i < 20 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

/// `[-]digits[.digits][e[+-]digits]` read exactly as an integer (fraction truncated).
fn decimal_e(t: &str) -> Option<i128> {
    short_decimal_e(t.as_bytes()).or_else(|| wide_decimal_e(t))
}

/// [`decimal_e`] for up to 19 digits in all (every FILETIME, as integer or as tracerpt's
/// double) in u64 arithmetic: one tight pass instead of the general loop's checks per
/// digit and its i128 scaling. None whenever it cannot be sure, and the general reader
/// answers (the same value, or None for text that is not a number).
fn short_decimal_e(b: &[u8]) -> Option<i128> {
    let (neg, mut b) = match b {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, b),
    };
    let mut v: u64 = 0;
    let mut digits = 0u32;
    let mut frac_digits = 0i32;
    let mut in_frac = false;
    loop {
        match b {
            [c @ b'0'..=b'9', rest @ ..] => {
                if digits == 19 {
                    return None;
                }
                v = v * 10 + u64::from(c - b'0');
                digits += 1;
                frac_digits += i32::from(in_frac);
                b = rest;
            }
            [b'.', rest @ ..] if !in_frac => {
                in_frac = true;
                b = rest;
            }
            _ => break,
        }
    }
    let exp: i32 = match b {
        [] => 0,
        [b'e' | b'E', e @ ..] => {
            let (sign, e) = match e {
                [b'+', rest @ ..] => (1, rest),
                [b'-', rest @ ..] => (-1, rest),
                _ => (1, e),
            };
            if e.is_empty() || e.len() > 3 || !e.iter().all(u8::is_ascii_digit) {
                return None;
            }
            sign * e.iter().fold(0i32, |n, c| n * 10 + i32::from(c - b'0'))
        }
        _ => return None,
    };
    if digits == 0 {
        return None;
    }
    let scale = exp - frac_digits;
    let p = *POW10.get(scale.unsigned_abs() as usize)?;
    let v = i128::from(if scale >= 0 { v.checked_mul(p)? } else { v / p });
    Some(if neg { -v } else { v })
}

/// [`decimal_e`] for any number of digits.
fn wide_decimal_e(t: &str) -> Option<i128> {
    let b = t.as_bytes();
    let neg = b.first() == Some(&b'-');
    let mut i = usize::from(neg);
    // The first 19 digits in a u64 (a FILETIME has 18); i128 arithmetic only past them.
    let mut small: u64 = 0;
    let mut big: Option<i128> = None;
    let mut digits = 0u32;
    let mut frac_digits: i32 = 0;
    let mut in_frac = false;
    while let Some(&c) = b.get(i) {
        match c {
            b'0'..=b'9' => {
                // 38 digits fit an i128; more cannot be a FILETIME.
                if digits >= 38 {
                    return None;
                }
                let d = c - b'0';
                match big.as_mut() {
                    Some(v) => *v = *v * 10 + i128::from(d),
                    None if digits < 19 => small = small * 10 + u64::from(d),
                    None => big = Some(i128::from(small) * 10 + i128::from(d)),
                }
                digits += 1;
                frac_digits += i32::from(in_frac);
            }
            b'.' if !in_frac => in_frac = true,
            b'e' | b'E' => break,
            _ => return None,
        }
        i += 1;
    }
    if digits == 0 {
        return None;
    }
    let mut v = big.unwrap_or(i128::from(small));
    let exp: i32 = match b.get(i) {
        Some(_) => {
            let e = t.get(i + 1..)?;
            let e = e.strip_prefix('+').unwrap_or(e);
            if e.is_empty() || e.len() > 4 {
                return None;
            }
            e.parse().ok()?
        }
        None => 0,
    };
    let scale = exp - frac_digits;
    if !(-40..=40).contains(&scale) {
        return None;
    }
    if scale >= 0 {
        v = v.checked_mul(10i128.checked_pow(scale as u32)?)?;
    } else {
        v /= 10i128.checked_pow((-scale) as u32)?;
    }
    Some(if neg { -v } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels() {
        assert_eq!(level_name("4"), Some("information"));
        assert_eq!(level_name(" TRACE_LEVEL_ERROR "), Some("error"));
        assert_eq!(level_name("Warning"), Some("warning"));
        assert_eq!(level_name("16"), Some("16"));
        assert_eq!(level_name("  "), None);
        for s in [
            "",
            " ",
            "a",
            " a\u{b}",
            "\u{a0}a\u{a0}",
            " \u{3000} a é\u{2009}\n",
            "é",
            "\ta b\r\n",
            "ab",
        ] {
            assert_eq!(trim(s), s.trim(), "{s:?}");
        }
    }

    #[test]
    fn processes_and_ids() {
        assert_eq!(process_pid("rustc.exe (10612)"), Some(10612));
        assert_eq!(process_pid("Idle (   0)"), Some(0));
        assert_eq!(process_pid("a (b) (7)"), Some(7));
        assert_eq!(process_pid("System"), None);
        assert_eq!(grouped_u32("1,234"), Some(1234));
        assert_eq!(grouped_u32("1.234"), Some(1234));
        assert_eq!(grouped_u32(",1"), None);
        assert_eq!(grouped_u32("99999999999"), None);
        assert_eq!(decimal_u32(" 12536 "), Some(12536));
        assert_eq!(decimal_u32("0x10"), None);
        assert_eq!(decimal_u32("4294967295"), Some(u32::MAX));
        assert_eq!(decimal_u32("4294967296"), None);
        assert_eq!(decimal_u32("+1"), None);
    }

    #[test]
    fn decimals() {
        assert_eq!(decimal_ns("1234.567", 1_000_000, b'.'), Some(1_234_567_000));
        assert_eq!(decimal_ns("1.234,5", 1_000_000, b','), Some(1_234_500_000));
        assert_eq!(
            decimal_ns("12.3456789012", 1_000_000_000, b'.'),
            Some(12_345_678_901)
        );
        assert_eq!(decimal_ns("-0.5", 1_000_000_000, b'.'), Some(-500_000_000));
        assert_eq!(decimal_ns("", 1, b'.'), None);
        assert_eq!(decimal_ns("1.2.3", 1, b'.'), None);
        assert_eq!(decimal_ns("99999999999999999999", 1, b'.'), None);
    }

    #[test]
    fn filetimes() {
        // row 1 of the Log-parser sample: 2022-11-12T16:19:33.0482450Z
        assert_eq!(
            filetime_ns("1.3312743573048245e+17"),
            Some(1_668_269_973_048_245_000)
        );
        assert_eq!(
            filetime_ns("133127435730482450"),
            Some(1_668_269_973_048_245_000)
        );
        assert_eq!(filetime_ns("116444736000000000"), Some(0));
        assert_eq!(filetime_ns("1e999"), None);
        assert_eq!(filetime_ns("abc"), None);
        assert_eq!(filetime_ns("9e30"), None);
        // past 19 digits the arithmetic is wider, the value the same
        assert_eq!(
            filetime_ns("133127435730482450.000000000000"),
            Some(1_668_269_973_048_245_000)
        );
        assert_eq!(
            filetime_ns("1331274357304824500000000e-7"),
            Some(1_668_269_973_048_245_000)
        );
    }

    /// Against a plain oracle (digits joined, an exact power of ten in i128, range checked
    /// at the end) over mantissas of 1 to 24 digits, every position of the decimal point,
    /// exponents from -30 to 30 and both signs: the u64 fast path and the i128 path agree.
    #[test]
    fn filetimes_match_an_exact_oracle() {
        let oracle = |neg: bool, digits: &str, point: usize, exp: i32| -> Option<i64> {
            let v: i128 = digits.parse().ok()?;
            let scale = exp - (digits.len() - point) as i32;
            let v = if scale >= 0 {
                v.checked_mul(10i128.checked_pow(scale as u32)?)?
            } else {
                v / 10i128.checked_pow((-scale) as u32)?
            };
            let ticks = if neg { -v } else { v };
            let ns = (ticks - FILETIME_UNIX_EPOCH).checked_mul(100)?;
            i64::try_from(ns).ok()
        };
        let mut rng = crate::test_util::xorshift(0x9e37_79b9_7f4a_7c15);
        let (mut checked, mut in_range) = (0, 0);
        for len in 1..=24usize {
            for _ in 0..40 {
                let seed = rng();
                let digits: String = (0..len)
                    .map(|i| char::from(b'0' + ((seed >> (i % 60)) % 10) as u8))
                    .collect();
                let point = (seed % (len as u64 + 1)) as usize;
                // Half the cases scaled near 1e17 (within the frame's range), half anywhere.
                let exp = if seed & 2 == 0 {
                    (seed >> 8) as i32 % 31
                } else {
                    17 - point as i32 + 1 + (seed >> 8) as i32 % 2
                };
                let neg = seed & 2 == 0 && seed & 1 == 1;
                let text = format!(
                    "{}{}{}{}e{exp}",
                    if neg { "-" } else { "" },
                    &digits[..point],
                    if point < len { "." } else { "" },
                    &digits[point..]
                );
                let want = oracle(neg, &digits, point, exp);
                assert_eq!(filetime_ns(&text), want, "{text}");
                checked += 1;
                in_range += usize::from(want.is_some());
            }
        }
        assert_eq!(checked, 24 * 40);
        assert!(
            in_range > 100,
            "only {in_range} cases within the frame's range"
        );
    }
}
