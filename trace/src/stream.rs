//! The read loop every text format shares: bytes in chunks → records (lines, or CSV records
//! whose quoted fields may span lines) → one [`Format`] parser → rows converted to UTC →
//! the frame's columns, with skipped records counted.
//!
//! Files are parsed in rounds (8–32 MiB) straight from a map of the file, and the pages of
//! the rounds parsed are let go, so the input is never resident as a whole and never copied
//! into a buffer. What cannot be mapped (a pipe) is read in rounds into two buffers that
//! take turns: a reader thread fills one while the other is parsed. Strings are copied into
//! the frame's builders as they come.
//! When the layout allows it ([`Format::fork`]), the second half of each round is parsed on
//! a second thread; its result is kept only if the first half ended exactly where the
//! second began (so a quoted field spanning the cut, or a time-of-day row needing the day
//! of an earlier row, makes that round fall back to one thread). Each half becomes one
//! chunk of the frame's columns, made on the thread that parsed it.

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
            let mut buf = vec![0; CHUNK];
            let n = read_full(&mut file, &mut buf).map_err(io)?;
            buf.truncate(n);
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
    if dumptrace_mapfile::utf16(first).is_some() {
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
    match file.take() {
        None => {
            let source: &[u8] = match (&owned_text, slice) {
                (Some(t), _) => t.as_bytes(),
                (None, Some(b)) => b,
                (None, None) => &buf,
            };
            drain(&mut st, source.get(bom..).unwrap_or_default(), true)?;
        }
        Some(f) => {
            st.columns = Columns::with_capacity(rows_for(density, piece as u64 * 2));
            // A regular file is parsed in place from a map (no copy into a buffer); a
            // pipe or a special file, which cannot be mapped, is read in rounds.
            let map = (f.metadata().is_ok_and(|m| m.is_file()) && may_map())
                .then(|| dumptrace_mapfile::Map::new(&f).ok())
                .flatten()
                // A file whose size says less than a read gave (some special files) is read.
                .filter(|m| m.len() >= buf.len());
            match map {
                Some(map) => {
                    map_rounds(&mut st, &map, bom, piece)?;
                    map.unchanged(&f).map_err(io)?;
                }
                None => read_rounds(&mut st, f, buf, bom, piece)?,
            }
        }
    }
    finish(st, format)
}

/// Parses one round's bytes (on two threads when the layout allows it) and closes its
/// chunk, so a streaming caller gets its rows now; returns the bytes used.
fn round(st: &mut State<'_>, text: &[u8], eof: bool, piece: usize) -> Result<usize, Error> {
    let used = match st.parser.fork() {
        Some(worker) if text.len() >= 2 * MIN_PIECE => parallel(st, text, eof, worker)?,
        _ => drain(st, text, eof)?,
    };
    st.finish_piece(piece as u64 * 2)?;
    Ok(used)
}

/// Whether files may be mapped: tests turn it off on their thread to reach the buffered
/// path with ordinary files.
fn may_map() -> bool {
    #[cfg(test)]
    return !tests::NO_MAP.get();
    #[cfg(not(test))]
    true
}

/// The file loop over a map of the file: each round parses the next bytes in place, two
/// pieces' worth, and the pages of the rounds before are let go, so the file is never
/// resident as a whole. `start` skips a BOM.
fn map_rounds(
    st: &mut State<'_>,
    map: &dumptrace_mapfile::Map,
    start: usize,
    piece: usize,
) -> Result<(), Error> {
    let mut pos = start;
    let mut want = 2 * piece;
    loop {
        let end = map.len().min(pos.saturating_add(want));
        let eof = end == map.len();
        let text = map.get(pos..end).unwrap_or_default();
        let used = round(st, text, eof, piece)?;
        if eof || st.stopped {
            return Ok(());
        }
        // Not reached: a round is longer than the longest record (MAX_RECORD), and a
        // longer one is cut. Should one not end, the next round is longer.
        want = if used == 0 { want * 2 } else { 2 * piece };
        pos += used;
        map.release(pos);
    }
}

