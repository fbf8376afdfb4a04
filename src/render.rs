//! The human report: findings first, as sentences, then chains with the trace
//! around each root, then what the inputs gave. Control characters from inputs
//! are escaped before they reach the terminal: by [`esc`] where a field is written,
//! and once more by [`Escaping`], which the whole report goes through, so that a field
//! written without [`esc`] cannot drive the terminal either.

use std::collections::BTreeMap;
use std::io::{self, Write};

use dumptrace_correlate::{Analysis, ChainOut, ThreadOut, TreeNode, TreeRow};
use dumptrace_dump::escape_control as esc;

use crate::inputs::Loaded;

const CONTEXT_LINES: usize = 16;

/// A writer for the terminal: control characters other than line feed and tab, C0
/// (including ESC and BEL), DEL and C1 (UTF-8 `C2 80`..`C2 9F`, e.g. the one-byte CSI),
/// are written as `\u{1b}` like [`esc`] writes them.
pub struct Escaping<W: Write> {
    inner: W,
    /// A `C2` byte whose follower has not been written yet.
    pending_c2: bool,
    /// Whether [`Escaping::paint`] writes colours (a terminal that wants them).
    color: bool,
}

/// What a coloured piece of the report is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paint {
    /// A deadlock or a wait chain: the hang itself.
    Severe,
    /// A finding that explains or backs one (trace evidence, contention).
    Warning,
    /// A note about the dump or the inputs.
    Note,
    /// A thread, process or chain id.
    Id,
}

impl Paint {
    /// The severity colour of a finding's kind.
    pub fn of_kind(kind: &str) -> Paint {
        match kind {
            "deadlock" | "wait-chain" | "periodic-error" | "blocked-exit" => Paint::Severe,
            "trace-discontinuity"
            | "errors-near-wait"
            | "high-contention"
            | "spiking-thread"
            | "pending-irp"
            | "message-box"
            | "handle-leak" => Paint::Warning,
            _ => Paint::Note,
        }
    }

    fn sgr(self) -> &'static str {
        match self {
            Paint::Severe => "\x1b[1;31m",
            Paint::Warning => "\x1b[33m",
            Paint::Note => "\x1b[2m",
            Paint::Id => "\x1b[36m",
        }
    }
}

/// Colour for a report written to a terminal, unless `NO_COLOR` is set to anything but
/// the empty string (no-color.org).
pub fn color_wanted(terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    terminal && no_color.is_none_or(|v| v.is_empty())
}

/// Prints `dumptrace: {msg}` on standard error, escaped like the report (messages quote
/// file names and input lines).
pub fn warn(msg: impl std::fmt::Display) {
    let mut err = Escaping::new(io::stderr().lock());
    let _ = writeln!(err, "dumptrace: {msg}").and_then(|()| err.flush());
}

impl<W: Write> Escaping<W> {
    pub fn new(inner: W) -> Self {
        Escaping {
            inner,
            pending_c2: false,
            color: false,
        }
    }

    /// Colours [`Escaping::paint`] writes: on only at a terminal that wants them.
    pub fn with_color(mut self, color: bool) -> Self {
        self.color = color;
        self
    }

    /// Writes `text` (escaped like the rest) in the colour of `p`, when colour is on. The
    /// colour codes themselves are the only control characters that pass.
    pub fn paint(&mut self, p: Paint, text: impl std::fmt::Display) -> io::Result<()> {
        if !self.color {
            return write!(self, "{text}");
        }
        self.flush_pending()?;
        self.inner.write_all(p.sgr().as_bytes())?;
        write!(self, "{text}")?;
        self.flush_pending()?;
        self.inner.write_all(b"\x1b[0m")
    }

    /// Writes a held-back `C2` byte as the text it turned out to be.
    fn flush_pending(&mut self) -> io::Result<()> {
        if std::mem::take(&mut self.pending_c2) {
            self.inner.write_all(&[0xC2])?;
        }
        Ok(())
    }
}

