//! Oracle tests on the public ETL samples in `../shared/samples/etl` (PerfView baselines,
//! formats.md §1.10, and the counts in the samples' README). Each test prints
//! `skipping: ...` and passes when the folder or its file is absent.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::{walk, EtlInfo, Event};

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/samples/etl")
}

/// The bytes of a sample; `.zip` samples are unpacked in memory (their first `.etl` member).
fn sample(name: &str) -> Option<Vec<u8>> {
    let path = samples().join(name);
    let Ok(bytes) = std::fs::read(&path) else {
        println!("skipping: {} not present", path.display());
        return None;
    };
    if !name.ends_with(".zip") {
        return Some(bytes);
    }
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("sample zip opens");
    for i in 0..zip.len() {
        let mut member = zip.by_index(i).expect("zip member");
        if member.name().ends_with(".etl") {
            let mut out = Vec::new();
            member.read_to_end(&mut out).expect("zip member inflates");
            return Some(out);
        }
    }
    panic!("{name}: no .etl member");
}

/// What the tests compare, copied out of each [`Event`].
#[derive(Debug, Clone)]
struct Seen {
    raw_ts: i64,
    cpu: u16,
    pid: Option<u32>,
    tid: Option<u32>,
    provider: String,
    event_id: Option<u32>,
    event: Option<String>,
    payload_len: usize,
    message: String,
}

fn events(bytes: &[u8]) -> (EtlInfo, u64, Vec<Seen>) {
    let mut seen = Vec::new();
    let mut names = std::collections::HashMap::new();
    let (info, skips) = walk(
        Path::new("sample.etl"),
        bytes,
        None,
        None,
        |e: &Event<'_>| {
            let provider = super::columns::provider_name(e.row.provider, &mut names).to_string();
            seen.push(Seen {
                raw_ts: e.raw_ts,
                cpu: e.cpu,
                pid: e.row.pid,
                tid: e.row.tid,
                provider,
                event_id: e.row.event_id,
                event: e.row.event.map(str::to_string),
                payload_len: e.payload_len,
                message: e.message.to_string(),
            });
        },
    )
    .expect("sample reads");
    (info, skips.total, seen)
}

/// One `EVENT` line of a PerfView baseline.
#[derive(Debug)]
struct Line {
    rel_ms: f64,
    name: String,
    pid: i64,
    tid: i64,
    cpu: u16,
    data_len: usize,
    fields: Vec<(String, String)>,
}

fn number(s: &str) -> f64 {
    s.replace(',', "").parse().expect("baseline number")
}

/// EVENT lines and COUNT totals of a baseline (format: formats.md §1.10).
fn baseline(name: &str) -> Option<(Vec<Line>, BTreeMap<String, u64>)> {
    let path = samples().join(name);
    let Ok(text) = std::fs::read_to_string(&path) else {
        println!("skipping: {} not present", path.display());
        return None;
    };
    let mut lines = Vec::new();
    let mut counts = BTreeMap::new();
    for l in text.lines() {
        if let Some(rest) = l.strip_prefix("COUNT ") {
            let (name, n) = rest.rsplit_once(':').expect("COUNT name:n");
            counts.insert(name.to_string(), number(n) as u64);
        } else if let Some(rest) = l.strip_prefix("EVENT ") {
            let (rel, rest) = rest.split_once(": ").expect("EVENT rel:");
            // Names may hold blanks (`Windows Kernel/EventTrace`); the fields start at PID.
            let (name, rest) = rest.split_once(" PID=").expect("EVENT name");
            let rest = format!("PID={rest}");
            let mut map = BTreeMap::new();
            let mut fields = Vec::new();
            for part in rest.split(';').map(str::trim).filter(|p| !p.is_empty()) {
                let (k, v) = part.split_once('=').unwrap_or((part, ""));
                map.insert(k.to_string(), v.trim_end_matches(';').to_string());
                fields.push((k.to_string(), v.trim_end_matches(';').to_string()));
            }
            lines.push(Line {
                rel_ms: number(rel),
                name: name.to_string(),
                pid: number(&map["PID"]) as i64,
                tid: number(&map["TID"]) as i64,
                cpu: number(&map["ProceNum"]) as u16,
                data_len: number(&map["DataLen"]) as usize,
                fields: fields.into_iter().skip(5).collect(), // after PID, TID, PName, ProceNum, DataLen
            });
        }
    }
    Some((lines, counts))
}

