//! `dumptrace trace`: what the trace inputs hold, without a dump.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap as HashMap;
use std::io::{self, Write};

use anyhow::Result;
use chrono::{DateTime, Utc};
use dumptrace_correlate::Input;
use dumptrace_dump::escape_control as esc;
use dumptrace_trace::schema;
use serde::Serialize;

use crate::inputs::Loaded;

#[derive(Serialize)]
pub struct Summary {
    pub inputs: Vec<Input>,
    pub events: usize,
    pub first: Option<String>,
    pub last: Option<String>,
    pub providers: BTreeMap<String, usize>,
    pub levels: BTreeMap<String, usize>,
    pub threads: Vec<ThreadSpan>,
    pub templates: Vec<TemplateCount>,
    pub recurring: Vec<Recurring>,
    /// Logfile-header facts of the .etl inputs.
    pub etl: Vec<EtlFacts>,
}

#[derive(Serialize)]
pub struct EtlFacts {
    pub input: String,
    #[serde(flatten)]
    pub info: dumptrace_trace::EtlInfo,
}

#[derive(Serialize)]
pub struct ThreadSpan {
    pub pid: Option<u32>,
    pub tid: Option<u32>,
    pub events: usize,
    pub first: String,
    pub last: String,
}

#[derive(Serialize)]
pub struct TemplateCount {
    pub template: String,
    pub count: usize,
}

#[derive(Serialize)]
pub struct Recurring {
    pub input: String,
    pub pid: u32,
    pub tids: Vec<u32>,
    pub template: String,
    pub example: String,
    pub count: usize,
    pub period_seconds: f64,
    pub jitter_seconds: f64,
    pub first: String,
    pub last: String,
}

/// (pid, tid) of a trace event; either may be unknown.
type ThreadKey = (Option<u32>, Option<u32>);
/// (events, first ns, last ns).
type Span = (usize, i64, i64);

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// Adds `n` to `key`'s count, allocating the key only the first time.
fn add(map: &mut BTreeMap<String, usize>, key: &str, n: usize) {
    match map.get_mut(key) {
        Some(c) => *c += n,
        None => {
            map.insert(key.to_string(), n);
        }
    }
}

/// Adds `more`'s events to `span` and widens it to cover `more`'s times.
fn widen(span: &mut Span, more: Span) {
    span.0 += more.0;
    span.1 = span.1.min(more.1);
    span.2 = span.2.max(more.2);
}

/// What one pass over a frame's rows counts: events, providers and levels (None: the row
/// has none), the time span and each thread's events and span.
struct RowCounts<'a> {
    events: usize,
    providers: HashMap<Option<&'a str>, usize>,
    levels: HashMap<Option<&'a str>, usize>,
    first: Option<i64>,
    last: Option<i64>,
    spans: HashMap<ThreadKey, Span>,
}

impl<'a> RowCounts<'a> {
    fn of(df: &'a polars::prelude::DataFrame) -> polars::prelude::PolarsResult<Self> {
        let time = df.column(schema::TIME)?.datetime()?.physical();
        let pid = df.column(schema::PID)?.u32()?;
        let tid = df.column(schema::TID)?.u32()?;
        let provider = df.column(schema::PROVIDER)?.str()?;
        let level = df.column(schema::LEVEL)?.str()?;
        let mut c = RowCounts {
            events: 0,
            providers: HashMap::default(),
            levels: HashMap::default(),
            first: None,
            last: None,
            spans: HashMap::default(),
        };
        // Iterators, not `get(i)`: a frame read in pieces has hundreds of chunks, and
        // `get` looks for its chunk on every call. Counts are kept by the borrowed text
        // (a hash, no allocation, no string compares down a tree).
        let rows = time
            .iter()
            .zip(pid.iter())
            .zip(tid.iter())
            .zip(provider.iter())
            .zip(level.iter());
        let (mut lo, mut hi) = (i64::MAX, i64::MIN);
        for ((((t, p), d), prov), lev) in rows {
            c.events += 1;
            *c.providers.entry(prov).or_default() += 1;
            *c.levels.entry(lev).or_default() += 1;
            let Some(t) = t else { continue };
            lo = lo.min(t);
            hi = hi.max(t);
            widen(c.spans.entry((p, d)).or_insert((0, t, t)), (1, t, t));
        }
        if lo <= hi {
            (c.first, c.last) = (Some(lo), Some(hi));
        }
        Ok(c)
    }
}

