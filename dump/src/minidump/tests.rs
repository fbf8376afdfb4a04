//! Minidump reader tests on synthetic dumps (built with `crate::synth`): every
//! stream, bad input (and no panic on damaged bytes), joining with a log.

use std::path::Path;

use chrono::{TimeZone as _, Utc};

use crate::synth::{self, MinidumpWriter};
use crate::{read_bytes, DumpLoad, Error};

const T0: u32 = synth::SAMPLE_TIME;

fn load(bytes: &[u8]) -> DumpLoad {
    read_bytes(Path::new("synthetic.dmp"), bytes).expect("readable minidump")
}

#[test]
fn every_stream_of_a_synthetic_dump() {
    let l = load(&synth::sample_minidump());
    assert_eq!(l.report.format, "minidump");
    assert_eq!(l.report.skipped, 0, "{:?}", l.report.first_skips);
    assert_eq!(l.report.records, 1 + 11, "header and 11 streams");
    let s = &l.snapshot;
    let f = &s.dump_files[0];
    assert_eq!(f.time, Utc.timestamp_opt(i64::from(T0), 0).single());
    assert_eq!(f.truncation, None);
    // Eastern daylight time: bias 300 + daylight bias -60 = UTC-4.
    let st = s.session_time.as_ref().expect("dump time");
    assert_eq!(st.utc, f.time);
    assert_eq!(st.offset.map(|o| o.local_minus_utc()), Some(-4 * 3600));
    assert_eq!(st.local.to_string(), "2024-03-01 08:00:00");
    let sys = f.system.as_ref().expect("system info");
    assert_eq!((sys.architecture.as_str(), sys.processors), ("amd64", 8));
    assert_eq!(sys.os_version.as_deref(), Some("10.0.19041"));
    assert_eq!(sys.csd_version.as_deref(), Some("Service Pack 1"));
    let m = f.minidump.as_ref().expect("minidump facts");
    assert_eq!(m.flags, 0x1004);
    assert_eq!(m.streams.len(), 11);
    let misc = m.misc.as_ref().expect("misc");
    assert_eq!((misc.version, misc.process_id), (5, Some(0x1a2c)));
    assert_eq!(
        misc.process_create_time,
        Utc.timestamp_opt(i64::from(T0 - 90), 0).single()
    );
    assert_eq!(
        (misc.process_user_seconds, misc.process_kernel_seconds),
        (Some(3), Some(1))
    );
    assert_eq!(misc.build_string.as_deref(), Some("19041.1.amd64fre"));
    assert_eq!(misc.debug_build_string.as_deref(), Some("dbgcore.amd64"));
    assert_eq!(
        (misc.process_cookie, misc.xstate_features),
        (Some(0xC00C1E), Some(7))
    );
    assert_eq!(m.memory_ranges.len(), 3);
    assert_eq!(m.memory_ranges[2].size, 0x1000);
    assert_eq!(m.unloaded_modules.len(), 1);
    assert_eq!(m.unloaded_modules[0].name, "plugin.dll");
    let e = f.exception.as_ref().expect("exception");
    assert_eq!(
        (e.thread_id, e.code, e.address),
        (0x100, 0xC000_0005, 0x1_4000_1234)
    );
    assert_eq!(e.parameters, vec![1, 0x45]);

    // Threads: ThreadList order, then the exited thread only ThreadInfoList has.
    let tids: Vec<u32> = s.threads.iter().map(|t| t.tid).collect();
    assert_eq!(tids, vec![0x100, 0x200, 0x300, 0x400]);
    assert!(s.threads.iter().all(|t| t.pid == 0x1a2c && t.address == 0));
    assert_eq!(s.threads[0].state.name(), "UNKNOWN");
    assert_eq!(s.threads[3].state.name(), "TERMINATED");
    assert_eq!(s.threads[0].teb, Some(0x7ff0_0100));
    assert_eq!(s.threads[0].user_time.as_deref(), Some("00:00:00.250"));
    assert_eq!(s.threads[0].kernel_time.as_deref(), Some("00:00:00.015"));
    assert_eq!(
        s.threads[0].start_address.as_deref(),
        Some("0x7ff600001000")
    );
    assert!(
        s.threads[0].source.starts_with("synthetic.dmp@0x"),
        "{}",
        s.threads[0].source
    );
    assert_eq!(
        s.threads[0].source,
        format!("synthetic.dmp@{:#x}", s.threads[0].line)
    );
    let d = &s.thread_details;
    assert_eq!(d.len(), 4);
    assert_eq!(d[0].name.as_deref(), Some("main thread"));
    assert_eq!(d[2].name.as_deref(), Some("worker"));
    assert_eq!(d[1].suspend_count, Some(1));
    assert_eq!(
        (d[0].stack_start, d[0].stack_size),
        (Some(0x20_0000), Some(0x800))
    );
    assert_eq!(
        d[0].create_time.map(|t| t.to_rfc3339()),
        Some("2024-03-01T11:59:30.123456700+00:00".into())
    );
    assert_eq!(
        (d[0].kernel_time_ns, d[0].user_time_ns),
        (Some(15_625_000), Some(250_000_000))
    );
    assert_eq!(d[0].dump_flags, Some(0x2));

    assert_eq!(s.modules.len(), 2);
    assert_eq!(s.modules[0].file_name(), "server.exe");
    assert_eq!(s.modules[0].version.as_deref(), Some("1.2.3.4"));
    assert_eq!(s.modules[1].version, None);
    assert_eq!(s.modules[1].pid, Some(0x1a2c));

    let p = &s.processes[0];
    assert_eq!(
        (p.pid, p.image.as_str(), p.handle_count),
        (0x1a2c, "server.exe", Some(2))
    );
    assert_eq!(p.elapsed_time.as_deref(), Some("00:01:30.000"));

    assert_eq!(s.handles.len(), 2);
    let h = &s.handles[0];
    assert_eq!(h.type_name.as_deref(), Some("Mutant"));
    assert_eq!(
        h.object_name.as_deref(),
        Some("\\BaseNamedObjects\\AppLock")
    );
    assert_eq!(h.object_info_types, vec![2, 3]);
    let mi = h.mutant.as_ref().expect("mutant info");
    assert_eq!((mi.owner_pid, mi.owner_tid), (Some(0x1a2c), Some(0x300)));
    assert_eq!((mi.current_count, mi.abandoned), (Some(0), Some(false)));
    assert_eq!(s.handles[1].type_name.as_deref(), Some("Event"));
    assert_eq!(s.handles[1].mutant, None);
    assert!(s.notes.is_empty(), "{:?}", s.notes);
}

