//! What to run when the output lacks an owner. A chain stops where the log stops
//! saying who holds a lock; instead of stopping silently, the notes name the
//! threads left hanging and the debugger command whose output would continue the
//! chain (`!cs -l -o -s` and `!locks` for critical sections, `!locks` for
//! ERESOURCEs, `!thread ADDR` for an owner the log has no block for, `kv` where a
//! stack prints no arguments).

use std::collections::BTreeSet;

use dumptrace_dump::{DumpSnapshot, Thread};

use crate::graph::WaitGraph;

/// The advice appended to the note on critical sections waited on without a known owner.
pub(crate) const NAME_CS_OWNER: &str =
    "run `!cs -l -o -s` or `!locks` (kernel: after `.process /r /p` of the process) to name the owner";

/// Notes for the waits whose owner the output does not give; `unresolved_cs` are the
/// threads in a critical-section wait whose section their stacks do not name.
pub(crate) fn missing_owners(
    s: &DumpSnapshot,
    w: &WaitGraph,
    unresolved_cs: &[usize],
) -> Vec<String> {
    let mut notes = Vec::new();
    let listed: BTreeSet<u32> = s.critical_sections.iter().filter_map(|c| c.pid).collect();
    let (unlisted, ambiguous): (Vec<&Thread>, Vec<&Thread>) = unresolved_cs
        .iter()
        .map(|&i| &s.threads[i])
        .partition(|t| !listed.contains(&t.pid));
    if !unlisted.is_empty() {
        notes.push(format!(
            "{} thread(s) wait to enter a critical section (RtlEnterCriticalSection / RtlpWaitOnCriticalSection on the stack) but no `!cs` or `!locks` output lists the sections of their process, so the owner is unknown: {}; run `!cs -l -o -s` or `!locks` to name the sections and their owners",
            unlisted.len(),
            cids(&unlisted)
        ));
    }
    if !ambiguous.is_empty() {
        notes.push(format!(
            "{} thread(s) wait to enter a critical section but their stacks do not say which of their process's contended sections (no arguments printed, or x64 home slots that hold none of them): {}; run `~~[TID] kv` for each (the section is RtlEnterCriticalSection's first argument on x86, RtlpWaitOnAddress's on x64) or `!cs -l -o -s` with `OwningThread Stack`",
            ambiguous.len(),
            cids(&ambiguous)
        ));
    }
    // Kernel: a WrResource wait that no `!locks` entry ties to a lock.
    let resource_waits: Vec<&Thread> = s
        .threads
        .iter()
        .enumerate()
        .filter(|(_, t)| t.state.wait_reason() == Some("WrResource"))
        .filter(|&(i, _)| !w.waits_on(i).iter().any(|r| r.starts_with("eresource:")))
        .map(|(_, t)| t)
        .collect();
    if !resource_waits.is_empty() {
        notes.push(format!(
            "{} thread(s) wait for an ERESOURCE (WrResource) that no `!locks` entry names: {}; run `!locks` (or `!locks -v`, `!mex.eresource ADDR`) to see the lock's owner",
            resource_waits.len(),
            cids(&resource_waits)
        ));
    }
    // Owners named by address (a KMUTANT's owning thread, an ERESOURCE's `<*>` entry)
    // that the log has no thread for, while a thread read waits on their lock.
    let known: BTreeSet<u64> = s
        .threads
        .iter()
        .map(|t| t.address)
        .filter(|&a| a != 0)
        .collect();
    let mut absent: BTreeSet<u64> = BTreeSet::new();
    for t in &s.threads {
        for o in &t.wait_objects {
            if let Some(owner) = o.owner_thread.filter(|a| !known.contains(a)) {
                if o.kind.starts_with("Mutant") {
                    absent.insert(owner);
                }
            }
        }
    }
    for r in &s.resources {
        let waited = r
            .exclusive_waiters
            .iter()
            .chain(&r.shared_waiters)
            .any(|a| known.contains(a));
        if waited {
            absent.extend(r.owners.iter().filter(|a| !known.contains(a)));
        }
    }
    if !absent.is_empty() {
        let list: Vec<String> = absent.iter().map(|a| format!("{a:x}")).collect();
        notes.push(format!(
            "{} lock owner(s) that threads read wait for have no THREAD block in the output, so the chain stops at them: {}; run `!thread ADDR` on each to see what it waits for",
            absent.len(),
            list.join(", ")
        ));
    }
    notes
}

fn cids(threads: &[&Thread]) -> String {
    threads
        .iter()
        .map(|t| t.cid())
        .collect::<Vec<_>>()
        .join(", ")
}
