//! What the screens show: the inputs (kept for re-correlation), the current
//! [`Analysis`], the merged trace [`Events`], and the tables derived once per
//! analysis (thread lookup, how many threads each one blocks, the chain trees,
//! where the blocked threads' waits began on the histogram).

use std::collections::HashMap;

use dumptrace_correlate::{Analysis, Input, Options, ThreadOut, TraceSource};
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
        for (ci, c) in a.chains.iter().enumerate() {
            j.chain_tree(a, ci);
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

    fn chain_tree(&mut self, a: &Analysis, ci: usize) {
        let c = &a.chains[ci];
        // Resource -> waiting members, longest wait first (the first blocked on top).
        let mut waiters: HashMap<&str, Vec<usize>> = HashMap::new();
        for m in &c.members {
            if let Some(i) = self.thread(m.pid, m.tid) {
                for r in &a.threads[i].waits_on {
                    waiters.entry(r).or_default().push(i);
                }
            }
        }
        for v in waiters.values_mut() {
            v.sort_by(|&x, &y| {
                let w = |i: usize| a.threads[i].wait_seconds.unwrap_or(0.0);
                w(y).total_cmp(&w(x)).then(x.cmp(&y))
            });
            v.dedup();
        }
        self.tree.push(TreeRow {
            chain: ci,
            prefix: String::new(),
            node: Node::Chain(ci),
        });
        let mut shown = vec![false; a.threads.len()];
        match self.thread(c.root.pid, c.root.tid) {
            Some(root) => {
                let owned: Vec<&str> = a.threads[root].owns.iter().map(String::as_str).collect();
                self.walk(a, ci, root, &owned, "", "", &waiters, &mut shown);
            }
            None => {
                self.tree.push(TreeRow {
                    chain: ci,
                    prefix: String::new(),
                    node: Node::Missing {
                        pid: c.root.pid,
                        tid: c.root.tid,
                    },
                });
                // Every resource of the chain no member owns hangs from the
                // queue (seed: each blocked thread waits on its own ALPC message).
                let held: std::collections::HashSet<&str> = c
                    .members
                    .iter()
                    .filter_map(|m| self.thread(m.pid, m.tid))
                    .flat_map(|i| a.threads[i].owns.iter().map(String::as_str))
                    .collect();
                let owned: Vec<&str> = c
                    .resources
                    .iter()
                    .map(String::as_str)
                    .filter(|r| !held.contains(r))
                    .collect();
                self.resources(a, ci, &owned, "", &waiters, &mut shown);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn walk(
        &mut self,
        a: &Analysis,
        ci: usize,
        t: usize,
        owned: &[&str],
        lead: &str,
        branch: &str,
        waiters: &HashMap<&str, Vec<usize>>,
        shown: &mut [bool],
    ) {
        let cycle = shown[t];
        self.tree.push(TreeRow {
            chain: ci,
            prefix: format!("{lead}{branch}"),
            node: Node::Thread { thread: t, cycle },
        });
        if cycle {
            return;
        }
        shown[t] = true;
        let child_lead = match branch {
            "├─ " => format!("{lead}│  "),
            "└─ " => format!("{lead}   "),
            _ => lead.to_string(),
        };
        self.resources(a, ci, owned, &child_lead, waiters, shown);
    }

    fn resources(
        &mut self,
        a: &Analysis,
        ci: usize,
        owned: &[&str],
        lead: &str,
        waiters: &HashMap<&str, Vec<usize>>,
        shown: &mut [bool],
    ) {
        let held: Vec<(&str, &Vec<usize>)> = owned
            .iter()
            .filter_map(|r| Some((*r, waiters.get(r)?)))
            .collect();
        for (k, (r, ws)) in held.iter().enumerate() {
            let last = k + 1 == held.len();
            self.tree.push(TreeRow {
                chain: ci,
                prefix: format!("{lead}{}", if last { "└─ " } else { "├─ " }),
                node: Node::Resource {
                    name: r.to_string(),
                    waiters: ws.len(),
                },
            });
            let inner = format!("{lead}{}", if last { "   " } else { "│  " });
            for (n, &w) in ws.iter().enumerate() {
                let branch = if n + 1 == ws.len() {
                    "└─ "
                } else {
                    "├─ "
                };
                let owns: Vec<&str> = a.threads[w].owns.iter().map(String::as_str).collect();
                self.walk(a, ci, w, &owns, &inner, branch, waiters, shown);
            }
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
