//! What the screens show: the inputs (kept for re-correlation), the current
//! [`Analysis`], the merged trace [`Events`], and the tables derived once per
//! analysis (thread lookup, how many threads each one blocks, the chain trees,
//! where the blocked threads' waits began on the histogram).

use std::collections::HashMap;

use dumptrace_correlate::{Analysis, Input, Options, ThreadOut, TraceSource, TreeNode};
use dumptrace_dump::DumpSnapshot;

use crate::events::{Events, BINS};

/// Everything read from the inputs, as the `dumptrace` binary loaded it.
pub struct Inputs {
    pub snapshot: DumpSnapshot,
    pub traces: Vec<TraceSource>,
    /// Clock options from the command line; the `o` key overrides the offset.
    pub options: Options,
    /// What each input gave (records, skips), shown in the overview.
    pub inputs: Vec<Input>,
    /// Notes the loader adds to the analysis (no dump input, ...).
    pub notes: Vec<String>,
}

impl Inputs {
    /// Runs correlation with `offset_seconds` (None: as the command line said).
    pub(crate) fn correlate(&self, offset_seconds: Option<f64>) -> Analysis {
        let mut opts = self.options.clone();
        if offset_seconds.is_some() {
            opts.offset_seconds = offset_seconds;
        }
        let mut a = dumptrace_correlate::analyze(&self.snapshot, &self.traces, &opts);
        a.inputs = self.inputs.clone();
        a.notes.extend(self.notes.iter().cloned());
        a
    }
}

/// One line of the wait-chain trees.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    /// A chain's title line.
    Chain(usize),
    /// A thread (index into `analysis.threads`); `cycle` when it was shown
    /// above already: the wait goes round (a deadlock).
    Thread { thread: usize, cycle: bool },
    /// A resource between an owner and its waiters, with how many wait on it.
    Resource { name: String, waiters: usize },
    /// A chain member the snapshot does not list as a thread (a process queue root).
    Missing { pid: u32, tid: u32 },
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TreeRow {
    pub chain: usize,
    /// Branch drawing: `│  ├─ `.
    pub prefix: String,
    pub node: Node,
}

/// Tables derived from one analysis.
pub(crate) struct Joined {
    by_id: HashMap<(u32, u32), usize>,
    /// Per thread: threads blocked behind it, directly or through others.
    pub blocks: Vec<usize>,
    pub tree: Vec<TreeRow>,
    /// Threads that are some chain's first blocked (index into `analysis.threads`).
    pub first_blocked: std::collections::HashSet<usize>,
    /// Per histogram bin: a blocked thread's wait began there (trace clock).
    pub wait_bins: Vec<bool>,
}

impl Joined {
    pub(crate) fn new(a: &Analysis, events: &Events, offset_ns: i64) -> Self {
        let by_id = a
            .threads
            .iter()
            .enumerate()
            .map(|(i, t)| ((t.pid, t.tid), i))
            .collect();
        let mut j = Joined {
            by_id,
            blocks: Vec::new(),
            tree: Vec::new(),
            first_blocked: Default::default(),
            wait_bins: vec![false; BINS],
        };
        j.blocks = blocked_behind(&a.threads);
        let trees = dumptrace_correlate::chain_trees(a);
        for ((ci, c), tree) in a.chains.iter().enumerate().zip(trees) {
            j.chain_tree(ci, tree);
            if let Some(t) = c.first_blocked.and_then(|f| j.thread(f.pid, f.tid)) {
                j.first_blocked.insert(t);
            }
            for m in &c.members {
                let start = j
                    .thread(m.pid, m.tid)
                    .and_then(|i| a.threads[i].wait_start.as_deref())
                    .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
                    .and_then(|t| t.timestamp_nanos_opt());
                if let Some(b) = start.and_then(|t| events.bin_of(t - offset_ns)) {
                    j.wait_bins[b] = true;
                }
            }
        }
        j
    }

    pub(crate) fn thread(&self, pid: u32, tid: u32) -> Option<usize> {
        self.by_id.get(&(pid, tid)).copied()
    }

    /// The chain's title row, then its tree as `analyze` prints it.
    fn chain_tree(&mut self, ci: usize, tree: Vec<dumptrace_correlate::TreeRow>) {
        self.tree.push(TreeRow {
            chain: ci,
            prefix: String::new(),
            node: Node::Chain(ci),
        });
        for r in tree {
            let node = match r.node {
                TreeNode::Thread { thread, cycle } => Node::Thread { thread, cycle },
                TreeNode::Resource { name, waiters } => Node::Resource { name, waiters },
                TreeNode::Missing { pid, tid } => Node::Missing { pid, tid },
            };
            self.tree.push(TreeRow {
                chain: ci,
                prefix: r.prefix,
                node,
            });
        }
    }
}

/// For each thread, how many threads wait behind it, following owner ->
/// resource -> waiter edges transitively (each thread counted once).
fn blocked_behind(threads: &[ThreadOut]) -> Vec<usize> {
    let mut waiting: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, t) in threads.iter().enumerate() {
        for r in &t.waits_on {
            waiting.entry(r).or_default().push(i);
        }
    }
    let mut seen = vec![usize::MAX; threads.len()];
    threads
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let mut count = 0;
            let mut stack: Vec<usize> = Vec::new();
            let push_waiters = |t: &ThreadOut, stack: &mut Vec<usize>| {
                for r in &t.owns {
                    stack.extend(waiting.get(r.as_str()).into_iter().flatten());
                }
            };
            seen[i] = i;
            push_waiters(t, &mut stack);
            while let Some(w) = stack.pop() {
                if seen[w] == i {
                    continue;
                }
                seen[w] = i;
                count += 1;
                push_waiters(&threads[w], &mut stack);
            }
            count
        })
        .collect()
}
