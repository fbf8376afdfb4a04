//! Turning the bytes of a debugger log into lines we can parse.
//!
//! Engineers hand over logs as WinDbg wrote them (ASCII or, after `.logopen /u`,
//! UTF-16 LE with a BOM) and as they pasted them from web pages and mail, where
//! typography has been "improved". Everything here is about undoing that.

use std::borrow::Cow;
use std::ops::ControlFlow;

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
            f(&cut_line(&buf[..end]), false);
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
                let keep = emit_all(text.as_bytes(), done, &mut f);
                text.drain(..text.len() - keep);
                if text.len() > CHUNK {
                    // The same cut for UTF-16 input without newlines.
                    f(&text, false);
                    text.clear();
                }
                even
            }
            None => end - emit_all(&buf[start..end], done, &mut f),
        };
        buf.copy_within(used..end, 0);
        end -= used;
        if done {
            return Ok(total);
        }
    }
}

/// [`for_each_line`] over `bytes[range]` of a UTF-8 log already in memory (a map of the
/// file): the same lines, cut the same way, without copying them into a buffer first.
/// `range` starts at 0 (a BOM there is skipped) or at a line start, and ends at the end
/// of `bytes` or just after a newline. `f` also gets the offset in `bytes` where its
/// line starts, and may stop the reading before that line: the offset is then
/// returned. `read(from, to)` is called every [`RELEASE`] bytes with the span of lines
/// used since the last call, so the caller can let those pages of the map go.
pub(crate) fn for_each_mapped_line(
    bytes: &[u8],
    range: std::ops::Range<usize>,
    mut read: impl FnMut(usize, usize),
    mut f: impl FnMut(&str, bool, usize) -> ControlFlow<()>,
) -> Option<usize> {
    let end = range.end.min(bytes.len());
    let mut pos = range.start + bom_at(bytes, range.start);
    let mut reported = range.start;
    while pos < end {
        let (window, last) = window_at(bytes, pos, end);
        let mut used = match emit_lines(window, last, pos, &mut f) {
            Ok(rest) => window.len() - rest,
            Err(stop) => return Some(stop),
        };
        if used == 0 {
            if f(&cut_line(window), false, pos).is_break() {
                return Some(pos);
            }
            used = window.len();
        }
        pos += used;
        if pos - reported >= RELEASE {
            read(reported, pos);
            reported = pos;
        }
    }
    None
}

/// How many lines [`for_each_mapped_line`] gives for `bytes[range]` (the same range rules:
/// from the start of the log or a line start, to the end or a line start): the same
/// windows and cuts, newlines counted.
pub(crate) fn count_mapped_lines(bytes: &[u8], range: std::ops::Range<usize>) -> u64 {
    let end = range.end.min(bytes.len());
    let mut pos = range.start + bom_at(bytes, range.start);
    let mut lines = 0;
    while pos < end {
        let (window, last) = window_at(bytes, pos, end);
        let used = if last {
            // The last window gives all its lines, a last one without newline too.
            lines += count_newlines(window) + u64::from(!window.ends_with(b"\n"));
            window.len()
        } else {
            match memchr::memrchr(b'\n', window) {
                Some(i) => {
                    lines += count_newlines(&window[..i + 1]);
                    i + 1
                }
                // A window without a newline is cut into one line.
                None => {
                    lines += 1;
                    window.len()
                }
            }
        };
        pos += used;
    }
    lines
}

/// How many `\n` bytes `bytes` holds, eight bytes at a time: a byte of `w ^ 0x0a..0a` is
/// zero where `w` has a newline, and adding 0x7f to each byte's low seven bits sets its
/// high bit unless the byte is zero (the classic exact zero-byte test, no carries across
/// bytes).
fn count_newlines(bytes: &[u8]) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let mut words = bytes.chunks_exact(8);
    let mut n = 0u64;
    for w in words.by_ref() {
        let mut word = [0u8; 8];
        word.copy_from_slice(w);
        let x = u64::from_le_bytes(word) ^ 0x0a0a_0a0a_0a0a_0a0a;
        let nonzero = ((x & LOW7) + LOW7) | x;
        n += u64::from((!nonzero & !LOW7).count_ones());
    }
    n + words.remainder().iter().filter(|&&b| b == b'\n').count() as u64
}

/// The length of a UTF-8 BOM at `pos` when `pos` is the start of the log.
fn bom_at(bytes: &[u8], pos: usize) -> usize {
    if pos == 0 && bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
        3
    } else {
        0
    }
}