pub fn summarize(loaded: &Loaded) -> Result<Summary> {
    let mut s = Summary {
        inputs: loaded.inputs.clone(),
        events: 0,
        first: None,
        last: None,
        providers: BTreeMap::new(),
        levels: BTreeMap::new(),
        threads: Vec::new(),
        templates: Vec::new(),
        recurring: Vec::new(),
        etl: loaded
            .etl
            .iter()
            .map(|(input, info)| EtlFacts {
                input: input.clone(),
                info: info.clone(),
            })
            .collect(),
    };
    let mut first: Option<i64> = None;
    let mut last: Option<i64> = None;
    let mut spans: HashMap<ThreadKey, Span> = HashMap::default();
    let mut templates: HashMap<String, usize> = HashMap::default();
    for src in &loaded.traces {
        let df = &src.frame;
        // The row counts run beside the template pass (which masks every message on
        // every core): on the 2 GB Tracefmt trace they took 2.4 s before it, alone.
        let (rows, found) = std::thread::scope(|sc| {
            let rows = sc.spawn(|| RowCounts::of(df));
            let found = dumptrace_trace::templates(df, 4);
            let rows = rows
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (rows, found)
        });
        let rows = rows?;
        let found = found?;
        s.events += rows.events;
        for (map, counts) in [
            (&mut s.providers, rows.providers),
            (&mut s.levels, rows.levels),
        ] {
            for (key, n) in counts {
                add(map, key.unwrap_or("(none)"), n);
            }
        }
        first = first.into_iter().chain(rows.first).min();
        last = last.into_iter().chain(rows.last).max();
        for (key, span) in rows.spans {
            widen(spans.entry(key).or_insert((0, span.1, span.2)), span);
        }
        for (template, n) in found.counts {
            *templates.entry(template).or_default() += n as usize;
        }
        for r in found.recurring {
            s.recurring.push(Recurring {
                input: src.label.clone(),
                pid: r.pid,
                tids: r.tids.clone(),
                template: r.template.clone(),
                example: r.example.clone(),
                count: r.count,
                period_seconds: r.period_s,
                jitter_seconds: r.jitter_s,
                first: ts(r.first),
                last: ts(r.last),
            });
        }
    }
    s.first = first.map(|t| ts(DateTime::from_timestamp_nanos(t)));
    s.last = last.map(|t| ts(DateTime::from_timestamp_nanos(t)));
    let mut spans: Vec<_> = spans.into_iter().collect();
    spans.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then(a.0.cmp(&b.0)));
    s.threads = spans
        .into_iter()
        .map(|((pid, tid), (n, f, l))| ThreadSpan {
            pid,
            tid,
            events: n,
            first: ts(DateTime::from_timestamp_nanos(f)),
            last: ts(DateTime::from_timestamp_nanos(l)),
        })
        .collect();
    let mut templates: Vec<_> = templates.into_iter().collect();
    templates.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    s.templates = templates
        .into_iter()
        .take(20)
        .map(|(template, count)| TemplateCount { template, count })
        .collect();
    Ok(s)
}

