//! `dump`, `trace` and `export`.

use super::util::{fixture, json, read, run, scratch, stderr, stdout};

const CASE: &str = "fixtures/cases/cs-periodic-error";

#[test]
fn dump_summary_lists_states_locks_and_time() {
    let o = run(&["dump", &format!("{CASE}/memory.log")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("Fri Oct  9 10:08:21.713 2009 (UTC - 4:00)"),
        "{out}"
    );
    assert!(out.contains("cs:0x0032be30@2780"), "{out}");
    assert!(out.contains("waiters found 52"), "{out}");
}

#[test]
fn trace_summary_finds_the_periodic_error() {
    let v = json(&[
        "trace",
        "--json",
        "--trace-date",
        "2009-10-09",
        "--trace-tz",
        "UTC-4",
        &format!("{CASE}/trace.txt"),
    ]);
    let rec = v["recurring"].as_array().unwrap();
    assert!(rec.iter().any(|r| r["pid"] == 2780
        && r["example"]
            .as_str()
            .unwrap()
            .contains("Not enough space on temp disk")));
    // Times are converted with the zone given: 10:0x local is 14:0x UTC.
    assert!(v["first"].as_str().unwrap().starts_with("2009-10-09T14:"));
}

#[test]
fn trace_without_a_date_says_so() {
    let o = run(&["trace", &format!("{CASE}/trace.txt")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("trace.txt"), "{}", stderr(&o));
}

#[test]
fn export_csv_has_a_row_per_event_and_refuses_to_overwrite() {
    let dir = scratch("export");
    let out = dir.join("timeline.csv");
    let o = run(&[
        "export",
        CASE,
        "--format",
        "csv",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let csv = read(&out);
    let a = json(&["analyze", "--json", CASE]);
    let trace_rows = a["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"] == "trace")
        .map(|i| i["records"].as_u64().unwrap())
        .sum::<u64>() as usize;
    let waits = a["threads"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| !t["wait_start"].is_null())
        .count();
    let findings = a["findings"].as_array().unwrap().len();
    // header + trace events + wait starts + the dump time + findings
    assert_eq!(csv.lines().count(), 1 + trace_rows + waits + 1 + findings);
    assert!(
        csv.starts_with("time,pid,tid,process,kind,message,source,chain,finding,offset_seconds\n")
    );
    let again = run(&[
        "export",
        CASE,
        "--format",
        "csv",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(again.status.code(), Some(2));
    assert!(stderr(&again).contains("--force"));
    let forced = run(&[
        "export",
        CASE,
        "--format",
        "jsonl",
        "-o",
        out.to_str().unwrap(),
        "--force",
    ]);
    assert!(forced.status.success());
    assert_eq!(
        read(&out).lines().count(),
        trace_rows + waits + 1 + findings
    );
}

#[test]
fn export_formats_not_built_yet_are_errors_not_empty_files() {
    let dir = scratch("export-parquet");
    let out = dir.join("t.parquet");
    let o = run(&[
        "export",
        CASE,
        "--format",
        "parquet",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!out.exists());
    let _ = fixture("");
}