impl<W: Write> Write for Escaping<W> {
    /// Writes the runs of plain bytes as they are and each control as its escape, with
    /// no copy of the buffer (the report is written in many small pieces).
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut plain = 0;
        for (i, &b) in buf.iter().enumerate() {
            if std::mem::take(&mut self.pending_c2) {
                // The `C2` held back from the previous byte (or write): C1 or text.
                if (0x80..=0x9F).contains(&b) {
                    write!(self.inner, "\\u{{{b:x}}}")?;
                    plain = i + 1;
                    continue;
                }
                self.inner.write_all(&[0xC2])?;
            }
            let control = matches!(b, 0x00..=0x08 | 0x0B..=0x1F | 0x7F);
            if control || b == 0xC2 {
                self.inner.write_all(&buf[plain..i])?;
                plain = i + 1;
                if control {
                    write!(self.inner, "\\u{{{b:x}}}")?;
                } else {
                    self.pending_c2 = true;
                }
            }
        }
        self.inner.write_all(&buf[plain..])?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_pending()?;
        self.inner.flush()
    }
}

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

pub fn analysis<W: Write>(out: &mut Escaping<W>, a: &Analysis) -> io::Result<()> {
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
        write!(out, "  {}. ", f.rank)?;
        out.paint(
            Paint::of_kind(&f.kind),
            format_args!("[{} {:.2}]", f.kind, f.confidence),
        )?;
        writeln!(out, " {}", esc(&f.summary))?;
        for e in &f.evidence {
            // A trace row's time also as its file writes it, so it can be found there.
            let raw = e
                .time_raw
                .as_deref()
                .map(|r| format!(" (file: {})", esc(r)))
                .unwrap_or_default();
            writeln!(
                out,
                "       {}  {}{raw}  {}",
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
    let trees = dumptrace_correlate::chain_trees(a);
    for (c, tree) in a.chains.iter().zip(&trees) {
        chain(out, a, c, tree)?;
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

/// `WAIT (UserRequest)`: the state and the wait reason, when there is one.
fn state_text(t: &ThreadOut) -> String {
    match t.wait_reason.as_deref() {
        Some(r) => format!("{} ({r})", t.state),
        None => t.state.clone(),
    }
}

fn wait_text(t: &ThreadOut) -> String {
    let secs = t
        .wait_seconds
        .map(|s| format!(" {s:.3} s"))
        .unwrap_or_default();
    let since = t
        .wait_start
        .as_deref()
        .map(|s| format!(" since {s}"))
        .unwrap_or_default();
    format!("{}{secs}{since}", state_text(t))
}

/// Leaf waiters shown under one resource before the rest are counted.
const TREE_LEAVES: usize = 8;

/// How long a thread has waited, or why that is not known.
fn waited(t: &ThreadOut) -> String {
    match t.wait_seconds {
        Some(s) => format!("{s:.3} s"),
        // User-mode `~*k` output and minidumps carry no tick counts.
        None => "wait time unknown (the output gives no Ticks)".into(),
    }
}

/// The chain as the TUI draws it: hop by hop, resource, thread, state and wait,
/// a thread met again marked as a cycle; long runs of waiters with nobody behind
/// them are cut after [`TREE_LEAVES`] and counted.
fn chain_tree<W: Write>(out: &mut Escaping<W>, a: &Analysis, rows: &[TreeRow]) -> io::Result<()> {
    writeln!(out, "    tree")?;
    let mut run: Option<(String, usize)> = None;
    let mut hidden = 0usize;
    let flush =
        |out: &mut Escaping<W>, run: &Option<(String, usize)>, hidden: usize| match (run, hidden) {
            (Some((lead, _)), n) if n > 0 => {
                writeln!(
                    out,
                    "      {lead}└─ ... and {n} more waiting (shorter waits)"
                )
            }
            _ => Ok(()),
        };
    for (k, r) in rows.iter().enumerate() {
        let leaf = matches!(r.node, TreeNode::Thread { .. })
            && rows
                .get(k + 1)
                .is_none_or(|n| n.prefix.chars().count() <= r.prefix.chars().count());
        let lead: String = {
            let n = r.prefix.chars().count().saturating_sub(3);
            r.prefix.chars().take(n).collect()
        };
        if leaf {
            match &mut run {
                Some((l, n)) if *l == lead => {
                    *n += 1;
                    if *n > TREE_LEAVES {
                        hidden += 1;
                        continue;
                    }
                }
                _ => {
                    flush(out, &run, hidden)?;
                    hidden = 0;
                    run = Some((lead, 1));
                }
            }
        } else {
            flush(out, &run, hidden)?;
            hidden = 0;
            run = None;
        }
        write!(out, "      {}", r.prefix)?;
        match &r.node {
            TreeNode::Thread { thread, cycle } => {
                let Some(t) = a.threads.get(*thread) else {
                    continue;
                };
                out.paint(Paint::Id, format_args!("{:04x}.{:04x}", t.pid, t.tid))?;
                write!(
                    out,
                    " {} {} {}",
                    esc(t.process.as_deref().unwrap_or(dumptrace_dump::NO_IMAGE)),
                    state_text(t),
                    waited(t)
                )?;
                if *cycle {
                    write!(out, "  ")?;
                    out.paint(Paint::Severe, "↺ cycle: shown above")?;
                }
                writeln!(out)?;
            }
            TreeNode::Resource { name, waiters } => {
                writeln!(out, "{name}  {waiters} waiting")?;
            }
            TreeNode::Missing { pid, tid } => {
                writeln!(
                    out,
                    "{} (no thread serves it; not a thread of the dump)",
                    if *tid == 0 {
                        format!("queue of pid {}", dumptrace_dump::pid_hex(*pid))
                    } else {
                        format!("{pid:04x}.{tid:04x}")
                    }
                )?;
            }
        }
    }
    flush(out, &run, hidden)
}

fn chain<W: Write>(
    out: &mut Escaping<W>,
    a: &Analysis,
    c: &ChainOut,
    tree: &[TreeRow],
) -> io::Result<()> {
    let root = find(a, c.root.pid, c.root.tid);
    let image = root
        .and_then(|t| t.process.as_deref())
        .or(c.ends_at.as_ref().and_then(|e| e.server_image.as_deref()))
        .unwrap_or(dumptrace_dump::NO_IMAGE);
    let root_text = if c.root_kind == "process-queue" {
        format!(
            "the queue of pid {} that no thread serves",
            dumptrace_dump::pid_hex(c.root.pid)
        )
    } else {
        format!("{:04x}.{:04x}", c.root.pid, c.root.tid)
    };
    write!(out, "  ")?;
    out.paint(Paint::Id, format_args!("Chain {}", c.id))?;
    write!(out, ": root ")?;
    out.paint(Paint::Id, &root_text)?;
    if c.deadlock {
        write!(out, " ({}), ", esc(image))?;
        out.paint(Paint::Severe, "DEADLOCK")?;
    } else {
        write!(out, " ({})", esc(image))?;
    }
    writeln!(
        out,
        ", {} blocked ({} directly) in {} process(es)",
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
                esc(t.process.as_deref().unwrap_or(dumptrace_dump::NO_IMAGE)),
                wait_text(t)
            )?;
        }
    }
    chain_tree(out, a, tree)?;
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
/// Handle types listed per `!handle` table in the `dump` summary, most numerous first.
const TYPES_SHOWN: usize = 6;

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
            esc(&t.raw)
        )?,
        None => writeln!(out, "Dump time   unknown (no Debug session time)")?,
    }
    if let Some(up) = s.uptime_ms {
        writeln!(out, "Uptime      {} (system)", duration(up))?;
    }
    if let Some(up) = s.process_uptime_ms {
        writeln!(out, "Uptime      {} (process)", duration(up))?;
    }
    writeln!(out, "Tick        {}", s.tick_source)?;
    for b in &s.bugchecks {
        bugcheck(out, b)?;
    }
    for f in &s.dump_files {
        dump_file(out, f)?;
    }
    if !s.dump_files.is_empty() || !s.modules.is_empty() {
        writeln!(out, "Modules     {}", s.modules.len())?;
        for m in s.modules.iter().filter(|m| m.version.is_some()).take(20) {
            module(out, m)?;
        }
    }
    writeln!(out, "Processes   {}", s.processes.len())?;
    threads_by_state(out, s)?;
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
            esc(t.process.as_deref().unwrap_or(dumptrace_dump::NO_IMAGE)),
            wait_text(t)
        )?;
    }
    locks(out, s, a)?;
    writeln!(
        out,
        "LPC messages {}, ALPC messages {}, IRPs {}",
        s.lpc_messages.len(),
        s.alpc_messages.len(),
        s.irps.len()
    )?;
    system(out, s)?;
    if !a.notes.is_empty() {
        writeln!(out, "Notes")?;
        for n in &a.notes {
            writeln!(out, "  - {}", esc(n))?;
        }
    }
    Ok(())
}

