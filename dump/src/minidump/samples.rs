//! The third-party minidumps in ../shared/samples, when present (each test
//! prints `skipping: ...` and passes otherwise): rust-minidump's stackwalk
//! snapshot is the field-by-field oracle for test.dmp, the samples README's
//! facts for the others.

use std::path::{Path, PathBuf};

fn sample(name: &str) -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/samples/minidump")
        .join(name);
    if p.exists() {
        Some(p)
    } else {
        println!("skipping: {} not present", p.display());
        None
    }
}

/// `key = value` pairs of each block named `block` in the stackwalk snapshot.
fn snap_blocks(snap: &str, block: &str) -> Vec<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut current: Option<Vec<(String, String)>> = None;
    for line in snap.lines() {
        if !line.starts_with(' ') {
            out.extend(current.take());
            if line == block {
                current = Some(Vec::new());
            }
        } else if let (Some(c), Some((k, v))) = (current.as_mut(), line.split_once(" = ")) {
            c.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    out.extend(current);
    out
}

fn field(block: &[(String, String)], key: &str) -> u64 {
    let v = block
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("{key}"));
    let v = v.split_whitespace().next().unwrap_or(v);
    match v.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).expect("hex"),
        None => v.parse().expect("number"),
    }
}

#[test]
fn test_dmp_matches_the_rust_minidump_stackwalk_snapshot() {
    let (Some(dmp), Some(snap)) = (
        sample("rust-minidump__test.dmp"),
        sample("rust-minidump__test_minidump_stackwalk__dump.snap"),
    ) else {
        return;
    };
    let l = crate::read_path(&dmp).expect("test.dmp");
    let snap = std::fs::read_to_string(snap).expect("snap");
    let s = &l.snapshot;
    let f = &s.dump_files[0];
    let header = &snap_blocks(&snap, "MDRawHeader")[0];
    assert_eq!(
        f.time.map(|t| t.timestamp() as u64),
        Some(field(header, "time_date_stamp"))
    );
    let threads = snap_blocks(&snap, "MINIDUMP_THREAD");
    assert_eq!(threads.len(), s.thread_details.len());
    for (b, d) in threads.iter().zip(&s.thread_details) {
        assert_eq!(u64::from(d.tid), field(b, "thread_id"));
        assert_eq!(
            d.suspend_count.map(u64::from),
            Some(field(b, "suspend_count"))
        );
        assert_eq!(
            d.priority_class.map(u64::from),
            Some(field(b, "priority_class"))
        );
        assert_eq!(d.teb, Some(field(b, "teb")));
        assert_eq!(d.stack_start, Some(field(b, "stack.start_of_memory_range")));
        assert_eq!(
            d.stack_size.map(u64::from),
            Some(field(b, "stack.memory.data_size"))
        );
    }
    let modules = snap_blocks(&snap, "MINIDUMP_MODULE");
    assert_eq!(modules.len(), s.modules.len());
    for (b, m) in modules.iter().zip(&s.modules) {
        assert_eq!(m.base, field(b, "base_of_image"));
        assert_eq!(u64::from(m.size), field(b, "size_of_image"));
        assert_eq!(u64::from(m.checksum), field(b, "checksum"));
        assert_eq!(u64::from(m.time_stamp), field(b, "time_date_stamp"));
        let name = b
            .iter()
            .find(|(k, _)| k == "(code_file)")
            .map(|(_, v)| v.trim_matches('"'));
        assert_eq!(Some(m.name.as_str()), name);
    }
    let memory = snap_blocks(&snap, "MINIDUMP_MEMORY_DESCRIPTOR");
    let ranges = &f.minidump.as_ref().expect("facts").memory_ranges;
    assert_eq!(memory.len(), ranges.len());
    for (b, r) in memory.iter().zip(ranges) {
        assert_eq!(
            (r.start, r.size),
            (
                field(b, "start_of_memory_range"),
                field(b, "memory.data_size")
            )
        );
    }
    let ex = &snap_blocks(&snap, "MINIDUMP_EXCEPTION")[0];
    let e = f.exception.as_ref().expect("exception");
    assert_eq!(u64::from(e.thread_id), field(ex, "thread_id"));
    assert_eq!(
        u64::from(e.code),
        field(ex, "exception_record.exception_code")
    );
    assert_eq!(e.address, field(ex, "exception_record.exception_address"));
    assert_eq!(
        e.parameters.len() as u64,
        field(ex, "exception_record.number_parameters")
    );
    assert_eq!(
        e.parameters[1],
        field(ex, "exception_record.exception_information[ 1]")
    );
    let si = &snap_blocks(&snap, "MINIDUMP_SYSTEM_INFO")[0];
    let sys = f.system.as_ref().expect("system");
    assert_eq!(u64::from(sys.processors), field(si, "number_of_processors"));
    assert_eq!(
        sys.platform_id.map(u64::from),
        Some(field(si, "platform_id"))
    );
    assert_eq!(sys.suite_mask.map(u64::from), Some(field(si, "suite_mask")));
    let version = si
        .iter()
        .find(|(k, _)| k == "(version)")
        .map(|(_, v)| v.clone());
    let ours = format!(
        "{} {}",
        sys.os_version.clone().unwrap_or_default(),
        sys.csd_version.clone().unwrap_or_default()
    );
    assert_eq!(Some(ours), version);
    let mi = &snap_blocks(&snap, "MINIDUMP_MISC_INFO")[0];
    let misc = f
        .minidump
        .as_ref()
        .and_then(|m| m.misc.clone())
        .expect("misc");
    assert_eq!(misc.version, 1);
    assert_eq!(u64::from(misc.flags1), field(mi, "flags1"));
    assert_eq!(
        misc.process_id.map(u64::from),
        Some(field(mi, "process_id"))
    );
    assert_eq!(
        misc.process_create_time.map(|t| t.timestamp() as u64),
        Some(field(mi, "process_create_time"))
    );
    assert_eq!(l.report.skipped, 0);
}

