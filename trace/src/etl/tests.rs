//! Tests on files built by the test-data writer ([`super::synth`]): every header type,
//! compression, WPP with a TMF file, kernel events, clocks, and damaged input.

use std::path::{Path, PathBuf};

use polars::prelude::DataFrame;

use super::synth::*;
use super::{read, sniff};
use crate::schema;
use crate::Trace;

const WPP_GUID: &str = SAMPLE_WPP_GUID;
const TMF: &str = "8f3b1e4c-52c1-4d37-9a29-3f7f1e3b5a10 mydriver // SRC=driver.c MJ= MN=\n\
    #typev driver_c120 10 \"%0Opened %10!s! status=%11!08x!\" //   LEVEL=TRACE_LEVEL_ERROR FUNC=Open\n\
    {\n\
    name, ItemString -- 10\n\
    status, ItemNTSTATUS -- 11\n\
    }\n";

fn read_synth(bytes: &[u8], tmf_dir: Option<PathBuf>) -> Trace {
    read(
        Path::new("synth.etl"),
        bytes,
        &|_| {},
        tmf_dir.as_deref(),
        None,
        None,
    )
    .expect("synthetic file reads")
}

fn strings(df: &DataFrame, col: &str) -> Vec<Option<String>> {
    let s = df
        .column(col)
        .expect("column")
        .str()
        .expect("string column")
        .clone();
    (0..s.len()).map(|i| s.get(i).map(str::to_string)).collect()
}

fn u32s(df: &DataFrame, col: &str) -> Vec<Option<u32>> {
    let c = df.column(col).expect("column").u32().expect("u32").clone();
    (0..c.len()).map(|i| c.get(i)).collect()
}

fn u64s(df: &DataFrame, col: &str) -> Vec<Option<u64>> {
    let c = df.column(col).expect("column").u64().expect("u64").clone();
    (0..c.len()).map(|i| c.get(i)).collect()
}

