//! Cases in the shapes today's debuggers print (Windows 10/11, Server 2016 and later):
//! x64 user-mode critical-section and mutex deadlocks, a kernel ERESOURCE deadlock
//! between System threads read from `!locks`, a thread waiting on a KMUTANT, and
//! the same read from MEX tables. Each test checks the chain, its root, the
//! deadlock cycle and the top finding against `fixtures/cases/<case>.FACTS.md`.

use std::collections::BTreeSet;

use serde_json::Value;

use super::util::{json, run};

fn analysis(case: &str) -> Value {
    json(&["analyze", "--json", &format!("fixtures/cases/{case}")])
}

fn cid(v: &Value) -> String {
    format!(
        "{:04x}.{:04x}",
        v["pid"].as_u64().unwrap_or(u64::MAX),
        v["tid"].as_u64().unwrap_or(u64::MAX)
    )
}

fn cids(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .map(|a| a.iter().map(cid).collect())
        .unwrap_or_default()
}

fn strings(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// The one chain of a case, and what the case expects of it.
struct Expect<'a> {
    members: &'a [&'a str],
    cycle: &'a [&'a str],
    /// None: any member of the cycle (the log has no Ticks to tell them apart).
    root: Option<&'a str>,
    resources: &'a [&'a str],
    top: &'a str,
}

fn check(case: &str, want: Expect) -> Value {
    let a = analysis(case);
    let chains = a["chains"].as_array().cloned().unwrap_or_default();
    assert_eq!(chains.len(), 1, "{case}: {chains:?}");
    let c = &chains[0];
    assert_eq!(cids(&c["members"]), set(want.members), "{case} members");
    let deadlock = !want.cycle.is_empty();
    assert_eq!(c["deadlock"], deadlock, "{case}");
    assert_eq!(cids(&c["cycle"]), set(want.cycle), "{case} cycle");
    let root = cid(&c["root"]);
    match want.root {
        Some(r) => assert_eq!(root, r, "{case} root"),
        None => assert!(want.cycle.contains(&root.as_str()), "{case} root {root}"),
    }
    assert_eq!(strings(&c["resources"]), set(want.resources), "{case}");
    assert_eq!(
        c["blocked_threads"].as_u64(),
        Some(want.members.len() as u64 - 1),
        "{case}"
    );
    let top = &a["findings"][0];
    assert_eq!(top["kind"], want.top, "{case}: {top}");
    assert_eq!(top["chain"], c["id"], "{case}");
    if deadlock {
        let s = top["summary"].as_str().unwrap_or("");
        for t in want.cycle {
            assert!(s.contains(t), "{case}: {t} not in {s}");
        }
    }
    a
}

/// Windows 10 x64: waits in `RtlpWaitOnAddress` under the critical-section frames;
/// one section from `!cs -l -o -s` (and `!critsec`), the other only from `dt
/// ntdll!_RTL_CRITICAL_SECTION`, whose `OwningThread` is a thread id and whose
/// `LockCount : 0n-6` is the encoded form (locked, one waiter).
#[test]
fn x64_critical_section_deadlock_with_a_dt_only_section() {
    check(
        "cs-deadlock-x64",
        Expect {
            members: &["2f3c.2a10", "2f3c.2b44", "2f3c.2c08"],
            cycle: &["2f3c.2a10", "2f3c.2b44"],
            root: None,
            resources: &["cs:0x7ff74c2b6080@2f3c", "cs:0x7ff74c2b60b0@2f3c"],
            top: "deadlock",
        },
    );
}

/// Two mutants whose `!handle H f` owners each wait for the other's handle (x64
/// home slots, stacks from `~~[tid] kv`), a third thread behind them.
#[test]
fn mutex_deadlock_from_handle_owners() {
    check(
        "mutex-deadlock-handle",
        Expect {
            members: &["3a58.3a70", "3a58.3a88", "3a58.3b10"],
            cycle: &["3a58.3a70", "3a58.3a88"],
            root: None,
            resources: &["mutant:handle 0x2c4@3a58", "mutant:handle 0x2c8@3a58"],
            top: "deadlock",
        },
    );
}

