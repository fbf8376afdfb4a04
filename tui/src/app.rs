//! The app: which screen shows, what is selected, the prompt being typed, and
//! re-correlation running off the UI thread. Keys become [`Action`]s that
//! change this state; [`App::draw`] renders it without side effects.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use dumptrace_correlate::Analysis;
use ratatui::crossterm::event::{
    KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEvent, MouseEventKind,
};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;
use regex::Regex;

use crate::background::Background;
use crate::data::{Inputs, Joined, Node};
use crate::detail::{self, Detail};
use crate::events::{utc, Events};
use crate::export::{self, Format};
use crate::goto;
use crate::keymap::{self, Action, KEYS};
use crate::logfile::LogFiles;
use crate::prompt::{Ask, Prompt};
use crate::scan::{self, Job, Outcome, Scanner, Shared};
use crate::screen::{list_height, Chains, Ctx, Findings, Screen, Threads, Timeline};
use crate::text::{self, Filter, Theme};

const FINDINGS: usize = 0;
const CHAINS: usize = 1;
const THREADS: usize = 2;
const TIMELINE: usize = 3;
const SCREENS: [&str; 4] = ["Findings", "Wait chains", "Threads", "Timeline"];
/// Rows the mouse wheel moves.
const WHEEL: isize = 3;

/// The data the screens look at.
struct Data {
    analysis: Analysis,
    events: Arc<Events>,
    joined: Joined,
    images: Arc<HashMap<u32, String>>,
    offset_ns: i64,
    theme: Theme,
    /// The dump's zone: what a local time typed at `t` is in.
    zone: Option<chrono::FixedOffset>,
}

impl Data {
    fn cx(&self, focus: Option<(u32, u32)>) -> Ctx<'_> {
        Ctx {
            a: &self.analysis,
            ev: &self.events,
            j: &self.joined,
            images: &self.images,
            offset_ns: self.offset_ns,
            theme: self.theme,
            focus,
        }
    }
}

#[derive(Default)]
struct Screens {
    findings: Findings,
    chains: Chains,
    threads: Threads,
    timeline: Timeline,
}

impl Screens {
    fn get(&self, i: usize) -> &dyn Screen {
        match i {
            FINDINGS => &self.findings,
            CHAINS => &self.chains,
            THREADS => &self.threads,
            _ => &self.timeline,
        }
    }

    fn get_mut(&mut self, i: usize) -> &mut dyn Screen {
        match i {
            FINDINGS => &mut self.findings,
            CHAINS => &mut self.chains,
            THREADS => &mut self.threads,
            _ => &mut self.timeline,
        }
    }
}

/// What the detail pane was built for: screen, row, analysis number, focus thread.
type DetailKey = (usize, usize, u64, Option<(u32, u32)>);

/// The browser's state.
pub struct App {
    data: Data,
    screens: Screens,
    current: usize,
    /// Keys scroll the detail pane instead of the list.
    in_detail: bool,
    detail: Detail,
    detail_scroll: usize,
    detail_key: Option<DetailKey>,
    logs: LogFiles,
    /// The thread picked last (its events stand out in the timeline).
    focus: Option<(u32, u32)>,
    /// The finding Enter came from: its evidence shows with its thread.
    evidence: Option<usize>,
    search: Option<Regex>,
    prompt: Option<Prompt>,
    status: String,
    help: bool,
    quit: bool,
    size: Rect,
    /// Re-correlation with the offset `o` set.
    worker: Background<Option<f64>, Analysis>,
    /// The timeline's search and filter.
    scanner: Scanner,
    /// `o`'s value in force; `None` = the command line's choice.
    offset_override: Option<f64>,
    /// Counts analyses (the first is 1).
    generation: u64,
}

/// Header, list, detail, key bar.
fn areas(area: Rect) -> [Rect; 4] {
    let [header, main, bar] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(6),
        Constraint::Length(1),
    ])
    .areas(area);
    let [list, detail] = if main.width >= 140 {
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(main)
    } else {
        Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(main)
    };
    [header, list, detail, bar]
}

/// `WAIT UserRequest` per thread, for the timeline filter's `s:`.
fn states(inputs: &Inputs) -> HashMap<(u32, u32), String> {
    inputs
        .snapshot
        .threads
        .iter()
        .map(|t| {
            let reason = t.state.wait_reason().unwrap_or("");
            ((t.pid, t.tid), format!("{} {reason}", t.state.name()))
        })
        .collect()
}