/// Room kept in front of each read-ahead buffer for the unfinished record of the round
/// before, which is copied there rather than the new bytes moved behind it. A round leaves
/// at most [`MAX_RECORD`] bytes unparsed (longer records are cut); a little more is kept.
const HEAD: usize = MAX_RECORD + 4096;

/// One round's input from the read-ahead thread: a buffer whose bytes from [`HEAD`] on were
/// read, how many, and whether the file ended there.
type Round = std::io::Result<(Vec<u8>, usize, bool)>;

/// The file loop: each round parses what the file had left after the rounds before, while
/// a second thread reads the next round's bytes, so reading the file overlaps parsing it.
/// `first` is what was read for detection, parsed from `start` on.
fn read_rounds(
    st: &mut State<'_>,
    file: File,
    first: Vec<u8>,
    start: usize,
    piece: usize,
) -> Result<(), Error> {
    let io = |error| Error::Io {
        path: st.path.to_path_buf(),
        error,
    };
    // The detection read came short: the file is read to its end.
    let first_eof = first.len() < CHUNK;
    std::thread::scope(|scope| {
        // Rendezvous: the reader fills one buffer ahead and waits; the parsed buffer comes
        // back to it, so two buffers take turns and their pages are faulted in once.
        let (full_tx, full_rx) = std::sync::mpsc::sync_channel::<Round>(0);
        let (empty_tx, empty_rx) = std::sync::mpsc::channel::<Vec<u8>>();
        if !first_eof {
            scope.spawn(move || read_ahead(file, 2 * piece, &full_tx, &empty_rx));
        }
        let _ = empty_tx.send(Vec::new());
        let mut cur = first;
        let mut body = start..cur.len();
        let mut eof = first_eof;
        let mut leftover = Vec::new();
        loop {
            let text = cur.get(body.clone()).unwrap_or_default();
            let used = round(st, text, eof, piece)?;
            if eof || st.stopped {
                return Ok(());
            }
            // The unfinished record goes in front of the next round's bytes.
            leftover.clear();
            leftover.extend_from_slice(text.get(used..).unwrap_or_default());
            let _ = empty_tx.send(std::mem::take(&mut cur));
            let (next, n, end) = match full_rx.recv() {
                Ok(round) => round.map_err(io)?,
                // The reader stopped without a word: only if it panicked, which `scope`
                // reports when it joins it.
                Err(_) => return Ok(()),
            };
            eof = end;
            cur = next;
            match HEAD.checked_sub(leftover.len()) {
                Some(at) if cur.len() >= HEAD + n => {
                    cur[at..HEAD].copy_from_slice(&leftover);
                    body = at..HEAD + n;
                }
                _ => {
                    // Not reached (see HEAD); joined by copying instead.
                    let mut joined = std::mem::take(&mut leftover);
                    joined.extend_from_slice(cur.get(HEAD..HEAD + n).unwrap_or_default());
                    body = 0..joined.len();
                    cur = joined;
                }
            }
        }
    })
}

/// The read-ahead thread: fills each buffer it is handed (or a new one) from [`HEAD`] on
/// with `want` bytes, or what is left of the file, and passes it on. Stops at the file's
/// end, at a read error (passed on), or when the parser hangs up.
fn read_ahead(
    mut file: File,
    want: usize,
    full: &std::sync::mpsc::SyncSender<Round>,
    empty: &std::sync::mpsc::Receiver<Vec<u8>>,
) {
    while let Ok(mut buf) = empty.recv() {
        // Only a new (or the detection) buffer grows; a returned one keeps its length, so
        // it is not zeroed again.
        if buf.len() < HEAD + want {
            buf.resize(HEAD + want, 0);
        }
        let round = read_full(
            &mut file,
            buf.get_mut(HEAD..HEAD + want).unwrap_or_default(),
        )
        .map(|n| (buf, n, n < want));
        let last = !matches!(round, Ok((_, _, false)));
        if full.send(round).is_err() || last {
            return;
        }
    }
}