fn rel_ms(seen: &Seen, anchor: i64, freq: i64) -> f64 {
    (seen.raw_ts - anchor) as f64 * 1000.0 / freq as f64
}

/// Every EVENT line has a record with the same time (±0.001 ms, .NET rounding) and CPU;
/// for non-kernel events PID, TID and the user-data length agree too (kernel events may
/// take theirs from the payload, formats.md §1.10). Returns the lines whose PID and TID
/// match.
fn check_event_lines(info: &EtlInfo, seen: &[Seen], lines: &[Line]) -> usize {
    let anchor = seen
        .iter()
        .find(|s| s.message.starts_with("EventTrace/Header"))
        .expect("header row")
        .raw_ts;
    let freq = info.header.perf_freq;
    let mut same_ids = 0;
    for l in lines {
        let candidates: Vec<&Seen> = seen
            .iter()
            .filter(|s| s.cpu == l.cpu && (rel_ms(s, anchor, freq) - l.rel_ms).abs() <= 0.0011)
            .collect();
        assert!(!candidates.is_empty(), "no record for {l:?}");
        // PerfView prints "no process/thread" as -1.
        let ids =
            |s: &&&Seen| s.pid == u32::try_from(l.pid).ok() && s.tid == u32::try_from(l.tid).ok();
        if candidates.iter().any(|s| ids(&s)) {
            same_ids += 1;
        }
        let kernel = ["Windows Kernel/", "MSNT_SystemTrace/"];
        if !kernel.iter().any(|k| l.name.starts_with(k)) {
            let hit = candidates
                .iter()
                .any(|s| ids(&s) && s.payload_len == l.data_len);
            assert!(hit, "pid/tid/DataLen differ for {l:?}: {candidates:?}");
        }
    }
    same_ids
}

/// The header facts against the baseline's first line (`Windows Kernel/EventTrace`).
fn check_header(info: &EtlInfo, first: &Line) {
    let f: BTreeMap<&str, &str> = first
        .fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let h = &info.header;
    let n = |k: &str| number(f[k]) as i64;
    assert_eq!(n("BufferSize"), i64::from(h.buffer_size));
    assert_eq!(n("ProviderVersion"), i64::from(h.os_build));
    assert_eq!(n("NumberOfProcessors"), i64::from(h.cpus));
    assert_eq!(n("PointerSize"), i64::from(h.pointer_size));
    assert_eq!(n("EventsLost"), i64::from(h.events_lost));
    assert_eq!(n("BuffersLost"), i64::from(h.buffers_lost));
    assert_eq!(n("PerfFreq"), h.perf_freq);
    assert_eq!(n("ReservedFlags"), i64::from(h.clock_type));
    assert_eq!(n("CPUSpeed"), i64::from(h.cpu_speed_mhz));
    // PerfView prints the header's Bias under this name (480 for a UTC-8 machine).
    assert_eq!(n("UtcOffsetMinutes"), i64::from(h.time_zone_bias_minutes));
    assert_eq!(f["SessionName"], perfview_cut(&h.logger_name));
    let start = h
        .start_time
        .expect("start time")
        .format("%y/%m/%d %H:%M:%S%.6f")
        .to_string();
    assert_eq!(perfview_cut(&start), f["StartTime"]);
}

/// PerfView cuts values at 20 characters and appends `...`.
fn perfview_cut(v: &str) -> String {
    if v.chars().count() > 20 {
        format!("{}...", v.chars().take(20).collect::<String>())
    } else {
        v.to_string()
    }
}

