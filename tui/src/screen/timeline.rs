//! Timeline: the merged trace events on the dump's clock, one line each, a
//! colour per thread; the focus thread's events stand out (its process's
//! less so), its wait start and the dump time are marker lines, and an
//! event-rate sparkline with the blocked threads' wait starts runs on top.
//!
//! Drawing reads only the rows in view and the precomputed histogram, so a
//! frame costs the same at ten events or ten million.

use std::borrow::Cow;
use std::sync::Arc;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Sparkline};
use ratatui::Frame;
use serde_json::json;

use super::{Ctx, Screen};
use crate::events::{merge_bins, utc, BINS};
use crate::export::Table;
use crate::scroll::Scroll;
use crate::text::{cid, clean, clock, stamp, Filter};

/// Rows of the sparkline (plus one row of marks under it).
const SPARK_ROWS: u16 = 2;

#[derive(Default)]
pub(crate) struct Timeline {
    scroll: Scroll,
    filter: Filter,
    /// Events passing the filter, in time order; `None` when unfiltered.
    view: Option<Arc<Vec<u32>>>,
}

impl Timeline {
    /// The event index at position `pos` of the view.
    pub(crate) fn event_at(&self, pos: usize) -> usize {
        match &self.view {
            Some(v) => v[pos] as usize,
            None => pos,
        }
    }

    /// The filtered events (shared with a search running in the background).
    pub(crate) fn view(&self) -> Option<Arc<Vec<u32>>> {
        self.view.clone()
    }

    /// Shows the events a filter let through, staying near the event selected.
    pub(crate) fn set_view(&mut self, cx: &Ctx, f: Filter, view: Option<Arc<Vec<u32>>>) -> String {
        let keep = self.selected(cx);
        self.view = view;
        self.filter = f;
        let sel = keep.map_or(0, |i| match &self.view {
            Some(v) => v.partition_point(|&k| (k as usize) < i),
            None => i,
        });
        self.scroll = Scroll {
            sel: sel.min(self.len(cx).saturating_sub(1)),
            top: sel,
        };
        format!("{} of {} events match", self.len(cx), cx.ev.len())
    }

    pub(crate) fn selected(&self, cx: &Ctx) -> Option<usize> {
        (self.scroll.sel < self.len(cx)).then(|| self.event_at(self.scroll.sel))
    }

    /// The first position whose event is at or after `t` (dump clock, ns).
    pub(crate) fn position(&self, cx: &Ctx, t: i64) -> usize {
        let trace_t = t.saturating_sub(cx.offset_ns);
        match &self.view {
            Some(v) => v.partition_point(|&i| cx.ev.time(i as usize) < trace_t),
            None => cx.ev.position(trace_t),
        }
    }

    /// Puts the last event before `t` (dump clock) in the middle of the view.
    pub(crate) fn go_to(&mut self, cx: &Ctx, t: i64, height: usize) {
        let len = self.len(cx);
        let pos = self.position(cx, t).saturating_sub(1);
        self.scroll.set(pos, len, height);
        self.scroll.top = pos.saturating_sub(height / 2);
    }

    /// Splits the timeline's area into the sparkline (when there is room) and the list.
    pub(crate) fn areas(area: Rect) -> (Option<Rect>, Rect) {
        if area.height < 12 {
            return (None, area);
        }
        let [spark, list] =
            Layout::vertical([Constraint::Length(SPARK_ROWS + 1), Constraint::Min(3)]).areas(area);
        (Some(spark), list)
    }

    /// Marker lines in view order: (position, text).
    fn markers(&self, cx: &Ctx) -> Vec<(usize, String)> {
        let mut m = Vec::new();
        if let (Some(w), Some((pid, tid))) = (cx.focus_wait_ns(), cx.focus) {
            m.push((
                self.position(cx, w),
                format!(
                    "wait start of {} {}",
                    cid(Some(pid), Some(tid)),
                    clock(utc(w, 0))
                ),
            ));
        }
        if let Some(d) = cx.dump_ns() {
            m.push((
                self.position(cx, d),
                format!("dump taken {}", clock(utc(d, 0))),
            ));
        }
        m.sort();
        m
    }

    fn draw_spark(&self, f: &mut Frame, area: Rect, cx: &Ctx) {
        let w = area.width as usize;
        let [bars, marks] =
            Layout::vertical([Constraint::Length(SPARK_ROWS), Constraint::Length(1)]).areas(area);
        let rate = cx.ev.rate(w);
        f.render_widget(Sparkline::default().data(&rate).style(cx.theme.dim()), bars);
        // One mark per column: ^ a blocked thread's wait began, | the dump, ▲ the cursor.
        let mut row: Vec<char> = merge_bins(
            &cx.j
                .wait_bins
                .iter()
                .map(|&b| u8::from(b))
                .collect::<Vec<u8>>(),
            w,
        )
        .iter()
        .map(|&n| if n > 0 { '^' } else { ' ' })
        .collect();
        let col = |t: i64| cx.ev.bin_of(t).map(|b| b * w / BINS);
        if let Some(c) = cx.dump_ns().and_then(|d| col(d - cx.offset_ns)) {
            row[c] = '|';
        }
        if let Some(c) = self.selected(cx).and_then(|i| col(cx.ev.time(i))) {
            row[c] = '▲';
        }
        f.render_widget(
            Line::from(row.into_iter().collect::<String>()).style(cx.theme.marker()),
            marks,
        );
    }
}