/// Facts the samples README lists for the other dumps.
#[test]
fn samples_match_their_readme_facts() {
    struct Want {
        file: &'static str,
        pid: u32,
        threads: usize,
        modules: Option<usize>,
        code: Option<u32>,
        misc: u8,
    }
    let wants = [
        Want {
            file: "rust-minidump__invalid-parameter.dmp",
            pid: 6256,
            threads: 6,
            modules: Some(31),
            code: Some(0xC000_000D),
            misc: 5,
        },
        Want {
            file: "breakpad__thread_name_list.dmp",
            pid: 6040,
            threads: 6,
            modules: None,
            code: Some(0xC000_0005),
            misc: 5,
        },
        Want {
            file: "breakpad__tiny-exe-fastfail.dmp",
            pid: 41996,
            threads: 4,
            modules: Some(21),
            code: Some(0xC000_0409),
            misc: 5,
        },
        Want {
            file: "breakpad__tiny-exe-with-cet-xsave.dmp",
            pid: 15444,
            threads: 1,
            modules: None,
            code: None,
            misc: 5,
        },
        Want {
            file: "rust-minidump__simple-crashpad.dmp",
            pid: 56685,
            threads: 1,
            modules: Some(40),
            code: None,
            misc: 4,
        },
    ];
    for w in &wants {
        let Some(p) = sample(w.file) else { continue };
        let l = crate::read_path(&p).expect(w.file);
        let s = &l.snapshot;
        let f = &s.dump_files[0];
        assert_eq!(
            l.report.skipped, 0,
            "{}: {:?}",
            w.file, l.report.first_skips
        );
        assert_eq!(s.processes[0].pid, w.pid, "{}", w.file);
        assert_eq!(s.threads.len(), w.threads, "{}", w.file);
        if let Some(n) = w.modules {
            assert_eq!(s.modules.len(), n, "{}", w.file);
        }
        if w.code.is_some() {
            assert_eq!(f.exception.as_ref().map(|e| e.code), w.code, "{}", w.file);
        }
        assert_eq!(
            f.minidump
                .as_ref()
                .and_then(|m| m.misc.as_ref())
                .map(|m| m.version),
            Some(w.misc),
            "{}",
            w.file
        );
    }
    if let Some(p) = sample("rust-minidump__invalid-parameter.dmp") {
        let s = crate::read_path(&p).expect("read").snapshot;
        // Header 17:00:46Z, process created 17:00:44Z: 2 s of process uptime; EDT.
        assert_eq!(
            s.session_time
                .as_ref()
                .and_then(|t| t.utc)
                .map(|t| t.to_rfc3339()),
            Some("2018-09-21T17:00:46+00:00".into())
        );
        assert_eq!(s.processes[0].elapsed_time.as_deref(), Some("00:00:02.000"));
        assert_eq!(
            s.session_time
                .and_then(|t| t.offset)
                .map(|o| o.local_minus_utc()),
            Some(-4 * 3600)
        );
    }
    if let Some(p) = sample("breakpad__thread_name_list.dmp") {
        let s = crate::read_path(&p).expect("read").snapshot;
        let names: Vec<(u32, String)> = s
            .thread_details
            .iter()
            .filter_map(|d| Some((d.tid, d.name.clone()?)))
            .collect();
        let want = [
            (6564, "main thread"),
            (8820, "sleep thread"),
            (10976, "overflow thread"),
        ];
        assert_eq!(names, want.map(|(t, n)| (t, n.to_string())).to_vec());
        assert_eq!(
            s.dump_files[0]
                .system
                .as_ref()
                .map(|s| s.architecture.as_str()),
            Some("x86")
        );
    }
    if let Some(p) = sample("breakpad__tiny-exe-with-cet-xsave.dmp") {
        let s = crate::read_path(&p).expect("read").snapshot;
        assert_eq!(s.handles.len(), 147);
        let count = |t: Option<&str>| {
            s.handles
                .iter()
                .filter(|h| h.type_name.as_deref() == t)
                .count()
        };
        let counts = [
            count(Some("Section")),
            count(Some("Event")),
            count(Some("Semaphore")),
            count(Some("File")),
            count(Some("Key")),
            count(None),
        ];
        assert_eq!(counts, [31, 18, 12, 11, 8, 46]);
        let info = s.dump_files[0].minidump.clone().expect("facts");
        assert_eq!((info.flags, info.unloaded_modules.len()), (0x200000, 1));
        assert_eq!(
            info.misc.and_then(|m| m.xstate_features),
            Some(0x8000_0000_0000_0803)
        );
        assert_eq!(
            s.dump_files[0]
                .system
                .as_ref()
                .and_then(|s| s.csd_version.as_deref()),
            Some("282")
        );
    }
    if let Some(p) = sample("rust-minidump__simple-crashpad.dmp") {
        let s = crate::read_path(&p).expect("read").snapshot;
        assert!(
            s.notes.iter().any(|n| n.contains("not a Windows dump")),
            "{:?}",
            s.notes
        );
    }
}