#[test]
fn handle_data_v1_descriptors_have_names_and_no_object_info() {
    let mut w = MinidumpWriter::new(T0);
    let file = w.string("File");
    let name = w.string("\\Device\\HarddiskVolume3\\log.txt");
    let h = synth::Handle {
        handle: 4,
        type_rva: file,
        name_rva: name,
        handle_count: 1,
        pointer_count: 32_768,
        // Ignored: v1 descriptors have no ObjectInfoRva.
        info_rva: 0xdead,
        ..synth::Handle::default()
    };
    let nameless = synth::Handle {
        handle: 8,
        ..synth::Handle::default()
    };
    w.stream(synth::HANDLE_DATA, &synth::handle_data(32, &[h, nameless]));
    let l = load(&w.finish());
    assert_eq!(l.report.skipped, 0);
    let hs = &l.snapshot.handles;
    assert_eq!(hs.len(), 2);
    assert_eq!(hs[0].type_name.as_deref(), Some("File"));
    assert_eq!(
        hs[0].object_name.as_deref(),
        Some("\\Device\\HarddiskVolume3\\log.txt")
    );
    assert_eq!((hs[0].handle, hs[0].pointer_count), (4, 32_768));
    assert!(hs[0].object_info_types.is_empty());
    assert_eq!((hs[1].type_name.clone(), hs[1].pid), (None, None));
}

#[test]
fn mutant_owner_of_a_32_bit_writer() {
    let mut w = MinidumpWriter::new(T0);
    let mut owner = synth::object_info(0, 3, &[]);
    owner.truncate(8);
    owner.extend_from_slice(&8u32.to_le_bytes());
    owner.extend_from_slice(&0x10u32.to_le_bytes());
    owner.extend_from_slice(&0x20u32.to_le_bytes());
    let info = w.blob(&owner);
    let h = synth::Handle {
        info_rva: info,
        ..synth::Handle::default()
    };
    w.stream(synth::HANDLE_DATA, &synth::handle_data(40, &[h]));
    let l = load(&w.finish());
    let m = l.snapshot.handles[0].mutant.clone().expect("mutant");
    assert_eq!((m.owner_pid, m.owner_tid), (Some(0x10), Some(0x20)));
}

