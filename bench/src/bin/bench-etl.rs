//! Reads an ETL file with `dumptrace_trace::read_path` and prints throughput and peak
//! memory: `bench-etl FILE.etl` (make one with `gen-etl`).

use std::path::Path;

use dumptrace_trace::{read_path, TimeContext};

fn main() {
    let path = std::env::args().nth(1).expect("usage: bench-etl FILE.etl");
    let size = std::fs::metadata(&path).expect("input file").len();
    let ctx = TimeContext {
        date: None,
        offset: chrono::FixedOffset::east_opt(0).expect("zero offset"),
        source: String::new(),
    };
    let mut skipped = 0;
    let figures = dumptrace_bench::measure("bench-etl", size, || {
        let trace = read_path(Path::new(&path), &ctx).expect("ETL reads");
        skipped = trace.report.skipped;
        trace.report.records
    });
    println!("{}", figures.line());
    if skipped > 0 {
        println!("skipped {skipped}");
    }
}