fn times(df: &DataFrame) -> Vec<i64> {
    let c = df
        .column(schema::TIME)
        .expect("time")
        .datetime()
        .expect("datetime")
        .physical()
        .clone();
    (0..c.len()).map(|i| c.get(i).expect("time")).collect()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dumptrace-etl-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn every_header_type_in_time_order() {
    let bytes = sample_file();
    assert!(sniff(&bytes));
    let dir = temp_dir("tmf");
    std::fs::write(dir.join(format!("{WPP_GUID}.tmf")), TMF).expect("tmf written");
    let trace = read_synth(&bytes, Some(dir.clone()));
    let _ = std::fs::remove_dir_all(&dir);
    let df = &trace.frame;
    let r = &trace.report;
    assert_eq!((r.records, r.skipped), (17, 0), "{:?}", r.first_skips);
    let info = r.etl.as_ref().expect("etl info");
    assert_eq!(
        (
            info.buffers,
            info.compressed_buffers,
            info.buffers_flagged_events_lost
        ),
        (4, 1, 1)
    );
    let by: Vec<(&str, u64)> = info
        .records_by_header
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    assert_eq!(
        by,
        [
            ("COMPACT64", 1),
            ("EVENT_HEADER32", 1),
            ("EVENT_HEADER64", 2),
            ("FULL_HEADER64", 1),
            ("INSTANCE32", 1),
            ("MESSAGE", 4),
            ("PERFINFO64", 1),
            ("SYSTEM32", 1),
            ("SYSTEM64", 5),
        ]
    );
    let msg = strings(df, schema::MESSAGE);
    let m: Vec<&str> = msg.iter().map(|m| m.as_deref().unwrap_or("")).collect();
    // Two header records at t=0 (the second past SavedOffset), then the merged CPUs.
    assert!(
        m[0].starts_with("EventTrace/Header logger=Synth os=10.0 build=19045"),
        "{}",
        m[0]
    );
    assert!(
        m[1].starts_with("EventTrace/PartitionInfoExtension"),
        "{}",
        m[1]
    );
    assert_eq!(
        m[2],
        "Process/Start UniqueProcessKey=0x7777777777777777; ProcessID=300; ParentID=4; \
         SessionID=1; ExitStatus=0; PageDirectoryBase=0x00000000; Flags=None; UserSID=; \
         ImageFileName=app.exe; CommandLine=app.exe -x; PackageFullName=; ApplicationID="
    );
    assert!(
        m[3].starts_with("DbgPrint/Type5 v1 data=09090909"),
        "{}",
        m[3]
    );
    assert_eq!(
        m[4],
        "Thread/Start ProcessID=300; ThreadID=301; StackBase=0x00000000; StackLimit=0x00000000; \
         UserStackBase=0x00000000; UserStackLimit=0x00000000; StartAddr=0x00000000; \
         Win32StartAddr=0x00000000; TebBase=0x00000000; SubProcessTag=0; BasePriority=8; \
         PagePriority=5; IoPriority=2; ThreadFlags=0"
    );
    assert!(m[5].starts_with("opcode=3 v1 data=0102"), "{}", m[5]);
    assert_eq!(
        m[6],
        "Thread/CSwitch NewThreadID=8; OldThreadID=301; NewThreadPriority=8; OldThreadPriority=9; \
         PreviousCState=0; SpareByte=0; OldThreadWaitReason=WrQueue; OldThreadWaitMode=UserMode; \
         OldThreadState=Waiting; OldThreadWaitIdealProcessor=0; NewThreadWaitTime=5; \
         OldProcessID=300; NewProcessID=300"
    );
    assert!(
        m[7].starts_with("opcode=4 v1 instance=5 parent=6 parent_guid=8f3b1e4c"),
        "{}",
        m[7]
    );
    assert_eq!(m[8], "PerfInfo/Sample v2 data=01020304");
    assert_eq!(m[9], "Opened disk0 status=c0000034");
    assert_eq!(m[10], "Planet name=Saturn moons=146 ringed=true");
    assert!(
        m[11].starts_with(&format!("WPP {WPP_GUID} message 11 data=ee")),
        "{}",
        m[11]
    );
    assert_eq!(m[12], "WPP component 9 message 12 data=01");
    assert_eq!(m[13], "WPP message 13 data=");
    assert_eq!(
        m[14],
        "id=10 v0 opcode=1 task=1 keyword=0x1 channel=16 data=aabb"
    );
    assert!(
        m[15].starts_with("SystemConfig/Opcode(1) v2 data=4242"),
        "{}",
        m[15]
    );
    assert_eq!(m[16], "Planet name=Saturn moons=146 ringed=true");
    let t = times(df);
    assert!(t.windows(2).all(|w| w[0] <= w[1]), "{t:?}");
    // QPC at 10 MHz: 10 ticks = 1 µs after the start time 2024-01-13T08:31:07Z.
    assert_eq!(t[0], 1_705_134_667_000_000_000);
    assert_eq!(t[2] - t[0], 1_000);
    assert_eq!(
        t[13], t[12],
        "a message without TIMESTAMP takes the time before it"
    );
    let pid = u32s(df, schema::PID);
    let tid = u32s(df, schema::TID);
    assert_eq!(
        (pid[6], tid[6]),
        (Some(300), Some(301)),
        "context switch of a known thread"
    );
    assert_eq!((pid[8], tid[8]), (None, None), "PERFINFO carries no ids");
    assert_eq!((pid[9], tid[9]), (Some(300), Some(302)));
    assert_eq!((pid[12], tid[12]), (None, None), "WPP without SYSTEMINFO");
    let provider = strings(df, schema::PROVIDER);
    assert_eq!(provider[2].as_deref(), Some("Windows Kernel"));
    assert_eq!(provider[9].as_deref(), Some("mydriver"));
    assert_eq!(provider[10].as_deref(), Some("solar_system"));
    assert_eq!(provider[11].as_deref(), Some(WPP_GUID));
    assert_eq!(
        provider[14].as_deref(),
        Some("Microsoft-Windows-DotNETRuntime")
    );
    let level = strings(df, schema::LEVEL);
    assert_eq!(
        (level[9].as_deref(), level[14].as_deref()),
        (Some("error"), Some("verbose"))
    );
    assert_eq!(strings(df, schema::SOURCE)[9].as_deref(), Some("driver.c"));
    let line = u64s(df, schema::LINE);
    assert_eq!(line[9], Some(120));
    let ids = u32s(df, schema::EVENT_ID);
    assert_eq!(
        (ids[2], ids[5], ids[9], ids[14]),
        (Some(0x0301), Some(3), Some(10), Some(10))
    );
    assert_eq!(strings(df, schema::TIME_RAW)[2].as_deref(), Some("1000010"));
    let offsets = u64s(df, schema::INPUT_OFFSET);
    assert_eq!(offsets[0], Some(0x48));
    assert_eq!(
        offsets[2],
        Some(1024 + 0x48),
        "first record of the second buffer"
    );
    assert_eq!(
        offsets[15],
        Some(1024 + 4096 + 4096),
        "compressed: the buffer's offset"
    );
    let input_line = df.column(schema::INPUT_LINE).expect("input_line");
    assert_eq!(input_line.null_count(), df.height());
}

#[test]
fn wpp_without_tmf_and_bad_tmf_folder() {
    let trace = read_synth(&sample_file(), None);
    let info = trace.report.etl.expect("etl");
    assert_eq!(info.wpp_without_format, 4);
    let missing = Path::new("/nonexistent/tmf");
    let err = read(
        Path::new("x.etl"),
        &sample_file(),
        &|_| {},
        Some(missing),
        None,
        None,
    )
    .expect_err("bad folder");
    assert!(err.to_string().contains("/nonexistent/tmf"), "{err}");
}

#[test]
fn other_clocks_and_32_bit_header() {
    for (clock, ptr, per_tick_ns) in [(2u32, 8u32, 100i64), (3, 4, 1), (1, 4, 100)] {
        let h = Header {
            clock_type: clock,
            pointer_size: ptr,
            cpu_mhz: 1000,
            ..Header::default()
        };
        let first = buffer(&BufferSpec::header(1024), &[logfile_header(&h)]);
        let rec = system(
            ptr == 8,
            0x05,
            1,
            2,
            1,
            2,
            h.anchor + 1000,
            &thread_payload(1, 2),
        );
        let bytes = [first, buffer(&BufferSpec::new(0, 1), &[rec])].concat();
        let trace = read_synth(&bytes, None);
        let info = trace.report.etl.expect("etl");
        assert_eq!(
            (info.header.clock_type, info.header.pointer_size),
            (clock, ptr)
        );
        assert_eq!(info.header.time_zone_bias_minutes, 300);
        assert_eq!(info.header.logger_name, "Synth");
        let t = times(&trace.frame);
        assert_eq!(t[1] - t[0], 1000 * per_tick_ns, "clock {clock}");
    }
}

#[test]
fn lost_buffers_and_events_are_reported() {
    let h = Header {
        events_lost: 3,
        buffers_lost: 1,
        ..Header::default()
    };
    let mut spec = BufferSpec::new(0, 1);
    spec.flags = 0x4 | 0x2;
    let bytes = [
        buffer(&BufferSpec::header(1024), &[logfile_header(&h)]),
        buffer(&spec, &[tracelogging_event(&h, 5, 1, 2)]),
    ]
    .concat();
    let info = read_synth(&bytes, None).report.etl.expect("etl");
    assert_eq!((info.header.events_lost, info.header.buffers_lost), (3, 1));
    assert_eq!(
        (info.buffers_flagged_events_lost, info.buffers_flagged_lost),
        (1, 1)
    );
}

#[test]
fn damaged_buffers_are_skipped_with_their_offset() {
    let mut bytes = sample_file();
    // An impossible BufferSize in CPU 0's buffer: the walk resumes at the next buffer.
    bytes[1024..1028].copy_from_slice(&5u32.to_le_bytes());
    let trace = read_synth(&bytes, None);
    let r = &trace.report;
    assert_eq!(
        r.skip_reasons.get("bad buffer"),
        Some(&1),
        "{:?}",
        r.first_skips
    );
    assert_eq!(r.first_skips[0].offset, Some(1024));
    assert!(
        r.first_skips[0]
            .text
            .contains("smaller than its 72-byte header"),
        "{:?}",
        r.first_skips
    );
    assert_eq!(r.records, 17 - 6);
    // A corrupt compressed body: that buffer is skipped, the rest read.
    let mut bytes = sample_file();
    let compressed = 1024 + 4096 + 4096 + 0x48;
    bytes[compressed..compressed + 4].copy_from_slice(&[0xFF; 4]);
    bytes[compressed + 4..compressed + 8].copy_from_slice(&[0xFF; 4]);
    let r = read_synth(&bytes, None).report;
    assert_eq!(
        r.skip_reasons.get("bad compressed buffer"),
        Some(&1),
        "{:?}",
        r.first_skips
    );
    assert_eq!(r.records, 17 - 4);
    // A record whose size runs past the data end: the rest of its buffer is skipped.
    let mut bytes = sample_file();
    let third = 1024 + 4096 + 0x48;
    bytes[third + 4..third + 6].copy_from_slice(&0xFFF0u16.to_le_bytes());
    let r = read_synth(&bytes, None).report;
    assert_eq!(
        r.skip_reasons.get("bad record"),
        Some(&1),
        "{:?}",
        r.first_skips
    );
    assert_eq!(r.first_skips[0].offset, Some(third as u64));
}

#[test]
fn never_panics_on_truncation_bit_flips_or_noise() {
    let bytes = sample_file();
    let path = Path::new("fuzz.etl");
    for n in 0..bytes.len() {
        let _ = read(path, &bytes[..n], &|_| {}, None, None, None);
    }
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..3000 {
        let mut b = bytes.clone();
        for _ in 0..1 + next() % 4 {
            let i = (next() as usize) % b.len();
            b[i] ^= 1 << (next() % 8);
        }
        let _ = read(path, &b, &|_| {}, None, None, None);
    }
    for len in [0usize, 1, 0x48, 0x100, 5000] {
        let noise: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        let _ = read(path, &noise, &|_| {}, None, None, None);
        // Noise behind a valid header buffer.
        let _ = read(
            path,
            &[&bytes[..1024], &noise[..]].concat(),
            &|_| {},
            None,
            None,
            None,
        );
    }
}

/// Streaming hands over every row, in the same order, in chunks of `STREAM_ROWS`.
#[test]
fn chunks_hold_the_same_rows_as_the_frame() {
    let bytes = sample_file();
    let whole = read(Path::new("x.etl"), &bytes, &|_| {}, None, None, None).expect("reads");
    let mut chunks: Vec<DataFrame> = Vec::new();
    let mut sink = |df: DataFrame| {
        chunks.push(df);
        std::ops::ControlFlow::Continue(())
    };
    let streamed = read(
        Path::new("x.etl"),
        &bytes,
        &|_| {},
        None,
        None,
        Some(&mut sink),
    )
    .expect("reads");
    assert_eq!(streamed.frame.height(), 0);
    assert_eq!(streamed.report.records, whole.report.records);
    assert!(chunks.len() > 1, "{} chunks", chunks.len());
    assert!(chunks.iter().all(|c| c.height() <= super::STREAM_ROWS));
    let mut joined = chunks.remove(0);
    for c in chunks {
        joined.vstack_mut_owned(c).expect("same schema");
    }
    assert!(joined.equals_missing(&whole.frame));
}

/// The file is released only behind the records still to be decoded: every chunk's rows
/// lie past all that was released before the chunk was handed over. (Rows of a compressed
/// buffer carry its offset, and its bytes in the file are done with once inflated.)
#[test]
fn release_stays_behind_the_records_being_decoded() {
    use std::sync::atomic::{AtomicU64, Ordering};
    let bytes = sample_file();
    let compressed: Vec<u64> = super::buffer::scan(&bytes, 0)
        .buffers
        .iter()
        .filter(|h| h.compressed())
        .map(|h| h.offset)
        .collect();
    assert!(!compressed.is_empty());
    let released = AtomicU64::new(0);
    let calls = AtomicU64::new(0);
    let release = |end: usize| {
        assert!(end <= bytes.len());
        released.fetch_max(end as u64, Ordering::SeqCst);
        calls.fetch_add(1, Ordering::SeqCst);
    };
    let mut behind = Vec::new();
    let mut sink = |df: DataFrame| {
        let offsets = df.column(schema::INPUT_OFFSET).expect("offsets");
        let lowest = offsets
            .u64()
            .expect("u64")
            .into_no_null_iter()
            .filter(|o| !compressed.contains(o))
            .min();
        behind.push((lowest, released.load(Ordering::SeqCst)));
        std::ops::ControlFlow::Continue(())
    };
    read(
        Path::new("x.etl"),
        &bytes,
        &release,
        None,
        None,
        Some(&mut sink),
    )
    .expect("reads");
    assert!(behind.len() > 1, "{behind:?}");
    assert!(
        behind
            .iter()
            .all(|(lowest, r)| lowest.is_none_or(|l| *r <= l)),
        "{behind:?}"
    );
    assert!(calls.load(Ordering::SeqCst) > 0);
}

/// A file cut on a buffer boundary has no bad buffer to show it; the logfile header's
/// BuffersWritten (3 in the writer's header) against the buffers held says it is short.
#[test]
fn a_file_cut_on_a_buffer_boundary_is_short() {
    let whole = sample_file();
    let info = |bytes: &[u8]| {
        read_synth(bytes, None)
            .report
            .etl
            .expect("etl facts")
            .buffers_missing
    };
    assert_eq!(info(&whole), 0);
    // The header buffer and CPU 0's: 2 of the 3 the header counts.
    let cut = &whole[..2 * 1024];
    assert_eq!(info(cut), 1);
}
