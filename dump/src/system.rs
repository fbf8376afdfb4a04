//! What a debugger log says about the system as a whole rather than one thread:
//! processors (`!running`), memory and pools (`!vm`, `!poolused`), IRPs
//! (`!irpfind`), handle tables (`!handle`) and the bugcheck (`!analyze -v`).
//!
//! These hang off [`crate::DumpSnapshot`]: `processors`, `memory`, `pool_tags`,
//! `irpfind`, `handle_tables` and `bugchecks`. Numbers are kept as printed
//! (pages and KB as the debugger counted them); where WinDbg's own output is
//! inconsistent (negative pool counts, a processor whose current thread says it
//! runs elsewhere) the snapshot's notes say so.

use serde::Serialize;

use crate::model::{DumpSnapshot, Frame, ThreadState};

/// One processor of `!running`:
/// `  1  f772f120  f77320a0  852fadb0  ................`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Processor {
    pub number: u32,
    /// KPRCB address.
    pub prcb: u64,
    /// ETHREAD of the thread running on it.
    pub current: u64,
    /// ETHREAD of the thread chosen to run next, if any.
    pub next: Option<u64>,
    /// `!running -t`: the processor's stack.
    pub stack: Vec<Frame>,
    pub line: u64,
}

/// One `!vm` report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VirtualMemory {
    /// `Name: pages ( KB Kb)` lines in order: `Physical Memory`, `Available Pages`,
    /// `NonPagedPool Usage`, `NonPagedPool Max`, `PagedPool Usage`, `Commit limit`...
    pub counters: Vec<VmCounter>,
    pub page_files: Vec<PageFile>,
    /// The starred lines, stars removed: `Excessive NonPaged Pool Usage`,
    /// `184 pool allocations have failed`.
    pub warnings: Vec<String>,
    /// `N pool allocations have failed`.
    pub failed_allocations: Option<u64>,
    /// `!vm 4`: per-session pool usage.
    pub sessions: Vec<SessionPool>,
    /// The per-process commit list at the end of `!vm`: `57f4 rundll32.exe 586 ( 2344 Kb)`.
    pub processes: Vec<ProcessCommit>,
    pub line: u64,
}

impl VirtualMemory {
    /// The counter printed as `name:` (`NonPagedPool Usage`).
    pub fn counter(&self, name: &str) -> Option<&VmCounter> {
        self.counters.iter().find(|c| c.name == name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VmCounter {
    pub name: String,
    /// Pages (4 KiB), as printed; absent for lines that give only KB.
    pub pages: Option<u64>,
    pub kb: Option<u64>,
}

/// `Page File: \??\C:\pagefile.sys` with its `Current:`/`Free Space:`/`Minimum:`/`Maximum:` KB.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PageFile {
    /// The file name, or what WinDbg printed instead (`Paging File Name paged out`).
    pub name: String,
    pub current_kb: Option<u64>,
    pub free_kb: Option<u64>,
    pub minimum_kb: Option<u64>,
    pub maximum_kb: Option<u64>,
}

/// `Session ID 1 @ af925000:` with its paged pool and commit usage.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SessionPool {
    pub id: u32,
    pub address: Option<u64>,
    pub paged_pool_kb: Option<u64>,
    pub commit_kb: Option<u64>,
    /// `*** 371034 Pool Allocation Failures ***`.
    pub allocation_failures: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProcessCommit {
    pub pid: u32,
    pub image: String,
    pub pages: u64,
    pub kb: Option<u64>,
}

/// One `!poolused` row. Columns follow the header the command printed:
/// `Tag Allocs Used Allocs Used` under `NonPaged Paged`, or
/// `Tag Allocs Frees Diff Used` under one pool type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PoolTag {
    pub tag: String,
    pub nonpaged: Option<PoolCounts>,
    pub paged: Option<PoolCounts>,
    /// The rest of the row: `Thread objects , Binary: nt!ps`.
    pub description: String,
    pub line: u64,
}

/// Counts are signed: inconsistent pool tracking prints `-1` allocations and
/// `4294967240` bytes (seed: "Insufficient memory, handle leak, wait chain,
/// deadlock, inconsistent dump and overaged system").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PoolCounts {
    pub allocs: Option<i64>,
    pub frees: Option<i64>,
    pub diff: Option<i64>,
    pub used: Option<i64>,
}

