//! The case modelled on the seeds' study "Critical section high contention and
//! wait chains, blocked threads, and periodic error": a critical section owner
//! sleeps in a DB retry loop while its process logs the same error every few
//! seconds. Expected values are taken from the raw fixture text, not hard-coded.

use std::collections::BTreeSet;

use serde_json::Value;

use super::util::{fixture, json, read, run, stdout};

const CASE: &str = "fixtures/cases/cs-periodic-error";
const CS: &str = "0032be30";

struct Raw {
    thread_addresses: BTreeSet<String>,
    /// Cids (`pid.tid`, hex) of threads whose RtlEnterCriticalSection frame has CS as first argument.
    cs_waiters: BTreeSet<String>,
    owner_tid_hex: String,
    lock_count: i64,
    owner_ticks: u64,
}

/// An independent reading of memory.log: split at THREAD lines, look at tokens.
fn raw_log() -> Raw {
    let text = read(&fixture("cases/cs-periodic-error/memory.log"));
    let mut thread_addresses = BTreeSet::new();
    let mut cs_waiters = BTreeSet::new();
    let mut owner_tid_hex = String::new();
    let mut lock_count = -1;
    let mut owner_ticks = 0;
    let mut cid = String::new();
    let mut in_cs = false;
    let mut addr = String::new();
    for line in text.lines() {
        let t: Vec<&str> = line.split_whitespace().collect();
        if t.first() == Some(&"THREAD") {
            addr = t[1].to_string();
            thread_addresses.insert(addr.clone());
            cid = t[3].to_string();
        }
        if line.contains("ntdll!RtlEnterCriticalSection") && t.get(2) == Some(&CS) {
            cs_waiters.insert(cid.clone());
        }
        if t.first() == Some(&"Wait") && addr == "86396db0" {
            if let Some(i) = t.iter().position(|w| *w == "Ticks:") {
                owner_ticks = t[i + 1].parse().unwrap();
            }
        }
        if line.starts_with("Critical section") {
            in_cs = line.contains(&format!("0x{CS}"));
        }
        if in_cs && line.starts_with("LockCount") {
            lock_count = i64::from_str_radix(t[2].trim_start_matches("0x"), 16).unwrap();
        }
        if in_cs && line.starts_with("OwningThread") && !line.contains(".thread") {
            owner_tid_hex = t[2]
                .trim_start_matches("0x")
                .trim_start_matches('0')
                .to_string();
        }
    }
    Raw {
        thread_addresses,
        cs_waiters,
        owner_tid_hex,
        lock_count,
        owner_ticks,
    }
}

struct RawTrace {
    rows: usize,
    /// Seconds of day of the process's error lines, one per occurrence.
    error_times: Vec<f64>,
}

