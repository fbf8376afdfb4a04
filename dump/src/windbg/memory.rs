//! `!vm` (physical memory, page files, pool usage and the warnings that say a
//! pool ran out) and `!poolused` (pool use per tag).
//!
//! ```text
//! *** Virtual Memory Usage ***
//!  Physical Memory:     1048503 (   4194012 Kb)
//!  Page File: \??\C:\pagefile.sys
//!    Current:   5109760 Kb  Free Space:   3668764 Kb
//!    Minimum:   5109760 Kb  Maximum:      5109760 Kb
//!  NonPagedPool Usage:    65244 (    260976 Kb)
//!  NonPagedPool Max:      65503 (    262012 Kb)
//!  ********** Excessive NonPaged Pool Usage *****
//!  ********** 185454 pool allocations have failed **********
//!  Session ID 1 @ af925000:
//!  Paged Pool Usage:       16868K
//!  *** 371034 Pool Allocation Failures ***
//! 57f4 rundll32.exe       586 (      2344 Kb)
//! ```
//! (seeds: "Crash Dump Analysis Patterns (Part 13b)", "Insufficient memory,
//! handle leak, process factory...", whose `!vm 4` shows the session lines;
//! "Truncated dump..." prints `Paging File Name paged out` for the name.)

use super::grammar::hex_token;
use super::{Out, Step};
use crate::system::{
    PageFile, PoolCounts, PoolTag, ProcessCommit, SessionPool, VirtualMemory, VmCounter,
};

#[derive(Default)]
pub(crate) struct VmParser {
    vm: Option<VirtualMemory>,
    in_session: bool,
}

impl VmParser {
    pub(crate) fn line(&mut self, t: &str, n: u64, out: &mut Out) -> Step {
        if super::thread::is_noise(t) {
            return Step::Used;
        }
        let vm = self.vm.get_or_insert_with(|| VirtualMemory {
            line: n,
            ..VirtualMemory::default()
        });
        if t.starts_with("*** Virtual Memory Usage") {
            vm.line = n;
            return Step::Used;
        }
        if t.starts_with("***") {
            let w = t.trim_matches('*').trim();
            let count = || w.split_whitespace().next().and_then(|v| v.parse().ok());
            if w.contains("Pool Allocation Failures") && self.in_session {
                if let Some(s) = vm.sessions.last_mut() {
                    s.allocation_failures = count();
                }
            } else if w.contains("pool allocations have failed") {
                vm.failed_allocations = count();
            }
            vm.warnings.push(w.to_string());
            return Step::Used;
        }
        if let Some(name) = t.strip_prefix("Page File:") {
            vm.page_files.push(PageFile {
                name: name.trim().to_string(),
                ..PageFile::default()
            });
            return Step::Used;
        }
        // `Paging File Name paged out`, `No Name for Paging File`.
        if t.starts_with("Paging File") || t.starts_with("No Name for Paging File") {
            vm.page_files.push(PageFile {
                name: t.to_string(),
                ..PageFile::default()
            });
            return Step::Used;
        }
        if let Some(rest) = t.strip_prefix("Session ID") {
            // `Session ID 1 @ af925000:`
            let rest = rest.trim().trim_end_matches(':');
            let (id, address) = rest.split_once('@').unwrap_or((rest, ""));
            self.in_session = true;
            vm.sessions.push(SessionPool {
                id: id.trim().parse().unwrap_or(0),
                address: hex_token(address.trim()),
                ..SessionPool::default()
            });
            return Step::Used;
        }
        if t.starts_with("Current:") || t.starts_with("Minimum:") {
            if let Some(p) = vm.page_files.last_mut() {
                page_file_sizes(p, t);
            }
            return Step::Used;
        }
        if let Some((name, value)) = t.split_once(':') {
            let name = name.trim();
            let (pages, kb) = amounts(value);
            if pages.is_none() && kb.is_none() {
                // A heading (`Terminal Server Memory Usage By Session:`).
                return Step::Used;
            }
            if self.in_session {
                if let Some(s) = vm.sessions.last_mut() {
                    match name {
                        "Paged Pool Usage" => s.paged_pool_kb = kb,
                        "Commit Usage" => s.commit_kb = kb,
                        _ => {}
                    }
                    return Step::Used;
                }
            }
            vm.counters.push(VmCounter {
                name: name.to_string(),
                pages,
                kb,
            });
            return Step::Used;
        }
        // The per-process commit list: `57f4 rundll32.exe       586 (      2344 Kb)`.
        let words: Vec<&str> = t.split_whitespace().collect();
        if let [pid, image, pages, rest @ ..] = words.as_slice() {
            if let (Some(pid), Ok(pages)) = (hex_token(pid), pages.parse::<u64>()) {
                out.record();
                vm.processes.push(ProcessCommit {
                    pid: u32::try_from(pid).unwrap_or(u32::MAX),
                    image: image.to_string(),
                    pages,
                    kb: amounts(&rest.join(" ")).1,
                });
                return Step::Used;
            }
        }
        Step::End
    }

    pub(crate) fn end(self, out: &mut Out) {
        if let Some(vm) = self.vm {
            out.record();
            out.snap.memory.push(vm);
        }
    }
}

