//! A wait chain drawn as a tree: the root on top, under each thread the resources it
//! owns that others wait on, under each resource its waiters (longest wait first),
//! and so on down; a thread met again is marked as a cycle (a deadlock) and not
//! expanded twice. `analyze` prints it and the TUI browses it, from this one builder.

use std::collections::{HashMap, HashSet};

use crate::report::Analysis;

/// What a row of the tree shows.
#[derive(Debug, Clone, PartialEq)]
pub enum TreeNode {
    /// A thread (index into `Analysis::threads`); `cycle` when it was shown above
    /// already: the wait goes round.
    Thread { thread: usize, cycle: bool },
    /// A resource between an owner and its waiters, with how many wait on it.
    Resource { name: String, waiters: usize },
    /// A chain root the snapshot does not list as a thread (a process queue).
    Missing { pid: u32, tid: u32 },
}

/// One row: its branch drawing (`│  ├─ `) and what it shows.
#[derive(Debug, Clone, PartialEq)]
pub struct TreeRow {
    pub prefix: String,
    pub node: TreeNode,
}

struct Builder<'a> {
    a: &'a Analysis,
    by_id: &'a HashMap<(u32, u32), usize>,
    waiters: HashMap<&'a str, Vec<usize>>,
    shown: Vec<bool>,
    rows: Vec<TreeRow>,
}

/// The tree of every chain of `a`, in chain order; the thread index is built once
/// for all of them.
pub fn chain_trees(a: &Analysis) -> Vec<Vec<TreeRow>> {
    let by_id: HashMap<(u32, u32), usize> = a
        .threads
        .iter()
        .enumerate()
        .map(|(i, t)| ((t.pid, t.tid), i))
        .collect();
    (0..a.chains.len())
        .map(|ci| chain_tree(a, &by_id, ci))
        .collect()
}

fn chain_tree(a: &Analysis, by_id: &HashMap<(u32, u32), usize>, ci: usize) -> Vec<TreeRow> {
    let Some(c) = a.chains.get(ci) else {
        return Vec::new();
    };
    // Resource -> waiting members, longest wait first (the first blocked on top).
    let mut waiters: HashMap<&str, Vec<usize>> = HashMap::new();
    for m in &c.members {
        if let Some(&i) = by_id.get(&(m.pid, m.tid)) {
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
    let mut b = Builder {
        a,
        by_id,
        waiters,
        shown: vec![false; a.threads.len()],
        rows: Vec::new(),
    };
    match b.by_id.get(&(c.root.pid, c.root.tid)).copied() {
        Some(root) => b.walk(root, "", ""),
        None => {
            b.rows.push(TreeRow {
                prefix: String::new(),
                node: TreeNode::Missing {
                    pid: c.root.pid,
                    tid: c.root.tid,
                },
            });
            // Every resource of the chain no member owns hangs from the queue
            // (seed: each blocked thread waits on its own ALPC message).
            let held: HashSet<&str> = c
                .members
                .iter()
                .filter_map(|m| b.by_id.get(&(m.pid, m.tid)))
                .flat_map(|&i| a.threads[i].owns.iter().map(String::as_str))
                .collect();
            let owned: Vec<&str> = c
                .resources
                .iter()
                .map(String::as_str)
                .filter(|r| !held.contains(r))
                .collect();
            b.resources(&owned, "");
        }
    }
    b.rows
}

impl<'a> Builder<'a> {
    fn walk(&mut self, t: usize, lead: &str, branch: &str) {
        let cycle = self.shown[t];
        self.rows.push(TreeRow {
            prefix: format!("{lead}{branch}"),
            node: TreeNode::Thread { thread: t, cycle },
        });
        if cycle {
            return;
        }
        self.shown[t] = true;
        let child_lead = match branch {
            "├─ " => format!("{lead}│  "),
            "└─ " => format!("{lead}   "),
            _ => lead.to_string(),
        };
        let a = self.a;
        let owned: Vec<&str> = a.threads[t].owns.iter().map(String::as_str).collect();
        self.resources(&owned, &child_lead);
    }

    fn resources(&mut self, owned: &[&str], lead: &str) {
        let held: Vec<(String, Vec<usize>)> = owned
            .iter()
            .filter_map(|r| Some((r.to_string(), self.waiters.get(r)?.clone())))
            .collect();
        for (k, (r, ws)) in held.iter().enumerate() {
            let last = k + 1 == held.len();
            self.rows.push(TreeRow {
                prefix: format!("{lead}{}", if last { "└─ " } else { "├─ " }),
                node: TreeNode::Resource {
                    name: r.clone(),
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
                self.walk(w, &inner, branch);
            }
        }
    }
}
