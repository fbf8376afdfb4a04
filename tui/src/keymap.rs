//! Keys and what they do. [`KEYS`] is the one table the help overlay and the
//! key bar are drawn from, so every key that works is listed.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What a key asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    NextScreen,
    /// Straight to screen N (0-based).
    Screen(usize),
    PrevScreen,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    /// Left/h: back to the list.
    FocusList,
    /// Right/l: into the detail pane.
    FocusDetail,
    Open,
    Search,
    SearchNext,
    SearchPrev,
    Filter,
    Sort,
    Reverse,
    GoToTime,
    Offset,
    Export,
    Help,
    Back,
    Quit,
}

/// Key, what it does; in the order the help lists them.
pub(crate) const KEYS: &[(&str, &str)] = &[
    ("Tab / Shift-Tab", "next / previous screen"),
    ("1 2 3 4", "Findings, Wait chains, Threads, Timeline"),
    ("Up Down / k j", "move the selection; the mouse wheel too"),
    ("PgUp PgDn / ^B ^F", "a page up / down"),
    ("g G / Home End", "first / last row"),
    (
        "Right l / Left h",
        "into the detail pane / back to the list",
    ),
    ("Enter", "finding, chain node: its thread; thread: its wait"),
    ("/  n N", "search (regex, any case); next / previous match"),
    ("f", "filter: p:PROCESS t:TID s:STATE words; empty clears"),
    ("s / r", "Threads: next sort column / reverse the order"),
    (
        "t",
        "go to a time: HH:MM:SS UTC or local, RFC 3339, +/-SECS",
    ),
    ("o", "clock offset: Up/Down 0.1 s, PgUp/PgDn 1 s, or type"),
    ("e", "export this view to a .csv or .json file"),
    (
        "^A ^E ^U ^W ^K",
        "in a prompt: start / end; delete to start / word / to end",
    ),
    ("Esc", "close a prompt; back to the list"),
    ("?", "this help; any key closes it"),
    ("q / Ctrl-C", "quit"),
];

/// The key bar's short form.
pub(crate) const BAR: &str =
    " Tab screen  / find  f filter  t time  o offset  e export  ? keys  q quit";

/// The action of a key in list navigation, if it has one.
pub(crate) fn action(key: KeyEvent) -> Option<Action> {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    Some(match key.code {
        KeyCode::Char('c') if ctrl => Action::Quit,
        KeyCode::Char('f') if ctrl => Action::PageDown,
        KeyCode::Char('b') if ctrl => Action::PageUp,
        KeyCode::Char('q') => Action::Quit,
        KeyCode::Tab => Action::NextScreen,
        KeyCode::Char(c @ '1'..='4') => Action::Screen(c as usize - '1' as usize),
        KeyCode::BackTab => Action::PrevScreen,
        KeyCode::Up | KeyCode::Char('k') => Action::Up,
        KeyCode::Down | KeyCode::Char('j') => Action::Down,
        KeyCode::PageUp => Action::PageUp,
        KeyCode::PageDown => Action::PageDown,
        KeyCode::Home | KeyCode::Char('g') => Action::Top,
        KeyCode::End | KeyCode::Char('G') => Action::Bottom,
        KeyCode::Left | KeyCode::Char('h') => Action::FocusList,
        KeyCode::Right | KeyCode::Char('l') => Action::FocusDetail,
        KeyCode::Enter => Action::Open,
        KeyCode::Char('/') => Action::Search,
        KeyCode::Char('n') => Action::SearchNext,
        KeyCode::Char('N') => Action::SearchPrev,
        KeyCode::Char('f') => Action::Filter,
        KeyCode::Char('s') => Action::Sort,
        KeyCode::Char('r') => Action::Reverse,
        KeyCode::Char('t') => Action::GoToTime,
        KeyCode::Char('o') => Action::Offset,
        KeyCode::Char('e') => Action::Export,
        KeyCode::Char('?') => Action::Help,
        KeyCode::Esc => Action::Back,
        _ => return None,
    })
}