#[test]
fn misc_info_versions_by_size() {
    for version in 1..=5u8 {
        let mut w = MinidumpWriter::new(T0);
        w.stream(
            synth::MISC_INFO,
            &synth::misc_info(version, &synth::misc_v5(77)),
        );
        let l = load(&w.finish());
        assert_eq!(
            l.report.skipped, 0,
            "v{version}: {:?}",
            l.report.first_skips
        );
        let m = l.snapshot.dump_files[0]
            .minidump
            .as_ref()
            .and_then(|m| m.misc.clone())
            .expect("misc");
        assert_eq!((m.version, m.process_id), (version, Some(77)), "v{version}");
        assert_eq!(m.time_zone.is_some(), version >= 3, "v{version}");
        assert_eq!(m.build_string.is_some(), version >= 4, "v{version}");
        assert_eq!(m.process_cookie.is_some(), version >= 5, "v{version}");
        let offset = l
            .snapshot
            .session_time
            .and_then(|t| t.offset)
            .map(|o| o.local_minus_utc());
        assert_eq!(offset, (version >= 3).then_some(-4 * 3600), "v{version}");
    }
}

#[test]
fn misc_info_flags_hide_invalid_fields() {
    let mut w = MinidumpWriter::new(T0);
    let misc = synth::Misc {
        flags1: 0,
        ..synth::misc_v5(5)
    };
    w.stream(synth::MISC_INFO, &synth::misc_info(3, &misc));
    let l = load(&w.finish());
    let m = l.snapshot.dump_files[0]
        .minidump
        .as_ref()
        .and_then(|m| m.misc.clone())
        .expect("misc");
    assert_eq!(
        (m.process_id, m.process_create_time, m.time_zone),
        (None, None, None)
    );
    assert!(l.snapshot.processes.is_empty());
}

/// Quirk (rust-minidump `minidump.rs` list readers): 4 bytes of padding after
/// the count of ThreadList, ModuleList and MemoryList; the stream size shows it.
#[test]
fn list_count_padded_to_eight_bytes() {
    let mut body = synth::thread_list(&[synth::Thread {
        tid: 9,
        ..synth::Thread::default()
    }]);
    body.splice(4..4, [0u8; 4]);
    let mut w = MinidumpWriter::new(T0);
    w.stream(synth::THREAD_LIST, &body);
    let l = load(&w.finish());
    assert_eq!(l.report.skipped, 0);
    assert_eq!(l.snapshot.threads[0].tid, 9);
}

#[test]
fn wrong_signature_and_short_header() {
    let mut bytes = synth::sample_minidump();
    bytes[..4].copy_from_slice(b"MDMX");
    assert_eq!(crate::detect(&bytes), None);
    assert!(matches!(
        read_bytes(Path::new("x.dmp"), &bytes),
        Err(Error::NotALog { .. })
    ));
    let err = read_bytes(Path::new("x.dmp"), b"MDMP\x93\xa7\0\0").expect_err("short header");
    assert!(matches!(
        err,
        Error::Corrupt {
            format: "minidump",
            ..
        }
    ));
    assert!(
        err.to_string().contains("minidump header at offset 0x0"),
        "{err}"
    );
}

/// The skip for the structure at `offset`, whose reason starts with `what`.
fn skip_at<'a>(l: &'a DumpLoad, what: &str, offset: u64) -> &'a crate::Skip {
    l.report
        .first_skips
        .iter()
        .find(|s| s.reason.starts_with(what) && s.line == offset)
        .unwrap_or_else(|| {
            panic!(
                "no skip for {what} at {offset:#x}: {:?}",
                l.report.first_skips
            )
        })
}

#[test]
fn stream_past_the_end_is_reported_and_the_rest_is_used() {
    let mut w = MinidumpWriter::new(T0);
    w.stream(synth::MISC_INFO, &synth::misc_info(1, &synth::misc_v5(4)));
    w.raw_entry(synth::THREAD_LIST, 0x100, 0x7000_0000);
    // Size overflows u32 arithmetic when added to the RVA.
    w.raw_entry(synth::MODULE_LIST, 0xFFFF_FFF0, 0xFFFF_FFF0);
    let l = load(&w.finish());
    let s = skip_at(&l, "ThreadList stream: past the end", 0x7000_0000);
    assert!(
        s.text.contains("0x70000000") && s.text.contains("256 bytes needed"),
        "{}",
        s.text
    );
    skip_at(&l, "ModuleList stream: past the end", 0xFFFF_FFF0);
    assert_eq!(l.snapshot.processes[0].pid, 4, "MiscInfo still used");
    let t = l.snapshot.dump_files[0]
        .truncation
        .clone()
        .expect("truncation");
    assert_eq!(t.expected_size, 0xFFFF_FFF0 + 0xFFFF_FFF0);
    assert!(t.basis.contains("ModuleList"), "{}", t.basis);
    assert!(l
        .snapshot
        .notes
        .iter()
        .any(|n| n.starts_with("truncated dump")));
}

