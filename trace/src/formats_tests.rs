//! Every format read from its fixture in `fixtures/traces/` (written by
//! `fixtures/gen/traces.py`), with the expected counts taken from the raw text by simpler
//! means than the readers use, and UTC times computed by hand: the fixtures' story starts at
//! 2009-10-09T14:05:11.005Z (10:05:11.005 local at UTC-04:00) and repeats every 7 s.

use std::path::{Path, PathBuf};

use chrono::{FixedOffset, TimeZone, Utc};
use regex::Regex;

use crate::read::{BAD_TIME, BAD_TIME_FORMAT, NO_PREFIX, TOO_FEW_FIELDS};
use crate::test_util::{assert_time_note, strs, times, u32s};
use crate::{
    read_bytes_with, read_path, read_path_with, schema, CsvMapping, Error, ReadOptions,
    TimeContext, Trace, TraceFormat,
};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/traces")
        .join(name)
}

fn raw(name: &str) -> String {
    let bytes = std::fs::read(fixture(name)).expect("fixture");
    String::from_utf8(bytes)
        .expect("utf-8")
        .trim_start_matches('\u{feff}')
        .to_owned()
}

/// The fixtures' local clock: UTC-04:00, no date given.
fn ctx() -> TimeContext {
    TimeContext {
        date: None,
        offset: FixedOffset::west_opt(4 * 3600).expect("offset"),
        source: "the test".into(),
    }
}

fn read_opts(name: &str, opts: &ReadOptions) -> Trace {
    match read_path_with(&fixture(name), &ctx(), opts) {
        Ok(t) => t,
        Err(e) => panic!("{e}"),
    }
}

/// The error events' UTC times: 14:05:11.005 + 7 s × k.
fn story(n: usize, every: usize) -> Vec<String> {
    (0..n)
        .map(|k| {
            let t = Utc
                .with_ymd_and_hms(2009, 10, 9, 14, 5, 11)
                .single()
                .expect("t")
                + chrono::TimeDelta::milliseconds(5 + 7000 * (k / every) as i64);
            t.format("%Y-%m-%dT%H:%M:%S%.fZ").to_string()
        })
        .collect()
}

fn trace_start() -> ReadOptions {
    let start = Utc
        .with_ymd_and_hms(2009, 10, 9, 14, 5, 9)
        .single()
        .map(|t| t + chrono::TimeDelta::milliseconds(5));
    ReadOptions::new(start, None)
}

#[test]
fn tracefmt_custom_prefixes() {
    let text = raw("tracefmt-custom.txt");
    let prefix = Regex::new(r"^(\d+: )?(\[\d+\] ?)?[0-9A-F]{4,}\.[0-9A-F]{4,}::").expect("re");
    let prefixed = text.lines().filter(|l| prefix.is_match(l)).count() as u64;
    let t = read_path(&fixture("tracefmt-custom.txt"), &ctx()).expect("reads");
    assert_eq!(t.report.format, TraceFormat::TracefmtText);
    assert_eq!(
        t.report.records,
        prefixed - 1,
        "the 30th of February is skipped"
    );
    assert_eq!(
        t.report.records + t.report.skipped,
        text.lines().count() as u64
    );
    assert_eq!(t.report.skip_reasons.get(NO_PREFIX), Some(&1));
    assert_eq!(t.report.skip_reasons.get(BAD_TIME), Some(&1));
    assert_eq!(times(&t), story(12, 2));
    let src = strs(&t, schema::SOURCE);
    let lines: Vec<Option<u64>> = t
        .frame
        .column(schema::LINE)
        .expect("line")
        .u64()
        .expect("u64")
        .iter()
        .collect();
    assert_eq!((src[2], lines[2]), (Some("dbcmd.c"), Some(214)));
    assert_eq!((src[4], lines[4]), (Some("dbcmd.c"), Some(220)));
    assert_eq!(strs(&t, schema::LEVEL)[2], Some("error"));
    let msg = strs(&t, schema::MESSAGE);
    assert_eq!(
        msg[2], msg[0],
        "the prefix groups are not part of the message"
    );
    assert_eq!(u32s(&t, schema::PID), vec![Some(2780); 12]);
}

