//! The terminal browser over a correlated analysis.
//!
//! [`App`] holds the state (which pane, which row); [`App::draw`] renders it
//! without side effects, and [`App::on_key`] turns keys into state changes, so
//! tests drive it headlessly with ratatui's `TestBackend`. [`run`] owns the
//! terminal and restores it on exit, on Ctrl-C and on panic.

use std::io;

use dumptrace_correlate::{Analysis, ChainOut};
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, List, ListItem, ListState, Paragraph, Wrap};
use ratatui::Frame;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Findings,
    Chains,
}

pub struct App {
    analysis: Analysis,
    pane: Pane,
    finding: usize,
    chain: usize,
    help: bool,
    quit: bool,
}

const KEYS: &[(&str, &str)] = &[
    ("Tab / Shift-Tab", "switch between findings and chains"),
    ("Up/Down, j/k", "move the selection"),
    ("g / G", "first / last row"),
    ("Enter", "from a finding, show its chain"),
    ("?", "this help"),
    ("q, Ctrl-C", "quit"),
];

/// Escapes control characters so input text never drives the terminal.
fn clean(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

impl App {
    pub fn new(analysis: Analysis) -> Self {
        App {
            analysis,
            pane: Pane::Findings,
            finding: 0,
            chain: 0,
            help: false,
            quit: false,
        }
    }

    pub fn should_quit(&self) -> bool {
        self.quit
    }

    pub fn pane(&self) -> Pane {
        self.pane
    }

    fn rows(&self) -> usize {
        match self.pane {
            Pane::Findings => self.analysis.findings.len(),
            Pane::Chains => self.analysis.chains.len(),
        }
    }

    fn selected_mut(&mut self) -> &mut usize {
        match self.pane {
            Pane::Findings => &mut self.finding,
            Pane::Chains => &mut self.chain,
        }
    }

    pub fn on_key(&mut self, key: KeyEvent) {
        if key.kind == KeyEventKind::Release {
            return;
        }
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            self.quit = true;
            return;
        }
        if self.help {
            self.help = false;
            return;
        }
        let rows = self.rows();
        match key.code {
            KeyCode::Char('q') => self.quit = true,
            KeyCode::Char('?') => self.help = true,
            KeyCode::Tab | KeyCode::BackTab => {
                self.pane = match self.pane {
                    Pane::Findings => Pane::Chains,
                    Pane::Chains => Pane::Findings,
                }
            }
            KeyCode::Down | KeyCode::Char('j') => {
                let s = self.selected_mut();
                *s = (*s + 1).min(rows.saturating_sub(1));
            }
            KeyCode::Up | KeyCode::Char('k') => {
                let s = self.selected_mut();
                *s = s.saturating_sub(1);
            }
            KeyCode::Char('g') | KeyCode::Home => *self.selected_mut() = 0,
            KeyCode::Char('G') | KeyCode::End => *self.selected_mut() = rows.saturating_sub(1),
            KeyCode::Enter if self.pane == Pane::Findings => {
                if let Some(c) = self
                    .analysis
                    .findings
                    .get(self.finding)
                    .and_then(|f| f.chain)
                {
                    self.chain = c.saturating_sub(1);
                    self.pane = Pane::Chains;
                }
            }
            _ => {}
        }
    }

    /// Renders the current state; no side effects.
    pub fn draw(&self, f: &mut Frame) {
        let [top, main, bar] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(4),
            Constraint::Length(1),
        ])
        .areas(f.area());
        let a = &self.analysis;
        f.render_widget(
            Line::from(format!(
                " dumptrace  dump {}  threads {}  chains {}  findings {}",
                a.dump_time.as_deref().unwrap_or("?"),
                a.threads.len(),
                a.chains.len(),
                a.findings.len()
            ))
            .add_modifier(Modifier::REVERSED),
            top,
        );
        let [list_area, detail_area] =
            Layout::vertical([Constraint::Percentage(40), Constraint::Percentage(60)]).areas(main);
        match self.pane {
            Pane::Findings => {
                self.draw_findings(f, list_area);
                self.draw_finding_detail(f, detail_area);
            }
            Pane::Chains => {
                self.draw_chains(f, list_area);
                if let Some(c) = a.chains.get(self.chain) {
                    self.draw_chain_detail(f, detail_area, c);
                }
            }
        }
        f.render_widget(
            Line::from(" Tab pane  j/k move  Enter open  ? help  q quit").dim(),
            bar,
        );
        if self.help {
            self.draw_help(f);
        }
    }

    fn list(&self, f: &mut Frame, area: Rect, title: &str, items: Vec<ListItem>, sel: usize) {
        let mut state = ListState::default().with_selected(Some(sel));
        let list = List::new(items)
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(title.to_string()),
            )
            .highlight_style(Style::default().add_modifier(Modifier::REVERSED))
            .highlight_symbol("> ");
        f.render_stateful_widget(list, area, &mut state);
    }

    fn draw_findings(&self, f: &mut Frame, area: Rect) {
        let items = self
            .analysis
            .findings
            .iter()
            .map(|x| {
                ListItem::new(Line::from(vec![
                    Span::raw(format!("{:>2}. ", x.rank)),
                    Span::styled(
                        format!("[{} {:.2}] ", x.kind, x.confidence),
                        Style::default().bold(),
                    ),
                    Span::raw(clean(&x.summary)),
                ]))
            })
            .collect();
        self.list(f, area, " Findings ", items, self.finding);
    }

    fn draw_finding_detail(&self, f: &mut Frame, area: Rect) {
        let mut lines = Vec::new();
        if let Some(x) = self.analysis.findings.get(self.finding) {
            lines.push(Line::from(clean(&x.summary)));
            lines.push(Line::from(""));
            lines.push(Line::from("Evidence").bold());
            for e in &x.evidence {
                lines.push(Line::from(format!(
                    "{}  {}  {}",
                    e.source,
                    e.time.as_deref().unwrap_or("-"),
                    clean(&e.message)
                )));
            }
        } else {
            lines.push(Line::from(
                "No findings: no wait chain was found in the dump.",
            ));
        }
        f.render_widget(
            Paragraph::new(lines)
                .wrap(Wrap { trim: false })
                .block(Block::default().borders(Borders::ALL).title(" Detail ")),
            area,
        );
    }

    fn draw_chains(&self, f: &mut Frame, area: Rect) {
        let items = self
            .analysis
            .chains
            .iter()
            .map(|c| {
                let image = self.image(c.root.pid, c.root.tid);
                ListItem::new(format!(
                    "chain {}: root {:04x}.{:04x} {image}  blocked {}{}",
                    c.id,
                    c.root.pid,
                    c.root.tid,
                    c.blocked_threads,
                    if c.deadlock { "  DEADLOCK" } else { "" }
                ))
            })
            .collect();
        self.list(f, area, " Wait chains ", items, self.chain);
    }

    fn image(&self, pid: u32, tid: u32) -> String {
        self.analysis
            .threads
            .iter()
            .find(|t| t.pid == pid && t.tid == tid)
            .and_then(|t| t.process.clone())
            .unwrap_or_default()
    }

    fn draw_chain_detail(&self, f: &mut Frame, area: Rect, c: &ChainOut) {
        let mut lines = vec![Line::from(format!("resources: {}", c.resources.join(", ")))];
        if let Some(t) = self
            .analysis
            .threads
            .iter()
            .find(|t| t.pid == c.root.pid && t.tid == c.root.tid)
        {
            lines.push(Line::from(format!(
                "root {} {} {}  waited {}",
                t.state,
                t.wait_reason.as_deref().unwrap_or(""),
                t.source,
                t.wait_seconds
                    .map(|s| format!("{s:.3} s"))
                    .unwrap_or("-".into())
            )));
            for s in t.stack.iter().take(8) {
                lines.push(Line::from(format!("  {}", clean(s))));
            }
        }
        lines.push(Line::from("Trace around the root's wait start").bold());
        let skip = c.trace_context.len().saturating_sub(12);
        for e in &c.trace_context[skip..] {
            lines.push(Line::from(format!(
                "{:>9} {:>5} {}",
                e.relative_seconds
                    .map(|s| format!("{s:+.3}s"))
                    .unwrap_or_default(),
                e.tid.map(|t| t.to_string()).unwrap_or_default(),
                clean(&e.message)
            )));
        }
        f.render_widget(
            Paragraph::new(lines)
                .wrap(Wrap { trim: false })
                .block(Block::default().borders(Borders::ALL).title(" Chain ")),
            area,
        );
    }

    fn draw_help(&self, f: &mut Frame) {
        let area = f.area();
        let w = area.width.min(60);
        let h = (KEYS.len() as u16 + 2).min(area.height);
        let r = Rect::new(
            area.x + (area.width - w) / 2,
            area.y + (area.height - h) / 2,
            w,
            h,
        );
        let lines: Vec<Line> = KEYS
            .iter()
            .map(|(k, d)| Line::from(format!("{k:16} {d}")))
            .collect();
        f.render_widget(Clear, r);
        f.render_widget(
            Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(" Keys ")),
            r,
        );
    }
}

