//! Threads: every thread of the dump as a table (process, pid.tid, state, wait
//! reason, how long it waited, how many threads wait behind it), sorted by any
//! column and filtered by process, thread, state or text.

use std::borrow::Cow;
use std::cmp::Ordering;

use ratatui::text::{Line, Span};
use serde_json::json;

use super::{Ctx, Screen};
use crate::export::Table;
use crate::scroll::Scroll;
use crate::text::{cid, seconds, Filter};

/// Columns, in order; `s` cycles the sort through them.
const COLUMNS: [&str; 6] = [
    "process",
    "pid.tid",
    "state",
    "wait reason",
    "waited",
    "blocks",
];
const BLOCKS: usize = 5;

pub(crate) struct Threads {
    scroll: Scroll,
    /// Thread indexes in view order.
    rows: Vec<usize>,
    sort: usize,
    descending: bool,
    filter: Filter,
}

impl Default for Threads {
    fn default() -> Self {
        Threads {
            scroll: Scroll::default(),
            rows: Vec::new(),
            // The threads that block the most first: chain roots on top.
            sort: BLOCKS,
            descending: true,
            filter: Filter::default(),
        }
    }
}

fn state_words(cx: &Ctx, i: usize) -> String {
    let t = &cx.a.threads[i];
    format!("{} {}", t.state, t.wait_reason.as_deref().unwrap_or(""))
}

fn row_text(cx: &Ctx, i: usize) -> String {
    let t = &cx.a.threads[i];
    format!(
        "{} {} {} {}",
        t.process.as_deref().unwrap_or(""),
        cid(Some(t.pid), Some(t.tid)),
        state_words(cx, i),
        t.stack.join(" ")
    )
}

impl Threads {
    /// The thread index of the selected row.
    pub(crate) fn selected(&self) -> Option<usize> {
        self.rows.get(self.scroll.sel).copied()
    }

    /// Selects thread `t`, clearing the filter when it hides it.
    pub(crate) fn select(&mut self, cx: &Ctx, t: usize, height: usize) {
        if !self.rows.contains(&t) {
            self.filter = Filter::default();
            self.refresh(cx);
        }
        if let Some(i) = self.rows.iter().position(|&r| r == t) {
            self.scroll.set(i, self.rows.len(), height);
        }
    }

    /// Next sort column (`s`), or the same column reversed (`r`).
    pub(crate) fn sort(&mut self, cx: &Ctx, next: bool) -> String {
        if next {
            self.sort = (self.sort + 1) % COLUMNS.len();
            // Numbers read best largest first, names in alphabetical order.
            self.descending = self.sort >= 4;
        } else {
            self.descending = !self.descending;
        }
        let keep = self.selected();
        self.refresh(cx);
        if let Some(i) = keep.and_then(|t| self.rows.iter().position(|&r| r == t)) {
            self.scroll.sel = i;
        }
        format!(
            "threads sorted by {}, {}",
            COLUMNS[self.sort],
            if self.descending {
                "descending"
            } else {
                "ascending"
            }
        )
    }

    fn compare(&self, cx: &Ctx, x: usize, y: usize) -> Ordering {
        let (a, b) = (&cx.a.threads[x], &cx.a.threads[y]);
        let o = match self.sort {
            0 => a.process.cmp(&b.process),
            1 => (a.pid, a.tid).cmp(&(b.pid, b.tid)),
            2 => a.state.cmp(&b.state),
            3 => a.wait_reason.cmp(&b.wait_reason),
            4 => a
                .wait_seconds
                .unwrap_or(-1.0)
                .total_cmp(&b.wait_seconds.unwrap_or(-1.0)),
            _ => cx.j.blocks[x].cmp(&cx.j.blocks[y]).then(
                a.wait_seconds
                    .unwrap_or(-1.0)
                    .total_cmp(&b.wait_seconds.unwrap_or(-1.0)),
            ),
        };
        let o = if self.descending { o.reverse() } else { o };
        o.then((a.pid, a.tid).cmp(&(b.pid, b.tid)))
    }
}

