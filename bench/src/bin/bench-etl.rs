//! Reads an ETL file with `dumptrace_trace::read_path` and prints throughput and peak
//! memory: `bench-etl FILE.etl [--digest]` (make one with `gen-etl`).
//!
//! With `--digest` it also prints a checksum of every cell of the frame, in row order, and
//! of the report (counts, skip reasons, first skips, ETL facts): two builds of the reader
//! that print the same digest for a file produced the same frame and report.

use std::path::Path;

use dumptrace_trace::{read_path, TimeContext};
use polars::prelude::{AnyValue, DataFrame};

/// FNV-1a, 64 bits: stable across builds, unlike the std hasher's keys.
struct Fnv(u64);

impl Fnv {
    fn bytes(&mut self, b: &[u8]) {
        for &x in b {
            self.0 = (self.0 ^ u64::from(x)).wrapping_mul(0x100_0000_01b3);
        }
    }
}

fn digest(frame: &DataFrame, report: &str) -> String {
    let mut out = format!("rows={} report={:016x}", frame.height(), {
        let mut h = Fnv(0xcbf2_9ce4_8422_2325);
        h.bytes(report.as_bytes());
        h.0
    });
    for col in frame.columns() {
        let mut h = Fnv(0xcbf2_9ce4_8422_2325);
        let s = col.as_materialized_series();
        for v in s.iter() {
            match v {
                AnyValue::Null => h.bytes(&[0]),
                AnyValue::String(t) => {
                    h.bytes(&[1]);
                    h.bytes(t.as_bytes());
                    h.bytes(&[0xFF]);
                }
                AnyValue::UInt32(n) => h.bytes(&u64::from(n).to_le_bytes()),
                AnyValue::UInt64(n) => h.bytes(&n.to_le_bytes()),
                AnyValue::Datetime(n, ..) => h.bytes(&n.to_le_bytes()),
                other => h.bytes(format!("{other:?}").as_bytes()),
            }
        }
        out.push_str(&format!(" {}={:016x}", col.name(), h.0));
    }
    out
}

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        dumptrace_bench::usage("bench-etl FILE.etl [--digest]")
    };
    let want_digest = std::env::args().any(|a| a == "--digest");
    let size = match std::fs::metadata(&path) {
        Ok(m) => m.len(),
        Err(e) => fail(&format!("{path}: {e}")),
    };
    let ctx = TimeContext {
        date: None,
        offset: chrono::FixedOffset::east_opt(0).expect("zero offset"),
        source: String::new(),
    };
    let mut skipped = 0;
    let mut trace = None;
    let figures = dumptrace_bench::measure("bench-etl", size, || {
        let t = read_path(Path::new(&path), &ctx).unwrap_or_else(|e| fail(&e.to_string()));
        skipped = t.report.skipped;
        let records = t.report.records;
        trace = Some(t);
        records
    });
    println!("{}", figures.line());
    if skipped > 0 {
        println!("skipped {skipped}");
    }
    if let Some(t) = trace.filter(|_| want_digest) {
        let r = &t.report;
        let report = format!(
            "{} {} {:?} {:?} {:?}",
            r.records, r.skipped, r.skip_reasons, r.first_skips, r.etl
        );
        println!("digest {}", digest(&t.frame, &report));
    }
}

fn fail(message: &str) -> ! {
    eprintln!("bench-etl: {message}");
    std::process::exit(1);
}
