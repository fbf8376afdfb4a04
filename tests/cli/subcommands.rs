//! `dump` and `trace`.

use super::util::{json, run, stderr, stdout};

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
    assert!(out.contains("cs:0x0032be30@0adc"), "{out}");
    assert!(out.contains("waiters found 52"), "{out}");
}

/// `dump` lists a `!handle` summary's types most numerous first, so the Thread row of
/// a leak shows (it is 11th of 16 in the summary), and `analyze` reports the leak.
#[test]
fn dump_shows_the_thread_row_of_a_handle_summary() {
    let log = "fixtures/readers/handle-summary-thread-leak.log";
    let out = stdout(&run(&["dump", log]));
    assert!(
        out.contains("pid 1f40: 1226 in use (Thread 1129, Event 41,"),
        "{out}"
    );
    let o = run(&["analyze", log]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("[handle-leak"), "{}", stdout(&o));
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