/// Opens the browser on the terminal; returns when the user quits.
pub fn run(analysis: Analysis) -> io::Result<()> {
    // `ratatui::init` enters the alternate screen and raw mode and installs a
    // panic hook that restores the terminal before the panic message prints.
    let mut terminal = ratatui::init();
    let mut app = App::new(analysis);
    let result = (|| -> io::Result<()> {
        while !app.should_quit() {
            terminal.draw(|f| app.draw(f))?;
            if let Event::Key(k) = event::read()? {
                app.on_key(k);
            }
        }
        Ok(())
    })();
    ratatui::restore();
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;

    fn case() -> Option<Analysis> {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fixtures/cases/cs-periodic-error/memory.log");
        let load = dumptrace_dump::read_path(&p).ok()?;
        Some(dumptrace_correlate::analyze(
            &load.snapshot,
            &[],
            &Default::default(),
        ))
    }

    fn screen(app: &App, w: u16, h: u16) -> String {
        let mut t = Terminal::new(TestBackend::new(w, h)).expect("test backend");
        t.draw(|f| app.draw(f)).expect("draw");
        let buf = t.backend().buffer();
        let mut s = String::new();
        for y in 0..h {
            for x in 0..w {
                s.push_str(buf[(x, y)].symbol());
            }
            s.push('\n');
        }
        s
    }

    fn key(c: KeyCode) -> KeyEvent {
        KeyEvent::new(c, KeyModifiers::NONE)
    }

    #[test]
    fn findings_then_chain_at_80x24() {
        let a = case().expect("fixture case reads");
        let root = a.chains[0].root;
        let mut app = App::new(a);
        let s = screen(&app, 80, 24);
        assert!(s.contains("Findings"), "{s}");
        assert!(
            s.contains(&format!("{:04x}.{:04x}", root.pid, root.tid)),
            "{s}"
        );
        app.on_key(key(KeyCode::Enter));
        assert_eq!(app.pane(), Pane::Chains);
        let s = screen(&app, 80, 24);
        assert!(s.contains("Wait chains"), "{s}");
        assert!(s.contains("cs:0x0032be30@2780"), "{s}");
        app.on_key(key(KeyCode::Char('?')));
        assert!(screen(&app, 80, 24).contains("Keys"));
        app.on_key(key(KeyCode::Char('x')));
        app.on_key(key(KeyCode::Char('q')));
        assert!(app.should_quit());
    }

    #[test]
    fn control_characters_in_messages_are_escaped() {
        assert_eq!(clean("a\u{1b}[31mb"), "a\\u{1b}[31mb");
    }
}
