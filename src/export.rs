//! `dumptrace export`: the correlated timeline as one file, one row per event: trace events
//! and the dump's own events (each thread's wait start, the dump time, findings), in time
//! order, as CSV, JSON Lines, Parquet or a Chrome/Perfetto trace. Columns are documented in
//! docs/export.md.
//!
//! Traces are never held whole. A first pass streams them to keep the events of the
//! processes the dump knows (at most [`ANALYSIS_ROWS`], the newest kept) for the analysis
//! that decides chains, findings and the clock offset; a second pass streams them again,
//! one reader thread per file, merges the files by time and writes rows in batches. Memory
//! is bounded by the analysis window and a few chunks per input, whatever the traces' size.

use std::collections::VecDeque;
use std::io::{self, IsTerminal, Write};
use std::mem::take;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use dumptrace_correlate::{Analysis, TraceSource};
use dumptrace_dump::DumpSnapshot;
use dumptrace_trace::schema;
use indicatif::{ProgressBar, ProgressStyle};
use polars::prelude::*;
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use crate::inputs::{self, Plan};
use crate::{ExportArgs, ExportFormat};

/// Most trace events the export's analysis keeps (the newest of the dump's processes).
const ANALYSIS_ROWS: usize = 3_000_000;
/// Rows written per batch (a Parquet row group).
const BATCH_ROWS: usize = 256 * 1024;
/// Chunks a reader thread may run ahead of the writer.
const AHEAD: usize = 1;

/// The columns of every format, in order (docs/export.md).
const COLUMNS: [&str; 12] = [
    "time",
    "pid",
    "tid",
    "process",
    "kind",
    "provider",
    "level",
    "message",
    "source",
    "chain",
    "finding",
    "offset_seconds",
];

/// `--from/--to/--pid/--tid/--chain`, applied to every row of every format.
#[derive(Debug, Default)]
pub struct Filters {
    from: Option<i64>,
    to: Option<i64>,
    pids: HashSet<u32>,
    tids: HashSet<u32>,
    chains: HashSet<u32>,
}

impl Filters {
    pub fn new(
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        pids: &[u32],
        tids: &[u32],
        chains: &[u32],
    ) -> Self {
        Filters {
            from: from.and_then(|t| t.timestamp_nanos_opt()),
            to: to.and_then(|t| t.timestamp_nanos_opt()),
            pids: pids.iter().copied().collect(),
            tids: tids.iter().copied().collect(),
            chains: chains.iter().copied().collect(),
        }
    }

    fn keep(&self, t: i64, pid: Option<u32>, tid: Option<u32>, chain: Option<u32>) -> bool {
        let within = |set: &HashSet<u32>, v: Option<u32>| {
            set.is_empty() || v.is_some_and(|v| set.contains(&v))
        };
        self.from.is_none_or(|f| t >= f)
            && self.to.is_none_or(|e| t <= e)
            && within(&self.pids, pid)
            && within(&self.tids, tid)
            && within(&self.chains, chain)
    }
}

/// `--from`/`--to`: RFC 3339, or a date and time without a zone, taken as UTC.
/// A process or thread id as an engineer copies it from WinDbg: hex, with or without
/// `0x` (`0adc`, `0x0adc`: the Cid form `!process` and `!thread` print), or decimal
/// with WinDbg's own `0n` prefix (`0n2780`, as `? 0n2780` takes it).
pub fn parse_id(s: &str) -> Result<u32, String> {
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    let (digits, radix) = match lower.strip_prefix("0n") {
        Some(d) => (d, 10),
        None => (lower.strip_prefix("0x").unwrap_or(&lower), 16),
    };
    u32::from_str_radix(digits, radix).map_err(|_| {
        format!("'{s}' is not an id: write it in hex as WinDbg prints it (0adc or 0x0adc) or in decimal as 0n2780")
    })
}

pub fn parse_utc(s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    inputs::parse_local(s).map(|t| t.and_utc()).ok_or_else(|| {
        format!("'{s}': expected a UTC time like 2009-10-09T18:08:14Z or 2009-10-09 18:08:14.5")
    })
}

