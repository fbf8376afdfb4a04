use super::*;
use crate::schema;
use crate::test_util::{assert_time_note, strs, times, u32s};
use chrono::{FixedOffset, NaiveDateTime};
use polars::prelude::{DataType, TimeUnit, TimeZone};
use regex::Regex;

fn ctx(date: Option<(i32, u32, u32)>, offset_min: i32) -> TimeContext {
    TimeContext {
        date: date.and_then(|(y, m, d)| NaiveDate::from_ymd_opt(y, m, d)),
        offset: FixedOffset::east_opt(offset_min * 60).expect("offset"),
        source: "given by the test".into(),
    }
}

fn read(text: &str, ctx: &TimeContext) -> Trace {
    match read_bytes(Path::new("trace.txt"), text.as_bytes(), ctx) {
        Ok(t) => t,
        Err(e) => panic!("{e}"),
    }
}

/// Shaped like the viewer table in the seed (no-break spaces in the header, both elision
/// spellings), with prose around it as in a pasted article, and a midnight crossing.
const TABLE: &str = "#\u{a0}\u{a0}\u{a0} PID\u{a0} TID\u{a0} Time\u{a0}\u{a0}\u{a0} Message\r
[...]\r
1972 2780 5992 10:05:11.005 Error: [DB Driver] Not enough space on temp disk\r
1973 2780 5992 10:05:11.005 Execute DB command sleeps on error (retry 26)\r
[...]\r
\r
4513 2780 3292 23:59:59.990 Error: [DB Driver] Not enough space on temp disk\r
4514 2780 3292 00:00:00.010 Execute DB command sleeps on error (retry 11)\r
4515 2780 3292 00:00:06.666\tError: [DB Driver] Not enough space on temp disk\r
[\u{2026}]\r
- Dmitry Vostokov @ DumpAnalysis.org -\r
4516 2780 3292 25:00:06.666 impossible hour\r
";

#[test]
fn table_counts_match_the_raw_lines() {
    let t = read(TABLE, &ctx(Some((2009, 10, 9)), -4 * 60));
    let raw: Vec<&str> = TABLE.lines().collect();
    let row = Regex::new(r"^\s*\d+\s+\d+\s+\d+\s+\d{1,2}:\d{2}:\d{2}\.\d{3,9}(\s|$)").expect("re");
    let shaped = raw.iter().filter(|l| row.is_match(l)).count() as u64;
    let elisions = raw
        .iter()
        .filter(|l| ["[...]", "[…]"].contains(&l.trim()))
        .count() as u64;
    let blank = raw.iter().filter(|l| l.trim().is_empty()).count() as u64;

    assert_eq!(t.report.format, TraceFormat::ViewerTable);
    // the impossible hour is shaped like a row but skipped as a bad time
    assert_eq!(t.report.records, shaped - 1);
    assert_eq!(t.report.records + t.report.skipped, raw.len() as u64);
    assert_eq!(t.frame.height() as u64, t.report.records);
    let reasons = &t.report.skip_reasons;
    assert_eq!(reasons.get(ELISION), Some(&elisions));
    assert_eq!(reasons.get(BLANK), Some(&blank));
    assert_eq!(reasons.get(HEADER), Some(&1));
    assert_eq!(reasons.get(NOT_A_ROW), Some(&1));
    assert_eq!(reasons.get(BAD_TIME), Some(&1));
    let first = &t.report.first_skips;
    assert_eq!((first[0].line, first[0].reason.as_str()), (1, HEADER));
    assert_eq!((first[1].line, first[1].reason.as_str()), (2, ELISION));
    assert_eq!(first.last().map(|s| s.line), Some(12));
}

#[test]
fn table_times_are_utc_and_roll_over_midnight() {
    let t = read(TABLE, &ctx(Some((2009, 10, 9)), -4 * 60));
    // hand-computed: local = UTC − 4 h, so UTC = local + 4 h
    assert_eq!(
        times(&t),
        [
            "2009-10-09T14:05:11.005Z",
            "2009-10-09T14:05:11.005Z",
            "2009-10-10T03:59:59.990Z",
            "2009-10-10T04:00:00.010Z",
            "2009-10-10T04:00:06.666Z",
        ]
    );
    assert_eq!(u32s(&t, schema::PID), [Some(2780); 5]);
    assert_eq!(u32s(&t, schema::TID)[2], Some(3292));
    let raw = strs(&t, schema::TIME_RAW);
    assert_eq!(raw[3], Some("00:00:00.010"));
    let msg = strs(&t, schema::MESSAGE);
    assert_eq!(
        msg[4],
        Some("Error: [DB Driver] Not enough space on temp disk")
    );
    let lines: Vec<Option<u64>> = t
        .frame
        .column(schema::INPUT_LINE)
        .expect("col")
        .u64()
        .expect("u64")
        .iter()
        .collect();
    assert_eq!(lines, [Some(3), Some(4), Some(7), Some(8), Some(9)]);
    let note = &t.report.time_note;
    assert!(
        note.contains("start on 2009-10-09 (the date given by the caller)"),
        "{note}"
    );
    assert!(
        note.contains("1 midnight roll-over(s), last day 2009-10-10"),
        "{note}"
    );
    assert!(
        note.contains("UTC-04:00") && note.contains("given by the test"),
        "{note}"
    );
}

