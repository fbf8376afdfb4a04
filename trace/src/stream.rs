//! The read loop every text format shares: bytes in chunks → records (lines, or CSV records
//! whose quoted fields may span lines) → one [`Format`] parser → rows converted to UTC →
//! the frame's columns, with skipped records counted.
//!
//! Files are read in pieces (4–64 MiB) and each is dropped once parsed, so the input is
//! never resident as a whole; strings are copied into the frame's builders as they come.
//! When the layout allows it ([`Format::fork`]), the second half of each piece is parsed on
//! a second thread; its result is kept only if the first half ended exactly where the
//! second began (so a quoted field spanning the cut, or a time-of-day row needing the day
//! of an earlier row, makes that piece fall back to one thread). Each half becomes one chunk
//! of the frame's columns.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use crate::clock::Clock;
use crate::csvrow::RecordEnd;
use crate::decode::decode;
use crate::read::{
    Parsed, Skips, Trace, TraceReport, BAD_TIME_FORMAT, BLANK, OUT_OF_RANGE, SNIFF_BYTES, TOO_LONG,
};
use polars::prelude::DataFrame;

use crate::schema::Columns;
use crate::{detect, Error, ReadOptions, TimeContext, TraceFormat};

/// Smallest and largest piece read from a file at a time (a round reads two). Tests use
/// small pieces so that small files take the two-thread path across many cuts.
const MIN_PIECE: usize = if cfg!(test) { 64 << 10 } else { 4 << 20 };
const MAX_PIECE: usize = 16 << 20;
/// The first read, for detection and the row estimate.
const CHUNK: usize = MIN_PIECE;
/// A record still incomplete after this many bytes is cut at its first line end (an opening
/// quote that never closes must not swallow the rest of the file).
const MAX_RECORD: usize = 1 << 20;
/// Rows whose time does not fit `--time-format` before any row did: then the format is wrong.
const TIME_FORMAT_GIVE_UP: u64 = 10;

/// One text layout's parser.
pub(crate) trait Format: Send {
    /// Where the record at the start of `buf` ends; None if `buf` ends inside it and `force`
    /// is false. Default: one line.
    fn record(&mut self, buf: &[u8], force: bool) -> Option<RecordEnd> {
        line_record(buf, force)
    }

    /// Parses one record (without its line end). `fresh` is true when `record` holds exactly
    /// the bytes [`Format::record`] just looked at (false after invalid UTF-8 was replaced).
    fn parse<'s>(&'s mut self, record: &'s str, fresh: bool) -> Parsed<'s>;

    /// A sentence for the report's time note, e.g. where a relative clock's start came from.
    fn note(&self) -> Option<String> {
        None
    }

    /// The first time cell that did not fit a user-given format, and that format.
    fn bad_time(&self) -> Option<(String, String)> {
        None
    }

    /// A copy that can parse a later stretch of the input on another thread, once headers
    /// are read; None when rows depend on earlier rows in a way a copy cannot know.
    fn fork(&self) -> Option<Box<dyn Format>> {
        None
    }
}

/// A record that is one line (`\n` or `\r\n`).
pub(crate) fn line_record(buf: &[u8], force: bool) -> Option<RecordEnd> {
    match memchr::memchr(b'\n', buf) {
        Some(i) => Some(RecordEnd {
            len: if i > 0 && buf[i - 1] == b'\r' {
                i - 1
            } else {
                i
            },
            step: i + 1,
            lines: 1,
            unterminated: false,
        }),
        None if force && !buf.is_empty() => Some(RecordEnd {
            len: buf.len() - usize::from(buf.last() == Some(&b'\r')),
            step: buf.len(),
            lines: 1,
            unterminated: false,
        }),
        None => None,
    }
}

/// Where the bytes come from.
pub(crate) enum Input<'b> {
    Bytes(&'b [u8]),
    File { file: File, len: u64 },
}

