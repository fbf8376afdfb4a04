//! Chains and findings on the small logs of `fixtures/readers`, each in the
//! shape of documented debugger output; what each test expects is read from
//! the raw text of its log.

use std::collections::BTreeSet;
use std::path::Path;

use crate::Analysis;

/// The text of `fixtures/readers/NAME`.
pub(crate) fn fixture(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/readers")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The analysis of a fixture log, read as the command line reads it.
pub(crate) fn analyze(name: &str) -> Analysis {
    let text = fixture(name);
    let load = dumptrace_dump::read_bytes(Path::new(name), text.as_bytes()).expect("a log");
    crate::analyze(&load.snapshot, &[], &Default::default())
}

/// Hex numbers after `key` on the log's lines (`OwningThread       1b10`).
pub(crate) fn values_after(text: &str, key: &str) -> Vec<u32> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix(key))
        .filter_map(|v| v.split_whitespace().next())
        .filter_map(|v| u32::from_str_radix(v.trim_start_matches("0x"), 16).ok())
        .collect()
}

/// `   1  Id: 1a40.1b10 ...`: the tid of debugger thread `num`.
pub(crate) fn tid_of(text: &str, num: u32) -> u32 {
    let mark = format!(" {num}  Id: ");
    let line = text
        .lines()
        .find(|l| format!(" {}", l.trim_start_matches(['.', '#'])).contains(&mark))
        .unwrap_or_else(|| panic!("no ~ line for thread {num}"));
    let cid = line
        .split_whitespace()
        .find(|w| w.contains('.') && *w != ".");
    let tid = cid.and_then(|c| c.split_once('.')).map(|(_, t)| t);
    tid.and_then(|t| u32::from_str_radix(t, 16).ok())
        .unwrap_or_else(|| panic!("no Cid on {line}"))
}

/// The findings of one kind.
fn findings_of<'a>(a: &'a Analysis, kind: &str) -> Vec<&'a crate::Finding> {
    a.findings.iter().filter(|f| f.kind == kind).collect()
}

fn tids(ids: &[crate::ThreadId]) -> BTreeSet<u32> {
    ids.iter().map(|t| t.tid).collect()
}

#[test]
fn stack_command_with_thread_prefix_gives_the_deadlock() {
    let text = fixture("cs-deadlock-thread-prefix.log");
    let a = analyze("cs-deadlock-thread-prefix.log");
    // The two owners `!locks` names each wait for the other's section.
    let owners: BTreeSet<u32> = values_after(&text, "OwningThread").into_iter().collect();
    assert_eq!(owners.len(), 2);
    let dl: Vec<_> = a.chains.iter().filter(|c| c.deadlock).collect();
    assert_eq!(dl.len(), 1, "{:#?}", a.chains);
    let members = tids(&dl[0].members);
    assert!(owners.is_subset(&members), "{members:x?}");
    // Thread 0 (`~0kb`) waits behind them.
    assert!(members.contains(&tid_of(&text, 0)), "{members:x?}");
    assert_eq!(members.len(), 3);
    assert!(a.findings.iter().any(|f| f.kind == "deadlock"));
}

/// `CritSec sym at ADDR`: the section addresses of a `!locks` listing, in order.
fn critsec_addresses(text: &str) -> Vec<u64> {
    text.lines()
        .filter(|l| l.starts_with("CritSec "))
        .filter_map(|l| {
            l.rsplit_once(" at ")
                .map(|(_, a)| a.trim().replace('`', ""))
        })
        .filter_map(|a| u64::from_str_radix(&a, 16).ok())
        .collect()
}