/// `name=value` pairs of a rendered TraceLogging message (no quoting in these samples).
fn message_fields(message: &str) -> BTreeMap<String, String> {
    message
        .split(' ')
        .skip(1)
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Our value in PerfView's spelling: `True`/`False`, dates as `yy/MM/dd HH:mm:ss.ffffff`.
fn as_perfview(v: &str) -> String {
    match v {
        "true" => return "True".into(),
        "false" => return "False".into(),
        _ => {}
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(v) {
        return t.format("%y/%m/%d %H:%M:%S%.6f").to_string();
    }
    if let Ok(t) = chrono::NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S%.f") {
        return t.format("%y/%m/%d %H:%M:%S%.6f").to_string();
    }
    v.to_string()
}

#[test]
fn primitive_types_tracelogging_values_match_perfview() {
    let (Some(bytes), Some((lines, counts))) = (
        sample("perfview__primitive-types.etl.zip"),
        baseline("perfview__primitive-types.baseline.txt"),
    ) else {
        return;
    };
    let (info, skipped, seen) = events(&bytes);
    assert_eq!(skipped, 0);
    assert_eq!(lines.len(), 6);
    check_header(&info, &lines[0]);
    assert_eq!(check_event_lines(&info, &seen, &lines), 6);
    let tl: Vec<&Seen> = seen
        .iter()
        .filter(|s| s.provider == "solar_system")
        .collect();
    assert_eq!(tl.len() as u64, counts["solar_system/PrimitiveTypesTest"]);
    let mut compared = 0;
    for (line, event) in lines[1..].iter().zip(&tl) {
        assert!(
            event.message.starts_with("PrimitiveTypesTest "),
            "{}",
            event.message
        );
        let ours = message_fields(&event.message);
        for (k, v) in &line.fields {
            let mut mine = perfview_cut(&as_perfview(&ours[k]));
            if k == "int64_type" {
                // The metadata declares this field UInt64 (InType 0x0A, like uint64_type);
                // PerfView prints it signed. We print what the metadata says.
                let unsigned: u64 = ours[k].parse().expect("uint64");
                mine = (unsigned as i64).to_string();
            }
            if k == "system_time_type" {
                // The SYSTEMTIME holds 799 ms (like file_time_type); PerfView prints .03 for
                // every event. Compare to the second.
                mine.truncate(17);
                assert_eq!(mine, v[..17], "{}", event.message);
                compared += 1;
                continue;
            }
            assert_eq!(&mine, v, "field {k} of {}", event.message);
            compared += 1;
        }
    }
    assert_eq!(compared, 5 * 12);
}

#[test]
fn gcevents_and_rundown_match_perfview() {
    for (zip, base, provider, absorbed_id) in [
        (
            "perfview__gcevents.etl.zip",
            "perfview__gcevents.baseline.txt",
            "Microsoft-Windows-DotNETRuntime",
            None,
        ),
        (
            "perfview__gcrundownevents.etl.zip",
            "perfview__gcrundownevents.baseline.txt",
            "Microsoft-Windows-DotNETRuntimeRundown",
            Some(144),
        ),
    ] {
        let (Some(bytes), Some((lines, counts))) = (sample(zip), baseline(base)) else {
            return;
        };
        let (info, skipped, seen) = events(&bytes);
        assert_eq!(skipped, 0);
        check_header(&info, &lines[0]);
        let matched = check_event_lines(&info, &seen, &lines);
        assert_eq!(matched, lines.len(), "{zip}");
        // COUNT totals per provider equal the raw records, less those TraceLog absorbs.
        let counted: u64 = counts
            .iter()
            .filter(|(k, _)| k.starts_with(&format!("{provider}/")))
            .map(|(_, v)| v)
            .sum();
        let raw = seen
            .iter()
            .filter(|s| s.provider == provider && s.event_id != absorbed_id)
            .count() as u64;
        assert_eq!(raw, counted, "{zip}");
        assert_eq!(info.records_by_header["SYSTEM64"], 2, "{zip}");
    }
}

#[test]
fn net452_compressed_buffers_counts_and_order() {
    let (Some(bytes), Some((lines, counts))) = (
        sample("perfview__net.4.5.2.x64.etl.zip"),
        baseline("perfview__net.4.5.2.x64.baseline.txt"),
    ) else {
        return;
    };
    let (info, skipped, seen) = events(&bytes);
    assert_eq!(skipped, 0);
    assert_eq!((info.buffers, info.compressed_buffers), (360, 359));
    let want = [
        ("SYSTEM64", 3_189),
        ("SYSTEM32", 2),
        ("PERFINFO64", 100_157),
        ("FULL_HEADER64", 7_956),
        ("FULL_HEADER32", 27),
        ("EVENT_HEADER64", 34_765),
        ("EVENT_HEADER32", 33_378),
    ];
    let want: BTreeMap<String, u64> = want.iter().map(|(k, v)| (k.to_string(), *v)).collect();
    assert_eq!(info.records_by_header, want);
    assert_eq!(seen.len(), 179_474);
    // Merged into one time order (file order has 94 inversions, formats.md §1.9).
    assert!(seen.windows(2).all(|w| w[0].raw_ts <= w[1].raw_ts));
    check_header(&info, &lines[0]);
    let matched = check_event_lines(&info, &seen, &lines);
    // formats.md §1.10 found 381 of 480 lines with the header's ids; the other 99 are kernel
    // events whose ids PerfView takes from the payload, or PERFINFO records that carry none.
    // With the kernel classes' ids taken as PerfView takes them, all but the two
    // DiskIO/FlushBuffers lines match (PerfView reads that thread from the wrong field).
    assert_eq!(matched, 478);
    for (name, prefix) in [
        ("Process/DCStart", "Process/DCStart UniqueProcessKey="),
        ("Thread/Start", "Thread/Start ProcessID="),
    ] {
        assert!(seen.iter().any(|s| s.message.starts_with(prefix)), "{name}");
    }
    let clr = |id| {
        seen.iter()
            .filter(|s| s.provider == "Microsoft-Windows-DotNETRuntime" && s.event_id == Some(id))
            .count() as u64
    };
    assert_eq!(
        clr(10),
        counts["Microsoft-Windows-DotNETRuntime/GC/AllocationTick"]
    );
    assert_eq!(
        clr(23),
        counts["Microsoft-Windows-DotNETRuntime/GC/GenerationRange"]
    );
}

#[test]
fn self_describing_single_event_struct() {
    let Some(bytes) = sample("perfview__SelfDescribingSingleEvent.etl") else {
        return;
    };
    let (info, skipped, seen) = events(&bytes);
    assert_eq!(skipped, 0);
    assert_eq!((info.buffers, info.compressed_buffers), (3, 2));
    assert_eq!(info.header.logger_name, "Relogger");
    assert_eq!(info.header.log_file_name, "[multiple files]");
    let by: Vec<(&str, u64)> = info
        .records_by_header
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    assert_eq!(
        by,
        [
            ("EVENT_HEADER64", 1),
            ("FULL_HEADER64", 18),
            ("SYSTEM64", 4)
        ]
    );
    let e = seen
        .iter()
        .find(|s| s.provider == "MySource")
        .expect("MySource event");
    assert_eq!(e.message, "TestEvent a={b=Hello c=World!}");
    assert_eq!((e.pid, e.tid, e.cpu), (Some(111_592), Some(52_284), 1));
}

#[test]
fn amsi_and_lxcore_tracelogging() {
    if let Some(bytes) = sample("etl-parser__AMSITrace.etl") {
        let (info, skipped, seen) = events(&bytes);
        assert_eq!(skipped, 0);
        assert_eq!(info.header.events_lost, 3);
        let amsi: Vec<&Seen> = seen.iter().filter(|s| s.provider == "AmsiTrace").collect();
        assert_eq!(amsi.len(), 19);
        assert!(amsi.iter().all(|s| s.message.starts_with("AmsiScript ")));
        let pids: std::collections::BTreeSet<_> = amsi.iter().map(|s| s.pid).collect();
        assert_eq!(pids.len(), 7);
    }
    if let Some(bytes) = sample("etl-parser__lxcore_kernel.etl") {
        let (_, skipped, seen) = events(&bytes);
        assert_eq!(skipped, 0);
        let lx: Vec<&Seen> = seen
            .iter()
            .filter(|s| s.provider == "Microsoft.Windows.Subsystem.LxCore")
            .collect();
        assert_eq!(lx.len(), 2);
        assert!(lx
            .iter()
            .all(|s| s.message.starts_with("BreakPoint") && s.pid == Some(5876)));
    }
}

#[test]
fn samples_read_through_the_public_api() {
    let ctx = crate::TimeContext {
        date: None,
        offset: chrono::FixedOffset::east_opt(0).expect("zero offset"),
        source: String::new(),
    };
    let Some(bytes) = sample("perfview__primitive-types.etl.zip") else {
        return;
    };
    assert_eq!(
        crate::looks_like_trace(&bytes),
        Some(crate::TraceFormat::Etl)
    );
    let trace = crate::read_bytes(Path::new("primitive-types.etl"), &bytes, &ctx).expect("reads");
    assert_eq!(trace.report.format, crate::TraceFormat::Etl);
    assert_eq!(trace.report.records, 7);
    assert_eq!(trace.frame.height(), 7);
    let names: Vec<&str> = trace
        .frame
        .get_column_names()
        .iter()
        .map(|s| s.as_str())
        .collect();
    assert_eq!(names, crate::schema::ALL);
    let info = trace.report.etl.as_ref().expect("etl info");
    assert_eq!(info.header.os_build, 19043);
    // The header row's time is the logfile header's StartTime (formats.md §1.8).
    let t0 = trace
        .frame
        .column(crate::schema::TIME)
        .expect("time")
        .datetime()
        .expect("dt")
        .physical()
        .get(0);
    assert_eq!(
        t0,
        info.header.start_time.and_then(|t| t.timestamp_nanos_opt())
    );
}

/// `Name=Value` pairs of a rendered manifest event (`; ` between them).
fn manifest_fields(message: &str) -> BTreeMap<&str, &str> {
    // After the event's name (`GC/Start `), when the message has one.
    let fields = match message.split_once(' ') {
        Some((name, rest)) if !name.contains('=') => rest,
        _ => message,
    };
    fields
        .split("; ")
        .filter_map(|p| p.split_once('='))
        .collect()
}

/// How one group of events agrees with a baseline.
#[derive(Debug, Default, Clone, Copy)]
struct Agreement {
    /// EVENT lines with a record at their time, CPU, PID, TID and name.
    events: usize,
    /// Fields printed as PerfView prints them, of those compared.
    equal: usize,
    compared: usize,
    /// Fields PerfView derives or defaults that the event's layout lacks.
    absent: usize,
    /// EVENT lines without such a record.
    unmatched: usize,
}

impl Agreement {
    fn sum<'a>(all: impl Iterator<Item = &'a Agreement>) -> Agreement {
        all.fold(Agreement::default(), |a, b| Agreement {
            events: a.events + b.events,
            equal: a.equal + b.equal,
            compared: a.compared + b.compared,
            absent: a.absent + b.absent,
            unmatched: a.unmatched + b.unmatched,
        })
    }
}