/// Kernel `!locks` with `Resource @ nt!Sym (0x...)` entries and `Threads Waiting On
/// Exclusive Access:` lists: two System threads each own what the other waits for;
/// the root is the one of the cycle that has waited longest.
#[test]
fn eresource_deadlock_between_system_threads() {
    let a = check(
        "eresource-deadlock-locks",
        Expect {
            members: &["0004.0a4c", "0004.0b18", "0004.0c34"],
            cycle: &["0004.0a4c", "0004.0b18"],
            root: Some("0004.0b18"),
            resources: &[
                "eresource:0xfffff80637c5e4a0",
                "eresource:0xfffff8063a4c5140",
            ],
            top: "deadlock",
        },
    );
    assert_eq!(a["chains"][0]["processes"], serde_json::json!([4]));
}

/// `Mutant - owning thread X` under a THREAD block's wait objects: the waiters of a
/// KMUTANT hang on its owner, a System worker waiting on an event.
#[test]
fn kmutant_waiters_hang_on_the_owning_thread() {
    let a = check(
        "kmutant-wait",
        Expect {
            members: &["1d34.1d4c", "1d34.1e08", "0004.0f70"],
            cycle: &[],
            root: Some("0004.0f70"),
            resources: &["mutant:0xffffb70c2e1f3a60"],
            top: "wait-chain",
        },
    );
    assert_eq!(cid(&a["chains"][0]["first_blocked"]), "0004.0f70");
    let s = a["findings"][0]["summary"].as_str().unwrap_or("");
    assert!(s.contains("mutant 0xffffb70c2e1f3a60"), "{s}");
}

/// MEX kernel tables only: `!mex.lt`, `!mex.t` (its Info column names the lock a
/// thread waits for and that lock's owner), `!mex.eresource` (owner and waiter
/// tables) and `!mex.mut` (a KMUTANT's owner, which `WaitBlockList` does not give).
#[test]
fn mex_kernel_tables_give_the_eresource_deadlock() {
    let a = check(
        "mex-eresource-deadlock",
        Expect {
            members: &["0004.1a2c", "0004.1b70", "0004.1c14", "0004.1d08"],
            cycle: &["0004.1a2c", "0004.1b70"],
            root: Some("0004.1a2c"),
            resources: &[
                "eresource:0xffffc50e2b8e1b40",
                "eresource:0xffffc50e2b8e1c10",
                "mutant:0xffffc50e2b8e1d00",
            ],
            top: "deadlock",
        },
    );
    // Every `!mex.lt` row is a thread, with MEX's wait time.
    let t = a["threads"]
        .as_array()
        .and_then(|ts| ts.iter().find(|t| cid(t) == "0004.1a2c"))
        .cloned()
        .unwrap_or_default();
    let secs = t["wait_seconds"].as_f64().unwrap_or(0.0);
    assert!((secs - 4.718).abs() < 0.01, "{t}");
}

/// MEX user tables: `!mex.lt` gives the threads, `!mex.us` their stacks (one group
/// shared by two threads), `!cs -l -o -s` the owners; the thread whose section the
/// stacks cannot tell is named in a note with the command that would tell it.
#[test]
fn mex_user_tables_give_the_critical_section_deadlock() {
    let a = check(
        "mex-cs-deadlock-user",
        Expect {
            members: &["49f8.4a0c", "49f8.4b18"],
            cycle: &["49f8.4a0c", "49f8.4b18"],
            root: None,
            resources: &["cs:0x7ff71c2d7040@49f8", "cs:0x7ff71c2d7070@49f8"],
            top: "deadlock",
        },
    );
    let threads = a["threads"].as_array().cloned().unwrap_or_default();
    assert_eq!(threads.len(), 5);
    for t in &threads {
        assert!(!t["stack"].as_array().is_none_or(Vec::is_empty), "{t}");
    }
    let notes = strings(&a["notes"]);
    assert!(
        notes
            .iter()
            .any(|n| n.contains("49f8.4c24") && n.contains("kv")),
        "{notes:?}"
    );
}