/// `  1048503 (   4194012 Kb)`, `16868K`, `4195328 Kb`: pages and KB.
fn amounts(v: &str) -> (Option<u64>, Option<u64>) {
    let v = v.trim();
    if let Some((pages, kb)) = v.split_once('(') {
        let kb = kb.trim().trim_end_matches(')').trim();
        let kb = kb.trim_end_matches("Kb").trim_end_matches("KB").trim();
        return (pages.trim().parse().ok(), kb.parse().ok());
    }
    let first = v.split_whitespace().next().unwrap_or("");
    let is_kb = first.ends_with('K') || v.contains("Kb");
    let num = first.trim_end_matches('K').parse().ok();
    if is_kb {
        (None, num)
    } else {
        (num, None)
    }
}

/// `Current:   5109760 Kb  Free Space:   3668764 Kb`, `Minimum: ... Maximum: ...`.
fn page_file_sizes(p: &mut PageFile, t: &str) {
    let mut rest = t;
    while let Some((key, after)) = rest.split_once(':') {
        let mut words = after.split_whitespace();
        let value = words.next().and_then(|v| v.parse().ok());
        match key.trim() {
            "Current" => p.current_kb = value,
            "Free Space" => p.free_kb = value,
            "Minimum" => p.minimum_kb = value,
            "Maximum" => p.maximum_kb = value,
            _ => {}
        }
        // Past the value and its `Kb` to the next key.
        rest = match after.find("Kb") {
            Some(i) => &after[i + 2..],
            None => "",
        };
    }
}

/// `!poolused`: the columns come from the header the command printed.
///
/// ```text
///  Sorting by  Paged Pool Consumed
///   Pool Used:
///             NonPaged            Paged
///  Tag    Allocs     Used    Allocs     Used
///  LSmi        0        0        -1 4294967240 BlockTypeMisc
/// ```
/// and, with one pool type (seed: "Crash Dump Analysis Patterns (Part 13b)"):
/// `NonPaged` / `Tag Allocs Frees Diff Used` /
/// `Thre 772672 463590 309082 192867168 Thread objects , Binary: nt!ps`.
#[derive(Default)]
pub(crate) struct PoolParser {
    /// `NonPaged`, `Paged`, in the order of the group line.
    groups: Vec<bool>,
    /// Column names after `Tag`.
    columns: Vec<String>,
}

impl PoolParser {
    pub(crate) fn line(&mut self, t: &str, n: u64, out: &mut Out) -> Step {
        if t.starts_with("Sorting by") || t.starts_with("Pool Used") || super::thread::is_noise(t) {
            return Step::Used;
        }
        let words: Vec<&str> = t.split_whitespace().collect();
        if words.iter().all(|w| *w == "NonPaged" || *w == "Paged") {
            self.groups = words.iter().map(|w| *w == "Paged").collect();
            return Step::Used;
        }
        if words.first() == Some(&"Tag") {
            self.columns = words[1..].iter().map(|w| w.to_string()).collect();
            return Step::Used;
        }
        let ncol = self.columns.len();
        let numbers = words
            .iter()
            .skip(1)
            .take_while(|w| w.parse::<i64>().is_ok())
            .count();
        if ncol == 0 || numbers == 0 {
            return Step::End;
        }
        if numbers < ncol {
            out.skip(
                n,
                "!poolused row has fewer numbers than its header has columns",
                t,
            );
            return Step::Used;
        }
        let values: Vec<i64> = words[1..=ncol]
            .iter()
            .filter_map(|w| w.parse().ok())
            .collect();
        let mut tag = PoolTag {
            tag: words[0].to_string(),
            nonpaged: None,
            paged: None,
            description: rest_after_words(t, ncol + 1).to_string(),
            line: n,
        };
        // Two groups split the columns in halves; with one, all belong to it.
        let groups = if self.groups.is_empty() {
            vec![false]
        } else {
            self.groups.clone()
        };
        let per = ncol / groups.len().max(1);
        for (g, &paged) in groups.iter().enumerate() {
            let mut c = PoolCounts::default();
            for (name, v) in self.columns.iter().zip(&values).skip(g * per).take(per) {
                match name.as_str() {
                    "Allocs" => c.allocs = Some(*v),
                    "Frees" => c.frees = Some(*v),
                    "Diff" => c.diff = Some(*v),
                    "Used" | "Bytes" => c.used = Some(*v),
                    _ => {}
                }
            }
            if paged {
                tag.paged = Some(c);
            } else {
                tag.nonpaged = Some(c);
            }
        }
        out.record();
        out.snap.pool_tags.push(tag);
        Step::Used
    }
}

/// The text of `t` after its first `n` whitespace-separated words.
fn rest_after_words(t: &str, n: usize) -> &str {
    let mut rest = t.trim_start();
    for _ in 0..n {
        rest = match rest.find(char::is_whitespace) {
            Some(i) => rest[i..].trim_start(),
            None => "",
        };
    }
    rest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_forms() {
        assert_eq!(
            amounts("  1048503 (   4194012 Kb)"),
            (Some(1048503), Some(4194012))
        );
        assert_eq!(amounts("16868K"), (None, Some(16868)));
        assert_eq!(amounts("not a number"), (None, None));
        let mut p = PageFile::default();
        page_file_sizes(&mut p, "Current:   5109760 Kb  Free Space:   3668764 Kb");
        page_file_sizes(&mut p, "Minimum:   5109760 Kb  Maximum:      5109760 Kb");
        assert_eq!(
            (p.current_kb, p.free_kb, p.minimum_kb, p.maximum_kb),
            (Some(5109760), Some(3668764), Some(5109760), Some(5109760))
        );
        assert_eq!(
            rest_after_words(" LSmi  0  0 -1 42 BlockType Misc", 5),
            "BlockType Misc"
        );
    }
}
