//! Bounds-checked reading of little-endian structures from a mapped dump file.
//!
//! [`Bytes`] wraps the whole file. Every read names what it reads and where,
//! checks `offset + length` against the file size (with overflow checks) before
//! touching or allocating anything, and then decodes the fixed layout with a
//! winnow parser. Failures are [`FormatError`]s that quote the structure, the
//! offset and the sizes involved, so a report can say what was cut off where.

use winnow::error::ContextError;
use winnow::Parser;

/// A structure of a dump file that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// The structure would end past the end of the file (the file is cut short, or the offset is wrong).
    #[error("{what} at offset {offset:#x}: {len} bytes needed, but the file ends at {file_len:#x} (truncated or corrupt file?)")]
    PastEnd {
        what: &'static str,
        offset: u64,
        len: u64,
        file_len: u64,
    },
    /// A count or size read from the file that cannot be right for a file this size.
    #[error("{what} at offset {offset:#x}: {count} entries of {entry_size} bytes cannot fit in a {file_len}-byte file (corrupt count?)")]
    TooMany {
        what: &'static str,
        offset: u64,
        count: u64,
        entry_size: u64,
        file_len: u64,
    },
    /// A value that breaks the format's rules.
    #[error("{what} at offset {offset:#x}: {detail}")]
    Invalid {
        what: &'static str,
        offset: u64,
        detail: String,
    },
}

impl FormatError {
    /// Where in the file the structure starts.
    pub fn offset(&self) -> u64 {
        match self {
            FormatError::PastEnd { offset, .. }
            | FormatError::TooMany { offset, .. }
            | FormatError::Invalid { offset, .. } => *offset,
        }
    }

    /// The structure, e.g. `ThreadList stream`.
    pub fn what(&self) -> &'static str {
        match self {
            FormatError::PastEnd { what, .. }
            | FormatError::TooMany { what, .. }
            | FormatError::Invalid { what, .. } => what,
        }
    }

    /// A short reason, the same for every error of this kind (for per-reason counts).
    pub fn reason(&self) -> String {
        let kind = match self {
            FormatError::PastEnd { .. } => "past the end of the file",
            FormatError::TooMany { .. } => "count too large for the file",
            FormatError::Invalid { .. } => "invalid",
        };
        format!("{}: {kind}", self.what())
    }

    pub(crate) fn invalid(what: &'static str, offset: u64, detail: impl Into<String>) -> Self {
        FormatError::Invalid {
            what,
            offset,
            detail: detail.into(),
        }
    }
}

/// The whole file, read only through bounds-checked accessors.
#[derive(Clone, Copy)]
pub(crate) struct Bytes<'a> {
    data: &'a [u8],
}

impl<'a> Bytes<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Bytes { data }
    }

    pub(crate) fn len(&self) -> u64 {
        self.data.len() as u64
    }

    /// `len` bytes at `offset`, or an error naming `what` when they are not all in the file.
    pub(crate) fn slice(
        &self,
        what: &'static str,
        offset: u64,
        len: u64,
    ) -> Result<&'a [u8], FormatError> {
        let past = FormatError::PastEnd {
            what,
            offset,
            len,
            file_len: self.len(),
        };
        let end = offset.checked_add(len).ok_or(past.clone())?;
        if end > self.len() {
            return Err(past);
        }
        // Both bounds are <= data.len(), which fits in usize.
        let (start, end) = (offset as usize, end as usize);
        self.data.get(start..end).ok_or(past)
    }

    /// Decodes a `len`-byte structure at `offset` with `parser`.
    pub(crate) fn parse<O>(
        &self,
        what: &'static str,
        offset: u64,
        len: u64,
        parser: impl Parser<&'a [u8], O, ContextError>,
    ) -> Result<O, FormatError> {
        let bytes = self.slice(what, offset, len)?;
        decode(what, offset, bytes, parser)
    }

    /// `count` entries of `stride` bytes from `offset`, each decoded with `parser`
    /// from its first bytes. The count is checked against the file size before
    /// anything is allocated.
    pub(crate) fn array<O>(
        &self,
        what: &'static str,
        offset: u64,
        count: u64,
        stride: u64,
        mut parser: impl Parser<&'a [u8], O, ContextError>,
    ) -> Result<Vec<O>, FormatError> {
        let total = count.checked_mul(stride).filter(|&t| t <= self.len());
        let Some(total) = total else {
            return Err(FormatError::TooMany {
                what,
                offset,
                count,
                entry_size: stride,
                file_len: self.len(),
            });
        };
        let all = self.slice(what, offset, total)?;
        let Ok(stride_usize) = usize::try_from(stride) else {
            return Ok(Vec::new());
        };
        if stride_usize == 0 {
            return Ok(Vec::new());
        }
        all.chunks_exact(stride_usize)
            .enumerate()
            .map(|(i, chunk)| {
                let at = offset.saturating_add(i as u64 * stride);
                decode(what, at, chunk, parser.by_ref())
            })
            .collect()
    }

    /// A UTF-16 LE string of `byte_len` bytes at `offset` (an odd length drops the last byte).
    pub(crate) fn utf16(
        &self,
        what: &'static str,
        offset: u64,
        byte_len: u64,
    ) -> Result<String, FormatError> {
        let bytes = self.slice(what, offset, byte_len)?;
        Ok(utf16_lossy(bytes))
    }
}

/// Runs `parser` over `bytes`, turning a winnow failure into a [`FormatError`].
fn decode<'a, O>(
    what: &'static str,
    offset: u64,
    bytes: &'a [u8],
    mut parser: impl Parser<&'a [u8], O, ContextError>,
) -> Result<O, FormatError> {
    let mut input = bytes;
    parser
        .parse_next(&mut input)
        .map_err(|e| FormatError::Invalid {
            what,
            offset,
            detail: format!("cannot decode {} bytes: {e}", bytes.len()),
        })
}

/// UTF-16 LE to a String, stopping at the first NUL (fixed-size name fields are
/// NUL-padded) and replacing unpaired surrogates.
pub(crate) fn utf16_lossy(bytes: &[u8]) -> String {
    let units = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take_while(|&u| u != 0);
    char::decode_utf16(units)
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

/// ASCII/ANSI text of a fixed-size field, up to the first NUL; `None` when empty.
pub(crate) fn ascii_field(bytes: &[u8]) -> Option<String> {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    let text = String::from_utf8_lossy(&bytes[..end]).trim().to_string();
    (!text.is_empty()).then_some(text)
}
