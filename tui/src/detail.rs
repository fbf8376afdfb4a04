//! The detail pane's text: a finding with its evidence, a thread with its
//! full THREAD block (read from the log) and stack, a chain, a resource, or a
//! trace event in full with the file and line it came from. Built when the
//! selection changes, never while drawing.

use dumptrace_correlate::Finding;
use ratatui::text::{Line, Span};

use crate::data::Node;
use crate::events::utc;
use crate::logfile::LogFiles;
use crate::screen::Ctx;
use crate::text::{cid, clean, seconds, stamp};

/// What the pane shows, with its title.
#[derive(Default)]
pub(crate) struct Detail {
    pub title: String,
    pub lines: Vec<Line<'static>>,
}

fn text(s: impl Into<String>) -> Line<'static> {
    Line::from(s.into())
}

fn field(cx: &Ctx, name: &str, value: impl Into<String>) -> Line<'static> {
    Line::from(vec![
        Span::styled(format!("{name:<12}"), cx.theme.heading()),
        Span::raw(value.into()),
    ])
}

fn evidence(cx: &Ctx, f: &Finding, out: &mut Vec<Line<'static>>) {
    out.push(Line::from(Span::styled(
        format!("Evidence of finding {} ({})", f.rank, f.kind),
        cx.theme.heading(),
    )));
    for e in &f.evidence {
        out.push(text(format!(
            "{}  {}  {}",
            e.source,
            e.time.as_deref().unwrap_or("-"),
            clean(&e.message)
        )));
    }
}

pub(crate) fn finding(cx: &Ctx, i: usize) -> Detail {
    let mut lines = Vec::new();
    let title = match cx.a.findings.get(i) {
        Some(f) => {
            lines.push(text(clean(&f.summary).into_owned()));
            lines.push(text(""));
            lines.push(field(
                cx,
                "kind",
                format!("{}  confidence {:.2}", f.kind, f.confidence),
            ));
            if f.pid.is_some() {
                lines.push(field(
                    cx,
                    "thread",
                    format!("{}  (Enter: go to it)", cid(f.pid, f.tid)),
                ));
            }
            if let Some(c) = f.chain {
                lines.push(field(cx, "chain", c.to_string()));
            }
            lines.push(text(""));
            evidence(cx, f, &mut lines);
            format!(" Finding {} ", f.rank)
        }
        None => {
            lines.push(text(
                "No findings: the dump shows no wait chain or known pattern.",
            ));
            " Detail ".into()
        }
    };
    overview(cx, &mut lines);
    Detail { title, lines }
}

/// How the clocks were put together, what each input gave, and the analysis's notes.
fn overview(cx: &Ctx, out: &mut Vec<Line<'static>>) {
    let a = cx.a;
    out.push(text(""));
    out.push(Line::from(Span::styled("Clocks", cx.theme.heading())));
    out.push(field(
        cx,
        "dump time",
        format!(
            "{}  as written: {}",
            a.dump_time.as_deref().unwrap_or("unknown"),
            a.dump_time_raw.as_deref().map(clean).unwrap_or_default()
        ),
    ));
    out.push(field(
        cx,
        "offset",
        format!(
            "{:+.3} s: {}",
            a.alignment.offset_seconds,
            clean(&a.alignment.method)
        ),
    ));
    out.push(field(cx, "tick", clean(&a.tick).into_owned()));
    if !a.inputs.is_empty() {
        out.push(Line::from(Span::styled("Inputs", cx.theme.heading())));
    }
    for i in &a.inputs {
        out.push(text(format!(
            "{} ({} {}): {} records, {} skipped",
            i.path, i.kind, i.format, i.records, i.skipped
        )));
        out.extend(
            i.first_skips
                .iter()
                .map(|s| text(format!("  {}", clean(s)))),
        );
    }
    if !a.notes.is_empty() {
        out.push(Line::from(Span::styled("Notes", cx.theme.heading())));
    }
    out.extend(a.notes.iter().map(|n| text(clean(n).into_owned())));
}

/// A thread: what the analysis says, then its THREAD block from the log.
pub(crate) fn thread(cx: &Ctx, i: usize, logs: &mut LogFiles, from: Option<&Finding>) -> Detail {
    let t = &cx.a.threads[i];
    let mut lines = vec![field(
        cx,
        "thread",
        format!(
            "{}  {}  {} {}",
            cid(Some(t.pid), Some(t.tid)),
            t.process.as_deref().unwrap_or("?"),
            t.state,
            t.wait_reason.as_deref().unwrap_or("")
        ),
    )];
    if let Some(w) = t.wait_seconds {
        lines.push(field(
            cx,
            "waited",
            format!(
                "{} since {}",
                seconds(w),
                t.wait_start.as_deref().unwrap_or("?")
            ),
        ));
    }
    lines.push(field(cx, "blocks", format!("{} threads", cx.j.blocks[i])));
    if !t.waits_on.is_empty() {
        lines.push(field(cx, "waits on", t.waits_on.join(", ")));
    }
    if !t.owns.is_empty() {
        lines.push(field(cx, "owns", t.owns.join(", ")));
    }
    lines.push(field(cx, "source", t.source.clone()));
    if let Some(f) = from.filter(|f| (f.pid, f.tid) == (Some(t.pid), Some(t.tid))) {
        lines.push(text(""));
        evidence(cx, f, &mut lines);
    }
    lines.push(text(""));
    match logs.block(&t.source) {
        Ok(block) => lines.extend(block.into_iter().map(|l| text(clean(&l).into_owned()))),
        Err(why) => {
            // Minidump threads (`file.dmp@0x...`) have no text block: show the model's stack.
            lines.push(Line::from(Span::styled(format!("({why})"), cx.theme.dim())));
            lines.push(Line::from(Span::styled("Stack", cx.theme.heading())));
            lines.extend(t.stack.iter().map(|s| text(format!("  {}", clean(s)))));
        }
    }
    Detail {
        title: format!(" Thread {} ", cid(Some(t.pid), Some(t.tid))),
        lines,
    }
}