/// Where the output gives no owner, the notes name the waiting threads and the
/// command whose output would: `!cs -l -o -s` / `!locks` for critical sections (none
/// listed, or a section no owner is known for), `!locks` for a WrResource wait no
/// `!locks` entry names, `!thread ADDR` for a KMUTANT owner without a THREAD block.
#[test]
fn missing_owners_name_the_command_that_gives_them() {
    // No chain in these logs: `analyze` exits 1 (nothing found) and still prints its JSON.
    let notes = |log: &str| {
        let o = run(&["analyze", "--json", &format!("fixtures/readers/{log}")]);
        let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_default();
        strings(&v["notes"])
    };
    let has = |notes: &BTreeSet<String>, all: &[&str]| {
        assert!(
            notes.iter().any(|n| all.iter().all(|w| n.contains(w))),
            "{all:?} not in {notes:?}"
        );
    };
    let user = notes("cs-waiters-no-cs-output.log");
    has(
        &user,
        &["1e2c.1f04", "1e2c.1f10", "`!cs -l -o -s` or `!locks`"],
    );
    let kernel = notes("kernel-owners-not-in-output.log");
    has(
        &kernel,
        &["cs:0x0045c1f0@0a10", "`!cs -l -o -s` or `!locks`"],
    );
    has(&kernel, &["0004.0118", "WrResource", "run `!locks`"]);
    has(&kernel, &["8a2f7020", "`!thread ADDR`"]);
    // A case whose owners are all in the output gets none of these notes.
    let full = strings(&analysis("eresource-deadlock-locks")["notes"]);
    assert!(full.iter().all(|n| !n.contains("run `")), "{full:?}");
}

/// A log cut inside a `!locks` entry or a THREAD block: what is there is read (the
/// chains the whole parts support still come out) and the skip notes say, by
/// file:line, where the input was cut.
#[test]
fn cut_logs_keep_what_is_there_and_say_where() {
    let log = super::util::read(&super::util::fixture(
        "cases/eresource-deadlock-locks/memory.log",
    ));
    let lines: Vec<&str> = log.lines().collect();
    // 1-based number of the `nth` line (0-based) that starts with `prefix`, trimmed.
    let line_of = |prefix: &str, nth: usize| {
        lines
            .iter()
            .enumerate()
            .filter(|(_, l)| l.trim_start().starts_with(prefix))
            .nth(nth)
            .map(|(i, _)| i + 1)
            .unwrap_or_else(|| panic!("no {prefix:?} #{nth}"))
    };
    let dir = super::util::scratch("cut-logs");
    let cut = |name: &str, keep: usize| {
        let p = dir.join(name);
        let text: String = lines[..keep].iter().map(|l| format!("{l}\n")).collect();
        std::fs::write(&p, text).expect("scratch log");
        let o = run(&["analyze", "--json", &p.display().to_string()]);
        let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_default();
        (p.display().to_string(), v)
    };
    let skipped = |v: &Value, at: String, why: &str| {
        let skips = strings(&v["inputs"][0]["first_skips"]);
        assert!(
            skips.iter().any(|s| s.starts_with(&at) && s.contains(why)),
            "{at} {why:?} not in {skips:?}"
        );
    };

    // In the first entry's waiter list: its owner is read, the cut is named.
    let at = line_of("Threads Waiting On Exclusive Access:", 0);
    let (path, v) = cut("locks-waiters.log", at);
    skipped(&v, format!("{path}:{at}:"), "!locks entry's waiter list");
    // At the second entry's header, before its owners.
    let at = line_of("Resource @", 1);
    let (path, v) = cut("locks-owners.log", at);
    skipped(&v, format!("{path}:{at}:"), "before its owners");

    // In the third THREAD block, before its stack: the two whole blocks and the
    // whole `!locks` still give the deadlock, and the cut block's thread is kept.
    let at = line_of("Context Switch Count", 2);
    let (path, v) = cut("thread.log", at);
    skipped(&v, format!("{path}:{at}:"), "inside a THREAD block");
    let c = &v["chains"][0];
    assert_eq!(c["deadlock"], true, "{v}");
    assert_eq!(cids(&c["cycle"]), set(&["0004.0a4c", "0004.0b18"]));
    assert_eq!(
        cids(&c["members"]),
        set(&["0004.0a4c", "0004.0b18", "0004.0c34"])
    );
    // The whole log reports no cut.
    let whole = analysis("eresource-deadlock-locks");
    assert_eq!(whole["inputs"][0]["skipped"], 0);
}
