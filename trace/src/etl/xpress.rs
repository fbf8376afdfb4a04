//! MS-XCA "plain LZ77" (LZXpress without Huffman), the compression of ETL buffers.
//!
//! A compressed buffer keeps its 0x48-byte header as is; the bytes after it inflate to
//! exactly `SavedOffset - 0x48` bytes (formats.md §1.3, verified on SelfDescribingSingleEvent
//! and net.4.5.2.x64). The algorithm is public: [MS-XCA] §2.3 (compression) and §2.4
//! (decompression). The LZ77+Huffman variant (§2.1–2.2) is not written by any logger seen;
//! [`crate::etl`] reports buffers in that format as skipped.

/// Why a compressed buffer could not be inflated; the position is in the compressed input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Corrupt {
    pub at: usize,
    pub what: &'static str,
}

fn corrupt(at: usize, what: &'static str) -> Corrupt {
    Corrupt { at, what }
}

/// Inflates `input` into `out` (cleared first), which must come out exactly `expected` bytes.
///
/// `out`'s capacity is reused between buffers; the caller checks `expected` against its
/// limit before calling, so a forged size cannot make this allocate more.
pub(crate) fn decompress(input: &[u8], expected: usize, out: &mut Vec<u8>) -> Result<(), Corrupt> {
    out.clear();
    out.reserve(expected);
    let mut pos = 0usize;
    let mut flags = 0u32;
    let mut flag_count = 0u32;
    // Where the spare half byte of the last long match lives (§2.4 "LastLengthHalfByte").
    let mut half_byte: Option<usize> = None;
    let byte = |at: usize| {
        input
            .get(at)
            .copied()
            .ok_or(corrupt(at, "input ends inside a match length"))
    };
    while out.len() < expected {
        if flag_count == 0 {
            let word = input
                .get(pos..pos + 4)
                .ok_or(corrupt(pos, "input ends before the data is complete"))?;
            flags = u32::from_le_bytes([word[0], word[1], word[2], word[3]]);
            pos += 4;
            flag_count = 32;
        }
        flag_count -= 1;
        if flags & (1 << flag_count) == 0 {
            out.push(
                byte(pos).map_err(|_| corrupt(pos, "input ends before the data is complete"))?,
            );
            pos += 1;
            continue;
        }
        let token = u16::from(byte(pos)?) | u16::from(byte(pos + 1)?) << 8;
        pos += 2;
        let offset = usize::from(token >> 3) + 1;
        let mut length = usize::from(token & 7);
        if length == 7 {
            length = match half_byte.take() {
                None => {
                    half_byte = Some(pos);
                    pos += 1;
                    usize::from(byte(pos - 1)? & 15)
                }
                Some(at) => usize::from(byte(at)? >> 4),
            };
            if length == 15 {
                length = usize::from(byte(pos)?);
                pos += 1;
                if length == 255 {
                    length = usize::from(byte(pos)?) | usize::from(byte(pos + 1)?) << 8;
                    pos += 2;
                    if length == 0 {
                        let b = input
                            .get(pos..pos + 4)
                            .ok_or(corrupt(pos, "input ends inside a match length"))?;
                        length = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
                        pos += 4;
                    }
                    length = length
                        .checked_sub(15 + 7)
                        .ok_or(corrupt(pos, "match length below its minimum"))?;
                }
                length += 15;
            }
            length += 7;
        }
        length += 3;
        let start = out
            .len()
            .checked_sub(offset)
            .ok_or(corrupt(pos, "match points before the start of the data"))?;
        if length > expected - out.len() {
            return Err(corrupt(pos, "match runs past the uncompressed size"));
        }
        if offset >= length {
            out.extend_from_within(start..start + length);
        } else {
            // Overlapping copy: a run that repeats its own output.
            for i in 0..length {
                let b = out[start + i];
                out.push(b);
            }
        }
    }
    Ok(())
}

