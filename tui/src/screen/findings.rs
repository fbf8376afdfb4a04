//! Findings: the ranked list, best first. Enter goes to the finding's thread.

use std::borrow::Cow;

use ratatui::text::{Line, Span};
use serde_json::json;

use super::{Ctx, Screen};
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

    super::scroll_field!();

    fn title(&self, cx: &Ctx) -> String {
        format!(" Findings ({}) ", cx.a.findings.len())
    }

    fn row<'a>(&self, cx: &'a Ctx, i: usize) -> Line<'a> {
        let x = &cx.a.findings[i];
        Line::from(vec![
            Span::raw(format!("{:>2}. ", x.rank)),
            Span::styled(
                format!("[{} {:.2}] ", x.kind, x.confidence),
                cx.theme.heading(),
            ),
            Span::raw(clean(&x.summary).into_owned()),
        ])
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