/// The kernel's own events and the MOF classes logged under GUIDs of their own.
fn is_kernel(l: &Line) -> bool {
    [
        "Windows Kernel/",
        "MSNT_SystemTrace/",
        "KernelTraceControl/",
    ]
    .iter()
    .any(|k| l.name.starts_with(k))
}

const SAMPLES: [(&str, &str); 3] = [
    (
        "perfview__net.4.5.2.x64.etl.zip",
        "perfview__net.4.5.2.x64.baseline.txt",
    ),
    (
        "perfview__gcevents.etl.zip",
        "perfview__gcevents.baseline.txt",
    ),
    (
        "perfview__gcrundownevents.etl.zip",
        "perfview__gcrundownevents.baseline.txt",
    ),
];

/// Compares the EVENT lines `select` takes with the records at the same time, CPU, PID,
/// TID and event name, field by field; `group` names the line's tally. None when the
/// samples are absent.
fn agreement(
    select: impl Fn(&Line) -> bool,
    group: impl Fn(&Line) -> String,
    misses: &mut Vec<String>,
) -> Option<BTreeMap<String, Agreement>> {
    let mut by: BTreeMap<String, Agreement> = BTreeMap::new();
    for (zip, base) in SAMPLES {
        let (Some(bytes), Some((lines, _))) = (sample(zip), baseline(base)) else {
            return None;
        };
        let (info, _, seen) = events(&bytes);
        let anchor = seen
            .iter()
            .find(|s| s.message.starts_with("EventTrace/Header"))
            .expect("header row")
            .raw_ts;
        for l in lines.iter().filter(|l| select(l)) {
            let entry = by.entry(group(l)).or_default();
            // PerfView prints "no thread" as -1.
            let id = |v: i64| u32::try_from(v).ok();
            let candidates = seen.iter().filter(|s| {
                s.cpu == l.cpu
                    && (rel_ms(s, anchor, info.header.perf_freq) - l.rel_ms).abs() <= 0.0011
                    && s.pid == id(l.pid)
                    && s.tid == id(l.tid)
                    && s.event.as_deref() == Some(l.name.as_str())
            });
            // Events of one name within the same microsecond: the one that agrees most.
            let compare = |s: &Seen| {
                let ours = manifest_fields(&s.message);
                l.fields
                    .iter()
                    .map(|(k, v)| {
                        let mine = ours.get(k.as_str()).map(|m| perfview_cut(&as_perfview(m)));
                        (k.clone(), v.clone(), mine)
                    })
                    .collect::<Vec<_>>()
            };
            let best = candidates
                .map(compare)
                .max_by_key(|c| c.iter().filter(|(_, v, m)| m.as_deref() == Some(v)).count());
            let Some(compared) = best else {
                misses.push(format!(
                    "{zip}: no decoded event for {} at {} ({}.{})",
                    l.name, l.rel_ms, l.pid, l.tid
                ));
                entry.unmatched += 1;
                continue;
            };
            entry.events += 1;
            for (k, v, mine) in compared {
                match mine {
                    None => entry.absent += 1,
                    Some(m) if m == v => {
                        entry.equal += 1;
                        entry.compared += 1;
                    }
                    Some(m) => {
                        entry.compared += 1;
                        misses.push(format!("{}: {k}: ours {m:?}, PerfView {v:?}", l.name));
                    }
                }
            }
        }
    }
    for (p, a) in &by {
        println!(
            "{p}: {} events matched ({} not), fields {}/{} equal, {} not in the layout",
            a.events, a.unmatched, a.equal, a.compared, a.absent
        );
    }
    for m in misses.iter().take(60) {
        println!("  {m}");
    }
    Some(by)
}