#[test]
fn wait_on_address_argument_ties_the_waiter_to_its_section() {
    let text = fixture("cs-wait-on-address-x64.log");
    let a = analyze("cs-wait-on-address-x64.log");
    let sections = critsec_addresses(&text);
    let owners = values_after(&text, "OwningThread");
    assert_eq!((sections.len(), owners.len()), (2, 2));
    // Thread 0 waits on the second section (its address is RtlpWaitOnAddress's
    // first argument), thread 2 on the first (its LockCount field, +8).
    let waits = |tid: u32| -> Vec<String> {
        let t = a.threads.iter().find(|t| t.tid == tid).unwrap();
        t.waits_on.clone()
    };
    let id = |i: usize| crate::graph::cs_id(sections[i], 0x2e44);
    assert_eq!(waits(tid_of(&text, 0)), vec![id(1)]);
    assert_eq!(waits(tid_of(&text, 2)), vec![id(0)]);
    // One chain: the owner of the first section, asleep, blocks both.
    assert_eq!(a.chains.len(), 1, "{:#?}", a.chains);
    let c = &a.chains[0];
    assert_eq!(c.root.tid, owners[0]);
    assert_eq!(
        tids(&c.members),
        [tid_of(&text, 0), owners[0], owners[1]]
            .into_iter()
            .collect()
    );
}

#[test]
fn no_args_fallback_drops_own_sections_and_finds_the_deadlock() {
    let text = fixture("cs-deadlock-no-args.log");
    let a = analyze("cs-deadlock-no-args.log");
    // `!cs` lists two locked sections with LockCount 1, each owned by one of
    // the two threads in RtlEnterCriticalSection, whose `k` stacks have no
    // arguments: each waits on the section it does not own.
    let owners: BTreeSet<u32> = values_after(&text, "OwningThread       =")
        .into_iter()
        .collect();
    assert_eq!(owners.len(), 2);
    let in_cs: BTreeSet<u32> = [1, 2].into_iter().map(|n| tid_of(&text, n)).collect();
    assert_eq!(owners, in_cs);
    let dl: Vec<_> = a.chains.iter().filter(|c| c.deadlock).collect();
    assert_eq!(dl.len(), 1, "{:#?}", a.chains);
    assert_eq!(tids(&dl[0].members), owners);
    assert!(a.findings.iter().any(|f| f.kind == "deadlock"));
}

#[test]
fn handle_block_is_credited_to_the_process_in_context() {
    let text = fixture("handle-mutant-other-process.log");
    let a = analyze("handle-mutant-other-process.log");
    // `Mutant Owner pid.tid` of both `!handle X f` blocks, read at `0:000>`
    // after `|0s`: process 0 of `|`, not worker.exe whose `~` came first.
    let owners: Vec<(u32, u32)> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Mutant Owner "))
        .filter_map(|o| o.split_once('.'))
        .filter_map(|(p, t)| {
            Some((
                u32::from_str_radix(p, 16).ok()?,
                u32::from_str_radix(t, 16).ok()?,
            ))
        })
        .collect();
    assert_eq!(owners.len(), 2);
    let pid0 = text
        .lines()
        .find_map(|l| l.trim_start_matches(['.', ' ']).strip_prefix("0\tid: "))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|p| u32::from_str_radix(p, 16).ok())
        .unwrap();
    assert!(owners.iter().all(|&(p, _)| p == pid0));
    let dl: Vec<_> = a.chains.iter().filter(|c| c.deadlock).collect();
    assert_eq!(dl.len(), 1, "{:#?}", a.chains);
    assert_eq!(
        tids(&dl[0].members),
        owners.iter().map(|o| o.1).collect::<BTreeSet<_>>()
    );
    assert!(dl[0].processes == vec![pid0]);
}

#[test]
fn orphaned_section_is_a_chain_ending_at_owner_gone_and_a_finding() {
    let text = fixture("cs-orphaned-owner.log");
    let a = analyze("cs-orphaned-owner.log");
    let owner = values_after(&text, "OwningThread       =");
    let listed: BTreeSet<u32> = (0..3).map(|n| tid_of(&text, n)).collect();
    assert_eq!(owner.len(), 1);
    assert!(
        !listed.contains(&owner[0]),
        "the owner is not in the ~ list"
    );
    // The two threads in RtlEnterCriticalSection (threads 0 and 1) wait on it.
    let waiters: BTreeSet<u32> = [0, 1].into_iter().map(|n| tid_of(&text, n)).collect();
    assert_eq!(a.chains.len(), 1, "{:#?}", a.chains);
    let c = &a.chains[0];
    assert_eq!(tids(&c.members), waiters);
    assert_eq!(c.blocked_threads, waiters.len());
    let end = c.ends_at.as_ref().expect("the chain ends at the section");
    assert_eq!(end.owner_gone.map(|t| t.tid), Some(owner[0]));
    let f = findings_of(&a, "orphaned-critical-section");
    assert_eq!(f.len(), 1, "{:#?}", a.findings);
    assert_eq!(f[0].rank, 1, "ranked with the others, first here");
    assert!(
        f[0].summary.contains(&format!("{:x}", owner[0])),
        "{}",
        f[0].summary
    );
    // No longer only a note.
    assert!(
        !a.notes.iter().any(|n| n.contains("owner is not among")),
        "{:?}",
        a.notes
    );
}

