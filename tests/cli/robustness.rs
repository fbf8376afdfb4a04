//! Hostile and broken inputs: every reader returns a result or an error naming the file
//! (never a panic), counts what it read and skipped so that nothing vanishes, keeps control
//! sequences away from the terminal, and checks sizes read from a file before allocating.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use chrono::{FixedOffset, NaiveDate};
use dumptrace_dump::{DumpLoad, ThreadOrigin};
use dumptrace_trace::{ReadOptions, TimeContext, Trace};

use super::util::{fixture, root, run, scratch, stderr, stdout};

fn ctx() -> TimeContext {
    TimeContext {
        date: NaiveDate::from_ymd_opt(2009, 10, 9),
        offset: FixedOffset::west_opt(4 * 3600).expect("offset"),
        source: "test".into(),
    }
}

fn raw(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Every WinDbg log of the fixture cases.
fn logs() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(fixture("cases"))
        .expect("cases")
        .filter_map(|e| e.ok().map(|e| e.path().join("memory.log")))
        .filter(|p| p.exists())
        .collect();
    v.sort();
    v
}

/// Every text trace fixture: the exports in fixtures/traces and the cases' traces.
fn traces() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(fixture("traces"))
        .expect("traces")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    v.extend(
        std::fs::read_dir(fixture("cases"))
            .expect("cases")
            .filter_map(|e| e.ok().map(|e| e.path().join("trace.txt")))
            .filter(|p| p.exists()),
    );
    v.sort();
    v
}

/// How `fixtures/traces/mapped.csv` names its columns (see tests/cli/trace_formats.rs).
fn opts_for(p: &Path) -> ReadOptions {
    if p.ends_with("mapped.csv") {
        ReadOptions::new(
            None,
            Some(dumptrace_trace::CsvMapping {
                time_col: "when".into(),
                pid_col: Some("proc".into()),
                tid_col: Some("thread".into()),
                message_col: Some("text".into()),
                time_format: Some("%d.%m.%Y %H:%M:%S,%3f".parse().expect("valid time format")),
            }),
        )
    } else {
        ReadOptions::default()
    }
}

fn read_trace(name: &str, bytes: &[u8], opts: &ReadOptions) -> Result<Trace, String> {
    dumptrace_trace::read_bytes_with(Path::new(name), bytes, &ctx(), opts)
        .map_err(|e| e.to_string())
}

fn read_dump(name: &str, bytes: &[u8]) -> Result<DumpLoad, String> {
    dumptrace_dump::read_bytes(Path::new(name), bytes).map_err(|e| e.to_string())
}

/// Records of a text trace counted from the raw text: lines, except that a CSV record
/// whose quoted field holds line breaks is one record (a quote count that is odd so far
/// means the record goes on).
fn raw_records(text: &str, csv: bool) -> u64 {
    let mut n = 0;
    let mut open = false;
    for line in text.lines() {
        if !open {
            n += 1;
        }
        if csv && line.matches('"').count() % 2 == 1 {
            open = !open;
        }
    }
    n
}

/// What the invariants of a trace report are, whatever the input.
fn check_trace(t: &Trace) {
    let r = &t.report;
    assert_eq!(r.records as usize, t.frame.height(), "{}", r.path.display());
    assert_eq!(r.skipped, r.skip_reasons.values().sum::<u64>());
}

fn check_dump(l: &DumpLoad) {
    let r = &l.report;
    assert_eq!(r.skipped, r.skip_reasons.values().sum::<u64>());
    // Duplicate blocks of one thread become one thread.
    let mut seen = BTreeSet::new();
    for t in &l.snapshot.threads {
        if t.origin == ThreadOrigin::ThreadBlock {
            assert!(
                seen.insert((t.pid, t.tid, t.address)),
                "duplicate {}",
                t.cid()
            );
        }
    }
}

/// Distinct ETHREAD addresses of the `THREAD` header lines of a log.
fn thread_headers(text: &str) -> BTreeSet<u64> {
    text.lines()
        .filter_map(|l| l.trim_start().strip_prefix("THREAD "))
        .filter_map(|rest| {
            let addr = rest.split_whitespace().next()?.replace('`', "");
            u64::from_str_radix(&addr, 16).ok()
        })
        .collect()
}

