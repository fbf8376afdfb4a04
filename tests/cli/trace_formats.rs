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
