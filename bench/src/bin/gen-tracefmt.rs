//! Writes Tracefmt text with the default prefix (`[CPU]PID.TID::MM/DD/YYYY-HH:MM:SS.mmm
//! [Provider]message`, formats.md §5) of a given size.
//!
//! ```text
//! gen-tracefmt OUT SIZE [SEED]      SIZE like 200M or 2G; SEED default 1
//! ```

use std::fs::File;
use std::io::{BufWriter, Write};

use dumptrace_bench::{parse_size, tracefmt_line, Rng};

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(out), Some(size)) = (args.get(1), args.get(2).and_then(|s| parse_size(s))) else {
        dumptrace_bench::usage("gen-tracefmt OUT SIZE [SEED]   (SIZE like 200M, 2G)")
    };
    let seed = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1);
    let mut rng = Rng::new(seed);
    let mut w = BufWriter::with_capacity(1 << 20, File::create(out)?);
    let providers = [
        "DbClient",
        "Atum-Hw3d",
        "Microsoft-Windows-WLAN-AutoConfig",
        "tracedrv",
    ];
    let messages = [
        "Error: [DB Driver] Not enough space on temp disk",
        "Execute DB command sleeps on error (retry #)",
        "IOCTL = #",
        "Hello, # Hi",
        "Connection # to 10.0.0.# closed after # ms",
    ];
    let start = chrono::NaiveDate::from_ymd_opt(2024, 1, 13).unwrap_or_default();
    let mut ms: u64 = 0; // since 2024-01-13 00:00:00 local
    let mut written = 0u64;
    let mut rows = 0u64;
    let mut line = String::with_capacity(256);
    while written < size {
        line.clear();
        ms += rng.range(0, 20);
        let msg = rng
            .pick(&messages)
            .replace('#', &rng.range(0, 10_000).to_string());
        let (cpu, pid, tid) = (
            rng.range(0, 8),
            1000 + 4 * rng.range(0, 50),
            2000 + 4 * rng.range(0, 400),
        );
        let provider = rng.pick(&providers);
        tracefmt_line(&mut line, cpu, pid, tid, start, ms, provider, &msg);
        written += line.len() as u64;
        rows += 1;
        w.write_all(line.as_bytes())?;
    }
    w.flush()?;
    eprintln!("{out}: {written} bytes, {rows} rows");
    Ok(())
}
