//! The human report: findings first, as sentences, then chains with the trace
//! around each root, then what the inputs gave. Control characters from inputs
//! are escaped before they reach the terminal.

use std::collections::BTreeMap;
use std::io::{self, Write};

use dumptrace_correlate::{Analysis, ChainOut, ThreadOut};
use dumptrace_dump::escape_control as esc;

use crate::inputs::Loaded;

const CONTEXT_LINES: usize = 16;

pub fn inputs(out: &mut impl Write, a: &Analysis) -> io::Result<()> {
    writeln!(out, "Inputs")?;
    let width = a.inputs.iter().map(|i| i.path.len()).max().unwrap_or(0);
    for i in &a.inputs {
        let reasons = if i.skip_reasons.is_empty() {
            String::new()
        } else {
            let r: Vec<String> = i
                .skip_reasons
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect();
            format!(" ({})", r.join("; "))
        };
        writeln!(
            out,
            "  {:width$}  {:5}  {:14} {} records, {} skipped{}",
            i.path, i.kind, i.format, i.records, i.skipped, reasons
        )?;
        for s in &i.first_skips {
            writeln!(out, "      skipped {}", esc(s))?;
        }
        if let Some(n) = &i.time_note {
            writeln!(out, "      times: {n}")?;
        }
    }
    Ok(())
}

pub fn analysis(out: &mut impl Write, a: &Analysis) -> io::Result<()> {
    inputs(out, a)?;
    writeln!(out)?;
    match (&a.dump_time, &a.dump_time_raw) {
        (Some(t), Some(raw)) => writeln!(out, "Dump time  {t}  (Debug session time: {raw})")?,
        (None, Some(raw)) => {
            writeln!(out, "Dump time  unknown in UTC (Debug session time: {raw})")?
        }
        _ => writeln!(out, "Dump time  unknown")?,
    }
    let mut states: BTreeMap<&str, usize> = BTreeMap::new();
    for t in &a.threads {
        *states.entry(t.state.as_str()).or_default() += 1;
    }
    let procs = a
        .threads
        .iter()
        .map(|t| t.pid)
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    let st: Vec<String> = states.iter().map(|(k, v)| format!("{k} {v}")).collect();
    writeln!(
        out,
        "Threads    {} in {procs} processes ({})",
        a.threads.len(),
        st.join(", ")
    )?;
    writeln!(
        out,
        "Alignment  offset {:+.3} s, {}",
        a.alignment.offset_seconds, a.alignment.method
    )?;
    writeln!(out)?;

    writeln!(out, "Findings")?;
    if a.findings.is_empty() {
        writeln!(out, "  none: no wait chain was found in the dump")?;
    }
    for f in &a.findings {
        writeln!(
            out,
            "  {}. [{} {:.2}] {}",
            f.rank,
            f.kind,
            f.confidence,
            esc(&f.summary)
        )?;
        for e in &f.evidence {
            writeln!(
                out,
                "       {}  {}  {}",
                e.source,
                e.time.as_deref().unwrap_or("-"),
                esc(&e.message)
            )?;
        }
    }
    writeln!(out)?;
    writeln!(out, "Wait chains")?;
    if a.chains.is_empty() {
        writeln!(out, "  none")?;
    }
    for c in &a.chains {
        chain(out, a, c)?;
    }
    if !a.notes.is_empty() {
        writeln!(out, "Notes")?;
        for n in &a.notes {
            writeln!(out, "  - {}", esc(n))?;
        }
    }
    Ok(())
}

fn find(a: &Analysis, pid: u32, tid: u32) -> Option<&ThreadOut> {
    a.threads.iter().find(|t| t.pid == pid && t.tid == tid)
}

fn wait_text(t: &ThreadOut) -> String {
    let reason = t
        .wait_reason
        .as_deref()
        .map(|r| format!(" ({r})"))
        .unwrap_or_default();
    let secs = t
        .wait_seconds
        .map(|s| format!(" {s:.3} s"))
        .unwrap_or_default();
    let since = t
        .wait_start
        .as_deref()
        .map(|s| format!(" since {s}"))
        .unwrap_or_default();
    format!("{}{reason}{secs}{since}", t.state)
}

