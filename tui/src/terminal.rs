//! The real terminal: raw mode, the alternate screen and mouse capture on the
//! way in; all three undone on the way out, on `q`, Ctrl-C (a key in raw mode),
//! on panic, before the panic message prints, and on SIGTERM, SIGHUP (the SSH
//! session or the terminal window closed) and SIGINT from outside: those only
//! raise a flag the event loop reads, and once the terminal is restored the
//! process ends by the same signal, so the parent sees how it ended.

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
    let signals = signals::Signals::register();
    let result = execute!(stdout(), EnableMouseCapture).and_then(|()| loop {
        if signals.received().is_some() {
            return Ok(());
        }
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
    signals.finish();
    result
}

/// The termination signals, caught while the terminal is ours.
#[cfg(unix)]
mod signals {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    use signal_hook::SigId;

    pub(super) struct Signals {
        /// The signal that arrived last; 0 for none.
        got: Arc<AtomicUsize>,
        ids: Vec<SigId>,
    }

    impl Signals {
        /// Catches the signals; one that cannot be caught keeps its default action
        /// (the terminal is then left as the signal finds it, as before).
        pub(super) fn register() -> Signals {
            let got = Arc::new(AtomicUsize::new(0));
            let ids = [SIGTERM, SIGHUP, SIGINT]
                .into_iter()
                .filter_map(|sig| {
                    signal_hook::flag::register_usize(sig, got.clone(), sig as usize).ok()
                })
                .collect();
            Signals { got, ids }
        }

        pub(super) fn received(&self) -> Option<i32> {
            match self.got.load(Ordering::SeqCst) {
                0 => None,
                sig => i32::try_from(sig).ok(),
            }
        }

        /// Gives the signals back their default action and, if one arrived, ends
        /// the process by it (exit status 128 + N in a shell).
        pub(super) fn finish(self) {
            for id in self.ids.iter().copied() {
                signal_hook::low_level::unregister(id);
            }
            if let Some(sig) = self.received() {
                let _ = signal_hook::low_level::emulate_default_handler(sig);
            }
        }
    }
}

/// Without Unix signals there is nothing to catch: the loop never sees one.
#[cfg(not(unix))]
mod signals {
    pub(super) struct Signals;

    impl Signals {
        pub(super) fn register() -> Signals {
            Signals
        }

        pub(super) fn received(&self) -> Option<i32> {
            None
        }

        pub(super) fn finish(self) {}
    }
}
