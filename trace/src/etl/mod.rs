//! Binary ETL files (Event Tracing for Windows logs), read natively on any OS.
//!
//! The key types: [`EtlInfo`] (the facts of the logfile header and what reading saw, kept
//! in [`TraceReport::etl`](crate::TraceReport::etl)) and [`LogfileHeader`]. A file is read
//! in two passes over the memory-mapped bytes: [`buffer::scan`] lists every buffer header
//! (72 bytes each), then each processor's buffers are walked in sequence order and the
//! per-processor record streams are merged by timestamp (formats.md §1.9), so at most one
//! inflated buffer per processor is held besides the input and the output frame.
//!
//! Every record becomes a row in the crate's schema (see [`crate::schema`]): time in UTC
//! from the logfile header's clock, pid/tid, provider, level, event id, a message (kernel
//! process/thread/context-switch fields, TraceLogging `Event field=value`, WPP text from
//! TMF files, or the payload as hex), and `input_offset`, the record's byte offset in the
//! file. Damaged buffers and records are skipped with their offset and the reason.
//!
//! ```no_run
//! use std::path::Path;
//! use dumptrace_trace::{read_path, TimeContext, TraceFormat};
//!
//! let ctx = TimeContext {
//!     date: None,
//!     offset: chrono::FixedOffset::east_opt(0).expect("zero offset"),
//!     source: String::new(),
//! };
//! let trace = read_path(Path::new("session.etl"), &ctx)?;
//! assert_eq!(trace.report.format, TraceFormat::Etl);
//! let etl = trace.report.etl.as_ref().expect("ETL facts");
//! println!("{} CPUs, {} events lost", etl.header.cpus, etl.header.events_lost);
//! # Ok::<(), dumptrace_trace::Error>(())
//! ```

mod buffer;
mod bytes;
mod columns;
mod event;
mod header;
mod kernel;
mod record;
#[cfg(any(test, feature = "synth"))]
pub mod synth;
mod tracelogging;
mod wpp;
mod xpress;

#[cfg(test)]
mod samples_tests;
#[cfg(test)]
mod tests;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::path::Path;

use serde::Serialize;

use crate::read::{Skip, Trace, TraceReport};
use crate::stream::Sink;
use crate::{Error, TraceFormat};
use buffer::{BufferHeader, Bytes, HEADER_SIZE};
use event::{Decoder, Row};
use header::Clock;
pub use header::LogfileHeader;
use record::{Parsed, Record};

/// What reading an ETL file found besides its events.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EtlInfo {
    /// The logfile header (first record of the file).
    pub header: LogfileHeader,
    /// Buffers read (header buffer included).
    pub buffers: u64,
    /// Of those, LZ77-compressed ones.
    pub compressed_buffers: u64,
    /// Buffers flagged EVENTS_LOST: the logger dropped events while filling them.
    pub buffers_flagged_events_lost: u64,
    /// Buffers flagged BUFFER_LOST.
    pub buffers_flagged_lost: u64,
    /// Records per header type (`SYSTEM64`, `EVENT_HEADER64`, `MESSAGE`, ...).
    pub records_by_header: BTreeMap<String, u64>,
    /// WPP messages whose GUID and number no TMF file gave (shown with GUID and number).
    pub wpp_without_format: u64,
}

/// `LogFileMode` bit of a logger that compresses its buffers (formats.md §1.3).
const COMPRESSED_MODE: u32 = 0x0400_0000;
/// Examples of skipped buffers and records kept in the report.
const FIRST_SKIPS: usize = 10;

/// Whether `bytes` start like an ETL file: a buffer header whose first record is the
/// logfile header (SYSTEM32/64, group 0, type 0; formats.md §1.1). The size of the first
/// buffer is not checked against `bytes`, which may be only the head of the file.
pub(crate) fn sniff(bytes: &[u8]) -> bool {
    let Some(h) = BufferHeader::read(bytes, 0) else {
        return false;
    };
    // Buffer 0 has BufferType 4 (HEADER) in every sample; 0 (GENERIC) is accepted too.
    let header_like = (h.kind == buffer::TYPE_HEADER || h.kind == 0)
        && !h.compressed()
        && (h.size as usize) >= HEADER_SIZE + 0x20;
    let rec = bytes.get(HEADER_SIZE..HEADER_SIZE + 8).unwrap_or(&[]);
    header_like
        && rec.len() == 8
        && rec[3] == 0xC0
        && matches!(rec[2], 0x01 | 0x02)
        && rec[6] == 0
        && rec[7] == 0
        && usize::from(u16::from_le_bytes([rec[4], rec[5]])) >= 0x20 + 0x110
}

