//! Finding the inputs in the paths given, telling dumps from traces by content,
//! and reading them in the right order (dumps first: they give traces their date
//! and zone).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, Utc};
use dumptrace_correlate::{Input, TraceSource};
use dumptrace_dump::DumpSnapshot;
use dumptrace_trace::{CsvMapping, ReadOptions, TimeContext, TimeFormat};

/// Clock options shared by every subcommand that reads traces.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ClockArgs {
    /// Date for traces that print only the time of day (YYYY-MM-DD); default: the dump's date.
    #[arg(long, value_name = "DATE", help_heading = "Clocks")]
    pub trace_date: Option<NaiveDate>,
    /// Zone of trace times that carry none (`UTC-4`, `-04:00`, `+05:30`, `UTC`); default: the dump's zone.
    /// Negative offsets are values, not flags: `--trace-tz -04:00` works as well as `=-04:00`.
    #[arg(
        long,
        value_name = "ZONE",
        value_parser = parse_zone,
        allow_hyphen_values = true,
        help_heading = "Clocks"
    )]
    pub trace_tz: Option<FixedOffset>,
    /// Start of the trace, for exports whose times are relative to it (PerfView, WPA):
    /// `2009-10-09T14:05:09.005Z`, or without a zone in the trace's zone (--trace-tz).
    #[arg(long, value_name = "TIME", value_parser = parse_start, help_heading = "Clocks")]
    pub trace_start: Option<StartArg>,
    /// Folder of WPP format files (`GUID.tmf`) that give WPP messages in .etl inputs their text.
    #[arg(long, value_name = "DIR", help_heading = "Traces")]
    pub tmf: Option<PathBuf>,
    /// Instrumentation manifest (`.man`/`.xml`), or a folder of them, that decodes the
    /// manifest events of .etl inputs (repeatable; the CLR's is built in).
    #[arg(long = "manifest", value_name = "FILE|DIR", help_heading = "Traces")]
    pub manifests: Vec<PathBuf>,
    #[command(flatten)]
    pub csv: CsvArgs,
}

/// A `--trace-start` value: with a zone, or a local time in the trace's zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartArg {
    Zoned(DateTime<FixedOffset>),
    Local(NaiveDateTime),
}

/// A date and time without a zone, as flags take it: `2009-10-09T14:05:09.005` or
/// `2009-10-09 10:05:09`.
pub fn parse_local(s: &str) -> Option<NaiveDateTime> {
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
}

pub fn parse_start(s: &str) -> Result<StartArg, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(StartArg::Zoned(t));
    }
    parse_local(s).map(StartArg::Local).ok_or_else(|| {
        format!("'{s}': expected a time like 2009-10-09T14:05:09.005Z or 2009-10-09 10:05:09")
    })
}

/// Columns of a CSV trace in no known layout.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct CsvArgs {
    /// Header of the time column of a CSV trace in no known layout (turns the mapping on).
    #[arg(long, value_name = "NAME", help_heading = "CSV columns")]
    pub time_col: Option<String>,
    /// Header of its process id column (decimal, 0x-hex or grouped).
    #[arg(
        long,
        value_name = "NAME",
        requires = "time_col",
        help_heading = "CSV columns"
    )]
    pub pid_col: Option<String>,
    /// Header of its thread id column.
    #[arg(
        long,
        value_name = "NAME",
        requires = "time_col",
        help_heading = "CSV columns"
    )]
    pub tid_col: Option<String>,
    /// Header of its message column (default: every other column as Name=value).
    #[arg(
        long,
        value_name = "NAME",
        requires = "time_col",
        help_heading = "CSV columns"
    )]
    pub message_col: Option<String>,
    /// How its times are written: a chrono strftime pattern (`%d.%m.%Y %H:%M:%S%.f`),
    /// `filetime`, `unix` or `unix-ms` (default: ISO 8601).
    #[arg(
        long,
        value_name = "FORMAT",
        requires = "time_col",
        help_heading = "CSV columns"
    )]
    pub time_format: Option<TimeFormat>,
}

impl CsvArgs {
    fn mapping(&self) -> Option<CsvMapping> {
        Some(CsvMapping {
            time_col: self.time_col.clone()?,
            pid_col: self.pid_col.clone(),
            tid_col: self.tid_col.clone(),
            message_col: self.message_col.clone(),
            time_format: self.time_format.clone(),
        })
    }
}

