//! Buffers: the 0x48-byte `WMI_BUFFER_HEADER` (formats.md §1.2), finding every buffer in a
//! file, and the bytes of one buffer's records (inflated when compressed, §1.3).

use super::bytes::{u16_at, u32_at, u64_at};
use super::xpress;

/// Size of `WMI_BUFFER_HEADER`.
pub(crate) const HEADER_SIZE: usize = 0x48;
/// Largest uncompressed buffer accepted. ETW buffers are at most 16 MiB (the logger's
/// `MaximumBuffers` size is in KB, capped at 16384); anything larger is a forged size.
pub(crate) const MAX_BUFFER: usize = 16 << 20;

/// `BufferFlag` bits (ntwmi.h, formats.md §1.2).
pub(crate) const FLAG_EVENTS_LOST: u16 = 0x2;
pub(crate) const FLAG_BUFFER_LOST: u16 = 0x4;
pub(crate) const FLAG_COMPRESSED: u16 = 0x40;
/// `BufferType` of the first buffer.
pub(crate) const TYPE_HEADER: u16 = 4;
const TYPE_MAX: u16 = 7;

/// The fields of a buffer header that reading needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BufferHeader {
    /// Where the buffer starts in the file.
    pub offset: u64,
    /// Bytes the buffer takes in the file (compressed size + 0x48 when compressed).
    pub size: u32,
    /// End of valid data from the buffer start (uncompressed).
    pub saved_offset: u32,
    /// "Offset when flushing"; only used for the header buffer (§1.3).
    pub flush_offset: u32,
    pub sequence: u64,
    /// ClientContext.ProcessorIndex & 0x7FF: the CPU of every record in the buffer.
    pub cpu: u16,
    pub state: u32,
    pub flags: u16,
    pub kind: u16,
}

impl BufferHeader {
    /// Reads the header at `offset`; None if fewer than 0x48 bytes remain.
    pub(crate) fn read(file: &[u8], offset: u64) -> Option<BufferHeader> {
        let at = usize::try_from(offset).ok()?;
        let b = file.get(at..at.checked_add(HEADER_SIZE)?)?;
        Some(BufferHeader {
            offset,
            size: u32_at(b, 0x00)?,
            saved_offset: u32_at(b, 0x04)?,
            sequence: u64_at(b, 0x18)?,
            // ntwmi.h masks ProcessorIndex with 0x07FF; perfview's older ETW_BUFFER_CONTEXT
            // reads a u8 ProcessorNumber here (formats.md §1.2, verified = PerfView ProceNum).
            cpu: u16_at(b, 0x28)? & 0x07FF,
            state: u32_at(b, 0x2C)?,
            flush_offset: u32_at(b, 0x30)?,
            flags: u16_at(b, 0x34)?,
            kind: u16_at(b, 0x36)?,
        })
    }

    pub(crate) fn compressed(&self) -> bool {
        self.flags & FLAG_COMPRESSED != 0
    }

    /// Why this header cannot be a buffer in a file of `file_len` bytes, if it cannot.
    pub(crate) fn problem(&self, file_len: u64) -> Option<&'static str> {
        let size = u64::from(self.size);
        if (self.size as usize) < HEADER_SIZE {
            return Some("buffer size smaller than its 72-byte header");
        }
        if self.kind > TYPE_MAX {
            return Some("unknown buffer type");
        }
        if self.offset.saturating_add(size) > file_len {
            return Some("buffer size runs past the end of the file");
        }
        let saved = self.saved_offset as usize;
        if self.compressed() {
            if !(HEADER_SIZE..=HEADER_SIZE + MAX_BUFFER).contains(&saved) {
                return Some("uncompressed size out of range");
            }
        } else if saved > self.size as usize {
            return Some("data end (SavedOffset) past the buffer end");
        }
        None
    }

    /// End of valid data from the buffer start.
    ///
    /// Quirk (formats.md §1.3, SelfDescribingSingleEvent): in the header buffer SavedOffset
    /// (440) can be smaller than Offset (520); the 80 bytes between hold a partition-info
    /// record. So the header buffer reads to the larger of the two, within the buffer.
    pub(crate) fn data_end(&self) -> usize {
        let saved = self.saved_offset as usize;
        if self.kind == TYPE_HEADER && !self.compressed() {
            saved
                .max(self.flush_offset as usize)
                .min(self.size as usize)
        } else {
            saved
        }
    }
}