#[test]
fn frame_schema_and_nulls() {
    let t = read(TABLE, &ctx(Some((2009, 10, 9)), 0));
    let names: Vec<&str> = t
        .frame
        .get_column_names()
        .iter()
        .map(|n| n.as_str())
        .collect();
    assert_eq!(names, schema::ALL);
    let dtype = |n: &str| t.frame.column(n).expect("col").dtype().clone();
    assert_eq!(
        dtype(schema::TIME),
        DataType::Datetime(TimeUnit::Nanoseconds, Some(TimeZone::UTC))
    );
    assert_eq!(dtype(schema::EVENT_ID), DataType::UInt32);
    assert_eq!(dtype(schema::LINE), DataType::UInt64);
    assert_eq!(dtype(schema::INPUT_LINE), DataType::UInt64);
    // the table has no provider, level, event id, source file or line
    for n in [
        schema::PROVIDER,
        schema::LEVEL,
        schema::EVENT_ID,
        schema::SOURCE,
        schema::LINE,
    ] {
        assert_eq!(
            t.frame.column(n).expect("col").null_count(),
            t.frame.height(),
            "{n}"
        );
    }
}

#[test]
fn no_date_is_an_error_naming_the_file() {
    let e =
        read_bytes(Path::new("trace.txt"), TABLE.as_bytes(), &ctx(None, 0)).expect_err("no date");
    assert!(matches!(e, Error::NoDate { line: 3, .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        "trace.txt:3: no date for a time-of-day trace; pass --trace-date"
    );
}

const TRACEFMT: &str = "[1]5FEC.0E48::01/13/2024-23:31:07.097 [Atum-Hw3d]first line of a message
  that wraps onto a second line
[2] 0C34.2FF0::08/28/17-13:24:28.693 [Microsoft-Windows-WLAN-AutoConfig]netsh form

[0]0000.0000::2025-03-27 16:10:34.934020500 [Kernel]pktmon form
[3]0004.0008::2025/03/27-16:12:13.966003800 no provider
[3]0004.0008::02/30/2024-16:12:13.966 [P]no such day
";

#[test]
fn tracefmt_rows_times_and_skips() {
    let t = read(TRACEFMT, &ctx(None, 60));
    let raw: Vec<&str> = TRACEFMT.lines().collect();
    let prefix = Regex::new(r"^\[\d+\] ?[0-9A-F]{4,8}\.[0-9A-F]{4,8}::").expect("re");
    let prefixed = raw.iter().filter(|l| prefix.is_match(l)).count() as u64;
    assert_eq!(t.report.format, TraceFormat::TracefmtText);
    assert_eq!(
        t.report.records,
        prefixed - 1,
        "the 30th of February is skipped"
    );
    assert_eq!(t.report.records + t.report.skipped, raw.len() as u64);
    assert_eq!(t.report.skip_reasons.get(NO_PREFIX), Some(&1));
    assert_eq!(t.report.skip_reasons.get(BLANK), Some(&1));
    assert_eq!(t.report.skip_reasons.get(BAD_TIME), Some(&1));
    // UTC+01:00: one hour earlier in UTC
    assert_eq!(
        times(&t),
        [
            "2024-01-13T22:31:07.097Z",
            "2017-08-28T12:24:28.693Z",
            "2025-03-27T15:10:34.934020500Z",
            "2025-03-27T15:12:13.966003800Z",
        ]
    );
    assert_eq!(
        u32s(&t, schema::PID),
        [Some(0x5FEC), Some(0x0C34), Some(0), Some(4)]
    );
    assert_eq!(strs(&t, schema::PROVIDER)[3], None);
    assert_eq!(strs(&t, schema::MESSAGE)[3], Some("no provider"));
    assert_time_note(&t, "2-digit years");
}

#[test]
fn utf16_crlf_reads_like_utf8() {
    let crlf = TRACEFMT.replace('\n', "\r\n");
    let mut bytes = vec![0xFF, 0xFE];
    bytes.extend(crlf.encode_utf16().flat_map(u16::to_le_bytes));
    let c = ctx(None, 0);
    let wide = read_bytes(Path::new("wide.txt"), &bytes, &c).expect("utf-16");
    let narrow = read(TRACEFMT, &c);
    assert!(wide.frame.equals_missing(&narrow.frame));
    assert_eq!(wide.report.skip_reasons, narrow.report.skip_reasons);
    assert_eq!(looks_like_trace(&bytes), Some(TraceFormat::TracefmtText));
    let mut bom8 = b"\xEF\xBB\xBF".to_vec();
    bom8.extend(TABLE.as_bytes());
    assert_eq!(looks_like_trace(&bom8), Some(TraceFormat::ViewerTable));
}

#[test]
fn skip_text_is_cut_and_escaped() {
    let long = format!("[1]x\t\u{1b}[0m{}", "é".repeat(200));
    let text = format!("[1]5FEC.0E48::10:00:00.000 [P]m\n{long}\n");
    let t = read(&text, &ctx(Some((2024, 1, 1)), 0));
    let s = &t.report.first_skips[0];
    assert_eq!((s.line, s.reason.as_str()), (2, NO_PREFIX));
    assert!(s.text.starts_with("[1]x\\t\\u{1b}[0mé"), "{}", s.text);
    assert_eq!(s.text.chars().filter(|&c| c == 'é').count(), 120 - 9);
}

#[test]
fn first_skips_keeps_ten() {
    let mut text = "[1]5FEC.0E48::10:00:00.000 [P]m\n".to_owned();
    text.push_str(&"  continuation\n".repeat(3));
    text.push_str(&"[1]5FEC.0E48::10:00:00.000 [P]m\n".repeat(3));
    text.push_str(&"  continuation\n".repeat(20));
    let t = read(&text, &ctx(Some((2024, 1, 1)), 0));
    assert_eq!((t.report.records, t.report.skipped), (4, 23));
    assert_eq!(t.report.first_skips.len(), 10);
    assert_eq!(t.report.first_skips[3].line, 8);
}

#[test]
fn files_empty_missing_and_not_traces() {
    let c = ctx(Some((2024, 1, 1)), 0);
    let dir = std::env::temp_dir().join(format!("dumptrace-trace-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let empty = dir.join("empty.txt");
    std::fs::write(&empty, b"").expect("write");
    assert!(matches!(read_path(&empty, &c), Err(Error::Empty { .. })));
    let good = dir.join("good.txt");
    std::fs::write(&good, TABLE).expect("write");
    let t = read_path(&good, &c).expect("mapped read");
    assert_eq!(
        (t.report.path.as_path(), t.report.records),
        (good.as_path(), 5)
    );
    let e = read_path(&dir.join("missing.txt"), &c).expect_err("missing");
    assert!(
        e.to_string().contains("missing.txt: cannot read the file"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).expect("cleanup");

    let e = read_bytes(Path::new("notes.md"), b"# Notes\n\nJust prose.\n", &c).expect_err("prose");
    assert!(
        e.to_string()
            .starts_with("notes.md: not a known trace export"),
        "{e}"
    );
}

/// Random bytes and every truncation of valid inputs: Ok or Err, never a panic.
#[test]
fn arbitrary_input_never_panics() {
    let c = ctx(Some((2024, 1, 1)), 13 * 60);
    let none = ctx(None, -12 * 60);
    let mut next = crate::test_util::xorshift(0x9E37_79B9_7F4A_7C15);
    let alphabet = b"[]0123456789ABCDEF.:/- \t\r\n#xPIDT\xC2\xA0\xFF\xFE\x00";
    for round in 0..3000 {
        let len = (next() % 300) as usize;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                let r = next();
                if round % 2 == 0 {
                    alphabet[(r as usize) % alphabet.len()]
                } else {
                    r as u8
                }
            })
            .collect();
        let _ = read_bytes(Path::new("fuzz"), &bytes, &c);
        let _ = looks_like_trace(&bytes);
        let text = String::from_utf8_lossy(&bytes);
        let _ = crate::template_of(&text);
    }
    for input in [TRACEFMT, TABLE] {
        let mut wide = vec![0xFF, 0xFE];
        wide.extend(input.encode_utf16().flat_map(u16::to_le_bytes));
        for cut in 0..=input.len() {
            let _ = read_bytes(Path::new("cut"), &input.as_bytes()[..cut], &c);
            let _ = read_bytes(Path::new("cut"), &input.as_bytes()[..cut], &none);
        }
        for cut in 0..=wide.len() {
            let _ = read_bytes(Path::new("cut16"), &wide[..cut], &c);
        }
    }
    // extreme dates and offsets: out of range for nanoseconds, skipped not panicking
    let far =
        "[1]0001.0002::9999/12/31-23:59:59.999 [P]m\n[1]0001.0002::1000/01/01-00:00:00.000 [P]m\n";
    let t = read_bytes(Path::new("far"), far.as_bytes(), &c).expect("far");
    assert_eq!(t.report.skip_reasons.get(OUT_OF_RANGE), Some(&2));
}

/// The hw3d Tracefmt sample checks itself: each line's JSON body repeats the prefix's pid,
/// tid (in decimal) and time.
#[test]
fn hw3d_sample_self_check() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/samples/trace-text/hw3d__FmtFile.txt");
    if !path.exists() {
        println!("skipping: {} not present", path.display());
        return;
    }
    let raw = std::fs::read_to_string(&path).expect("sample text");
    let prefix = Regex::new(r"^\[\d+\] ?[0-9A-F]{4,}\.[0-9A-F]{4,}::").expect("re");
    let expected = raw.lines().filter(|l| prefix.is_match(l)).count();
    assert!(expected > 0);

    let c = ctx(None, -5 * 60);
    let t = read_path(&path, &c).expect("sample reads");
    assert_eq!(t.report.format, TraceFormat::TracefmtText);
    assert_eq!(t.report.records as usize, expected);
    assert_eq!(
        t.report.records + t.report.skipped,
        raw.lines().count() as u64
    );

    let pids = u32s(&t, schema::PID);
    let tids = u32s(&t, schema::TID);
    let msgs = strs(&t, schema::MESSAGE);
    let provs = strs(&t, schema::PROVIDER);
    let utc = times(&t);
    for i in 0..t.frame.height() {
        let body: serde_json::Value =
            serde_json::from_str(msgs[i].expect("msg")).expect("json body");
        let meta = &body["meta"];
        assert_eq!(pids[i].map(u64::from), meta["pid"].as_u64(), "row {i}");
        assert_eq!(tids[i].map(u64::from), meta["tid"].as_u64(), "row {i}");
        assert_eq!(provs[i], meta["provider"].as_str(), "row {i}");
        // meta.time is the same local time; UTC = local − (−05:00)
        let local = NaiveDateTime::parse_from_str(
            meta["time"].as_str().expect("time"),
            "%Y-%m-%dT%H:%M:%S%.f",
        )
        .expect("meta.time");
        let want = (local + chrono::TimeDelta::hours(5))
            .and_utc()
            .format("%Y-%m-%dT%H:%M:%S%.fZ")
            .to_string();
        assert_eq!(utc[i], want, "row {i}");
    }
}

/// A record with bytes that are not UTF-8 is read with U+FFFD in their place, wherever it
/// falls among the windows UTF-8 is checked in; the records around it are read as written.
#[test]
fn invalid_utf8_rows_are_read_lossy() {
    let mut bytes = b"Index,Event Name,Type,Event ID,Version,Channel,Level,Opcode,Task,Keyword,\
PID,TID,Processor Number,Instance ID,Parent Instance ID,Activity ID,Related Activity ID,\
Clock-Time,Kernel(ms),User(ms),User Data\r\n"
        .to_vec();
    let rows = 4000;
    let bad = |i: usize| i % 997 == 5 || i == rows - 1;
    for i in 0..rows {
        bytes.extend_from_slice(
            format!("{i},Prov,0,1,0,0,4,0,0,2,10,20,0,,,,,1.3312743573000002e+17,0,0,\" \"\"m{i}")
                .as_bytes(),
        );
        if bad(i) {
            bytes.extend_from_slice(b"\xFF\xC3");
        }
        bytes.extend_from_slice(b"\"\"\"\r\n");
    }
    let t = read_bytes(Path::new("bad.csv"), &bytes, &ctx(None, 0)).expect("reads");
    assert_eq!(t.report.records, rows as u64);
    let messages = strs(&t, schema::MESSAGE);
    for (i, m) in messages.into_iter().enumerate() {
        let want = if bad(i) {
            format!("m{i}\u{FFFD}\u{FFFD}")
        } else {
            format!("m{i}")
        };
        assert_eq!(m, Some(want.as_str()), "row {i}");
    }
}
