//! `export` in every format: rows counted against the analysis and the raw trace, Parquet
//! read back by DuckDB (an independent reader), the Perfetto JSON's structure, filters,
//! the merge of several trace files, and safe writing.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use super::util::{json, read, run, scratch, stderr, stdout};

const CASE: &str = "fixtures/cases/cs-periodic-error";

const HEADER: &str =
    "time,pid,tid,process,kind,provider,level,message,source,chain,finding,offset_seconds";

/// `export CASE --format F -o -` as parsed JSON Lines (F = jsonl).
fn jsonl(extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["export", CASE, "--format", "jsonl", "-o", "-"];
    args.extend_from_slice(extra);
    let o = run(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect()
}

fn ns(row: &Value) -> i64 {
    let t = row["time"].as_str().expect("time is text");
    chrono::DateTime::parse_from_rfc3339(t)
        .expect("RFC 3339")
        .timestamp_nanos_opt()
        .expect("in range")
}

fn export_to(dir: &Path, name: &str, format: &str, extra: &[&str]) -> std::path::PathBuf {
    let out = dir.join(name);
    let mut args = vec![
        "export",
        CASE,
        "--format",
        format,
        "-o",
        out.to_str().expect("utf-8 path"),
    ];
    args.extend_from_slice(extra);
    let o = run(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    out
}

/// Counts the analysis gives: trace records, threads with a wait start, findings.
fn expected_rows() -> (usize, usize, usize) {
    let a = json(&["analyze", "--json", CASE]);
    let trace = a["inputs"]
        .as_array()
        .expect("inputs")
        .iter()
        .filter(|i| i["kind"] == "trace")
        .map(|i| i["records"].as_u64().expect("records"))
        .sum::<u64>() as usize;
    let waits = a["threads"]
        .as_array()
        .expect("threads")
        .iter()
        .filter(|t| !t["wait_start"].is_null())
        .count();
    (
        trace,
        waits,
        a["findings"].as_array().expect("findings").len(),
    )
}

#[test]
fn csv_and_jsonl_hold_every_event_in_time_order_and_never_overwrite() {
    let dir = scratch("export");
    let out = export_to(&dir, "timeline.csv", "csv", &[]);
    let csv = read(&out);
    let (trace, waits, findings) = expected_rows();
    // The raw trace has 3,556 event lines (fixtures/gen/cs_periodic_error.py).
    assert_eq!(trace, 3556);
    // header + trace events + wait starts + the dump time + findings
    assert_eq!(csv.lines().count(), 1 + trace + waits + 1 + findings);
    assert_eq!(csv.lines().next(), Some(HEADER));
    let rows = jsonl(&[]);
    assert_eq!(rows.len(), trace + waits + 1 + findings);
    let times: Vec<i64> = rows.iter().map(ns).collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "rows not in time order"
    );
    let kinds = rows.iter().fold(BTreeMap::new(), |mut m, r| {
        *m.entry(r["kind"].as_str().unwrap_or("").to_string())
            .or_insert(0usize) += 1;
        m
    });
    assert_eq!(kinds.get("trace"), Some(&trace));
    assert_eq!(kinds.get("wait-start"), Some(&waits));
    assert_eq!(kinds.get("dump-time"), Some(&1));
    assert_eq!(kinds.get("finding"), Some(&findings));
    // The periodic-error finding's evidence rows carry its rank.
    let evidence: Vec<&Value> = rows
        .iter()
        .filter(|r| r["kind"] == "trace" && r["finding"] == 1)
        .collect();
    assert!(!evidence.is_empty());
    assert!(evidence.iter().all(|r| r["message"]
        .as_str()
        .unwrap_or("")
        .contains("Not enough space")));

    let again = run(&[
        "export",
        CASE,
        "--format",
        "csv",
        "-o",
        out.to_str().expect("utf-8 path"),
    ]);
    assert_eq!(again.status.code(), Some(2));
    assert!(stderr(&again).contains("--force"));
    assert_eq!(read(&out), csv, "the refused export changed the file");
    let forced = export_to(&dir, "timeline.csv", "jsonl", &["--force"]);
    assert_eq!(read(&forced).lines().count(), rows.len());
    // Only the output is left in the folder: no temporary files.
    let names: Vec<String> = std::fs::read_dir(&dir)
        .expect("scratch")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["timeline.csv"]);
}

