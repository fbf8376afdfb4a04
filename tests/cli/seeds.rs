//! The WinDbg excerpts of the seed case studies (../shared/seeds, when present):
//! every THREAD block, critical section and ERESOURCE in them is read. Counts are
//! taken from the raw text.

use std::collections::BTreeSet;
use std::path::PathBuf;

use super::util::{root, run, stderr};

fn seeds() -> Option<Vec<PathBuf>> {
    let dir = root().join("../shared/seeds");
    if !dir.is_dir() {
        println!("skipping: ../shared/seeds not present");
        return None;
    }
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    v.sort();
    Some(v)
}

/// Web copies write `0×` for `0x`.
fn hex(s: &str) -> String {
    let s = s.replace('×', "x");
    let s = s.trim_start_matches("0x").trim_start_matches('0');
    s.to_ascii_lowercase()
}

#[test]
fn every_seed_block_is_read() {
    let Some(files) = seeds() else { return };
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let mut threads = BTreeSet::new();
        let mut sections = BTreeSet::new();
        let mut resources = BTreeSet::new();
        for line in text.lines() {
            let t: Vec<&str> = line.split_whitespace().collect();
            match t.as_slice() {
                ["THREAD", addr, "Cid", ..] => {
                    threads.insert(hex(addr));
                }
                ["Critical", "section", "=", addr, ..] => {
                    sections.insert(hex(addr));
                }
                ["Resource", "@", rest @ ..] => {
                    let a = rest
                        .iter()
                        .find_map(|w| w.strip_prefix('('))
                        .map(|w| w.trim_end_matches(')'))
                        .unwrap_or(rest[0]);
                    resources.insert(hex(a));
                }
                _ => {}
            }
        }
        let o = run(&["dump", "--json", f.to_str().unwrap()]);
        assert!(o.status.success(), "{}: {}", f.display(), stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let got = |key: &str| -> BTreeSet<String> {
            v[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| format!("{:x}", x["address"].as_u64().unwrap()))
                .collect()
        };
        assert_eq!(got("threads"), threads, "{}", f.display());
        assert_eq!(got("critical_sections"), sections, "{}", f.display());
        assert_eq!(got("resources"), resources, "{}", f.display());
    }
}