fn images(inputs: &Inputs) -> HashMap<u32, String> {
    let mut m: HashMap<u32, String> = inputs
        .snapshot
        .processes
        .iter()
        .map(|p| (p.pid, p.image.clone()))
        .collect();
    for t in &inputs.snapshot.threads {
        if let Some(i) = &t.image {
            m.entry(t.pid).or_insert_with(|| i.to_string());
        }
    }
    m
}

impl App {
    /// Correlates the inputs and indexes the trace events (the slow part: it
    /// reads every event once), then opens on the findings.
    pub fn new(inputs: Inputs) -> App {
        let inputs = Arc::new(inputs);
        let mut analysis = inputs.correlate(None);
        let mut events = Events::new(&inputs.traces);
        analysis.notes.append(&mut events.notes);
        let events = Arc::new(events);
        let offset_ns = (analysis.alignment.offset_seconds * 1e9).round() as i64;
        let joined = Joined::new(&analysis, &events, offset_ns);
        let images = Arc::new(images(&inputs));
        let scanner = scan::spawn(Shared {
            events: events.clone(),
            images: images.clone(),
            states: Arc::new(states(&inputs)),
        });
        let data = Data {
            images,
            analysis,
            events,
            joined,
            offset_ns,
            theme: Theme::from_env(),
            zone: inputs.snapshot.session_time.as_ref().and_then(|s| s.offset),
        };
        let worker_inputs = inputs.clone();
        let mut app = App {
            data,
            screens: Screens::default(),
            current: FINDINGS,
            in_detail: false,
            detail: Detail::default(),
            detail_scroll: 0,
            detail_key: None,
            logs: LogFiles::default(),
            focus: None,
            evidence: None,
            search: None,
            prompt: None,
            status: String::new(),
            help: false,
            quit: false,
            size: Rect::new(0, 0, 80, 24),
            worker: Background::spawn(move |offset, _| Some(worker_inputs.correlate(offset))),
            scanner,
            offset_override: None,
            generation: 1,
        };
        app.focus = app
            .data
            .analysis
            .chains
            .first()
            .map(|c| (c.root.pid, c.root.tid));
        app.refresh_screens();
        app.sync_detail();
        app
    }
}

impl App {
    pub fn should_quit(&self) -> bool {
        self.quit
    }

    /// Whether a re-correlation, search or filter is running.
    pub fn busy(&self) -> bool {
        self.worker.busy() || self.scanner.busy()
    }

    /// The terminal's size: pages and the views' heights follow it.
    pub fn set_size(&mut self, width: u16, height: u16) {
        self.size = Rect::new(0, 0, width, height);
    }

    /// Takes finished background work (re-correlation, search, filter), if
    /// any arrived; true when the view changed.
    pub fn poll(&mut self) -> bool {
        let analysis = self.worker.take(false).map(|a| self.set_analysis(a));
        let scan = self.scanner.take(false).map(|o| self.scanned(o));
        analysis.is_some() || scan.is_some()
    }

    /// Waits for running background work (headless drivers: tests, benchmarks).
    pub fn settle(&mut self) {
        if let Some(a) = self.worker.take(true) {
            self.set_analysis(a);
        }
        if let Some(o) = self.scanner.take(true) {
            self.scanned(o);
        }
    }

    fn scanned(&mut self, o: Outcome) {
        let h = self.page(TIMELINE);
        let cx = self.data.cx(self.focus);
        let t = &mut self.screens.timeline;
        self.status = match o {
            Outcome::Filtered(f, view) => t.set_view(&cx, f, view),
            Outcome::Found(re, Some(pos)) => {
                let len = t.len(&cx);
                t.scroll_mut().set(pos, len, h);
                format!("/{}/: event {} of {len}", re.as_str(), pos + 1)
            }
            Outcome::Found(re, None) => format!("/{}/: no match in the timeline", re.as_str()),
        };
        self.sync_detail();
    }

    fn set_analysis(&mut self, a: Analysis) {
        let d = &mut self.data;
        d.offset_ns = (a.alignment.offset_seconds * 1e9).round() as i64;
        d.joined = Joined::new(&a, &d.events, d.offset_ns);
        d.analysis = a;
        self.generation += 1;
        self.refresh_screens();
        self.status = format!(
            "re-correlated: offset {:+.3} s, {} findings",
            self.data.analysis.alignment.offset_seconds,
            self.data.analysis.findings.len()
        );
        self.sync_detail();
    }