#[test]
fn debugger_breakin_thread_is_not_a_spiking_thread() {
    let text = fixture("breakin-running.log");
    let a = analyze("breakin-running.log");
    // Both RUNNING threads have over 10 s of CPU; only the one not running
    // the debugger's break-in (`nt!KdCheckForDebugBreak`) spins.
    let running = text.matches("RUNNING on processor").count();
    assert_eq!(running, 2);
    let spiking: Vec<_> = a
        .findings
        .iter()
        .filter(|f| f.kind == "spiking-thread")
        .collect();
    assert_eq!(spiking.len(), 1, "{spiking:#?}");
    let breakin = text
        .split("THREAD ")
        .find(|b| b.contains("KdCheckForDebugBreak"))
        .and_then(|b| b.split_whitespace().nth(2))
        .and_then(|cid| cid.split_once('.'))
        .and_then(|(_, t)| u32::from_str_radix(t, 16).ok())
        .unwrap();
    assert_ne!(spiking[0].tid, Some(breakin));
}

#[test]
fn evidence_rows_name_their_file() {
    // A log with sections and no thread blocks: the contention finding's row
    // names the log and the `Critical section =` line.
    let name = "cs-contention-only.log";
    let text = fixture(name);
    let a = analyze(name);
    let line = text
        .lines()
        .position(|l| l.starts_with("Critical section   ="))
        .unwrap()
        + 1;
    let f = findings_of(&a, "high-contention");
    assert_eq!(f.len(), 1, "{:#?}", a.findings);
    assert_eq!(f[0].evidence[0].source, format!("{name}:{line}"));
    // Every row of every finding names a file, on the other fixtures too.
    for name in [name, "cs-orphaned-owner.log", "cs-deadlock-no-args.log"] {
        for f in &analyze(name).findings {
            for e in &f.evidence {
                let (file, _) = e.source.rsplit_once(':').unwrap_or(("", ""));
                assert!(!file.is_empty(), "{name}: {:?}", e);
            }
        }
    }
}

/// A `!handle 0 0` summary with 1,129 Thread handles in a process of 6 threads is
/// a handle leak, its evidence the summary's first line; the kernel table and a
/// handful of handles are not.
#[test]
fn thread_handles_in_a_handle_summary_are_a_leak() {
    let name = "handle-summary-thread-leak.log";
    let text = fixture(name);
    let a = analyze(name);
    let f = findings_of(&a, "handle-leak");
    assert_eq!(f.len(), 1, "{:#?}", a.findings);
    let threads = text.lines().filter(|l| l.contains("  Id: 1f40.")).count();
    assert_eq!(f[0].pid, Some(0x1f40));
    assert!(
        f[0].summary.contains(&format!(
            "jobrunner.exe (pid 1f40) holds 1129 Thread handles, for {threads} threads"
        )),
        "{}",
        f[0].summary
    );
    let line = text
        .lines()
        .position(|l| l.ends_with(" Handles"))
        .expect("the summary line")
        + 1;
    assert_eq!(f[0].evidence[0].source, format!("{name}:{line}"));
    // The same summary with the Thread row at 40 handles: no leak.
    let small = text.replace("Thread         \t1129", "Thread         \t40");
    let load = dumptrace_dump::read_bytes(Path::new(name), small.as_bytes()).expect("a log");
    let a = crate::analyze(&load.snapshot, &[], &Default::default());
    assert!(
        findings_of(&a, "handle-leak").is_empty(),
        "{:#?}",
        a.findings
    );
}