#[test]
fn tracerpt_fixture() {
    let text = raw("tracerpt.csv");
    let data = Regex::new(r"^\d+,").expect("re");
    let rows = text.lines().filter(|l| data.is_match(l)).count() as u64;
    let t = read_path(&fixture("tracerpt.csv"), &ctx()).expect("reads");
    assert_eq!(t.report.format, TraceFormat::TracerptCsv);
    assert_eq!(t.report.records, rows - 1, "one row has no time");
    assert_eq!(t.report.skip_reasons.get(BAD_TIME), Some(&1));
    assert_eq!(t.report.first_skips[1].line, 7);
    let got = times(&t);
    // the EventTrace/Header row is 1 s before the first event; FILETIMEs are UTC
    assert_eq!(got[0], "2009-10-09T14:05:10.005Z");
    let every_other: Vec<String> = got.iter().skip(1).step_by(2).cloned().collect();
    assert_eq!(every_other, story(6, 1));
    assert_eq!(strs(&t, schema::PROVIDER)[0], Some("EventTrace"));
    assert_eq!(strs(&t, schema::LEVEL)[1], Some("error"));
    let msg = strs(&t, schema::MESSAGE);
    assert_eq!(msg[0], Some("65536, 131082, 7601, DbTrace"));
    assert_eq!(
        msg[1],
        Some("Error: [DB Driver] Not enough space on temp disk, 0x70")
    );
    assert_eq!(msg[2], Some("Execute DB command sleeps on error, 26"));
    let ids: Vec<Option<u32>> = u32s(&t, schema::EVENT_ID);
    assert_eq!(&ids[..3], &[Some(0), Some(1), Some(2)]);
    assert_time_note(&t, "printed as a double");
}

#[test]
fn xperf_fixture() {
    let text = raw("xperf-dumper.txt");
    let body = text.split("EndHeader").nth(1).expect("body");
    let row = Regex::new(r"^\s*[\w/-]+,\s+\d+,").expect("re");
    let rows = body
        .lines()
        .filter(|l| row.is_match(l) && !l.starts_with("FirstReliable"))
        .count() as u64;
    let t = read_path(&fixture("xperf-dumper.txt"), &ctx()).expect("reads");
    assert_eq!(t.report.format, TraceFormat::XperfDumper);
    assert_eq!(t.report.records, rows);
    // Trace Start = 14:05:09.005Z; the first MarkEvent is 2 000 000 µs later
    let got = times(&t);
    let marks: Vec<String> = got.iter().skip(1).step_by(2).cloned().collect();
    assert_eq!(marks, story(6, 1));
    assert_eq!(got[0], "2009-10-09T14:05:09.006Z");
    assert_eq!(u32s(&t, schema::TID)[1], Some(3292));
    let msg = strs(&t, schema::MESSAGE);
    assert_eq!(
        msg[0],
        Some("P-Start ParentPID=480, Command Line=\"ProcessA.exe\" --db=main,temp -v")
    );
    assert_eq!(t.report.skip_reasons.get(crate::read::NOT_A_ROW), Some(&1));
}

#[test]
fn perfview_both_separators() {
    for name in ["perfview.csv", "perfview-semicolon.csv"] {
        let text = raw(name);
        let rows = text.lines().filter(|l| l.starts_with("DbClient/")).count() as u64;
        let t = read_opts(name, &trace_start());
        assert_eq!(t.report.format, TraceFormat::PerfViewCsv, "{name}");
        assert_eq!(
            t.report.records + t.report.skip_reasons.get(BAD_TIME).copied().unwrap_or(0),
            rows,
            "{name}"
        );
        assert_eq!(times(&t), story(6, 1), "{name}");
        assert_eq!(u32s(&t, schema::TID), vec![Some(3292); 6], "{name}");
        assert_eq!(u32s(&t, schema::PID), vec![Some(2780); 6], "{name}");
        assert_eq!(strs(&t, schema::PROVIDER)[0], Some("DbClient"));
        let m = strs(&t, schema::MESSAGE)[0].unwrap_or_default();
        assert!(m.starts_with("Error ThreadID=\"3"), "{m}");
        assert!(t
            .report
            .time_note
            .contains("anchored at 2009-10-09T14:05:09.005Z"));
    }
    // without a start the times are offsets from 1970, and the note says so
    let t = read_opts("perfview.csv", &ReadOptions::default());
    assert_eq!(times(&t)[0], "1970-01-01T00:00:02Z");
    assert_time_note(&t, "pass --trace-start");
}

#[test]
fn wpa_fixture() {
    let text = raw("wpa.csv");
    let rows = text
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .count() as u64;
    let t = read_opts("wpa.csv", &trace_start());
    assert_eq!(t.report.format, TraceFormat::WpaCsv);
    assert_eq!(t.report.records + 1, rows, "the last row has no time cell");
    assert_eq!(t.report.skip_reasons.get(TOO_FEW_FIELDS), Some(&1));
    assert_eq!(times(&t), story(6, 1));
    assert_eq!(u32s(&t, schema::EVENT_ID)[0], Some(1));
    assert_eq!(
        strs(&t, schema::MESSAGE)[0],
        Some("Error Info Error: [DB Driver] Not enough space on temp disk")
    );
}

