//! How fast this machine gives a process fresh memory: the readers write their output
//! (frames, snapshots, column buffers) into memory never touched before, and on virtual
//! machines whose host backs guest memory lazily that first touch can cost more than the
//! parsing. `compare.sh` prints these figures beside its table, so that a reader can
//! compare its rows with runs on other machines.
//!
//! ```text
//! bench-memory [MiB]        default 1024
//! ```
//! Prints `first_touch=LO-HI GB/s rewrite=Y GB/s`: one byte written per 4 KiB page of a
//! fresh allocation (each write faults a zeroed page in; slowest and fastest of three
//! rounds), then the same memory written whole (fastest).

use std::time::Instant;

fn main() {
    let mib: usize = std::env::args()
        .nth(1)
        .map(|a| {
            a.parse()
                .unwrap_or_else(|_| dumptrace_bench::usage("bench-memory [MiB]"))
        })
        .unwrap_or(1024);
    let bytes = mib << 20;
    let mut first_touch = Vec::new();
    let mut best_rewrite = 0f64;
    for _ in 0..3 {
        // `vec![0; n]` is calloc: a fresh map whose pages are faulted in by the writes below.
        let mut v = vec![0u8; bytes];
        let t = Instant::now();
        for i in (0..bytes).step_by(4096) {
            v[i] = 1;
        }
        let first = bytes as f64 / t.elapsed().as_secs_f64() / 1e9;
        let t = Instant::now();
        v.fill(2);
        let rewrite = bytes as f64 / t.elapsed().as_secs_f64() / 1e9;
        std::hint::black_box(&v);
        first_touch.push(first);
        best_rewrite = best_rewrite.max(rewrite);
    }
    // The first round often differs most: memory the process never had before.
    let lo = first_touch.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = first_touch.iter().copied().fold(0f64, f64::max);
    println!(
        "first_touch={lo:.2}-{hi:.2} GB/s rewrite={best_rewrite:.2} GB/s ({mib} MiB, 3 rounds)"
    );
}