    fn refresh_screens(&mut self) {
        let cx = self.data.cx(self.focus);
        for i in 0..SCREENS.len() {
            let s = self.screens.get_mut(i);
            s.refresh(&cx);
            let len = s.len(&cx);
            let sc = s.scroll_mut();
            sc.sel = sc.sel.min(len.saturating_sub(1));
        }
    }

    /// Rows a page of screen `i` holds at the current size.
    fn page(&self, i: usize) -> usize {
        let [_, list, _, _] = areas(self.size);
        let list = if i == TIMELINE {
            Timeline::areas(list).1
        } else {
            list
        };
        list_height(list, i == THREADS).max(1)
    }

    fn detail_page(&self) -> usize {
        let [_, _, d, _] = areas(self.size);
        (d.height as usize).saturating_sub(2).max(1)
    }

    pub fn on_mouse(&mut self, m: MouseEvent) {
        let delta = match m.kind {
            MouseEventKind::ScrollDown => WHEEL,
            MouseEventKind::ScrollUp => -WHEEL,
            _ => return,
        };
        self.move_by(delta);
        self.sync_detail();
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
        if let Some(p) = self.prompt.take() {
            self.on_prompt_key(p, key);
        } else if let Some(a) = keymap::action(key) {
            self.status.clear();
            self.act(a);
        }
        self.sync_detail();
    }

    fn act(&mut self, a: Action) {
        match a {
            Action::Quit => self.quit = true,
            Action::Help => self.help = true,
            Action::NextScreen => self.show((self.current + 1) % SCREENS.len()),
            Action::PrevScreen => self.show((self.current + SCREENS.len() - 1) % SCREENS.len()),
            Action::Screen(i) => self.show(i.min(SCREENS.len() - 1)),
            Action::FocusDetail => self.in_detail = true,
            Action::FocusList | Action::Back => self.in_detail = false,
            Action::Up => self.move_by(-1),
            Action::Down => self.move_by(1),
            Action::PageUp => self.move_by(-(self.page_rows() as isize)),
            Action::PageDown => self.move_by(self.page_rows() as isize),
            Action::Top => self.move_by(isize::MIN / 2),
            Action::Bottom => self.move_by(isize::MAX / 2),
            Action::Open => self.open(),
            Action::Search => self.ask(Ask::Search, String::new()),
            Action::SearchNext => self.find(true),
            Action::SearchPrev => self.find(false),
            Action::Filter => self.ask(Ask::Filter, String::new()),
            Action::Sort | Action::Reverse => {
                if self.current == THREADS {
                    let cx = self.data.cx(self.focus);
                    self.status = self.screens.threads.sort(&cx, a == Action::Sort);
                } else {
                    self.status = "s and r sort the Threads screen (3)".into();
                }
            }
            Action::GoToTime => self.ask(Ask::Time, String::new()),
            Action::Offset => {
                let now = format!("{:+.3}", self.data.analysis.alignment.offset_seconds);
                self.ask(
                    Ask::Offset {
                        before: self.offset_override,
                    },
                    now,
                );
            }
            Action::Export => {
                let name = SCREENS[self.current].to_lowercase().replace(' ', "-");
                self.ask(Ask::Export, format!("dumptrace-{name}.csv"));
            }
        }
    }

    fn show(&mut self, screen: usize) {
        self.current = screen;
        self.in_detail = false;
    }

    fn page_rows(&self) -> usize {
        if self.in_detail {
            self.detail_page()
        } else {
            self.page(self.current)
        }
    }

    fn move_by(&mut self, delta: isize) {
        if self.in_detail {
            let last = self.detail.lines.len().saturating_sub(1) as isize;
            self.detail_scroll = (self.detail_scroll as isize)
                .saturating_add(delta)
                .clamp(0, last) as usize;
            return;
        }
        let h = self.page(self.current);
        let cx = self.data.cx(self.focus);
        let s = self.screens.get_mut(self.current);
        let len = s.len(&cx);
        s.scroll_mut().go(delta, len, h);
    }

    fn ask(&mut self, ask: Ask, text: String) {
        self.prompt = Some(Prompt::new(ask, text));
    }

