//! Turning the bytes of a debugger log into lines we can parse.
//!
//! Engineers hand over logs as WinDbg wrote them (ASCII or, after `.logopen /u`,
//! UTF-16 LE with a BOM) and as they pasted them from web pages and mail, where
//! typography has been "improved". Everything here is about undoing that.

use std::borrow::Cow;

/// Decodes a whole log: UTF-16 LE/BE with or without BOM, UTF-8 with or without BOM.
/// Invalid UTF-8 is replaced, never rejected: a log with a few corrupt bytes
/// still has readable blocks.
pub(crate) fn decode(bytes: &[u8]) -> Cow<'_, str> {
    // `.logopen /u` writes UTF-16 LE with a BOM (WinDbg help for .logopen).
    if let Some((unit, bom)) = dumptrace_mapfile::utf16(bytes) {
        let mut s = String::new();
        push_utf16(&mut s, bytes.get(bom..).unwrap_or_default(), unit);
        return Cow::Owned(s);
    }
    let bytes = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
    String::from_utf8_lossy(bytes)
}

/// Appends the UTF-16 code units of `bytes` (an odd last byte is ignored);
/// unpaired surrogates become U+FFFD.
fn push_utf16(out: &mut String, bytes: &[u8], conv: fn([u8; 2]) -> u16) {
    let units = bytes.chunks_exact(2).map(|c| conv([c[0], c[1]]));
    out.extend(char::decode_utf16(units).map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER)));
}

/// How many bytes are read from a log at a time; also the longest line: a
/// longer "line" is cut, since no debugger prints one and a binary file
/// without newlines must not be held whole.
const CHUNK: usize = 1 << 20;

/// Calls `f` with each line of a log read from `r`, without holding the log:
/// UTF-16 LE/BE with BOM or UTF-8 (BOM or not), `\r\n` or `\n`, invalid
/// UTF-8 replaced per line. `f` also learns whether the line is known to be
/// ASCII (then [`normalize`] has nothing to undo). Returns the number of bytes read.
///
/// One buffer serves the whole read: the unfinished line at its end moves to
/// its front before the next read. The complete lines of a read are checked
/// as UTF-8 at once and split with `memchr` (the hot path of a 1 GB log).
pub(crate) fn for_each_line<R: std::io::Read>(
    mut r: R,
    mut f: impl FnMut(&str, bool),
) -> std::io::Result<u64> {
    let mut buf = vec![0u8; CHUNK];
    // Unread bytes are `buf[..end]`.
    let mut end = 0;
    let mut total = 0u64;
    let mut utf16: Option<fn([u8; 2]) -> u16> = None;
    let mut text = String::new();
    let mut first = true;
    loop {
        if end == buf.len() {
            // No newline in a whole buffer (CHUNK bytes): cut the line here.
            emit(&buf[..end], &mut f);
            end = 0;
        }
        let got = read_full(&mut r, &mut buf[end..])?;
        total += got as u64;
        let mut start = 0;
        end += got;
        if first {
            first = false;
            if let Some((unit, bom)) = dumptrace_mapfile::utf16(&buf[..end]) {
                utf16 = Some(unit);
                start = bom;
            } else if buf[..end].starts_with(&[0xEF, 0xBB, 0xBF]) {
                start = 3;
            }
        }
        let done = got == 0;
        let used = match utf16 {
            Some(conv) => {
                let mut even = start + ((end - start) & !1);
                // A high surrogate at the end waits for its pair in the next read.
                if !done && even >= start + 2 {
                    let last = conv([buf[even - 2], buf[even - 1]]);
                    if (0xD800..0xDC00).contains(&last) {
                        even -= 2;
                    }
                }
                push_utf16(&mut text, &buf[start..even], conv);
                let keep = emit_lines(text.as_bytes(), done, &mut f);
                text.drain(..text.len() - keep);
                if text.len() > CHUNK {
                    // The same cut for UTF-16 input without newlines.
                    f(&text, false);
                    text.clear();
                }
                even
            }
            None => end - emit_lines(&buf[start..end], done, &mut f),
        };
        buf.copy_within(used..end, 0);
        end -= used;
        if done {
            return Ok(total);
        }
    }
}

/// [`for_each_line`] over a UTF-8 log already in memory (a map of the file): the same
/// lines, cut the same way, without copying them into a buffer first. `read_up_to(end)`
/// is called every [`RELEASE`] bytes with the offset before which every line was used,
/// so the caller can let those pages of the map go.
pub(crate) fn for_each_mapped_line(
    bytes: &[u8],
    mut read_up_to: impl FnMut(usize),
    mut f: impl FnMut(&str, bool),
) {
    let mut pos = if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
        3
    } else {
        0
    };
    let mut reported = 0;
    while pos < bytes.len() {
        // At most CHUNK bytes at a time, as the streaming reader holds: a line with no
        // newline in that many bytes is cut at the same place.
        let window = &bytes[pos..bytes.len().min(pos + CHUNK)];
        let last = pos + window.len() == bytes.len();
        let mut used = window.len() - emit_lines(window, last, &mut f);
        if used == 0 {
            emit(window, &mut f);
            used = window.len();
        }
        pos += used;
        if pos - reported >= RELEASE {
            read_up_to(pos);
            reported = pos;
        }
    }
}

/// How often [`for_each_mapped_line`] reports progress.
const RELEASE: usize = 64 << 20;