/// `1d 03:14:55.031`.
fn duration(ms: u64) -> String {
    let (d, r) = (ms / 86_400_000, ms % 86_400_000);
    format!(
        "{d}d {:02}:{:02}:{:02}.{:03}",
        r / 3_600_000,
        r / 60_000 % 60,
        r / 1000 % 60,
        r % 1000
    )
}

/// `0004.00e4` of the thread at an ETHREAD address, when the dump has it.
fn cid_at(s: &dumptrace_dump::DumpSnapshot, address: u64) -> String {
    s.threads
        .iter()
        .find(|t| t.address == address && address != 0)
        .map_or_else(
            || format!("{address:x}"),
            |t| format!("{address:x} ({})", t.cid()),
        )
}

fn bugcheck(out: &mut impl Write, b: &dumptrace_dump::Bugcheck) -> io::Result<()> {
    let args: Vec<String> = b.args.iter().map(|a| format!("{a:#x}")).collect();
    let code = b.code.map_or("?".to_string(), |c| format!("{c:#x}"));
    let mut line = format!("Bugcheck    {code}");
    if let Some(n) = &b.name {
        line.push_str(&format!(" {}", esc(n)));
    }
    if !args.is_empty() {
        line.push_str(&format!(" ({})", args.join(", ")));
    }
    for (label, v) in [("process", &b.process_name), ("image", &b.image_name)] {
        if let Some(v) = v {
            line.push_str(&format!(", {label} {}", esc(v)));
        }
    }
    writeln!(out, "{line}")?;
    for f in b.stack.iter().take(5) {
        writeln!(out, "              {}", esc(&f.symbol))?;
    }
    Ok(())
}