pub(crate) fn chain(cx: &Ctx, ci: usize) -> Detail {
    let c = &cx.a.chains[ci];
    let mut lines = vec![
        field(
            cx,
            "root",
            format!(
                "{} ({})",
                cid(Some(c.root.pid), Some(c.root.tid)),
                c.root_kind
            ),
        ),
        field(
            cx,
            "blocks",
            format!(
                "{} threads, {} directly",
                c.blocked_threads, c.direct_waiters
            ),
        ),
        field(cx, "resources", c.resources.join(", ")),
        field(
            cx,
            "deadlock",
            if c.deadlock {
                "yes: the waits form a cycle"
            } else {
                "no"
            },
        ),
    ];
    if let Some(f) = c.first_blocked {
        lines.push(field(cx, "first", cid(Some(f.pid), Some(f.tid))));
    }
    if let Some(e) = &c.ends_at {
        lines.push(field(
            cx,
            "ends at",
            format!("{} {}", e.resource, e.server_image.as_deref().unwrap_or("")),
        ));
    }
    lines.extend(c.notes.iter().map(|n| text(format!("note: {}", clean(n)))));
    lines.push(text(""));
    lines.push(Line::from(Span::styled(
        "Trace of the root's process around its wait start (Enter: open the timeline there)",
        cx.theme.heading(),
    )));
    if c.trace_context.is_empty() {
        lines.push(text(
            "(no trace events of this process near the wait start)",
        ));
    }
    for e in &c.trace_context {
        lines.push(Line::from(vec![
            Span::raw(format!(
                "{:>9} ",
                e.relative_seconds
                    .map(|s| format!("{s:+.3}s"))
                    .unwrap_or_default()
            )),
            Span::styled(cid(e.pid, e.tid), cx.theme.thread(e.pid, e.tid)),
            Span::raw(format!(" {}", clean(&e.message))),
        ]));
    }
    Detail {
        title: format!(" Chain {} ", c.id),
        lines,
    }
}

/// The detail of a chain-tree row.
pub(crate) fn tree_row(cx: &Ctx, row: usize, logs: &mut LogFiles) -> Detail {
    let Some(r) = cx.j.tree.get(row) else {
        return Detail {
            title: " Detail ".into(),
            lines: vec![text(
                "No wait chains: no thread waits on another in the dump.",
            )],
        };
    };
    match &r.node {
        Node::Chain(ci) => chain(cx, *ci),
        Node::Thread { thread: t, .. } => thread(cx, *t, logs, None),
        Node::Resource { name, waiters } => Detail {
            title: " Resource ".into(),
            lines: vec![
                field(cx, "resource", clean(name).into_owned()),
                field(
                    cx,
                    "waiting",
                    format!("{waiters} threads of chain {}", cx.a.chains[r.chain].id),
                ),
            ],
        },
        Node::Missing { .. } => chain(cx, r.chain),
    }
}

pub(crate) fn event(cx: &Ctx, i: usize) -> Detail {
    let e = cx.ev.event(i);
    let t = e.t + cx.offset_ns;
    let thread = match (e.pid, e.tid) {
        (Some(p), Some(k)) => cx.j.thread(p, k).map(|i| {
            let t = &cx.a.threads[i];
            format!(
                "  in the dump: {} {}",
                t.state,
                t.wait_reason.as_deref().unwrap_or("")
            )
        }),
        _ => None,
    };
    // What a reader wants first comes first: at 80x24 the pane has 7 rows.
    let mut lines = vec![
        field(
            cx,
            "time",
            format!("{} (dump clock)", stamp(utc(e.t, cx.offset_ns))),
        ),
        field(
            cx,
            "thread",
            format!(
                "{}  {}{}",
                cid(e.pid, e.tid),
                cx.image(e.pid).unwrap_or("?"),
                thread.unwrap_or_default()
            ),
        ),
        field(cx, "input", e.input),
    ];
    if let Some(c) = &e.code {
        lines.push(field(cx, "code", clean(c).into_owned()));
    }
    lines.push(text(clean(&e.message).into_owned()));
    lines.push(text(""));
    lines.push(field(
        cx,
        "trace time",
        format!(
            "{}  as written: {}",
            stamp(utc(e.t, 0)),
            e.time_raw.as_deref().map(clean).unwrap_or_default()
        ),
    ));
    if let Some(d) = cx.dump_ns() {
        lines.push(field(
            cx,
            "to dump",
            format!("{:+.3} s", (t - d) as f64 / 1e9),
        ));
    }
    if let (Some(w), Some((p, k))) = (cx.focus_wait_ns(), cx.focus) {
        lines.push(field(
            cx,
            "to wait",
            format!(
                "{:+.3} s from the wait start of {}",
                (t - w) as f64 / 1e9,
                cid(Some(p), Some(k))
            ),
        ));
    }
    let or_dash = |v: Option<String>| v.map_or("-".to_string(), |v| clean(&v).into_owned());
    lines.push(field(cx, "provider", or_dash(e.provider)));
    lines.push(field(
        cx,
        "level",
        format!(
            "{}  event id {}",
            or_dash(e.level),
            or_dash(e.event_id.map(|v| v.to_string()))
        ),
    ));
    Detail {
        title: " Event ".into(),
        lines,
    }
}
