//! Correlation at scale: a synthetic incident with N threads (critical-section
//! chains of 50 waiters in many processes, the rest idle) and M trace events
//! (the chains' waiters stop logging at their wait start, each owner logs a
//! periodic error), then `dumptrace_correlate::analyze` timed alone.
//!
//! `bench-correlate [--threads N] [--events M] [--seed S] [--runs R]`; the analysis
//! runs R times (default 3) over the same input and the fastest and median runs are
//! printed (a shared machine makes single runs vary by a third). Run at three
//! sizes to see how cost grows:
//!
//! ```text
//! cargo run --release -p dumptrace-bench --bin bench-correlate -- --threads 20000 --events 5000000
//! cargo run --release -p dumptrace-bench --bin bench-correlate -- --threads 200000 --events 50000000
//! ```

use std::time::Instant;

use dumptrace_bench::incident::{trace, world};
use dumptrace_bench::{arg, measure, Rng};
use dumptrace_correlate::{analyze, TraceSource};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let threads = arg(&args, "--threads", 200_000) as u32;
    let events = arg(&args, "--events", 50_000_000);
    let mut rng = Rng::new(arg(&args, "--seed", 20091009));
    let gen = Instant::now();
    let w = world(threads, &mut rng);
    let df = match trace(&w, events, &mut rng) {
        Ok(df) => df,
        Err(e) => {
            eprintln!("bench-correlate: building the trace frame: {e}");
            std::process::exit(2);
        }
    };
    eprintln!(
        "generated {} threads, {} events in {:.1} s",
        w.snapshot.threads.len(),
        df.height(),
        gen.elapsed().as_secs_f64()
    );
    let sources = [TraceSource {
        label: "synthetic.txt".into(),
        frame: df,
    }];
    let rows = sources[0].frame.height() as u64;
    let runs = arg(&args, "--runs", 3).max(1);
    let mut chains = 0;
    let mut top = String::new();
    let mut walls = Vec::new();
    for _ in 0..runs {
        let f = measure("bench-correlate", 0, || {
            let a = analyze(&w.snapshot, &sources, &Default::default());
            chains = a.chains.len();
            top = a
                .findings
                .first()
                .map(|f| f.kind.clone())
                .unwrap_or_default();
            rows
        });
        walls.push(f.wall.as_secs_f64());
    }
    walls.sort_by(f64::total_cmp);
    let best = walls[0];
    println!(
        "bench-correlate  threads={}  events={rows}  chains={chains}  top={top}  wall={best:.3} s (fastest of {runs}; median {:.3} s)  {:.0} events/s",
        w.snapshot.threads.len(),
        walls[walls.len() / 2],
        rows as f64 / best.max(1e-9)
    );
}