/// Everything the loop carries from record to record.
struct State<'p> {
    path: &'p Path,
    parser: Box<dyn Format>,
    columns: Columns,
    /// Finished chunks of the frame, in input order (when nobody takes them as they come).
    pieces: Vec<DataFrame>,
    /// Takes each finished chunk instead of `pieces`; `Break` stops the read.
    sink: Option<&'p mut Sink<'p>>,
    stopped: bool,
    rows_done: usize,
    /// Rows per input byte, for reserving column room.
    density: f64,
    clock: Clock<'p>,
    skips: Skips,
    /// Line the next record starts on.
    line: u64,
    /// First line whose time did not fit `--time-format`, while no row has been read.
    bad_time_line: Option<u64>,
    bad_times: u64,
    lossy: String,
    /// Inside a line longer than [`MAX_RECORD`], already counted as skipped.
    overlong: bool,
}

/// What [`read`] hands finished chunks of rows to when the caller streams them.
pub(crate) type Sink<'a> = dyn FnMut(DataFrame) -> std::ops::ControlFlow<()> + Send + 'a;

pub(crate) fn read<'p>(
    path: &'p Path,
    input: Input<'_>,
    ctx: &'p TimeContext,
    opts: &ReadOptions,
    sink: Option<&'p mut Sink<'p>>,
) -> Result<Trace, Error> {
    let io = |error| Error::Io {
        path: path.to_path_buf(),
        error,
    };
    // The first chunk: enough to detect the layout and estimate the row count.
    let (mut file, mut buf, total, mut slice) = match input {
        Input::Bytes(b) => (None, Vec::new(), b.len() as u64, Some(b)),
        Input::File { mut file, len } => {
            let mut buf = Vec::with_capacity(CHUNK);
            fill(&mut file, &mut buf, CHUNK).map_err(io)?;
            (Some(file), buf, len, None)
        }
    };
    let first = slice.unwrap_or(&buf);
    if first.is_empty() {
        return Err(Error::Empty {
            path: path.to_path_buf(),
        });
    }
    // UTF-16 is decoded whole: it is rare, and its UTF-8 text is half its size.
    let mut owned_text: Option<String> = None;
    if first.starts_with(&[0xFF, 0xFE])
        || first.starts_with(&[0xFE, 0xFF])
        || dumptrace_mapfile::utf16_without_bom(first).is_some()
    {
        let mut all = first.to_vec();
        if let Some(f) = file.as_mut() {
            f.read_to_end(&mut all).map_err(io)?;
        }
        owned_text = Some(decode(&all).into_owned());
        file = None;
        buf = Vec::new();
        slice = None;
    }
    let (format, parser, density, bom) = {
        let source: &[u8] = match (&owned_text, slice) {
            (Some(t), _) => t.as_bytes(),
            (None, Some(b)) => b,
            (None, None) => &buf,
        };
        // A UTF-8 BOM: tracerpt writes one (Log-parser sample, formats.md §5); editors too.
        let bom = if source.starts_with(&[0xEF, 0xBB, 0xBF]) {
            3
        } else {
            0
        };
        let sniff = source
            .get(bom..(bom + SNIFF_BYTES).min(source.len()))
            .unwrap_or_default();
        let head = decode(sniff);
        let format = detect::detect_with(&head, opts).ok_or_else(|| Error::NotATrace {
            path: path.to_path_buf(),
        })?;
        let parser = crate::formats::open(format, &head, opts);
        (format, parser, density(sniff), bom)
    };
    let piece = usize::try_from(total / 32)
        .unwrap_or(MAX_PIECE)
        .clamp(MIN_PIECE, MAX_PIECE);
    let mut clock = Clock::new(ctx);
    clock.set_anchor(opts.trace_start);
    let mut st = State::new(path, parser, density, total, clock, 1);
    st.sink = sink;
    match file.as_mut() {
        None => {
            let source: &[u8] = match (&owned_text, slice) {
                (Some(t), _) => t.as_bytes(),
                (None, Some(b)) => b,
                (None, None) => &buf,
            };
            drain(&mut st, source.get(bom..).unwrap_or_default(), true)?;
        }
        Some(f) => {
            let mut at = bom;
            st.columns = Columns::with_capacity(rows_for(density, piece as u64 * 2));
            loop {
                let eof = fill(f, &mut buf, 2 * piece).map_err(io)? < 2 * piece;
                let body = buf.get(at..).unwrap_or_default();
                at += match st.parser.fork() {
                    Some(worker) if body.len() >= 2 * MIN_PIECE => {
                        parallel(&mut st, body, eof, worker)?
                    }
                    _ => drain(&mut st, body, eof)?,
                };
                // Each round's rows become one chunk, so a streaming caller gets them now.
                st.finish_piece(piece as u64 * 2)?;
                if eof || st.stopped {
                    break;
                }
                // Keep the unfinished record; the parsed bytes are released.
                buf.drain(..at.min(buf.len()));
                at = 0;
            }
        }
    }
    finish(st, format)
}

