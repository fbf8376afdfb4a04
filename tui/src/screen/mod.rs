//! The four screens. Each owns its selection (and its sort or filter), lists
//! its rows, draws the rows in view and nothing else, and gives the rows as a
//! table for export. [`Ctx`] is the read-only data they all look at.

use std::borrow::Cow;
use std::collections::HashMap;

use dumptrace_correlate::Analysis;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Paragraph};
use ratatui::Frame;

pub(crate) use chains::Chains;
pub(crate) use findings::Findings;
pub(crate) use threads::Threads;
pub(crate) use timeline::Timeline;

use crate::data::Joined;
use crate::events::Events;
use crate::export::Table;
use crate::scroll::Scroll;
use crate::text::{Filter, Theme};

/// What the screens read.
pub(crate) struct Ctx<'a> {
    pub a: &'a Analysis,
    pub ev: &'a Events,
    pub j: &'a Joined,
    /// Process images by pid, from the dump.
    pub images: &'a HashMap<u32, String>,
    /// Added to trace times to put them on the dump's clock.
    pub offset_ns: i64,
    pub theme: Theme,
    /// The thread the user last picked: the timeline highlights its events
    /// and draws its wait start.
    pub focus: Option<(u32, u32)>,
}

impl Ctx<'_> {
    pub(crate) fn image(&self, pid: Option<u32>) -> Option<&str> {
        pid.and_then(|p| self.images.get(&p)).map(String::as_str)
    }

    /// The dump time (dump clock, ns).
    pub(crate) fn dump_ns(&self) -> Option<i64> {
        self.a.dump_time.as_deref().and_then(rfc3339_ns)
    }

    /// The focus thread's wait start (dump clock, ns).
    pub(crate) fn focus_wait_ns(&self) -> Option<i64> {
        let (pid, tid) = self.focus?;
        let t = &self.a.threads[self.j.thread(pid, tid)?];
        t.wait_start.as_deref().and_then(rfc3339_ns)
    }
}

pub(crate) fn rfc3339_ns(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()?
        .timestamp_nanos_opt()
}

/// The two `Screen` methods over a screen's `scroll` field.
macro_rules! scroll_field {
    () => {
        fn scroll(&self) -> crate::scroll::Scroll {
            self.scroll
        }

        fn scroll_mut(&mut self) -> &mut crate::scroll::Scroll {
            &mut self.scroll
        }
    };
}
pub(crate) use scroll_field;

mod chains;
mod findings;
mod threads;
mod timeline;

/// What a screen does; the app drives whichever is showing.
pub(crate) trait Screen {
    fn name(&self) -> &'static str;
    /// Rows in the list (after the screen's filter).
    fn len(&self, cx: &Ctx) -> usize;
    fn scroll(&self) -> Scroll;
    fn scroll_mut(&mut self) -> &mut Scroll;
    /// The list's title, with its counts, sort and filter.
    fn title(&self, cx: &Ctx) -> String;
    /// Column headings, for tables.
    fn header(&self) -> Option<Line<'static>> {
        None
    }
    /// Row `i` as shown.
    fn row<'a>(&self, cx: &'a Ctx, i: usize) -> Line<'a>;
    /// Draws the list into `area`; `focused` when keys move its selection.
    fn draw(&self, f: &mut Frame, area: Rect, cx: &Ctx, focused: bool) {
        draw_list(
            f,
            area,
            self.title(cx),
            self.header(),
            self.scroll(),
            self.len(cx),
            focused,
            cx.theme,
            |i| self.row(cx, i),
        );
    }
    /// The text `/` searches in row `i`.
    fn text<'a>(&self, cx: &'a Ctx, i: usize) -> Cow<'a, str>;
    /// The rows in view order, for `e`.
    fn table<'a>(&'a self, cx: &'a Ctx<'a>) -> Table<'a>;
    /// Applies `f`; screens that cannot filter say so.
    fn filter(&mut self, _cx: &Ctx, _f: Filter) -> Result<String, String> {
        Err(format!("the {} screen has no filter", self.name()))
    }
    /// The analysis changed (offset re-correlation): rebuild derived rows.
    fn refresh(&mut self, _cx: &Ctx) {}
}

/// Draws a bordered, virtualised list: only the rows in view are built.
#[allow(clippy::too_many_arguments)]
pub(crate) fn draw_list<'a>(
    f: &mut Frame,
    area: Rect,
    title: String,
    header: Option<Line<'a>>,
    scroll: Scroll,
    len: usize,
    focused: bool,
    theme: Theme,
    row: impl Fn(usize) -> Line<'a>,
) {
    let block = Block::default().borders(Borders::ALL).title(title);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let mut lines = Vec::with_capacity(inner.height as usize);
    if let Some(h) = header {
        lines.push(h.style(theme.heading()));
    }
    let height = (inner.height as usize).saturating_sub(lines.len());
    let top = scroll.window(len, height);
    for i in top..len.min(top + height) {
        let mut line = row(i);
        if i == scroll.sel {
            line = if focused {
                line.patch_style(theme.selected())
            } else {
                line.patch_style(theme.heading())
            };
        }
        lines.push(line);
    }
    f.render_widget(Paragraph::new(lines), inner);
}

/// Rows a list shows in `area` (inside the border, less a header line).
pub(crate) fn list_height(area: Rect, header: bool) -> usize {
    (area.height as usize).saturating_sub(2 + usize::from(header))
}