/// The CLR events of three samples decoded with the shipped manifest, field by field
/// against PerfView's baselines: every EVENT line of a DotNETRuntime* provider finds a
/// record at its time, CPU, PID and TID with the same event name, and at least 95% of
/// the Runtime and Rundown fields print as PerfView prints them.
#[test]
fn clr_events_match_perfview_field_by_field() {
    let mut misses = Vec::new();
    let Some(by_provider) = agreement(
        |l| l.name.starts_with("Microsoft-Windows-DotNETRuntime"),
        |l| l.name.split('/').next().unwrap_or_default().to_string(),
        &mut misses,
    ) else {
        return;
    };
    for p in [
        "Microsoft-Windows-DotNETRuntime",
        "Microsoft-Windows-DotNETRuntimeRundown",
    ] {
        let a = by_provider[p];
        // The unmatched lines are events the shipped manifest lacks (MarkWithType of a
        // newer runtime; IncreaseMemoryPressure, named from the file's own metadata).
        assert!(
            a.events > 0 && a.unmatched * 100 <= (a.events + a.unmatched) * 10,
            "{p}"
        );
        assert!(
            a.equal * 100 >= a.compared * 95,
            "{p}: {}/{} fields equal",
            a.equal,
            a.compared
        );
    }
}

/// The kernel's MOF events (and the MOF classes logged under GUIDs of their own: SysConfig,
/// KernelTraceControl's ImageID) against PerfView's baselines: every EVENT line finds its
/// record by time, CPU, PID, TID and name, and at least 95% of the fields agree.
#[test]
fn kernel_events_match_perfview_field_by_field() {
    let mut misses = Vec::new();
    let Some(by_task) = agreement(is_kernel, |l| l.name.clone(), &mut misses) else {
        return;
    };
    let all = Agreement::sum(by_task.values());
    println!("all kernel: {all:?}");
    // Every line finds its record, but DiskIO/FlushBuffers': PerfView reads its thread from
    // HighResResponseTime's place (TID=786839), this reader from IssuingThreadId.
    let flush = "Windows Kernel/DiskIO/FlushBuffers";
    for (task, a) in by_task.iter().filter(|(t, _)| *t != flush) {
        assert_eq!(a.unmatched, 0, "{task}: {a:?}");
    }
    assert!(all.events >= 180, "kernel lines matched: {all:?}");
    assert!(
        all.equal * 100 >= all.compared * 95,
        "kernel fields: {}/{} equal",
        all.equal,
        all.compared
    );
    // Per name, what PerfView derives from other events is the difference: NIC's address
    // lists (PerfView prints the first), Services' ProcessName (PerfView's process name).
    for (task, a) in &by_task {
        assert!(a.equal * 100 >= a.compared * 80, "{task}: {a:?}");
    }
}