/// One output row (its JSON form is the JSON Lines row). Trace rows borrow from their
/// chunk; dump rows own their text.
#[derive(Clone, Copy, serde::Serialize)]
struct Row<'a> {
    #[serde(serialize_with = "rfc3339_ns")]
    time: i64,
    pid: Option<u32>,
    tid: Option<u32>,
    /// Image name from the dump, filled in when the row is written.
    process: Option<&'a str>,
    /// `trace`, `wait-start`, `dump-time`, `finding`.
    kind: &'static str,
    provider: Option<&'a str>,
    level: Option<&'a str>,
    message: &'a str,
    source: &'a str,
    chain: Option<u32>,
    finding: Option<u32>,
    #[serde(rename = "offset_seconds")]
    offset: f64,
    /// A wait's end (the dump time) for the Perfetto slice.
    #[serde(skip)]
    until: Option<i64>,
}

/// A dump-side row, owned.
struct DumpRow {
    time: i64,
    pid: Option<u32>,
    tid: Option<u32>,
    kind: &'static str,
    message: String,
    source: String,
    chain: Option<u32>,
    finding: Option<u32>,
    until: Option<i64>,
}

impl DumpRow {
    fn row(&self) -> Row<'_> {
        Row {
            time: self.time,
            pid: self.pid,
            tid: self.tid,
            process: None,
            kind: self.kind,
            provider: None,
            level: None,
            message: &self.message,
            source: &self.source,
            chain: self.chain,
            finding: self.finding,
            offset: 0.0,
            until: self.until,
        }
    }
}

/// What the analysis decided, as lookups for the row loop.
struct Joins {
    labels: Vec<String>,
    images: HashMap<u32, String>,
    chain_of: HashMap<(u32, u32), u32>,
    /// (input index, input line) of each finding's trace evidence, to its rank.
    evidence_of: HashMap<(usize, u64), u32>,
    offset_s: f64,
    offset_ns: i64,
}

impl Joins {
    fn new(snapshot: &DumpSnapshot, a: &Analysis, labels: &[String]) -> Self {
        let images = snapshot
            .processes
            .iter()
            .map(|p| (p.pid, p.image.clone()))
            .collect();
        let mut chain_of = HashMap::default();
        for c in &a.chains {
            for m in &c.members {
                chain_of.entry((m.pid, m.tid)).or_insert(c.id as u32);
            }
        }
        let mut evidence_of = HashMap::default();
        for f in &a.findings {
            for e in &f.evidence {
                let Some(line) = e.line else { continue };
                // Evidence sources are `label:line`; only trace inputs' labels match.
                let label = e.source.rsplit_once(':').map_or("", |(l, _)| l);
                if let Some(i) = labels.iter().position(|l| l == label) {
                    evidence_of.entry((i, line)).or_insert(f.rank as u32);
                }
            }
        }
        let offset_s = a.alignment.offset_seconds;
        Joins {
            labels: labels.to_vec(),
            images,
            chain_of,
            evidence_of,
            offset_s,
            offset_ns: (offset_s * 1e9).round() as i64,
        }
    }

    fn chain(&self, pid: Option<u32>, tid: Option<u32>) -> Option<u32> {
        pid.zip(tid).and_then(|k| self.chain_of.get(&k).copied())
    }
}