#[test]
fn winevent_fixture() {
    let text = raw("winevent.csv");
    let rows = text.matches("\"SRV01\",\"\",\"").count() as u64;
    let t = read_path(&fixture("winevent.csv"), &ctx()).expect("reads");
    assert_eq!(t.report.format, TraceFormat::WinEventCsv);
    assert_eq!(t.report.records, rows - 1, "one row says 'yesterday'");
    // 10:05:11 AM local at UTC-04:00; TimeCreated has no milliseconds
    let want: Vec<String> = story(6, 1).iter().map(|s| s.replace(".005", "")).collect();
    assert_eq!(times(&t), want);
    let msg = strs(&t, schema::MESSAGE);
    assert_eq!(
        msg[0],
        Some("Error: [DB Driver] Not enough space on temp disk\r\nCommand: \"EXEC usp_retry 26\"")
    );
    assert_eq!(strs(&t, schema::LEVEL)[0], Some("error"));
    // the multi-line message: the next row starts 2 lines further
    let lines: Vec<Option<u64>> = t
        .frame
        .column(schema::INPUT_LINE)
        .expect("col")
        .u64()
        .expect("u64")
        .iter()
        .collect();
    assert_eq!(&lines[..2], &[Some(3), Some(5)]);
    assert!(t.report.time_note.contains("--trace-tz"));
}

fn mapping(format: &str) -> ReadOptions {
    ReadOptions::new(
        None,
        Some(CsvMapping {
            time_col: "when".into(),
            pid_col: Some("proc".into()),
            tid_col: Some("thread".into()),
            message_col: Some("text".into()),
            time_format: Some(format.parse().expect("format")),
        }),
    )
}

#[test]
fn mapped_csv() {
    let text = raw("mapped.csv");
    let rows = text.lines().skip(1).count() as u64;
    let t = read_opts("mapped.csv", &mapping("%d.%m.%Y %H:%M:%S,%3f"));
    assert_eq!(t.report.format, TraceFormat::MappedCsv);
    assert_eq!(t.report.records, rows - 1);
    assert_eq!(t.report.skip_reasons.get(BAD_TIME_FORMAT), Some(&1));
    assert_eq!(t.report.first_skips[1].line, 8);
    assert_eq!(times(&t), story(6, 1));
    assert_eq!(u32s(&t, schema::TID), vec![Some(3292); 6]);
    // a wrong format: an error naming the first value that does not fit
    let e = read_path_with(
        &fixture("mapped.csv"),
        &ctx(),
        &mapping("%Y-%m-%d %H:%M:%S"),
    )
    .expect_err("wrong format");
    assert!(matches!(e, Error::TimeFormat { line: 2, .. }), "{e:?}");
    assert!(e.to_string().ends_with(
        "mapped.csv:2: time '09.10.2009 10:05:11,005' does not fit --time-format '%Y-%m-%d %H:%M:%S'; no row could be read with it"
    ), "{e}");
    // without the mapping the file is no known trace
    assert!(matches!(
        read_path(&fixture("mapped.csv"), &ctx()),
        Err(Error::NotATrace { .. })
    ));
}

/// The real tracerpt export (Log-parser sample): 849 data rows of 42 fields, a BOM,
/// float FILETIMEs, PID 12536 for all but the 2 EventTrace rows.
#[test]
fn log_parser_sample() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/samples/trace-text/Log-parser__dumpfile.csv");
    if !path.exists() {
        println!("skipping: {} not present", path.display());
        return;
    }
    let text = String::from_utf8(std::fs::read(&path).expect("sample")).expect("utf-8");
    assert!(text.starts_with('\u{feff}'));
    let data: Vec<&str> = text.lines().skip(1).filter(|l| !l.is_empty()).collect();
    // every row has 42 fields: 41 separators outside quotes
    for l in &data {
        let mut quoted = false;
        let seps = l.chars().filter(|&c| {
            if c == '"' {
                quoted = !quoted;
            }
            c == ',' && !quoted
        });
        assert_eq!(seps.count(), 41, "{l}");
    }
    let t = read_path(&path, &ctx()).expect("sample reads");
    assert_eq!(t.report.format, TraceFormat::TracerptCsv);
    assert_eq!(t.report.records as usize, data.len());
    assert_eq!(t.report.records, 849);
    assert_eq!(t.report.skipped, 1, "the header");
    let pids = u32s(&t, schema::PID);
    let pktmon = data.iter().filter(|l| l.contains(",12536,")).count();
    assert_eq!(pids.iter().filter(|p| **p == Some(12536)).count(), pktmon);
    assert_eq!(pktmon, 847);
    let got = times(&t);
    // 1.3312743573048245e+17 = 133127435730482450 × 100 ns since 1601
    assert_eq!(got[0], "2022-11-12T16:19:33.048245Z");
    assert!(got
        .iter()
        .all(|s| s.as_str() >= "2022-11-12T16:19:33" && s.as_str() < "2022-11-12T16:20:08"));
    assert!(got
        .last()
        .is_some_and(|s| s.starts_with("2022-11-12T16:20:07")));
    let msg = strs(&t, schema::MESSAGE);
    assert_eq!(msg[2], Some("158, HTTP Protocol , http.sys, HTTP"));
    assert_eq!(
        strs(&t, schema::PROVIDER)[2],
        Some("Microsoft-Windows-PktMon")
    );
    assert_eq!(strs(&t, schema::LEVEL)[2], Some("information"));
}