/// Reader options: the CSV mapping, the trace start resolved in the trace's zone, and
/// the manifests, parsed once for every input.
fn read_options(clock: &ClockArgs, offset: FixedOffset) -> Result<ReadOptions> {
    let start = clock.trace_start.and_then(|s| match s {
        StartArg::Zoned(t) => Some(t.with_timezone(&Utc)),
        StartArg::Local(t) => t
            .checked_sub_signed(chrono::TimeDelta::seconds(i64::from(
                offset.local_minus_utc(),
            )))
            .map(|t| t.and_utc()),
    });
    let manifests = if clock.manifests.is_empty() {
        None
    } else {
        Some(dumptrace_trace::Manifests::load(&clock.manifests)?)
    };
    Ok(ReadOptions::new(start, clock.csv.mapping())
        .with_tmf_dir(clock.tmf.clone())
        .with_manifests(manifests))
}

pub fn parse_zone(s: &str) -> Result<FixedOffset, String> {
    let t: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    let rest = t
        .strip_prefix("UTC")
        .or_else(|| t.strip_prefix("GMT"))
        .unwrap_or(&t);
    if rest.is_empty() || rest == "Z" {
        return Ok(FixedOffset::east_opt(0).expect("zero offset"));
    }
    let (sign, hm) = match rest.as_bytes().first() {
        Some(b'+') => (1, &rest[1..]),
        Some(b'-') => (-1, &rest[1..]),
        _ => {
            return Err(format!(
                "'{s}': expected a zone like UTC-4, -04:00 or +05:30"
            ))
        }
    };
    let (h, m) = hm.split_once(':').unwrap_or((hm, "0"));
    let h: i32 = h.parse().map_err(|_| format!("'{s}': bad hours"))?;
    let m: i32 = m.parse().map_err(|_| format!("'{s}': bad minutes"))?;
    FixedOffset::east_opt(sign * (h * 3600 + m * 60)).ok_or_else(|| format!("'{s}': out of range"))
}

/// Everything read from the inputs.
pub struct Loaded {
    pub snapshot: DumpSnapshot,
    pub traces: Vec<TraceSource>,
    pub inputs: Vec<Input>,
    /// How trace times were put in UTC.
    pub trace_time_note: Option<String>,
    pub has_dump: bool,
    /// Logfile-header facts of each .etl input, by path.
    pub etl: Vec<(String, dumptrace_trace::EtlInfo)>,
}

enum Kind {
    Dump,
    Trace,
}

/// How standard input is named in reports and messages.
pub const STDIN_LABEL: &str = "<stdin>";

/// Whether a path argument is `-`, standard input.
pub fn is_stdin(p: &Path) -> bool {
    p.as_os_str() == "-"
}

/// An input's name in reports: its path, or `<stdin>`.
pub fn label(p: &Path) -> String {
    if is_stdin(p) {
        STDIN_LABEL.to_string()
    } else {
        p.display().to_string()
    }
}

/// Standard input, read whole the first time it is asked for (it can be read only once,
/// and an input is looked at twice: to tell its kind, then to read it).
fn stdin_bytes() -> std::io::Result<&'static [u8]> {
    static STDIN: std::sync::OnceLock<Result<Vec<u8>, String>> = std::sync::OnceLock::new();
    STDIN
        .get_or_init(|| {
            let mut buf = Vec::new();
            std::io::stdin()
                .lock()
                .read_to_end(&mut buf)
                .map(|_| buf)
                .map_err(|e| e.to_string())
        })
        .as_deref()
        .map_err(|e| std::io::Error::other(e.clone()))
}

/// Standard input's bytes, or the message that names it.
fn stdin_or_message() -> Result<&'static [u8], String> {
    stdin_bytes().map_err(|e| format!("{STDIN_LABEL}: cannot read: {e}"))
}

/// Reads one dump-side input: a file, or standard input for `-`.
pub fn read_dump(f: &Path) -> Result<dumptrace_dump::DumpLoad, String> {
    if !is_stdin(f) {
        return dumptrace_dump::read_path(f).map_err(|e| e.to_string());
    }
    let bytes = stdin_or_message()?;
    dumptrace_dump::read_bytes(Path::new(STDIN_LABEL), bytes).map_err(|e| e.to_string())
}

