//! Binary ETL files (Event Tracing for Windows logs), read natively on any OS.
//!
//! The key types: [`EtlInfo`] (the facts of the logfile header and what reading saw, kept
//! in [`TraceReport::etl`](crate::TraceReport::etl)) and [`LogfileHeader`]. A file is read
//! in two passes over the memory-mapped bytes: [`buffer::scan`] lists every buffer header
//! (72 bytes each), then each processor's buffers are walked in sequence order and the
//! per-processor record streams are merged by timestamp (formats.md §1.9) on one thread
//! ([`merge`]), which hands out windows of records in time order; the other threads
//! decode each window into pieces of the frame. Besides the output frame, two windows
//! (their slots, and the inflated buffers their records are in) are held, and of a mapped
//! input only the part the merge has not passed: the file before it is released as the
//! merge goes ([`merge::Merger::fill`]).
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
mod manifest;
mod merge;
mod metadata;
mod mof;
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

use std::collections::BTreeMap;
use std::path::Path;

use polars::prelude::{DataFrame, PolarsResult};
use serde::Serialize;

use crate::read::{Skip, Trace, TraceReport};
use crate::stream::Sink;
use crate::{Error, TraceFormat};
use buffer::{BufferHeader, Bytes, HEADER_SIZE};
use event::{Decoder, Row, Tally};
use header::Clock;
pub use header::LogfileHeader;
pub use manifest::Manifests;
use manifest::Schemas;
use merge::{Merger, Slot, Window};
use record::Parsed;

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
    /// Manifest events of providers no schema describes (shown as hex), by provider: the
    /// GUID, or its well-known name. `--manifest` with the provider's manifest decodes them.
    pub manifest_without_schema: BTreeMap<String, u64>,
    /// Manifest and kernel events whose schema or layout did not fit (shown as hex), by
    /// reason.
    pub manifest_misfits: BTreeMap<String, u64>,
    /// Kernel events of classes without a layout here (shown as hex), by `Group/TypeN`.
    pub kernel_without_layout: BTreeMap<String, u64>,
    /// Events described by the file's own metadata (KernelTraceControl EventInfo records,
    /// EventSource manifests), and the metadata records that could not be used, by reason.
    pub file_schemas: usize,
    pub file_metadata_unusable: BTreeMap<String, u64>,
    /// Buffers the logfile header says were written that the file does not hold: a file
    /// cut on a buffer boundary (copied while the session ran, or truncated) reads without
    /// a bad buffer, so only this count says it is short.
    pub buffers_missing: u64,
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

/// Rows per chunk handed to a streaming caller.
const STREAM_ROWS: usize = if cfg!(test) { 3 } else { 1 << 20 };
/// Records merged at a time for a whole-file read: a slot takes 48 bytes and two windows
/// are in flight; each window becomes one piece of the frame per decoding thread.
const WINDOW_ROWS: usize = if cfg!(test) { 6 } else { 1 << 19 };
/// Fewest records worth a decoding thread of their own.
const PART_ROWS: usize = if cfg!(test) { 3 } else { 16 << 10 };
/// Most decoding threads.
const MAX_THREADS: usize = 8;

/// Reads an ETL file held in memory into the event frame; WPP messages take their text from
/// the TMF files in `tmf_dir`. `release(end)` is called once `file[..end]` will not be read
/// again (a mapped file's pages can then leave memory).
///
/// The merge runs on the calling thread a window of records at a time; each window is
/// decoded by up to one thread per core, each into its own piece of the frame.
///
/// With a `sink`, rows are handed over in chunks of [`STREAM_ROWS`] as they are read and the
/// returned frame is empty.
pub(crate) fn read<'p>(
    path: &'p Path,
    file: &[u8],
    release: dumptrace_mapfile::Release<'_>,
    tmf_dir: Option<&Path>,
    manifests: Option<&Manifests>,
    sink: Option<&'p mut Sink<'p>>,
) -> Result<Trace, Error> {
    let streaming = sink.is_some();
    let (mut trace, meta, undecoded) =
        read_pass(path, file, release, tmf_dir, manifests, None, sink)?;
    if meta.is_empty() || undecoded == 0 {
        return Ok(trace);
    }
    let built = metadata::build(&meta);
    let unusable = built.unusable();
    if streaming || built.events == 0 {
        if let Some(info) = trace.report.etl.as_mut() {
            info.file_metadata_unusable = unusable;
            if streaming {
                // Rows already handed over are not read again.
                info.file_metadata_unusable
                    .insert(METADATA_STREAMING.to_string(), meta.len() as u64);
            }
        }
        return Ok(trace);
    }
    // The file describes events the first reading could not decode: read it again with
    // those schemas first (the metadata is often at its end, after the events).
    let (mut again, _, _) = read_pass(
        path,
        file,
        release,
        tmf_dir,
        manifests,
        Some(&built.schemas),
        None,
    )?;
    if let Some(info) = again.report.etl.as_mut() {
        info.file_schemas = built.events;
        info.file_metadata_unusable = unusable;
    }
    trace = again;
    Ok(trace)
}