#[test]
fn stdout_and_file_are_the_same() {
    let dir = scratch("export-stdout");
    let file = read(&export_to(&dir, "t.csv", "csv", &[]));
    let o = run(&["export", CASE, "--format", "csv", "-o", "-"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), file);
}

#[test]
fn a_failed_export_leaves_nothing_behind() {
    let dir = scratch("export-fail");
    let missing = dir.join("no-such-folder").join("t.parquet");
    let o = run(&[
        "export",
        CASE,
        "--format",
        "parquet",
        "-o",
        missing.to_str().expect("utf-8 path"),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no-such-folder"), "{}", stderr(&o));
    assert_eq!(std::fs::read_dir(&dir).expect("scratch").count(), 0);
}

/// Rows of a Parquet file as DuckDB reads them, one JSON array per row, or None when
/// DuckDB's Python package is not installed (.ci/run installs it; CI fails without it).
fn duckdb_rows(file: &Path) -> Option<Vec<Value>> {
    let script = r#"
import duckdb, json, sys
rows = duckdb.connect().sql(
    "select epoch_ns(time), pid, tid, process, kind, provider, level, message, source, chain, finding, offset_seconds from read_parquet(?)",
    params=[sys.argv[1]]).fetchall()
print(json.dumps(rows))
"#;
    let o = Command::new("python3")
        .args(["-c", script, file.to_str()?])
        .output();
    match o {
        Ok(o) if o.status.success() => Some(serde_json::from_slice(&o.stdout).expect("JSON")),
        other => {
            let why = match other {
                Ok(o) => String::from_utf8_lossy(&o.stderr).into_owned(),
                Err(e) => e.to_string(),
            };
            assert!(
                std::env::var_os("CI").is_none(),
                "DuckDB must read the Parquet file in CI: {why}"
            );
            eprintln!("skipped: DuckDB's Python package is not available ({why})");
            None
        }
    }
}

#[test]
fn parquet_reads_back_in_duckdb_with_the_same_rows() {
    let dir = scratch("export-parquet");
    let file = export_to(&dir, "t.parquet", "parquet", &[]);
    let rows = jsonl(&[]);
    let Some(back) = duckdb_rows(&file) else {
        return;
    };
    assert_eq!(back.len(), rows.len());
    for (b, r) in back.iter().zip(&rows) {
        let b = b.as_array().expect("row");
        assert_eq!(b[0].as_i64(), Some(ns(r)), "{r}");
        let same = [
            (1, "pid"),
            (2, "tid"),
            (3, "process"),
            (4, "kind"),
            (5, "provider"),
            (6, "level"),
            (7, "message"),
            (8, "source"),
            (9, "chain"),
            (10, "finding"),
            (11, "offset_seconds"),
        ];
        for (i, name) in same {
            assert_eq!(b[i], r[name], "{name} of {r}");
        }
    }
}

/// The case exported as a Perfetto trace (into scratch folder `dir`): its `traceEvents`.
fn perfetto_events(dir: &str) -> Vec<Value> {
    let file = export_to(&scratch(dir), "t.json", "perfetto", &[]);
    let doc: Value = serde_json::from_str(&read(&file)).expect("valid JSON");
    doc["traceEvents"].as_array().expect("traceEvents").clone()
}

#[test]
fn perfetto_trace_has_tracks_wait_slices_and_instants() {
    let events = perfetto_events("export-perfetto");
    let events = events.as_slice();
    let rows = jsonl(&[]);
    let a = json(&["analyze", "--json", CASE]);

    // Every process of the dump names its track by image.
    let names: BTreeMap<u64, String> = events
        .iter()
        .filter(|e| e["ph"] == "M" && e["name"] == "process_name")
        .map(|e| {
            (
                e["pid"].as_u64().expect("pid"),
                e["args"]["name"].as_str().expect("name").to_string(),
            )
        })
        .collect();
    let root = &a["chains"][0]["root"];
    let root_pid = root["pid"].as_u64().expect("root pid");
    assert_eq!(
        names.get(&root_pid).map(String::as_str),
        Some("ProcessA.exe (2780)")
    );

    // Every event has integer pid/tid and a numeric ts in microseconds.
    for e in events.iter().filter(|e| e["ph"] != "M") {
        assert!(e["pid"].is_u64() && e["tid"].is_u64(), "{e}");
        assert!(e["ts"].is_number(), "{e}");
    }
    // Trace events are thread instants at the rows' times / 1000.
    let mut instants: Vec<i64> = events
        .iter()
        .filter(|e| e["ph"] == "i" && e["s"] == "t")
        .map(|e| (e["ts"].as_f64().expect("ts") * 1000.0).round() as i64)
        .collect();
    let mut trace_ns: Vec<i64> = rows
        .iter()
        .filter(|r| r["kind"] == "trace")
        .map(ns)
        .collect();
    instants.sort();
    trace_ns.sort();
    assert_eq!(instants.len(), trace_ns.len());
    // f64 microseconds of 2009 keep about 0.25 us; the rows are whole microseconds.
    assert!(instants
        .iter()
        .zip(&trace_ns)
        .all(|(a, b)| (a - b).abs() < 500));

    // One wait slice per waiting thread, from its wait start to the dump time; slices on
    // one thread never overlap.
    let dump_us = rows
        .iter()
        .find(|r| r["kind"] == "dump-time")
        .map(|r| ns(r) as f64 / 1000.0)
        .expect("dump time");
    let slices: Vec<&Value> = events.iter().filter(|e| e["ph"] == "X").collect();
    let waits = rows.iter().filter(|r| r["kind"] == "wait-start").count();
    assert_eq!(slices.len(), waits);
    let mut per_thread: BTreeMap<(u64, u64), Vec<(f64, f64)>> = BTreeMap::new();
    for s in &slices {
        let (ts, dur) = (
            s["ts"].as_f64().expect("ts"),
            s["dur"].as_f64().expect("dur"),
        );
        assert!(dur >= 0.0);
        assert!((ts + dur - dump_us).abs() < 1.0 || dur == 0.0, "{s}");
        per_thread
            .entry((
                s["pid"].as_u64().expect("pid"),
                s["tid"].as_u64().expect("tid"),
            ))
            .or_default()
            .push((ts, ts + dur));
    }
    for spans in per_thread.values_mut() {
        spans.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert!(spans
            .windows(2)
            .all(|w| w[1].0 >= w[0].1 || w[1].1 <= w[0].1));
    }
    // The root's slice starts at its wait start.
    let root_wait = a["threads"]
        .as_array()
        .expect("threads")
        .iter()
        .find(|t| t["pid"] == root["pid"] && t["tid"] == root["tid"])
        .and_then(|t| t["wait_start"].as_str())
        .expect("root wait start");
    let root_us = chrono::DateTime::parse_from_rfc3339(root_wait)
        .expect("RFC 3339")
        .timestamp_nanos_opt()
        .expect("in range") as f64
        / 1000.0;
    assert!(slices.iter().any(|s| s["pid"] == root["pid"]
        && s["tid"] == root["tid"]
        && (s["ts"].as_f64().unwrap_or(0.0) - root_us).abs() < 1.0));
    // Findings are global instants.
    let global = events
        .iter()
        .filter(|e| e["ph"] == "i" && e["s"] == "g" && e["cat"] == "finding")
        .count();
    assert_eq!(global, a["findings"].as_array().expect("findings").len());
}

/// The case's waits began up to 67 hours before its 351 s trace (FACTS.md: Ticks up to
/// 15462901). In the Perfetto file the dump's events are clipped to the trace window with
/// a margin (a minute here: a tenth of the trace is less), so a viewer opens on the trace;
/// each clipped slice keeps its true start in its args and still ends at the dump time.
#[test]
fn perfetto_clips_waits_to_the_trace_window_and_keeps_the_true_start() {
    let events = perfetto_events("export-perfetto-clip");
    let events = events.as_slice();
    let rows = jsonl(&[]);
    let trace: Vec<i64> = rows
        .iter()
        .filter(|r| r["kind"] == "trace")
        .map(ns)
        .collect();
    let (first, last) = (
        *trace.iter().min().expect("trace rows"),
        *trace.iter().max().expect("trace rows"),
    );
    assert!(last - first < 600_000_000_000, "the trace is minutes long");
    let clip_us = (first - 60_000_000_000) as f64 / 1000.0;
    let us = |v: &Value| v.as_f64().expect("a number");
    // The wait rows by thread: their true start.
    let waits: BTreeMap<(u64, u64), i64> = rows
        .iter()
        .filter(|r| r["kind"] == "wait-start")
        .map(|r| {
            let id = |k: &str| r[k].as_u64().expect("id");
            ((id("pid"), id("tid")), ns(r))
        })
        .collect();
    let old = waits
        .values()
        .filter(|&&t| t < first - 60_000_000_000)
        .count();
    assert!(old > 200, "{old} waits began before the window");
    let oldest = *waits.values().min().expect("waits");
    assert!(
        first - oldest > 66 * 3_600_000_000_000,
        "67 h before the trace"
    );
    let mut clipped = 0;
    for s in events.iter().filter(|e| e["ph"] == "X") {
        let key = (
            s["pid"].as_u64().expect("pid"),
            s["tid"].as_u64().expect("tid"),
        );
        let start = waits[&key];
        let args = &s["args"];
        // The true start, as microseconds and as RFC 3339.
        assert!(
            (us(&args["wait_start_ts"]) - start as f64 / 1000.0).abs() < 1.0,
            "{s}"
        );
        let rfc = chrono::DateTime::parse_from_rfc3339(args["wait_start"].as_str().expect("str"))
            .expect("RFC 3339");
        assert_eq!(rfc.timestamp_nanos_opt(), Some(start), "{s}");
        let ts = us(&s["ts"]);
        if args["clipped"] == true {
            clipped += 1;
            assert!((ts - clip_us).abs() < 1.0, "{s}");
        } else {
            assert!((ts - start as f64 / 1000.0).abs() < 1.0, "{s}");
            assert!(ts >= clip_us - 1.0, "{s}");
        }
    }
    assert_eq!(clipped, old);
    // Nothing the file holds starts before the window.
    let earliest = events
        .iter()
        .filter(|e| e["ph"] != "M")
        .map(|e| us(&e["ts"]))
        .fold(f64::INFINITY, f64::min);
    assert!(earliest >= clip_us - 1.0, "{earliest} < {clip_us}");
}

#[test]
fn filters_apply_to_every_format() {
    let all = jsonl(&[]);
    let dir = scratch("export-filters");
    // A window around the root's wait start, one process.
    let (from, to) = ("2009-10-09T14:07:00Z", "2009-10-09 14:08:15");
    let (lo, hi) = (
        chrono::DateTime::parse_from_rfc3339(from)
            .expect("from")
            .timestamp_nanos_opt()
            .expect("ns"),
        chrono::DateTime::parse_from_rfc3339("2009-10-09T14:08:15Z")
            .expect("to")
            .timestamp_nanos_opt()
            .expect("ns"),
    );
    let want: Vec<&Value> = all
        .iter()
        .filter(|r| r["pid"] == 2780 && (lo..=hi).contains(&ns(r)))
        .collect();
    assert!(
        want.len() > 10 && want.len() < all.len() / 2,
        "{}",
        want.len()
    );
    let flags = ["--pid", "0adc", "--from", from, "--to", to];
    let got = jsonl(&flags);
    assert_eq!(got.len(), want.len());
    assert!(got.iter().zip(&want).all(|(g, w)| g == *w));
    // The same process written the other documented ways: 0x hex, 0n decimal.
    for pid in ["0x0ADC", "0n2780"] {
        let other = jsonl(&["--pid", pid, "--from", from, "--to", to]);
        assert_eq!(other, got, "--pid {pid}");
    }
    // A plain decimal number is hex (2780 = 0x2780, no such process here), and
    // text that is no id is refused by name.
    assert!(jsonl(&["--pid", "2780", "--from", from, "--to", to]).is_empty());
    let bad = run(&[
        "export", CASE, "--format", "jsonl", "-o", "-", "--pid", "12g",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("'12g' is not an id"),
        "{}",
        stderr(&bad)
    );

    let csv = read(&export_to(&dir, "f.csv", "csv", &flags));
    assert_eq!(csv.lines().count(), 1 + want.len());
    let perfetto: Value =
        serde_json::from_str(&read(&export_to(&dir, "f.json", "perfetto", &flags))).expect("JSON");
    let events = perfetto["traceEvents"].as_array().expect("events");
    assert_eq!(events.iter().filter(|e| e["ph"] != "M").count(), want.len());
    if let Some(back) = duckdb_rows(&export_to(&dir, "f.parquet", "parquet", &flags)) {
        assert_eq!(back.len(), want.len());
    }

    // A chain: its members' events and wait starts, and the findings about it.
    let chain: Vec<&Value> = all.iter().filter(|r| r["chain"] == 1).collect();
    let got = jsonl(&["--chain", "1"]);
    assert_eq!(got.len(), chain.len());
    assert!(got.iter().all(|r| r["chain"] == 1));
    // 52 waiters and the owner of the critical section.
    let threads: std::collections::BTreeSet<(u64, u64)> = got
        .iter()
        .filter(|r| r["kind"] == "wait-start")
        .map(|r| {
            (
                r["pid"].as_u64().unwrap_or(0),
                r["tid"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(threads.len(), 53);

    let bad = run(&[
        "export",
        CASE,
        "--format",
        "csv",
        "-o",
        "-",
        "--from",
        "yesterday",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("yesterday"), "{}", stderr(&bad));
}

/// Two trace files (the case's trace split line by line into odd and even events) merge
/// into the same timeline as the one file.
#[test]
fn several_trace_files_merge_by_time() {
    let dir = scratch("export-merge");
    let case = super::util::root().join(CASE);
    let trace = read(&case.join("trace.txt"));
    let mut lines = trace.lines();
    let header = lines.next().expect("header line");
    let (mut odd, mut even) = (format!("{header}\n"), format!("{header}\n"));
    for (i, l) in lines.enumerate() {
        let half = if i % 2 == 0 { &mut even } else { &mut odd };
        half.push_str(l);
        half.push('\n');
    }
    std::fs::write(dir.join("a.txt"), odd).expect("write");
    std::fs::write(dir.join("b.txt"), even).expect("write");
    std::fs::copy(case.join("memory.log"), dir.join("memory.log")).expect("copy");
    let o = run(&[
        "export",
        dir.to_str().expect("utf-8"),
        "--format",
        "jsonl",
        "-o",
        "-",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let merged: Vec<Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    let one = jsonl(&[]);
    let key = |r: &Value| {
        (
            ns(r),
            r["kind"].clone(),
            r["message"].clone(),
            r["tid"].clone(),
        )
    };
    let mut a: Vec<_> = merged
        .iter()
        .filter(|r| r["kind"] == "trace")
        .map(key)
        .collect();
    let mut b: Vec<_> = one
        .iter()
        .filter(|r| r["kind"] == "trace")
        .map(key)
        .collect();
    assert_eq!(a.len(), b.len());
    let times: Vec<i64> = merged.iter().map(ns).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "merge out of order");
    a.sort_by(|x, y| format!("{x:?}").cmp(&format!("{y:?}")));
    b.sort_by(|x, y| format!("{x:?}").cmp(&format!("{y:?}")));
    assert_eq!(a, b);
}