pub fn render(out: &mut impl Write, s: &Summary) -> io::Result<()> {
    let mut a = dumptrace_correlate::analyze(&Default::default(), &[], &Default::default());
    a.inputs = s.inputs.clone();
    crate::render::inputs(out, &a)?;
    writeln!(out)?;
    for e in &s.etl {
        etl_facts(out, e)?;
    }
    writeln!(
        out,
        "Span       {} .. {} ({} events)",
        s.first.as_deref().unwrap_or("-"),
        s.last.as_deref().unwrap_or("-"),
        s.events
    )?;
    let join = |m: &BTreeMap<String, usize>| {
        m.iter()
            .map(|(k, v)| format!("{} {v}", esc(k)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    writeln!(out, "Providers  {}", join(&s.providers))?;
    writeln!(out, "Levels     {}", join(&s.levels))?;
    writeln!(out, "Threads    {} (busiest first)", s.threads.len())?;
    for t in s.threads.iter().take(15) {
        writeln!(
            out,
            "  {:>6}.{:<6} {:6} events  {} .. {}",
            t.pid.map_or("-".into(), |p| p.to_string()),
            t.tid.map_or("-".into(), |p| p.to_string()),
            t.events,
            t.first,
            t.last
        )?;
    }
    writeln!(out, "Top message templates")?;
    for t in &s.templates {
        writeln!(out, "  {:7}  {}", t.count, esc(&t.template))?;
    }
    writeln!(out, "Recurring messages (period, jitter)")?;
    if s.recurring.is_empty() {
        writeln!(out, "  none")?;
    }
    for r in &s.recurring {
        writeln!(
            out,
            "  pid {:5}  every {:.3} s (jitter {:.3} s)  x{}  {} .. {}  {}",
            r.pid,
            r.period_seconds,
            r.jitter_seconds,
            r.count,
            r.first,
            r.last,
            esc(&r.example)
        )?;
    }
    Ok(())
}

/// The logfile header of one .etl input and what reading its buffers found.
fn etl_facts(out: &mut impl Write, e: &EtlFacts) -> io::Result<()> {
    let h = &e.info.header;
    let t = |v: &Option<DateTime<Utc>>| v.map_or("-".to_string(), ts);
    writeln!(
        out,
        "ETL        {}: Windows {} build {}, {} CPUs, pointer size {}, logger {}",
        esc(&e.input),
        h.os_version,
        h.os_build,
        h.cpus,
        h.pointer_size,
        esc(&h.logger_name)
    )?;
    writeln!(
        out,
        "           clock {} at {} Hz; start {}  end {}  boot {}; zone bias {} min ({})",
        h.clock_name(),
        h.perf_freq,
        t(&h.start_time),
        t(&h.end_time),
        t(&h.boot_time),
        h.time_zone_bias_minutes,
        esc(&h.time_zone_name)
    )?;
    writeln!(
        out,
        "           buffers {} ({} compressed); events lost {}, buffers lost {}; \
         buffers flagged: {} with lost events, {} lost",
        e.info.buffers,
        e.info.compressed_buffers,
        h.events_lost,
        h.buffers_lost,
        e.info.buffers_flagged_events_lost,
        e.info.buffers_flagged_lost
    )?;
    if !e.info.manifest_without_schema.is_empty() {
        let total: u64 = e.info.manifest_without_schema.values().sum();
        writeln!(
            out,
            "           {total} manifest events shown as hex, no schema for their provider \
             (--manifest FILE|DIR with the provider's manifest decodes them):"
        )?;
        let mut by_count: Vec<(&String, &u64)> = e.info.manifest_without_schema.iter().collect();
        by_count.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        for (provider, n) in by_count {
            writeln!(out, "             {n:>8}  {}", esc(provider))?;
        }
    }
    for (reason, n) in &e.info.manifest_misfits {
        writeln!(out, "           {n} events shown as hex: {reason}")?;
    }
    if e.info.buffers_missing > 0 {
        writeln!(
            out,
            "           file is short: the logfile header says {} buffers were written, {} are missing (cut on a buffer boundary)",
            e.info.header.buffers_written, e.info.buffers_missing
        )?;
    }
    if e.info.file_schemas > 0 {
        writeln!(
            out,
            "           {} event schemas from the file's own metadata (EventInfo, EventSource manifests)",
            e.info.file_schemas
        )?;
    }
    for (reason, n) in &e.info.file_metadata_unusable {
        writeln!(out, "           {n} metadata records not used: {reason}")?;
    }
    if !e.info.kernel_without_layout.is_empty() {
        let total: u64 = e.info.kernel_without_layout.values().sum();
        let mut by_count: Vec<(&String, &u64)> = e.info.kernel_without_layout.iter().collect();
        by_count.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let list: Vec<String> = by_count.iter().map(|(k, n)| format!("{k} {n}")).collect();
        writeln!(
            out,
            "           {total} kernel events shown as hex, no layout for their class: {}",
            list.join(", ")
        )?;
    }
    writeln!(out)
}