/// Why in-file metadata was not applied: rows were streamed out before it was found.
const METADATA_STREAMING: &str = "in-file metadata found after rows were streamed; not applied";

/// One reading of the file: the trace, the file's metadata records, and how many manifest
/// events no schema decoded.
#[allow(clippy::too_many_arguments)]
fn read_pass<'p>(
    path: &'p Path,
    file: &[u8],
    release: dumptrace_mapfile::Release<'_>,
    tmf_dir: Option<&Path>,
    manifests: Option<&Manifests>,
    file_schemas: Option<&Schemas>,
    mut sink: Option<&mut Sink<'p>>,
) -> Result<(Trace, Vec<metadata::Meta>, u64), Error> {
    let frame_error = |error| Error::Frame {
        path: path.to_path_buf(),
        error,
    };
    let Setup {
        mut info,
        tmf,
        mut merger,
    } = open(path, file, tmf_dir)?;
    // Decoding threads: one per core.
    let threads = crate::cores().min(MAX_THREADS);
    let window_rows = if sink.is_some() {
        STREAM_ROWS
    } else {
        WINDOW_ROWS
    };
    let decoder = Decoder::new(
        &info.header,
        tmf.as_ref(),
        manifests.map(Manifests::schemas),
        file_schemas,
    );
    let mut pieces = Vec::new();
    let mut records = 0u64;
    let mut tally = Tally::default();
    let mut stopped = false;
    let mut failed = None;
    // The merge fills the next window on its own thread while this one decodes the last:
    // two windows in flight, handed back and forth.
    let merger = std::thread::scope(|scope| {
        let (full_tx, full_rx) = std::sync::mpsc::sync_channel::<Window<'_>>(1);
        let (empty_tx, empty_rx) = std::sync::mpsc::channel::<Window<'_>>();
        let _ = empty_tx.send(Window::default());
        let merging = scope.spawn(move || {
            loop {
                let mut window = empty_rx.recv().unwrap_or_default();
                merger.fill(&mut window, window_rows, release);
                if window.slots.is_empty() || full_tx.send(window).is_err() {
                    break;
                }
            }
            merger
        });
        let _ = empty_tx.send(Window::default());
        for window in full_rx {
            if stopped || failed.is_some() {
                // The caller wants no more rows; the report still covers the whole file.
                tally.add(count_only(&window, &decoder));
            } else {
                match decode_window(&window, &decoder, threads) {
                    Ok((frame, counted)) => {
                        tally.add(counted);
                        records += frame.height() as u64;
                        match sink.as_mut() {
                            Some(sink) => stopped = sink(frame).is_break(),
                            None => pieces.push(frame),
                        }
                    }
                    Err(error) => failed = Some(error),
                }
            }
            let _ = empty_tx.send(window);
        }
        // The merge thread does not panic; if it did, its panic goes on here.
        merging
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))
    });
    if let Some(error) = failed {
        return Err(frame_error(error));
    }
    let mut pieces = pieces.into_iter();
    let frame = match pieces.next() {
        None => columns::EtlColumns::with_capacity(0)
            .finish()
            .map_err(frame_error)?,
        Some(mut frame) => {
            for p in pieces {
                frame.vstack_mut_owned(p).map_err(frame_error)?;
            }
            frame
        }
    };
    let meta = std::mem::take(&mut tally.meta);
    let undecoded = tally.undecoded();
    let skips = finish(&mut info, merger, tally);
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
    Ok((Trace { frame, report }, meta, undecoded))
}