fn chain(out: &mut impl Write, a: &Analysis, c: &ChainOut) -> io::Result<()> {
    let root = find(a, c.root.pid, c.root.tid);
    let image = root
        .and_then(|t| t.process.as_deref())
        .or(c.ends_at.as_ref().and_then(|e| e.server_image.as_deref()))
        .unwrap_or("?");
    let root_text = if c.root_kind == "process-queue" {
        format!("the queue of pid {} that no thread serves", c.root.pid)
    } else {
        format!("{:04x}.{:04x}", c.root.pid, c.root.tid)
    };
    writeln!(
        out,
        "  Chain {}: root {root_text} ({image}){}, {} blocked ({} directly) in {} process(es)",
        c.id,
        if c.deadlock { ", DEADLOCK" } else { "" },
        c.blocked_threads,
        c.direct_waiters,
        c.processes.len()
    )?;
    if let Some(t) = root {
        writeln!(out, "    root state   {}", wait_text(t))?;
        writeln!(out, "    root owns    {}", t.owns.join(", "))?;
        writeln!(out, "    root block   {}", t.source)?;
        let frames: Vec<&str> = t.stack.iter().map(String::as_str).take(12).collect();
        if !frames.is_empty() {
            writeln!(out, "    root stack")?;
            for f in frames {
                writeln!(out, "      {}", esc(f))?;
            }
        }
    }
    writeln!(out, "    resources    {}", c.resources.join(", "))?;
    if let Some(fb) = c.first_blocked {
        if let Some(t) = find(a, fb.pid, fb.tid) {
            writeln!(
                out,
                "    first blocked {:04x}.{:04x} ({}), {}",
                fb.pid,
                fb.tid,
                t.process.as_deref().unwrap_or("?"),
                wait_text(t)
            )?;
        }
    }
    let mut waiters: Vec<&ThreadOut> = c
        .members
        .iter()
        .filter(|m| **m != c.root)
        .filter_map(|m| find(a, m.pid, m.tid))
        .collect();
    waiters.sort_by(|x, y| {
        y.wait_seconds
            .unwrap_or(0.0)
            .total_cmp(&x.wait_seconds.unwrap_or(0.0))
    });
    if !waiters.is_empty() {
        let list: Vec<String> = waiters
            .iter()
            .take(8)
            .map(|t| {
                format!(
                    "{:04x}.{:04x} {:.1} s",
                    t.pid,
                    t.tid,
                    t.wait_seconds.unwrap_or(0.0)
                )
            })
            .collect();
        let more = waiters.len().saturating_sub(8);
        writeln!(
            out,
            "    waiters      {}{}",
            list.join(", "),
            if more > 0 {
                format!(", and {more} more")
            } else {
                String::new()
            }
        )?;
    }
    if !c.trace_context.is_empty() {
        // The lines nearest the wait start: mostly before it (what the root was
        // doing), a few after (what its process did once it blocked).
        let before: Vec<_> = c
            .trace_context
            .iter()
            .filter(|e| e.relative_seconds.is_some_and(|s| s <= 0.0))
            .collect();
        let after: Vec<_> = c
            .trace_context
            .iter()
            .filter(|e| e.relative_seconds.is_some_and(|s| s > 0.0))
            .collect();
        let nb = before.len().min(CONTEXT_LINES - CONTEXT_LINES / 4);
        let na = after.len().min(CONTEXT_LINES - nb);
        writeln!(
            out,
            "    trace of process {} around the root's wait start ({} events from -30 s to +5 s; {} shown, * = the root thread)",
            c.root.pid,
            c.trace_context.len(),
            nb + na
        )?;
        let line = |out: &mut dyn Write, e: &dumptrace_correlate::EventOut| {
            let mark = if e.tid == Some(c.root.tid) { "*" } else { " " };
            writeln!(
                out,
                "    {mark} {:>9}  {:>5}  {}  {}",
                e.relative_seconds
                    .map(|s| format!("{s:+.3}s"))
                    .unwrap_or_default(),
                e.tid.map(|t| t.to_string()).unwrap_or_default(),
                esc(&e.message),
                e.source
            )
        };
        for e in &before[before.len() - nb..] {
            line(out, e)?;
        }
        writeln!(out, "      ---------  root's wait starts")?;
        for e in &after[..na] {
            line(out, e)?;
        }
    }
    writeln!(out)
}

/// What a binary dump file's headers say: system, exception, kernel header, truncation.
fn dump_file(out: &mut impl Write, f: &dumptrace_dump::DumpFile) -> io::Result<()> {
    writeln!(
        out,
        "Dump file   {} ({}, {} bytes)",
        esc(&f.path),
        f.format,
        f.file_size
    )?;
    if let Some(sys) = &f.system {
        let os = [sys.os_version.as_deref(), sys.csd_version.as_deref()];
        let os: Vec<&str> = os.into_iter().flatten().collect();
        writeln!(
            out,
            "  system    {}, {} processor(s){}",
            sys.architecture,
            sys.processors,
            if os.is_empty() {
                String::new()
            } else {
                format!(", version {}", esc(&os.join(" ")))
            }
        )?;
    }
    if let Some(e) = &f.exception {
        writeln!(
            out,
            "  exception {:#010x} at {:#x} in thread {:#x}",
            e.code, e.address, e.thread_id
        )?;
    }
    if let Some(k) = &f.kernel {
        let p = k.bugcheck_parameters;
        writeln!(
            out,
            "  kernel    {} dump ({}-bit, type {}), bugcheck {:#x} ({:#x}, {:#x}, {:#x}, {:#x}), {} physical pages in {} run(s)",
            k.dump_type_name,
            k.bits,
            k.dump_type,
            k.bugcheck_code,
            p[0],
            p[1],
            p[2],
            p[3],
            k.physical_pages.map_or("?".into(), |n| n.to_string()),
            k.memory_runs.len()
        )?;
    }
    if let Some(t) = &f.truncation {
        writeln!(
            out,
            "  TRUNCATED {} bytes missing: the file has {}, {} requires {}",
            t.missing_bytes, t.file_size, t.basis, t.expected_size
        )?;
    }
    Ok(())
}