/// The events decoded by the file's own metadata (KernelTraceControl EventInfo records and
/// EventSource manifests: DNS-Client, Kernel-File, Kernel-Process, PerfView, Tpl...) against
/// PerfView's baseline: every line found by time, CPU, PID, TID and name, and at least 95%
/// of the fields equal.
#[test]
fn file_metadata_events_match_perfview_field_by_field() {
    let other = |l: &Line| !is_kernel(l) && !l.name.starts_with("Microsoft-Windows-DotNETRuntime");
    let mut misses = Vec::new();
    let provider = |l: &Line| l.name.split('/').next().unwrap_or_default().to_string();
    let Some(by_provider) = agreement(other, provider, &mut misses) else {
        return;
    };
    let all = Agreement::sum(by_provider.values());
    for (p, a) in &by_provider {
        assert_eq!(a.unmatched, 0, "{p}: {a:?}");
        // PerfView decodes Kernel-File with a parser of its own (CreateOptions split from
        // the disposition, ShareAccess as .NET's FileShare, DOS paths), not the metadata.
        if p != "Microsoft-Windows-Kernel-File" {
            assert!(a.equal * 100 >= a.compared * 95, "{p}: {a:?}");
        }
    }
    println!("all file-metadata events: {all:?}");
    assert!(all.events >= 60, "{all:?}");
    assert!(
        all.equal * 100 >= all.compared * 90,
        "{}/{} fields equal",
        all.equal,
        all.compared
    );
}