/// Reads until `out` is full or the file ends; returns the bytes read.
fn read_full(f: &mut File, out: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < out.len() {
        match f.read(out.get_mut(n..).unwrap_or_default()) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
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
    let first_line = st.line;
    let (path, density, clock) = (st.path, st.density, st.clock.fresh());
    let (a, first_frame, b) = std::thread::scope(|scope| {
        let handle = scope.spawn(move || {
            // Lines are physical lines, so the second half starts this many lines further
            // even when a quoted field spans lines (and if the cut is inside one, the half is
            // dropped anyway). Counted here, beside the first half's parse.
            let line = first_line + memchr::memchr_iter(b'\n', first).count() as u64;
            let mut later = State::new(path, worker, density, second.len() as u64, clock, line);
            let r = drain(&mut later, second, eof);
            // The half's columns become a frame on this thread too.
            let cols = std::mem::take(&mut later.columns);
            let frame = cols.into_frame();
            (r, later, frame)
        });
        let a = drain(st, first, false);
        // The first half's chunk is made while the second half may still be parsed; if the
        // second half is dropped below, the rows parsed again start a new chunk.
        let first_frame = match &a {
            Ok(used) if *used == split => Some(std::mem::take(&mut st.columns).into_frame()),
            _ => None,
        };
        let b = handle
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (a, first_frame, b)
    });
    let a = a?;
    if let Some(frame) = first_frame {
        let frame = frame.map_err(|error| st.frame_error(error))?;
        st.deliver(frame);
    }
    let (b, later, later_frame) = b;
    if a != split {
        // The cut fell inside a record (a quoted field with line ends): go on from there.
        return Ok(a + drain(st, body.get(a..).unwrap_or_default(), eof)?);
    }
    match b {
        Ok(consumed) if !later.clock.took_callers_day => {
            let frame = later_frame.map_err(|error| st.frame_error(error))?;
            st.deliver(frame);
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
        if cols.len() == 0 || self.stopped {
            return Ok(());
        }
        let frame = cols.into_frame().map_err(|error| self.frame_error(error))?;
        self.deliver(frame);
        Ok(())
    }

    /// Hands a finished chunk to the sink, or keeps it for the frame.
    fn deliver(&mut self, frame: DataFrame) {
        // After a `Break` the caller wants nothing more; rows parsed since are not counted.
        if frame.height() == 0 || self.stopped {
            return;
        }
        self.rows_done += frame.height();
        match self.sink.as_mut() {
            Some(sink) => self.stopped |= sink(frame).is_break(),
            None => self.pieces.push(frame),
        }
    }

    fn frame_error(&self, error: polars::error::PolarsError) -> Error {
        Error::Frame {
            path: self.path.to_path_buf(),
            error,
        }
    }

    fn records(&self) -> usize {
        self.rows_done + self.columns.len()
    }
}

/// Parses every complete record in `buf`; returns the bytes consumed.
fn drain(st: &mut State<'_>, buf: &[u8], eof: bool) -> Result<usize, Error> {
    let mut valid = Utf8Window::default();
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
        let text = valid.text(buf, pos, end.len);
        let number = st.line;
        st.line += end.lines.max(1);
        pos += end.step.max(1);
        one(st, bytes, text, number)?;
    }
    Ok(pos)
}

/// Bytes of the input checked for UTF-8 at a time.
const UTF8_WINDOW: usize = 128 << 10;

/// A stretch of a buffer known to be UTF-8, checked a window at a time just ahead of the
/// records cut from it: the check is fastest on long runs, and the bytes are then still in
/// cache when the record is split (checking a whole round first read it from memory twice).
#[derive(Default)]
struct Utf8Window<'b> {
    /// Where `text` starts in the buffer.
    from: usize,
    text: &'b str,
}

