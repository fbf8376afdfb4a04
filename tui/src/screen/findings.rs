//! Findings: the ranked list, best first. Enter goes to the finding's thread.

use std::borrow::Cow;

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::Frame;
use serde_json::json;

use super::{draw_list, Ctx, Screen};
use crate::export::Table;
use crate::scroll::Scroll;
use crate::text::clean;

#[derive(Default)]
pub(crate) struct Findings {
    scroll: Scroll,
}

impl Screen for Findings {
    fn name(&self) -> &'static str {
        "Findings"
    }

    fn len(&self, cx: &Ctx) -> usize {
        cx.a.findings.len()
    }

    fn scroll(&self) -> Scroll {
        self.scroll
    }

    fn scroll_mut(&mut self) -> &mut Scroll {
        &mut self.scroll
    }

    fn draw(&self, f: &mut Frame, area: Rect, cx: &Ctx, focused: bool) {
        let title = format!(" Findings ({}) ", cx.a.findings.len());
        draw_list(
            f,
            area,
            title,
            None,
            self.scroll,
            self.len(cx),
            focused,
            cx.theme,
            |i| {
                let x = &cx.a.findings[i];
                Line::from(vec![
                    Span::raw(format!("{:>2}. ", x.rank)),
                    Span::styled(
                        format!("[{} {:.2}] ", x.kind, x.confidence),
                        cx.theme.heading(),
                    ),
                    Span::raw(clean(&x.summary).into_owned()),
                ])
            },
        );
    }

    fn text<'a>(&self, cx: &'a Ctx, i: usize) -> Cow<'a, str> {
        let x = &cx.a.findings[i];
        Cow::Owned(format!("{} {}", x.kind, x.summary))
    }

    fn table<'a>(&'a self, cx: &'a Ctx<'a>) -> Table<'a> {
        Table {
            headers: vec![
                "rank",
                "kind",
                "confidence",
                "pid",
                "tid",
                "chain",
                "summary",
                "evidence",
            ],
            rows: Box::new(cx.a.findings.iter().map(|x| {
                let evidence: Vec<String> = x
                    .evidence
                    .iter()
                    .map(|e| format!("{}: {}", e.source, e.message))
                    .collect();
                vec![
                    json!(x.rank),
                    json!(x.kind),
                    json!(x.confidence),
                    json!(x.pid),
                    json!(x.tid),
                    json!(x.chain),
                    json!(x.summary),
                    json!(evidence.join("\n")),
                ]
            })),
        }
    }
}