    /// Enter: from a finding or a chain's thread to that thread; from a thread to its
    /// wait in the timeline.
    fn open(&mut self) {
        let a = &self.data.analysis;
        match self.current {
            FINDINGS => {
                let sel = self.screens.findings.scroll().sel;
                let Some(f) = a.findings.get(sel) else { return };
                let (rank, chain) = (f.rank, f.chain);
                let thread = f
                    .pid
                    .zip(f.tid)
                    .and_then(|(p, t)| self.data.joined.thread(p, t));
                match (thread, chain) {
                    (Some(t), _) => {
                        self.evidence = Some(sel);
                        self.open_thread(t, &format!("finding {rank}"));
                    }
                    (None, Some(c)) => {
                        let h = self.page(CHAINS);
                        let cx = self.data.cx(self.focus);
                        self.screens
                            .chains
                            .select_chain(&cx, c.saturating_sub(1), h);
                        self.show(CHAINS);
                    }
                    (None, None) => self.status = "this finding names no thread or chain".into(),
                }
            }
            CHAINS => {
                let row = self.data.joined.tree.get(self.screens.chains.scroll().sel);
                let thread = row.and_then(|r| match &r.node {
                    Node::Thread { thread, .. } => Some(*thread),
                    Node::Chain(c) => {
                        let root = a.chains[*c].root;
                        self.data.joined.thread(root.pid, root.tid)
                    }
                    _ => None,
                });
                match thread {
                    Some(t) => {
                        self.evidence = None;
                        self.open_thread(t, "wait chain");
                    }
                    None => self.in_detail = true,
                }
            }
            THREADS => {
                if let Some(t) = self.screens.threads.selected() {
                    self.wait_in_timeline(t);
                }
            }
            _ => self.in_detail = true,
        }
    }

    /// Focuses thread `t` and shows it on the Threads screen, its THREAD block in the
    /// detail pane; the timeline is moved to its wait for the next Enter. `from` says
    /// where Enter was pressed.
    fn open_thread(&mut self, t: usize, from: &str) {
        let th = &self.data.analysis.threads[t];
        let (pid, tid) = (th.pid, th.tid);
        self.focus = Some((pid, tid));
        let (h, ht) = (self.page(THREADS), self.page(TIMELINE));
        let cx = self.data.cx(self.focus);
        self.screens.threads.select(&cx, t, h);
        if let Some(w) = cx.focus_wait_ns() {
            self.screens.timeline.go_to(&cx, w, ht);
        }
        self.show(THREADS);
        self.status = format!(
            "{from}: thread {}; Enter again for its wait in the timeline",
            text::cid(Some(pid), Some(tid))
        );
    }

    /// Focuses thread `t` and shows the timeline at its wait start.
    fn wait_in_timeline(&mut self, t: usize) {
        let th = &self.data.analysis.threads[t];
        self.focus = Some((th.pid, th.tid));
        let h = self.page(TIMELINE);
        let cx = self.data.cx(self.focus);
        match cx.focus_wait_ns() {
            Some(w) if !cx.ev.is_empty() => {
                self.screens.timeline.go_to(&cx, w, h);
                self.show(TIMELINE);
            }
            Some(_) => self.status = "no trace events: give a trace input for the timeline".into(),
            None => {
                self.status = format!(
                    "{} has no wait start (it is not waiting)",
                    text::cid(Some(th.pid), Some(th.tid))
                )
            }
        }
    }

    fn find(&mut self, forward: bool) {
        let Some(re) = self.search.clone() else {
            self.status = "no search yet: press / first".into();
            return;
        };
        if self.current == TIMELINE {
            self.scanner.request(Job::Search {
                re: re.clone(),
                view: self.screens.timeline.view(),
                from: self.screens.timeline.scroll().sel,
                forward,
            });
            self.status = format!("/{}/: searching the timeline...", re.as_str());
            return;
        }
        let h = self.page(self.current);
        let cx = self.data.cx(self.focus);
        let s = self.screens.get_mut(self.current);
        let len = s.len(&cx);
        let start = s.scroll().sel;
        for k in 1..=len {
            let i = if forward {
                (start + k) % len
            } else {
                (start + len - k % len) % len
            };
            if re.is_match(&s.text(&cx, i)) {
                s.scroll_mut().set(i, len, h);
                self.status = format!("/{}/: row {} of {len}", re.as_str(), i + 1);
                return;
            }
        }
        self.status = format!("/{}/: no match in {}", re.as_str(), SCREENS[self.current]);
    }

