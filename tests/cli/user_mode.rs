//! The user-mode case (`fixtures/cases/user-loader-lock-mutant`, a WinDbg
//! session on a WOW64 service's full user dump): every `~` thread, `CritSec`,
//! `Handle` entry, `!runaway` row and `lmv` module is read, counted against the
//! raw text; the wait chain goes through two critical sections and a mutant
//! whose owner only `!handle X f` names.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::util::{fixture, json, read, run, stderr, stdout};

const CASE: &str = "fixtures/cases/user-loader-lock-mutant";

fn log() -> String {
    read(&fixture("cases/user-loader-lock-mutant/memory.log"))
}

fn hex(s: &str) -> u64 {
    u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap()
}

fn arr<'a>(v: &'a Value, key: &str) -> &'a Vec<Value> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key} is an array"))
}

/// `   3  Id: 1a2c.1af0 Suspend: 1 Teb: ...`: (pid, tid).
fn id_lines(text: &str) -> Vec<(u64, u64)> {
    text.lines()
        .filter_map(|l| {
            let t: Vec<&str> = l
                .trim_start_matches(['.', '#', ' '])
                .split_whitespace()
                .collect();
            let (p, th) = (t.get(1) == Some(&"Id:")).then(|| t[2].split_once('.'))??;
            Some((hex(p), hex(th)))
        })
        .collect()
}

/// The 32-bit stacks (`~*kv` at the `0:000:x86>` prompt), by tid.
fn x86_stacks(text: &str) -> BTreeMap<u64, Vec<Vec<String>>> {
    let section = text.split("0:000:x86> ~*kv").nth(1).unwrap();
    let section = section.split("0:000:x86> !locks").next().unwrap();
    let mut out: BTreeMap<u64, Vec<Vec<String>>> = BTreeMap::new();
    let mut tid = None;
    for l in section.lines() {
        if let Some(&(_, t)) = id_lines(l).first() {
            tid = Some(t);
            continue;
        }
        let words: Vec<String> = l.split_whitespace().map(str::to_string).collect();
        if let (Some(t), 6) = (tid, words.len()) {
            out.entry(t).or_default().push(words);
        }
    }
    out
}

#[test]
fn every_user_mode_record_is_read() {
    let text = log();
    let v = json(&["dump", "--json", CASE]);
    let ids: BTreeSet<(u64, u64)> = id_lines(&text).into_iter().collect();
    let threads: BTreeSet<(u64, u64)> = arr(&v, "threads")
        .iter()
        .map(|t| (t["pid"].as_u64().unwrap(), t["tid"].as_u64().unwrap()))
        .collect();
    assert_eq!(threads, ids, "one thread per Cid of the ~ lines");
    // Every thread has both stacks: `~*k` gives the 64-bit one, `~*kv` at x86 the 32-bit one.
    let stacks = x86_stacks(&text);
    for t in arr(&v, "threads") {
        let tid = t["tid"].as_u64().unwrap();
        assert_eq!(arr(t, "wow64_stack").len(), stacks[&tid].len(), "{tid:x}");
        assert!(arr(t, "stack")[0]["symbol"]
            .as_str()
            .unwrap()
            .starts_with("wow64cpu!"));
        assert!(
            !t["user_time"].is_null() && !t["elapsed_time"].is_null(),
            "!runaway for {tid:x}"
        );
    }
    // Each `CritSec X at ADDR` and `Handle X` of the text is one record.
    let raw = |prefix: &str, value: fn(&str) -> &str| -> BTreeSet<u64> {
        text.lines()
            .filter_map(|l| l.strip_prefix(prefix))
            .map(|l| hex(value(l)))
            .collect()
    };
    let read = |key: &str, field: &str| -> BTreeSet<u64> {
        arr(&v, key)
            .iter()
            .map(|x| x[field].as_u64().unwrap())
            .collect()
    };
    fn last_word(l: &str) -> &str {
        l.rsplit(' ').next().unwrap_or(l)
    }
    assert_eq!(
        read("critical_sections", "address"),
        raw("CritSec ", last_word)
    );
    assert_eq!(read("handles", "handle"), raw("Handle ", |l| l));
    let summary: u64 = text
        .lines()
        .find_map(|l| l.strip_suffix(" Handles"))
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert_eq!(v["handle_tables"][0]["entries"], summary);
    let versions: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("File version:"))
        .map(str::trim)
        .collect();
    let got: Vec<&str> = arr(&v, "modules")
        .iter()
        .map(|m| m["version"].as_str().unwrap())
        .collect();
    assert_eq!(got, versions);
    // The process and its uptime come from `|` and `.time`.
    let pid = ids.iter().next().unwrap().0;
    assert_eq!(v["processes"][0]["pid"], pid);
    assert_eq!(v["processes"][0]["image"], "LegacySvc.exe");
    assert_eq!(v["process_uptime_ms"], 6 * 3_600_000 + 2 * 60_000 + 41_000);
}