fn module(out: &mut impl Write, m: &dumptrace_dump::Module) -> io::Result<()> {
    let text = |v: &Option<String>| v.as_deref().map(esc).unwrap_or_default().to_string();
    writeln!(
        out,
        "  {:16} {:14} product {:10} {}  {}",
        esc(m.short_name.as_deref().unwrap_or(m.file_name())),
        text(&m.version),
        text(&m.product_version),
        text(&m.company),
        esc(&m.name)
    )
}

fn threads_by_state(out: &mut impl Write, s: &dumptrace_dump::DumpSnapshot) -> io::Result<()> {
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
        writeln!(out, "  {v:6}  {}", esc(k))?;
    }
    let mut origins: BTreeMap<dumptrace_dump::ThreadOrigin, usize> = BTreeMap::new();
    for t in &s.threads {
        *origins.entry(t.origin).or_default() += 1;
    }
    if origins.len() > 1 || !origins.contains_key(&dumptrace_dump::ThreadOrigin::ThreadBlock) {
        let parts: Vec<String> = origins
            .iter()
            .map(|(o, n)| {
                let name = match o {
                    dumptrace_dump::ThreadOrigin::ThreadBlock => "THREAD blocks",
                    dumptrace_dump::ThreadOrigin::UserList => "~ lines (state from the stack)",
                    dumptrace_dump::ThreadOrigin::Mex => "MEX tables",
                    dumptrace_dump::ThreadOrigin::Stacks => "!stacks rows only",
                    dumptrace_dump::ThreadOrigin::Minidump => "minidump",
                };
                format!("{n} from {name}")
            })
            .collect();
        writeln!(out, "  ({})", parts.join(", "))?;
    }
    Ok(())
}

