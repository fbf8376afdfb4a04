use std::collections::BTreeSet;

use serde_json::Value;

use super::util::{json, run, stdout};

/// Every bundled case folder, by name.
fn cases() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(super::util::fixture("cases"))
        .expect("fixtures/cases")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    v.sort();
    v
}

fn analyze(case: &str) -> (String, Value) {
    let path = format!("fixtures/cases/{case}");
    let human = stdout(&run(&["analyze", &path]));
    (human, json(&["analyze", "--json", &path]))
}

fn arr<'a>(v: &'a Value, k: &str) -> &'a [Value] {
    v[k].as_array().map(Vec::as_slice).unwrap_or(&[])
}

fn chain_of(a: &Value, f: &Value) -> Option<Value> {
    let id = f["chain"].as_u64()?;
    arr(a, "chains").iter().find(|c| c["id"] == id).cloned()
}

fn blocked(c: &Value) -> u64 {
    c["blocked_threads"].as_u64().unwrap()
}

/// The human report and the JSON's findings and chains of every case, as
/// snapshots: any change to what an engineer reads shows up in review.
#[test]
fn analyze_snapshots_of_every_case() {
    for case in cases() {
        let (human, a) = analyze(&case);
        insta::assert_snapshot!(format!("analyze_{case}"), human);
        let part = serde_json::json!({"findings": a["findings"], "chains": a["chains"]});
        let text = serde_json::to_string_pretty(&part).expect("JSON");
        insta::assert_snapshot!(format!("analyze_json_{case}"), text);
    }
}

/// `--help` of the binary and of every subcommand, and the bash completion script.
#[test]
fn help_and_completion_snapshots() {
    let top = stdout(&run(&["--help"]));
    insta::assert_snapshot!("help", top);
    for sub in ["analyze", "dump", "trace", "tui", "export", "completions"] {
        let o = run(&[sub, "--help"]);
        assert!(o.status.success(), "{sub} --help");
        insta::assert_snapshot!(format!("help_{sub}"), stdout(&o));
    }
    let bash = stdout(&run(&["completions", "bash"]));
    assert!(bash.contains("complete -F"), "not a bash completion script");
    insta::assert_snapshot!("completions_bash", bash);
}

/// The ranking rule (correlate's `findings::number`), on every case: a deadlock,
/// else the chain blocking most threads, is finding 1; every finding about a chain
/// ranks above every finding about none; of one chain, the finding that states it
/// comes before those that add to it.
#[test]
fn ranking_rule_holds_on_every_case() {
    for case in cases() {
        let (_, a) = analyze(&case);
        let findings = arr(&a, "findings");
        let chains = arr(&a, "chains");
        if chains.is_empty() {
            continue;
        }
        let top = &findings[0];
        let top_chain = chain_of(&a, top).unwrap_or_else(|| panic!("{case}: finding 1 {top}"));
        let most = chains.iter().map(blocked).max().unwrap();
        if chains.iter().any(|c| c["deadlock"] == true) {
            assert_eq!(top["kind"], "deadlock", "{case}");
        } else {
            assert!(
                ["wait-chain", "periodic-error"].contains(&top["kind"].as_str().unwrap()),
                "{case}: {top}"
            );
            assert_eq!(blocked(&top_chain), most, "{case}");
        }
        let first_free = findings.iter().position(|f| f["chain"].is_null());
        if let Some(i) = first_free {
            assert!(
                findings[i..].iter().all(|f| f["chain"].is_null()),
                "{case}: a chain's finding below one about no chain"
            );
        }
        let mut seen = BTreeSet::new();
        for f in findings {
            let Some(id) = f["chain"].as_u64() else {
                continue;
            };
            let states =
                ["wait-chain", "periodic-error", "deadlock"].contains(&f["kind"].as_str().unwrap());
            if states {
                seen.insert(id);
            } else {
                assert!(
                    seen.contains(&id),
                    "{case}: {} before chain {id}'s finding",
                    f["kind"]
                );
            }
        }
        let ranks: Vec<u64> = findings
            .iter()
            .map(|f| f["rank"].as_u64().unwrap())
            .collect();
        assert_eq!(
            ranks,
            (1..=findings.len() as u64).collect::<Vec<_>>(),
            "{case}"
        );
    }
}

/// One count everywhere: a chain's `blocked_threads` is its members less the root
/// (a queue no thread serves has no thread root: all its members are blocked); the
/// chain line of the report and the chain's finding say the same number; the
/// direct waiters are never more than the blocked ones.
#[test]
fn counts_agree_between_chain_finding_and_json() {
    for case in cases() {
        let (human, a) = analyze(&case);
        for c in arr(&a, "chains") {
            let members = arr(c, "members").len() as u64;
            let queue = c["root_kind"] == "process-queue";
            assert_eq!(blocked(c), members - u64::from(!queue), "{case}: {c}");
            assert!(
                c["direct_waiters"].as_u64().unwrap() <= blocked(c),
                "{case}"
            );
            let line = format!("Chain {}: root ", c["id"].as_u64().unwrap());
            let header = human
                .lines()
                .find(|l| l.trim_start().starts_with(&line))
                .unwrap_or_else(|| panic!("{case}: no '{line}' line"));
            assert!(
                header.contains(&format!(
                    ", {} blocked ({} directly)",
                    blocked(c),
                    c["direct_waiters"]
                )),
                "{case}: {header}"
            );
        }
        for f in arr(&a, "findings") {
            let Some(c) = chain_of(&a, f) else { continue };
            let s = f["summary"].as_str().unwrap();
            let n = blocked(&c);
            let said = match f["kind"].as_str().unwrap() {
                "wait-chain" | "periodic-error" if c["root_kind"] == "process-queue" => {
                    format!("{n} in all")
                }
                "wait-chain" | "periodic-error" => {
                    format!("blocks {n} thread{}", if n == 1 { "" } else { "s" })
                }
                _ => continue,
            };
            assert!(s.contains(&said), "{case}: '{said}' not in {s}");
        }
    }
}