/// Per event name, the number of decoded records against the baseline's COUNT lines, for
/// the names this reader gives (`event` column). Returns (equal, differing, absent) names.
fn count_agreement(zip: &str, base: &str) -> Option<(Vec<String>, Vec<String>, Vec<String>)> {
    let (Some(bytes), Some((_, counts))) = (sample(zip), baseline(base)) else {
        return None;
    };
    let (_, _, seen) = events(&bytes);
    let mut ours: BTreeMap<&str, u64> = BTreeMap::new();
    for s in &seen {
        if let Some(e) = &s.event {
            *ours.entry(e).or_default() += 1;
        }
    }
    let (mut equal, mut differ, mut absent) = (Vec::new(), Vec::new(), Vec::new());
    for (name, n) in &counts {
        match ours.get(name.as_str()) {
            Some(m) if m == n => equal.push(name.clone()),
            Some(m) => differ.push(format!("{name}: ours {m}, PerfView {n}")),
            None => absent.push(format!("{name}: PerfView {n}")),
        }
    }
    let extra: Vec<String> = ours
        .iter()
        .filter(|(k, _)| !counts.contains_key(**k))
        .map(|(k, n)| format!("{k}: {n}"))
        .collect();
    println!(
        "{zip}: {} names equal, {} differ, {} not named here; named here only: {extra:?}",
        equal.len(),
        differ.len(),
        absent.len()
    );
    for d in &differ {
        println!("  differs: {d}");
    }
    for a in &absent {
        println!("  absent: {a}");
    }
    Some((equal, differ, absent))
}