/// Skipped buffers and records: counts per reason and the first few, with file offsets.
#[derive(Default)]
pub(crate) struct Skips {
    total: u64,
    reasons: BTreeMap<String, u64>,
    first: Vec<Skip>,
}

impl Skips {
    fn add(&mut self, offset: u64, reason: &'static str, detail: String) {
        self.total += 1;
        *self.reasons.entry(reason.to_string()).or_default() += 1;
        if self.first.len() < FIRST_SKIPS {
            self.first.push(Skip {
                line: 0,
                offset: Some(offset),
                reason: reason.to_string(),
                text: format!("byte {offset} ({offset:#x}): {detail}"),
            });
        }
    }
}

// Skip reasons, the keys of `TraceReport::skip_reasons` for ETL input.
const BAD_BUFFER: &str = "bad buffer";
const BAD_COMPRESSED: &str = "bad compressed buffer";
const BAD_RECORD: &str = "bad record";
const TIME_RANGE: &str = "time out of range";

/// One record as handed to a sink. The frame does not keep `cpu` and `payload_len`; the
/// sample tests compare them with PerfView's `ProceNum` and `DataLen`.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) struct Event<'a> {
    /// File offset of the record; for a record in a compressed buffer, of its buffer.
    pub offset: u64,
    pub cpu: u16,
    pub raw_ts: i64,
    pub time_ns: i64,
    pub payload_len: usize,
    pub row: Row<'a>,
    pub message: &'a str,
}

/// One processor's buffers, walked in sequence order.
struct Stream<'f> {
    buffers: Vec<BufferHeader>,
    next: usize,
    scratch: Vec<u8>,
    /// The buffer being read: header, where its records are, cursor and end.
    current: Option<(BufferHeader, Bytes<'f>, usize, usize)>,
    last_ts: i64,
}

impl<'f> Stream<'f> {
    fn data(&self) -> Option<(&[u8], usize, usize)> {
        let (_, bytes, pos, end) = self.current.as_ref()?;
        let data: &[u8] = match bytes {
            Bytes::File(b) => b,
            Bytes::Inflated => &self.scratch,
        };
        Some((data, *pos, *end))
    }

    /// The timestamp of the next record, loading buffers as needed; None at the end.
    fn peek(&mut self, file: &'f [u8], compression: u32, skips: &mut Skips) -> Option<i64> {
        loop {
            let Some((data, pos, end)) = self.data() else {
                let h = *self.buffers.get(self.next)?;
                self.next += 1;
                match buffer::records(file, &h, compression, &mut self.scratch) {
                    Ok((bytes, start, end)) => self.current = Some((h, bytes, start, end)),
                    Err((offset, detail)) => skips.add(offset, BAD_COMPRESSED, detail),
                }
                continue;
            };
            match record::parse(data, pos, end) {
                Ok(Parsed::Record(r)) => return Some(r.timestamp.unwrap_or(self.last_ts)),
                Ok(Parsed::End) => self.current = None,
                Err(reason) => {
                    let offset = self.file_offset(pos);
                    skips.add(
                        offset,
                        BAD_RECORD,
                        format!("{reason}; rest of the buffer skipped"),
                    );
                    self.current = None;
                }
            }
        }
    }

    /// File offset of buffer position `pos` of the current buffer.
    fn file_offset(&self, pos: usize) -> u64 {
        match &self.current {
            Some((h, Bytes::File(_), ..)) => h.offset + pos as u64,
            Some((h, Bytes::Inflated, ..)) => h.offset,
            None => 0,
        }
    }

