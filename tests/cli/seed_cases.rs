//! One case per seed study with a wait chain; each test reproduces the expert's
//! conclusion (chain root, members, deadlock flag, first-blocked thread, top
//! finding). Ground truth: the study's text and `fixtures/cases/<case>.FACTS.md`.

use std::collections::BTreeSet;

use serde_json::Value;

use super::util::{json, root};

fn analysis(case: &str) -> Value {
    json(&["analyze", "--json", &format!("fixtures/cases/{case}")])
}

fn cid(v: &Value) -> String {
    format!(
        "{:04x}.{:04x}",
        v["pid"].as_u64().unwrap(),
        v["tid"].as_u64().unwrap()
    )
}

fn chain_with_root<'a>(a: &'a Value, root: &str) -> &'a Value {
    a["chains"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| cid(&c["root"]) == root)
        .unwrap_or_else(|| panic!("no chain rooted at {root}: {}", a["chains"]))
}

fn members(c: &Value) -> BTreeSet<String> {
    c["members"].as_array().unwrap().iter().map(cid).collect()
}

/// Asserts that the chain waits on every resource id given.
fn assert_resources(c: &Value, want: &[&str]) {
    let res: BTreeSet<&str> = c["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    for r in want {
        assert!(res.contains(r), "{r} missing from {res:?}");
    }
}

/// "Stack trace collection, special process, LPC and critical section wait
/// chains, blocked thread, coupled machines...": userinit.exe -> DNSResolver ->
/// trkwks -> ipnathlp!gFwMain -> ntdll!FastPebLock, held by the schedsvc thread
/// blocked on \\SERVER_B for 13 h 34 min.
#[test]
fn fwlock_chain_ends_at_the_thread_stuck_on_server_b() {
    let a = analysis("fwlock-server-b");
    let c = chain_with_root(&a, "03a8.04a8");
    assert_eq!(c["deadlock"], false);
    assert_eq!(cid(&c["first_blocked"]), "03a8.04a8");
    let m = members(c);
    assert_eq!(m.len(), 30);
    for t in ["0fa4.0f48", "03c8.0644", "03a8.0a28", "03a8.09e8"] {
        assert!(m.contains(t), "{t} missing from {m:?}");
    }
    assert_resources(
        c,
        &[
            "lpc:0x0000acfd",
            "lpc:0x0000acfe",
            "cs:0x664a3fe0@03a8",
            "cs:0x7c980600@03a8",
        ],
    );
    let top = &a["findings"][0];
    assert_eq!(cid(top), "03a8.04a8");
    let s = top["summary"].as_str().unwrap();
    assert!(s.contains("ntdll!FastPebLock") && s.contains("Mup!"), "{s}");
    // The special process of the study: userinit.exe hours after logon.
    assert!(a["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["kind"] == "special-process"
            && f["summary"].as_str().unwrap().contains("userinit.exe")));
}