/// The window read at `pos`: at most CHUNK bytes, as the streaming reader holds (a line
/// with no newline in that many bytes is cut at the same place); true when it is the last.
fn window_at(bytes: &[u8], pos: usize, end: usize) -> (&[u8], bool) {
    let stop = end.min(pos + CHUNK);
    (&bytes[pos..stop], stop == end)
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

/// Emits every complete line of `bytes` (all of them when `last`), each with its
/// offset (`base` + its position in `bytes`); returns how many bytes at the end belong
/// to an unfinished line, or the offset of the line `f` stopped before.
fn emit_lines(
    bytes: &[u8],
    last: bool,
    base: usize,
    f: &mut impl FnMut(&str, bool, usize) -> ControlFlow<()>,
) -> Result<usize, usize> {
    let complete = if last {
        bytes.len()
    } else {
        match memchr::memrchr(b'\n', bytes) {
            Some(i) => i + 1,
            None => return Ok(bytes.len()),
        }
    };
    let (lines, rest) = bytes.split_at(complete);
    if lines.is_empty() {
        return Ok(rest.len());
    }
    let mut start = 0;
    match std::str::from_utf8(lines) {
        Ok(text) => {
            let ascii = text.is_ascii();
            for i in memchr::memchr_iter(b'\n', lines) {
                let line = &text[start..i];
                if f(line.strip_suffix('\r').unwrap_or(line), ascii, base + start).is_break() {
                    return Err(base + start);
                }
                start = i + 1;
            }
            if start < text.len() {
                let line = &text[start..];
                if f(line.strip_suffix('\r').unwrap_or(line), ascii, base + start).is_break() {
                    return Err(base + start);
                }
            }
        }
        // Some line is not UTF-8: replace in that line only.
        Err(_) => {
            let lines = lines.strip_suffix(b"\n").unwrap_or(lines);
            for line in lines.split(|&b| b == b'\n') {
                if f(&cut_line(line), false, base + start).is_break() {
                    return Err(base + start);
                }
                start += line.len() + 1;
            }
        }
    }
    Ok(rest.len())
}

/// [`emit_lines`] for a reader that takes every line.
fn emit_all(bytes: &[u8], last: bool, f: &mut impl FnMut(&str, bool)) -> usize {
    let mut all = |line: &str, ascii: bool, _: usize| {
        f(line, ascii);
        ControlFlow::Continue(())
    };
    // `all` never stops, so there is no stop offset to lose.
    emit_lines(bytes, last, 0, &mut all).unwrap_or_default()
}

/// One line's bytes as text: without its `\r`, invalid UTF-8 replaced.
fn cut_line(line: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(line.strip_suffix(b"\r").unwrap_or(line))
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
            let mut starts = Vec::new();
            let stop = for_each_mapped_line(
                bytes,
                0..bytes.len(),
                |from, to| {
                    assert_eq!(reported.last(), Some(&from));
                    reported.push(to)
                },
                |l, ascii, at| {
                    mapped.push((l.to_string(), ascii));
                    starts.push(at);
                    ControlFlow::Continue(())
                },
            );
            assert_eq!(stop, None);
            let text = |v: &[(String, bool)]| v.iter().map(|l| l.0.clone()).collect::<Vec<_>>();
            assert_eq!(text(&mapped), text(&v));
            assert!(mapped
                .iter()
                .chain(&v)
                .all(|(l, ascii)| !ascii || l.is_ascii()));
            assert!(reported.windows(2).all(|w| w[1] >= w[0] + RELEASE));
            assert_eq!(
                count_mapped_lines(bytes, 0..bytes.len()),
                mapped.len() as u64
            );
            // Read again from each line start (every one for short inputs, some for long
            // ones): the same lines from there on, and the same count before it; stopping
            // before a line returns where it starts.
            let step = (starts.len() / 50).max(1);
            for (i, &at) in starts.iter().enumerate().step_by(step) {
                assert_eq!(count_mapped_lines(bytes, 0..at), i as u64, "{at}");
                let rest = count_mapped_lines(bytes, at..bytes.len());
                assert_eq!(rest, (mapped.len() - i) as u64, "{at}..");
                let mut rest = Vec::new();
                let stop = for_each_mapped_line(
                    bytes,
                    at..bytes.len(),
                    |_, _| {},
                    |l, _, _| {
                        rest.push(l.to_string());
                        ControlFlow::Continue(())
                    },
                );
                assert_eq!((stop, &rest[..]), (None, &text(&mapped)[i..]), "{at}");
                let stop = for_each_mapped_line(
                    bytes,
                    0..bytes.len(),
                    |_, _| {},
                    |_, _, s| {
                        if s == at {
                            ControlFlow::Break(())
                        } else {
                            ControlFlow::Continue(())
                        }
                    },
                );
                assert_eq!(stop, Some(at));
            }
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
        // Short lines around a cut one: the reads from each line start agree.
        let mut mixed = b"a\nbb\n".repeat(1000);
        mixed.extend(std::iter::repeat_n(b'z', 5 * CHUNK / 2));
        mixed.push(b'\n');
        mixed.extend(b"c\r\nd\n".repeat(1000));
        let got = lines_of(&mixed);
        assert_eq!(got.len(), 2000 + 3 + 2000);
        let mut utf16 = vec![0xFF, 0xFE];
        utf16.extend(std::iter::repeat_n([b'y', 0], 3 * CHUNK / 2).flatten());
        let got = lines_of(&utf16);
        assert!(got.len() >= 2 && got.iter().all(|l| l.len() <= 2 * CHUNK));
    }

    #[test]
    fn newlines_counted_as_bytes_are() {
        // Every byte value next to newlines, at every alignment.
        let mut bytes: Vec<u8> = (0..=255u8).flat_map(|b| [b, b'\n', b, b, b'\n']).collect();
        bytes.extend(b"\n\n\n\x0b\x09\x8a\x0a");
        for start in 0..9 {
            let s = &bytes[start..];
            let want = s.iter().filter(|&&b| b == b'\n').count() as u64;
            assert_eq!(count_newlines(s), want, "from {start}");
        }
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
