//! How the text of an input file is encoded, where both readers must agree.

/// Reads one UTF-16 code unit from its two bytes (`u16::from_le_bytes` or `from_be_bytes`).
pub type Utf16Unit = fn([u8; 2]) -> u16;

/// Whether text is UTF-16, and if so its unit decoder and the length of its BOM:
/// - `FF FE`: UTF-16 LE with a BOM, as WinDbg's `.logopen /u` writes (WinDbg help for
///   .logopen), and Windows PowerShell 5 `>` redirection and Notepad's "Unicode" save;
/// - `FE FF`: UTF-16 BE with a BOM;
/// - no BOM: told by the zero bytes of the first 4 KiB ([`utf16_without_bom`]).
///
/// A UTF-8 BOM (`EF BB BF`, which tracerpt writes: formats.md §5) says UTF-8: None.
pub fn utf16(bytes: &[u8]) -> Option<(Utf16Unit, usize)> {
    if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
        None
    } else if bytes.starts_with(&[0xFF, 0xFE]) {
        Some((u16::from_le_bytes, 2))
    } else if bytes.starts_with(&[0xFE, 0xFF]) {
        Some((u16::from_be_bytes, 2))
    } else {
        utf16_without_bom(bytes).map(|unit| (unit, 0))
    }
}

/// UTF-16 without a BOM (PowerShell's `Out-File -Encoding Unicode` of a pipeline, text
/// cut from a BOM'd file): most code units of ASCII text have one zero byte, always on the
/// same side. Returns the unit decoder, little- or big-endian, when the first 4 KiB say so.
pub fn utf16_without_bom(bytes: &[u8]) -> Option<Utf16Unit> {
    let head = bytes.get(..bytes.len().min(4096) & !1).unwrap_or_default();
    let pairs = head.len() / 2;
    if pairs < 4 {
        return None;
    }
    let (mut le, mut be) = (0, 0);
    for p in head.chunks_exact(2) {
        match (p[0], p[1]) {
            (a, 0) if a != 0 => le += 1,
            (0, b) if b != 0 => be += 1,
            _ => {}
        }
    }
    if le * 4 >= pairs * 3 {
        Some(u16::from_le_bytes)
    } else if be * 4 >= pairs * 3 {
        Some(u16::from_be_bytes)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units(text: &str, le: bool) -> Vec<u8> {
        text.encode_utf16()
            .flat_map(|u| if le { u.to_le_bytes() } else { u.to_be_bytes() })
            .collect()
    }

    #[test]
    fn boms_and_zero_bytes_tell_utf16_from_utf8() {
        let text = "0: kd> !process 0 ff\r\n";
        let decoded = |bytes: &[u8]| {
            let (unit, bom) = utf16(bytes)?;
            let units = bytes[bom..].chunks_exact(2).map(|p| unit([p[0], p[1]]));
            char::decode_utf16(units)
                .collect::<Result<String, _>>()
                .ok()
        };
        let with = |bom: &[u8], le: bool| [bom, &units(text, le)].concat();
        assert_eq!(decoded(&with(&[0xFF, 0xFE], true)).as_deref(), Some(text));
        assert_eq!(decoded(&with(&[0xFE, 0xFF], false)).as_deref(), Some(text));
        assert_eq!(decoded(&units(text, true)).as_deref(), Some(text));
        assert_eq!(decoded(&units(text, false)).as_deref(), Some(text));
        assert!(utf16(text.as_bytes()).is_none());
        assert!(utf16(&[&[0xEF, 0xBB, 0xBF][..], text.as_bytes()].concat()).is_none());
    }

    #[test]
    fn the_zero_bytes_tell_the_byte_order() {
        let text = "0: kd> !process 0 ff\r\nPROCESS 89cf4870  SessionId: 0\r\n";
        let le = utf16_without_bom(&units(text, true)).expect("little-endian");
        let be = utf16_without_bom(&units(text, false)).expect("big-endian");
        assert_eq!(le([b'A', 0]), u16::from(b'A'));
        assert_eq!(be([0, b'A']), u16::from(b'A'));
        // UTF-8 text has no zero bytes; a few bytes say nothing.
        assert!(utf16_without_bom(text.as_bytes()).is_none());
        assert!(utf16_without_bom(&units("kd", true)).is_none());
    }
}