    fn on_prompt_key(&mut self, mut p: Prompt, key: KeyEvent) {
        if let Ask::Overwrite(path) = &p.ask {
            if key.code == KeyCode::Char('y') {
                let path = path.clone();
                self.export(&path);
            } else {
                self.status = "export cancelled: the file is kept".into();
            }
            return;
        }
        let nudge = match key.code {
            KeyCode::Up => Some(0.1),
            KeyCode::Down => Some(-0.1),
            KeyCode::PageUp => Some(1.0),
            KeyCode::PageDown => Some(-1.0),
            _ => None,
        };
        match key.code {
            KeyCode::Esc => {
                if let Ask::Offset { before } = p.ask {
                    if self.offset_override != before {
                        self.offset_override = before;
                        self.worker.request(before);
                    }
                }
                return;
            }
            KeyCode::Enter => return self.submit(p),
            _ if p.line.key(key) => {}
            _ if matches!(p.ask, Ask::Offset { .. }) && nudge.is_some() => {
                let now = p
                    .line
                    .text()
                    .trim()
                    .parse::<f64>()
                    .unwrap_or(self.data.analysis.alignment.offset_seconds);
                let v = ((now + nudge.unwrap_or(0.0)) * 1000.0).round() / 1000.0;
                p.line.set(format!("{v:+.3}"));
                // Live: correlation re-runs off the UI thread at each step.
                self.offset_override = Some(v);
                self.worker.request(Some(v));
            }
            _ => {}
        }
        self.prompt = Some(p);
    }

    fn submit(&mut self, p: Prompt) {
        let cx = self.data.cx(self.focus);
        match p.ask {
            Ask::Search => match text::regex(p.line.text()) {
                Ok(re) => {
                    self.search = Some(re);
                    self.find(true);
                }
                Err(e) => self.status = e,
            },
            Ask::Filter => match Filter::parse(p.line.text()) {
                Ok(f) if self.current == TIMELINE => {
                    self.status = format!("filtering {} events...", cx.ev.len());
                    self.scanner.request(Job::Filter(f));
                }
                Ok(f) => {
                    let r = self.screens.get_mut(self.current).filter(&cx, f);
                    self.status = r.unwrap_or_else(|e| e);
                }
                Err(e) => self.status = e,
            },
            Ask::Time => {
                let at = self
                    .screens
                    .timeline
                    .selected(&cx)
                    .map(|i| utc(cx.ev.time(i), cx.offset_ns));
                let zone = self.data.zone;
                let clocks = goto::Clocks {
                    day_utc: at.map(|t| t.date_naive()),
                    day_local: at.zip(zone).map(|(t, z)| t.with_timezone(&z).date_naive()),
                    zone,
                    dump_ns: cx.dump_ns(),
                    window: cx.ev.span().map(|(lo, hi)| {
                        (
                            lo.saturating_add(cx.offset_ns),
                            hi.saturating_add(cx.offset_ns),
                        )
                    }),
                };
                match goto::resolve(p.line.text(), &clocks) {
                    Ok(t) => {
                        let h = self.page(TIMELINE);
                        self.screens.timeline.go_to(&cx, t.ns, h);
                        self.show(TIMELINE);
                        self.status = t.said;
                    }
                    Err(e) => self.status = e,
                }
            }
            Ask::Offset { .. } => match p.line.text().trim().parse::<f64>() {
                Ok(v) if v.is_finite() => {
                    if Some(v) != self.offset_override {
                        self.offset_override = Some(v);
                        self.worker.request(Some(v));
                    }
                }
                _ => self.status = format!("'{}': not a number of seconds", p.line.text()),
            },
            Ask::Export => {
                let path = PathBuf::from(p.line.text().trim());
                match Format::of(&path) {
                    Err(e) => self.status = e,
                    Ok(_) if path.exists() => self.ask(Ask::Overwrite(path), String::new()),
                    Ok(_) => self.export(&path),
                }
            }
            Ask::Overwrite(_) => {}
        }
    }

    fn export(&mut self, path: &std::path::Path) {
        let format = match Format::of(path) {
            Ok(f) => f,
            Err(e) => {
                self.status = e;
                return;
            }
        };
        let cx = self.data.cx(self.focus);
        let table = self.screens.get(self.current).table(&cx);
        self.status = match export::write(table, path, format) {
            Ok(n) => format!("wrote {n} rows to {}", path.display()),
            Err(e) => format!("{}: cannot write: {e}", path.display()),
        };
    }

