//! Reads one WinDbg/kd log with `dumptrace_dump::read_path_on` and prints throughput
//! and peak memory against the input size. One thread unless `--threads N` says more
//! (the log is then cut into N parts read at once, as `dumptrace dump` does on N cores).
//!
//! ```text
//! bench-windbg FILE [--threads N]
//! ```
//! Inputs come from `gen-windbg` (a `!process 0 ff` log of any size, fixed seed).

use std::path::Path;

use dumptrace_bench::{measure, peak_rss_bytes};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(file) = args.get(1) else {
        dumptrace_bench::usage("bench-windbg FILE [--threads N]")
    };
    let threads = match args.get(2).map(String::as_str) {
        None => 1,
        Some("--threads") => match args.get(3).and_then(|n| n.parse().ok()) {
            Some(n) => n,
            None => {
                eprintln!("--threads takes a number");
                std::process::exit(2);
            }
        },
        Some(other) => {
            eprintln!("unknown argument {other}");
            std::process::exit(2);
        }
    };
    let path = Path::new(file);
    let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let mut summary = String::new();
    // Kept past the measurement: freeing the snapshot is not part of reading it.
    let mut kept = None;
    let cpu_before = cpu_ns();
    let figures = measure(
        "bench-windbg",
        bytes,
        || match dumptrace_dump::read_path_on(path, threads) {
            Ok(load) => {
                let s = &load.snapshot;
                let frames: usize = s.threads.iter().map(|t| t.stack.len()).sum();
                summary = format!(
                    "{} lines, {} processes, {} threads, {} frames, {} skipped",
                    load.report.lines,
                    s.processes.len(),
                    s.threads.len(),
                    frames,
                    load.report.skipped
                );
                let records = load.report.records;
                kept = Some(load);
                records
            }
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(1);
            }
        },
    );
    let cpu = cpu_ns().zip(cpu_before).map(|(a, b)| a.saturating_sub(b));
    eprintln!("{summary}");
    println!("{}", figures.line());
    // The machine may be shared: on-CPU time says what the parser itself costs.
    // (Per thread: with more than one, the other threads' time is not in it.)
    if let Some(ns) = cpu.filter(|_| threads == 1) {
        let secs = ns as f64 / 1e9;
        println!(
            "on-cpu {secs:.3} s: {:.1} MB/s of CPU time (wall {:.3} s)",
            bytes as f64 / 1e6 / secs.max(1e-9),
            figures.wall.as_secs_f64()
        );
    }
    if let Some(peak) = peak_rss_bytes() {
        println!(
            "peak memory is input + {:.1}% (target: at most input + 25%)",
            (peak as f64 / bytes.max(1) as f64 - 1.0) * 100.0
        );
    }
    // The process ends here: freeing half a million threads would only make
    // profiles of this binary harder to read.
    std::mem::forget(kept);
}

/// Time this thread has run on a CPU (`/proc/thread-self/schedstat`, first field, ns).
fn cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}
