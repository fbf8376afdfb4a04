//! The wait graph: threads and the resources they wait on or hold.
//!
//! Nodes are threads and resources; an edge goes from a thread to the resource
//! it waits on, and from a resource to the thread that owns or serves it. A
//! chain is everything that can reach a root thread, which waits on nothing we
//! can resolve; a deadlock is a strongly connected component of threads.

use std::collections::{BTreeSet, HashMap};

use dumptrace_dump::{DumpSnapshot, Thread, ThreadOrigin, ThreadState};
use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use petgraph::Direction;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Node {
    /// Index into `DumpSnapshot::threads`.
    Thread(usize),
    /// A resource id such as `cs:0x0032be30@0adc` (see [`crate::ids`]).
    Resource(String),
}

/// How a thread was tied to a resource, for the evidence lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Edge {
    WaitsOn(&'static str),
    OwnedBy(&'static str),
}

pub(crate) struct WaitGraph {
    pub g: DiGraph<Node, Edge>,
    threads: Vec<NodeIndex>,
    resources: HashMap<String, NodeIndex>,
    /// For LPC/ALPC resources: the process that should serve them (EPROCESS
    /// address), known even when no thread of it is serving (missing threads).
    servers: HashMap<String, u64>,
    /// For IRP resources: the driver the IRP is pending in.
    drivers: HashMap<String, String>,
    /// Critical sections whose `!cs`/`!locks` owner is not among the threads of
    /// a process whose whole thread list was read: the owner exited inside the
    /// section (an orphaned section). Resource id -> the owner's tid.
    orphans: HashMap<String, u32>,
}

/// Where a chain stops when its root waits on something no thread serves.
#[derive(Debug, Clone)]
pub(crate) struct EndsAt {
    pub resource: String,
    /// The process that should serve it, as a pid, when known.
    pub server_pid: Option<u32>,
    pub server_image: Option<String>,
    /// An orphaned critical section: the tid of its owner, which is gone.
    pub owner_gone: Option<u32>,
}

/// One wait chain: a root and every thread blocked behind it.
#[derive(Debug, Clone)]
pub(crate) struct ChainData {
    pub root: usize,
    pub members: Vec<usize>,
    pub resources: Vec<String>,
    pub deadlock: bool,
    /// Threads waiting on a resource the root owns.
    pub direct: usize,
    pub processes: BTreeSet<u32>,
    pub ends_at: Option<EndsAt>,
    /// For a deadlock, the threads of the cycle itself (the others wait behind it).
    pub cycle: Vec<usize>,
    /// The chain ends at a process queue no thread serves, waited on directly by
    /// several threads; `root` is then the one of them that has waited longest.
    pub queue_root: bool,
}

impl ChainData {
    /// Threads blocked in this chain, the one count every report uses: the threads
    /// behind the root (a deadlock's root is one of the cycle, not counted again); for a
    /// queue no thread serves, every thread waiting on it, directly or behind one that
    /// does (the root is then the longest direct waiter, blocked like the others); for
    /// a section whose owner exited, every waiter.
    pub(crate) fn blocked(&self) -> usize {
        // A section whose owner exited: no member owns it, every member waits.
        let orphan = self
            .ends_at
            .as_ref()
            .is_some_and(|e| e.owner_gone.is_some());
        if self.queue_root || orphan {
            self.members.len()
        } else {
            self.members.len().saturating_sub(1)
        }
    }
}

/// Functions whose first argument is the critical section being entered
/// (seed: `ntdll!RtlEnterCriticalSection+0x46` with `664a3fe0` = ipnathlp!gFwMain).
const CS_ENTER: &[&str] = &[
    "ntdll!RtlEnterCriticalSection",
    "ntdll!RtlpEnterCriticalSectionContended",
];
const CS_WAIT: &[&str] = &[
    "ntdll!RtlpWaitForCriticalSection",
    "ntdll!RtlpWaitOnCriticalSection",
];

/// Windows 8 and later: a contended section's waiter sleeps in
/// `RtlpWaitOnAddress` (under `RtlpWaitOnCriticalSection` or
/// `RtlpEnterCriticalSectionContended`), whose first argument is the address
/// waited on: the section, or its `LockCount` field (`_RTL_CRITICAL_SECTION`
/// public symbols: `+0x000 DebugInfo`, then `LockCount` at `+0x004` on x86 and
/// `+0x008` on x64). Its argument is read only on a stack with a critical
/// section frame, where that wait is the section's.
const CS_ADDRESS_WAIT: &[&str] = &[
    "ntdll!RtlpWaitOnAddress",
    "ntdll!RtlpWaitOnAddressWithTimeout",
];

/// Offsets of `LockCount` in `_RTL_CRITICAL_SECTION` (x86, x64).
const LOCK_COUNT_OFFSETS: [u64; 2] = [4, 8];

pub(crate) fn cs_id(address: u64, pid: u32) -> String {
    crate::ids::critical_section(address, Some(pid))
}

impl WaitGraph {
    pub(crate) fn build(s: &DumpSnapshot) -> (WaitGraph, Vec<String>) {
        let mut notes = Vec::new();
        let mut w = WaitGraph {
            g: DiGraph::new(),
            threads: Vec::with_capacity(s.threads.len()),
            resources: HashMap::new(),
            servers: HashMap::new(),
            drivers: HashMap::new(),
            orphans: HashMap::new(),
        };
        for i in 0..s.threads.len() {
            w.threads.push(w.g.add_node(Node::Thread(i)));
        }
        let by_address: HashMap<u64, usize> = s
            .threads
            .iter()
            .enumerate()
            .map(|(i, t)| (t.address, i))
            .collect();
        let by_cid: HashMap<(u32, u32), usize> = s
            .threads
            .iter()
            .enumerate()
            .map(|(i, t)| ((t.pid, t.tid), i))
            .collect();

        // Indexes, so that building stays linear in threads + locks.
        let mut cs_by_pid: HashMap<u32, BTreeSet<u64>> = HashMap::new();
        let mut contended_by_pid: HashMap<u32, Vec<u64>> = HashMap::new();
        for c in &s.critical_sections {
            if let Some(pid) = c.pid {
                cs_by_pid.entry(pid).or_default().insert(c.address);
                if c.locked && c.waiters() > 0 {
                    contended_by_pid.entry(pid).or_default().push(c.address);
                }
            }
        }
        let mut threads_by_pid: HashMap<u32, Vec<usize>> = HashMap::new();
        for (i, t) in s.threads.iter().enumerate() {
            threads_by_pid.entry(t.pid).or_default().push(i);
        }
        let process_pid: HashMap<u64, u32> =
            s.processes.iter().map(|p| (p.address, p.pid)).collect();
        let irps_pending: HashMap<u64, String> = s
            .irps
            .iter()
            .filter(|i| i.pending)
            .filter_map(|i| Some((i.address, i.driver.clone()?)))
            .collect();
        let empty = BTreeSet::new();
        // Mutants whose owner a handle listing names (`!handle X f`: `Mutant
        // Owner pid.tid`; a minidump's HandleData), by process and handle value.
        let mutant_owner: HashMap<(u32, u64), (u32, u32)> = s
            .handles
            .iter()
            .filter_map(|h| {
                let m = h.mutant.as_ref()?;
                Some(((h.pid?, h.handle), (m.owner_pid?, m.owner_tid?)))
            })
            .collect();

        // A contended critical section's waiters sleep on its LockSemaphore, an
        // event (a semaphore before Vista) whose handle `!cs` prints. That event
        // has no owner of its own, but the section's owner is the one who will set
        // it: a thread waiting on it waits on the section. Kernel logs give the
        // waiter's wait object by address, which `!handle` ties to the handle
        // value; user-mode waits pass the handle itself (WinDbg help for `!cs`,
        // `LockSemaphore`; "Windows Internals", critical sections).
        let mut lock_handles: HashMap<(u32, u64), u64> = HashMap::new();
        for cs in &s.critical_sections {
            if let (Some(pid), Some(h), true) = (cs.pid, cs.lock_semaphore, cs.locked) {
                if h != 0 {
                    lock_handles.insert((pid, h), cs.address);
                }
            }
        }
        let lock_pids: BTreeSet<u32> = lock_handles.keys().map(|&(pid, _)| pid).collect();
        let lock_objects: HashMap<(u32, u64), u64> = s
            .handles
            .iter()
            .filter_map(|h| {
                let cs = lock_handles.get(&(h.pid?, h.handle))?;
                Some(((h.pid?, h.object?), *cs))
            })
            .collect();

        // Processes whose every thread the snapshot holds: a user-mode `~` list
        // and a minidump's ThreadList name all of the process's threads.
        let whole_list: BTreeSet<u32> = s
            .threads
            .iter()
            .filter(|t| matches!(t.origin, ThreadOrigin::UserList | ThreadOrigin::Minidump))
            .map(|t| t.pid)
            .collect();
        // Critical sections: owner edges from `!cs`.
        for cs in &s.critical_sections {
            let Some(pid) = cs.pid else { continue };
            if !cs.locked {
                continue;
            }
            let owner = cs
                .owning_thread
                .and_then(|a| by_address.get(&a))
                .or_else(|| cs.owning_tid.and_then(|tid| by_cid.get(&(pid, tid))));
            if let Some(&o) = owner {
                let r = w.resource(cs_id(cs.address, pid));
                w.g.add_edge(r, w.threads[o], Edge::OwnedBy("OwningThread in !cs"));
            } else if let (Some(tid), true) =
                (cs.owning_tid.filter(|&t| t != 0), whole_list.contains(&pid))
            {
                w.orphans.insert(cs_id(cs.address, pid), tid);
            }
        }
        // Threads in a critical-section wait whose section the output does not name.
        let mut unresolved_cs: Vec<usize> = Vec::new();
        // Waiters, from their stacks.
        for (i, t) in s.threads.iter().enumerate() {
            if !matches!(t.state, ThreadState::Wait { .. }) {
                continue;
            }
            let known = cs_by_pid.get(&t.pid).unwrap_or(&empty);
            match cs_waited_on(t, known) {
                Some(CsWait::Known(addr)) => {
                    let r = w.resource(cs_id(addr, t.pid));
                    w.g.add_edge(
                        w.threads[i],
                        r,
                        Edge::WaitsOn("RtlEnterCriticalSection argument on its stack"),
                    );
                }
                Some(CsWait::Unknown) => {
                    // No `Args to Child`: the only locked, contended section of
                    // the process is the one it waits on, if there is exactly one.
                    // A section the thread owns itself is not one it waits for
                    // (it would have entered it again without waiting): two
                    // owners waiting, each on the other's section, are a deadlock.
                    let own = |c: &&dumptrace_dump::CriticalSection| {
                        c.owning_tid == Some(t.tid)
                            || (t.address != 0 && c.owning_thread == Some(t.address))
                    };
                    let candidates: Vec<_> = s
                        .critical_sections
                        .iter()
                        .filter(|c| c.pid == Some(t.pid) && c.locked && c.waiters() > 0)
                        .filter(|c| !own(c))
                        .collect();
                    if let [only] = candidates.as_slice() {
                        let r = w.resource(cs_id(only.address, t.pid));
                        w.g.add_edge(
                            w.threads[i],
                            r,
                            Edge::WaitsOn("the only contended critical section of its process that it does not own (stack has no arguments)"),
                        );
                    } else {
                        unresolved_cs.push(i);
                    }
                }
                None => {}
            }
            for o in &t.wait_objects {
                if o.kind.starts_with("Mutant") {
                    let id = format!("mutant:0x{:08x}", o.address);
                    let r = w.resource(id);
                    w.g.add_edge(w.threads[i], r, Edge::WaitsOn("wait object"));
                    if let Some(&owner) = o.owner_thread.and_then(|a| by_address.get(&a)) {
                        if !w.g.contains_edge(r, w.threads[owner]) {
                            w.g.add_edge(
                                r,
                                w.threads[owner],
                                Edge::OwnedBy("Mutant - owning thread"),
                            );
                        }
                    }
                } else if o.kind == "ThreadObject" {
                    // A thread object is signalled when that thread exits.
                    let r = w.resource(format!("thread:0x{:08x}", o.address));
                    w.g.add_edge(w.threads[i], r, Edge::WaitsOn("wait object"));
                    if let Some(&j) = by_address.get(&o.address) {
                        if !w.g.contains_edge(r, w.threads[j]) {
                            w.g.add_edge(r, w.threads[j], Edge::OwnedBy("the awaited thread"));
                        }
                    }
                } else if o.kind == "ProcessObject" {
                    let id = format!("process:0x{:08x}", o.address);
                    let r = w.resource(id);
                    w.g.add_edge(w.threads[i], r, Edge::WaitsOn("wait object"));
                    // A process is signalled when it exits: its threads hold it.
                    // Added once, when the first waiter creates the resource.
                    let fresh = w.g.edges_directed(r, Direction::Outgoing).next().is_none();
                    if let (true, Some(pid)) = (fresh, process_pid.get(&o.address)) {
                        for &j in threads_by_pid.get(pid).map(Vec::as_slice).unwrap_or(&[]) {
                            if j != i {
                                w.g.add_edge(
                                    r,
                                    w.threads[j],
                                    Edge::OwnedBy("thread of the awaited process"),
                                );
                            }
                        }
                    }
                }
            }
            // The LockSemaphore of a locked critical section, by object or by handle.
            let mut semaphores: Vec<(u64, &'static str)> = Vec::new();
            if lock_pids.contains(&t.pid) {
                for o in &t.wait_objects {
                    let sync = o.kind.contains("Event") || o.kind.starts_with("Semaphore");
                    if let (true, Some(&cs)) = (sync, lock_objects.get(&(t.pid, o.address))) {
                        semaphores.push((cs, "its wait object is the critical section's LockSemaphore (!cs, !handle)"));
                    }
                }
                // Only the innermost wait call counts: it is the handle the thread
                // sleeps on (the system call's), where an outer frame's argument
                // slot may hold anything by now.
                for h in handles_waited_on(t, true, |h| lock_handles.contains_key(&(t.pid, h))) {
                    if let Some(&cs) = lock_handles.get(&(t.pid, h)) {
                        semaphores.push((cs, "a wait function's handle argument is the critical section's LockSemaphore (!cs)"));
                    }
                }
            }
            for (cs, why) in semaphores {
                let r = w.resource(cs_id(cs, t.pid));
                if !w.g.contains_edge(w.threads[i], r) {
                    w.g.add_edge(w.threads[i], r, Edge::WaitsOn(why));
                }
            }
            // User mode: a wait on a handle whose mutant has a listed owner.
            for handle in handles_waited_on(t, false, |h| mutant_owner.contains_key(&(t.pid, h))) {
                let Some(owner) = mutant_owner.get(&(t.pid, handle)) else {
                    continue;
                };
                let r = w.resource(crate::ids::mutant_handle(handle, Some(t.pid)));
                w.g.add_edge(
                    w.threads[i],
                    r,
                    Edge::WaitsOn("a wait function's handle argument"),
                );
                if let Some(&o) = by_cid.get(owner) {
                    if !w.g.contains_edge(r, w.threads[o]) {
                        w.g.add_edge(r, w.threads[o], Edge::OwnedBy("Mutant Owner in !handle"));
                    }
                }
            }
            if let Some(id) = t.lpc_waiting_for {
                let r = w.resource(format!("lpc:0x{id:08x}"));
                w.g.add_edge(
                    w.threads[i],
                    r,
                    Edge::WaitsOn("Waiting for reply to LPC MessageId"),
                );
            }
            // An IRP of this thread pending in a driver: the thread waits for
            // that driver (seed: DriverB's pending IRP 893a7470, 14 h).
            for irp in &t.irps {
                if let Some(d) = irps_pending.get(irp) {
                    let id = format!("irp:0x{irp:08x}");
                    let r = w.resource(id.clone());
                    w.g.add_edge(w.threads[i], r, Edge::WaitsOn("IRP pending in a driver"));
                    w.drivers.insert(id, d.clone());
                }
            }
            if let Some(a) = &t.alpc_waiting_for {
                let id = format!("alpc:0x{:08x}", a.message);
                let r = w.resource(id.clone());
                w.g.add_edge(
                    w.threads[i],
                    r,
                    Edge::WaitsOn("Waiting for reply to ALPC Message"),
                );
                if let Some(p) = a.server_process {
                    w.servers.insert(id, p);
                }
            }
        }
        // LPC servers: `LPC Server thread working on message Id X`, and `!lpc message`.
        for (i, t) in s.threads.iter().enumerate() {
            if let Some(id) = t.lpc_serving {
                if let Some(&r) = w.resources.get(&format!("lpc:0x{id:08x}")) {
                    w.g.add_edge(
                        r,
                        w.threads[i],
                        Edge::OwnedBy("LPC Server thread working on message"),
                    );
                }
            }
        }
        for m in &s.lpc_messages {
            if let Some(p) = m.server_process {
                w.servers.insert(format!("lpc:0x{:08x}", m.id), p);
            }
            let (Some(&r), Some(&srv)) = (
                w.resources.get(&format!("lpc:0x{:08x}", m.id)),
                m.server_thread.and_then(|a| by_address.get(&a)),
            ) else {
                continue;
            };
            if !w.g.contains_edge(r, w.threads[srv]) {
                w.g.add_edge(
                    r,
                    w.threads[srv],
                    Edge::OwnedBy("!lpc message server thread"),
                );
            }
        }
        // ALPC messages from `!alpc /m`: the server thread, or the queue's owner.
        for m in &s.alpc_messages {
            let id = format!("alpc:0x{:08x}", m.address);
            let Some(&r) = w.resources.get(&id) else {
                continue;
            };
            match m.server_thread.and_then(|a| by_address.get(&a)) {
                Some(&srv) => {
                    w.servers.remove(&id);
                    if !w.g.contains_edge(r, w.threads[srv]) {
                        w.g.add_edge(r, w.threads[srv], Edge::OwnedBy("!alpc /m ServerThread"));
                    }
                }
                None => {
                    if let Some(p) = m.queue_owner_process {
                        w.servers.insert(id, p);
                    }
                }
            }
        }
        // ERESOURCEs from `!locks`.
        for res in &s.resources {
            let r = w.resource(format!("eresource:0x{:08x}", res.address));
            for o in &res.owners {
                if let Some(&j) = by_address.get(o) {
                    w.g.add_edge(r, w.threads[j], Edge::OwnedBy("!locks owner"));
                }
            }
            for a in res.exclusive_waiters.iter().chain(&res.shared_waiters) {
                if let Some(&j) = by_address.get(a) {
                    w.g.add_edge(w.threads[j], r, Edge::WaitsOn("!locks waiter"));
                }
            }
        }
        let unowned: Vec<String> = w
            .resources
            .iter()
            .filter(|(id, &n)| {
                id.starts_with("cs:")
                    && !w.orphans.contains_key(*id)
                    && w.g.edges_directed(n, Direction::Outgoing).next().is_none()
            })
            .map(|(id, _)| id.clone())
            .collect();
        if !unowned.is_empty() {
            notes.push(format!(
                "{} critical section(s) are waited on but their owner is not among the threads read (no `!cs` owner, or no THREAD block for it): {}; {}",
                unowned.len(),
                unowned.join(", "),
                crate::advice::NAME_CS_OWNER
            ));
        }
        notes.extend(crate::advice::missing_owners(s, &w, &unresolved_cs));
        (w, notes)
    }

    fn resource(&mut self, id: String) -> NodeIndex {
        if let Some(&n) = self.resources.get(&id) {
            return n;
        }
        let n = self.g.add_node(Node::Resource(id.clone()));
        self.resources.insert(id, n);
        n
    }

    /// The unserved resource a root waits on, and who should serve it.
    fn ends_at(&self, s: &DumpSnapshot, root: usize) -> Option<EndsAt> {
        let n = self.threads[root];
        for r in self.g.neighbors_directed(n, Direction::Outgoing) {
            let Node::Resource(id) = &self.g[r] else {
                continue;
            };
            if self
                .g
                .edges_directed(r, Direction::Outgoing)
                .next()
                .is_some()
            {
                continue;
            }
            if let Some(d) = self.drivers.get(id) {
                return Some(EndsAt {
                    resource: id.clone(),
                    server_pid: None,
                    server_image: Some(d.clone()),
                    owner_gone: None,
                });
            }
            let server = self.servers.get(id);
            let proc_ = server.and_then(|a| s.processes.iter().find(|p| p.address == *a));
            let server_pid = proc_.map(|p| p.pid).or_else(|| {
                server.and_then(|a| {
                    s.threads
                        .iter()
                        .find(|t| t.process_address == Some(*a))
                        .map(|t| t.pid)
                })
            });
            let server_image = proc_.map(|p| p.image.clone()).or_else(|| {
                let img = s.lpc_messages.iter().find_map(|m| {
                    (format!("lpc:0x{:08x}", m.id) == *id)
                        .then(|| m.server_image.clone())
                        .flatten()
                });
                img.or_else(|| {
                    s.threads.iter().find_map(|t| {
                        t.alpc_waiting_for
                            .as_ref()
                            .filter(|a| format!("alpc:0x{:08x}", a.message) == *id)
                            .and_then(|a| a.server_image.clone())
                    })
                })
            });
            return Some(EndsAt {
                resource: id.clone(),
                server_pid,
                server_image,
                owner_gone: self.orphans.get(id).copied(),
            });
        }
        None
    }

    /// Resources a thread waits on.
    pub(crate) fn waits_on(&self, thread: usize) -> Vec<String> {
        self.neighbours(self.threads[thread], Direction::Outgoing)
    }

    /// Resources a thread owns or serves.
    pub(crate) fn owns(&self, thread: usize) -> Vec<String> {
        self.neighbours(self.threads[thread], Direction::Incoming)
    }

    fn neighbours(&self, n: NodeIndex, dir: Direction) -> Vec<String> {
        let mut v: Vec<String> = self
            .g
            .neighbors_directed(n, dir)
            .filter_map(|r| match &self.g[r] {
                Node::Resource(id) => Some(id.clone()),
                Node::Thread(_) => None,
            })
            .collect();
        v.sort();
        v
    }

    /// Threads that `thread` waits for, through one resource.
    fn blockers(&self, thread: usize) -> Vec<usize> {
        let mut out = Vec::new();
        for r in self
            .g
            .neighbors_directed(self.threads[thread], Direction::Outgoing)
        {
            for e in self.g.edges_directed(r, Direction::Outgoing) {
                if let Node::Thread(j) = self.g[e.target()] {
                    out.push(j);
                }
            }
        }
        out
    }

    /// Threads waiting on a resource that `thread` owns.
    fn direct_waiters(&self, thread: usize) -> Vec<usize> {
        let mut out = Vec::new();
        for r in self
            .g
            .neighbors_directed(self.threads[thread], Direction::Incoming)
        {
            for e in self.g.edges_directed(r, Direction::Incoming) {
                if let Node::Thread(j) = self.g[e.source()] {
                    if j != thread {
                        out.push(j);
                    }
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    pub(crate) fn chains(&self, s: &DumpSnapshot) -> Vec<ChainData> {
        let n = s.threads.len();
        // Thread-level "waits for" graph, for cycles.
        let mut tg: DiGraph<usize, ()> = DiGraph::with_capacity(n, n);
        let nodes: Vec<_> = (0..n).map(|i| tg.add_node(i)).collect();
        for i in 0..n {
            for j in self.blockers(i) {
                tg.add_edge(nodes[i], nodes[j], ());
            }
        }
        let mut in_cycle = vec![None; n];
        let mut cycles = Vec::new();
        for scc in tarjan_scc(&tg) {
            let self_loop = scc.len() == 1 && tg.contains_edge(scc[0], scc[0]);
            if scc.len() > 1 || self_loop {
                let members: Vec<usize> = scc.iter().map(|&x| tg[x]).collect();
                for &m in &members {
                    in_cycle[m] = Some(cycles.len());
                }
                cycles.push(members);
            }
        }
        let mut chains = Vec::new();
        // Roots: threads that block someone but wait on no resolvable thread.
        for (root, cycle) in in_cycle.iter().enumerate() {
            if cycle.is_some() || !self.blockers(root).is_empty() {
                continue;
            }
            if self.direct_waiters(root).is_empty() {
                continue;
            }
            chains.push(self.chain_from(s, &tg, &nodes, vec![root], root, false));
        }
        let queues = self.queue_chains(s, &tg, &nodes);
        let folded: BTreeSet<usize> = queues
            .iter()
            .flat_map(|q| q.members.iter().copied())
            .collect();
        chains.retain(|c| !folded.contains(&c.root));
        chains.extend(queues);
        for members in cycles {
            // A deadlock's "root" is the member that has waited longest.
            let root = members
                .iter()
                .copied()
                .max_by_key(|&m| s.threads[m].wait_ns.unwrap_or(0))
                .unwrap_or(members[0]);
            chains.push(self.chain_from(s, &tg, &nodes, members, root, true));
        }
        chains.sort_by(|a, b| {
            (b.members.len(), b.deadlock)
                .cmp(&(a.members.len(), a.deadlock))
                .then(a.root.cmp(&b.root))
        });
        chains
    }

    fn chain_from(
        &self,
        s: &DumpSnapshot,
        tg: &DiGraph<usize, ()>,
        nodes: &[NodeIndex],
        seeds: Vec<usize>,
        root: usize,
        deadlock: bool,
    ) -> ChainData {
        let mut seen: BTreeSet<usize> = seeds.iter().copied().collect();
        let mut stack = seeds.clone();
        while let Some(x) = stack.pop() {
            for p in tg.neighbors_directed(nodes[x], Direction::Incoming) {
                let j = tg[p];
                if seen.insert(j) {
                    stack.push(j);
                }
            }
        }
        let members: Vec<usize> = seen.into_iter().collect();
        let mut resources = BTreeSet::new();
        for &m in &members {
            for r in self.waits_on(m) {
                resources.insert(r);
            }
        }
        // Threads waiting on what the root (a deadlock: its cycle) owns, the root itself
        // not among them: a deadlock's root waits on its partner, but it is the root, not
        // one blocked behind it (the same count as `ChainData::blocked`).
        let direct = seeds
            .iter()
            .flat_map(|&x| self.direct_waiters(x))
            .filter(|&w| w != root)
            .collect::<BTreeSet<_>>()
            .len();
        let processes = members.iter().map(|&m| s.threads[m].pid).collect();
        ChainData {
            root,
            members,
            resources: resources.into_iter().collect(),
            deadlock,
            direct,
            processes,
            ends_at: if deadlock {
                None
            } else {
                self.ends_at(s, root)
            },
            queue_root: false,
            cycle: if deadlock { seeds } else { Vec::new() },
        }
    }

    /// Unserved resources a thread waits on, with the process that should serve them.
    fn unserved(&self, thread: usize) -> impl Iterator<Item = (&String, u64)> + '_ {
        self.g
            .neighbors_directed(self.threads[thread], Direction::Outgoing)
            .filter(|&r| {
                self.g
                    .edges_directed(r, Direction::Outgoing)
                    .next()
                    .is_none()
            })
            .filter_map(|r| match &self.g[r] {
                Node::Resource(id) => self.servers.get(id).map(|&p| (id, p)),
                Node::Thread(_) => None,
            })
    }

    /// Chains that end at a process queue nobody serves (seed: ALPC queue of 372
    /// messages at ServiceA.exe, its serving threads missing), one per server
    /// process waited on directly by at least two threads; and chains that end
    /// at an orphaned critical section (its owner exited inside it, so nobody
    /// will leave it), one per section, its direct waiters the seeds, the
    /// longest waiting of them the root. The thread chains ending there are
    /// folded into them.
    fn queue_chains(
        &self,
        s: &DumpSnapshot,
        tg: &DiGraph<usize, ()>,
        nodes: &[NodeIndex],
    ) -> Vec<ChainData> {
        let mut queues: std::collections::BTreeMap<u64, Vec<usize>> = Default::default();
        for i in 0..s.threads.len() {
            let mut seen = BTreeSet::new();
            for (_, server) in self.unserved(i) {
                if seen.insert(server) {
                    queues.entry(server).or_default().push(i);
                }
            }
        }
        let mut out = Vec::new();
        for (server, direct) in queues {
            if direct.len() < 2 {
                continue;
            }
            let root = direct
                .iter()
                .copied()
                .max_by_key(|&m| s.threads[m].wait_ns.unwrap_or(0))
                .unwrap_or(direct[0]);
            let mut c = self.chain_from(s, tg, nodes, direct.clone(), root, false);
            c.direct = direct.len();
            c.queue_root = true;
            let process = s.processes.iter().find(|p| p.address == server);
            c.ends_at = Some(EndsAt {
                resource: format!("queue:0x{server:08x}"),
                server_pid: process.map(|p| p.pid),
                server_image: process.map(|p| p.image.clone()),
                owner_gone: None,
            });
            out.push(c);
        }
        let mut orphans: Vec<(&String, u32)> = self.orphans.iter().map(|(k, &v)| (k, v)).collect();
        orphans.sort();
        for (id, owner) in orphans {
            let Some(&r) = self.resources.get(id) else {
                continue;
            };
            let mut direct: Vec<usize> = self
                .g
                .neighbors_directed(r, Direction::Incoming)
                .filter_map(|n| match self.g[n] {
                    Node::Thread(i) => Some(i),
                    Node::Resource(_) => None,
                })
                .collect();
            direct.sort_unstable();
            direct.dedup();
            let Some(root) = direct
                .iter()
                .copied()
                .max_by_key(|&m| (s.threads[m].wait_ns.unwrap_or(0), std::cmp::Reverse(m)))
            else {
                continue;
            };
            let mut c = self.chain_from(s, tg, nodes, direct.clone(), root, false);
            c.direct = direct.len();
            c.ends_at = Some(EndsAt {
                resource: id.clone(),
                server_pid: None,
                server_image: None,
                owner_gone: Some(owner),
            });
            out.push(c);
        }
        out
    }
}

enum CsWait {
    Known(u64),
    Unknown,
}

/// Which critical section a waiting thread is entering, from its stacks (the
/// native one, then a WOW64 thread's 32-bit one).
///
/// x86 `Args to Child` are the real arguments: `RtlEnterCriticalSection`'s first
/// is the section (seed: FwLock chain, `664a3fe0`). On x64 they are the home
/// slots of the frame, often stale (seed: the taskmgr case shows `04d0f300` for
/// `RtlEnterCriticalSection` while the section is `000007ff7b8c3500`, seen as an
/// argument of `RtlpWaitOnCriticalSection`). So: an argument of any critical
/// section frame that is a section `!cs` listed wins; otherwise the x86 first
/// argument; otherwise the section is unknown.
fn cs_waited_on(t: &Thread, known: &BTreeSet<u64>) -> Option<CsWait> {
    let mut found = None;
    for stack in t.stacks() {
        let frames: Vec<_> = stack
            .iter()
            .filter(|f| CS_ENTER.iter().chain(CS_WAIT).any(|n| f.function_is(n)))
            .collect();
        if frames.is_empty() {
            continue;
        }
        if let Some(&a) = frames
            .iter()
            .flat_map(|f| f.args.iter())
            .find(|a| known.contains(a))
        {
            return Some(CsWait::Known(a));
        }
        let on_address = stack
            .iter()
            .filter(|f| CS_ADDRESS_WAIT.iter().any(|n| f.function_is(n)))
            .flat_map(|f| f.args.iter())
            .find_map(|&a| {
                std::iter::once(a)
                    .chain(LOCK_COUNT_OFFSETS.iter().filter_map(|&o| a.checked_sub(o)))
                    .find(|c| known.contains(c))
            });
        if let Some(a) = on_address {
            return Some(CsWait::Known(a));
        }
        let x86 = stack.iter().all(|f| f.frame <= u32::MAX as u64);
        let enter = frames
            .iter()
            .find(|f| CS_ENTER.iter().any(|n| f.function_is(n)));
        match enter.and_then(|f| f.args.first()) {
            Some(&a) if x86 => return Some(CsWait::Known(a)),
            _ => found = Some(CsWait::Unknown),
        }
    }
    found
}

/// Wait functions whose first argument is the handle waited on.
const HANDLE_WAITS: &[&str] = &[
    "kernel32!WaitForSingleObject",
    "kernel32!WaitForSingleObjectEx",
    "KERNELBASE!WaitForSingleObject",
    "KERNELBASE!WaitForSingleObjectEx",
    "ntdll!NtWaitForSingleObject",
    "ntdll!ZwWaitForSingleObject",
];

/// Handles a thread waits on, from its stacks: on x86 the first argument of a
/// single-object wait; on x64, whose `Args to Child` are home slots, any
/// argument of such a frame that `is_known` accepts (the public mutexLock
/// walkthrough shows handle `1b8` as the fourth slot of `WaitForSingleObjectEx`).
/// With `innermost`, only the wait frame nearest the top of each stack is read.
fn handles_waited_on(t: &Thread, innermost: bool, is_known: impl Fn(u64) -> bool) -> Vec<u64> {
    let mut out = Vec::new();
    for stack in t.stacks() {
        let x86 = stack.iter().all(|f| f.frame <= u32::MAX as u64);
        let waits = stack
            .iter()
            .filter(|f| HANDLE_WAITS.iter().any(|n| f.function_is(n)));
        for f in waits.take(if innermost { 1 } else { usize::MAX }) {
            let candidates: Vec<u64> = if x86 {
                f.args.first().copied().into_iter().collect()
            } else {
                f.args.iter().copied().filter(|&a| is_known(a)).collect()
            };
            for h in candidates {
                if !out.contains(&h) {
                    out.push(h);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// A kernel log of one process: thread 0adc.0b10 waits on an event and on
    /// nothing its stack names; !cs shows the section owned by 0adc.0b20 with
    /// LockSemaphore 0xf4c; `!handle f4c f` ties that handle to the event.
    /// `args` are the waiter's system call's arguments, `outer` those of the
    /// kernel32 wait above it, `handle` says whether the `!handle` block is there.
    fn log(args: &str, outer: &str, handle: bool) -> String {
        let mut s = format!(
            "Debug session time: Fri Oct  9 14:15:13.024 2009 (GMT-4)
System Uptime: 0 days 3:12:05.456
0: kd> !process 0 ff
PROCESS 89cf4870  SessionId: 0  Cid: 0adc    Peb: 7ffde000  ParentCid: 0228
    DirBase: 0a8c0320  ObjectTable: e1b6c2f8  HandleCount: 312.
    Image: ServiceC.exe

        THREAD 89d475a8  Cid 0adc.0b10  Teb: 7ffdf000 Win32Thread: 00000000 WAIT: (UserRequest) UserMode Non-Alertable
            89f2e3a8  SynchronizationEvent
        Not impersonating
        Owning Process            89cf4870       Image:         ServiceC.exe
        Wait Start TickCount      700000         Ticks: 900 (0:00:00:14.062)
        ChildEBP RetAddr  Args to Child
        0185fe64 7c90df4a 7c91b1fb {args} ntdll!KiFastSystemCallRet
        0185fe68 7c91b1fb {args} ntdll!ZwWaitForSingleObject+0xc
        0185fe94 0040f00d {outer} kernel32!WaitForSingleObject+0x12
        0185fea0 0040f0ff 00000000 00000000 00000000 ServiceC!Worker+0x33

        THREAD 89d47020  Cid 0adc.0b20  Teb: 7ffde000 Win32Thread: 00000000 WAIT: (DelayExecution) UserMode Non-Alertable
            89d47110  NotificationTimer
        Owning Process            89cf4870       Image:         ServiceC.exe
        Wait Start TickCount      700500         Ticks: 400 (0:00:00:06.250)
        ChildEBP RetAddr  Args to Child
        0195fe6c 7c90d85c 7c8023ed 00000000 0195fea0 ntdll!KiFastSystemCallRet
        0195fe70 7c8023ed 00000000 0195fea0 0195ff4c ntdll!NtDelayExecution+0xc
        0195fec8 7c802451 00001b00 00000000 0195ffb4 kernel32!SleepEx+0x61

0: kd> .process /r /p 89cf4870
Implicit process is now 89cf4870
0: kd> !cs -l -o -s
-----------------------------------------
Critical section   = 0x0032be30 (+0x32BE30)
LOCKED
LockCount          = 0x1
WaiterWoken        = No
OwningThread       = 0x00000b20
RecursionCount     = 0x1
LockSemaphore      = 0xF4C
SpinCount          = 0x00000000
"
        );
        if handle {
            s.push_str(
                "0: kd> !handle f4c f 89cf4870
processor number 0, process 89cf4870
PROCESS 89cf4870  SessionId: 0  Cid: 0adc    Peb: 7ffde000  ParentCid: 0228
    DirBase: 0a8c0320  ObjectTable: e1b6c2f8  HandleCount: 312.
    Image: ServiceC.exe

Handle table at e1b6c2f8 with 312 Entries in use
0f4c: Object: 89f2e3a8  GrantedAccess: 001f0003 Entry: e1c2a698
Object: 89f2e3a8  Type: (8a2ae3c0) Event
    ObjectHeader: 89f2e390 (old version)
        HandleCount: 1  PointerCount: 2

",
            );
        }
        s.push_str("0: kd> q\n");
        s
    }

    /// The chains of a log, as (root tid, member tids).
    fn chains(text: &str) -> Vec<(u32, Vec<u32>)> {
        let load = dumptrace_dump::read_bytes(Path::new("cs-event.log"), text.as_bytes())
            .expect("a kernel log");
        let a = crate::analyze(&load.snapshot, &[], &Default::default());
        a.chains
            .iter()
            .map(|c| (c.root.tid, c.members.iter().map(|m| m.tid).collect()))
            .collect()
    }

    #[test]
    fn a_wait_on_a_sections_lock_semaphore_is_a_wait_on_the_section() {
        let blocked = |c: &[(u32, Vec<u32>)]| {
            c.iter()
                .any(|(root, members)| *root == 0xb20 && members.contains(&0xb10))
        };
        // By object: the wait object is the event `!handle` gives for 0xf4c.
        let none = "00000000 00000000 00000000";
        let by_object = chains(&log(none, none, true));
        assert!(blocked(&by_object), "{by_object:?}");
        // By handle: the wait call's first argument is 0xf4c itself.
        let by_handle = chains(&log(
            "00000f4c 00000000 00000000",
            "00000f4c 00000000 00000000",
            false,
        ));
        assert!(blocked(&by_handle), "{by_handle:?}");
        // Neither: the event has no known owner, so 0b10 is not behind 0b20.
        let neither = chains(&log(none, none, false));
        assert!(!blocked(&neither), "{neither:?}");
        // Another handle value: not the section's semaphore.
        let other = chains(&log("00000f50 00000000 00000000", none, false));
        assert!(!blocked(&other), "{other:?}");
        // An outer frame's stale argument slot is not what the thread sleeps on
        // (the system call's handle is 0xf50).
        let stale = chains(&log(
            "00000f50 00000000 00000000",
            "00000f4c 00000000 00000000",
            false,
        ));
        assert!(!blocked(&stale), "{stale:?}");
    }
}
