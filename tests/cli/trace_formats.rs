//! `dumptrace trace` on the fixture of every trace export format (`fixtures/traces/`):
//! the summary and its JSON, the CSV mapping flags, `--trace-start`, and the messages for
//! bad input. Counts come from the raw files.

use super::util::{fixture, json, run, stderr, stdout};

const TZ: [&str; 2] = ["--trace-tz", "UTC-4"];
const START: [&str; 2] = ["--trace-start", "2009-10-09T14:05:09.005Z"];

fn path(name: &str) -> String {
    fixture(&format!("traces/{name}")).display().to_string()
}

#[test]
fn every_format_summarises_with_the_periodic_error() {
    for (name, events, first) in [
        ("tracefmt-custom.txt", 12, "2009-10-09T14:05:11.005Z"),
        ("tracerpt.csv", 13, "2009-10-09T14:05:10.005Z"),
        ("xperf-dumper.txt", 13, "2009-10-09T14:05:09.006Z"),
        ("perfview.csv", 6, "2009-10-09T14:05:11.005Z"),
        ("perfview-semicolon.csv", 6, "2009-10-09T14:05:11.005Z"),
        ("wpa.csv", 6, "2009-10-09T14:05:11.005Z"),
        ("winevent.csv", 6, "2009-10-09T14:05:11Z"),
    ] {
        let p = path(name);
        let mut args = vec!["trace", "--json", TZ[0], TZ[1], START[0], START[1]];
        args.push(&p);
        let s = json(&args);
        assert_eq!(s["events"], events, "{name}");
        assert_eq!(s["first"], first, "{name}");
        let inputs = s["inputs"].as_array().expect("inputs");
        assert_eq!(inputs[0]["records"], events, "{name}");
        assert!(
            inputs[0]["skipped"].as_u64() >= Some(1),
            "{name}: a malformed row"
        );
        let rec = &s["recurring"][0];
        assert_eq!(rec["pid"], 2780, "{name}");
        assert!(
            (rec["period_seconds"].as_f64().unwrap_or(0.0) - 7.0).abs() < 1e-6,
            "{name}: {rec}"
        );
        assert!(
            rec["example"]
                .as_str()
                .is_some_and(|e| e.contains("Not enough space on temp disk")),
            "{name}: {rec}"
        );
        assert!(s["threads"][0]["tid"].is_number(), "{name}");
    }
}

#[test]
fn text_summary_shows_levels_and_skips_with_file_line() {
    let o = run(&["trace", TZ[0], TZ[1], &path("tracerpt.csv")]);
    let out = stdout(&o);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(out.contains("error 6"), "{out}");
    assert!(out.contains("information 6"), "{out}");
    assert!(out.contains("tracerpt.csv:7: bad time"), "{out}");
    assert!(out.contains("every 7.000 s"), "{out}");
}

#[test]
fn csv_mapping_flags() {
    let p = path("mapped.csv");
    let mapped = [
        "--time-col",
        "when",
        "--pid-col",
        "proc",
        "--tid-col",
        "thread",
        "--message-col",
        "text",
    ];
    let mut args = vec!["trace", "--json", TZ[0], TZ[1]];
    args.extend(mapped);
    args.extend(["--time-format", "%d.%m.%Y %H:%M:%S,%3f", &p]);
    let s = json(&args);
    assert_eq!(s["events"], 6);
    assert_eq!(s["inputs"][0]["format"], "mapped-csv");
    // a wrong format names the file, the line and the value
    let mut args = vec!["trace", TZ[0], TZ[1]];
    args.extend(mapped);
    args.extend(["--time-format", "%Y-%m-%d", &p]);
    let o = run(&args);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains(
            "mapped.csv:2: time '09.10.2009 10:05:11,005' does not fit --time-format '%Y-%m-%d'"
        ),
        "{err}"
    );
    // without the mapping the CSV is not recognised, and the message says what was tried
    let o = run(&["trace", &p]);
    let err = stderr(&o);
    assert!(
        err.contains("tracerpt -of CSV") && err.contains("--time-col"),
        "{err}"
    );
}

#[test]
fn relative_times_without_a_start_say_so() {
    let s = json(&["trace", "--json", &path("perfview.csv")]);
    assert_eq!(s["first"], "1970-01-01T00:00:02Z");
    let note = s["inputs"][0]["time_note"].as_str().unwrap_or_default();
    assert!(note.contains("pass --trace-start"), "{note}");
}