/// Reads until `buf` holds `want` more bytes or the file ends; returns the bytes added.
fn fill(f: &mut File, buf: &mut Vec<u8>, want: usize) -> std::io::Result<usize> {
    let start = buf.len();
    let target = start + want;
    // Exactly: the default doubling would double the buffer's size for a few leftover bytes.
    buf.reserve_exact(want);
    buf.resize(target, 0);
    let mut n = start;
    while n < target {
        match f.read(&mut buf[n..target]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                buf.truncate(n);
                return Err(e);
            }
        }
    }
    buf.truncate(n);
    Ok(n - start)
}

/// Rows per byte in the first chunk.
fn density(sniff: &[u8]) -> f64 {
    let lines = memchr::memchr_iter(b'\n', sniff).count().max(1);
    lines as f64 / sniff.len().max(16) as f64
}

/// Rows expected in `bytes` of input (a little over, since reserved but unwritten memory
/// costs nothing).
fn rows_for(density: f64, bytes: u64) -> usize {
    (density * bytes as f64 * 1.15) as usize + 16
}

/// Parses `body` on two threads (see the module docs); returns the bytes consumed.
fn parallel(
    st: &mut State<'_>,
    body: &[u8],
    eof: bool,
    worker: Box<dyn Format>,
) -> Result<usize, Error> {
    let mid = body.len() / 2;
    let Some(split) =
        memchr::memchr(b'\n', body.get(mid..).unwrap_or_default()).map(|k| mid + k + 1)
    else {
        return drain(st, body, eof);
    };
    let (first, second) = body.split_at(split);
    // Lines are physical lines, so the second half starts this many lines further even when
    // a quoted field spans lines (and if the cut is inside one, the half is dropped anyway).
    let second_line = st.line + memchr::memchr_iter(b'\n', first).count() as u64;
    let mut later = State::new(
        st.path,
        worker,
        st.density,
        second.len() as u64,
        st.clock.fresh(),
        second_line,
    );
    let (a, b) = std::thread::scope(|scope| {
        let handle = scope.spawn(|| {
            let r = drain(&mut later, second, eof);
            (r, later)
        });
        let a = drain(st, first, false);
        let b = handle
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (a, b)
    });
    let a = a?;
    let (b, later) = b;
    if a != split {
        // The cut fell inside a record (a quoted field with line ends): go on from there.
        return Ok(a + drain(st, body.get(a..).unwrap_or_default(), eof)?);
    }
    match b {
        Ok(consumed) if !later.clock.took_callers_day => {
            st.finish_piece(second.len() as u64)?;
            st.close(later.columns)?;
            st.skips.absorb(later.skips);
            st.clock.absorb(later.clock);
            st.line = later.line;
            st.overlong = later.overlong;
            Ok(split + consumed)
        }
        // A time-of-day row needed an earlier day, or an error to report with its true line.
        _ => Ok(split + drain(st, second, eof)?),
    }
}

impl<'p> State<'p> {
    /// A fresh state for `bytes` of input whose first record starts on `line`.
    fn new(
        path: &'p Path,
        parser: Box<dyn Format>,
        density: f64,
        bytes: u64,
        clock: Clock<'p>,
        line: u64,
    ) -> Self {
        State {
            path,
            parser,
            columns: Columns::with_capacity(rows_for(density, bytes)),
            pieces: Vec::new(),
            sink: None,
            stopped: false,
            rows_done: 0,
            density,
            clock,
            skips: Skips::default(),
            line,
            bad_time_line: None,
            bad_times: 0,
            lossy: String::new(),
            overlong: false,
        }
    }

