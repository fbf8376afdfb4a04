//! The one CSV record splitter every CSV dialect uses (tracerpt, PerfView, WPA, Get-WinEvent,
//! user-mapped CSV) and, with quoting off, the xperf dumper text.
//!
//! It is lenient the way the Windows exporters need:
//!
//! * a quote opens a quoted field only at the start of a field (after padding blanks);
//!   elsewhere it is an ordinary character. PerfView writes its `Rest` cell
//!   (`ThreadID="12" Count="3"`) unquoted when it holds no separator, so its quotes must stay
//!   literal (perfview `EventWindow.xaml.cs` `EscapeForCsv`, formats.md §5);
//! * inside quotes `""` is one quote and line ends are part of the field (Get-WinEvent
//!   messages span lines);
//! * unquoted fields are trimmed of blanks: tracerpt pads its cells with spaces
//!   (Log-parser sample, formats.md §5).

/// One field: `text` is the trimmed cell, or the inside of its quotes (with `""` still
/// doubled; see [`Field::unescaped`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Field {
    start: u32,
    end: u32,
    pub(crate) quoted: bool,
}

/// Where a record ends in a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RecordEnd {
    /// Bytes of the record itself, without its line end (`\n` or `\r\n`).
    pub len: usize,
    /// Bytes to step over to the next record.
    pub step: usize,
    /// Line ends consumed (more than 1 when a quoted field spans lines).
    pub lines: u64,
    /// A quote was still open where the record was cut.
    pub unterminated: bool,
}

/// Splits the record at the start of `buf` into `fields` (cleared first) and says where it
/// ends.
///
/// With `force` false, None means `buf` ends inside the record and more input may follow.
/// With `force` true (end of input, or a record grown too long) the record always ends: at the
/// buffer's end, or, if a quote never closes, at the first line end after the record's start
/// (the quote is then taken as unterminated and the record reported malformed).
pub(crate) fn split(
    buf: &[u8],
    sep: u8,
    quoting: bool,
    force: bool,
    fields: &mut Vec<Field>,
) -> Option<RecordEnd> {
    fields.clear();
    let mut lines = 0u64;
    let mut field_start = 0usize;
    let mut quote = Quote::Out;
    // The second quote of a `""` pair inside quotes: not a closing quote.
    let mut escaped = usize::MAX;
    // One pass over the record for separators, quotes and line ends, 64 bytes at a time
    // ([`Hits`]), quoted fields included: tracerpt rows have 42 short cells, a few of them
    // quoted, so a search per cell (or memchr3's iterator, which sets up its vectors again
    // at every hit) mostly pays its set-up cost.
    for at in Hits::new(buf, sep) {
        let c = buf[at];
        match quote {
            Quote::In { open } => match c {
                b'"' if at == escaped => {}
                b'"' if buf.get(at + 1) == Some(&b'"') => escaped = at + 1,
                b'"' => quote = Quote::Closed { open, close: at },
                b'\n' => lines += 1,
                _ => {} // a separator inside quotes
            },
            // Whatever follows the closing quote up to the separator is dropped.
            Quote::Closed { open, close } => match c {
                b'"' => {}
                b'\n' => {
                    push(fields, open + 1, close, true);
                    return Some(ended(buf, at, lines));
                }
                _ => {
                    push(fields, open + 1, close, true);
                    field_start = at + 1;
                    quote = Quote::Out;
                }
            },
            Quote::Out => match c {
                b'"' => {
                    let blanks = buf
                        .get(field_start..at)
                        .unwrap_or_default()
                        .iter()
                        .all(|&c| c == b' ' || c == b'\t');
                    // Elsewhere a quote is a literal character of an unquoted cell.
                    if quoting && blanks {
                        quote = Quote::In { open: at };
                    }
                }
                b'\n' => {
                    push_plain(fields, field_start, strip_cr(buf, at));
                    return Some(ended(buf, at, lines));
                }
                _ => {
                    push_plain(fields, field_start, at);
                    field_start = at + 1;
                }
            },
        }
    }
    // The buffer ends inside the record.
    if !force {
        return None;
    }
    match quote {
        Quote::In { .. } => return Some(unterminated(buf, field_start, fields)),
        Quote::Closed { open, close } => push(fields, open + 1, close, true),
        // A separator right at the end still opens an empty last field.
        Quote::Out => push_plain(fields, field_start, strip_cr(buf, buf.len())),
    }
    Some(RecordEnd {
        len: strip_cr(buf, buf.len()),
        step: buf.len(),
        lines,
        unterminated: false,
    })
}

/// Where [`split`] is with respect to the quotes of the field it is in.
#[derive(Clone, Copy)]
enum Quote {
    /// Not in a quoted field.
    Out,
    /// Inside the quotes opened at `open`.
    In { open: usize },
    /// After the quotes `open..=close`, before the separator.
    Closed { open: usize, close: usize },
}

