//! Bytes to text: UTF-8 or UTF-16, with or without BOM.

use std::borrow::Cow;

const UTF8_BOM: &[u8] = &[0xEF, 0xBB, 0xBF];

/// Decodes a text trace. Valid UTF-8 is borrowed, not copied.
///
/// Invalid sequences become U+FFFD instead of failing the whole file: a half-corrupt log
/// still yields its readable lines. A trailing odd byte of UTF-16 is dropped.
pub(crate) fn decode(bytes: &[u8]) -> Cow<'_, str> {
    // Which BOMs and byte orders, and where each comes from: `dumptrace_mapfile::utf16`.
    match dumptrace_mapfile::utf16(bytes) {
        Some((unit, bom)) => Cow::Owned(utf16(bytes.get(bom..).unwrap_or_default(), unit)),
        // tracerpt writes a UTF-8 BOM (Log-parser CSV sample, formats.md §5); editors do too.
        None => String::from_utf8_lossy(bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes)),
    }
}

fn utf16(bytes: &[u8], unit: fn([u8; 2]) -> u16) -> String {
    let units = bytes.chunks_exact(2).map(|p| unit([p[0], p[1]]));
    char::decode_utf16(units)
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

/// The lines of `text`: split on `\n`, a trailing `\r` removed (CRLF or LF files).
/// A final newline does not start another line.
pub(crate) fn lines(text: &str) -> impl Iterator<Item = &str> {
    let body = text.strip_suffix('\n').unwrap_or(text);
    let any = !text.is_empty();
    body.split('\n')
        .filter(move |_| any)
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16le_with_bom(s: &str) -> Vec<u8> {
        let mut out = vec![0xFF, 0xFE];
        out.extend(s.encode_utf16().flat_map(u16::to_le_bytes));
        out
    }

    #[test]
    fn utf8_with_and_without_bom() {
        assert_eq!(decode(b"abc"), "abc");
        assert!(matches!(decode(b"abc"), Cow::Borrowed(_)));
        assert_eq!(decode(b"\xEF\xBB\xBFabc"), "abc");
        assert_eq!(decode(b"a\xFFb"), "a\u{FFFD}b");
    }

    #[test]
    fn utf16_le_and_be() {
        assert_eq!(decode(&utf16le_with_bom("x…y\r\n")), "x…y\r\n");
        let be: Vec<u8> = [0xFE, 0xFF, 0x00, 0x41, 0x20, 0x26].to_vec();
        assert_eq!(decode(&be), "A…");
        // odd trailing byte and an unpaired surrogate
        assert_eq!(decode(&[0xFF, 0xFE, 0x41, 0x00, 0x42]), "A");
        assert_eq!(decode(&[0xFF, 0xFE, 0x00, 0xD8, 0x41, 0x00]), "\u{FFFD}A");
    }

    #[test]
    fn line_splitting() {
        assert_eq!(lines("").count(), 0);
        assert_eq!(lines("\n").collect::<Vec<_>>(), [""]);
        assert_eq!(lines("a\r\nb").collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(lines("a\nb\r\n").collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(lines("a\n\nb\n").collect::<Vec<_>>(), ["a", "", "b"]);
    }
}