/// Reads until `buf` is full or the input ends.
fn read_full<R: std::io::Read>(r: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Emits every complete line of `bytes` (all of them when `last`); returns how
/// many bytes at the end belong to an unfinished line.
fn emit_lines(bytes: &[u8], last: bool, f: &mut impl FnMut(&str, bool)) -> usize {
    let complete = if last {
        bytes.len()
    } else {
        match memchr::memrchr(b'\n', bytes) {
            Some(i) => i + 1,
            None => return bytes.len(),
        }
    };
    let (lines, rest) = bytes.split_at(complete);
    if lines.is_empty() {
        return rest.len();
    }
    match std::str::from_utf8(lines) {
        Ok(text) => {
            let ascii = text.is_ascii();
            let mut start = 0;
            for i in memchr::memchr_iter(b'\n', lines) {
                let line = &text[start..i];
                f(line.strip_suffix('\r').unwrap_or(line), ascii);
                start = i + 1;
            }
            if start < text.len() {
                let line = &text[start..];
                f(line.strip_suffix('\r').unwrap_or(line), ascii);
            }
        }
        // Some line is not UTF-8: replace in that line only.
        Err(_) => {
            let lines = lines.strip_suffix(b"\n").unwrap_or(lines);
            for line in lines.split(|&b| b == b'\n') {
                emit(line, f);
            }
        }
    }
    rest.len()
}

fn emit(line: &[u8], f: &mut impl FnMut(&str, bool)) {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    match std::str::from_utf8(line) {
        Ok(s) => f(s, false),
        Err(_) => f(&String::from_utf8_lossy(line), false),
    }
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
    matches!(line.trim_ascii(), "[...]" | "..." | "[..]" | "[.]")
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

    /// The lines of `bytes` streamed; for UTF-8, also checks that reading them in place
    /// gives the same lines. (The ASCII flag is a hint: either reader may leave it off
    /// for an ASCII line near invalid bytes, neither may set it for another line.)
    fn lines_of(bytes: &[u8]) -> Vec<String> {
        let mut v = Vec::new();
        for_each_line(bytes, |l, ascii| v.push((l.to_string(), ascii))).unwrap();
        if dumptrace_mapfile::utf16(bytes).is_none() {
            let mut mapped = Vec::new();
            let mut reported = vec![0];
            for_each_mapped_line(
                bytes,
                |end| reported.push(end),
                |l, ascii| mapped.push((l.to_string(), ascii)),
            );
            let text = |v: &[(String, bool)]| v.iter().map(|l| l.0.clone()).collect::<Vec<_>>();
            assert_eq!(text(&mapped), text(&v));
            assert!(mapped
                .iter()
                .chain(&v)
                .all(|(l, ascii)| !ascii || l.is_ascii()));
            assert!(reported.windows(2).all(|w| w[1] >= w[0] + RELEASE));
        }
        v.into_iter().map(|(l, _)| l).collect()
    }

    #[test]
    fn streamed_lines_match_str_lines() {
        let text = "0: kd> !cs\r\nCritical section   = 0x1\n\nlast line without newline";
        let want: Vec<String> = text.lines().map(str::to_string).collect();
        assert_eq!(lines_of(text.as_bytes()), want);
        let mut utf16 = vec![0xFF, 0xFE];
        for u in text.encode_utf16() {
            utf16.extend_from_slice(&u.to_le_bytes());
        }
        assert_eq!(lines_of(&utf16), want);
        let mut bom8 = vec![0xEF, 0xBB, 0xBF];
        bom8.extend_from_slice(text.as_bytes());
        assert_eq!(lines_of(&bom8), want);
        // Invalid UTF-8 is replaced in its own line only.
        assert_eq!(
            lines_of(b"ok\n\xff\xfe bad\nok2"),
            vec!["ok", "\u{fffd}\u{fffd} bad", "ok2"]
        );
        assert!(lines_of(b"").is_empty());
    }

    #[test]
    fn lines_across_chunk_boundaries() {
        // Lines longer than nothing in particular, crossing the 1 MiB chunks.
        let line = "f3c4ccac 8083129e ffdff5f0 8697ba00 a674c913 hal!KfLowerIrql+0x62";
        let text: String = (0..40_000).map(|i| format!("{i} {line}\r\n")).collect();
        let got = lines_of(text.as_bytes());
        assert_eq!(got.len(), 40_000);
        assert!(got
            .iter()
            .enumerate()
            .all(|(i, l)| *l == format!("{i} {line}")));
        let mut utf16 = vec![0xFE, 0xFF];
        for u in text.encode_utf16() {
            utf16.extend_from_slice(&u.to_be_bytes());
        }
        assert_eq!(lines_of(&utf16), got);
    }

    #[test]
    fn lines_without_newlines_are_cut_not_held() {
        let long = vec![b'x'; 5 * CHUNK / 2];
        let got = lines_of(&long);
        assert!(got.len() >= 2 && got.iter().all(|l| l.len() <= CHUNK));
        assert_eq!(got.iter().map(String::len).sum::<usize>(), long.len());
        let mut utf16 = vec![0xFF, 0xFE];
        utf16.extend(std::iter::repeat_n([b'y', 0], 3 * CHUNK / 2).flatten());
        let got = lines_of(&utf16);
        assert!(got.len() >= 2 && got.iter().all(|l| l.len() <= 2 * CHUNK));
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