#[test]
fn several_inputs_summarise_as_the_sum_of_each() {
    // Oracle: each input's own summary. Together, counts add up per provider, level and
    // thread, and a thread's span is the union of its spans.
    let names = ["tracerpt.csv", "tracefmt-custom.txt", "wpa.csv"];
    let one = |p: &str| json(&["trace", "--json", TZ[0], TZ[1], START[0], START[1], p]);
    let paths: Vec<String> = names.iter().map(|n| path(n)).collect();
    let mut args = vec!["trace", "--json", TZ[0], TZ[1], START[0], START[1]];
    args.extend(paths.iter().map(String::as_str));
    let all = json(&args);
    let singles: Vec<serde_json::Value> = paths.iter().map(|p| one(p)).collect();
    let sum = |f: &dyn Fn(&serde_json::Value) -> u64| singles.iter().map(f).sum::<u64>();
    assert_eq!(
        all["events"].as_u64(),
        Some(sum(&|s| s["events"].as_u64().unwrap_or(0)))
    );
    for key in ["providers", "levels"] {
        let mut want = std::collections::BTreeMap::<String, u64>::new();
        for s in &singles {
            for (k, v) in s[key].as_object().into_iter().flatten() {
                *want.entry(k.clone()).or_default() += v.as_u64().unwrap_or(0);
            }
        }
        let got: std::collections::BTreeMap<String, u64> = all[key]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0)))
            .collect();
        assert_eq!(got, want, "{key}");
        assert!(want.len() > 1, "{key}: {want:?}");
        // Every event has one provider and one level (or is counted under "(none)").
        for s in singles.iter().chain([&all]) {
            let n: u64 = s[key]
                .as_object()
                .into_iter()
                .flatten()
                .filter_map(|(_, v)| v.as_u64())
                .sum();
            assert_eq!(Some(n), s["events"].as_u64(), "{key}");
        }
    }
    let thread = |s: &serde_json::Value, pid: u64, tid: u64| {
        s["threads"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| t["pid"].as_u64() == Some(pid) && t["tid"].as_u64() == Some(tid))
            .cloned()
    };
    let parts: Vec<serde_json::Value> = singles
        .iter()
        .filter_map(|s| thread(s, 2780, 3292))
        .collect();
    assert_eq!(
        parts.len(),
        names.len(),
        "the periodic-error thread is in every input"
    );
    let t = thread(&all, 2780, 3292).expect("thread 2780.3292");
    assert_eq!(
        t["events"].as_u64(),
        Some(
            parts
                .iter()
                .map(|p| p["events"].as_u64().unwrap_or(0))
                .sum()
        )
    );
    let first = parts.iter().filter_map(|p| p["first"].as_str()).min();
    let last = parts.iter().filter_map(|p| p["last"].as_str()).max();
    assert_eq!(t["first"].as_str(), first);
    assert_eq!(t["last"].as_str(), last);
    let firsts = singles.iter().filter_map(|s| s["first"].as_str()).min();
    assert_eq!(all["first"].as_str(), firsts);
}

/// `--manifest` on an .etl written by the crate's ETL writer: without it the provider's
/// events are listed with their count and the flag; with it they are decoded. A manifest
/// that does not parse is named with its file and line.
#[test]
fn manifest_flag_decodes_a_provider_and_lists_the_ones_without_schema() {
    use dumptrace_trace::etl_synth::*;
    let dir = super::util::scratch("manifest-flag");
    let provider = "7a3c1f00-1b2c-4d5e-8f90-a1b2c3d4e5f6";
    let h = Header::default();
    let e = |ts: i64| Event {
        ptr64: true,
        provider: guid(provider),
        id: 100,
        version: 0,
        level: 4,
        opcode: 10,
        task: 1,
        channel: 0,
        keyword: 0,
        pid: 10,
        tid: 11,
        ts: h.anchor + ts,
        extended: Vec::new(),
    };
    // Count 0, Len 0, SID S-1-5-18, pointer, Flags 1: no array elements.
    let mut p = 0u16.to_le_bytes().to_vec();
    p.extend(0u32.to_le_bytes());
    p.extend([1, 1, 0, 0, 0, 0, 0, 5]);
    p.extend(18u32.to_le_bytes());
    p.extend(0x1000u64.to_le_bytes());
    p.extend(1u32.to_le_bytes());
    let mut file = buffer(&BufferSpec::header(1024), &[logfile_header(&h)]);
    file.extend(buffer(
        &BufferSpec::new(0, 1),
        &[event(&e(10), &p), event(&e(20), &p), event(&e(30), &p)],
    ));
    let etl = dir.join("orders.etl");
    std::fs::write(&etl, &file).expect("write etl");
    let etl = etl.display().to_string();
    let man = fixture("manifests/Contoso-Orders.man")
        .display()
        .to_string();

    let o = run(&["trace", &etl]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("3 manifest events shown as hex"), "{out}");
    assert!(out.contains("--manifest"), "{out}");
    assert!(out.contains(&format!("       3  {provider}")), "{out}");

    let j = json(&["trace", "--json", &etl, "--manifest", &man]);
    let etl_facts = &j["etl"][0];
    assert_eq!(etl_facts["manifest_without_schema"], serde_json::json!({}));
    assert_eq!(j["providers"]["Contoso-Orders"], 3, "{j}");

    let bad = dir.join("broken.man");
    std::fs::write(&bad, "<instrumentationManifest>\n<provider\n name=>\n").expect("write");
    let o = run(&["trace", &etl, "--manifest", &bad.display().to_string()]);
    assert!(!o.status.success());
    let err = stderr(&o);
    // The line of the element whose attribute is bad.
    assert!(err.contains("broken.man:2: manifest:"), "{err}");
}

/// `--trace-tz -04:00` (the help's own example) is a value, not a flag: the same UTC
/// times as `UTC-4`, and the note names the offset assumed.
#[test]
fn a_negative_offset_is_a_trace_tz_value() {
    let p = path("tracefmt-custom.txt");
    let s = json(&["trace", "--json", "--trace-tz", "-04:00", &p]);
    assert_eq!(s["first"], "2009-10-09T14:05:11.005Z");
    let note = s["inputs"][0]["time_note"].as_str().unwrap_or_default();
    assert!(note.contains("-04:00"), "{note}");
}