/// The dump's own events: each wait start (a slice to the dump time), the dump time, and
/// each finding at its thread's wait start (or the dump time).
fn dump_rows(snapshot: &DumpSnapshot, a: &Analysis, joins: &Joins) -> Vec<DumpRow> {
    let dump_ns = snapshot
        .session_time
        .as_ref()
        .and_then(|s| s.utc)
        .and_then(|d| d.timestamp_nanos_opt());
    let mut out = Vec::new();
    let mut wait_of = HashMap::default();
    for t in &snapshot.threads {
        let Some(ns) = t.wait_start.and_then(|w| w.timestamp_nanos_opt()) else {
            continue;
        };
        wait_of.insert((t.pid, t.tid), ns);
        let reason = t
            .state
            .wait_reason()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default();
        let ticks = t.ticks.map(|k| format!(" Ticks: {k}")).unwrap_or_default();
        out.push(DumpRow {
            time: ns,
            pid: Some(t.pid),
            tid: Some(t.tid),
            kind: "wait-start",
            message: format!("{}{reason}{ticks}", t.state.name()),
            source: t.source.clone(),
            chain: joins.chain(Some(t.pid), Some(t.tid)),
            finding: None,
            until: dump_ns,
        });
    }
    if let Some(d) = dump_ns {
        out.push(DumpRow {
            time: d,
            pid: None,
            tid: None,
            kind: "dump-time",
            message: "memory dump taken".into(),
            source: "Debug session time".into(),
            chain: None,
            finding: None,
            until: None,
        });
    }
    for f in &a.findings {
        let at = f
            .pid
            .zip(f.tid)
            .and_then(|k| wait_of.get(&k).copied())
            .or(dump_ns);
        let Some(at) = at else { continue };
        out.push(DumpRow {
            time: at,
            pid: f.pid,
            tid: f.tid,
            kind: "finding",
            message: f.summary.clone(),
            source: format!("finding {}", f.rank),
            chain: f.chain.map(|c| c as u32),
            finding: Some(f.rank as u32),
            until: None,
        });
    }
    out.sort_by_key(|r| r.time);
    out
}

/// The columns of one chunk of trace rows.
struct Chunk {
    frame: DataFrame,
    at: usize,
}

impl Chunk {
    fn len(&self) -> usize {
        self.frame.height()
    }

    fn time(&self, i: usize) -> Option<i64> {
        self.frame
            .column(schema::TIME)
            .ok()?
            .datetime()
            .ok()?
            .physical()
            .get(i)
    }
}

/// A chunk's columns, borrowed for the row loop.
struct ChunkCols<'a> {
    time: &'a Int64Chunked,
    pid: &'a UInt32Chunked,
    tid: &'a UInt32Chunked,
    provider: &'a StringChunked,
    level: &'a StringChunked,
    message: &'a StringChunked,
    line: &'a UInt64Chunked,
    offset: &'a UInt64Chunked,
}

impl<'a> ChunkCols<'a> {
    fn new(df: &'a DataFrame) -> PolarsResult<Self> {
        Ok(ChunkCols {
            time: df.column(schema::TIME)?.datetime()?.physical(),
            pid: df.column(schema::PID)?.u32()?,
            tid: df.column(schema::TID)?.u32()?,
            provider: df.column(schema::PROVIDER)?.str()?,
            level: df.column(schema::LEVEL)?.str()?,
            message: df.column(schema::MESSAGE)?.str()?,
            line: df.column(schema::INPUT_LINE)?.u64()?,
            offset: df.column(schema::INPUT_OFFSET)?.u64()?,
        })
    }
}

/// Frames with one chunk per column, so per-row `get` is a direct index.
fn single_chunk(mut df: DataFrame) -> DataFrame {
    df.rechunk_mut();
    df
}

