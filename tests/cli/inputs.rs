//! Inputs are recognised by content; bad ones are named, and only an input set
//! with nothing usable fails.

use super::util::{fixture, run, scratch, stderr, stdout};

#[test]
fn unrecognised_file_is_named_and_the_rest_still_runs() {
    let dir = scratch("unrecognised");
    std::fs::copy(
        fixture("cases/cs-periodic-error/memory.log"),
        dir.join("memory.txt"),
    )
    .unwrap();
    std::fs::write(dir.join("notes.bin"), [0u8, 159, 146, 150, 7, 7, 7]).unwrap();
    let o = run(&["analyze", dir.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("notes.bin"), "{err}");
    assert!(err.contains("tried"), "{err}");
    assert!(stdout(&o).contains("memory.txt"));
}

#[test]
fn nothing_usable_exits_with_2() {
    let dir = scratch("nothing-usable");
    let p = dir.join("garbage.dat");
    std::fs::write(&p, "hello\nthis is not a debugger log\n").unwrap();
    let o = run(&["analyze", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("garbage.dat"));
    let o = run(&["analyze", dir.join("missing.log").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("missing.log"));
}

#[test]
fn log_cut_mid_block_keeps_complete_blocks_and_reports_the_rest() {
    let text = std::fs::read_to_string(fixture("cases/cs-periodic-error/memory.log")).unwrap();
    // Cut in the middle of the 40th THREAD block's `Wait Start` line.
    let mut seen = 0;
    let mut cut = 0;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line.trim_start().starts_with("THREAD ") {
            seen += 1;
        }
        if seen == 40 && line.trim_start().starts_with("Wait Start") {
            cut = offset + line.find("Wait Start").unwrap() + 5;
            break;
        }
        offset += line.len();
    }
    assert!(cut > 0);
    let dir = scratch("cut");
    let p = dir.join("cut.log");
    std::fs::write(&p, &text[..cut]).unwrap();
    let o = run(&["dump", "--json", p.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Not a terminal: one compact document on one line.
    assert_eq!(stdout(&o).matches('\n').count(), 1);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    // 39 complete blocks and the cut one (kept with what it has).
    assert_eq!(v["threads"].as_array().unwrap().len(), 40);
    // The half line is reported with its file:line.
    let o = run(&["dump", p.to_str().unwrap()]);
    let out = stdout(&o);
    let lines = text[..cut].lines().count();
    assert!(
        out.contains(&format!("cut.log:{lines}: line not understood")),
        "{out}"
    );
}

#[test]
fn utf16_log_with_bom_reads_like_ascii() {
    let text = std::fs::read_to_string(fixture("cases/cs-periodic-error/memory.log")).unwrap();
    let mut bytes = vec![0xFF, 0xFE];
    for u in text.replace('\n', "\r\n").encode_utf16() {
        bytes.extend_from_slice(&u.to_le_bytes());
    }
    let dir = scratch("utf16");
    let p = dir.join("memory-u.log");
    std::fs::write(&p, bytes).unwrap();
    let a = run(&["dump", "--json", p.to_str().unwrap()]);
    let b = run(&[
        "dump",
        "--json",
        fixture("cases/cs-periodic-error/memory.log")
            .to_str()
            .unwrap(),
    ]);
    let a: serde_json::Value = serde_json::from_slice(&a.stdout).unwrap();
    let b: serde_json::Value = serde_json::from_slice(&b.stdout).unwrap();
    assert_eq!(
        a["threads"].as_array().unwrap().len(),
        b["threads"].as_array().unwrap().len()
    );
    assert_eq!(a["critical_sections"], b["critical_sections"]);
}