    /// Closes the current chunk of columns and starts another with room for `bytes` of input.
    fn finish_piece(&mut self, bytes: u64) -> Result<(), Error> {
        let next = Columns::with_capacity(rows_for(self.density, bytes));
        let cols = std::mem::replace(&mut self.columns, next);
        self.close(cols)
    }

    /// Turns finished columns into a chunk: handed to the sink, or kept for the frame.
    fn close(&mut self, cols: Columns) -> Result<(), Error> {
        // After a `Break` the caller wants nothing more; rows parsed since are not counted.
        if cols.len() == 0 || self.stopped {
            return Ok(());
        }
        self.rows_done += cols.len();
        let frame = cols.into_frame().map_err(|error| Error::Frame {
            path: self.path.to_path_buf(),
            error,
        })?;
        match self.sink.as_mut() {
            Some(sink) => self.stopped |= sink(frame).is_break(),
            None => self.pieces.push(frame),
        }
        Ok(())
    }

    fn records(&self) -> usize {
        self.rows_done + self.columns.len()
    }
}

/// Parses every complete record in `buf`; returns the bytes consumed.
fn drain(st: &mut State<'_>, buf: &[u8], eof: bool) -> Result<usize, Error> {
    // UTF-8 is checked once for the whole buffer (the check is fastest on long runs); a
    // record inside the valid part is cut from it as a str, others are checked alone.
    let valid = match std::str::from_utf8(buf) {
        Ok(text) => text,
        Err(e) => {
            std::str::from_utf8(buf.get(..e.valid_up_to()).unwrap_or_default()).unwrap_or_default()
        }
    };
    let mut pos = 0usize;
    while pos < buf.len() {
        let rest = &buf[pos..];
        if st.overlong {
            // The rest of a line already counted as too long: dropped up to its end.
            match memchr::memchr(b'\n', rest) {
                Some(i) => {
                    pos += i + 1;
                    st.overlong = false;
                    continue;
                }
                None => {
                    pos = buf.len();
                    break;
                }
            }
        }
        let end = match st.parser.record(rest, eof) {
            Some(e) => e,
            None if rest.len() > MAX_RECORD && memchr::memchr(b'\n', rest).is_none() => {
                // One line longer than MAX_RECORD with no end in sight: one skipped record,
                // whatever its length, and the rest of it is not read as records.
                let head = String::from_utf8_lossy(&rest[..rest.len().min(512)]);
                st.skips.add(st.line, TOO_LONG, &head);
                st.line += 1;
                st.overlong = true;
                pos = buf.len();
                break;
            }
            None if rest.len() > MAX_RECORD => match st.parser.record(rest, true) {
                Some(e) => e,
                None => break,
            },
            None => break,
        };
        let bytes = rest.get(..end.len).unwrap_or_default();
        let text = valid.get(pos..pos + end.len);
        let number = st.line;
        st.line += end.lines.max(1);
        pos += end.step.max(1);
        one(st, bytes, text, number)?;
    }
    Ok(pos)
}

/// One record: `text` is its bytes as a str when already known to be UTF-8.
fn one(st: &mut State<'_>, bytes: &[u8], text: Option<&str>, number: u64) -> Result<(), Error> {
    let (record, fresh) = match text.map_or_else(|| std::str::from_utf8(bytes), Ok) {
        Ok(s) => (s, true),
        Err(_) => {
            // Invalid sequences become U+FFFD: a half-corrupt export still yields its rows.
            st.lossy = String::from_utf8_lossy(bytes).into_owned();
            (st.lossy.as_str(), false)
        }
    };
    // trim_start stops at the first visible character: cheap on every row.
    if record.trim_start().is_empty() {
        st.skips.add(number, BLANK, record);
        return Ok(());
    }
    let row = match st.parser.parse(record, fresh) {
        Ok(row) => row,
        Err(reason) => {
            if reason == BAD_TIME_FORMAT && st.records() == 0 {
                st.bad_time_line.get_or_insert(number);
                st.bad_times += 1;
                if st.bad_times >= TIME_FORMAT_GIVE_UP {
                    return Err(time_format_error(st));
                }
            }
            st.skips.add(number, reason, record);
            return Ok(());
        }
    };
    let utc = st.clock.convert(&row.when).map_err(|_| Error::NoDate {
        path: st.path.to_path_buf(),
        line: number,
    })?;
    match utc {
        Some(ns) => st.columns.push(ns, &row, number),
        None => st.skips.add(number, OUT_OF_RANGE, record),
    }
    Ok(())
}

