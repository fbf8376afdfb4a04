//! Export of a large trace: writes a case folder with the cs-periodic-error dump log and a
//! generated Tracefmt trace of EVENTS events (a third from the dump's threads, the rest from
//! processes the dump does not know), then runs `dumptrace export --format FORMAT` on it
//! and reports wall time, throughput and the export's peak memory.
//!
//! ```text
//! bench-export DIR [EVENTS] [FORMAT]     EVENTS default 50000000, FORMAT default parquet
//! ```
//!
//! The dumptrace binary is taken from beside this one (`cargo build --release` first).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use dumptrace_bench::{children_peak_rss_bytes, tracefmt_line, Rng};

const SEED: u64 = 7;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let Some(dir) = args.get(1).map(PathBuf::from) else {
        dumptrace_bench::usage("bench-export DIR [EVENTS] [FORMAT]")
    };
    let events: u64 = args
        .get(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(50_000_000);
    let format = args.get(3).map_or("parquet", String::as_str);
    let case = dir.join("case");
    std::fs::create_dir_all(&case)?;
    let log = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/cases/cs-periodic-error/memory.log");
    std::fs::copy(&log, case.join("memory.log"))?;
    let snapshot = dumptrace_dump::read_path(&log)?.snapshot;
    let threads: Vec<(u64, u64)> = snapshot
        .threads
        .iter()
        .map(|t| (u64::from(t.pid), u64::from(t.tid)))
        .collect();
    let trace = case.join("trace.txt");
    let bytes = generate(&trace, events, &threads)?;

    let exe = std::env::current_exe()?
        .parent()
        .map(|p| p.join("dumptrace"))
        .ok_or("no folder beside this binary")?;
    let out = dir.join(format!("timeline.{format}"));
    let start = Instant::now();
    let status = Command::new(&exe)
        .args(["export", "--force", "--format", format, "-o"])
        .arg(&out)
        .arg(&case)
        .status()?;
    let wall = start.elapsed().as_secs_f64();
    if !status.success() {
        return Err(format!("{} failed: {status}", exe.display()).into());
    }
    let peak = children_peak_rss_bytes().unwrap_or(0);
    let written = std::fs::metadata(&out)?.len();
    println!(
        "export-{format}  events={events}  input={bytes} B  output={written} B  wall={wall:.1} s  {:.0} events/s  {:.1} MB/s  peak_rss={peak} B ({:.2} GiB)",
        events as f64 / wall,
        bytes as f64 / 1e6 / wall,
        peak as f64 / (1u64 << 30) as f64
    );
    Ok(())
}

/// Tracefmt lines from 10:02:00 local on the dump's day, a few per millisecond.
fn generate(path: &Path, events: u64, threads: &[(u64, u64)]) -> std::io::Result<u64> {
    let mut rng = Rng::new(SEED);
    let mut w = BufWriter::with_capacity(1 << 20, File::create(path)?);
    let messages = [
        "Error: [DB Driver] Not enough space on temp disk",
        "Execute DB command sleeps on error (retry #)",
        "Request 0x# from client #: Search order:#",
        "Connection # to 10.0.0.# closed after # ms",
    ];
    let start = chrono::NaiveDate::from_ymd_opt(2009, 10, 9).unwrap_or_default();
    let span_ms: u64 = 6 * 60 * 1000;
    let start_ms: u64 = 10 * 3_600_000 + 2 * 60_000;
    let mut line = String::with_capacity(256);
    let mut bytes = 0u64;
    for i in 0..events {
        line.clear();
        let ms = start_ms + i * span_ms / events.max(1);
        let (pid, tid) = match (rng.range(0, 3), threads.is_empty()) {
            (0, false) => *rng.pick(threads),
            _ => (
                0x2000 + 4 * rng.range(0, 200),
                0x4000 + 4 * rng.range(0, 2000),
            ),
        };
        let msg = rng
            .pick(&messages)
            .replace('#', &rng.range(0, 100_000).to_string());
        tracefmt_line(
            &mut line,
            rng.range(0, 2),
            pid,
            tid,
            start,
            ms,
            "DbClient",
            &msg,
        );
        bytes += line.len() as u64;
        w.write_all(line.as_bytes())?;
    }
    w.flush()?;
    Ok(bytes)
}