/// Decodes a window into one frame: its slots are split into consecutive parts, each
/// decoded on its own thread into its own columns, and the parts stacked in order.
/// Returns the frame and what decoding counted.
fn decode_window(
    window: &Window<'_>,
    decoder: &Decoder<'_>,
    threads: usize,
) -> PolarsResult<(DataFrame, Tally)> {
    let n = window.slots.len();
    let parts = threads.min(n / PART_ROWS).max(1);
    let per_part = n.div_ceil(parts);
    let one = |slots: &[Slot]| -> PolarsResult<(DataFrame, Tally)> {
        let mut d = decoder.fork();
        let mut columns = columns::EtlColumns::with_capacity(slots.len());
        let mut message = String::new();
        each_event(window, slots, &mut d, &mut message, |e| columns.push(e));
        Ok((columns.finish()?, d.tally))
    };
    let mut chunks = window.slots.chunks(per_part.max(1));
    let Some(first) = chunks.next() else {
        return Ok((
            columns::EtlColumns::with_capacity(0).finish()?,
            Tally::default(),
        ));
    };
    let results: Vec<PolarsResult<(DataFrame, Tally)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = chunks.map(|c| scope.spawn(move || one(c))).collect();
        let mut results = vec![one(first)];
        for h in handles {
            // A decoding thread does not panic; if one did, its panic goes on here.
            results.push(h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)));
        }
        results
    });
    let mut results = results.into_iter();
    let (mut frame, mut counted) = match results.next() {
        Some(r) => r?,
        None => (
            columns::EtlColumns::with_capacity(0).finish()?,
            Tally::default(),
        ),
    };
    for r in results {
        let (piece, t) = r?;
        frame.vstack_mut_owned(piece)?;
        counted.add(t);
    }
    Ok((frame, counted))
}

/// What decoding `window` would count (WPP messages without a format, manifest events
/// without a schema), without decoding it.
fn count_only(window: &Window<'_>, decoder: &Decoder<'_>) -> Tally {
    let mut d = decoder.fork();
    for slot in &window.slots {
        let Some(b) = window.bufs.get(slot.buf as usize) else {
            continue;
        };
        if let Ok(Parsed::Record(r)) = record::parse(b.bytes(), slot.pos as usize, b.end) {
            d.tally_only(&r);
        }
    }
    d.tally
}

/// Decodes the records of `slots` (of `window`) in order and hands each to `sink`.
fn each_event(
    window: &Window<'_>,
    slots: &[Slot],
    decoder: &mut Decoder<'_>,
    message: &mut String,
    mut sink: impl FnMut(&Event<'_>),
) {
    for slot in slots {
        let Some(b) = window.bufs.get(slot.buf as usize) else {
            continue;
        };
        let pos = slot.pos as usize;
        // The merge parsed this record already; parsing the same bytes again cannot fail.
        let Ok(Parsed::Record(r)) = record::parse(b.bytes(), pos, b.end) else {
            continue;
        };
        message.clear();
        let row = decoder.decode(&r, &slot.looked, message);
        sink(&Event {
            offset: b.file_offset(pos),
            cpu: b.header.cpu,
            raw_ts: slot.raw_ts,
            time_ns: slot.time_ns,
            payload_len: r.payload.len(),
            row,
            message,
        });
    }
}

fn fatal(path: &Path, offset: u64, reason: impl Into<String>) -> Error {
    Error::Etl {
        path: path.to_path_buf(),
        offset,
        reason: reason.into(),
    }
}

/// What a read sets up before the merge.
struct Setup<'f> {
    /// With the logfile header the decoders read.
    info: EtlInfo,
    tmf: Option<wpp::Tmf>,
    merger: Merger<'f>,
}