/// "Inconsistent dump, ... LPC, thread, process, executive resource wait chains,
/// missing threads and waiting thread time": the chain goes through an LPC
/// message, a mutant, a process object and an ERESOURCE; 86ba5638 (186c.1574)
/// has the largest Ticks, so it blocked first (DriverA).
#[test]
fn lpc_mutant_process_eresource_chain_and_earliest_thread() {
    let a = analysis("lpc-mutant-process-eresource");
    let c = chain_with_root(&a, "186c.1574");
    assert_eq!(c["deadlock"], false);
    assert_eq!(members(c).len(), 16);
    assert_eq!(cid(&c["first_blocked"]), "186c.1574");
    assert_resources(
        c,
        &[
            "lpc:0x007ade85",
            "mutant:0x85e9ba00",
            "process:0x86b33b30",
            "eresource:0x85610d30",
        ],
    );
    assert_eq!(cid(&a["first_blocked"]), "186c.1574");
    assert_eq!(cid(&a["findings"][0]), "186c.1574");
    // A LiveKd dump: waits without Ticks are flagged, not guessed, and so are
    // waits that start after the dump's tick count (866d63e8 and 85a6fdb0).
    let inconsistent = a["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "inconsistent-dump")
        .expect("an inconsistent-dump finding");
    let text = inconsistent["summary"].as_str().unwrap();
    assert!(text.contains("started waiting after the dump"), "{text}");
    assert!(
        text.contains("1524.3984") && text.contains("5c0c.26f4"),
        "{text}"
    );
}

/// "Stack trace collection, missing threads, waiting time, critical section and
/// LPC wait chains": ServiceB's lock owner waits for ServiceA, whose serving
/// threads are gone; ServiceA's exit thread has waited 3:05:32, ServiceB's
/// 3:05:19, so ServiceB blocked after ServiceA.
#[test]
fn serviceb_blocked_after_servicea() {
    let a = analysis("serviceb-after-servicea");
    let c = chain_with_root(&a, "09f4.1680");
    assert_eq!(c["deadlock"], false);
    assert_eq!(c["ends_at"]["server_image"], "ServiceA.exe");
    assert_eq!(cid(&c["first_blocked"]), "1454.1630");
    let wait = |t: &str| {
        a["threads"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| cid(x) == t)
            .unwrap()["wait_seconds"]
            .as_f64()
            .unwrap()
    };
    assert!(wait("1454.1630") > wait("09f4.1680"));
    // The first line is the chain (the seed's waiters wait on 0x0998ac80, the one of
    // the owner's three sections with LockCount 5), and it names ServiceA's exit,
    // the finding right after it.
    let top = &a["findings"][0];
    assert_eq!(top["kind"], "wait-chain");
    assert_eq!(cid(top), "09f4.1680");
    let s = top["summary"].as_str().unwrap();
    assert!(s.contains("owns critical section 0x0998ac80"), "{s}");
    assert!(s.contains("also owns critical section 0x0043e2a8"), "{s}");
    assert!(s.contains("blocks 5 threads"), "{s}");
    assert!(
        s.contains("ServiceA.exe is stuck in its own exit (finding 2)"),
        "{s}"
    );
    let exit = &a["findings"][1];
    assert_eq!(exit["kind"], "blocked-exit");
    assert!(exit["summary"].as_str().unwrap().contains("DllB!Cleanup"));
}

/// "ALPC wait chains, missing threads, waiting thread time and semantic process
/// coupling": queues at ServiceA (372 messages) and ServiceC (201) that no thread
/// serves, no deadlock; terminating ApplicationD.exe threads in ModuleE waited
/// longer than every blocked thread, and ModuleE was found responsible.
#[test]
fn alpc_queues_without_threads_and_module_e_first() {
    let a = analysis("alpc-missing-threads");
    let chains = a["chains"].as_array().unwrap();
    let queue = |pid: u64| {
        chains
            .iter()
            .find(|c| c["root_kind"] == "process-queue" && c["root"]["pid"] == pid)
            .unwrap_or_else(|| panic!("no queue chain for pid {pid:x}"))
    };
    let service_a = queue(0x6f0);
    assert_eq!(service_a["ends_at"]["server_image"], "ServiceA.exe");
    assert_eq!(service_a["direct_waiters"], 25);
    // ServiceC's thread that waits for ServiceA is part of ServiceA's chain.
    assert!(members(service_a).contains("0790.2614"));
    let service_c = queue(0x790);
    assert_eq!(service_c["direct_waiters"], 22);
    assert!(chains.iter().all(|c| c["deadlock"] == false));
    // The chains come first, the one blocking most threads on top (ServiceA's
    // queue: 25 direct waiters and ServiceB's thread behind ServiceC's, 26), then the
    // exits that stand behind them.
    let kinds: Vec<&str> = a["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds[..3], ["wait-chain", "wait-chain", "blocked-exit"]);
    let first = a["findings"][0]["summary"].as_str().unwrap();
    assert!(first.starts_with("ServiceA.exe (pid 06f0)"), "{first}");
    assert!(
        first.contains("25 threads wait on its queue directly, 26 in all"),
        "{first}"
    );
    assert_eq!(service_a["blocked_threads"], 26);
    assert_eq!(service_c["blocked_threads"], 22);
    let top = &a["findings"][2];
    let s = top["summary"].as_str().unwrap();
    assert!(
        s.contains("ApplicationD.exe") && s.contains("ModuleE"),
        "{s}"
    );
    assert!(s.contains("before every thread of the wait chains"), "{s}");
}

/// "Insufficient memory, handle leak, wait chain, deadlock, ...": in the seed
/// text itself, 0a0c.185c waits for an LPC reply from 0a0c.10b8, which waits for
/// the mutant 185c owns.
#[test]
fn seed_text_lpc_mutant_deadlock() {
    let seed = root().join("../shared/seeds/000_05380805e9a7f7a5.txt");
    if !seed.exists() {
        println!("skipping: ../shared/seeds not present");
        return;
    }
    let a = json(&["analyze", "--json", seed.to_str().unwrap()]);
    let dl = a["chains"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["deadlock"] == true)
        .expect("a deadlock");
    let m = members(dl);
    assert!(m.contains("0a0c.185c") && m.contains("0a0c.10b8"), "{m:?}");
    let findings = a["findings"].as_array().unwrap();
    let dl = findings
        .iter()
        .find(|f| f["kind"] == "deadlock")
        .expect("a deadlock finding");
    assert!(dl["summary"]
        .as_str()
        .unwrap()
        .starts_with("Deadlock: 2 threads wait on each other"));
    // "10 Common Mistakes (Part 8)": the thread with an IRP pending in DriverB.
    assert!(findings.iter().any(|f| f["kind"] == "pending-irp"
        && cid(f) == "09fc.1050"
        && f["summary"].as_str().unwrap().contains("\\Driver\\DriverB")));
}
