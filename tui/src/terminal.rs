//! The real terminal: raw mode, the alternate screen and mouse capture on the
//! way in; all three undone on the way out, on `q`, Ctrl-C (a key in raw mode)
//! and on panic, before the panic message prints.

use std::io::{self, stdout};
use std::time::Duration;

use ratatui::crossterm::event::{self, DisableMouseCapture, EnableMouseCapture, Event};
use ratatui::crossterm::execute;

use crate::{App, Inputs};

/// How often the loop looks for a finished re-correlation while one runs.
const BUSY_POLL: Duration = Duration::from_millis(50);
const IDLE_POLL: Duration = Duration::from_millis(500);

/// Opens the browser on the terminal; returns when the user quits.
pub fn run(inputs: Inputs) -> io::Result<()> {
    use std::io::IsTerminal;
    // Without a terminal, raw mode fails deep in crossterm (or the screen is written
    // into a pipe): say so plainly instead.
    if !io::stdin().is_terminal() || !io::stdout().is_terminal() {
        return Err(io::Error::other(
            "tui needs a terminal on standard input and output; in a pipe or a script use `dumptrace analyze` (or `--json`) or `dumptrace export`",
        ));
    }
    let mut app = App::new(inputs);
    // `ratatui::init` enters raw mode and the alternate screen and installs a
    // panic hook that restores both; ours runs first and releases the mouse.
    let mut terminal = ratatui::init();
    let ratatui_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = execute!(stdout(), DisableMouseCapture);
        ratatui_hook(info);
    }));
    let result = execute!(stdout(), EnableMouseCapture).and_then(|()| loop {
        let size = terminal.size()?;
        app.set_size(size.width, size.height);
        terminal.draw(|f| app.draw(f))?;
        if app.should_quit() {
            return Ok(());
        }
        let wait = if app.busy() { BUSY_POLL } else { IDLE_POLL };
        if event::poll(wait)? {
            match event::read()? {
                Event::Key(k) => app.on_key(k),
                Event::Mouse(m) => app.on_mouse(m),
                Event::Resize(w, h) => app.set_size(w, h),
                _ => {}
            }
        }
        app.poll();
    });
    let _ = execute!(stdout(), DisableMouseCapture);
    ratatui::restore();
    result
}
