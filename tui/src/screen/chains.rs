//! Wait chains: one tree per chain, root at the top, the resources between
//! owners and their waiters, blocked counts, waits, deadlock cycles marked.

use std::borrow::Cow;

use ratatui::text::{Line, Span};
use serde_json::json;

use super::{Ctx, Screen};
use crate::data::Node;
use crate::export::Table;
use crate::scroll::Scroll;
use crate::text::{cid, clean, seconds};

#[derive(Default)]
pub(crate) struct Chains {
    scroll: Scroll,
}

impl Chains {
    /// The row of chain `ci`'s title.
    pub(crate) fn select_chain(&mut self, cx: &Ctx, ci: usize, height: usize) {
        if let Some(i) = cx.j.tree.iter().position(|r| r.node == Node::Chain(ci)) {
            self.scroll.set(i, cx.j.tree.len(), height);
        }
    }
}

/// The words of a tree row, without its branch drawing.
fn label(cx: &Ctx, node: &Node) -> Vec<Span<'static>> {
    let th = cx.theme;
    match node {
        Node::Chain(ci) => {
            let c = &cx.a.chains[*ci];
            let mut v = vec![Span::styled(
                format!(
                    "chain {}: root {} {}  blocks {} ({} direct)",
                    c.id,
                    cid(Some(c.root.pid), Some(c.root.tid)),
                    cx.image(Some(c.root.pid)).unwrap_or(""),
                    c.blocked_threads,
                    c.direct_waiters
                ),
                th.heading(),
            )];
            if c.deadlock {
                v.push(Span::styled("  DEADLOCK", th.warn()));
            }
            v
        }
        Node::Thread { thread, cycle } => {
            let t = &cx.a.threads[*thread];
            let first = cx.j.first_blocked.contains(thread);
            let mut v = vec![
                Span::styled(
                    cid(Some(t.pid), Some(t.tid)),
                    th.thread(Some(t.pid), Some(t.tid)),
                ),
                Span::raw(format!(
                    " {}  {} {}  {}",
                    t.process.as_deref().unwrap_or("?"),
                    t.state,
                    t.wait_reason.as_deref().unwrap_or(""),
                    t.wait_seconds.map(seconds).unwrap_or_default()
                )),
            ];
            if first {
                v.push(Span::styled("  first blocked", th.heading()));
            }
            if *cycle {
                v.push(Span::styled(
                    "  ↺ cycle: waits on a thread above",
                    th.warn(),
                ));
            }
            v
        }
        Node::Resource { name, waiters } => {
            vec![Span::raw(format!("{}  {waiters} waiting", clean(name)))]
        }
        Node::Missing { pid, tid } => vec![Span::raw(format!(
            "{}  {}: queue no thread serves",
            cid(Some(*pid), Some(*tid)),
            cx.image(Some(*pid)).unwrap_or("?")
        ))],
    }
}

impl Screen for Chains {
    fn name(&self) -> &'static str {
        "Wait chains"
    }

    fn len(&self, cx: &Ctx) -> usize {
        cx.j.tree.len()
    }

    super::scroll_field!();

    fn title(&self, cx: &Ctx) -> String {
        format!(" Wait chains ({}) ", cx.a.chains.len())
    }

    fn row<'a>(&self, cx: &'a Ctx, i: usize) -> Line<'a> {
        let r = &cx.j.tree[i];
        let mut spans = vec![Span::styled(r.prefix.clone(), cx.theme.dim())];
        spans.extend(label(cx, &r.node));
        Line::from(spans)
    }

    fn text<'a>(&self, cx: &'a Ctx, i: usize) -> Cow<'a, str> {
        let spans = label(cx, &cx.j.tree[i].node);
        Cow::Owned(spans.iter().map(|s| s.content.as_ref()).collect())
    }

    fn table<'a>(&'a self, cx: &'a Ctx<'a>) -> Table<'a> {
        const HEADERS: [&str; 13] = [
            "chain",
            "depth",
            "kind",
            "pid",
            "tid",
            "process",
            "state",
            "wait_reason",
            "wait_seconds",
            "resource",
            "waiters",
            "deadlock",
            "cycle",
        ];
        Table {
            headers: HEADERS.to_vec(),
            rows: Box::new(cx.j.tree.iter().map(|r| {
                let c = &cx.a.chains[r.chain];
                let mut row = vec![serde_json::Value::Null; HEADERS.len()];
                let mut set = |k: &str, v: serde_json::Value| {
                    if let Some(i) = HEADERS.iter().position(|h| *h == k) {
                        row[i] = v;
                    }
                };
                set("chain", json!(c.id));
                set("depth", json!(r.prefix.chars().count() / 3));
                set("deadlock", json!(c.deadlock));
                match &r.node {
                    Node::Chain(_) => {
                        set("kind", json!("chain"));
                        set("pid", json!(c.root.pid));
                        set("tid", json!(c.root.tid));
                        set("process", json!(cx.image(Some(c.root.pid))));
                        set("waiters", json!(c.blocked_threads));
                    }
                    Node::Thread { thread, cycle } => {
                        let t = &cx.a.threads[*thread];
                        set("kind", json!("thread"));
                        set("pid", json!(t.pid));
                        set("tid", json!(t.tid));
                        set("process", json!(t.process));
                        set("state", json!(t.state));
                        set("wait_reason", json!(t.wait_reason));
                        set("wait_seconds", json!(t.wait_seconds));
                        set("cycle", json!(cycle));
                    }
                    Node::Resource { name, waiters } => {
                        set("kind", json!("resource"));
                        set("resource", json!(name));
                        set("waiters", json!(waiters));
                    }
                    Node::Missing { pid, tid } => {
                        set("kind", json!("queue"));
                        set("pid", json!(pid));
                        set("tid", json!(tid));
                        set("process", json!(cx.image(Some(*pid))));
                    }
                }
                row
            })),
        }
    }
}