/// The first pass over a file: every buffer's header, and what was skipped.
pub(crate) struct Scan {
    pub buffers: Vec<BufferHeader>,
    /// (file offset, reason) of regions that held no usable buffer header.
    pub skipped: Vec<(u64, &'static str)>,
}

/// Walks the buffer chain: the next buffer starts `BufferSize` bytes after this one
/// (formats.md §1.1). An impossible header is reported, and the walk resumes at the next
/// offset that holds a plausible header: first the logger's buffer size from the logfile
/// header (uncompressed files put buffers at multiples of it), then a forward search.
pub(crate) fn scan(file: &[u8], logger_buffer_size: u32) -> Scan {
    let len = file.len() as u64;
    let mut out = Scan {
        buffers: Vec::new(),
        skipped: Vec::new(),
    };
    let mut at = 0u64;
    while at < len {
        let Some(h) = BufferHeader::read(file, at) else {
            // 0xFF filler or a cut-off last buffer (§1.1); only non-filler tails are reported.
            if file[at as usize..].iter().any(|&b| b != 0xFF && b != 0) {
                out.skipped.push((at, "file ends inside a buffer header"));
            }
            break;
        };
        match h.problem(len) {
            None => {
                out.buffers.push(h);
                at += u64::from(h.size);
            }
            Some(reason) => {
                out.skipped.push((at, reason));
                match resync(file, at, logger_buffer_size) {
                    Some(next) => at = next,
                    None => break,
                }
            }
        }
    }
    out
}

/// The next offset after `bad` with a plausible buffer header, if any.
fn resync(file: &[u8], bad: u64, logger_buffer_size: u32) -> Option<u64> {
    let ok = |o: u64| plausible(file, o);
    let step = u64::from(logger_buffer_size);
    if step >= HEADER_SIZE as u64 {
        // Uncompressed buffers follow each other at the logger's buffer size, counted from
        // the bad one (the header buffer may be smaller, net.4.5.2.x64) or from the start.
        for next in [bad + step, (bad / step + 1) * step] {
            if ok(next) {
                return Some(next);
            }
        }
    }
    // Compressed buffers are not aligned to anything (§1.2 BufferSize), so search byte-wise.
    let last = (file.len() as u64).saturating_sub(HEADER_SIZE as u64 - 1);
    (bad + 1..last).find(|&o| ok(o))
}

/// Stricter than [`BufferHeader::problem`]: used when hunting for a header in damaged bytes.
/// Besides sane fields, the first record must carry the trace-header flag (§1.4).
fn plausible(file: &[u8], at: u64) -> bool {
    let Some(h) = BufferHeader::read(file, at) else {
        return false;
    };
    let saved = h.saved_offset as usize;
    let first_record_flag = file
        .get(at as usize + HEADER_SIZE + 3)
        .is_some_and(|b| b & 0x80 != 0);
    h.problem(file.len() as u64).is_none()
        && saved >= HEADER_SIZE
        && h.flags & !0x7F == 0
        && h.size as usize <= HEADER_SIZE + MAX_BUFFER
        && (h.compressed() || (h.size % 8 == 0 && (saved == HEADER_SIZE || first_record_flag)))
}

/// Compression formats of MS-XCA, as `State & 0xFFFF` of the first buffer (snail,
/// formats.md §1.2). Every sample has 3, which is also the "flushed" state value.
pub(crate) const COMPRESSION_LZNT1: u32 = 2;
pub(crate) const COMPRESSION_XPRESS_HUFF: u32 = 4;

/// Where one buffer's records are: `data[start..end]`, `data` being the buffer itself in
/// the file, or its inflated body (which starts at buffer offset 0x48) in the scratch vector.
pub(crate) enum Bytes<'f> {
    File(&'f [u8]),
    Inflated,
}

/// Locates the records of buffer `h`, inflating a compressed one into `scratch` (whose
/// capacity is reused; the inflated size was checked against [`MAX_BUFFER`] by
/// [`BufferHeader::problem`]). An error gives the file offset to blame and the reason.
pub(crate) fn records<'f>(
    file: &'f [u8],
    h: &BufferHeader,
    compression: u32,
    scratch: &mut Vec<u8>,
) -> Result<(Bytes<'f>, usize, usize), (u64, String)> {
    let start = h.offset as usize;
    let whole = file
        .get(start..start.saturating_add(h.size as usize))
        .ok_or((h.offset, "buffer past the end of the file".to_string()))?;
    if !h.compressed() {
        let end = h.data_end().min(whole.len());
        return Ok((Bytes::File(whole), HEADER_SIZE.min(end), end));
    }
    if compression == COMPRESSION_LZNT1 || compression == COMPRESSION_XPRESS_HUFF {
        return Err((
            h.offset,
            format!("compression format {compression} (LZNT1 or LZ77+Huffman) is not read"),
        ));
    }
    let expected = (h.saved_offset as usize).saturating_sub(HEADER_SIZE);
    xpress::decompress(&whole[HEADER_SIZE..], expected, scratch).map_err(|e| {
        (
            h.offset + (HEADER_SIZE + e.at) as u64,
            format!("compressed buffer at {:#x}: {}", h.offset, e.what),
        )
    })?;
    Ok((Bytes::Inflated, 0, expected))
}
