//! The WinDbg excerpts of the seed case studies (../shared/seeds, when present):
//! every THREAD block, `!stacks` row, critical section, ERESOURCE, `!running`
//! processor, `!vm` report, `!poolused` row, `!irpfind` row, `!handle` entry and
//! table, `lmv` module and bugcheck in them is read. Counts are taken from the
//! raw text; the last tests check the studies' own conclusions.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

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

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_hexdigit())
}

/// `!stacks` rows: `4bc.0004c4  8bf76af0 0000cc4 Blocked  nt!KeBugCheckEx+0x1b`.
fn stacks_row(t: &[&str]) -> Option<(String, Option<u64>)> {
    let (cid, addr) = (t.first()?, t.get(1)?);
    let (p, th) = cid.split_once('.')?;
    if !(is_hex(p) && is_hex(th) && is_hex(addr) && addr.len() >= 8) {
        return None;
    }
    const STATES: &[&str] = &["Blocked", "READY", "RUNNING", "Ready", "Running"];
    if STATES.contains(t.get(2)?) {
        return Some((hex(addr), None));
    }
    if STATES.contains(t.get(3)?) && is_hex(t[2]) {
        return Some((hex(addr), u64::from_str_radix(t[2], 16).ok()));
    }
    None
}

fn json_of(f: &Path) -> Value {
    let o = run(&["dump", "--json", f.to_str().unwrap()]);
    assert!(o.status.success(), "{}: {}", f.display(), stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn arr<'a>(v: &'a Value, key: &str) -> &'a Vec<Value> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key} is an array"))
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
                _ => {
                    // A thread only `!stacks` lists is a thread too (once).
                    if let Some((addr, _)) = stacks_row(&t) {
                        threads.insert(addr);
                    }
                }
            }
        }
        let v = json_of(&f);
        let got = |key: &str| -> BTreeSet<String> {
            arr(&v, key)
                .iter()
                .map(|x| format!("{:x}", x["address"].as_u64().unwrap()))
                .collect()
        };
        assert_eq!(got("threads"), threads, "{}", f.display());
        assert_eq!(got("critical_sections"), sections, "{}", f.display());
        assert_eq!(got("resources"), resources, "{}", f.display());
    }
}

/// Rows of the other commands, counted from the raw text.
#[test]
fn every_seed_table_row_is_read() {
    let Some(files) = seeds() else { return };
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap().replace('…', "...");
        let lines: Vec<Vec<&str>> = text
            .lines()
            .map(|l| l.split_whitespace().collect())
            .collect();
        let count = |pred: &dyn Fn(&[&str]) -> bool| lines.iter().filter(|t| pred(t)).count();
        // `!running`: a processor number, two addresses, the 16 spin-lock characters.
        let running = count(&|t| {
            t.len() >= 4
                && t[0].parse::<u32>().is_ok()
                && is_hex(t[1])
                && t.last()
                    .is_some_and(|w| w.len() >= 8 && w.chars().all(|c| ".OW".contains(c)))
        });
        // `!vm`: one report per command.
        let vm = count(&|t| t.len() >= 3 && t[1] == "kd>" && t[2] == "!vm");
        // `!poolused`: a tag, then four numbers.
        let pool = count(&|t| {
            t.len() >= 5 && t[0].len() <= 4 && t[1..5].iter().all(|w| w.parse::<i64>().is_ok())
        });
        // `!irpfind`: `8a3d3008 [8b56cb10] irpStack: ( 4,34) ...`.
        let irpfind = count(&|t| {
            t.len() >= 3 && is_hex(t[0]) && t[1].starts_with('[') && t[2] == "irpStack:"
        });
        // `!handle` kernel entries and tables.
        let handles = count(&|t| {
            t.len() >= 2
                && t[0].ends_with(':')
                && is_hex(t[0].trim_end_matches(':'))
                && t[1] == "Object:"
        });
        let tables = text
            .lines()
            .filter(|l| l.contains("andle table at"))
            .count();
        // `lmv`: rows under `start end module name`.
        let modules = text.lines().filter(|l| l.contains("Image path:")).count();
        // `!analyze -v` outputs and `BugCheck X, {...}` banner lines.
        let bugchecks = count(&|t| t.len() >= 3 && t[1] == "kd>" && t[2] == "!analyze")
            + count(&|t| {
                t.first() == Some(&"BugCheck") && t.get(2).is_some_and(|w| w.starts_with('{'))
            });
        let v = json_of(&f);
        let n = |k: &str| arr(&v, k).len();
        let name = f.display();
        assert_eq!(n("processors"), running, "{name}: !running rows");
        assert_eq!(n("memory"), vm, "{name}: !vm reports");
        assert_eq!(n("pool_tags"), pool, "{name}: !poolused rows");
        assert_eq!(n("irpfind"), irpfind, "{name}: !irpfind rows");
        let kernel_handles = arr(&v, "handles")
            .iter()
            .filter(|h| !h["object"].is_null())
            .count();
        assert_eq!(kernel_handles, handles, "{name}: !handle entries");
        assert_eq!(n("handle_tables"), tables, "{name}: handle tables");
        assert_eq!(n("modules"), modules, "{name}: lmv modules");
        assert_eq!(n("bugchecks"), bugchecks, "{name}: bugchecks");
        // Every `N pool allocations have failed` figure is kept.
        let failed: BTreeSet<u64> = lines
            .iter()
            .filter(|t| {
                t.windows(4)
                    .any(|w| w == ["pool", "allocations", "have", "failed"])
            })
            .filter_map(|t| t.iter().find_map(|w| w.parse().ok()))
            .collect();
        let got: BTreeSet<u64> = arr(&v, "memory")
            .iter()
            .filter_map(|m| m["failed_allocations"].as_u64())
            .collect();
        assert_eq!(got, failed, "{name}");
    }
}

