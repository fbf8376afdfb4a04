//! Reading user-mode minidumps (`MDMP`) into a [`DumpSnapshot`].
//!
//! A minidump is a 32-byte header, a directory of {type, size, RVA} entries and
//! the streams they point at (formats.md §2). [`read`] walks the directory,
//! decodes the streams in `streams.rs` and `handles.rs`, and assembles threads,
//! the process, modules and handles in `build.rs`. A stream that cannot be read
//! becomes one skipped entry in the report (its byte offset in `Skip::line`);
//! the other streams are still used.

mod build;
mod handles;
mod streams;

use winnow::binary::{le_u32, le_u64};

use crate::bytes::{Bytes, FormatError};
use crate::dumpfile::{DumpFile, MinidumpInfo, Truncation};
use crate::model::DumpSnapshot;
use crate::{InputReport, Skip};
use streams::{kind, Entry};

/// Format name of minidumps, as listed in reports.
pub(crate) const FORMAT: &str = "minidump";

/// `MDMP` at offset 0 (formats.md §2: MINIDUMP_HEADER.Signature).
pub(crate) fn looks_like(bytes: &[u8]) -> bool {
    bytes.starts_with(b"MDMP")
}

/// MINIDUMP_VERSION in the low 16 bits of Version (all 6 samples have it).
const VERSION: u32 = 0xA793;

/// Reads a whole minidump. Fails only when the 32-byte header cannot be read.
pub(crate) fn read(label: &str, data: &[u8]) -> Result<(DumpSnapshot, InputReport), FormatError> {
    let file = Bytes::new(data);
    let (_signature, version, count, dir_rva, _checksum, stamp, flags) = file.parse(
        "minidump header",
        0,
        32,
        (le_u32, le_u32, le_u32, le_u32, le_u32, le_u32, le_u64),
    )?;
    let mut r = Reader {
        file,
        label,
        report: InputReport::new(label, FORMAT),
        dump: DumpFile {
            path: label.to_string(),
            format: FORMAT.to_string(),
            file_size: file.len(),
            // TimeDateStamp: a time_t, UTC, when the dump was written (formats.md §2).
            time: chrono::DateTime::from_timestamp(i64::from(stamp), 0).filter(|_| stamp != 0),
            ..DumpFile::default()
        },
        info: MinidumpInfo {
            flags,
            ..MinidumpInfo::default()
        },
        parts: build::Parts::default(),
        furthest: None,
    };
    r.report.records += 1;
    if version & 0xFFFF != VERSION {
        r.skip(&FormatError::invalid(
            "minidump header",
            4,
            format!("Version {version:#x} does not have the MINIDUMP_VERSION {VERSION:#x} in its low 16 bits; read anyway"),
        ));
    }
    let entries = r.directory(u64::from(count), u64::from(dir_rva));
    r.report.lines = entries.len() as u64;
    r.streams(&entries);
    Ok(r.finish())
}

struct Reader<'a> {
    file: Bytes<'a>,
    label: &'a str,
    report: InputReport,
    dump: DumpFile,
    info: MinidumpInfo,
    parts: build::Parts,
    /// The furthest end of a structure the headers point at, and what it is.
    furthest: Option<(u64, String)>,
}