fn block_threads(l: &DumpLoad) -> BTreeSet<u64> {
    l.snapshot
        .threads
        .iter()
        .filter(|t| t.origin == ThreadOrigin::ThreadBlock)
        .map(|t| t.address)
        .collect()
}

// ---------------------------------------------------------------- accounting

#[test]
fn every_trace_fixture_accounts_for_every_record() {
    for p in traces() {
        let bytes = raw(&p);
        let text = String::from_utf8_lossy(&bytes);
        let csv = p.extension().is_some_and(|e| e == "csv");
        let t = read_trace(&p.display().to_string(), &bytes, &opts_for(&p))
            .unwrap_or_else(|e| panic!("{e}"));
        check_trace(&t);
        let r = &t.report;
        assert!(r.records > 0, "{}: no rows", p.display());
        assert_eq!(
            r.records + r.skipped,
            raw_records(&text, csv),
            "{}: read {} + skipped {:?} != records in the file",
            p.display(),
            r.records,
            r.skip_reasons
        );
    }
}

#[test]
fn every_log_fixture_accounts_for_every_line_and_thread_block() {
    for p in logs() {
        let bytes = raw(&p);
        let text = String::from_utf8_lossy(&bytes);
        let l = dumptrace_dump::read_path(&p).unwrap_or_else(|e| panic!("{e}"));
        check_dump(&l);
        assert_eq!(
            l.report.lines,
            text.lines().count() as u64,
            "{}",
            p.display()
        );
        // Every THREAD header is a thread of the snapshot or a skip with its reason.
        let headers = thread_headers(&text);
        let bad = l
            .report
            .skip_reasons
            .get("THREAD header not understood")
            .copied()
            .unwrap_or(0);
        assert_eq!(
            block_threads(&l).len() as u64 + bad,
            headers.len() as u64,
            "{}",
            p.display()
        );
    }
}

#[test]
fn synthetic_binary_inputs_account_for_every_record() {
    use dumptrace_trace::etl_synth;
    // 17 records after the logfile header (etl_synth::sample_file says so).
    let etl = etl_synth::sample_file();
    let t = read_trace("sample.etl", &etl, &ReadOptions::default()).expect("etl");
    check_trace(&t);
    assert_eq!((t.report.records, t.report.skipped), (17, 0));
    // A minidump: the header and one record per directory entry.
    let dmp = dumptrace_dump::synth::sample_minidump();
    let l = read_dump("sample.dmp", &dmp).expect("minidump");
    assert_eq!(l.report.records + l.report.skipped, 1 + l.report.lines);
    assert_eq!(
        l.snapshot.threads.len(),
        4,
        "3 listed, 1 only in ThreadInfoList"
    );
}

// ---------------------------------------------------------------- corrupt inputs

/// The smallest kernel log with THREAD blocks.
fn kernel_log() -> (PathBuf, String) {
    let p = fixture("cases/cs-periodic-error/memory.log");
    let text = String::from_utf8(raw(&p)).expect("UTF-8 fixture");
    (p, text)
}

/// Byte offsets of the lines that start a THREAD block.
fn block_starts(text: &str) -> Vec<usize> {
    let mut at = 0;
    let mut v = Vec::new();
    for line in text.split_inclusive('\n') {
        if line.trim_start().starts_with("THREAD ") {
            v.push(at);
        }
        at += line.len();
    }
    v
}

#[test]
fn truncation_at_block_boundaries_keeps_every_whole_block() {
    let (_, text) = kernel_log();
    let starts = block_starts(&text);
    assert!(starts.len() > 20, "the fixture has THREAD blocks");
    for &cut in starts.iter().step_by(starts.len() / 12) {
        let kept = &text[..cut];
        let Ok(l) = read_dump("cut.log", kept.as_bytes()) else {
            assert!(
                thread_headers(kept).is_empty(),
                "only a log with no block may fail"
            );
            continue;
        };
        check_dump(&l);
        assert_eq!(block_threads(&l), thread_headers(kept), "cut at byte {cut}");
    }
}