/// Random bytes under every CSV header and the xperf header, and every cut of each fixture:
/// Ok or Err, never a panic.
#[test]
fn no_panics_on_any_input() {
    let names = [
        "tracefmt-custom.txt",
        "tracerpt.csv",
        "xperf-dumper.txt",
        "perfview.csv",
        "perfview-semicolon.csv",
        "wpa.csv",
        "winevent.csv",
        "mapped.csv",
    ];
    let opts = [
        trace_start(),
        mapping("%d.%m.%Y %H:%M:%S,%3f"),
        mapping("unix"),
    ];
    let mut next = crate::test_util::xorshift(0x2545_F491_4F6C_DD1D);
    let alphabet = b",;\"\r\n 0123456789.:/-()[]=xe+EAMP\xC3\xA9\xFF";
    for name in names {
        let bytes = std::fs::read(fixture(name)).expect("fixture");
        let header_end = bytes.iter().position(|&b| b == b'\n').map_or(0, |i| i + 1);
        for o in &opts {
            for cut in (0..bytes.len()).step_by(7) {
                let _ = read_bytes_with(Path::new(name), &bytes[..cut], &ctx(), o);
            }
            for _ in 0..200 {
                let len = (next() % 400) as usize;
                let mut input = bytes[..header_end].to_vec();
                input.extend((0..len).map(|_| alphabet[(next() as usize) % alphabet.len()]));
                let _ = read_bytes_with(Path::new(name), &input, &ctx(), o);
            }
        }
    }
    // an opening quote that never closes is one malformed record, not the rest of the file
    let text = "Event Name,Time MSec,Process Name,Rest\nA/B,1.0,p (1),\"open\nA/B,2.0,p (1),x\n";
    let t = read_bytes_with(
        Path::new("q.csv"),
        text.as_bytes(),
        &ctx(),
        &ReadOptions::default(),
    )
    .expect("reads");
    assert_eq!(t.report.records, 1, "{:?}", t.report.skip_reasons);
    assert_eq!(
        t.report.skip_reasons.get(crate::read::UNTERMINATED),
        Some(&1)
    );
    assert_eq!(t.report.first_skips[1].line, 2);
}

/// Files big enough to be parsed on two threads give the same frame and report as the
/// single-threaded read of the same bytes; also when records span lines (Get-WinEvent) and
/// the cut between the threads may fall inside one.
#[test]
fn parallel_pieces_match_one_thread() {
    let dir = std::env::temp_dir().join(format!("dumptrace-par-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    for (name, opts) in [
        ("tracerpt.csv", ReadOptions::default()),
        ("tracefmt-custom.txt", ReadOptions::default()),
        ("winevent.csv", ReadOptions::default()),
        ("perfview.csv", trace_start()),
    ] {
        let text = raw(name);
        let (head, body) = match name {
            "tracefmt-custom.txt" => ("", text.as_str()),
            "winevent.csv" => {
                let second = text
                    .find('\n')
                    .and_then(|i| text[i + 1..].find('\n').map(|j| i + j + 2));
                text.split_at(second.expect("two header lines"))
            }
            _ => text.split_at(text.find('\n').expect("header") + 1),
        };
        let mut big = head.to_owned();
        while big.len() < 2 << 20 {
            big.push_str(body);
        }
        let path = dir.join(name);
        std::fs::write(&path, &big).expect("write");
        let par = read_path_with(&path, &ctx(), &opts).expect("parallel read");
        let one = read_bytes_with(&path, big.as_bytes(), &ctx(), &opts).expect("one thread");
        assert_eq!(par.report.records, one.report.records, "{name}");
        assert_eq!(par.report.skipped, one.report.skipped, "{name}");
        assert_eq!(par.report.skip_reasons, one.report.skip_reasons, "{name}");
        assert_eq!(par.report.first_skips, one.report.first_skips, "{name}");
        assert_eq!(par.report.time_note, one.report.time_note, "{name}");
        assert!(par.frame.equals_missing(&one.frame), "{name}");
    }
    std::fs::remove_dir_all(&dir).expect("cleanup");
}
