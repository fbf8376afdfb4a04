//! Turning the bytes of a debugger log into lines we can parse.
//!
//! Engineers hand over logs as WinDbg wrote them (ASCII or, after `.logopen /u`,
//! UTF-16 LE with a BOM) and as they pasted them from web pages and mail, where
//! typography has been "improved". Everything here is about undoing that.

use std::borrow::Cow;

/// Decodes a whole log: UTF-16 LE/BE with BOM, UTF-8 with or without BOM.
/// Invalid UTF-8 is replaced, never rejected: a log with a few corrupt bytes
/// still has readable blocks.
pub(crate) fn decode(bytes: &[u8]) -> Cow<'_, str> {
    // `.logopen /u` writes UTF-16 LE with a BOM (WinDbg help for .logopen).
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        return Cow::Owned(decode_utf16(rest, u16::from_le_bytes));
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        return Cow::Owned(decode_utf16(rest, u16::from_be_bytes));
    }
    let bytes = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
    String::from_utf8_lossy(bytes)
}

fn decode_utf16(bytes: &[u8], conv: fn([u8; 2]) -> u16) -> String {
    let units = bytes.chunks_exact(2).map(|c| conv([c[0], c[1]]));
    char::decode_utf16(units)
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

/// Undoes web typography in one line, allocating only when the line is not ASCII.
///
/// Seen in the seeds (blog posts of real WinDbg output):
/// - `0×7c8106f9`, `+0×2f`: the multiplication sign U+00D7 for `x`.
/// - `“\\SERVER_B\Share_X$”`, `‘rundll32 …’`, `″`: curly quotes.
/// - `…` and `[…]`: elisions where the author cut output.
/// - `—-`, `––`: dashes in table rules.
pub(crate) fn normalize(line: &str) -> Cow<'_, str> {
    if line.is_ascii() {
        return Cow::Borrowed(line);
    }
    let mut out = String::with_capacity(line.len());
    for c in line.chars() {
        match c {
            '\u{00D7}' => out.push('x'),
            '\u{201C}' | '\u{201D}' | '\u{2033}' | '\u{201E}' => out.push('"'),
            '\u{2018}' | '\u{2019}' | '\u{2032}' => out.push('\''),
            '\u{2026}' => out.push_str("..."),
            '\u{2013}' | '\u{2014}' | '\u{2212}' => out.push('-'),
            '\u{00A0}' => out.push(' '),
            _ => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// A line that only says "output was cut here": `[...]`, `[…]`, `…`, `...`.
pub(crate) fn is_elision(line: &str) -> bool {
    matches!(line.trim(), "[...]" | "..." | "[..]" | "[.]")
}

/// Escapes control characters so that input text never drives the terminal.
pub fn escape_control(s: &str) -> Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_with_bom_decodes() {
        let mut bytes = vec![0xFF, 0xFE];
        for u in "0: kd> !cs\r\n".encode_utf16() {
            bytes.extend_from_slice(&u.to_le_bytes());
        }
        assert_eq!(decode(&bytes), "0: kd> !cs\r\n");
    }

    #[test]
    fn web_typography_is_undone() {
        assert_eq!(
            normalize("f3c4ccac 8083129e hal!KfLowerIrql+0×62"),
            "f3c4ccac 8083129e hal!KfLowerIrql+0x62"
        );
        assert_eq!(normalize("“\\\\SERVER_B”"), "\"\\\\SERVER_B\"");
        assert!(is_elision(&normalize("[…]")));
        assert!(is_elision(&normalize("…")));
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape_control("a\x1b[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(escape_control("plain"), "plain");
    }
}