#[test]
fn truncation_mid_block_and_mid_line_loses_only_the_cut_part() {
    let (_, text) = kernel_log();
    let starts = block_starts(&text);
    for &start in starts.iter().step_by(starts.len() / 8) {
        // Mid-block: after the header line and part of the next.
        let header_end = start + text[start..].find('\n').expect("line end") + 1;
        let cut = header_end + 10;
        let kept = &text[..cut];
        let l = read_dump("cut.log", kept.as_bytes()).expect("log");
        check_dump(&l);
        assert_eq!(block_threads(&l), thread_headers(kept));
        // Mid-line inside the THREAD header: the address is whole but the Cid is gone.
        let line_no = text[..start].matches('\n').count() as u64 + 1;
        let kept = &text[..start + text[start..].find("Cid").expect("Cid")];
        let l = read_dump("cut.log", kept.as_bytes()).expect("log");
        check_dump(&l);
        let skip = l
            .report
            .first_skips
            .iter()
            .find(|s| s.line == line_no)
            .unwrap_or_else(|| panic!("the cut header at line {line_no} is reported"));
        assert!(skip.reason.contains("THREAD"), "{skip:?}");
        assert_eq!(l.report.path, Path::new("cut.log"));
        assert_eq!(
            block_threads(&l).len(),
            thread_headers(&text[..start]).len()
        );
    }
}

#[test]
fn duplicated_and_reordered_blocks_give_each_thread_once() {
    let (_, text) = kernel_log();
    let original = read_dump("a.log", text.as_bytes()).expect("log");
    let starts = block_starts(&text);
    // Blocks run from one THREAD line to the next (the last to the end of the file).
    let body_end = text.len();
    let mut blocks: Vec<&str> = starts
        .windows(2)
        .map(|w| &text[w[0]..w[1]])
        .chain(std::iter::once(&text[starts[starts.len() - 1]..body_end]))
        .collect();
    let head = &text[..starts[0]];
    // Every block twice.
    let doubled: String = std::iter::once(head)
        .chain(blocks.iter().copied())
        .chain(blocks.iter().copied())
        .collect();
    let l = read_dump("doubled.log", doubled.as_bytes()).expect("log");
    check_dump(&l);
    assert_eq!(block_threads(&l), block_threads(&original));
    // Reversed order.
    blocks.reverse();
    let reversed: String = std::iter::once(head).chain(blocks).collect();
    let l = read_dump("reversed.log", reversed.as_bytes()).expect("log");
    check_dump(&l);
    assert_eq!(block_threads(&l), block_threads(&original));
}

/// `bytes` with one bit flipped at each of `n` places chosen by a fixed xorshift seed.
fn flipped(bytes: &[u8], seed: u64, n: usize) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let mut x = seed | 1;
    for _ in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if out.is_empty() {
            break;
        }
        let at = (x % out.len() as u64) as usize;
        out[at] ^= 1 << (x >> 60 & 7);
    }
    out
}

#[test]
fn bit_flips_in_every_input_are_survived_and_accounted() {
    for p in traces() {
        let bytes = raw(&p);
        for seed in 1..=8 {
            let b = flipped(&bytes, seed, 16);
            if let Ok(t) = read_trace(&p.display().to_string(), &b, &opts_for(&p)) {
                check_trace(&t);
            }
        }
    }
    let log = raw(&fixture("cases/user-loader-lock-mutant/memory.log"));
    for seed in 1..=8 {
        if let Ok(l) = read_dump("flipped.log", &flipped(&log, seed, 32)) {
            check_dump(&l);
        }
    }
    for bin in [
        dumptrace_dump::synth::sample_minidump(),
        dumptrace_dump::synth::kernel_dump(&Default::default(), Some(0x3000)),
    ] {
        for seed in 1..=32 {
            if let Ok(l) = read_dump("flipped.dmp", &flipped(&bin, seed, 8)) {
                check_dump(&l);
            }
        }
    }
    let etl = dumptrace_trace::etl_synth::sample_file();
    for seed in 1..=32 {
        if let Ok(t) = read_trace(
            "flipped.etl",
            &flipped(&etl, seed, 8),
            &ReadOptions::default(),
        ) {
            check_trace(&t);
        }
    }
}

