//! Clock alignment on cases whose true offset is known: the bundled trace with
//! its times moved by a zone difference plus a few seconds of skew.

use super::util::{fixture, json, read, scratch};

/// Writes the case with every trace time shifted by `shift_ms` (table form:
/// time of day only, so the shift must stay within the day).
fn shifted_case(name: &str, shift_ms: i64) -> std::path::PathBuf {
    let dir = scratch(name);
    std::fs::copy(
        fixture("cases/cs-periodic-error/memory.log"),
        dir.join("memory.log"),
    )
    .unwrap();
    let mut out = String::new();
    for line in read(&fixture("cases/cs-periodic-error/trace.txt")).lines() {
        let t: Vec<&str> = line.splitn(5, ' ').collect();
        match t.as_slice() {
            [n, pid, tid, time, msg] if time.len() == 12 && time.as_bytes()[2] == b':' => {
                let h: i64 = time[0..2].parse().unwrap();
                let m: i64 = time[3..5].parse().unwrap();
                let s: i64 = time[6..8].parse().unwrap();
                let ms: i64 = time[9..12].parse().unwrap();
                let total = ((h * 60 + m) * 60 + s) * 1000 + ms + shift_ms;
                let (h, rest) = (total / 3_600_000, total % 3_600_000);
                let (m, rest) = (rest / 60_000, rest % 60_000);
                let (s, ms) = (rest / 1000, rest % 1000);
                out.push_str(&format!(
                    "{n} {pid} {tid} {h:02}:{m:02}:{s:02}.{ms:03} {msg}\n"
                ));
            }
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    std::fs::write(dir.join("trace.txt"), out).unwrap();
    dir
}

fn offset_and_top(dir: &std::path::Path) -> (f64, serde_json::Value, serde_json::Value) {
    let a = json(&["analyze", "--json", dir.to_str().unwrap()]);
    (
        a["alignment"]["offset_seconds"].as_f64().unwrap(),
        a["alignment"].clone(),
        a["findings"][0].clone(),
    )
}

#[test]
fn same_clock_gives_zero_offset() {
    let (off, al, top) = offset_and_top(&fixture("cases/cs-periodic-error"));
    assert_eq!(off, 0.0, "{al}");
    assert!(
        al["method"].as_str().unwrap().starts_with("estimated"),
        "{al}"
    );
    assert_eq!(top["kind"], "periodic-error");
}

#[test]
fn zone_difference_plus_skew_is_recovered() {
    // The trace clock runs 1 h 3.2 s ahead of the dump's (another zone, skewed).
    let dir = shifted_case("align-ahead", 3_603_200);
    let (off, al, top) = offset_and_top(&dir);
    assert!((off + 3603.2).abs() <= 0.06, "offset {off}: {al}");
    assert!(al["confidence"].as_f64().unwrap() >= 0.5, "{al}");
    // With the clocks aligned the joint finding is found again.
    assert_eq!(top["kind"], "periodic-error", "{top}");
}

#[test]
fn skew_alone_is_recovered() {
    // The trace clock is 4.75 s behind.
    let dir = shifted_case("align-behind", -4_750);
    let (off, al, _) = offset_and_top(&dir);
    assert!((off - 4.75).abs() <= 0.06, "offset {off}: {al}");
}

#[test]
fn given_offset_wins() {
    let dir = shifted_case("align-given", 3_603_200);
    let a = json(&[
        "analyze",
        "--json",
        "--offset",
        "-3603.2",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(a["alignment"]["offset_seconds"], -3603.2);
    assert!(a["alignment"]["method"]
        .as_str()
        .unwrap()
        .starts_with("given"));
}