fn time_format_error(st: &State<'_>) -> Error {
    let (value, format) = st.parser.bad_time().unwrap_or_default();
    Error::TimeFormat {
        path: st.path.to_path_buf(),
        line: st.bad_time_line.unwrap_or(0),
        value,
        format,
    }
}

fn finish(mut st: State<'_>, format: TraceFormat) -> Result<Trace, Error> {
    if st.records() == 0 && st.bad_time_line.is_some() {
        return Err(time_format_error(&st));
    }
    if st.sink.is_some() {
        let cols = std::mem::take(&mut st.columns);
        st.close(cols)?;
    }
    let records = st.records() as u64;
    let mut time_note = st.clock.note();
    if let Some(extra) = st.parser.note() {
        time_note = format!("{extra}; {time_note}");
    }
    let frame_error = |error| Error::Frame {
        path: st.path.to_path_buf(),
        error,
    };
    let last = std::mem::take(&mut st.columns)
        .into_frame()
        .map_err(frame_error)?;
    let mut pieces = std::mem::take(&mut st.pieces).into_iter();
    let frame = match pieces.next() {
        None => last,
        Some(mut frame) => {
            for p in pieces {
                frame.vstack_mut_owned(p).map_err(frame_error)?;
            }
            if last.height() > 0 {
                frame.vstack_mut_owned(last).map_err(frame_error)?;
            }
            frame
        }
    };
    let report = TraceReport {
        path: st.path.to_path_buf(),
        format,
        records,
        skipped: st.skips.total,
        skip_reasons: st.skips.reasons,
        first_skips: st.skips.first,
        time_note,
        etl: None,
    };
    Ok(Trace { frame, report })
}

#[cfg(test)]
mod tests {
    use std::ops::ControlFlow;

    use chrono::FixedOffset;

    use crate::{read_path_chunks, read_path_with, ReadOptions, TimeContext};
    use polars::prelude::DataFrame;

    /// A file several pieces long comes out of the streaming read in several chunks that
    /// together equal the frame of the ordinary read; a `Break` stops after the first.
    #[test]
    fn chunks_hold_the_same_rows_as_the_frame() {
        let mut text = String::new();
        for i in 0..12_000u32 {
            text.push_str(&format!(
                "[0]0ADC.1C64::10/09/2009-14:{:02}:{:02}.{:03} [DbClient]Error: retry {i}\n",
                (i / 1000) % 60,
                (i / 10) % 60,
                i % 1000
            ));
            if i % 997 == 0 {
                text.push_str("not a trace line\n");
            }
        }
        let path =
            std::env::temp_dir().join(format!("dumptrace-chunks-{}.txt", std::process::id()));
        std::fs::write(&path, &text).expect("temp file");
        let ctx = TimeContext {
            date: None,
            offset: FixedOffset::east_opt(0).expect("zero offset"),
            source: "test".into(),
        };
        let opts = ReadOptions::default();
        let whole = read_path_with(&path, &ctx, &opts).expect("reads");
        let mut chunks: Vec<DataFrame> = Vec::new();
        let report = read_path_chunks(&path, &ctx, &opts, &mut |df| {
            chunks.push(df);
            ControlFlow::Continue(())
        })
        .expect("reads");
        assert_eq!(report.records, 12_000);
        assert_eq!(report.skipped, whole.report.skipped);
        assert_eq!(report.skipped, 13);
        assert!(chunks.len() > 2, "{} chunks", chunks.len());
        let mut joined = chunks.remove(0);
        for c in chunks {
            joined.vstack_mut_owned(c).expect("same schema");
        }
        assert!(joined.equals_missing(&whole.frame));

        let mut first = 0;
        let stopped = read_path_chunks(&path, &ctx, &opts, &mut |df| {
            first += df.height();
            ControlFlow::Break(())
        })
        .expect("reads");
        let _ = std::fs::remove_file(&path);
        assert_eq!(stopped.records as usize, first);
        assert!(first < 12_000);
    }
}
