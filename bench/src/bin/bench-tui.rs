//! The terminal browser at scale: the synthetic incident (N threads, M trace
//! events; see `dumptrace_bench::incident`) loaded into the app, then keys sent
//! headlessly and each one timed from the key to the finished frame (state
//! change plus a full draw into ratatui's `TestBackend`, which diffs the frame
//! as a real terminal backend does). The target is at most 50 ms per key at
//! ten million events.
//!
//! `bench-tui [--threads N] [--events M] [--seed S] [--width W] [--height H]`
//!
//! ```text
//! cargo run --release -p dumptrace-bench --bin bench-tui -- --threads 20000 --events 10000000
//! ```
//!
//! One line per key: how many presses, median, 99th percentile and worst
//! key-to-frame time; then startup (correlation plus the timeline's index) and
//! peak memory. Keys whose work is proportional to the data by nature (search,
//! filter, re-correlation) run off the UI thread: their lines give the key's
//! own time and when the frame with the result came.

use std::time::{Duration, Instant};

use dumptrace_bench::incident::{trace, world};
use dumptrace_bench::{arg, peak_rss_bytes, Rng};
use dumptrace_correlate::TraceSource;
use dumptrace_tui::{App, Inputs};
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEvent, MouseEventKind};
use ratatui::Terminal;

struct Bench {
    app: App,
    term: Terminal<TestBackend>,
}

impl Bench {
    fn frame(&mut self) {
        let app = &self.app;
        if let Err(e) = self.term.draw(|f| app.draw(f)) {
            eprintln!("bench-tui: draw failed: {e}");
            std::process::exit(2);
        }
    }

    /// Presses `code`, draws, and returns the time from key to frame.
    fn key(&mut self, code: KeyCode) -> Duration {
        let t = Instant::now();
        self.app.on_key(KeyEvent::new(code, KeyModifiers::NONE));
        self.frame();
        t.elapsed()
    }

    /// Types `text` and Enter; returns the time of the Enter (the work).
    fn submit(&mut self, text: &str) -> Duration {
        for c in text.chars() {
            self.key(KeyCode::Char(c));
        }
        self.key(KeyCode::Enter)
    }

    fn wheel(&mut self) -> Duration {
        let t = Instant::now();
        self.app.on_mouse(MouseEvent {
            kind: MouseEventKind::ScrollDown,
            column: 0,
            row: 0,
            modifiers: KeyModifiers::NONE,
        });
        self.frame();
        t.elapsed()
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn report(name: &str, mut times: Vec<Duration>) -> f64 {
    times.sort();
    let n = times.len();
    let at = |q: f64| times[((n as f64 - 1.0) * q).round() as usize];
    println!(
        "bench-tui  key={name:<24} n={n:<4} median={:>7.3} ms  p99={:>7.3} ms  max={:>7.3} ms",
        ms(at(0.5)),
        ms(at(0.99)),
        ms(times[n - 1])
    );
    ms(times[n - 1])
}

/// A key whose work runs in the background: its key-to-frame time, then the
/// time until the frame with the result.
fn background(b: &mut Bench, name: &str, press: impl FnOnce(&mut Bench) -> Duration) {
    let key = press(b);
    let t = Instant::now();
    b.app.settle();
    b.frame();
    println!(
        "bench-tui  key={name:<24} key-to-frame={:>7.3} ms  result frame after {:.3} s",
        ms(key),
        (t.elapsed() + key).as_secs_f64()
    );
}

fn repeat(b: &mut Bench, n: usize, mut f: impl FnMut(&mut Bench) -> Duration) -> Vec<Duration> {
    (0..n).map(|_| f(b)).collect()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let threads = arg(&args, "--threads", 20_000) as u32;
    let events = arg(&args, "--events", 10_000_000);
    let width = arg(&args, "--width", 200) as u16;
    let height = arg(&args, "--height", 50) as u16;
    let mut rng = Rng::new(arg(&args, "--seed", 20091009));
    let gen = Instant::now();
    let w = world(threads, &mut rng);
    let frame = match trace(&w, events, &mut rng) {
        Ok(df) => df,
        Err(e) => {
            eprintln!("bench-tui: building the trace frame: {e}");
            std::process::exit(2);
        }
    };
    let rows = frame.height();
    eprintln!(
        "generated {} threads, {rows} events in {:.1} s",
        w.snapshot.threads.len(),
        gen.elapsed().as_secs_f64()
    );
    // The generator's own peak (the messages as Strings, then the frame), to
    // tell it apart from what the app adds.
    let generated_peak = peak_rss_bytes().unwrap_or(0);
    let start = Instant::now();
    let app = App::new(Inputs {
        snapshot: w.snapshot,
        traces: vec![TraceSource {
            label: "synthetic.txt".into(),
            frame,
        }],
        options: Default::default(),
        inputs: Vec::new(),
        notes: Vec::new(),
    });
    let startup = start.elapsed();
    let term = match Terminal::new(TestBackend::new(width, height)) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("bench-tui: test backend: {e}");
            std::process::exit(2);
        }
    };
    let mut b = Bench { app, term };
    b.app.set_size(width, height);
    let first = Instant::now();
    b.frame();
    let first = first.elapsed();
    println!(
        "bench-tui  threads={threads} events={rows} size={width}x{height}  startup={:.3} s (correlation + timeline index)  first frame={:.3} ms",
        startup.as_secs_f64(),
        ms(first)
    );