/// Reads one trace input whole: a file, or standard input for `-`.
pub fn read_trace(
    f: &Path,
    ctx: &TimeContext,
    opts: &ReadOptions,
) -> Result<dumptrace_trace::Trace, String> {
    if !is_stdin(f) {
        return dumptrace_trace::read_path_with(f, ctx, opts).map_err(|e| e.to_string());
    }
    let bytes = stdin_or_message()?;
    dumptrace_trace::read_bytes_with(Path::new(STDIN_LABEL), bytes, ctx, opts)
        .map_err(|e| e.to_string())
}

/// Reads one trace input in chunks handed to `sink` (see
/// [`dumptrace_trace::read_path_chunks`]); standard input, already in memory, is
/// handed over as one chunk.
pub fn read_trace_chunks(
    f: &Path,
    ctx: &TimeContext,
    opts: &ReadOptions,
    sink: &mut (dyn FnMut(polars::prelude::DataFrame) -> std::ops::ControlFlow<()> + Send),
) -> Result<dumptrace_trace::TraceReport, String> {
    if !is_stdin(f) {
        return dumptrace_trace::read_path_chunks(f, ctx, opts, sink).map_err(|e| e.to_string());
    }
    let t = read_trace(f, ctx, opts)?;
    let _ = sink(t.frame);
    Ok(t.report)
}

/// Expands folders (every regular, non-hidden file in them, sorted) and keeps files;
/// `-` stays, for standard input.
pub fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if is_stdin(p) {
            out.push(p.clone());
            continue;
        }
        let meta = std::fs::metadata(p).with_context(|| format!("{}: cannot read", p.display()))?;
        if meta.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("{}: cannot list folder", p.display()))?
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|f| f.is_file())
                .filter(|f| {
                    !f.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with('.'))
                })
                .collect();
            files.sort();
            out.extend(files);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

fn head(path: &Path) -> std::io::Result<Vec<u8>> {
    if is_stdin(path) {
        let all = stdin_bytes()?;
        return Ok(all[..all.len().min(256 * 1024)].to_vec());
    }
    let mut buf = Vec::with_capacity(256 * 1024);
    std::fs::File::open(path)?
        .take(256 * 1024)
        .read_to_end(&mut buf)?;
    Ok(buf)
}

fn classify(path: &Path, opts: &ReadOptions) -> Result<Kind, String> {
    let name = label(path);
    let bytes = head(path).map_err(|e| format!("{name}: cannot read: {e}"))?;
    if bytes.is_empty() {
        return Err(format!("{name}: empty file"));
    }
    if dumptrace_dump::detect(&bytes).is_some() {
        return Ok(Kind::Dump);
    }
    if dumptrace_trace::looks_like_trace_with(&bytes, opts).is_some() {
        return Ok(Kind::Trace);
    }
    Err(format!(
        "{}: not a dump or trace input this version reads (tried: WinDbg/kd log, Tracefmt text, \
         trace viewer table, binary .etl, tracerpt -of CSV, xperf -a dumper text, PerfView CSV, WPA CSV, \
         Get-WinEvent | Export-Csv{})",
        name,
        if opts.csv.is_some() {
            ", a CSV with the --time-col columns"
        } else {
            "; other CSVs need --time-col"
        }
    ))
}

/// The inputs sorted out: dumps read (they are small and give traces their clock), trace
/// files recognised but not yet read, and how their times will be put in UTC.
pub struct Plan {
    pub snapshot: DumpSnapshot,
    /// Reports of the dump inputs (trace inputs are added as they are read).
    pub inputs: Vec<Input>,
    pub has_dump: bool,
    pub trace_files: Vec<PathBuf>,
    pub ctx: TimeContext,
    pub opts: ReadOptions,
}