/// One `!irpfind` row:
/// `8a3d3008 [8b56cb10] irpStack: ( 4,34) 8b1b8030 [ \Driver\Disk] 0x00000000`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IrpRow {
    pub address: u64,
    /// `[00000000]` is kept as `None`.
    pub thread: Option<u64>,
    pub major: Option<u8>,
    pub minor: Option<u8>,
    pub device: Option<u64>,
    /// `\Driver\Disk`.
    pub driver: Option<String>,
    /// MDL and process columns, as printed.
    pub rest: String,
    pub line: u64,
}

/// `!handle`: one handle table (`Handle table at e50ed000 with 8717 Entries in use`)
/// or, in user mode, the summary (`6 Handles` / `Type Count`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HandleTable {
    /// EPROCESS of a kernel handle table (the PROCESS block printed before it).
    pub process_address: Option<u64>,
    /// Filled when the snapshot is finished (or from the user-mode process).
    pub pid: Option<u32>,
    /// `Kernel Handle table at ...`: the System process's kernel handles.
    pub kernel: bool,
    pub table: Option<u64>,
    /// Entries in use (kernel) or the `N Handles` total (user mode).
    pub entries: Option<u64>,
    /// User-mode summary: handles per type.
    pub by_type: Vec<(String, u64)>,
    pub line: u64,
    /// `file:line` of the table's first line (`N Handles`, `Handle table at`).
    pub source: String,
}

/// A bugcheck (or, for user-mode hangs, just the analysis) from `!analyze -v`,
/// or the `BugCheck E2, {0, 0, 0, 0}` line the debugger prints when it opens a dump.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Bugcheck {
    /// `MANUALLY_INITIATED_CRASH`.
    pub name: Option<String>,
    pub code: Option<u32>,
    pub args: Vec<u64>,
    /// `PROCESS_NAME:`.
    pub process_name: Option<String>,
    /// `IMAGE_NAME:`, or the banner's `Probably caused by : LiveKdD.SYS ( LiveKdD+12d1 )`.
    pub image_name: Option<String>,
    pub failure_bucket: Option<String>,
    /// `STACK_TEXT:`.
    pub stack: Vec<Frame>,
    pub line: u64,
}

/// What a reader should know about the system facts, as snapshot notes:
/// `!vm` warnings, inconsistent pool counts, and processors whose current
/// thread disagrees with the threads' own state.
pub(crate) fn notes(s: &DumpSnapshot) -> Vec<String> {
    let mut notes = Vec::new();
    for vm in &s.memory {
        if !vm.warnings.is_empty() {
            notes.push(format!("!vm warns: {}", vm.warnings.join("; ")));
        }
        for p in &vm.sessions {
            if let Some(f) = p.allocation_failures {
                notes.push(format!(
                    "!vm: session {} has {f} pool allocation failures (session paged pool {} KB)",
                    p.id,
                    p.paged_pool_kb.map_or("?".into(), |k| k.to_string())
                ));
            }
        }
    }
    // Allocations below zero cannot happen: the pool tracking tables are
    // inconsistent (seed: `LSmi 0 0 -1 4294967240`, "the output is inconsistent").
    let negative: Vec<&str> = s
        .pool_tags
        .iter()
        .filter(|t| {
            [t.nonpaged, t.paged]
                .iter()
                .flatten()
                .any(|c| c.allocs.is_some_and(|a| a < 0) || c.diff.is_some_and(|d| d < 0))
        })
        .map(|t| t.tag.as_str())
        .collect();
    if !negative.is_empty() {
        notes.push(format!(
            "!poolused shows negative allocation counts for {} tag(s) ({}): the pool tracking is inconsistent, their byte counts are not usable",
            negative.len(),
            negative.iter().take(12).copied().collect::<Vec<_>>().join(", ")
        ));
    }
    // A thread that says `RUNNING on processor N` while `!running` has another
    // current thread on N: the dump was read while the system ran (seed: LiveKd,
    // 8b56cb10 "RUNNING on processor 0" against !running's 8089d8c0).
    for p in &s.processors {
        for t in &s.threads {
            let ThreadState::Running {
                processor: Some(cpu),
            } = t.state
            else {
                continue;
            };
            if cpu == p.number && t.address != p.current && t.address != 0 {
                notes.push(format!(
                    "thread {:x} ({}) says RUNNING on processor {cpu}, but !running shows {:x} current there: the dump is inconsistent",
                    t.address,
                    t.cid(),
                    p.current
                ));
            }
        }
    }
    notes
}