pub fn export(args: &ExportArgs, filters: &Filters, stdout: &mut impl Write) -> Result<()> {
    let to_stdout = args.output.as_os_str() == "-";
    if to_stdout && matches!(args.format, ExportFormat::Parquet) && io::stdout().is_terminal() {
        bail!("Parquet is binary: redirect standard output to a file, or give -o FILE");
    }
    if !to_stdout && args.output.exists() && !args.force {
        bail!(
            "{}: exists; pass --force to replace it",
            args.output.display()
        );
    }
    let plan = inputs::plan(&args.input.paths, &args.input.clock)?;
    let progress = if to_stdout {
        ProgressBar::hidden()
    } else {
        ProgressBar::new_spinner()
    };
    let (analysis, read_rows, span) = analyse(&plan, args.input.offset, &progress)?;
    let labels: Vec<String> = plan.trace_files.iter().map(|f| inputs::label(f)).collect();
    let joins = Joins::new(&plan.snapshot, &analysis, &labels);
    let dump = dump_rows(&plan.snapshot, &analysis, &joins);
    // The trace window on the dump's clock: the Perfetto view keeps the dump's events to it.
    let clip = span.map(|(lo, hi)| {
        crate::perfetto::clip_start(
            lo.saturating_add(joins.offset_ns),
            hi.saturating_add(joins.offset_ns),
        )
    });
    progress.set_style(
        ProgressStyle::with_template(
            "{msg} [{bar:30}] {human_pos}/{human_len} events ({per_sec}, {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    progress.set_length(read_rows);
    progress.set_position(0);
    progress.set_message("writing");
    let mut counts = Counts::default();
    let mut write = |out: &mut dyn Write| -> Result<()> {
        let mut w = Writer::open(args.format, out, &plan.snapshot, clip)?;
        timeline(
            &plan,
            &joins,
            &dump,
            filters,
            &mut w,
            &mut counts,
            &progress,
        )?;
        w.finish()
    };
    if to_stdout {
        write(stdout)?;
    } else {
        write_file(&args.output, write)?;
    }
    progress.finish_and_clear();
    for line in counts.report(&labels) {
        crate::render::warn(line);
    }
    if !to_stdout {
        crate::render::warn(format_args!(
            "wrote {} rows ({} trace events, {} from the dump) to {}",
            counts.rows,
            counts.trace_rows,
            counts.rows - counts.trace_rows,
            args.output.display()
        ));
    }
    Ok(())
}

/// The first and last trace time read (trace clock, ns).
type Span = Option<(i64, i64)>;

/// Pass one: the analysis over the dump and the newest events of the processes it knows.
/// Returns it with the number of trace rows read in all and the span of their times.
fn analyse(
    plan: &Plan,
    offset: Option<f64>,
    progress: &ProgressBar,
) -> Result<(Analysis, u64, Span)> {
    let known: HashSet<u32> = plan
        .snapshot
        .processes
        .iter()
        .map(|p| p.pid)
        .chain(plan.snapshot.threads.iter().map(|t| t.pid))
        .collect();
    progress.set_style(
        ProgressStyle::with_template("{spinner} {msg}: {human_pos} events ({per_sec})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    progress.set_message("reading for the analysis");
    let mut window: VecDeque<(usize, DataFrame)> = VecDeque::new();
    let mut kept = 0usize;
    let mut dropped = 0usize;
    let mut read_rows = 0u64;
    let mut span: Span = None;
    let mut inputs = plan.inputs.clone();
    let mut readable = Vec::new();
    for (i, f) in plan.trace_files.iter().enumerate() {
        let mut failed = None;
        let result = inputs::read_trace_chunks(f, &plan.ctx, &plan.opts, &mut |df| {
            read_rows += df.height() as u64;
            progress.set_position(read_rows);
            span = widen(span, &df);
            match of_processes(&df, &known) {
                Ok(mine) if mine.height() > 0 => {
                    kept += mine.height();
                    window.push_back((i, mine));
                }
                Ok(_) => {}
                Err(e) => {
                    failed = Some(e);
                    return ControlFlow::Break(());
                }
            }
            while kept > ANALYSIS_ROWS {
                match window.pop_front() {
                    Some((_, old)) => {
                        kept -= old.height();
                        dropped += old.height();
                    }
                    None => break,
                }
            }
            ControlFlow::Continue(())
        });
        if let Some(e) = failed {
            bail!("{}: reading trace columns: {e}", inputs::label(f));
        }
        match result {
            Ok(report) => {
                inputs.push(inputs::trace_input(&report));
                readable.push(i);
            }
            Err(e) => crate::render::warn(e),
        }
    }
    let mut sources: Vec<TraceSource> = Vec::new();
    for i in readable {
        let mut frame: Option<DataFrame> = None;
        for (_, df) in window.iter().filter(|(j, _)| *j == i) {
            match frame.as_mut() {
                Some(f) => {
                    f.vstack_mut(df)?;
                }
                None => frame = Some(df.clone()),
            }
        }
        if let Some(frame) = frame {
            sources.push(TraceSource {
                label: inputs::label(&plan.trace_files[i]),
                frame,
            });
        }
    }
    let opts = dumptrace_correlate::Options {
        offset_seconds: offset,
        trace_time_note: (!plan.trace_files.is_empty()).then(|| plan.ctx.source.clone()),
        context_seconds: Some(0.0),
    };
    let mut a = dumptrace_correlate::analyze(&plan.snapshot, &sources, &opts);
    a.inputs = inputs;
    if dropped > 0 {
        eprintln!(
            "dumptrace: note: the analysis read the newest {kept} events of the dump's processes; {dropped} older ones are exported but were not analysed"
        );
    }
    if !sources.is_empty() {
        eprintln!(
            "dumptrace: trace times moved by {:+.3} s: {}",
            a.alignment.offset_seconds, a.alignment.method
        );
    }
    Ok((a, read_rows, span))
}

/// `span` widened to the times of `df` (rows without a time count for nothing).
fn widen(span: Span, df: &DataFrame) -> Span {
    let times = df.column(schema::TIME).ok()?.datetime().ok()?.physical();
    let (Some(lo), Some(hi)) = (times.min(), times.max()) else {
        return span;
    };
    Some(span.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))))
}

/// The rows of `df` whose pid is one of `pids`.
fn of_processes(df: &DataFrame, pids: &HashSet<u32>) -> PolarsResult<DataFrame> {
    let mask: BooleanChunked = df
        .column(schema::PID)?
        .u32()?
        .iter()
        .map(|p| Some(p.is_some_and(|p| pids.contains(&p))))
        .collect();
    df.filter(&mask)
}

/// What was written, and what came out of order.
#[derive(Default)]
struct Counts {
    rows: u64,
    trace_rows: u64,
    filtered: u64,
    /// Per trace input: rows earlier than the row before them in the same file.
    out_of_order: Vec<u64>,
}

impl Counts {
    fn report(&self, labels: &[String]) -> Vec<String> {
        let mut out = Vec::new();
        if self.filtered > 0 {
            out.push(format!(
                "{} rows left out by --from/--to/--pid/--tid/--chain",
                self.filtered
            ));
        }
        for (label, n) in labels.iter().zip(&self.out_of_order) {
            if *n > 0 {
                out.push(format!(
                    "{label}: {n} events are earlier than the event before them; they were written where they were read"
                ));
            }
        }
        out
    }
}

/// Pass two: every trace file streamed on its own thread, merged by time with the dump's
/// rows, filtered and written in batches.
fn timeline(
    plan: &Plan,
    joins: &Joins,
    dump: &[DumpRow],
    filters: &Filters,
    w: &mut Writer<'_>,
    counts: &mut Counts,
    progress: &ProgressBar,
) -> Result<()> {
    counts.out_of_order = vec![0; plan.trace_files.len()];
    std::thread::scope(|scope| -> Result<()> {
        let mut feeds = Vec::new();
        for f in &plan.trace_files {
            let (tx, rx) = mpsc::sync_channel::<DataFrame>(AHEAD);
            let (ctx, opts) = (&plan.ctx, &plan.opts);
            scope.spawn(move || {
                // Errors were reported by the first pass; a file that failed there fails
                // again here and simply yields no rows.
                let _ = inputs::read_trace_chunks(f, ctx, opts, &mut |df| match tx
                    .send(single_chunk(df))
                {
                    Ok(()) => ControlFlow::Continue(()),
                    Err(_) => ControlFlow::Break(()),
                });
            });
            feeds.push(rx);
        }
        let mut heads: Vec<Option<Chunk>> = feeds.iter().map(next_chunk).collect();
        let mut last: Vec<Option<i64>> = vec![None; heads.len()];
        let mut d = 0usize;
        let mut done = 0u64;
        loop {
            // The input whose next row is earliest; the dump's rows go first on a tie.
            let mut best: Option<(i64, usize)> = None;
            for (i, h) in heads.iter().enumerate() {
                if let Some(t) = h.as_ref().and_then(|c| c.time(c.at)) {
                    if best.is_none_or(|(bt, _)| t < bt) {
                        best = Some((t, i));
                    }
                }
            }
            let dump_next = dump.get(d).map(|r| r.time);
            match (best, dump_next) {
                (None, None) => break,
                (Some((t, _)), Some(dt)) if dt <= t.saturating_add(joins.offset_ns) => {
                    emit(w, filters, counts, &dump[d].row(), joins)?;
                    d += 1;
                }
                (None, Some(_)) => {
                    emit(w, filters, counts, &dump[d].row(), joins)?;
                    d += 1;
                }
                (Some((_, i)), _) => {
                    let limit = next_elsewhere(&heads, i, dump_next, joins.offset_ns);
                    let Some(chunk) = heads[i].as_mut() else {
                        continue;
                    };
                    let end = run_end(chunk, limit);
                    write_run(w, filters, counts, joins, i, chunk, end, &mut last[i])?;
                    done += (end - chunk.at) as u64;
                    progress.set_position(done);
                    chunk.at = end;
                    if chunk.at >= chunk.len() {
                        heads[i] = next_chunk(&feeds[i]);
                    }
                }
            }
        }
        Ok(())
    })
}

fn next_chunk(rx: &mpsc::Receiver<DataFrame>) -> Option<Chunk> {
    loop {
        let frame = rx.recv().ok()?;
        if frame.height() > 0 {
            return Some(Chunk { frame, at: 0 });
        }
    }
}

/// The earliest next time, on the trace clock, of the inputs other than `i` and the dump.
fn next_elsewhere(
    heads: &[Option<Chunk>],
    i: usize,
    dump_next: Option<i64>,
    offset_ns: i64,
) -> Option<i64> {
    let mut limit = dump_next.map(|t| t.saturating_sub(offset_ns));
    for (j, h) in heads.iter().enumerate() {
        if j == i {
            continue;
        }
        if let Some(t) = h.as_ref().and_then(|c| c.time(c.at)) {
            limit = Some(limit.map_or(t, |l| l.min(t)));
        }
    }
    limit
}

/// How far a chunk can be written before another input or the dump has an earlier row
/// (files are mostly in time order, so this is usually the whole chunk).
fn run_end(chunk: &Chunk, limit: Option<i64>) -> usize {
    let Ok(cols) = chunk.frame.column(schema::TIME).and_then(|c| c.datetime()) else {
        return chunk.len();
    };
    let times = cols.physical();
    let mut end = chunk.at + 1;
    while end < chunk.len() {
        match (times.get(end), limit) {
            (Some(t), Some(l)) if t >= l => break,
            _ => end += 1,
        }
    }
    end
}

#[allow(clippy::too_many_arguments)]
fn write_run(
    w: &mut Writer<'_>,
    filters: &Filters,
    counts: &mut Counts,
    joins: &Joins,
    input: usize,
    chunk: &Chunk,
    end: usize,
    last: &mut Option<i64>,
) -> Result<()> {
    let cols = ChunkCols::new(&chunk.frame)?;
    let mut source = String::new();
    for r in chunk.at..end {
        let Some(t) = cols.time.get(r) else { continue };
        if last.is_some_and(|l| t < l) {
            counts.out_of_order[input] += 1;
        }
        *last = Some(t);
        let (pid, tid) = (cols.pid.get(r), cols.tid.get(r));
        let line = cols.line.get(r);
        source.clear();
        source.push_str(&joins.labels[input]);
        match (line, cols.offset.get(r)) {
            (Some(n), _) => {
                use std::fmt::Write as _;
                let _ = write!(source, ":{n}");
            }
            (None, Some(o)) => {
                use std::fmt::Write as _;
                let _ = write!(source, "@0x{o:x}");
            }
            (None, None) => {}
        }
        let row = Row {
            time: t.saturating_add(joins.offset_ns),
            pid,
            tid,
            process: None,
            kind: "trace",
            provider: cols.provider.get(r),
            level: cols.level.get(r),
            message: cols.message.get(r).unwrap_or(""),
            source: &source,
            chain: joins.chain(pid, tid),
            finding: line.and_then(|n| joins.evidence_of.get(&(input, n)).copied()),
            offset: joins.offset_s,
            until: None,
        };
        counts.trace_rows += u64::from(emit(w, filters, counts, &row, joins)?);
    }
    Ok(())
}

/// Writes `row` if the filters keep it; returns whether it did.
fn emit(
    w: &mut Writer<'_>,
    filters: &Filters,
    counts: &mut Counts,
    row: &Row<'_>,
    joins: &Joins,
) -> Result<bool> {
    if !filters.keep(row.time, row.pid, row.tid, row.chain) {
        counts.filtered += 1;
        return Ok(false);
    }
    counts.rows += 1;
    let process = row
        .pid
        .and_then(|p| joins.images.get(&p))
        .map(String::as_str);
    w.row(&Row { process, ..*row })?;
    Ok(true)
}

/// Writes `target` through a temporary file in the same folder, renamed when complete:
/// nothing half-written is ever left under the target's name.
fn write_file(target: &Path, body: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<()> {
    let tmp = temp_name(target);
    let result = (|| -> Result<()> {
        let f = std::fs::File::create(&tmp)
            .with_context(|| format!("{}: cannot create", tmp.display()))?;
        let mut w = io::BufWriter::with_capacity(1 << 20, f);
        body(&mut w)?;
        w.flush()?;
        w.get_ref().sync_all()?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, target)
        .with_context(|| format!("{}: cannot rename into place", target.display()))
}

/// `out.csv` -> `.out.csv.dumptrace-tmp-<pid>` in the same folder, so the rename is atomic.
fn temp_name(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "export".into());
    target.with_file_name(format!(".{name}.dumptrace-tmp-{}", std::process::id()))
}

/// The output format's writer.
struct Writer<'w> {
    out: Option<&'w mut dyn Write>,
    kind: Kind<'w>,
}

enum Kind<'w> {
    Csv,
    Jsonl,
    Parquet(Box<ParquetOut<'w>>),
    /// `clip`: where the dump's events are clipped (perfetto.rs).
    Perfetto {
        first: bool,
        clip: Option<i64>,
    },
}

impl<'w> Writer<'w> {
    fn open(
        format: ExportFormat,
        out: &'w mut dyn Write,
        snapshot: &DumpSnapshot,
        clip: Option<i64>,
    ) -> Result<Self> {
        let kind = match format {
            ExportFormat::Csv => {
                writeln!(out, "{}", COLUMNS.join(","))?;
                Kind::Csv
            }
            ExportFormat::Jsonl => Kind::Jsonl,
            ExportFormat::Parquet => Kind::Parquet(Box::default()),
            ExportFormat::Perfetto => {
                let mut first = true;
                out.write_all(b"{\"displayTimeUnit\":\"ns\",\"traceEvents\":[")?;
                crate::perfetto::names(out, snapshot, &mut first)?;
                Kind::Perfetto { first, clip }
            }
        };
        Ok(Writer {
            out: Some(out),
            kind,
        })
    }

    fn row(&mut self, r: &Row<'_>) -> Result<()> {
        match (&mut self.kind, self.out.as_mut()) {
            (Kind::Parquet(p), _) => {
                p.push(r);
                if p.len() >= BATCH_ROWS {
                    p.flush(&mut self.out)?;
                }
            }
            (Kind::Csv, Some(out)) => csv_row(*out, r)?,
            (Kind::Jsonl, Some(out)) => {
                serde_json::to_writer(&mut **out, r)?;
                out.write_all(b"\n")?;
            }
            (Kind::Perfetto { first, clip }, Some(out)) => {
                crate::perfetto::event(*out, &r.into(), first, *clip)?
            }
            (_, None) => {}
        }
        Ok(())
    }

    fn finish(mut self) -> Result<()> {
        match &mut self.kind {
            Kind::Parquet(p) => p.finish(&mut self.out)?,
            Kind::Perfetto { .. } => {
                if let Some(out) = self.out.as_mut() {
                    out.write_all(b"\n]}\n")?;
                }
            }
            Kind::Csv | Kind::Jsonl => {}
        }
        if let Some(out) = self.out.as_mut() {
            out.flush()?;
        }
        Ok(())
    }
}

impl<'a> From<&'a Row<'a>> for crate::perfetto::Event<'a> {
    fn from(r: &'a Row<'a>) -> Self {
        crate::perfetto::Event {
            time: r.time,
            until: r.until,
            pid: r.pid,
            tid: r.tid,
            kind: r.kind,
            provider: r.provider,
            level: r.level,
            message: r.message,
            source: r.source,
            chain: r.chain,
            finding: r.finding,
        }
    }
}

fn rfc3339(t: i64) -> String {
    DateTime::from_timestamp_nanos(t).to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

fn rfc3339_ns<S: serde::Serializer>(t: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339(*t))
}

fn csv_field(w: &mut dyn Write, s: &str) -> io::Result<()> {
    if s.contains([',', '"', '\n', '\r']) {
        write!(w, "\"{}\"", s.replace('"', "\"\""))
    } else {
        w.write_all(s.as_bytes())
    }
}

fn csv_row(w: &mut dyn Write, r: &Row<'_>) -> io::Result<()> {
    let num = |v: Option<u32>| v.map(|v| v.to_string()).unwrap_or_default();
    write!(w, "{},{},{},", rfc3339(r.time), num(r.pid), num(r.tid))?;
    csv_field(w, r.process.unwrap_or(""))?;
    write!(w, ",{},", r.kind)?;
    csv_field(w, r.provider.unwrap_or(""))?;
    w.write_all(b",")?;
    csv_field(w, r.level.unwrap_or(""))?;
    w.write_all(b",")?;
    csv_field(w, r.message)?;
    w.write_all(b",")?;
    csv_field(w, r.source)?;
    writeln!(w, ",{},{},{}", num(r.chain), num(r.finding), r.offset)
}

/// Rows gathered for one Parquet row group, written through polars' batched writer, which
/// takes the output over at the first group.
#[derive(Default)]
struct ParquetOut<'w> {
    writer: Option<polars::io::parquet::write::BatchedWriter<&'w mut dyn Write>>,
    time: Vec<i64>,
    pid: Vec<Option<u32>>,
    tid: Vec<Option<u32>>,
    process: Vec<Option<String>>,
    kind: Vec<&'static str>,
    provider: Vec<Option<String>>,
    level: Vec<Option<String>>,
    message: Vec<String>,
    source: Vec<String>,
    chain: Vec<Option<u32>>,
    finding: Vec<Option<u32>>,
    offset: Vec<f64>,
}

