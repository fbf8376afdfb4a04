//! Little-endian reads that never panic, and the GUID type.

use std::fmt;

/// `len` bytes at `off`, or None past the end.
#[inline]
pub(crate) fn slice(b: &[u8], off: usize, len: usize) -> Option<&[u8]> {
    b.get(off..off.checked_add(len)?)
}

#[inline]
pub(crate) fn u8_at(b: &[u8], off: usize) -> Option<u8> {
    b.get(off).copied()
}

#[inline]
pub(crate) fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_le_bytes(slice(b, off, 2)?.try_into().ok()?))
}

#[inline]
pub(crate) fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(slice(b, off, 4)?.try_into().ok()?))
}

#[inline]
pub(crate) fn u64_at(b: &[u8], off: usize) -> Option<u64> {
    Some(u64::from_le_bytes(slice(b, off, 8)?.try_into().ok()?))
}

#[inline]
pub(crate) fn i64_at(b: &[u8], off: usize) -> Option<i64> {
    u64_at(b, off).map(|v| v as i64)
}

/// Next multiple of 8 (records are 8-byte aligned, formats.md §1.4).
#[inline]
pub(crate) fn align8(n: usize) -> usize {
    n.saturating_add(7) & !7
}

/// A GUID as stored by Windows: u32, u16, u16, then 8 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub(crate) struct Guid(pub [u8; 16]);

impl Guid {
    pub(crate) fn at(b: &[u8], off: usize) -> Option<Guid> {
        Some(Guid(slice(b, off, 16)?.try_into().ok()?))
    }

    /// Parses `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` (braces allowed).
    pub(crate) fn parse(s: &str) -> Option<Guid> {
        let s = s.trim().trim_start_matches('{').trim_end_matches('}');
        let parts: Vec<&str> = s.split('-').collect();
        let lens = [8, 4, 4, 4, 12];
        if parts.len() != 5 || parts.iter().zip(lens).any(|(p, n)| p.len() != n) {
            return None;
        }
        let d1 = u32::from_str_radix(parts[0], 16).ok()?;
        let d2 = u16::from_str_radix(parts[1], 16).ok()?;
        let d3 = u16::from_str_radix(parts[2], 16).ok()?;
        let rest = format!("{}{}", parts[3], parts[4]);
        let mut g = [0u8; 16];
        g[..4].copy_from_slice(&d1.to_le_bytes());
        g[4..6].copy_from_slice(&d2.to_le_bytes());
        g[6..8].copy_from_slice(&d3.to_le_bytes());
        for (i, slot) in g[8..].iter_mut().enumerate() {
            *slot = u8::from_str_radix(rest.get(i * 2..i * 2 + 2)?, 16).ok()?;
        }
        Some(Guid(g))
    }
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let g = &self.0;
        let d1 = u32::from_le_bytes([g[0], g[1], g[2], g[3]]);
        let d2 = u16::from_le_bytes([g[4], g[5]]);
        let d3 = u16::from_le_bytes([g[6], g[7]]);
        write!(f, "{d1:08x}-{d2:04x}-{d3:04x}-{:02x}{:02x}-", g[8], g[9])?;
        for b in &g[10..] {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// The two lowercase hex digits of every byte value: one lookup per byte.
const HEX_PAIRS: [[u8; 2]; 256] = {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut t = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = [HEX[i >> 4], HEX[i & 15]];
        i += 1;
    }
    t
};

/// Appends up to `cap` bytes as lowercase hex, then `…(+N bytes)` for the rest.
pub(crate) fn push_hex(out: &mut String, data: &[u8], cap: usize) {
    let shown = data.get(..cap).unwrap_or(data);
    out.reserve(shown.len() * 2);
    let mut buf = [0u8; 256];
    for chunk in shown.chunks(buf.len() / 2) {
        for (pair, &b) in buf.chunks_exact_mut(2).zip(chunk) {
            pair.copy_from_slice(&HEX_PAIRS[usize::from(b)]);
        }
        // Hex digits are ASCII.
        out.push_str(std::str::from_utf8(&buf[..chunk.len() * 2]).unwrap_or_default());
    }
    if data.len() > cap {
        out.push_str("…(+");
        push_int(out, data.len() - cap);
        out.push_str(" bytes)");
    }
}

/// Appends an integer in decimal. `write!` goes through the formatting machinery,
/// which cost a tenth of an ETL read (perf); itoa writes the digits directly.
pub(crate) fn push_int(out: &mut String, v: impl itoa::Integer) {
    out.push_str(itoa::Buffer::new().format(v));
}

/// Appends `v` as `format!("{v:#x}")` does (`0x` and lowercase digits, `0x0` for zero),
/// without the formatting machinery.
pub(crate) fn push_hex_int(out: &mut String, v: u64) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut buf = [0u8; 18];
    let mut at = buf.len();
    let mut v = v;
    loop {
        at -= 1;
        buf[at] = HEX[(v & 15) as usize];
        v >>= 4;
        if v == 0 {
            break;
        }
    }
    out.push_str("0x");
    // Hex digits are ASCII.
    out.push_str(std::str::from_utf8(&buf[at..]).unwrap_or_default());
}