/// The positions of separators, quotes and line ends in `buf`, in order.
/// Each 64-byte block is classified at once into a bit mask (the compares vectorise), so a
/// hit costs a few instructions however close the hits are.
struct Hits<'b> {
    buf: &'b [u8],
    sep: u8,
    /// Start of the block `mask` describes.
    base: usize,
    /// Hits not yet returned in the block at `base`, bit `i` for `base + i`.
    mask: u64,
    /// Start of the next block.
    next: usize,
}

impl<'b> Hits<'b> {
    fn new(buf: &'b [u8], sep: u8) -> Self {
        Hits {
            buf,
            sep,
            base: 0,
            mask: 0,
            next: 0,
        }
    }
}

impl Iterator for Hits<'_> {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        while self.mask == 0 {
            let rest = self.buf.get(self.next..).filter(|r| !r.is_empty())?;
            self.base = self.next;
            self.next += 64;
            self.mask = match rest.first_chunk::<64>() {
                Some(block) => block_mask(block, self.sep),
                None => {
                    // The short tail: zero padding, with the padding's bits cleared (a
                    // separator could be NUL).
                    let mut block = [0u8; 64];
                    block[..rest.len()].copy_from_slice(rest);
                    block_mask(&block, self.sep) & (u64::MAX >> (64 - rest.len()))
                }
            };
        }
        let i = self.mask.trailing_zeros() as usize;
        self.mask &= self.mask - 1;
        Some(self.base + i)
    }
}

/// Bit `i` set where `block[i]` is `sep`, a quote or a line end.
#[inline]
fn block_mask(block: &[u8; 64], sep: u8) -> u64 {
    let mut hits = [0u8; 64];
    for (h, &c) in hits.iter_mut().zip(block) {
        *h = u8::from((c == sep) | (c == b'"') | (c == b'\n'));
    }
    // Each byte of `w` is 0 or 1; the multiply gathers byte j's bit into bit 56 + j, with no
    // two partial products on one bit (so no carries).
    let mut mask = 0u64;
    for (k, w) in hits.chunks_exact(8).enumerate() {
        let w = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
        mask |= (w.wrapping_mul(0x0102_0408_1020_4080) >> 56) << (8 * k);
    }
    mask
}

/// The record ends at the line end at `nl`.
fn ended(buf: &[u8], nl: usize, lines: u64) -> RecordEnd {
    RecordEnd {
        len: strip_cr(buf, nl),
        step: nl + 1,
        lines: lines + 1,
        unterminated: false,
    }
}

/// An unquoted cell `start..end`. Its padding blanks are trimmed when it is read
/// ([`Field::raw`]): a tracerpt row has about 80 bytes of padding in ID cells no reader
/// looks at (Log-parser sample), so trimming every cell here was wasted work.
fn push_plain(fields: &mut Vec<Field>, start: usize, end: usize) {
    push(fields, start, end, false);
}

/// An opening quote that never closes: the record ends at the first line end after it.
fn unterminated(buf: &[u8], field_start: usize, fields: &mut Vec<Field>) -> RecordEnd {
    let nl =
        memchr::memchr(b'\n', buf.get(field_start..).unwrap_or_default()).map(|k| field_start + k);
    let end = nl.unwrap_or(buf.len());
    let text_end = strip_cr(buf, end);
    // Keep what was split so far plus the rest of the line as one unquoted field.
    push_plain(fields, field_start, text_end);
    RecordEnd {
        len: text_end,
        step: nl.map_or(buf.len(), |n| n + 1),
        lines: u64::from(nl.is_some()),
        unterminated: true,
    }
}

fn push(fields: &mut Vec<Field>, start: usize, end: usize, quoted: bool) {
    // Records longer than 4 GiB do not occur; clamp rather than wrap.
    let clamp = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
    fields.push(Field {
        start: clamp(start),
        end: clamp(end.max(start)),
        quoted,
    });
}

fn strip_cr(buf: &[u8], end: usize) -> usize {
    if end > 0 && buf.get(end - 1) == Some(&b'\r') {
        end - 1
    } else {
        end
    }
}