    /// Rebuilds the detail pane when what it shows changed.
    fn sync_detail(&mut self) {
        let sel = self.screens.get(self.current).scroll().sel;
        let key = (self.current, sel, self.generation, self.focus);
        if self.detail_key == Some(key) {
            return;
        }
        self.detail_key = Some(key);
        self.detail_scroll = 0;
        let cx = self.data.cx(self.focus);
        let from = self.evidence.and_then(|i| cx.a.findings.get(i));
        self.detail = match self.current {
            FINDINGS => detail::finding(&cx, sel),
            CHAINS => detail::tree_row(&cx, sel, &mut self.logs),
            THREADS => match self.screens.threads.selected() {
                Some(t) => detail::thread(&cx, t, &mut self.logs, from),
                None => Detail {
                    title: " Thread ".into(),
                    lines: vec![Line::from("No thread matches the filter.")],
                },
            },
            _ => match self.screens.timeline.selected(&cx) {
                Some(i) => detail::event(&cx, i),
                None => Detail::default(),
            },
        };
    }

    /// Renders the current state; no side effects.
    pub fn draw(&self, f: &mut Frame) {
        let [header, list, detail, bar] = areas(f.area());
        let cx = self.data.cx(self.focus);
        let th = cx.theme;
        let mut tabs: Vec<Span> = vec![Span::styled(" dumptrace ", th.selected())];
        for (i, name) in SCREENS.iter().enumerate() {
            let label = format!(" {} {name} ", i + 1);
            tabs.push(if i == self.current {
                Span::styled(label, th.selected())
            } else {
                Span::raw(label)
            });
        }
        let a = cx.a;
        // How the offset was chosen, in a word (the Findings detail has the full method).
        let method = match (self.offset_override, a.alignment.method.as_str()) {
            (Some(_), _) => "set with o",
            (None, m) if m.starts_with("estimated") => "estimated",
            (None, m) if m.starts_with("given") => "given with --offset",
            (None, _) => "none applied",
        };
        let summary = format!(
            " dump {}  offset {:+.3} s {}{}  {} threads  {} chains  {} findings  {} events",
            a.dump_time.as_deref().unwrap_or("time unknown"),
            a.alignment.offset_seconds,
            method,
            if self.worker.busy() {
                " (re-correlating...)"
            } else {
                ""
            },
            a.threads.len(),
            a.chains.len(),
            a.findings.len(),
            cx.ev.len(),
        );
        f.render_widget(
            Paragraph::new(vec![Line::from(tabs), Line::from(summary).style(th.dim())]),
            header,
        );
        self.screens
            .get(self.current)
            .draw(f, list, &cx, !self.in_detail);
        let block = Block::default()
            .borders(Borders::ALL)
            .title(self.detail.title.clone())
            .border_style(if self.in_detail {
                th.heading()
            } else {
                th.dim()
            });
        // Only the lines that can show are handed over (each takes at least a row).
        let shown: Vec<Line> = self
            .detail
            .lines
            .iter()
            .skip(self.detail_scroll)
            .take(detail.height as usize)
            .cloned()
            .collect();
        f.render_widget(
            Paragraph::new(shown)
                .wrap(Wrap { trim: false })
                .block(block),
            detail,
        );
        let bottom = match &self.prompt {
            Some(p) => prompt_line(p, th),
            None if !self.status.is_empty() => {
                Line::from(format!(" {}", text::clean(&self.status)))
            }
            None => Line::from(keymap::BAR).style(th.dim()),
        };
        f.render_widget(bottom, bar);
        if self.help {
            draw_help(f, th);
        }
    }
}

/// The prompt, its answer and the cursor: `_` at the end, else the character under it
/// drawn selected.
fn prompt_line(p: &Prompt, th: Theme) -> Line<'static> {
    let (before, after) = p.line.split();
    let mut chars = after.chars();
    let under = chars.next();
    let mut spans = vec![Span::raw(format!("{}{}", p.label(), text::clean(before)))];
    match under {
        None => spans.push(Span::raw("_")),
        Some(c) => {
            spans.push(Span::styled(
                text::clean(&c.to_string()).into_owned(),
                th.selected(),
            ));
            spans.push(Span::raw(text::clean(chars.as_str()).into_owned()));
        }
    }
    Line::from(spans)
}

fn draw_help(f: &mut Frame, th: Theme) {
    let area = f.area();
    let w = area.width.min(78);
    let h = (KEYS.len() as u16 + 3).min(area.height);
    let r = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    let mut lines: Vec<Line> = KEYS
        .iter()
        .map(|(k, d)| {
            Line::from(vec![
                Span::styled(format!("{k:<19}"), th.heading()),
                Span::raw(*d),
            ])
        })
        .collect();
    lines.push(
        Line::from("times show in UTC on the dump's clock; t reads UTC or the dump's local time")
            .style(th.dim()),
    );
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(" Keys ")),
        r,
    );
}