/// Classifies every input and reads the dumps; unreadable or unrecognised files get one
/// line on stderr. Fails only when there is neither a dump nor a trace to read.
pub fn plan(paths: &[PathBuf], clock: &ClockArgs) -> Result<Plan> {
    let files = expand(paths)?;
    let mut dumps = Vec::new();
    let mut trace_files = Vec::new();
    let sniff = ReadOptions::new(None, clock.csv.mapping());
    for f in files {
        match classify(&f, &sniff) {
            Ok(Kind::Dump) => dumps.push(f),
            Ok(Kind::Trace) => trace_files.push(f),
            Err(msg) => crate::render::warn(msg),
        }
    }
    let mut inputs = Vec::new();
    let mut parts = Vec::new();
    for f in &dumps {
        match read_dump(f) {
            Ok(load) => {
                inputs.push(dump_input(&load.report));
                parts.push(load.snapshot);
            }
            Err(e) => crate::render::warn(e),
        }
    }
    let has_dump = !parts.is_empty();
    if !has_dump && trace_files.is_empty() {
        bail!("nothing usable was read from the inputs given");
    }
    let snapshot = dumptrace_dump::merge(parts);
    let ctx = time_context(&snapshot, clock);
    let opts = read_options(clock, ctx.offset)?;
    Ok(Plan {
        snapshot,
        inputs,
        has_dump,
        trace_files,
        ctx,
        opts,
    })
}

/// Reads every input; unreadable or unrecognised files get one line on stderr.
/// Fails only when nothing usable was read.
pub fn load(paths: &[PathBuf], clock: &ClockArgs) -> Result<Loaded> {
    let Plan {
        snapshot,
        mut inputs,
        has_dump,
        trace_files,
        ctx,
        opts,
    } = plan(paths, clock)?;
    let mut sources = Vec::new();
    let mut etl = Vec::new();
    for f in &trace_files {
        match read_trace(f, &ctx, &opts) {
            Ok(t) => {
                inputs.push(trace_input(&t.report));
                if let Some(info) = &t.report.etl {
                    etl.push((label(f), info.clone()));
                }
                sources.push(TraceSource {
                    label: label(f),
                    frame: t.frame,
                });
            }
            Err(e) => crate::render::warn(e),
        }
    }
    if !has_dump && sources.is_empty() {
        bail!("nothing usable was read from the inputs given");
    }
    Ok(Loaded {
        snapshot,
        trace_time_note: (!sources.is_empty()).then(|| ctx.source.clone()),
        traces: sources,
        inputs,
        has_dump,
        etl,
    })
}

/// Date and zone for trace times that lack them: flags first, then the dump.
pub fn time_context(s: &DumpSnapshot, clock: &ClockArgs) -> TimeContext {
    let session = s.session_time.as_ref();
    let date = clock.trace_date.or(session.map(|t| t.local.date()));
    let date_note = match (clock.trace_date, session) {
        (Some(d), _) => format!("date {d} from --trace-date"),
        (None, Some(t)) => format!("date {} from the dump's Debug session time", t.local.date()),
        (None, None) => "no date known".to_string(),
    };
    let (offset, zone_note) = match (clock.trace_tz, session.and_then(|t| t.offset)) {
        (Some(o), _) => (o, format!("zone UTC{o} from --trace-tz")),
        (None, Some(o)) => (
            o,
            format!("zone UTC{o} assumed from the dump's Debug session time"),
        ),
        (None, None) => (
            FixedOffset::east_opt(0).expect("zero offset"),
            "zone UTC assumed (no dump zone and no --trace-tz)".to_string(),
        ),
    };
    TimeContext {
        date,
        offset,
        source: format!("{zone_note}; {date_note}"),
    }
}

fn first_skips(path: &Path, skips: impl Iterator<Item = (u64, String, String)>) -> Vec<String> {
    skips
        .map(|(line, reason, text)| format!("{}:{line}: {reason}: {text}", path.display()))
        .collect()
}

fn dump_input(r: &dumptrace_dump::InputReport) -> Input {
    Input {
        path: r.path.display().to_string(),
        kind: "dump".into(),
        format: r.format.into(),
        records: r.records,
        skipped: r.skipped,
        skip_reasons: r.skip_reasons.clone(),
        first_skips: first_skips(
            &r.path,
            r.first_skips
                .iter()
                .map(|s| (s.line, s.reason.clone(), s.text.clone())),
        ),
        time_note: None,
    }
}

pub fn trace_input(r: &dumptrace_trace::TraceReport) -> Input {
    Input {
        path: r.path.display().to_string(),
        kind: "trace".into(),
        format: r.format.name().into(),
        records: r.records,
        skipped: r.skipped,
        skip_reasons: r
            .skip_reasons
            .clone()
            .into_iter()
            .collect::<BTreeMap<_, _>>(),
        first_skips: first_skips(
            &r.path,
            r.first_skips
                .iter()
                .map(|s| (s.line, s.reason.clone(), s.text.clone())),
        ),
        time_note: Some(r.time_note.clone()),
    }
}