fn utf16le(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

#[test]
fn utf16_without_a_bom_reads_like_utf8() {
    let (_, text) = kernel_log();
    let l8 = read_dump("a.log", text.as_bytes()).expect("utf-8");
    let l16 = read_dump("a16.log", &utf16le(&text)).expect("utf-16 without BOM");
    assert_eq!(block_threads(&l16), block_threads(&l8));
    assert_eq!(l16.report.lines, l8.report.lines);
    for p in traces() {
        let bytes = raw(&p);
        let text = String::from_utf8_lossy(&bytes);
        let name = p.display().to_string();
        let t8 = read_trace(&name, &bytes, &opts_for(&p)).expect("utf-8");
        let t16 = read_trace(&name, &utf16le(&text), &opts_for(&p))
            .unwrap_or_else(|e| panic!("UTF-16 without BOM: {e}"));
        assert_eq!(
            (t16.report.records, t16.report.skipped),
            (t8.report.records, t8.report.skipped),
            "{name}"
        );
    }
}

#[test]
fn empty_files_are_errors_naming_the_file() {
    let dir = scratch("robust-empty");
    let p = dir.join("empty.log");
    std::fs::write(&p, b"").expect("write");
    let e = dumptrace_dump::read_path(&p)
        .expect_err("empty log")
        .to_string();
    assert!(e.contains("empty.log"), "{e}");
    let e = dumptrace_trace::read_path(&p, &ctx())
        .expect_err("empty trace")
        .to_string();
    assert!(e.contains("empty.log"), "{e}");
    let o = run(&["dump", p.to_str().expect("utf-8 path")]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("empty.log"), "{}", stderr(&o));
}

#[test]
fn nul_bytes_inside_lines_are_read_around() {
    let (_, text) = kernel_log();
    // A NUL in every 50th line, and a run of NULs between two blocks.
    let mut damaged = String::new();
    for (i, line) in text.split_inclusive('\n').enumerate() {
        if i % 50 == 25 && !line.trim_start().starts_with("THREAD ") {
            damaged.push_str(&line.replacen(' ', "\0", 1));
        } else {
            damaged.push_str(line);
        }
    }
    let cut = block_starts(&damaged)[5];
    damaged.insert_str(cut, &format!("{}\n", "\0".repeat(4096)));
    let l = read_dump("nul.log", damaged.as_bytes()).expect("log");
    check_dump(&l);
    assert_eq!(block_threads(&l), thread_headers(&text));
    for p in traces() {
        let bytes = raw(&p);
        let mut b = bytes.clone();
        let mid = b.len() / 2;
        b.splice(mid..mid, [0u8; 64]);
        if let Ok(t) = read_trace(&p.display().to_string(), &b, &opts_for(&p)) {
            check_trace(&t);
        }
    }
}

#[test]
fn a_100_mb_single_line_is_one_record_and_the_next_line_is_read() {
    let dir = scratch("robust-long-line");
    let p = dir.join("long.txt");
    {
        use std::io::Write;
        let mut f = std::io::BufWriter::new(std::fs::File::create(&p).expect("create"));
        f.write_all(b"[0]0A2C.0B3C::10/09/2009-10:05:11.005 [Provider]")
            .expect("write");
        let chunk = vec![b'x'; 1 << 20];
        for _ in 0..100 {
            f.write_all(&chunk).expect("write");
        }
        f.write_all(b"\n[0]0A2C.0B3C::10/09/2009-10:05:12.005 [Provider]short\n")
            .expect("write");
    }
    let t = dumptrace_trace::read_path(&p, &ctx()).expect("trace with a long line");
    check_trace(&t);
    assert_eq!(
        t.report.records + t.report.skipped,
        2,
        "{:?}",
        t.report.skip_reasons
    );
    // As a log: not one (no prompt or block in the first 64 KiB), said at once.
    let e = dumptrace_dump::read_path(&p)
        .expect_err("not a log")
        .to_string();
    assert!(e.contains("long.txt"), "{e}");
    let _ = std::fs::remove_file(&p);
}

// ---------------------------------------------------------------- terminal safety

const EVIL: &str = "\x1b[2J\x1b]0;pwn\x07";

#[test]
fn control_sequences_from_inputs_are_escaped_on_the_terminal() {
    let dir = scratch("robust-escapes");
    let case = fixture("cases/cs-periodic-error");
    let log = String::from_utf8(raw(&case.join("memory.log"))).expect("utf-8");
    std::fs::write(
        dir.join("memory.log"),
        log.replace("ProcessA.exe", &format!("Proc{EVIL}essA.exe")),
    )
    .expect("write");
    let trace = String::from_utf8(raw(&case.join("trace.txt"))).expect("utf-8");
    std::fs::write(
        dir.join("trace.txt"),
        trace.replace("Error:", &format!("Error:{EVIL}")),
    )
    .expect("write");
    let d = dir.to_str().expect("utf-8 path");
    let log = dir.join("memory.log");
    let trace = dir.join("trace.txt");
    for args in [
        vec!["analyze", d],
        vec!["dump", log.to_str().expect("path")],
        vec![
            "trace",
            trace.to_str().expect("path"),
            "--trace-date",
            "2009-10-09",
        ],
    ] {
        let o = run(&args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        for (what, text) in [("stdout", stdout(&o)), ("stderr", stderr(&o))] {
            assert!(
                !text.contains(['\x1b', '\x07']),
                "{args:?} {what} holds raw control characters"
            );
        }
        assert!(
            stdout(&o).contains("\\u{1b}"),
            "{args:?}: the planted text is shown, escaped:\n{}",
            stdout(&o)
        );
    }
}

// ---------------------------------------------------------------- resource limits

// Hostile sizes must be refused before anything is allocated for them: each test
// below asserts the refusal itself (a skip whose reason says the size is too large
// for the file, at its byte offset), not how long the read took. Minidump streams
// claiming more entries or bytes than the file holds are refused in the minidump
// reader's own tests (`counts_too_large_for_the_file`).

#[test]
fn a_kernel_dump_claiming_huge_runs_is_read_from_its_header() {
    use dumptrace_dump::synth::{kernel_dump, KernelSpec};
    let mut bytes = kernel_dump(&KernelSpec::default(), Some(0x2000));
    // DUMP_HEADER64: PhysicalMemoryBlock at 0x88 (NumberOfRuns u32, NumberOfPages u64, then
    // {BasePage, PageCount} runs), RequiredDumpSpace at 0xFA0.
    bytes[0x88..0x8C].copy_from_slice(&0x7FFF_FFFFu32.to_le_bytes());
    bytes[0x90..0x98].copy_from_slice(&u64::MAX.to_le_bytes());
    bytes[0xA0..0xA8].copy_from_slice(&u64::MAX.to_le_bytes());
    bytes[0xFA0..0xFA8].copy_from_slice(&u64::MAX.to_le_bytes());
    let l = read_dump("huge-kernel.dmp", &bytes).expect("header");
    check_dump(&l);
    let f = &l.snapshot.dump_files[0];
    let k = f.kernel.as_ref().expect("kernel header");
    assert!(k.memory_runs.len() < 1000, "{} runs", k.memory_runs.len());
    assert!(l.report.skipped >= 1, "{:?}", l.report.skip_reasons);
}

#[test]
fn etl_buffers_claiming_gigabytes_are_skipped_with_their_offset() {
    use dumptrace_trace::etl_synth::*;
    let h = Header::default();
    let first = buffer(&BufferSpec::header(1024), &[logfile_header(&h)]);
    // A 4 GB buffer, and a compressed one whose body claims a 4 GB inflated size.
    let mut big = buffer(&BufferSpec::new(0, 1), &[tracelogging_event(&h, 5, 1, 2)]);
    big[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
    let mut spec = BufferSpec::new(1, 1);
    spec.compress = true;
    let mut inflate = buffer(&spec, &[tracelogging_event(&h, 6, 1, 2)]);
    inflate[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    let good = buffer(&BufferSpec::new(0, 2), &[tracelogging_event(&h, 7, 1, 2)]);
    for (name, file) in [
        ("big.etl", [first.clone(), big, good.clone()].concat()),
        (
            "inflate.etl",
            [first.clone(), inflate, good.clone()].concat(),
        ),
    ] {
        let t = read_trace(name, &file, &ReadOptions::default()).unwrap_or_else(|e| panic!("{e}"));
        check_trace(&t);
        assert!(t.report.skipped >= 1, "{name}: {:?}", t.report.skip_reasons);
        let skip = &t.report.first_skips[0];
        assert_eq!(skip.offset, Some(1024), "{name}: {skip:?}");
    }
    // An event whose extended item lengths and TraceLogging metadata run past the record.
    let mut items = tracelogging_items("p", "e", &[("f", 1, None)]);
    items[1].1[0..2].copy_from_slice(&u16::MAX.to_le_bytes());
    let e = Event::tracelogging(guid(SAMPLE_PROVIDER), 1, 2, h.anchor + 9, items);
    let file = [
        first,
        buffer(&BufferSpec::new(0, 1), &[event(&e, &[1, 2, 3])]),
    ]
    .concat();
    let t = read_trace("meta.etl", &file, &ReadOptions::default()).expect("etl");
    check_trace(&t);
    // The logfile-header record is a row too.
    assert_eq!(
        t.report.records + t.report.skipped,
        2,
        "{:?} {:?} {}",
        t.report.skip_reasons,
        t.report.first_skips,
        t.report.records
    );
}

// ---------------------------------------------------------------- mutated fixtures

mod mutated {
    //! Every reader over fixtures mutated by proptest: bytes overwritten, inserted and
    //! removed, cuts and splices. A bounded number of cases per reader keeps this to
    //! seconds; the cargo-fuzz targets in fuzz/ run the same checks for hours.

    use super::*;
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    #[derive(Debug, Clone)]
    enum Edit {
        Set(usize, u8),
        Insert(usize, Vec<u8>),
        Remove(usize, usize),
        Cut(usize),
        Repeat(usize, usize),
    }

    fn edit() -> impl Strategy<Value = Edit> {
        prop_oneof![
            (any::<usize>(), any::<u8>()).prop_map(|(a, b)| Edit::Set(a, b)),
            (
                any::<usize>(),
                prop::collection::vec(
                    prop_oneof![
                        any::<u8>(),
                        Just(b'\n'),
                        Just(b','),
                        Just(b'"'),
                        Just(0u8),
                        Just(0xFF)
                    ],
                    1..16
                )
            )
                .prop_map(|(a, v)| Edit::Insert(a, v)),
            (any::<usize>(), 1usize..256).prop_map(|(a, n)| Edit::Remove(a, n)),
            any::<usize>().prop_map(Edit::Cut),
            (any::<usize>(), 1usize..512).prop_map(|(a, n)| Edit::Repeat(a, n)),
        ]
    }

    fn apply(base: &[u8], edits: &[Edit]) -> Vec<u8> {
        let mut b = base.to_vec();
        for e in edits {
            let len = b.len().max(1);
            match e {
                Edit::Set(a, v) => {
                    if !b.is_empty() {
                        b[a % len] = *v;
                    }
                }
                Edit::Insert(a, v) => {
                    let at = a % (b.len() + 1);
                    b.splice(at..at, v.iter().copied());
                }
                Edit::Remove(a, n) => {
                    let at = a % len;
                    let end = (at + n).min(b.len());
                    if at < end {
                        b.drain(at..end);
                    }
                }
                Edit::Cut(a) => b.truncate(a % len),
                Edit::Repeat(a, n) => {
                    let at = a % len;
                    let end = (at + n).min(b.len());
                    let piece = b.get(at..end).unwrap_or_default().to_vec();
                    b.splice(at..at, piece);
                }
            }
        }
        b
    }

    /// Runs `read` over `cases` mutations of each seed.
    fn fuzz(seeds: &[Vec<u8>], cases: u32, read: impl Fn(&[u8])) {
        let mut runner = TestRunner::new(Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        });
        let strategy = (0..seeds.len(), prop::collection::vec(edit(), 1..8));
        runner
            .run(&strategy, |(i, edits)| {
                read(&apply(&seeds[i], &edits));
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// Lines `from..from + n` of a fixture: small seeds, so mutations stay cheap.
    fn slice_lines(p: &Path, from: usize, n: usize) -> Vec<u8> {
        let text = String::from_utf8_lossy(&raw(p)).into_owned();
        text.split_inclusive('\n')
            .skip(from)
            .take(n)
            .collect::<String>()
            .into_bytes()
    }

    #[test]
    fn windbg_logs() {
        let mut seeds = Vec::new();
        for p in logs() {
            let lines = String::from_utf8_lossy(&raw(&p)).lines().count();
            for k in 0..4 {
                seeds.push(slice_lines(&p, lines * k / 4, 300));
            }
        }
        fuzz(&seeds, 160, |b| {
            if let Ok(l) = read_dump("m.log", b) {
                check_dump(&l);
            }
        });
    }

    #[test]
    fn text_and_csv_traces() {
        for p in traces() {
            let seeds = vec![slice_lines(&p, 0, 200)];
            let opts = opts_for(&p);
            fuzz(&seeds, 48, |b| {
                if let Ok(t) = read_trace("m.txt", b, &opts) {
                    check_trace(&t);
                }
            });
        }
    }

    #[test]
    fn binary_dumps_and_etl() {
        use dumptrace_dump::synth;
        let dumps = vec![
            synth::sample_minidump(),
            synth::kernel_dump(&Default::default(), Some(0x3000)),
            synth::kernel_dump(
                &synth::KernelSpec {
                    bits: 32,
                    ..Default::default()
                },
                Some(0x2000),
            ),
        ];
        fuzz(&dumps, 300, |b| {
            if let Ok(l) = read_dump("m.dmp", b) {
                check_dump(&l);
            }
        });
        let etl = vec![dumptrace_trace::etl_synth::sample_file()];
        fuzz(&etl, 300, |b| {
            if let Ok(t) = read_trace("m.etl", b, &ReadOptions::default()) {
                check_trace(&t);
            }
        });
    }
}

/// Fuzzing found these; each must read without a panic (see fuzz/README.md).
#[test]
fn inputs_found_by_fuzzing() {
    let dir = root().join("fixtures/corrupt");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    for e in entries.filter_map(Result::ok) {
        let p = e.path();
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if name.ends_with(".md") {
            continue;
        }
        let bytes = raw(&p);
        if let Ok(l) = read_dump(name, &bytes) {
            check_dump(&l);
        }
        for opts in [ReadOptions::default(), opts_for(Path::new("mapped.csv"))] {
            if let Ok(t) = read_trace(name, &bytes, &opts) {
                check_trace(&t);
            }
        }
    }
}

/// `fixtures/corrupt/stacks-wide-ticks.log` (fuzzing, `windbg_log`): a `!stacks` row
/// whose Ticks column is wider than the 32 bits `!stacks` prints. The row is skipped
/// with its line, not read as a negative tick count.
#[test]
fn a_stacks_row_with_ticks_wider_than_32_bits_is_skipped() {
    let p = root().join("fixtures/corrupt/stacks-wide-ticks.log");
    let text = String::from_utf8_lossy(&raw(&p)).into_owned();
    let row = text
        .lines()
        .position(|l| l.starts_with("4.1 "))
        .expect("the row") as u64
        + 1;
    let l = dumptrace_dump::read_path(&p).unwrap_or_else(|e| panic!("{e}"));
    check_dump(&l);
    assert!(l.snapshot.threads.is_empty(), "{:?}", l.snapshot.threads);
    assert_eq!(
        l.report.skip_reasons.get("!stacks row not understood"),
        Some(&1),
        "{:?}",
        l.report.skip_reasons
    );
    assert_eq!(l.report.first_skips[0].line, row);
}