impl Field {
    /// The field's text in `record` (the string the fields were split from), quotes removed
    /// but `""` not yet collapsed. Empty if the record is not the one split.
    #[inline]
    pub(crate) fn raw<'a>(&self, record: &'a str) -> &'a str {
        let text = record
            .get(self.start as usize..self.end as usize)
            .unwrap_or_default();
        if self.quoted {
            return text;
        }
        let blank = |c: &u8| matches!(c, b' ' | b'\t');
        let b = text.as_bytes();
        let start = b.iter().position(|c| !blank(c)).unwrap_or(b.len());
        let end = b.iter().rposition(|c| !blank(c)).map_or(start, |i| i + 1);
        // Blanks are ASCII, so both ends are character boundaries.
        text.get(start..end).unwrap_or_default()
    }

    /// Whether the field spans no bytes at all (an empty cell between two separators).
    #[inline]
    pub(crate) fn is_void(&self) -> bool {
        self.start >= self.end
    }

    /// The value: `""` collapsed to `"` inside quoted fields.
    pub(crate) fn unescaped<'a>(&self, record: &'a str) -> std::borrow::Cow<'a, str> {
        let raw = self.raw(record);
        if self.quoted && memchr::memchr(b'"', raw.as_bytes()).is_some() {
            std::borrow::Cow::Owned(raw.replace("\"\"", "\""))
        } else {
            std::borrow::Cow::Borrowed(raw)
        }
    }

    /// Appends the value to `out` without allocating.
    pub(crate) fn push_to(&self, record: &str, out: &mut String) {
        let mut raw = self.raw(record);
        if self.quoted {
            // Inside quotes every `"` is the first of a `""` pair.
            while let Some(q) = memchr::memchr(b'"', raw.as_bytes()) {
                out.push_str(raw.get(..=q).unwrap_or_default());
                raw = raw.get(q + 2..).unwrap_or_default();
            }
        }
        out.push_str(raw);
    }
}

