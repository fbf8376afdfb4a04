//! Dump evidence: what a Windows memory dump says about threads, waits and locks.
//!
//! The key types are [`DumpSnapshot`] (processes, threads with their wait state,
//! wait start and stack, critical sections, ERESOURCEs and LPC messages, and the
//! dump time; from a debugger log also processors, memory, pool tags, IRPs,
//! handles, modules and the bugcheck) and [`InputReport`] (what one input file
//! gave: records read, lines skipped and why). The readers understand WinDbg/kd/cdb session logs,
//! user-mode minidumps (`MDMP`) and kernel dump file headers (`PAGEDUMP`,
//! `PAGEDU64`); binary dumps also fill [`DumpSnapshot::dump_files`] with their
//! header facts ([`DumpFile`], including [`Truncation`]).
//!
//! ```no_run
//! let load = dumptrace_dump::read_path(std::path::Path::new("memory.log")).unwrap();
//! for t in &load.snapshot.threads {
//!     println!("{} {} {:?}", t.cid(), t.state.name(), t.wait_seconds());
//! }
//! println!("{} records, {} skipped", load.report.records, load.report.skipped);
//! ```

mod bytes;
mod dumpfile;
mod finish;
mod join;
mod json;
mod kdump;
mod minidump;
mod model;
#[cfg(any(test, feature = "synth"))]
pub mod synth;
mod system;
mod text;
mod windbg;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

pub use bytes::FormatError;
pub use dumpfile::{
    DumpFile, ExceptionInfo, Handle, KernelHeader, MemoryRange, MemoryRun, MinidumpInfo, MiscInfo,
    Module, MutantInfo, SystemInfo, ThreadDetail, TimeZone, Truncation,
};
pub use json::write_json;
pub use model::{
    pid_hex, AlpcMessage, AlpcWait, Args, CriticalSection, DumpSnapshot, Frame, Irp, LpcMessage,
    Process, Resource, SessionTime, Symbol, Thread, ThreadOrigin, ThreadState, WaitObject,
    NO_IMAGE,
};
pub use system::{
    Bugcheck, HandleTable, IrpRow, PageFile, PoolCounts, PoolTag, ProcessCommit, Processor,
    SessionPool, VirtualMemory, VmCounter,
};
pub use text::escape_control;

/// Format name of WinDbg/kd/cdb session logs, as listed in reports.
pub const WINDBG_LOG: &str = "windbg-log";
/// Format name of user-mode minidumps (`MDMP`).
pub const MINIDUMP: &str = minidump::FORMAT;
/// Format name of kernel dump files (`PAGEDUMP`, `PAGEDU64`).
pub const KERNEL_DUMP: &str = kdump::FORMAT;

/// How many skipped lines a report keeps verbatim.
const KEPT_SKIPS: usize = 10;

/// One line an input could not use (for binary dumps: one structure).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Skip {
    /// Line number in a text input; byte offset of the structure in a binary dump.
    pub line: u64,
    pub reason: String,
    /// The line, shortened, with control characters escaped.
    pub text: String,
}

/// What one input gave: records read, and lines skipped with their reasons.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InputReport {
    pub path: PathBuf,
    pub format: &'static str,
    /// Lines of a text input; directory entries (minidump) or headers (kernel dump) of a binary one.
    pub lines: u64,
    /// Blocks read: processes, threads, locks, messages, the session time;
    /// for binary dumps, the header and each stream or sub-header read.
    pub records: u64,
    pub skipped: u64,
    pub skip_reasons: BTreeMap<String, u64>,
    /// The first few skipped lines, for the report.
    pub first_skips: Vec<Skip>,
}

impl InputReport {
    fn new(label: &str, format: &'static str) -> Self {
        InputReport {
            path: PathBuf::from(label),
            format,
            lines: 0,
            records: 0,
            skipped: 0,
            skip_reasons: BTreeMap::new(),
            first_skips: Vec::new(),
        }
    }

    /// Adds what a later part of the same input gave.
    fn absorb(&mut self, later: InputReport) {
        self.records += later.records;
        self.skipped += later.skipped;
        for (reason, n) in later.skip_reasons {
            *self.skip_reasons.entry(reason).or_default() += n;
        }
        let room = KEPT_SKIPS.saturating_sub(self.first_skips.len());
        self.first_skips
            .extend(later.first_skips.into_iter().take(room));
    }

