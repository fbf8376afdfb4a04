//! The terminal browser over a correlated analysis, for engineers reading a
//! hung server's evidence over SSH, the way lnav users browse logs.
//!
//! [`run`] takes the loaded [`Inputs`] (the dump snapshot, the trace frames
//! and the clock options), correlates them and opens four screens: Findings,
//! Wait chains, Threads and Timeline, each with a detail pane. The clock offset
//! can be changed by hand (`o`); correlation then re-runs off the UI thread.
//!
//! [`App`] holds all state: [`App::on_key`] turns keys into state changes and
//! [`App::draw`] renders it without side effects, so tests and benchmarks drive
//! it headlessly with ratatui's `TestBackend`:
//!
//! ```no_run
//! # fn demo(inputs: dumptrace_tui::Inputs) {
//! use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
//! use ratatui::{backend::TestBackend, Terminal};
//!
//! let mut app = dumptrace_tui::App::new(inputs);
//! app.set_size(80, 24);
//! app.on_key(KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE));
//! let mut term = Terminal::new(TestBackend::new(80, 24)).expect("test backend");
//! term.draw(|f| app.draw(f)).expect("draw");
//! # }
//! ```
//!
//! Modules: `app` (state, keys), `prompt` (the prompts and their line editor), `keymap` (the key table the help is
//! drawn from), `screen/*` (one per screen), `detail` (the detail pane),
//! `events` (the merged trace events, read in place), `data` (the inputs and
//! the tables derived from an analysis), `logfile` (THREAD blocks read lazily
//! from the logs), `export` (`e`), `goto` (`t`: a typed time, UTC or local, within the trace), `background` and `scan` (work
//! off the UI thread: re-correlation, the timeline's search and filter), `text` (escaping, formats, filters, colours),
//! `terminal` (the terminal's setup and restore).

mod app;
mod background;
mod data;
mod detail;
mod events;
mod export;
mod goto;
mod keymap;
mod logfile;
mod prompt;
mod scan;
mod screen;
mod scroll;
mod terminal;
mod text;

pub use app::App;
pub use data::Inputs;
pub use terminal::run;

#[cfg(test)]
mod tests;