impl Screen for Threads {
    fn name(&self) -> &'static str {
        "Threads"
    }

    fn len(&self, _cx: &Ctx) -> usize {
        self.rows.len()
    }

    super::scroll_field!();

    fn title(&self, cx: &Ctx) -> String {
        let mut title = format!(" Threads ({} of {})", self.rows.len(), cx.a.threads.len());
        if !self.filter.is_empty() {
            title.push_str(&format!("  filter: {}", self.filter.spec));
        }
        title.push_str(&format!(
            "  sort: {} {} ",
            COLUMNS[self.sort],
            if self.descending { "↓" } else { "↑" }
        ));
        title
    }

    fn header(&self) -> Option<Line<'static>> {
        Some(Line::from(format!(
            "{:<16} {:<9} {:<10} {:<16} {:>13} {:>6}",
            COLUMNS[0], COLUMNS[1], COLUMNS[2], COLUMNS[3], COLUMNS[4], COLUMNS[5]
        )))
    }

    fn row<'a>(&self, cx: &'a Ctx, k: usize) -> Line<'a> {
        let i = self.rows[k];
        let t = &cx.a.threads[i];
        let image: String = t
            .process
            .as_deref()
            .unwrap_or("?")
            .chars()
            .take(16)
            .collect();
        let reason: String = t
            .wait_reason
            .as_deref()
            .unwrap_or("")
            .chars()
            .take(16)
            .collect();
        Line::from(vec![
            Span::raw(format!("{image:<16} ")),
            Span::styled(
                format!("{:<9}", cid(Some(t.pid), Some(t.tid))),
                cx.theme.thread(Some(t.pid), Some(t.tid)),
            ),
            Span::raw(format!(
                " {:<10} {:<16} {:>13} {:>6}",
                t.state,
                reason,
                t.wait_seconds.map(seconds).unwrap_or_default(),
                cx.j.blocks[i]
            )),
        ])
    }

    fn text<'a>(&self, cx: &'a Ctx, i: usize) -> Cow<'a, str> {
        Cow::Owned(row_text(cx, self.rows[i]))
    }

    fn table<'a>(&'a self, cx: &'a Ctx<'a>) -> Table<'a> {
        Table {
            headers: vec![
                "process",
                "pid",
                "tid",
                "state",
                "wait_reason",
                "wait_seconds",
                "wait_start",
                "blocks",
                "waits_on",
                "owns",
                "source",
            ],
            rows: Box::new(self.rows.iter().map(|&i| {
                let t = &cx.a.threads[i];
                vec![
                    json!(t.process),
                    json!(t.pid),
                    json!(t.tid),
                    json!(t.state),
                    json!(t.wait_reason),
                    json!(t.wait_seconds),
                    json!(t.wait_start),
                    json!(cx.j.blocks[i]),
                    json!(t.waits_on.join(" ")),
                    json!(t.owns.join(" ")),
                    json!(t.source),
                ]
            })),
        }
    }

    fn filter(&mut self, cx: &Ctx, f: Filter) -> Result<String, String> {
        self.filter = f;
        self.refresh(cx);
        self.scroll = Scroll::default();
        Ok(format!(
            "{} of {} threads match",
            self.rows.len(),
            cx.a.threads.len()
        ))
    }

    fn refresh(&mut self, cx: &Ctx) {
        let f = &self.filter;
        let mut rows: Vec<usize> = (0..cx.a.threads.len())
            .filter(|&i| {
                let t = &cx.a.threads[i];
                f.is_empty()
                    || f.matches(
                        t.process.as_deref(),
                        Some(t.pid),
                        Some(t.tid),
                        &state_words(cx, i),
                        &row_text(cx, i),
                    )
            })
            .collect();
        rows.sort_by(|&x, &y| self.compare(cx, x, y));
        self.rows = rows;
        self.scroll.sel = self.scroll.sel.min(self.rows.len().saturating_sub(1));
    }
}