impl<'b> Utf8Window<'b> {
    /// The record of `len` bytes at `start` of `buf` as a str, if it is valid UTF-8.
    /// `start` is a record start, so a character boundary in valid text.
    fn text(&mut self, buf: &'b [u8], start: usize, len: usize) -> Option<&'b str> {
        let end = start.checked_add(len)?;
        if start < self.from || end > self.from + self.text.len() {
            // Check on from this record. Where the bytes are not UTF-8 the check stops at
            // the first bad byte, so a bad record costs about its own length.
            let stop = start.saturating_add(UTF8_WINDOW).max(end).min(buf.len());
            let window = buf.get(start..stop).unwrap_or_default();
            self.from = start;
            self.text = match std::str::from_utf8(window) {
                Ok(text) => text,
                Err(e) => std::str::from_utf8(window.get(..e.valid_up_to()).unwrap_or_default())
                    .unwrap_or_default(),
            };
        }
        self.text.get(start - self.from..end - self.from)
    }
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

    thread_local! {
        /// Makes this thread's reads take the buffered path, as for a file that cannot
        /// be mapped.
        pub(super) static NO_MAP: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }

    use chrono::FixedOffset;

    use crate::{read_path_chunks, read_path_with, ReadOptions, TimeContext};
    use polars::prelude::DataFrame;

    /// Times in UTC, no date given (the lines carry theirs).
    fn utc() -> TimeContext {
        TimeContext {
            date: None,
            offset: FixedOffset::east_opt(0).expect("zero offset"),
            source: "test".into(),
        }
    }

    /// 12,000 Tracefmt lines and 13 lines that are no trace line (about 900 KB: many
    /// rounds at the test piece size).
    fn tracefmt_lines() -> String {
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
        text
    }

    /// Mapped and buffered reads (the latter for files that cannot be mapped) give the same
    /// frame and report, over many rounds, for a line format and for a CSV format whose
    /// rounds are parsed on two threads.
    #[test]
    fn mapped_and_buffered_reads_agree() {
        let ctx = utc();
        let tracefmt = tracefmt_lines();
        let fixture = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fixtures/traces/tracerpt.csv"
        );
        let csv = std::fs::read_to_string(fixture).expect("tracerpt fixture");
        let (header, rows) = csv.split_once('\n').expect("a header line");
        let mut tracerpt = format!("{header}\n");
        while tracerpt.len() < 1 << 20 {
            tracerpt.push_str(rows);
        }
        for (name, text) in [("txt", tracefmt), ("csv", tracerpt)] {
            let path = std::env::temp_dir()
                .join(format!("dumptrace-mapped-{}.{name}", std::process::id()));
            std::fs::write(&path, &text).expect("temp file");
            let opts = ReadOptions::default();
            let mapped = read_path_with(&path, &ctx, &opts).expect("reads");
            NO_MAP.set(true);
            let buffered = read_path_with(&path, &ctx, &opts);
            NO_MAP.set(false);
            let _ = std::fs::remove_file(&path);
            let buffered = buffered.expect("reads");
            assert!(
                mapped.report.records > 1000,
                "{name}: {}",
                mapped.report.records
            );
            assert_eq!(mapped.report.records, buffered.report.records, "{name}");
            assert_eq!(mapped.report.skipped, buffered.report.skipped, "{name}");
            assert_eq!(
                mapped.report.skip_reasons, buffered.report.skip_reasons,
                "{name}"
            );
            assert!(mapped.frame.equals_missing(&buffered.frame), "{name}");
        }
    }

    /// A file several pieces long comes out of the streaming read in several chunks that
    /// together equal the frame of the ordinary read; a `Break` stops after the first.
    #[test]
    fn chunks_hold_the_same_rows_as_the_frame() {
        let text = tracefmt_lines();
        let path =
            std::env::temp_dir().join(format!("dumptrace-chunks-{}.txt", std::process::id()));
        std::fs::write(&path, &text).expect("temp file");
        let ctx = utc();
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