/// No placeholder where a value is unknown: the report says it is unknown and why.
#[test]
fn no_placeholders_in_any_report() {
    for case in cases() {
        let (human, _) = analyze(&case);
        for bad in ["waited ?", "(?)", " 0.0 s"] {
            assert!(!human.contains(bad), "{case}: '{bad}' in the report");
        }
        // "has waited (Reason)" with no time is only allowed with the reason it is
        // unknown beside it.
        for (i, _) in human.match_indices("waited (") {
            let rest = &human[i..];
            let inside = &rest[..rest.find(')').unwrap_or(rest.len())];
            assert!(
                inside.contains("no Ticks"),
                "{case}: '{inside}' in the report"
            );
        }
    }
    // The user-mode case has no Ticks: its waits are unknown, and said so.
    let (human, a) = analyze("user-loader-lock-mutant");
    let unknown = arr(&a, "threads")
        .iter()
        .filter(|t| t["wait_seconds"].is_null() && t["state"] == "WAIT")
        .count();
    assert!(unknown > 0);
    assert!(
        human.contains("wait time unknown (the output gives no Ticks)"),
        "{human}"
    );
    assert!(
        human.contains("for a time the output does not give"),
        "{human}"
    );
}

/// `analyze` draws the chain: the seed's five ServiceB waiters hang under the
/// critical section they wait on, under its owner; a deadlock's cycle is marked.
#[test]
fn analyze_draws_the_chain_tree() {
    let (human, _) = analyze("serviceb-after-servicea");
    let tree: Vec<&str> = human
        .lines()
        .skip_while(|l| l.trim() != "tree")
        .skip(1)
        .take_while(|l| !l.trim().is_empty() && l.starts_with("      "))
        .collect();
    assert!(
        tree[0]
            .trim_start()
            .starts_with("09f4.1680 ServiceB.exe WAIT"),
        "{tree:?}"
    );
    assert_eq!(
        tree[1].trim(),
        "└─ cs:0x0998ac80@09f4  5 waiting",
        "{tree:?}"
    );
    let waiters: BTreeSet<&str> = tree[2..]
        .iter()
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    let want: BTreeSet<&str> = [
        "09f4.1018",
        "09f4.0250",
        "09f4.031c",
        "09f4.01bc",
        "09f4.0948",
    ]
    .into_iter()
    .collect();
    assert_eq!(waiters, want, "{tree:?}");
    // The longest waiter first (the FACTS table: 0250 waited 650431 ticks).
    assert!(tree[2].contains("09f4.0250"), "{tree:?}");
}

/// `tui` without a terminal (standard input and output are pipes here) says it needs
/// one and exits 2, instead of panicking.
#[test]
fn tui_without_a_terminal_is_a_clear_error() {
    let o = run(&["tui", "fixtures/cases/serviceb-after-servicea"]);
    let err = super::util::stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("tui needs a terminal"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// `tui` has no `--json` (the analysis as JSON is `analyze --json`): the flag is a
/// usage error, not silently ignored, and the help does not offer it.
#[test]
fn tui_has_no_json_flag() {
    let o = run(&["tui", "--json", "fixtures/cases/serviceb-after-servicea"]);
    let err = super::util::stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("unexpected argument '--json'"), "{err}");
    assert!(!stdout(&run(&["tui", "--help"])).contains("--json"));
}

/// A deadlock's root is not counted among the threads it blocks, directly or not
/// (the two-thread user-mode deadlock of fixtures/readers: two threads in the cycle,
/// one more behind them), and a thread whose image the `~` list does not give says so.
#[test]
fn deadlock_counts_leave_the_root_out() {
    let path = "fixtures/readers/cs-deadlock-thread-prefix.log";
    let a = json(&["analyze", "--json", path]);
    let c = &arr(&a, "chains")[0];
    assert_eq!(c["deadlock"], true);
    assert_eq!(arr(c, "members").len(), 3);
    assert_eq!(blocked(c), 2);
    assert_eq!(c["direct_waiters"], 2);
    let human = stdout(&run(&["analyze", path]));
    assert!(
        human.contains("DEADLOCK, 2 blocked (2 directly)"),
        "{human}"
    );
    assert!(!human.contains("(?)"), "{human}");
    assert!(human.contains("(image not in the output)"), "{human}");
}

/// A trace row's evidence carries its time as the file writes it: the text on that line
/// of the trace (a local time of day in cs-periodic-error's viewer table), printed beside
/// the UTC time.
#[test]
fn trace_evidence_keeps_the_time_as_written() {
    let (human, a) = analyze("cs-periodic-error");
    let text = super::util::read(&super::util::fixture("cases/cs-periodic-error/trace.txt"));
    let lines: Vec<&str> = text.lines().collect();
    let mut seen = 0;
    for f in arr(&a, "findings") {
        for e in arr(f, "evidence") {
            let source = e["source"].as_str().unwrap_or_default();
            if !source.contains("trace.txt:") {
                assert!(e.get("time_raw").is_none(), "{e}");
                continue;
            }
            let raw = e["time_raw"].as_str().expect("a trace row's raw time");
            let n = e["line"].as_u64().expect("line") as usize;
            assert!(lines[n - 1].contains(raw), "{raw} not on line {n}");
            assert!(human.contains(&format!("(file: {raw})")), "{raw}");
            seen += 1;
        }
    }
    assert!(seen >= 3, "{seen}");
}