/// Greedy compressor with a hash of 3-byte prefixes; the output inflates with
/// [`decompress`]. Used by the test-data writer, so tests exercise literals, short and long
/// matches and overlapping runs.
#[cfg(any(test, feature = "synth"))]
pub fn compress(input: &[u8]) -> Vec<u8> {
    const MAX_OFFSET: usize = 8192;
    let mut out = Vec::with_capacity(input.len() + input.len() / 8 + 8);
    let mut flags_at = out.len();
    out.extend_from_slice(&[0; 4]);
    let mut flags = 0u32;
    let mut flag_count = 0u32;
    let mut half_byte: Option<usize> = None;
    let mut table = vec![usize::MAX; 1 << 12];
    let hash = |i: usize| {
        let h = u32::from(input[i]) | u32::from(input[i + 1]) << 8 | u32::from(input[i + 2]) << 16;
        (h.wrapping_mul(2_654_435_761) >> 20) as usize
    };
    let mut push_flag = |out: &mut Vec<u8>, bit: u32, flags: &mut u32, count: &mut u32| {
        *flags = (*flags << 1) | bit;
        *count += 1;
        if *count == 32 {
            out[flags_at..flags_at + 4].copy_from_slice(&flags.to_le_bytes());
            flags_at = out.len();
            out.extend_from_slice(&[0; 4]);
            *flags = 0;
            *count = 0;
        }
    };
    let mut i = 0;
    while i < input.len() {
        let mut best = (0usize, 0usize);
        if i + 3 <= input.len() {
            let h = hash(i);
            let cand = table[h];
            table[h] = i;
            if cand != usize::MAX && i - cand <= MAX_OFFSET {
                let n = input[i..]
                    .iter()
                    .zip(&input[cand..])
                    .take_while(|(a, b)| a == b)
                    .count();
                if n >= 3 {
                    best = (i - cand, n);
                }
            }
        }
        let (offset, length) = best;
        if length == 0 {
            // Data first, then its flag: a full flag word opens the next word's slot behind it.
            out.push(input[i]);
            push_flag(&mut out, 0, &mut flags, &mut flag_count);
            i += 1;
            continue;
        }
        let code = ((offset - 1) as u16) << 3;
        let ml = length - 3;
        out.extend_from_slice(&(code | ml.min(7) as u16).to_le_bytes());
        if ml >= 7 {
            let rest = ml - 7;
            let nibble = rest.min(15) as u8;
            match half_byte.take() {
                None => {
                    half_byte = Some(out.len());
                    out.push(nibble);
                }
                Some(at) => out[at] |= nibble << 4,
            }
            if rest >= 15 {
                let more = rest - 15;
                if more < 255 {
                    out.push(more as u8);
                } else {
                    out.push(255);
                    match u16::try_from(ml) {
                        Ok(v) => out.extend_from_slice(&v.to_le_bytes()),
                        Err(_) => {
                            out.extend_from_slice(&[0, 0]);
                            out.extend_from_slice(&(ml as u32).to_le_bytes());
                        }
                    }
                }
            }
        }
        push_flag(&mut out, 1, &mut flags, &mut flag_count);
        i += length;
    }
    // §2.3: unused flag bits are set, so a decoder sees "match" at the end of input and stops.
    let unused = 32 - flag_count;
    let last = if unused == 32 {
        u32::MAX
    } else {
        (flags << unused) | ((1u32 << unused) - 1)
    };
    out[flags_at..flags_at + 4].copy_from_slice(&last.to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(data: &[u8]) {
        let packed = compress(data);
        let mut out = Vec::new();
        decompress(&packed, data.len(), &mut out).expect("inflates");
        assert_eq!(out, data);
    }

    #[test]
    fn round_trips_literals_matches_and_long_runs() {
        round_trip(b"");
        round_trip(b"abc");
        round_trip(b"abcabcabcabcabcabcabcabcabcabcabcabcabc");
        round_trip(&[0xFF; 5000]); // one overlapping run with a 4-byte length
        round_trip(&[7; 300]); // a 1-byte extra length
        let mut rng = 0x1234_5678u32;
        let mut mixed = Vec::new();
        for i in 0..20_000u32 {
            rng ^= rng << 13;
            rng ^= rng >> 17;
            rng ^= rng << 5;
            mixed.push(if i % 7 < 3 {
                (rng & 0xFF) as u8
            } else {
                (i % 251) as u8
            });
        }
        round_trip(&mixed);
    }

    #[test]
    fn known_tokens() {
        // flags 0b01 then unused 1 bits: literal 'a', then a match of offset 1, length 3.
        let flags: u32 = 0x7FFF_FFFF;
        let mut input = flags.to_le_bytes().to_vec();
        input.push(b'a');
        input.extend_from_slice(&0u16.to_le_bytes()); // offset 1, length 3
        let mut out = Vec::new();
        decompress(&input, 4, &mut out).expect("inflates");
        assert_eq!(out, b"aaaa");
    }

    #[test]
    fn corrupt_input_is_an_error() {
        let mut out = Vec::new();
        assert!(decompress(&[], 10, &mut out).is_err());
        // a match before any output
        let mut input = 0x8000_0000u32.to_le_bytes().to_vec();
        input.extend_from_slice(&[0x08, 0]);
        assert!(decompress(&input, 10, &mut out).is_err());
        // a valid stream that inflates to less than promised
        assert!(decompress(&compress(b"hello"), 6, &mut out).is_err());
    }
}