/// Critical sections, ERESOURCEs and mutants with owners, with their owners and
/// the waiters the wait graph found for each.
fn locks(out: &mut impl Write, s: &dumptrace_dump::DumpSnapshot, a: &Analysis) -> io::Result<()> {
    let waiters = |id: &str| {
        a.threads
            .iter()
            .filter(|t| t.waits_on.iter().any(|w| w == id))
            .count()
    };
    writeln!(out, "Critical sections {}", s.critical_sections.len())?;
    for cs in &s.critical_sections {
        let id = dumptrace_correlate::ids::critical_section(cs.address, cs.pid);
        writeln!(
            out,
            "  {id}{}  {}  owner tid {}  LockCount {}  waiters found {}",
            cs.symbol
                .as_deref()
                .map(|s| format!(" ({})", esc(s)))
                .unwrap_or_default(),
            if cs.locked { "LOCKED" } else { "free" },
            cs.owning_tid.map_or("-".into(), |t| format!("0x{t:x}")),
            cs.lock_count.map_or("-".into(), |v| v.to_string()),
            waiters(&id)
        )?;
    }
    writeln!(out, "ERESOURCEs  {}", s.resources.len())?;
    for r in &s.resources {
        let id = format!("eresource:0x{:08x}", r.address);
        let owners: Vec<String> = r.owners.iter().map(|&o| cid_at(s, o)).collect();
        writeln!(
            out,
            "  {id}  {}  owner {}  exclusive waiters {}  shared waiters {}  waiters found {}",
            if r.exclusive { "exclusive" } else { "shared" },
            if owners.is_empty() {
                "-".into()
            } else {
                owners.join(" ")
            },
            r.exclusive_waiters_count
                .map_or(r.exclusive_waiters.len() as u64, u64::from),
            r.shared_waiters_count
                .map_or(r.shared_waiters.len() as u64, u64::from),
            waiters(&id)
        )?;
    }
    let owned: Vec<_> = s
        .handles
        .iter()
        .filter_map(|h| Some((h, h.mutant.as_ref()?.owner_tid?)))
        .collect();
    if !owned.is_empty() {
        writeln!(out, "Mutants with an owner {}", owned.len())?;
        for (h, tid) in owned {
            let id = dumptrace_correlate::ids::mutant_handle(h.handle, h.pid);
            let owner_pid = h.mutant.as_ref().and_then(|m| m.owner_pid).unwrap_or(0);
            writeln!(
                out,
                "  {id}  {}  owner {owner_pid:04x}.{tid:04x}  waiters found {}",
                esc(h.object_name.as_deref().unwrap_or("(no name)")),
                waiters(&id)
            )?;
        }
    }
    Ok(())
}