/// A NUL-terminated UTF-16LE string at the start of `b`: the text and the bytes taken
/// (terminator included; all of `b` when there is none).
pub(crate) fn utf16z(b: &[u8]) -> (String, usize) {
    let mut s = String::new();
    let used = utf16z_into(&mut s, b);
    (s, used)
}

/// [`utf16z`] into `out` (cleared first), so that a caller decoding many strings
/// reuses one buffer; returns the bytes taken.
pub(crate) fn utf16z_into(out: &mut String, b: &[u8]) -> usize {
    out.clear();
    let n = b.chunks_exact(2).position(|u| u == [0, 0]);
    let len = n.unwrap_or(b.len() / 2);
    let mut text = b.get(..2 * len).unwrap_or_default();
    // Most strings are ASCII: their low bytes go in 64 at a time. At the first chunk that
    // is not, decoding goes on unit by unit (no surrogate pair starts in an ASCII chunk).
    let mut ascii = [0u8; 64];
    while !text.is_empty() {
        let (chunk, rest) = text.split_at(text.len().min(2 * ascii.len()));
        let mut all = true;
        for (a, u) in ascii.iter_mut().zip(chunk.chunks_exact(2)) {
            *a = u[0];
            all &= u[0] < 0x80 && u[1] == 0;
        }
        if !all {
            break;
        }
        // ASCII bytes are UTF-8.
        out.push_str(std::str::from_utf8(&ascii[..chunk.len() / 2]).unwrap_or_default());
        text = rest;
    }
    let code_units = text
        .chunks_exact(2)
        .map(|u| u16::from_le_bytes([u[0], u[1]]));
    out.extend(char::decode_utf16(code_units).map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER)));
    match n {
        Some(n) => 2 * n + 2,
        None => b.len(),
    }
}

/// A NUL-terminated 8-bit string at the start of `b` (UTF-8, lossy): text and bytes taken.
pub(crate) fn ansiz(b: &[u8]) -> (String, usize) {
    match b.iter().position(|&c| c == 0) {
        Some(n) => (String::from_utf8_lossy(&b[..n]).into_owned(), n + 1),
        None => (String::from_utf8_lossy(b).into_owned(), b.len()),
    }
}

/// UTF-16LE bytes (no terminator) as text.
pub(crate) fn utf16(b: &[u8]) -> String {
    let units: Vec<u16> = b
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16_lossy(&units)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_round_trip_and_reads() {
        let g = Guid::parse("{d3dd3dd4-aac2-4e2a-8dd4-a8fb61b77615}").expect("guid");
        assert_eq!(g.to_string(), "d3dd3dd4-aac2-4e2a-8dd4-a8fb61b77615");
        assert_eq!(g.0[0], 0xd4);
        assert!(Guid::parse("nope").is_none());
        assert_eq!(u32_at(&[1, 0, 0], 0), None);
        assert_eq!(u16_at(&[1, 2], usize::MAX), None);
        assert_eq!(align8(9), 16);
        assert_eq!(utf16z(b"H\0i\0\0\0x"), ("Hi".to_string(), 6));
        // Past the first 64 units, a non-ASCII unit and a surrogate pair, no terminator.
        let text = format!("{}é{}😀", "a".repeat(70), "b".repeat(60));
        let bytes: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
        assert_eq!(utf16z(&bytes), (text, bytes.len()));
        assert_eq!(ansiz(b"ab"), ("ab".to_string(), 2));
        let mut s = String::new();
        push_hex(&mut s, &[0xab, 1, 2], 2);
        assert_eq!(s, "ab01…(+1 bytes)");
        let all: Vec<u8> = (0..=255).collect();
        let mut s = String::new();
        push_hex(&mut s, &all, 300);
        let expected: String = all.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(s, expected);
        for v in [0u64, 1, 0xabc, u64::MAX] {
            let mut s = String::new();
            push_hex_int(&mut s, v);
            assert_eq!(s, format!("{v:#x}"));
        }
    }
}