#[test]
fn counts_too_large_for_the_file() {
    let mut w = MinidumpWriter::new(T0);
    let mut threads = synth::thread_list(&[synth::Thread::default()]);
    threads[..4].copy_from_slice(&0x1000_0000u32.to_le_bytes());
    w.stream(synth::THREAD_LIST, &threads);
    let mut names = synth::thread_names(&[]);
    names[..4].copy_from_slice(&u32::MAX.to_le_bytes());
    w.stream(synth::THREAD_NAMES, &names);
    let mut handles = synth::handle_data(40, &[]);
    handles[8..12].copy_from_slice(&0x0800_0000u32.to_le_bytes());
    w.stream(synth::HANDLE_DATA, &handles);
    let mut modules = synth::module_list(&[]);
    modules[..4].copy_from_slice(&u32::MAX.to_le_bytes());
    w.stream(synth::MODULE_LIST, &modules);
    // A directory entry claiming a 4 GB stream.
    w.raw_entry(synth::MEMORY_LIST, u32::MAX, 0x20);
    w.stream(
        synth::MEMORY64_LIST,
        &synth::memory64_list(0, &[])
            .iter()
            .map(|_| 0xFF)
            .collect::<Vec<u8>>(),
    );
    w.stream(
        synth::SYSTEM_INFO,
        &synth::system_info(0, 1, (6, 1, 7601), 2, 0),
    );
    let bytes = w.finish();
    let l = load(&bytes);
    for what in [
        "ThreadList",
        "ThreadNames",
        "HandleData",
        "Memory64List",
        "ModuleList",
    ] {
        let s = l
            .report
            .first_skips
            .iter()
            .find(|s| s.reason.starts_with(what))
            .expect(what);
        assert!(s.reason.ends_with("count too large for the file"), "{s:?}");
    }
    let memory = l
        .report
        .first_skips
        .iter()
        .find(|s| s.reason.starts_with("MemoryList"));
    assert!(memory.is_some(), "{:?}", l.report.first_skips);
    // Each skip names the byte offset of its structure (directory entry or body).
    assert!(l.report.first_skips.iter().all(|s| s.line > 0));
    assert_eq!(
        l.snapshot.dump_files[0]
            .system
            .as_ref()
            .map(|s| s.processors),
        Some(1)
    );
}

#[test]
fn directory_past_the_end_keeps_the_entries_in_the_file() {
    let mut w = MinidumpWriter::new(T0);
    w.stream(
        synth::SYSTEM_INFO,
        &synth::system_info(9, 2, (10, 0, 1), 2, 0),
    );
    let mut bytes = w.finish();
    bytes[8..12].copy_from_slice(&1000u32.to_le_bytes());
    let l = load(&bytes);
    let dir = u64::from(u32::from_le_bytes([
        bytes[12], bytes[13], bytes[14], bytes[15],
    ]));
    skip_at(&l, "stream directory: count too large", dir);
    assert_eq!(
        l.snapshot.dump_files[0]
            .system
            .as_ref()
            .map(|s| s.processors),
        Some(2)
    );
    assert!(l.snapshot.dump_files[0].truncation.is_some());
}

#[test]
fn broken_names_and_object_info_loops_lose_only_themselves() {
    let mut w = MinidumpWriter::new(T0);
    let good = w.string("ok");
    w.stream(
        synth::THREAD_NAMES,
        &synth::thread_names(&[(1, 0x7fff_0000), (2, good)]),
    );
    // An object information record whose NextInfoRva points at itself.
    let at = w.blob(&[]);
    let looped = w.blob(&synth::object_info(at, 2, &synth::mutant_basic(1, true)));
    assert_eq!(at, looped);
    let h = synth::Handle {
        handle: 0x10,
        info_rva: looped,
        ..synth::Handle::default()
    };
    w.stream(synth::HANDLE_DATA, &synth::handle_data(40, &[h]));
    let l = load(&w.finish());
    skip_at(&l, "thread name: past the end", 0x7fff_0000);
    skip_at(&l, "handle object information: invalid", u64::from(looped));
    assert_eq!(
        l.snapshot
            .thread_details
            .iter()
            .filter_map(|d| d.name.clone())
            .collect::<Vec<_>>(),
        vec!["ok"]
    );
    let h = &l.snapshot.handles[0];
    assert_eq!(h.mutant.as_ref().and_then(|m| m.abandoned), Some(true));
}