    let mut worst: f64 = 0.0;
    // Navigation on every screen: the keys an engineer presses most.
    for (screen, name) in [
        ('1', "findings"),
        ('2', "chains"),
        ('3', "threads"),
        ('4', "timeline"),
    ] {
        b.key(KeyCode::Char(screen));
        worst = worst.max(report(
            &format!("{name} j"),
            repeat(&mut b, 200, |b| b.key(KeyCode::Char('j'))),
        ));
        worst = worst.max(report(
            &format!("{name} PgDn"),
            repeat(&mut b, 50, |b| b.key(KeyCode::PageDown)),
        ));
        worst = worst.max(report(
            &format!("{name} PgUp"),
            repeat(&mut b, 50, |b| b.key(KeyCode::PageUp)),
        ));
        worst = worst.max(report(
            &format!("{name} G/g"),
            repeat(&mut b, 20, |b| {
                let g = b.key(KeyCode::Char('G'));
                g.max(b.key(KeyCode::Char('g')))
            }),
        ));
        worst = worst.max(report(
            &format!("{name} Tab"),
            repeat(&mut b, 8, |b| {
                let t = b.key(KeyCode::Tab);
                b.key(KeyCode::BackTab);
                t
            }),
        ));
    }
    b.key(KeyCode::Char('4'));
    worst = worst.max(report("timeline wheel", repeat(&mut b, 100, Bench::wheel)));
    worst = worst.max(report(
        "timeline detail l/h",
        repeat(&mut b, 20, |b| {
            let t = b.key(KeyCode::Char('l'));
            t.max(b.key(KeyCode::Char('h')))
        }),
    ));
    worst = worst.max(report("threads s (sort)", {
        b.key(KeyCode::Char('3'));
        repeat(&mut b, 12, |b| b.key(KeyCode::Char('s')))
    }));
    // Enter on the first chain's root: the timeline at its wait start.
    b.key(KeyCode::Char('2'));
    b.key(KeyCode::Char('g'));
    worst = worst.max(report(
        "chains Enter (to wait)",
        repeat(&mut b, 10, |b| {
            let t = b.key(KeyCode::Enter);
            b.key(KeyCode::Char('2'));
            t
        }),
    ));
    b.key(KeyCode::Char('4'));
    worst = worst.max(report(
        "timeline t (go to time)",
        repeat(&mut b, 10, |b| {
            b.key(KeyCode::Char('t'));
            b.submit("-1800")
        }),
    ));
    println!("bench-tui  worst navigation key-to-frame={worst:.3} ms (target <= 50 ms)");

    // Work proportional to the data, by nature of the key, runs off the UI
    // thread: the key answers at once, the result follows.
    b.key(KeyCode::Char('/'));
    background(&mut b, "search, no match", |b| {
        b.submit("no such text anywhere")
    });
    b.key(KeyCode::Char('/'));
    background(&mut b, "search, next match", |b| {
        b.submit("completed in 39 ms")
    });
    background(&mut b, "search n", |b| b.key(KeyCode::Char('n')));
    b.key(KeyCode::Char('f'));
    background(&mut b, "filter t:1004", |b| b.submit("t:1004"));
    report(
        "filtered j",
        repeat(&mut b, 100, |b| b.key(KeyCode::Char('j'))),
    );
    b.key(KeyCode::Char('f'));
    background(&mut b, "filter text", |b| b.submit("completed in 3 ms"));
    b.key(KeyCode::Char('f'));
    background(&mut b, "filter clear", |b| b.submit(""));
    b.key(KeyCode::Char('o'));
    background(&mut b, "offset Up (re-correlate)", |b| b.key(KeyCode::Up));
    b.key(KeyCode::Enter);
    println!(
        "bench-tui  peak_rss={} B (after generating the input: {generated_peak} B)",
        peak_rss_bytes().unwrap_or(0)
    );
}