/// Reads the logfile header, loads the TMF files, lists the buffers and starts the merge.
fn open<'f>(path: &Path, file: &'f [u8], tmf_dir: Option<&Path>) -> Result<Setup<'f>, Error> {
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
        header,
        buffers: scan.buffers.len() as u64,
        compressed_buffers: 0,
        buffers_flagged_events_lost: 0,
        buffers_flagged_lost: 0,
        records_by_header: BTreeMap::new(),
        wpp_without_format: 0,
        manifest_without_schema: BTreeMap::new(),
        manifest_misfits: BTreeMap::new(),
        kernel_without_layout: BTreeMap::new(),
        file_schemas: 0,
        file_metadata_unusable: BTreeMap::new(),
        buffers_missing: 0,
    };
    // BuffersWritten counts every buffer of the file, the logfile header's own included
    // (net.4.5.2.x64: 360 written, 360 in the file). 0 is a file whose logger never
    // finished it: nothing to compare.
    let held = info.buffers + scan.skipped.len() as u64;
    info.buffers_missing = u64::from(info.header.buffers_written).saturating_sub(held);
    let mut by_cpu: BTreeMap<u16, Vec<BufferHeader>> = BTreeMap::new();
    for h in scan.buffers {
        info.compressed_buffers += u64::from(h.compressed());
        info.buffers_flagged_events_lost += u64::from(h.flags & buffer::FLAG_EVENTS_LOST != 0);
        info.buffers_flagged_lost += u64::from(h.flags & buffer::FLAG_BUFFER_LOST != 0);
        by_cpu.entry(h.cpu).or_default().push(h);
    }
    let by_cpu = by_cpu
        .into_values()
        .map(|mut buffers| {
            // SequenceNumber rises per processor in file order (formats.md §1.2, verified
            // on net.4.5.2.x64); the offset keeps equal numbers in file order.
            buffers.sort_by_key(|h| (h.sequence, h.offset));
            buffers
        })
        .collect();
    let merger = Merger::new(file, compression, clock, anchor, by_cpu, skips);
    Ok(Setup { info, tmf, merger })
}

/// Completes `info` with what the merge counted; returns the skips.
fn finish(info: &mut EtlInfo, merger: Merger<'_>, tally: Tally) -> Skips {
    info.wpp_without_format = tally.wpp_without_format;
    for (guid, n) in tally.without_schema {
        let name = event::known_provider(&guid).map_or_else(|| guid.to_string(), str::to_string);
        *info.manifest_without_schema.entry(name).or_default() += n;
    }
    for (reason, n) in tally.misfits {
        *info.manifest_misfits.entry(reason.to_string()).or_default() += n;
    }
    for ((group, kind), n) in tally.kernel_without_layout {
        *info
            .kernel_without_layout
            .entry(kernel::raw_name(group, kind))
            .or_default() += n;
    }
    for (kind, n) in record::ALL_TYPES.iter().zip(merger.counts) {
        if n > 0 {
            info.records_by_header.insert(kind.name().to_string(), n);
        }
    }
    merger.skips
}

/// Walks every record in time order and hands each to `sink`, on the calling thread.
#[cfg(test)]
pub(crate) fn walk(
    path: &Path,
    file: &[u8],
    tmf_dir: Option<&Path>,
    manifests: Option<&Manifests>,
    mut sink: impl FnMut(&Event<'_>),
) -> Result<(EtlInfo, Skips), Error> {
    // A first walk without decoding finds the file's own metadata, as `read`'s second
    // reading uses it.
    let built = {
        let Setup {
            info, mut merger, ..
        } = open(path, file, tmf_dir)?;
        let mut window = Window::default();
        let probe = Decoder::new(&info.header, None, None, None);
        let mut tally = Tally::default();
        loop {
            merger.fill(&mut window, WINDOW_ROWS, &|_| {});
            if window.slots.is_empty() {
                break;
            }
            tally.add(count_only(&window, &probe));
        }
        metadata::build(&tally.meta)
    };
    let Setup {
        mut info,
        tmf,
        mut merger,
    } = open(path, file, tmf_dir)?;
    let mut window = Window::default();
    let mut message = String::new();
    let mut decoder = Decoder::new(
        &info.header,
        tmf.as_ref(),
        manifests.map(Manifests::schemas),
        (built.events > 0).then_some(&built.schemas),
    );
    loop {
        merger.fill(&mut window, WINDOW_ROWS, &|_| {});
        if window.slots.is_empty() {
            break;
        }
        each_event(
            &window,
            &window.slots,
            &mut decoder,
            &mut message,
            &mut sink,
        );
    }
    let tally = std::mem::take(&mut decoder.tally);
    drop(decoder);
    let skips = finish(&mut info, merger, tally);
    info.file_schemas = built.events;
    info.file_metadata_unusable = built.unusable();
    Ok((info, skips))
}