/// Splits a whole record string (already cut from its buffer); for headers and re-splits.
pub(crate) fn split_str(record: &str, sep: u8, quoting: bool, fields: &mut Vec<Field>) {
    let _ = split(record.as_bytes(), sep, quoting, true, fields);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells(s: &str, sep: u8) -> (Vec<String>, Option<RecordEnd>) {
        let mut f = Vec::new();
        let end = split(s.as_bytes(), sep, true, false, &mut f);
        let rec = &s[..end.map_or(s.len(), |e| e.len)];
        (
            f.iter().map(|x| x.unescaped(rec).into_owned()).collect(),
            end,
        )
    }

    #[test]
    fn padded_quoted_and_spilled() {
        // tracerpt shape (Log-parser sample): padding, doubled quotes, empty trailing cells
        let (c, end) = cells("1,  EventTrace, \" \"\"PktMon\"\"\",,\r\nnext", b',');
        assert_eq!(c, ["1", "EventTrace", " \"PktMon\"", "", ""]);
        assert_eq!(
            end,
            Some(RecordEnd {
                len: 31,
                step: 33,
                lines: 1,
                unterminated: false
            })
        );
    }

    #[test]
    fn quotes_only_open_at_field_start() {
        // PerfView's Rest written unquoted: its quotes are literal
        let (c, _) = cells("GC/Start;12,5;ThreadID=\"7\" Count=\"1\"\n", b';');
        assert_eq!(c, ["GC/Start", "12,5", "ThreadID=\"7\" Count=\"1\""]);
    }

    #[test]
    fn multiline_and_incomplete() {
        let (c, end) = cells("\"a\r\nb\",2\nx", b',');
        assert_eq!(c, ["a\r\nb", "2"]);
        assert_eq!(end.map(|e| (e.lines, e.step)), Some((2, 9)));
        // the buffer ends inside quotes: need more input
        let mut f = Vec::new();
        assert_eq!(split(b"\"abc\n", b',', true, false, &mut f), None);
        assert_eq!(split(b"abc", b',', true, false, &mut f), None);
        // forced: the open quote is unterminated, the record ends at the line end
        let e = split(b"1,\"abc\ndef", b',', true, true, &mut f).expect("forced");
        assert!(e.unterminated);
        assert_eq!((e.len, e.step), (6, 7));
        let e = split(b"abc\r", b',', true, true, &mut f).expect("forced");
        assert_eq!(e.len, 3);
    }

    /// The oracle: the rules of [`split`] (its documentation and the module's) applied
    /// one byte at a time, each field scanned to its end.
    fn split_bytewise(
        (buf, sep): (&[u8], u8),
        (quoting, force): (bool, bool),
    ) -> (Option<RecordEnd>, Vec<Field>) {
        let mut fields = Vec::new();
        let mut lines = 0u64;
        let mut start = 0usize;
        // Up to the next separator or line end from `i`, or the buffer's end.
        let stop = |mut i: usize| {
            while i < buf.len() && buf[i] != sep && buf[i] != b'\n' {
                i += 1;
            }
            i
        };
        let whole = |fields, lines| {
            let end = RecordEnd {
                len: strip_cr(buf, buf.len()),
                step: buf.len(),
                lines,
                unterminated: false,
            };
            (Some(end), fields)
        };
        loop {
            let mut j = start;
            while j < buf.len() && buf[j] != sep && matches!(buf[j], b' ' | b'\t') {
                j += 1;
            }
            if quoting && buf.get(j) == Some(&b'"') {
                let mut k = j + 1;
                let mut inner = 0;
                let close = loop {
                    match buf.get(k) {
                        None if !force => return (None, fields),
                        None => {
                            // Unterminated: the record ends at the first line end after
                            // the field's start, the rest of the line one unquoted field.
                            let nl = (start..buf.len()).find(|&n| buf[n] == b'\n');
                            let text_end = strip_cr(buf, nl.unwrap_or(buf.len()));
                            push(&mut fields, start, text_end, false);
                            let end = RecordEnd {
                                len: text_end,
                                step: nl.map_or(buf.len(), |n| n + 1),
                                lines: u64::from(nl.is_some()),
                                unterminated: true,
                            };
                            return (Some(end), fields);
                        }
                        Some(b'"') if buf.get(k + 1) == Some(&b'"') => k += 2,
                        Some(b'"') => break k,
                        Some(&c) => {
                            inner += u64::from(c == b'\n');
                            k += 1;
                        }
                    }
                };
                lines += inner;
                push(&mut fields, j + 1, close, true);
                let m = stop(close + 1);
                match buf.get(m) {
                    None if !force => return (None, fields),
                    None => return whole(fields, lines),
                    Some(b'\n') => return (Some(ended(buf, m, lines)), fields),
                    Some(_) => start = m + 1,
                }
                continue;
            }
            let m = stop(start);
            match buf.get(m) {
                None if !force => return (None, fields),
                None => {
                    push(&mut fields, start, strip_cr(buf, buf.len()), false);
                    return whole(fields, lines);
                }
                Some(b'\n') => {
                    push(&mut fields, start, strip_cr(buf, m), false);
                    return (Some(ended(buf, m, lines)), fields);
                }
                Some(_) => {
                    push(&mut fields, start, m, false);
                    start = m + 1;
                }
            }
        }
    }

    #[test]
    fn splits_as_the_rules_applied_byte_by_byte() {
        // Random records of the characters the splitter looks at, every separator, quoting
        // on and off, forced or not: the same fields and end as the rules applied one byte at a
        // time.
        let mut next = crate::test_util::xorshift(0x2545_f491_4f6c_dd1d);
        let mut rnd = |n: u64| next() % n;
        let alphabet = b"ab ,;\t\"\"\r\n";
        let mut got = Vec::new();
        let mut quoted = 0;
        for case in 0..40_000 {
            let len = rnd(if case % 100 == 0 { 300 } else { 40 }) as usize;
            let buf: Vec<u8> = (0..len)
                .map(|_| alphabet[rnd(alphabet.len() as u64) as usize])
                .collect();
            let sep = [b',', b';', b'\t'][rnd(3) as usize];
            let (quoting, force) = (rnd(4) != 0, rnd(2) == 0);
            let a = split(&buf, sep, quoting, force, &mut got);
            let (b, want) = split_bytewise((&buf, sep), (quoting, force));
            let shown = String::from_utf8_lossy(&buf);
            assert_eq!(a, b, "{shown:?} sep {sep} quoting {quoting} force {force}");
            // Fields matter only for a record that ended (None: more input is read and the
            // record split again).
            if a.is_some() {
                assert_eq!(
                    got, want,
                    "{shown:?} sep {sep} quoting {quoting} force {force}"
                );
            }
            quoted += got.iter().filter(|f| f.quoted).count();
        }
        assert!(quoted > 5_000, "only {quoted} quoted fields");
    }

    #[test]
    fn hits_match_a_plain_scan() {
        // Every length around the 64-byte blocks, hits at block edges, and a NUL separator
        // (the tail's zero padding must not count).
        let pattern = b"a,\"b\n\0,,xyz\"\"\n";
        for len in 0..200 {
            let buf: Vec<u8> = pattern.iter().copied().cycle().take(len).collect();
            for sep in [b',', 0] {
                // From several places, so the blocks do not start on the pattern's start.
                for from in [0, 1, 63, 64, 65].into_iter().filter(|&f| f <= len) {
                    let want: Vec<usize> = (from..len)
                        .filter(|&i| matches!(buf[i], b'"' | b'\n') || buf[i] == sep)
                        .collect();
                    let got: Vec<usize> = Hits::new(&buf[from..], sep).map(|i| from + i).collect();
                    assert_eq!(got, want, "len {len} sep {sep} from {from}");
                }
            }
        }
    }

    #[test]
    fn push_to_collapses_quotes() {
        let rec = "\"say \"\"hi\"\"\"";
        let mut f = Vec::new();
        split_str(rec, b',', true, &mut f);
        let mut out = String::new();
        f[0].push_to(rec, &mut out);
        assert_eq!(out, "say \"hi\"");
        // quoting off (xperf): quotes are text
        split_str(" \"a,b\" ", b',', false, &mut f);
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].raw(" \"a,b\" "), "\"a");
    }
}