#[test]
fn no_panic_on_random_bytes_truncations_and_bit_flips() {
    let base = synth::sample_minidump();
    let mut rng = crate::synth::XorShift::new(0x5eed);
    for cut in (0..base.len()).step_by(7) {
        let _ = read_bytes(Path::new("cut.dmp"), &base[..cut]);
    }
    for _ in 0..3000 {
        let mut b = base.clone();
        for _ in 0..1 + rng.below(8) {
            let i = rng.below(b.len() as u64) as usize;
            b[i] ^= 1 << rng.below(8);
        }
        let _ = read_bytes(Path::new("flip.dmp"), &b);
    }
    for _ in 0..500 {
        let len = 4 + rng.below(4096) as usize;
        let mut b: Vec<u8> = (0..len).map(|_| rng.below(256) as u8).collect();
        b[..4].copy_from_slice(b"MDMP");
        let _ = read_bytes(Path::new("random.dmp"), &b);
    }
}

const WINDBG_LOG: &str = "\
Debug session time: Fri Mar  1 08:00:03.250 2024 (UTC - 4:00)
System Uptime: 0 days 1:00:00.000
THREAD fffffa8001234560  Cid 1a2c.0100  Teb: 000000007ff00100 Win32Thread: 0000000000000000 WAIT: (UserRequest) UserMode Non-Alertable
THREAD fffffa8001234890  Cid 1a2c.0500  Teb: 000000007ff00500 Win32Thread: 0000000000000000 WAIT: (UserRequest) UserMode Non-Alertable
";

#[test]
fn a_log_and_a_dump_of_the_same_incident_join() {
    let log = read_bytes(Path::new("memory.log"), WINDBG_LOG.as_bytes()).expect("log");
    let dmp = load(&synth::sample_minidump());
    let s = crate::merge(vec![log.snapshot, dmp.snapshot]);
    // The header time wins; the log's is 3.25 s later.
    assert_eq!(
        s.session_time.as_ref().and_then(|t| t.utc),
        Utc.timestamp_opt(i64::from(T0), 0).single()
    );
    assert!(
        s.notes
            .iter()
            .any(|n| n.contains("disagree on the dump time") && n.contains("+3.250 s")),
        "{:?}",
        s.notes
    );
    assert!(
        s.notes.iter().any(|n| n.contains("process 1a2c")
            && n.contains("[200 300 400]")
            && n.contains("[500]")),
        "{:?}",
        s.notes
    );
    // 0x100 is one thread: the log's address and state, the dump's user time.
    let t: Vec<_> = s.threads.iter().filter(|t| t.tid == 0x100).collect();
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].address, 0xfffffa8001234560);
    assert_eq!(t[0].state.name(), "WAIT");
    assert_eq!(t[0].user_time.as_deref(), Some("00:00:00.250"));
    assert_eq!(s.threads.len(), 5);
    assert_eq!(s.modules.len(), 2);
    assert_eq!(s.dump_files.len(), 1);
}

#[test]
fn a_zoneless_header_takes_the_log_zone_when_they_agree() {
    let mut w = MinidumpWriter::new(T0);
    w.stream(
        synth::MISC_INFO,
        &synth::misc_info(1, &synth::misc_v5(0x1a2c)),
    );
    let log_text = WINDBG_LOG.replace("08:00:03.250", "08:00:00.400");
    let log = read_bytes(Path::new("memory.log"), log_text.as_bytes()).expect("log");
    let s = crate::merge(vec![load(&w.finish()).snapshot, log.snapshot]);
    let st = s.session_time.expect("time");
    assert_eq!(st.offset.map(|o| o.local_minus_utc()), Some(-4 * 3600));
    assert_eq!(st.local.to_string(), "2024-03-01 08:00:00");
    assert!(
        !s.notes.iter().any(|n| n.contains("disagree")),
        "{:?}",
        s.notes
    );
}

#[test]
fn the_snapshot_serialises_to_json() {
    let s = load(&synth::sample_minidump()).snapshot;
    let json = serde_json::to_value(&s).expect("json");
    assert_eq!(
        json["threads"][0]["state"],
        serde_json::json!({"state": "other", "word": "UNKNOWN"})
    );
    assert_eq!(json["threads"][3]["state"]["state"], "terminated");
    assert_eq!(json["dump_files"][0]["format"], "minidump");
}