impl Reader<'_> {
    fn skip(&mut self, err: &FormatError) {
        self.report.skip(Skip {
            line: err.offset(),
            reason: err.reason(),
            text: err.to_string(),
        });
    }

    fn skip_all(&mut self, errs: Vec<FormatError>) {
        for e in &errs {
            self.skip(e);
        }
    }

    fn reach(&mut self, end: u64, what: String) {
        if self.furthest.as_ref().is_none_or(|(e, _)| end > *e) {
            self.furthest = Some((end, what));
        }
    }

    /// The directory entries; when the directory runs past the end of the
    /// file, the entries that are in the file.
    fn directory(&mut self, count: u64, rva: u64) -> Vec<Entry> {
        const WHAT: &str = "stream directory";
        self.reach(
            rva.saturating_add(count.saturating_mul(12)),
            format!("the {count}-entry stream directory"),
        );
        let in_file = self.file.len().saturating_sub(rva) / 12;
        if count > in_file {
            self.skip(&FormatError::TooMany {
                what: WHAT,
                offset: rva,
                count,
                entry_size: 12,
                file_len: self.file.len(),
            });
        }
        let parsed = self
            .file
            .array(WHAT, rva, count.min(in_file), 12, (le_u32, le_u32, le_u32));
        match parsed {
            Ok(raw) => raw
                .into_iter()
                .map(|(kind, size, rva)| Entry {
                    kind,
                    size: u64::from(size),
                    rva: u64::from(rva),
                })
                .collect(),
            Err(e) => {
                self.skip(&e);
                Vec::new()
            }
        }
    }

    fn streams(&mut self, entries: &[Entry]) {
        // SystemInfo and MiscInfo first: the process id and the architecture
        // apply to every other stream.
        let mut order: Vec<&Entry> = entries.iter().filter(|e| e.kind != 0).collect();
        order.sort_by_key(|e| !matches!(e.kind, kind::SYSTEM_INFO | kind::MISC_INFO));
        for e in entries.iter().filter(|e| e.kind != 0) {
            self.info.streams.push(streams::name(e.kind).to_string());
        }
        for e in order {
            self.reach(e.end(), format!("the {} stream", streams::name(e.kind)));
            if e.end() > self.file.len() {
                self.skip(&FormatError::PastEnd {
                    what: streams::what(e.kind),
                    offset: e.rva,
                    len: e.size,
                    file_len: self.file.len(),
                });
                continue;
            }
            match self.stream(e) {
                Ok(true) => self.report.records += 1,
                Ok(false) => {}
                Err(err) => self.skip(&err),
            }
        }
    }

    /// Reads one stream; `Ok(false)` for streams dumptrace does not use.
    fn stream(&mut self, e: &Entry) -> Result<bool, FormatError> {
        let f = &self.file;
        let pid = self.info.misc.as_ref().and_then(|m| m.process_id);
        match e.kind {
            kind::SYSTEM_INFO => self.dump.system = Some(streams::system_info(f, e)?),
            kind::MISC_INFO => self.info.misc = Some(streams::misc_info(f, e)?),
            kind::THREAD_LIST => self.parts.threads.extend(streams::thread_list(f, e)?),
            kind::THREAD_INFO_LIST => self.parts.infos.extend(streams::thread_info_list(f, e)?),
            kind::THREAD_NAMES => {
                let (names, errs) = streams::thread_names(f, e)?;
                self.parts.names.extend(names);
                self.skip_all(errs);
            }
            kind::MODULE_LIST => {
                let (modules, errs) = streams::module_list(f, e)?;
                self.parts.modules.extend(modules);
                self.skip_all(errs);
            }
            kind::UNLOADED_MODULE_LIST => {
                let (modules, errs) = streams::unloaded_module_list(f, e)?;
                self.info.unloaded_modules.extend(modules);
                self.skip_all(errs);
            }
            kind::MEMORY_LIST | kind::MEMORY64_LIST => self
                .info
                .memory_ranges
                .extend(streams::memory_ranges(f, e)?),
            kind::EXCEPTION => self.dump.exception = Some(streams::exception(f, e)?),
            kind::HANDLE_DATA => {
                let (handles, errs) = handles::handle_data(f, e, pid)?;
                self.parts.handles.extend(handles);
                self.skip_all(errs);
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn finish(mut self) -> (DumpSnapshot, InputReport) {
        if let Some((end, what)) = self.furthest.take() {
            self.dump.truncation =
                Truncation::check(self.file.len(), end, format!("end of {what}"));
        }
        self.dump.minidump = Some(self.info);
        let snapshot = build::snapshot(self.label, self.dump, self.parts);
        (snapshot, self.report)
    }
}

#[cfg(test)]
mod samples;
#[cfg(test)]
mod tests;