    fn skip(&mut self, s: Skip) {
        self.skipped += 1;
        *self.skip_reasons.entry(s.reason.clone()).or_default() += 1;
        if self.first_skips.len() < KEPT_SKIPS {
            self.first_skips.push(s);
        }
    }
}

/// A snapshot and the report of the input it came from.
#[derive(Debug, Clone)]
pub struct DumpLoad {
    pub snapshot: DumpSnapshot,
    pub report: InputReport,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a WinDbg/kd/cdb log (no debugger prompt, THREAD/PROCESS block or session time in the first 64 KiB)")]
    NotALog { path: PathBuf },
    /// A minidump or kernel dump whose fixed header cannot be read.
    #[error("{path}: unreadable {format}: {source}")]
    Corrupt {
        path: PathBuf,
        format: &'static str,
        source: FormatError,
    },
}

/// Is this content a dump-side input this crate reads? Returns its format name.
pub fn detect(bytes: &[u8]) -> Option<&'static str> {
    if minidump::looks_like(bytes) {
        return Some(MINIDUMP);
    }
    if kdump::looks_like(bytes) {
        return Some(KERNEL_DUMP);
    }
    let head = &bytes[..bytes.len().min(HEAD)];
    windbg::looks_like_log(&text::decode(head)).then_some(WINDBG_LOG)
}

/// Reads one dump-side input: binary dumps memory-mapped, debugger logs
/// streamed line by line (a 1 GB log is never held whole). A large UTF-8 log is
/// read in parts on every core (see [`read_path_on`]).
pub fn read_path(path: &Path) -> Result<DumpLoad, Error> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    read_path_on(path, cores)
}

/// [`read_path`] with at most `threads` threads for a debugger log: the log is cut at
/// `PROCESS` lines into that many parts, read at once and joined into the same snapshot
/// and report, line numbers included, as one thread reading it all would give.
pub fn read_path_on(path: &Path, threads: usize) -> Result<DumpLoad, Error> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(io)?;
    let mut head = Vec::with_capacity(HEAD);
    (&mut file)
        .take(HEAD as u64)
        .read_to_end(&mut head)
        .map_err(io)?;
    if head.is_empty() {
        return read_bytes(path, &[]);
    }
    if minidump::looks_like(&head) || kdump::looks_like(&head) {
        // Mapped with a guard: if the file shrinks while it is read, the pages past its new
        // end read as zeros instead of killing the process, and the file is read again with
        // ordinary reads (a truncated dump then reports its truncation).
        return dumptrace_mapfile::read_with_fallback(&mut file, |bytes| read_bytes(path, bytes))
            .map_err(io)?;
    }
    if !windbg::looks_like_log(&text::decode(&head)) {
        return Err(Error::NotALog {
            path: path.to_path_buf(),
        });
    }
    if dumptrace_mapfile::utf16(&head).is_none() {
        // UTF-8 text is read in place from a map, a window at a time, and the pages read
        // are let go as the reader moves on (resident memory stays the snapshot's, not the
        // log's). If the file shrinks meanwhile, it is read again as a stream.
        let map = dumptrace_mapfile::Map::new(&file).map_err(io)?;
        let label = path.display().to_string();
        let cuts = windbg::part_starts(&map, threads);
        let release = |from, to| map.release_range(from, to);
        let (snapshot, report, _) = windbg::read_parts(&label, &map, &cuts, &release);
        if !map.truncated() {
            return Ok(finished(path, snapshot, report));
        }
    }
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    read_log(path, file).map_err(io)
}

/// How much of a file is looked at to tell what it is.
const HEAD: usize = 256 * 1024;

/// Reads a debugger log from any reader, one line at a time.
fn read_log(path: &Path, r: impl Read) -> std::io::Result<DumpLoad> {
    read_lines(path, |f| text::for_each_line(r, f).map(drop))
}