/// What `!running`, `!vm`, `!poolused`, `!irpfind` and `!handle` said.
fn system(out: &mut impl Write, s: &dumptrace_dump::DumpSnapshot) -> io::Result<()> {
    if !s.processors.is_empty() {
        writeln!(out, "Processors  {} (!running)", s.processors.len())?;
        for p in &s.processors {
            writeln!(
                out,
                "  {:2}  current {}  next {}",
                p.number,
                cid_at(s, p.current),
                p.next.map_or("-".into(), |n| cid_at(s, n))
            )?;
        }
    }
    for vm in &s.memory {
        let kb = |name: &str| vm.counter(name).and_then(|c| c.kb);
        let of = |used: Option<u64>, max: Option<u64>| match (used, max) {
            (Some(u), Some(m)) if m > 0 => {
                format!("{u} KB of {m} KB ({:.0}%)", u as f64 * 100.0 / m as f64)
            }
            (Some(u), _) => format!("{u} KB"),
            _ => "?".into(),
        };
        writeln!(out, "Memory      !vm at line {}", vm.line)?;
        if let Some(p) = kb("Physical Memory") {
            writeln!(
                out,
                "  physical      {p} KB, available {}",
                kb("Available Pages").map_or("?".into(), |a| format!("{a} KB"))
            )?;
        }
        for (label, used, max) in [
            ("nonpaged pool", "NonPagedPool Usage", "NonPagedPool Max"),
            ("paged pool", "PagedPool Usage", "PagedPool Maximum"),
            ("commit", "Committed pages", "Commit limit"),
        ] {
            if vm.counter(used).is_some() {
                writeln!(out, "  {label:13} {}", of(kb(used), kb(max)))?;
            }
        }
        for p in &vm.page_files {
            writeln!(
                out,
                "  page file     {}  current {} KB, free {} KB",
                esc(&p.name),
                p.current_kb.map_or("?".into(), |v| v.to_string()),
                p.free_kb.map_or("?".into(), |v| v.to_string())
            )?;
        }
        for w in &vm.warnings {
            writeln!(out, "  WARNING       {}", esc(w))?;
        }
        if !vm.processes.is_empty() {
            let mut by_image: BTreeMap<&str, (usize, u64)> = BTreeMap::new();
            for p in &vm.processes {
                let e = by_image.entry(p.image.as_str()).or_default();
                e.0 += 1;
                e.1 += p.kb.unwrap_or(0);
            }
            let mut top: Vec<_> = by_image.into_iter().collect();
            top.sort_by_key(|t| std::cmp::Reverse(t.1 .0));
            for (image, (n, kb)) in top.iter().take(5) {
                writeln!(
                    out,
                    "  processes     {n} x {} ({kb} KB committed)",
                    esc(image)
                )?;
            }
        }
    }
    if !s.pool_tags.is_empty() {
        let mut tags: Vec<(&str, i64, &str)> = Vec::new();
        for t in &s.pool_tags {
            for (c, pool) in [(t.nonpaged, "nonpaged"), (t.paged, "paged")] {
                // Negative counts: inconsistent tracking (the notes say so).
                let Some(c) = c.filter(|c| c.allocs.unwrap_or(0) >= 0 && c.diff.unwrap_or(0) >= 0)
                else {
                    continue;
                };
                if let Some(used) = c.used.filter(|&u| u > 0) {
                    tags.push((t.tag.as_str(), used, pool));
                }
            }
        }
        tags.sort_by_key(|t| std::cmp::Reverse(t.1));
        writeln!(
            out,
            "Pool tags   {} (!poolused), largest consistent:",
            s.pool_tags.len()
        )?;
        for (tag, used, pool) in tags.iter().take(5) {
            writeln!(out, "  {:6} {used:>12} bytes {pool}", esc(tag))?;
        }
    }
    if !s.irpfind.is_empty() {
        let mut by_driver: BTreeMap<&str, usize> = BTreeMap::new();
        for r in &s.irpfind {
            *by_driver
                .entry(r.driver.as_deref().unwrap_or("?"))
                .or_default() += 1;
        }
        let mut top: Vec<_> = by_driver.into_iter().collect();
        top.sort_by_key(|t| std::cmp::Reverse(t.1));
        let parts: Vec<String> = top.iter().map(|(d, n)| format!("{} {n}", esc(d))).collect();
        writeln!(
            out,
            "IRPs        {} (!irpfind): {}",
            s.irpfind.len(),
            parts.join(", ")
        )?;
    }
    if !s.handle_tables.is_empty() || !s.handles.is_empty() {
        writeln!(out, "Handles     {} read", s.handles.len())?;
        for t in &s.handle_tables {
            // The most numerous types first: a leak is the type with the most handles,
            // wherever `!handle` lists it (Thread comes 11th of 16 in its summary).
            let mut by_count: Vec<&(String, u64)> = t.by_type.iter().collect();
            by_count.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
            let mut types: Vec<String> = by_count
                .iter()
                .take(TYPES_SHOWN)
                .map(|(k, n)| format!("{} {n}", esc(k)))
                .collect();
            if by_count.len() > TYPES_SHOWN {
                types.push(format!("{} more types", by_count.len() - TYPES_SHOWN));
            }
            writeln!(
                out,
                "  {}pid {}: {} in use{}",
                if t.kernel { "kernel table, " } else { "" },
                t.pid.map_or("?".into(), dumptrace_dump::pid_hex),
                t.entries.map_or("?".into(), |e| e.to_string()),
                if types.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", types.join(", "))
                }
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_writer_leaves_text_and_escapes_controls() {
        let mut out = Escaping::new(Vec::new());
        // C1 CSI split across two writes, ESC, BEL, DEL; text, tabs, newlines and
        // other two-byte characters pass.
        out.write_all("a\tb\n\x1b[2J\x07\x7f é \u{a0}".as_bytes())
            .expect("write");
        out.write_all(&[0xC2]).expect("write");
        out.write_all(&[0x9B, b'm']).expect("write");
        out.flush().expect("flush");
        let s = String::from_utf8(out.inner).expect("utf-8");
        assert_eq!(s, "a\tb\n\\u{1b}[2J\\u{7}\\u{7f} é \u{a0}\\u{9b}m");
    }

    #[test]
    fn paint_colours_only_when_on_and_still_escapes_the_text() {
        let mut plain = Escaping::new(Vec::new());
        plain.paint(Paint::Id, "0adc.1c64\x1b").expect("write");
        assert_eq!(plain.inner, b"0adc.1c64\\u{1b}");
        let mut on = Escaping::new(Vec::new()).with_color(true);
        on.paint(Paint::Severe, "x\x07").expect("write");
        assert_eq!(on.inner, b"\x1b[1;31mx\\u{7}\x1b[0m");
    }

    #[test]
    fn colour_only_at_a_terminal_without_no_color() {
        use std::ffi::OsStr;
        assert!(color_wanted(true, None));
        assert!(color_wanted(true, Some(OsStr::new(""))));
        assert!(!color_wanted(true, Some(OsStr::new("1"))));
        assert!(!color_wanted(false, None));
    }
}