impl<'w> ParquetOut<'w> {
    fn len(&self) -> usize {
        self.time.len()
    }

    fn push(&mut self, r: &Row<'_>) {
        self.time.push(r.time);
        self.pid.push(r.pid);
        self.tid.push(r.tid);
        self.process.push(r.process.map(str::to_string));
        self.kind.push(r.kind);
        self.provider.push(r.provider.map(str::to_string));
        self.level.push(r.level.map(str::to_string));
        self.message.push(r.message.to_string());
        self.source.push(r.source.to_string());
        self.chain.push(r.chain);
        self.finding.push(r.finding);
        self.offset.push(r.offset);
    }

    fn frame(&mut self) -> PolarsResult<DataFrame> {
        let u32s = |name: &str, v: Vec<Option<u32>>| {
            UInt32Chunked::from_iter_options(name.into(), v.into_iter()).into_column()
        };
        let time = Int64Chunked::from_vec("time".into(), take(&mut self.time))
            .into_datetime(TimeUnit::Nanoseconds, Some(TimeZone::UTC));
        DataFrame::new_infer_height(vec![
            time.into_column(),
            u32s("pid", take(&mut self.pid)),
            u32s("tid", take(&mut self.tid)),
            Column::new("process".into(), take(&mut self.process)),
            Column::new("kind".into(), take(&mut self.kind)),
            Column::new("provider".into(), take(&mut self.provider)),
            Column::new("level".into(), take(&mut self.level)),
            Column::new("message".into(), take(&mut self.message)),
            Column::new("source".into(), take(&mut self.source)),
            u32s("chain", take(&mut self.chain)),
            u32s("finding", take(&mut self.finding)),
            Column::new("offset_seconds".into(), take(&mut self.offset)),
        ])
    }

    fn flush(&mut self, out: &mut Option<&'w mut dyn Write>) -> Result<()> {
        let df = self.frame()?;
        if self.writer.is_none() {
            let Some(sink) = out.take() else {
                bail!("the Parquet output is gone");
            };
            self.writer = Some(
                ParquetWriter::new(sink)
                    .with_compression(ParquetCompression::Zstd(None))
                    .batched(df.schema())?,
            );
        }
        if let Some(w) = self.writer.as_mut() {
            w.write_batch(&df)?;
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Option<&'w mut dyn Write>) -> Result<()> {
        // An empty export still gets a schema and a footer.
        if self.len() > 0 || self.writer.is_none() {
            self.flush(out)?;
        }
        if let Some(w) = self.writer.take() {
            w.finish()?;
        }
        Ok(())
    }
}