fn raw_trace() -> RawTrace {
    let text = read(&fixture("cases/cs-periodic-error/trace.txt"));
    let mut rows = 0;
    let mut error_times: Vec<f64> = Vec::new();
    for line in text.lines() {
        let t: Vec<&str> = line.splitn(5, ' ').collect();
        let [n, pid, _tid, time, msg] = t.as_slice() else {
            continue;
        };
        let is_row = n.parse::<u64>().is_ok()
            && pid.parse::<u32>().is_ok()
            && time.len() == 12
            && time.as_bytes()[2] == b':';
        if !is_row {
            continue;
        }
        rows += 1;
        if *pid == "2780" && msg.contains("Not enough space on temp disk") {
            let h: f64 = time[0..2].parse().unwrap();
            let m: f64 = time[3..5].parse().unwrap();
            let s: f64 = time[6..].parse().unwrap();
            let secs = h * 3600.0 + m * 60.0 + s;
            if error_times.last().is_none_or(|l| secs - l > 0.001) {
                error_times.push(secs);
            }
        }
    }
    RawTrace { rows, error_times }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn analysis() -> Value {
    json(&["analyze", "--json", CASE])
}

#[test]
fn inputs_are_detected_and_counted() {
    let a = analysis();
    let inputs = a["inputs"].as_array().unwrap();
    let kinds: BTreeSet<(String, String)> = inputs
        .iter()
        .map(|i| {
            (
                i["kind"].as_str().unwrap().to_string(),
                i["format"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        kinds.contains(&("dump".into(), "windbg-log".into())),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&("trace".into(), "trace-table".into())),
        "{kinds:?}"
    );
    let trace = inputs.iter().find(|i| i["kind"] == "trace").unwrap();
    assert_eq!(
        trace["records"].as_u64().unwrap() as usize,
        raw_trace().rows
    );
    assert_eq!(a["schema_version"], 1);
}

#[test]
fn every_thread_block_is_read() {
    let a = analysis();
    let raw = raw_log();
    assert_eq!(
        a["threads"].as_array().unwrap().len(),
        raw.thread_addresses.len()
    );
}

#[test]
fn dump_time_is_session_time_in_utc() {
    let a = analysis();
    // `Debug session time: Fri Oct  9 10:08:21.713 2009 (UTC - 4:00)`.
    let text = read(&fixture("cases/cs-periodic-error/memory.log"));
    assert!(text.contains("Debug session time: Fri Oct  9 10:08:21.713 2009 (UTC - 4:00)"));
    assert_eq!(a["dump_time"], "2009-10-09T14:08:21.713Z");
}

#[test]
fn chain_root_is_the_owner_and_members_are_the_waiters() {
    let a = analysis();
    let raw = raw_log();
    let chain = &a["chains"][0];
    assert_eq!(chain["root"]["pid"], 0xadc);
    assert_eq!(
        format!("{:x}", chain["root"]["tid"].as_u64().unwrap()),
        raw.owner_tid_hex
    );
    assert_eq!(chain["deadlock"], false);
    // Before Vista, !cs LockCount counts the waiters (0x34 = 52 in the seed).
    assert_eq!(raw.cs_waiters.len() as i64, raw.lock_count);
    assert_eq!(
        chain["blocked_threads"].as_u64().unwrap() as usize,
        raw.cs_waiters.len()
    );
    let members: BTreeSet<String> = chain["members"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| *m != &chain["root"])
        .map(|m| {
            format!(
                "{:04x}.{:04x}",
                m["pid"].as_u64().unwrap(),
                m["tid"].as_u64().unwrap()
            )
        })
        .collect();
    assert_eq!(members, raw.cs_waiters);
    assert_eq!(
        chain["resources"],
        serde_json::json!([format!("cs:0x{CS}@0adc")])
    );
}

#[test]
fn owner_wait_is_ticks_times_tick_before_the_dump() {
    let a = analysis();
    let raw = raw_log();
    let owner = a["threads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["pid"] == 0xadc && t["tid"] == 0x1c64)
        .unwrap();
    let expected = raw.owner_ticks as f64 * 0.015625;
    assert!((owner["wait_seconds"].as_f64().unwrap() - expected).abs() < 1e-9);
    assert_eq!(owner["wait_reason"], "DelayExecution");
    // 10:08:21.713 local (UTC-4) minus 442 x 15.625 ms = 6.90625 s.
    assert_eq!(raw.owner_ticks, 442);
    assert_eq!(owner["wait_start"], "2009-10-09T14:08:14.806750Z");
    assert_eq!(
        owner["owns"],
        serde_json::json!([format!("cs:0x{CS}@0adc")])
    );
}

#[test]
fn top_finding_is_the_periodic_error_of_the_owner() {
    let a = analysis();
    let f = &a["findings"][0];
    assert_eq!(f["kind"], "periodic-error");
    assert_eq!(f["pid"], 0xadc);
    assert_eq!(f["tid"], 0x1c64);
    let summary = f["summary"].as_str().unwrap();
    assert!(
        summary.contains("Not enough space on temp disk"),
        "{summary}"
    );
    assert!(summary.contains("blocks 52 threads"), "{summary}");
    assert!(
        summary.contains("ComponentA!DB_Driver_Command"),
        "{summary}"
    );
    // The period in the sentence is the median interval measured on the raw trace.
    let times = raw_trace().error_times;
    let gaps: Vec<f64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    let period = median(gaps);
    let said: f64 = summary
        .split("every ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap();
    assert!(
        (said - period).abs() <= 0.05,
        "said {said}, raw median {period}"
    );
    // And it matches the Sleep(0x1b00) argument on the owner's stack.
    assert!(summary.contains("Sleep(0x1b00)"), "{summary}");
    let evidence = f["evidence"].as_array().unwrap();
    assert!(evidence
        .iter()
        .any(|e| e["source"].as_str().unwrap().contains("trace.txt:")
            && e["message"]
                .as_str()
                .unwrap()
                .contains("Not enough space on temp disk")));
    assert!(evidence
        .iter()
        .any(|e| e["source"].as_str().unwrap().contains("memory.log:")));
}

#[test]
fn trace_context_shows_the_owner_s_last_words_before_its_wait() {
    let a = analysis();
    let ctx = a["chains"][0]["trace_context"].as_array().unwrap();
    let owner_events: Vec<&Value> = ctx.iter().filter(|e| e["tid"] == 0x1c64).collect();
    assert!(!owner_events.is_empty());
    // The owner stops logging when it starts sleeping.
    for e in &owner_events {
        assert!(e["relative_seconds"].as_f64().unwrap() <= 0.0, "{e}");
    }
}

#[test]
fn human_report_names_owner_waiters_and_period() {
    let o = run(&["analyze", CASE]);
    assert!(o.status.success());
    let out = stdout(&o);
    assert!(
        out.contains("Thread 0adc.1c64 (ProcessA.exe) owns critical section 0x0032be30"),
        "{out}"
    );
    assert!(out.contains("blocks 52 threads"));
    assert!(out.contains("Error: [DB Driver] Not enough space on temp disk"));
    let findings = out.find("Findings").unwrap();
    let chains = out.find("Wait chains").unwrap();
    assert!(findings < chains, "findings come first");
}

/// The same events written as Tracefmt text (`[CPU]PID.TID::date-time [Provider]msg`,
/// PID/TID hex) give the same top finding as the viewer table.
#[test]
fn tracefmt_form_of_the_trace_gives_the_same_finding() {
    let table = read(&fixture("cases/cs-periodic-error/trace.txt"));
    let mut tracefmt = String::new();
    for line in table.lines() {
        let t: Vec<&str> = line.splitn(5, ' ').collect();
        let [_, pid, tid, time, msg] = t.as_slice() else {
            continue;
        };
        let (Ok(pid), Ok(tid)) = (pid.parse::<u32>(), tid.parse::<u32>()) else {
            continue;
        };
        tracefmt.push_str(&format!(
            "[{}]{pid:04X}.{tid:04X}::10/09/2009-{time} [ProcessA]{msg}\n",
            tid % 4
        ));
    }
    let dir = super::util::scratch("tracefmt-case");
    std::fs::copy(
        fixture("cases/cs-periodic-error/memory.log"),
        dir.join("memory.log"),
    )
    .unwrap();
    std::fs::write(dir.join("FmtFile.txt"), tracefmt).unwrap();
    let a = json(&["analyze", "--json", dir.to_str().unwrap()]);
    let b = analysis();
    let formats: Vec<&str> = a["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["format"].as_str().unwrap())
        .collect();
    assert!(formats.contains(&"tracefmt-text"), "{formats:?}");
    let trace = |v: &Value| {
        v["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["kind"] == "trace")
            .unwrap()["records"]
            .clone()
    };
    assert_eq!(trace(&a), trace(&b));
    let strip = |s: &str| s.split("; its").nth(1).map(str::to_string);
    let fa = &a["findings"][0];
    let fb = &b["findings"][0];
    assert_eq!(fa["kind"], fb["kind"]);
    assert_eq!(
        strip(fa["summary"].as_str().unwrap()),
        strip(fb["summary"].as_str().unwrap())
    );
}