/// `dumptrace dump`: what the dump-side inputs hold.
pub fn dump_summary(out: &mut impl Write, loaded: &Loaded, a: &Analysis) -> io::Result<()> {
    let mut with_inputs = a.clone();
    with_inputs.inputs = loaded.inputs.clone();
    inputs(out, &with_inputs)?;
    let s = &loaded.snapshot;
    writeln!(out)?;
    match &s.session_time {
        Some(t) => writeln!(
            out,
            "Dump time   {} ({})",
            t.utc
                .map(|u| u.to_rfc3339())
                .unwrap_or_else(|| "no zone".into()),
            t.raw
        )?,
        None => writeln!(out, "Dump time   unknown (no Debug session time)")?,
    }
    if let Some(up) = s.uptime_ms {
        writeln!(out, "Uptime      {:.3} s", up as f64 / 1000.0)?;
    }
    writeln!(out, "Tick        {}", s.tick_source)?;
    for f in &s.dump_files {
        dump_file(out, f)?;
    }
    if !s.dump_files.is_empty() {
        writeln!(out, "Modules     {}", s.modules.len())?;
        writeln!(out, "Handles     {}", s.handles.len())?;
    }
    writeln!(out, "Processes   {}", s.processes.len())?;
    let mut states: BTreeMap<String, usize> = BTreeMap::new();
    for t in &s.threads {
        let key = match t.state.wait_reason() {
            Some(r) if !r.is_empty() => format!("WAIT ({r})"),
            _ => t.state.name().to_string(),
        };
        *states.entry(key).or_default() += 1;
    }
    writeln!(out, "Threads     {}", s.threads.len())?;
    for (k, v) in &states {
        writeln!(out, "  {v:6}  {k}")?;
    }
    let mut longest: Vec<&ThreadOut> = a
        .threads
        .iter()
        .filter(|t| t.wait_seconds.is_some())
        .collect();
    longest.sort_by(|x, y| {
        y.wait_seconds
            .unwrap_or(0.0)
            .total_cmp(&x.wait_seconds.unwrap_or(0.0))
    });
    writeln!(out, "Longest waits")?;
    for t in longest.iter().take(10) {
        writeln!(
            out,
            "  {:04x}.{:04x}  {:20}  {}",
            t.pid,
            t.tid,
            t.process.as_deref().unwrap_or("?"),
            wait_text(t)
        )?;
    }
    writeln!(out, "Critical sections {}", s.critical_sections.len())?;
    for cs in &s.critical_sections {
        let id = format!(
            "cs:0x{:08x}@{}",
            cs.address,
            cs.pid.map_or("?".into(), |p| p.to_string())
        );
        let waiters = a
            .threads
            .iter()
            .filter(|t| t.waits_on.contains(&id))
            .count();
        writeln!(
            out,
            "  {id}{}  {}  owner tid {}  LockCount {}  waiters found {waiters}",
            cs.symbol
                .as_deref()
                .map(|s| format!(" ({s})"))
                .unwrap_or_default(),
            if cs.locked { "LOCKED" } else { "free" },
            cs.owning_tid.map_or("-".into(), |t| format!("0x{t:x}")),
            cs.lock_count.map_or("-".into(), |v| v.to_string()),
        )?;
    }
    writeln!(out, "ERESOURCEs  {}", s.resources.len())?;
    for r in &s.resources {
        writeln!(
            out,
            "  eresource:0x{:08x}  owners {}  exclusive waiters {}  shared waiters {}",
            r.address,
            r.owners.len(),
            r.exclusive_waiters.len(),
            r.shared_waiters.len()
        )?;
    }
    writeln!(out, "LPC messages {}", s.lpc_messages.len())?;
    if !a.notes.is_empty() {
        writeln!(out, "Notes")?;
        for n in &a.notes {
            writeln!(out, "  - {}", esc(n))?;
        }
    }
    Ok(())
}