/// Every event name the reader gives that the baseline counts has the baseline's count,
/// except the documented differences; the kernel's and the CLR's names are all given.
#[test]
fn event_counts_match_perfview_count_lines() {
    for (zip, base) in SAMPLES {
        let Some((equal, differ, absent)) = count_agreement(zip, base) else {
            return;
        };
        assert!(!equal.is_empty(), "{zip}");
        // PerfInfo/Sample: PerfView's baseline counts 6,320 of the file's 79,528 samples;
        // 73,313 are of the idle thread 0 and 6,215 of other threads, so PerfView counts
        // samples by a rule this reader does not reproduce (noted in the ETL docs).
        let known = |d: &&String| d.starts_with("Windows Kernel/PerfInfo/Sample:");
        let unexplained: Vec<&String> = differ.iter().filter(|d| !known(d)).collect();
        assert!(unexplained.is_empty(), "{zip}: {unexplained:#?}");
        let kernel_or_clr = |a: &&String| {
            ["Windows Kernel/", "Microsoft-Windows-DotNETRuntime"]
                .iter()
                .any(|p| a.starts_with(p))
        };
        // Every kernel name is given; the CLR's names not in the shipped manifest are
        // reported, not asserted.
        let missing: Vec<&String> = absent.iter().filter(kernel_or_clr).collect();
        println!(
            "{zip}: {} kernel or CLR names not given: {missing:?}",
            missing.len()
        );
        let kernel: Vec<&&String> = missing
            .iter()
            .filter(|a| a.starts_with("Windows Kernel/"))
            .collect();
        assert!(kernel.is_empty(), "{zip}: {kernel:?}");
        // Every other name is given, but the CLR events the shipped manifest lacks (a newer
        // runtime's GC events in gcevents/gcrundownevents) and IncreaseMemoryPressure, which
        // the shipped manifest names GC/IncreaseMemoryPressure and PerfView, lacking it in
        // its parser, names from the file's metadata (GarbageCollection/...).
        let explained = [
            "Microsoft-Windows-DotNETRuntime/GarbageCollection/IncreaseMemoryPressure:",
            "Microsoft-Windows-DotNETRuntime/GC/FitBucketInfo:",
            "Microsoft-Windows-DotNETRuntime/GC/GlobalHeapHistory:",
            "Microsoft-Windows-DotNETRuntime/GC/LOHCompact:",
            "Microsoft-Windows-DotNETRuntime/GC/MarkWithType:",
            "Microsoft-Windows-DotNETRuntime/GC/PerHeapHistory:",
            "Microsoft-Windows-DotNETRuntimeRundown/GC/SettingsRundown:",
            "Microsoft-Windows-DotNETRuntimeRundown/TieredCompilationRundown/SettingsDCStart:",
        ];
        let unexplained: Vec<&String> = absent
            .iter()
            .filter(|a| !explained.iter().any(|e| a.starts_with(e)))
            .collect();
        assert!(
            unexplained.is_empty(),
            "{zip}: names not given: {unexplained:#?}"
        );
    }
}