    /// Hands the record that [`Stream::peek`] found to `f`, then moves past it.
    fn take(&mut self, f: impl FnOnce(&Record<'_>, u64, u16)) {
        let Some((data, pos, end)) = self.data() else {
            return;
        };
        let Ok(Parsed::Record(r)) = record::parse(data, pos, end) else {
            return;
        };
        let (offset, cpu) = (
            self.file_offset(pos),
            self.current.as_ref().map_or(0, |c| c.0.cpu),
        );
        f(&r, offset, cpu);
        let next = record::next(pos, r.size);
        if let Some(ts) = r.timestamp {
            self.last_ts = ts;
        }
        if let Some(c) = self.current.as_mut() {
            c.2 = next;
        }
    }
}

/// Rows per chunk handed to a streaming caller.
const STREAM_ROWS: usize = if cfg!(test) { 3 } else { 1 << 20 };

/// Reads an ETL file held in memory into the event frame; WPP messages take their text from
/// the TMF files in `tmf_dir`.
///
/// With a `sink`, rows are handed over in chunks of [`STREAM_ROWS`] as they are read and the
/// returned frame is empty.
pub(crate) fn read<'p>(
    path: &'p Path,
    file: &[u8],
    tmf_dir: Option<&Path>,
    mut sink: Option<&'p mut Sink<'p>>,
) -> Result<Trace, Error> {
    let frame_error = |error| Error::Frame {
        path: path.to_path_buf(),
        error,
    };
    // A modest first reservation (records are tens to hundreds of bytes); the builders
    // grow from there.
    let room = match sink {
        Some(_) => STREAM_ROWS.min(file.len() / 64),
        None => file.len() / 1024,
    };
    let mut columns = columns::EtlColumns::with_capacity(room);
    let mut records = 0u64;
    let mut stopped = false;
    let mut failed = None;
    let (info, skips) = walk(path, file, tmf_dir, |e| {
        if stopped {
            return;
        }
        columns.push(e);
        records += 1;
        if let Some(sink) = sink.as_mut().filter(|_| columns.len() >= STREAM_ROWS) {
            match columns.take(STREAM_ROWS) {
                Ok(chunk) => stopped = sink(chunk).is_break(),
                Err(error) => {
                    failed = Some(error);
                    stopped = true;
                }
            }
        }
    })?;
    if let Some(error) = failed {
        return Err(frame_error(error));
    }
    let mut frame = columns.finish().map_err(frame_error)?;
    if let Some(sink) = sink.filter(|_| !stopped && frame.height() > 0) {
        let empty = frame.clear();
        let _ = sink(std::mem::replace(&mut frame, empty));
    }
    let h = &info.header;
    let time_note = format!(
        "UTC from the file's own clock: {} at {} Hz, anchored at the logfile header's start time {}",
        h.clock_name(),
        h.perf_freq,
        h.start_time
            .map_or("-".to_string(), |t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
    );
    let report = TraceReport {
        path: path.to_path_buf(),
        format: TraceFormat::Etl,
        records,
        skipped: skips.total,
        skip_reasons: skips.reasons,
        first_skips: skips.first,
        time_note,
        etl: Some(info),
    };
    Ok(Trace { frame, report })
}

fn fatal(path: &Path, offset: u64, reason: impl Into<String>) -> Error {
    Error::Etl {
        path: path.to_path_buf(),
        offset,
        reason: reason.into(),
    }
}

/// Walks every record in time order and hands each to `sink`.
pub(crate) fn walk(
    path: &Path,
    file: &[u8],
    tmf_dir: Option<&Path>,
    mut sink: impl FnMut(&Event<'_>),
) -> Result<(EtlInfo, Skips), Error> {
    let first = BufferHeader::read(file, 0)
        .ok_or_else(|| fatal(path, 0, "file shorter than one buffer header"))?;
    // The header buffer is never compressed (formats.md §1.1; snail rejects one that is).
    if first.compressed() {
        return Err(fatal(
            path,
            0,
            "the first buffer is compressed; it must hold the logfile header",
        ));
    }
    let mut scratch = Vec::new();
    let (bytes, start, end) =
        buffer::records(file, &first, 0, &mut scratch).map_err(|(o, r)| fatal(path, o, r))?;
    let Bytes::File(data) = bytes else {
        return Err(fatal(path, 0, "the first buffer is compressed"));
    };
    let record = match record::parse(data, start, end) {
        Ok(Parsed::Record(r)) => r,
        Ok(Parsed::End) => return Err(fatal(path, start as u64, header::NOT_A_HEADER)),
        Err(reason) => return Err(fatal(path, start as u64, reason)),
    };
    let at = HEADER_SIZE as u64 + 0x20;
    let header = LogfileHeader::parse(&record).map_err(|r| fatal(path, at, r))?;
    let anchor = record.timestamp.unwrap_or(0);
    let clock = Clock::new(&header, anchor).map_err(|r| fatal(path, at, r))?;
    let compression = if header.log_file_mode & COMPRESSED_MODE != 0 {
        first.state & 0xFFFF
    } else {
        0
    };
    let tmf = match tmf_dir {
        Some(dir) => Some(wpp::Tmf::load(dir).map_err(|error| Error::Tmf {
            path: dir.to_path_buf(),
            error,
        })?),
        None => None,
    };

    let scan = buffer::scan(file, header.buffer_size);
    let mut skips = Skips::default();
    for (offset, reason) in &scan.skipped {
        skips.add(*offset, BAD_BUFFER, (*reason).to_string());
    }
    let mut info = EtlInfo {
        header: header.clone(),
        buffers: scan.buffers.len() as u64,
        compressed_buffers: 0,
        buffers_flagged_events_lost: 0,
        buffers_flagged_lost: 0,
        records_by_header: BTreeMap::new(),
        wpp_without_format: 0,
    };
    let mut by_cpu: BTreeMap<u16, Vec<BufferHeader>> = BTreeMap::new();
    for h in scan.buffers {
        info.compressed_buffers += u64::from(h.compressed());
        info.buffers_flagged_events_lost += u64::from(h.flags & buffer::FLAG_EVENTS_LOST != 0);
        info.buffers_flagged_lost += u64::from(h.flags & buffer::FLAG_BUFFER_LOST != 0);
        by_cpu.entry(h.cpu).or_default().push(h);
    }
    let mut streams: Vec<Stream<'_>> = by_cpu
        .into_values()
        .map(|mut buffers| {
            // SequenceNumber rises per processor in file order (formats.md §1.2, verified
            // on net.4.5.2.x64); the offset keeps equal numbers in file order.
            buffers.sort_by_key(|h| (h.sequence, h.offset));
            Stream {
                buffers,
                next: 0,
                scratch: Vec::new(),
                current: None,
                last_ts: anchor,
            }
        })
        .collect();

    let mut decoder = Decoder {
        kernel: kernel::KernelState::default(),
        tmf,
        header,
        wpp_without_format: 0,
    };
    let mut counts = [0u64; 13];
    let mut message = String::new();
    let mut heap = BinaryHeap::new();
    for (i, s) in streams.iter_mut().enumerate() {
        if let Some(ts) = s.peek(file, compression, &mut skips) {
            heap.push(Reverse((ts, i)));
        }
    }
    while let Some(Reverse((_, i))) = heap.pop() {
        let stream = &mut streams[i];
        loop {
            let last_ts = stream.last_ts;
            stream.take(|r, offset, cpu| {
                let raw_ts = r.timestamp.unwrap_or(last_ts);
                counts[r.header as usize] += 1;
                let Some(time_ns) = clock.utc_ns(raw_ts) else {
                    skips.add(
                        offset,
                        TIME_RANGE,
                        format!("timestamp {raw_ts} out of range"),
                    );
                    return;
                };
                message.clear();
                let row = decoder.decode(r, &mut message);
                sink(&Event {
                    offset,
                    cpu,
                    raw_ts,
                    time_ns,
                    payload_len: r.payload.len(),
                    row,
                    message: &message,
                });
            });
            let Some(ts) = stream.peek(file, compression, &mut skips) else {
                break;
            };
            // Stay on this stream while it is still the earliest: no heap traffic for runs.
            if heap.peek().is_none_or(|Reverse(top)| (ts, i) <= *top) {
                continue;
            }
            heap.push(Reverse((ts, i)));
            break;
        }
    }
    info.wpp_without_format = decoder.wpp_without_format;
    for (kind, n) in record::ALL_TYPES.iter().zip(counts) {
        if n > 0 {
            info.records_by_header.insert(kind.name().to_string(), n);
        }
    }
    Ok((info, skips))
}
