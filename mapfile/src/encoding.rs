//! How the text of an input file is encoded, where both readers must agree.

/// UTF-16 without a BOM (PowerShell's `Out-File -Encoding Unicode` of a pipeline, text
/// cut from a BOM'd file): most code units of ASCII text have one zero byte, always on the
/// same side. Returns the unit decoder, little- or big-endian, when the first 4 KiB say so.
pub fn utf16_without_bom(bytes: &[u8]) -> Option<fn([u8; 2]) -> u16> {
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
