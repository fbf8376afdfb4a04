//! Reads one trace export with `dumptrace_trace::read_path` and prints throughput and peak
//! memory; with `--polars`, reads the same CSV with polars' own CSV reader instead, for
//! comparison (run them as separate processes so each peak is its own).
//!
//! ```text
//! bench-trace FILE [--polars]
//! ```

use std::path::Path;

use chrono::{FixedOffset, NaiveDate};
use dumptrace_bench::measure;
use dumptrace_trace::{read_path, TimeContext};
use polars::prelude::{CsvReadOptions, SerReader};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(file) = args.get(1) else {
        dumptrace_bench::usage("bench-trace FILE [--polars]")
    };
    let path = Path::new(file);
    eprintln!(
        "resident at start {} B",
        dumptrace_bench::rss_bytes().unwrap_or(0)
    );
    let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let figures = if args.iter().any(|a| a == "--polars") {
        measure("polars-csv", bytes, || {
            let df = CsvReadOptions::default()
                .with_has_header(true)
                .map_parse_options(|p| p.with_truncate_ragged_lines(true))
                .try_into_reader_with_file_path(Some(path.to_path_buf()))
                .and_then(|r| r.finish());
            match df {
                Ok(df) => df.height() as u64,
                Err(e) => {
                    eprintln!("polars: {e}");
                    std::process::exit(1);
                }
            }
        })
    } else {
        let ctx = TimeContext {
            date: NaiveDate::from_ymd_opt(2024, 1, 13),
            offset: FixedOffset::east_opt(0).expect("UTC"),
            source: "bench".into(),
        };
        measure("bench-trace", bytes, || match read_path(path, &ctx) {
            Ok(t) => {
                eprintln!(
                    "{}: {} rows, {} skipped, frame {} B, resident now {} B",
                    t.report.format.name(),
                    t.report.records,
                    t.report.skipped,
                    t.frame.estimated_size(),
                    dumptrace_bench::rss_bytes().unwrap_or(0)
                );
                t.report.records
            }
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(1);
            }
        })
    };
    println!("{}", figures.line());
}
