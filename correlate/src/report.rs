//! The analysis as users and machines see it: the `--json` document (schema
//! version 1, documented in docs/json.md) and the same data for the human report.

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Analysis {
    pub schema_version: u32,
    pub inputs: Vec<Input>,
    /// RFC 3339 UTC, from `Debug session time:`.
    pub dump_time: Option<String>,
    /// The `Debug session time:` text as written.
    pub dump_time_raw: Option<String>,
    pub tick: String,
    pub threads: Vec<ThreadOut>,
    pub chains: Vec<ChainOut>,
    pub findings: Vec<Finding>,
    /// The chain member that has waited longest of all: where the hang began.
    pub first_blocked: Option<FirstBlocked>,
    pub alignment: Alignment,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FirstBlocked {
    pub pid: u32,
    pub tid: u32,
    pub chain: usize,
    pub wait_seconds: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Input {
    pub path: String,
    /// `dump` or `trace`.
    pub kind: String,
    pub format: String,
    pub records: u64,
    pub skipped: u64,
    pub skip_reasons: std::collections::BTreeMap<String, u64>,
    /// The first skipped lines, `file:line: reason: text`.
    pub first_skips: Vec<String>,
    /// How times of this input were turned into UTC.
    pub time_note: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ThreadId {
    pub pid: u32,
    pub tid: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct ThreadOut {
    pub pid: u32,
    pub tid: u32,
    pub process: Option<String>,
    pub state: String,
    pub wait_reason: Option<String>,
    pub wait_seconds: Option<f64>,
    pub wait_start: Option<String>,
    pub waits_on: Vec<String>,
    pub owns: Vec<String>,
    pub stack: Vec<String>,
    /// `memory.log:1234`, where the THREAD block starts.
    pub source: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChainOut {
    pub id: usize,
    /// `thread`, or `process-queue` when the chain ends at a process whose queue
    /// no thread serves; `root` is then `{pid: that process, tid: 0}`.
    pub root_kind: String,
    pub root: ThreadId,
    pub members: Vec<ThreadId>,
    pub resources: Vec<String>,
    /// Threads blocked behind the root, directly or transitively.
    pub blocked_threads: usize,
    /// Threads waiting on a resource the root owns.
    pub direct_waiters: usize,
    pub deadlock: bool,
    /// For a deadlock, the threads of the cycle itself (the other members wait
    /// behind it); left out of the JSON for a chain that is no deadlock.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cycle: Vec<ThreadId>,
    pub processes: Vec<u32>,
    /// The member that has waited longest (compared by Ticks, as the seeds do),
    /// counting the waiting threads of the process the chain ends at.
    pub first_blocked: Option<ThreadId>,
    /// When the root waits on something no thread serves (an LPC/ALPC message
    /// queued at a process whose serving threads are missing).
    pub ends_at: Option<EndsAtOut>,
    /// Facts about the chain's timing a reader should weigh.
    pub notes: Vec<String>,
    /// Trace events of the root's process around the root's wait start.
    pub trace_context: Vec<EventOut>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EndsAtOut {
    pub resource: String,
    pub server_pid: Option<u32>,
    pub server_image: Option<String>,
    /// The chain ends at a critical section whose owner is gone (it exited
    /// inside the section): that owner's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_gone: Option<ThreadId>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EventOut {
    pub time: String,
    /// Seconds relative to the root's wait start (negative = before).
    pub relative_seconds: Option<f64>,
    pub pid: Option<u32>,
    pub tid: Option<u32>,
    pub message: String,
    pub source: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub rank: usize,
    pub kind: String,
    pub summary: String,
    pub pid: Option<u32>,
    pub tid: Option<u32>,
    pub chain: Option<usize>,
    /// 0..1: how sure the evidence makes us.
    pub confidence: f64,
    pub evidence: Vec<Evidence>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Evidence {
    /// `file:line`.
    pub source: String,
    pub line: Option<u64>,
    pub time: Option<String>,
    /// A trace row's time exactly as its file writes it (an ETL record's raw timestamp).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_raw: Option<String>,
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Alignment {
    /// Added to trace times to put them on the dump's clock.
    pub offset_seconds: f64,
    pub method: String,
    pub confidence: Option<f64>,
    /// Set when the offset came from context switches: how the switch-outs fit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub switch_outs: Option<SwitchOuts>,
}

/// The fit of the switch-out alignment.
#[derive(Debug, Clone, Serialize)]
pub struct SwitchOuts {
    /// Blocked threads whose last switch-out has the dump's wait reason.
    pub samples: usize,
    /// Those of them within a tick of the median difference.
    pub agree: usize,
    /// Range of (wait start − last switch-out) over the agreeing threads, ms.
    pub spread_ms: f64,
}

impl Alignment {
    pub(crate) fn none(why: &str) -> Self {
        Alignment {
            offset_seconds: 0.0,
            method: format!("none applied: {why}"),
            confidence: None,
            switch_outs: None,
        }
    }
}