impl Screen for Timeline {
    fn name(&self) -> &'static str {
        "Timeline"
    }

    fn len(&self, cx: &Ctx) -> usize {
        self.view.as_ref().map_or(cx.ev.len(), |v| v.len())
    }

    super::scroll_field!();

    fn title(&self, cx: &Ctx) -> String {
        let len = self.len(cx);
        let date = self
            .selected(cx)
            .map(|i| {
                utc(cx.ev.time(i), cx.offset_ns)
                    .format("%Y-%m-%d")
                    .to_string()
            })
            .unwrap_or_default();
        let mut title = format!(" Timeline ({len}");
        if self.view.is_some() {
            title.push_str(&format!(" of {}", cx.ev.len()));
        }
        title.push_str(&format!(
            " events)  {date} UTC, dump clock ({:+.3} s) ",
            cx.offset_ns as f64 / 1e9
        ));
        if !self.filter.is_empty() {
            title.push_str(&format!(" filter: {} ", self.filter.spec));
        }
        title
    }

    fn row<'a>(&self, cx: &'a Ctx, pos: usize) -> Line<'a> {
        let i = self.event_at(pos);
        let (fpid, ftid) = cx.focus.map_or((None, None), |(p, t)| (Some(p), Some(t)));
        let (pid, tid) = (cx.ev.pid(i), cx.ev.tid(i));
        let thread = pid.is_some() && (pid, tid) == (fpid, ftid);
        let process = pid.is_some() && pid == fpid;
        let gutter = if thread {
            "▶"
        } else if process {
            "•"
        } else {
            " "
        };
        Line::from(vec![
            Span::raw(format!(
                "{gutter}{} ",
                clock(utc(cx.ev.time(i), cx.offset_ns))
            )),
            Span::styled(cid(pid, tid), cx.theme.thread(pid, tid)),
            Span::styled(
                format!(" {}", clean(cx.ev.message(i))),
                cx.theme.focus(thread, process),
            ),
        ])
    }

    fn draw(&self, f: &mut Frame, area: Rect, cx: &Ctx, focused: bool) {
        let (spark, list) = Self::areas(area);
        let len = self.len(cx);
        let block = Block::default().borders(Borders::ALL).title(self.title(cx));
        let inner = block.inner(list);
        f.render_widget(block, list);
        if let Some(s) = spark {
            self.draw_spark(f, s, cx);
        }
        if len == 0 {
            let why = if cx.ev.is_empty() {
                "No trace events: give a trace input to see the timeline."
            } else {
                "No event matches the filter (f, then Enter on an empty line, clears it)."
            };
            f.render_widget(Paragraph::new(why), inner);
            return;
        }
        let h = inner.height as usize;
        let markers = self.markers(cx);
        let mut top = self.scroll.window(len, h);
        // Marker lines take rows too: keep the selection in view below them.
        let extra = markers
            .iter()
            .filter(|(p, _)| *p >= top && *p <= self.scroll.sel)
            .count();
        if self.scroll.sel - top + extra >= h {
            top += self.scroll.sel - top + extra + 1 - h;
        }
        let mut lines: Vec<Line> = Vec::with_capacity(h);
        let mut pos = top;
        let mut mk = markers.iter().peekable();
        while mk.peek().is_some_and(|(p, _)| *p < top) {
            mk.next();
        }
        while lines.len() < h && (pos < len || mk.peek().is_some()) {
            if let Some((_, text)) = mk.next_if(|(p, _)| *p == pos) {
                lines.push(
                    Line::from(format!("──── {text} ────────────────────────────────"))
                        .style(cx.theme.marker()),
                );
                continue;
            }
            if pos >= len {
                break;
            }
            let mut line = self.row(cx, pos);
            if pos == self.scroll.sel {
                line = line.patch_style(if focused {
                    cx.theme.selected()
                } else {
                    cx.theme.heading()
                });
            }
            lines.push(line);
            pos += 1;
        }
        f.render_widget(Paragraph::new(lines), inner);
    }

    fn text<'a>(&self, cx: &'a Ctx, i: usize) -> Cow<'a, str> {
        Cow::Borrowed(cx.ev.message(self.event_at(i)))
    }

    fn table<'a>(&'a self, cx: &'a Ctx<'a>) -> Table<'a> {
        Table {
            headers: vec![
                "time", "pid", "tid", "process", "provider", "level", "event_id", "message",
                "input", "code", "time_raw",
            ],
            rows: Box::new((0..self.len(cx)).map(|pos| {
                let e = cx.ev.event(self.event_at(pos));
                vec![
                    json!(stamp(utc(e.t, cx.offset_ns))),
                    json!(e.pid),
                    json!(e.tid),
                    json!(cx.image(e.pid)),
                    json!(e.provider),
                    json!(e.level),
                    json!(e.event_id),
                    json!(e.message),
                    json!(e.input),
                    json!(e.code),
                    json!(e.time_raw),
                ]
            })),
        }
    }
}