fn seed(name: &str) -> Option<(String, Value)> {
    let f = root().join("../shared/seeds").join(name);
    if !f.exists() {
        println!("skipping: ../shared/seeds not present");
        return None;
    }
    Some((std::fs::read_to_string(&f).unwrap(), json_of(&f)))
}

fn thread(v: &Value, address: u64) -> &Value {
    arr(v, "threads")
        .iter()
        .find(|t| t["address"] == address)
        .unwrap_or_else(|| panic!("no thread {address:x}"))
}

fn notes(v: &Value) -> String {
    arr(v, "notes")
        .iter()
        .filter_map(|n| n.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// "Stack trace collection, missing threads...": `!stacks` prints 89d36b60's
/// Ticks in hex (`0000163`); its THREAD block says `Ticks: 355`. One thread,
/// with the block's fields.
#[test]
fn stacks_ticks_are_hex_and_rows_join_thread_blocks() {
    let Some((text, v)) = seed("000_05380805e9a7f7a5.txt") else {
        return;
    };
    let row = text
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find_map(|t| stacks_row(&t).filter(|(a, _)| a == "89d36b60"))
        .unwrap();
    let block_ticks: u64 = text
        .split("THREAD 89d36b60")
        .nth(1)
        .and_then(|b| b.split("Ticks: ").nth(1))
        .and_then(|t| t.split_whitespace().next())
        .and_then(|t| t.parse().ok())
        .unwrap();
    assert_eq!(row.1, Some(block_ticks));
    let t = thread(&v, 0x89d36b60);
    assert_eq!(t["ticks"], block_ticks);
    assert_eq!(t["origin"], "thread-block");
    assert_eq!(t["state"]["reason"], "Unknown");
    let n = arr(&v, "threads")
        .iter()
        .filter(|t| t["address"] == 0x89d36b60u64)
        .count();
    assert_eq!(n, 1);
    // A thread only `!stacks` and `.thread` + `kL` show: its stack is the kL one.
    let t = thread(&v, 0x878f0790);
    assert_eq!(t["origin"], "stacks");
    assert!(arr(t, "stack").len() > 40, "{}", t["stack"]);
}

/// "IRP distribution anomaly, inconsistent dump...": "WinDbg reports another
/// current thread running on the same processor so we obviously have an
/// inconsistent dump"; `!stacks` prints negative Ticks (`ffffff42`).
#[test]
fn livekd_dump_is_flagged_inconsistent() {
    let Some((_, v)) = seed("000_05380805e9a7f7a5.txt") else {
        return;
    };
    let n = notes(&v);
    assert!(
        n.contains(
            "thread 8b56cb10 (0004.00e4) says RUNNING on processor 0, but !running shows 8089d8c0"
        ),
        "{n}"
    );
    assert!(
        n.contains("negative Ticks") && n.contains("0004.0070 (ffffff42 = -190)"),
        "{n}"
    );
    assert!(thread(&v, 0x8b579db0)["ticks"].is_null());
    // The IRPs the study counts: most are the Disk driver's, the rest DriverA's and Npfs's.
    let mut by_driver: BTreeMap<String, usize> = BTreeMap::new();
    for r in arr(&v, "irpfind") {
        *by_driver
            .entry(r["driver"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    assert_eq!(by_driver["\\Driver\\Disk"], 4);
    assert_eq!(by_driver["\\Driver\\DriverA"], 2);
    let running = arr(&v, "irpfind")
        .iter()
        .filter(|r| r["thread"] == 0x8b56cb10u64)
        .count();
    assert_eq!(running, 4, "the running thread 8b56cb10 owns the Disk IRPs");
}

/// "Insufficient memory, handle leak, wait chain, deadlock, inconsistent dump
/// and overaged system": `!poolused 4` is inconsistent (negative allocations),
/// and "drivers using AAAA and BBBB consumed almost 65Mb"; `!vm 4` shows
/// session 1's pool allocation failures.
#[test]
fn pool_and_session_conclusions() {
    let Some((_, v)) = seed("000_05380805e9a7f7a5.txt") else {
        return;
    };
    let n = notes(&v);
    assert!(n.contains("negative allocation counts for 9 tag(s)"), "{n}");
    let paged = |tag: &str| {
        arr(&v, "pool_tags")
            .iter()
            .find(|t| t["tag"] == tag)
            .and_then(|t| t["paged"]["used"].as_u64())
            .unwrap()
    };
    let mb = (paged("AAAA") + paged("BBBB")) as f64 / 1e6;
    assert!((60.0..70.0).contains(&mb), "{mb}");
    let session = arr(&v, "memory")
        .iter()
        .flat_map(|m| arr(m, "sessions"))
        .find(|s| s["id"] == 1)
        .unwrap();
    assert_eq!(session["allocation_failures"], 371034);
    assert_eq!(session["paged_pool_kb"], 16868);
    let b: Vec<(u64, String)> = arr(&v, "bugchecks")
        .iter()
        .filter(|b| !b["name"].is_null())
        .map(|b| {
            (
                b["code"].as_u64().unwrap(),
                b["name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(b.contains(&(0xe2, "MANUALLY_INITIATED_CRASH".into())));
    let trap = arr(&v, "bugchecks")
        .iter()
        .find(|b| b["code"] == 0x7f)
        .unwrap();
    assert_eq!(trap["args"][0], 8, "EXCEPTION_DOUBLE_FAULT");
    // "Not my version": AppA is 5.80.x.
    let m = &arr(&v, "modules")[0];
    assert_eq!(
        (m["short_name"].as_str(), m["version"].as_str()),
        (Some("AppA"), Some("5.80.5.1764"))
    );
}

/// "Complete Stack Traces from x64 System": the 32-bit stack printed after
/// `.thread /w` belongs to the thread, beside its 64-bit one.
#[test]
fn wow64_stack_is_attached_to_its_thread() {
    let Some((text, v)) = seed("000_05380805e9a7f7a5.txt") else {
        return;
    };
    let section = text.split("x86 context set").nth(1).unwrap();
    let section = section.split("Effective machine").next().unwrap();
    let frames = section
        .lines()
        .skip_while(|l| !l.starts_with("ChildEBP"))
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .count();
    let t = thread(&v, 0xfffffa801f3a3bb0);
    assert_eq!(arr(t, "wow64_stack").len(), frames);
    assert_eq!(
        t["wow64_stack"][0]["symbol"],
        "ntdll_772b0000!ZwWaitForSingleObject+0x15"
    );
    assert!(arr(t, "stack").len() >= 11);
}

/// "Crash Dump Analysis Patterns (Part 13b)": non-paged pool is exhausted;
/// the handle tables show the leak (MyApp.exe: 8717 handles; the System
/// process's kernel table: 10879).
#[test]
fn handle_leak_study() {
    let Some((_, v)) = seed("003_5a7bda457f13d736.txt") else {
        return;
    };
    let n = notes(&v);
    assert!(
        n.contains("Excessive NonPaged Pool Usage")
            && n.contains("184 pool allocations have failed"),
        "{n}"
    );
    let tables: Vec<(Option<u64>, Option<u64>, bool)> = arr(&v, "handle_tables")
        .iter()
        .map(|t| {
            (
                t["pid"].as_u64(),
                t["entries"].as_u64(),
                t["kernel"] == true,
            )
        })
        .collect();
    assert!(
        tables.contains(&(Some(0x24b4), Some(8717), false)),
        "{tables:?}"
    );
    assert!(tables.contains(&(Some(4), Some(10879), true)), "{tables:?}");
    // iexplore.exe's handles are all to thread objects.
    let iexplore: Vec<&Value> = arr(&v, "handles")
        .iter()
        .filter(|h| h["pid"] == 0x172e4)
        .collect();
    assert!(!iexplore.is_empty());
    assert!(iexplore.iter().all(|h| h["type_name"] == "Thread"));
    let thre = arr(&v, "pool_tags")
        .iter()
        .find(|t| t["tag"] == "Thre")
        .unwrap();
    assert_eq!(thre["nonpaged"]["diff"], 309082);
}