/// Reads a debugger log whose lines `lines` hands to the function it is given.
fn read_lines(
    path: &Path,
    lines: impl FnOnce(&mut dyn FnMut(&str, bool)) -> std::io::Result<()>,
) -> std::io::Result<DumpLoad> {
    let label = path.display().to_string();
    let mut reader = windbg::LogReader::new(&label, WINDBG_LOG);
    lines(&mut |line, ascii| {
        // A reader of a whole log takes every line.
        let _ = reader.feed(line, ascii);
    })?;
    let (snapshot, report) = reader.finish();
    Ok(finished(path, snapshot, report))
}

/// A reader's snapshot made consistent ([`finish::finish`]), with the report of the
/// input it came from.
fn finished(path: &Path, mut snapshot: DumpSnapshot, mut report: InputReport) -> DumpLoad {
    report.path = path.to_path_buf();
    finish::finish(&mut snapshot);
    DumpLoad { snapshot, report }
}

/// Reads one dump-side input from bytes already in memory. The format is
/// chosen by content, as [`detect`] does.
pub fn read_bytes(path: &Path, bytes: &[u8]) -> Result<DumpLoad, Error> {
    type BinaryReader = fn(&str, &[u8]) -> Result<(DumpSnapshot, InputReport), FormatError>;
    let binary: Option<(&'static str, BinaryReader)> = if minidump::looks_like(bytes) {
        Some((MINIDUMP, minidump::read))
    } else if kdump::looks_like(bytes) {
        Some((KERNEL_DUMP, kdump::read))
    } else {
        None
    };
    if let Some((format, read)) = binary {
        let label = path.display().to_string();
        let (snapshot, report) = read(&label, bytes).map_err(|source| Error::Corrupt {
            path: path.to_path_buf(),
            format,
            source,
        })?;
        return Ok(finished(path, snapshot, report));
    }
    let head = &bytes[..bytes.len().min(HEAD)];
    if !windbg::looks_like_log(&text::decode(head)) {
        return Err(Error::NotALog {
            path: path.to_path_buf(),
        });
    }
    read_log(path, bytes).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Adds `later`'s records after `out`'s; the times and uptimes read first are kept.
/// (Every field is named: a new one must be considered here.)
fn append(out: &mut DumpSnapshot, later: DumpSnapshot) {
    let DumpSnapshot {
        session_time,
        uptime_ms,
        process_uptime_ms,
        // Set when a snapshot is finished, from the joined records.
        tick_ns: _,
        tick_source: _,
        mut processes,
        mut threads,
        mut critical_sections,
        mut resources,
        mut lpc_messages,
        mut alpc_messages,
        mut irps,
        mut notes,
        mut dump_files,
        mut modules,
        mut handles,
        mut thread_details,
        mut processors,
        mut memory,
        mut pool_tags,
        mut irpfind,
        mut handle_tables,
        mut bugchecks,
        mut read_notes,
    } = later;
    if out.session_time.is_none() {
        out.session_time = session_time;
    }
    out.uptime_ms = out.uptime_ms.or(uptime_ms);
    out.process_uptime_ms = out.process_uptime_ms.or(process_uptime_ms);
    out.processes.append(&mut processes);
    out.threads.append(&mut threads);
    out.critical_sections.append(&mut critical_sections);
    out.resources.append(&mut resources);
    out.lpc_messages.append(&mut lpc_messages);
    out.alpc_messages.append(&mut alpc_messages);
    out.irps.append(&mut irps);
    out.notes.append(&mut notes);
    out.dump_files.append(&mut dump_files);
    out.modules.append(&mut modules);
    out.handles.append(&mut handles);
    out.thread_details.append(&mut thread_details);
    out.processors.append(&mut processors);
    out.memory.append(&mut memory);
    out.pool_tags.append(&mut pool_tags);
    out.irpfind.append(&mut irpfind);
    out.handle_tables.append(&mut handle_tables);
    out.bugchecks.append(&mut bugchecks);
    out.read_notes.append(&mut read_notes);
}

/// Joins the snapshots of several inputs of one incident into one.
pub fn merge(mut parts: Vec<DumpSnapshot>) -> DumpSnapshot {
    let mut out = match parts.len() {
        0 => return DumpSnapshot::default(),
        1 => return parts.remove(0),
        _ => DumpSnapshot::default(),
    };
    let joined = join::prepare(&mut parts);
    for p in parts {
        append(&mut out, p);
    }
    finish::finish(&mut out);
    out.notes.extend(joined);
    out
}