/// A user dump records no thread state: a thread waits when its 32-bit stack
/// tops (under `KiFastSystemCallRet`, if shown) in a wait service.
#[test]
fn wait_states_come_from_the_stacks() {
    let text = log();
    let v = json(&["dump", "--json", CASE]);
    for (tid, frames) in x86_stacks(&text) {
        let top = &frames[0][5];
        let t = arr(&v, "threads").iter().find(|t| t["tid"] == tid).unwrap();
        let service = top.split('!').nth(1).unwrap().split('+').next().unwrap();
        let waits = !matches!(service, "ZwReadFile");
        assert_eq!(t["state"]["state"] == "wait", waits, "{tid:x} {top}");
        if service == "ZwDelayExecution" {
            assert_eq!(t["state"]["reason"], "DelayExecution");
        }
    }
}

#[test]
fn chain_goes_through_both_sections_and_the_mutant() {
    let text = log();
    let a = json(&["analyze", "--json", CASE]);
    let owner = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Mutant Owner "))
        .and_then(|o| o.split_once('.'))
        .map(|(p, t)| (hex(p), hex(t)))
        .unwrap();
    let cfg = text
        .lines()
        .find_map(|l| l.strip_prefix("CritSec LegacySvc!g_ConfigLock+0 at "))
        .map(hex)
        .unwrap();
    let loader = text
        .lines()
        .find_map(|l| l.split_once("!LdrpLoaderLock+0 at ").map(|(_, a)| hex(a)))
        .unwrap();
    let pid = owner.0;
    let c = arr(&a, "chains")
        .iter()
        .find(|c| c["root"]["tid"] == owner.1)
        .expect("a chain rooted at the mutant's owner");
    assert_eq!(c["deadlock"], false);
    // Members: the threads whose RtlEnterCriticalSection argument is one of the
    // two sections, the one waiting on the mutant's handle, and the root.
    let stacks = x86_stacks(&text);
    let mut want: BTreeSet<u64> = stacks
        .iter()
        .filter(|(_, frames)| {
            frames.iter().any(|f| {
                f[5].contains("!RtlEnterCriticalSection") && [cfg, loader].contains(&hex(&f[2]))
            })
        })
        .map(|(&t, _)| t)
        .collect();
    want.extend(
        stacks
            .iter()
            .filter(|(_, f)| {
                f.iter().any(|f| {
                    f[5].starts_with("kernel32!WaitForSingleObject+") && f[2] == "000002c4"
                })
            })
            .map(|(&t, _)| t),
    );
    want.insert(owner.1);
    let members: BTreeSet<u64> = arr(c, "members")
        .iter()
        .map(|m| m["tid"].as_u64().unwrap())
        .collect();
    assert_eq!(members, want);
    let resources: BTreeSet<&str> = arr(c, "resources")
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    for r in [
        format!("cs:0x{cfg:08x}@{pid:04x}"),
        format!("cs:0x{loader:08x}@{pid:04x}"),
        format!("mutant:handle 0x2c4@{pid:04x}"),
    ] {
        assert!(
            resources.contains(r.as_str()),
            "{r} missing from {resources:?}"
        );
    }
}

#[test]
fn dump_summary_names_locks_mutant_owner_and_uptimes() {
    let o = run(&["dump", CASE]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    for want in [
        "Uptime      0d 06:02:41.000 (process)",
        "Uptime      12d 03:14:55.031 (system)",
        "(LegacySvc!g_ConfigLock+0)  LOCKED  owner tid 0x",
        "waiters found 12",
        "Mutants with an owner 1",
        "\\BaseNamedObjects\\PluginX_Init",
        "PluginX          2.0.0.41",
        "(22 from ~ lines (state from the stack))",
        "0 skipped",
    ] {
        assert!(out.contains(want), "{want:?} not in\n{out}");
    }
}
