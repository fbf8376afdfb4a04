//! `dumptrace export`: the correlated timeline as one file, one row per event:
//! trace events and the dump's own events (each thread's wait start, the dump
//! time, findings), in time order. Columns are documented in docs/export.md.

use std::collections::HashMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::inputs::Loaded;
use crate::{ExportArgs, ExportFormat};

#[derive(Serialize)]
struct Row {
    time: String,
    #[serde(skip)]
    sort_ns: i64,
    pid: Option<u32>,
    tid: Option<u32>,
    process: Option<String>,
    /// `trace`, `wait-start`, `dump-time`, `finding`.
    kind: &'static str,
    message: String,
    source: String,
    chain: Option<usize>,
    finding: Option<usize>,
    offset_seconds: f64,
}

const COLUMNS: [&str; 10] = [
    "time",
    "pid",
    "tid",
    "process",
    "kind",
    "message",
    "source",
    "chain",
    "finding",
    "offset_seconds",
];

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

fn rows(loaded: &Loaded, offset: Option<f64>) -> Result<Vec<Row>> {
    let opts = dumptrace_correlate::Options {
        offset_seconds: offset,
        trace_time_note: loaded.trace_time_note.clone(),
        context_seconds: Some(0.0),
    };
    let a = dumptrace_correlate::analyze(&loaded.snapshot, &loaded.traces, &opts);
    let off = offset.unwrap_or(0.0);
    let off_ns = (off * 1e9).round() as i64;
    let images: HashMap<u32, String> = loaded
        .snapshot
        .processes
        .iter()
        .map(|p| (p.pid, p.image.clone()))
        .collect();
    let mut chain_of: HashMap<(u32, u32), usize> = HashMap::new();
    for c in &a.chains {
        for m in &c.members {
            chain_of.entry((m.pid, m.tid)).or_insert(c.id);
        }
    }
    let mut evidence_of: HashMap<String, usize> = HashMap::new();
    for f in &a.findings {
        for e in &f.evidence {
            evidence_of.entry(e.source.clone()).or_insert(f.rank);
        }
    }
    let mut out = Vec::new();
    for e in dumptrace_correlate::trace_events(&loaded.traces)? {
        let t = e
            .time
            .timestamp_nanos_opt()
            .unwrap_or(0)
            .saturating_add(off_ns);
        out.push(Row {
            time: ts(DateTime::from_timestamp_nanos(t)),
            sort_ns: t,
            pid: e.pid,
            tid: e.tid,
            process: e.pid.and_then(|p| images.get(&p).cloned()),
            kind: "trace",
            chain: e.pid.zip(e.tid).and_then(|k| chain_of.get(&k).copied()),
            finding: evidence_of.get(&e.source).copied(),
            message: e.message,
            source: e.source,
            offset_seconds: off,
        });
    }
    for t in &loaded.snapshot.threads {
        let Some(ws) = t.wait_start else { continue };
        let Some(ns) = ws.timestamp_nanos_opt() else {
            continue;
        };
        out.push(Row {
            time: ts(ws),
            sort_ns: ns,
            pid: Some(t.pid),
            tid: Some(t.tid),
            process: t.image.clone(),
            kind: "wait-start",
            message: format!(
                "{} {}{}",
                t.state.name(),
                t.state
                    .wait_reason()
                    .map(|r| format!("({r}) "))
                    .unwrap_or_default(),
                t.ticks.map(|k| format!("Ticks: {k}")).unwrap_or_default()
            ),
            source: t.source.clone(),
            chain: chain_of.get(&(t.pid, t.tid)).copied(),
            finding: None,
            offset_seconds: 0.0,
        });
    }
    let dump_utc = loaded.snapshot.session_time.as_ref().and_then(|s| s.utc);
    if let Some(d) = dump_utc {
        let ns = d.timestamp_nanos_opt().unwrap_or(0);
        out.push(Row {
            time: ts(d),
            sort_ns: ns,
            pid: None,
            tid: None,
            process: None,
            kind: "dump-time",
            message: "memory dump taken".into(),
            source: "Debug session time".into(),
            chain: None,
            finding: None,
            offset_seconds: 0.0,
        });
        for f in &a.findings {
            let at = f
                .pid
                .zip(f.tid)
                .and_then(|(p, t)| {
                    loaded
                        .snapshot
                        .threads
                        .iter()
                        .find(|x| x.pid == p && x.tid == t)
                })
                .and_then(|t| t.wait_start)
                .unwrap_or(d);
            out.push(Row {
                time: ts(at),
                sort_ns: at.timestamp_nanos_opt().unwrap_or(ns),
                pid: f.pid,
                tid: f.tid,
                process: f.pid.and_then(|p| images.get(&p).cloned()),
                kind: "finding",
                message: f.summary.clone(),
                source: format!("finding {}", f.rank),
                chain: f.chain,
                finding: Some(f.rank),
                offset_seconds: off,
            });
        }
    }
    out.sort_by_key(|r| r.sort_ns);
    Ok(out)
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map(|v| v.to_string()).unwrap_or_default()
}

fn write_rows(w: &mut impl Write, rows: &[Row], format: ExportFormat) -> Result<()> {
    match format {
        ExportFormat::Csv => {
            writeln!(w, "{}", COLUMNS.join(","))?;
            for r in rows {
                let fields = [
                    r.time.clone(),
                    opt(&r.pid),
                    opt(&r.tid),
                    csv_field(r.process.as_deref().unwrap_or("")),
                    r.kind.to_string(),
                    csv_field(&r.message),
                    csv_field(&r.source),
                    opt(&r.chain),
                    opt(&r.finding),
                    r.offset_seconds.to_string(),
                ];
                writeln!(w, "{}", fields.join(","))?;
            }
        }
        ExportFormat::Jsonl => {
            for r in rows {
                serde_json::to_writer(&mut *w, r)?;
                writeln!(w)?;
            }
        }
        ExportFormat::Parquet | ExportFormat::Perfetto => {
            bail!("this version writes csv and jsonl; parquet and perfetto are not available yet")
        }
    }
    Ok(())
}

pub fn export(loaded: &Loaded, args: &ExportArgs, stdout: &mut impl Write) -> Result<()> {
    if matches!(args.format, ExportFormat::Parquet | ExportFormat::Perfetto) {
        bail!("this version writes csv and jsonl; parquet and perfetto are not available yet");
    }
    let rows = rows(loaded, args.input.offset)?;
    if args.output.as_os_str() == "-" {
        return write_rows(stdout, &rows, args.format);
    }
    let target = &args.output;
    if target.exists() && !args.force {
        bail!("{}: exists; pass --force to replace it", target.display());
    }
    let tmp = temp_name(target);
    let result = (|| -> Result<()> {
        let f = std::fs::File::create(&tmp)
            .with_context(|| format!("{}: cannot create", tmp.display()))?;
        let mut w = io::BufWriter::new(f);
        write_rows(&mut w, &rows, args.format)?;
        w.flush()?;
        w.get_ref().sync_all()?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, target)
        .with_context(|| format!("{}: cannot rename into place", target.display()))?;
    eprintln!(
        "dumptrace: wrote {} rows to {}",
        rows.len(),
        target.display()
    );
    Ok(())
}

/// `out.csv` -> `.out.csv.dumptrace-tmp-<pid>` in the same folder, so the rename is atomic.
fn temp_name(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "export".into());
    target.with_file_name(format!(".{name}.dumptrace-tmp-{}", std::process::id()))
}
