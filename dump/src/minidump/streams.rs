//! The minidump streams dumptrace reads, each decoded from the mapped file.
//!
//! Layouts are those of formats.md §2 (minidumpapiset.h as transcribed by
//! rust-minidump `minidump-common/src/format.rs`, libyal libmdmp and skelsec
//! minidump). Every function takes the stream's directory entry, checks counts
//! and sizes against the stream and the file, and returns plain values; turning
//! them into snapshot types is `build.rs`'s job.

use winnow::binary::{le_i32, le_u16, le_u32, le_u64, u8 as le_u8};
use winnow::combinator::seq;
use winnow::token::take;
use winnow::Parser;

use crate::bytes::{utf16_lossy, Bytes, FormatError};
use crate::dumpfile::{ExceptionInfo, MemoryRange, MiscInfo, Module, SystemInfo, TimeZone};

type PResult<O> = winnow::Result<O>;

/// A stream's values, and the errors of the parts of it that could not be read
/// (a bad name RVA loses the name, not the stream).
pub(crate) type Partial<T> = Result<(Vec<T>, Vec<FormatError>), FormatError>;

/// One directory entry: where a stream is.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry {
    pub(crate) kind: u32,
    pub(crate) size: u64,
    pub(crate) rva: u64,
}

impl Entry {
    pub(crate) fn end(&self) -> u64 {
        self.rva.saturating_add(self.size)
    }
}

/// Stream type numbers (formats.md §2 table).
pub(crate) mod kind {
    pub(crate) const THREAD_LIST: u32 = 3;
    pub(crate) const MODULE_LIST: u32 = 4;
    pub(crate) const MEMORY_LIST: u32 = 5;
    pub(crate) const EXCEPTION: u32 = 6;
    pub(crate) const SYSTEM_INFO: u32 = 7;
    pub(crate) const MEMORY64_LIST: u32 = 9;
    pub(crate) const HANDLE_DATA: u32 = 12;
    pub(crate) const UNLOADED_MODULE_LIST: u32 = 14;
    pub(crate) const MISC_INFO: u32 = 15;
    pub(crate) const THREAD_INFO_LIST: u32 = 17;
    pub(crate) const THREAD_NAMES: u32 = 24;
}

/// A stream type as named in errors: `ThreadList stream`.
pub(crate) fn what(kind: u32) -> &'static str {
    match kind {
        0 => "Unused stream",
        3 => "ThreadList stream",
        4 => "ModuleList stream",
        5 => "MemoryList stream",
        6 => "Exception stream",
        7 => "SystemInfo stream",
        8 => "ThreadExList stream",
        9 => "Memory64List stream",
        10 => "CommentA stream",
        11 => "CommentW stream",
        12 => "HandleData stream",
        13 => "FunctionTable stream",
        14 => "UnloadedModuleList stream",
        15 => "MiscInfo stream",
        16 => "MemoryInfoList stream",
        17 => "ThreadInfoList stream",
        18 => "HandleOperationList stream",
        19 => "Token stream",
        21 => "SystemMemoryInfo stream",
        22 => "ProcessVmCounters stream",
        24 => "ThreadNames stream",
        // Breakpad and Crashpad extensions, seen in rust-minidump__test.dmp,
        // rust-minidump__invalid-parameter.dmp and rust-minidump__simple-crashpad.dmp.
        0x4767_0001 => "BreakpadInfo stream",
        0x4767_0002 => "BreakpadAssertion stream",
        0x4350_0001 => "CrashpadInfo stream",
        _ => "Unknown stream",
    }
}

/// The name of a stream type, for reports: `ThreadList`.
pub(crate) fn name(kind: u32) -> &'static str {
    what(kind).trim_end_matches(" stream")
}

/// A MINIDUMP_STRING: u32 byte length, then UTF-16 LE.
pub(crate) fn string(
    file: &Bytes<'_>,
    what: &'static str,
    rva: u64,
) -> Result<String, FormatError> {
    let len = file.parse(what, rva, 4, le_u32)?;
    file.utf16(what, rva.saturating_add(4), u64::from(len))
}

/// Where a list's entries start: after its u32 count, or after count and 4
/// bytes of padding. Quirk: some writers pad the count of ThreadList,
/// ModuleList and MemoryList to 8 bytes (rust-minidump `minidump.rs`, the
/// list readers accept `expected + 4`); the stream size tells which.
fn list_entries(
    file: &Bytes<'_>,
    what: &'static str,
    e: &Entry,
    entry_size: u64,
) -> Result<(u64, u64), FormatError> {
    let count = u64::from(file.parse(what, e.rva, 4, le_u32)?);
    let body = count.saturating_mul(entry_size);
    let start = if body.checked_add(8) == Some(e.size) {
        8
    } else {
        4
    };
    if body > e.size.saturating_sub(start) {
        return Err(FormatError::TooMany {
            what,
            offset: e.rva,
            count,
            entry_size,
            file_len: file.len(),
        });
    }
    Ok((e.rva + start, count))
}

#[derive(Debug, Clone, Default)]
pub(crate) struct RawThread {
    pub(crate) tid: u32,
    pub(crate) suspend_count: u32,
    pub(crate) priority_class: u32,
    pub(crate) priority: u32,
    pub(crate) teb: u64,
    pub(crate) stack_start: u64,
    pub(crate) stack_size: u32,
    /// File offset of the entry.
    pub(crate) offset: u64,
}

/// ThreadList (3): u32 count, 48-byte MINIDUMP_THREAD entries (formats.md §2, verified).
pub(crate) fn thread_list(file: &Bytes<'_>, e: &Entry) -> Result<Vec<RawThread>, FormatError> {
    const WHAT: &str = "ThreadList stream";
    let (start, count) = list_entries(file, WHAT, e, 48)?;
    let entry = seq! {RawThread {
        tid: le_u32,
        suspend_count: le_u32,
        priority_class: le_u32,
        priority: le_u32,
        teb: le_u64,
        stack_start: le_u64,
        stack_size: le_u32,
        ..RawThread::default()
    }};
    let mut threads = file.array(WHAT, start, count, 48, entry)?;
    for (i, t) in threads.iter_mut().enumerate() {
        t.offset = start + i as u64 * 48;
    }
    Ok(threads)
}

#[derive(Debug, Clone, Default)]
pub(crate) struct RawThreadInfo {
    pub(crate) tid: u32,
    pub(crate) dump_flags: u32,
    pub(crate) exit_status: u32,
    pub(crate) create_time: u64,
    pub(crate) exit_time: u64,
    pub(crate) kernel_time: u64,
    pub(crate) user_time: u64,
    pub(crate) start_address: u64,
}

/// ThreadInfoList (17): {SizeOfHeader, SizeOfEntry, Count}, then 64-byte (or
/// larger) entries (formats.md §2; [source] only, no sample has this stream).
pub(crate) fn thread_info_list(
    file: &Bytes<'_>,
    e: &Entry,
) -> Result<Vec<RawThreadInfo>, FormatError> {
    const WHAT: &str = "ThreadInfoList stream";
    let (start, stride, count) = sized_list(file, WHAT, e, 12, 64)?;
    let entry = seq! {RawThreadInfo {
        tid: le_u32,
        dump_flags: le_u32,
        _: le_u32,
        exit_status: le_u32,
        create_time: le_u64,
        exit_time: le_u64,
        kernel_time: le_u64,
        user_time: le_u64,
        start_address: le_u64,
    }};
    file.array(WHAT, start, count, stride, entry)
}

/// A list with its own header {SizeOfHeader, SizeOfEntry, Count, ...}
/// (ThreadInfoList, UnloadedModuleList, HandleData). Both sizes are honoured,
/// so that larger entries of later versions still read, and must be at least
/// what dumptrace decodes; the entries must fit in the stream. Returns the
/// first entry's offset, the entry size and the count.
pub(crate) fn sized_list(
    file: &Bytes<'_>,
    what: &'static str,
    e: &Entry,
    min_header: u32,
    min_entry: u32,
) -> Result<(u64, u64, u64), FormatError> {
    let (header, entry, count) = file.parse(what, e.rva, 12, (le_u32, le_u32, le_u32))?;
    if header < min_header || entry < min_entry {
        return Err(FormatError::invalid(
            what,
            e.rva,
            format!("SizeOfHeader {header} / SizeOfEntry {entry} smaller than {min_header} / {min_entry}"),
        ));
    }
    let (header, entry, count) = (u64::from(header), u64::from(entry), u64::from(count));
    let need = count.checked_mul(entry).and_then(|b| b.checked_add(header));
    if need.is_none_or(|n| n > e.size) {
        return Err(FormatError::TooMany {
            what,
            offset: e.rva,
            count,
            entry_size: entry,
            file_len: file.len(),
        });
    }
    Ok((e.rva + header, entry, count))
}

/// ThreadNames (24): u32 count, 12-byte {ThreadId, RVA64 of a MINIDUMP_STRING}
/// (formats.md §2, verified on breakpad__thread_name_list.dmp). A name that
/// cannot be read is left out with its error.
pub(crate) fn thread_names(file: &Bytes<'_>, e: &Entry) -> Partial<(u32, String)> {
    const WHAT: &str = "ThreadNames stream";
    let (start, count) = list_entries(file, WHAT, e, 12)?;
    let raw = file.array(WHAT, start, count, 12, (le_u32, le_u64))?;
    let mut names = Vec::with_capacity(raw.len());
    let mut errors = Vec::new();
    for (tid, rva) in raw {
        match string(file, "thread name", rva) {
            Ok(n) => names.push((tid, n)),
            Err(err) => errors.push(err),
        }
    }
    Ok((names, errors))
}

/// VS_FIXEDFILEINFO (52 bytes) -> file version `a.b.c.d`, when its signature is right.
fn file_version(i: &mut &[u8]) -> PResult<Option<String>> {
    let (signature, _struct_version, ms, ls) = (le_u32, le_u32, le_u32, le_u32).parse_next(i)?;
    take(36usize).void().parse_next(i)?;
    Ok((signature == 0xFEEF_04BD)
        .then(|| format!("{}.{}.{}.{}", ms >> 16, ms & 0xFFFF, ls >> 16, ls & 0xFFFF)))
}

/// The fields MINIDUMP_MODULE and MINIDUMP_UNLOADED_MODULE share: BaseOfImage,
/// SizeOfImage, CheckSum, TimeDateStamp, then the name's RVA.
fn module_head(i: &mut &[u8]) -> PResult<(Module, u32)> {
    let (base, size, checksum, time_stamp, name_rva) =
        (le_u64, le_u32, le_u32, le_u32, le_u32).parse_next(i)?;
    let m = Module {
        base,
        size,
        checksum,
        time_stamp,
        ..Module::default()
    };
    Ok((m, name_rva))
}

/// ModuleList (4): u32 count, packed 108-byte MINIDUMP_MODULE entries (formats.md §2, verified).
pub(crate) fn module_list(file: &Bytes<'_>, e: &Entry) -> Partial<Module> {
    const WHAT: &str = "ModuleList stream";
    let (start, count) = list_entries(file, WHAT, e, 108)?;
    let entry =
        (module_head, file_version).map(|((m, rva), version)| (Module { version, ..m }, rva));
    let raw = file.array(WHAT, start, count, 108, entry)?;
    Ok(named(file, raw, "module name"))
}

/// Reads each module's name; a module whose name is unreadable keeps an empty name.
fn named(
    file: &Bytes<'_>,
    raw: Vec<(Module, u32)>,
    what: &'static str,
) -> (Vec<Module>, Vec<FormatError>) {
    let mut errors = Vec::new();
    let modules = raw
        .into_iter()
        .map(|(mut m, rva)| {
            match string(file, what, u64::from(rva)) {
                Ok(n) => m.name = n,
                Err(err) => errors.push(err),
            }
            m
        })
        .collect();
    (modules, errors)
}

/// UnloadedModuleList (14): {SizeOfHeader, SizeOfEntry, Count}, 24-byte entries
/// (rust-minidump format.rs MINIDUMP_UNLOADED_MODULE; one entry in
/// breakpad__tiny-exe-with-cet-xsave.dmp).
pub(crate) fn unloaded_module_list(file: &Bytes<'_>, e: &Entry) -> Partial<Module> {
    const WHAT: &str = "UnloadedModuleList stream";
    let (start, stride, count) = sized_list(file, WHAT, e, 12, 24)?;
    let raw = file.array(WHAT, start, count, stride, module_head)?;
    Ok(named(file, raw, "unloaded module name"))
}

/// MemoryList (5): u32 count, 16-byte {start, DataSize, Rva}; Memory64List (9):
/// {u64 count, u64 BaseRva}, 16-byte {start, size} (minidumpapiset.h via formats.md §2).
pub(crate) fn memory_ranges(file: &Bytes<'_>, e: &Entry) -> Result<Vec<MemoryRange>, FormatError> {
    if e.kind == kind::MEMORY64_LIST {
        const WHAT: &str = "Memory64List stream";
        let (count, _base_rva) = file.parse(WHAT, e.rva, 16, (le_u64, le_u64))?;
        if count
            .checked_mul(16)
            .is_none_or(|b| b > e.size.saturating_sub(16))
        {
            return Err(FormatError::TooMany {
                what: WHAT,
                offset: e.rva,
                count,
                entry_size: 16,
                file_len: file.len(),
            });
        }
        return file.array(
            WHAT,
            e.rva + 16,
            count,
            16,
            (le_u64, le_u64).map(|(start, size)| MemoryRange { start, size }),
        );
    }
    const WHAT: &str = "MemoryList stream";
    let (start, count) = list_entries(file, WHAT, e, 16)?;
    file.array(
        WHAT,
        start,
        count,
        16,
        (le_u64, le_u32, le_u32).map(|(start, size, _rva)| MemoryRange {
            start,
            size: u64::from(size),
        }),
    )
}

/// Exception (6), 168 bytes: ThreadId, pad, MINIDUMP_EXCEPTION, context location
/// (formats.md §2, verified: codes 0xC0000005, 0xC000000D, 0xC0000409 in the samples).
pub(crate) fn exception(file: &Bytes<'_>, e: &Entry) -> Result<ExceptionInfo, FormatError> {
    const WHAT: &str = "Exception stream";
    file.parse(
        WHAT,
        e.rva,
        160,
        |i: &mut &[u8]| -> PResult<ExceptionInfo> {
            let (thread_id, _pad, code, flags, _record, address, n, _align) = (
                le_u32, le_u32, le_u32, le_u32, le_u64, le_u64, le_u32, le_u32,
            )
                .parse_next(i)?;
            let mut parameters = Vec::with_capacity(15);
            for _ in 0..15 {
                parameters.push(le_u64.parse_next(i)?);
            }
            // NumberParameters above EXCEPTION_MAXIMUM_PARAMETERS (15) is corrupt: keep 15.
            parameters.truncate(n.min(15) as usize);
            Ok(ExceptionInfo {
                thread_id,
                code,
                flags,
                address,
                parameters,
            })
        },
    )
}

/// SystemInfo (7), 56 bytes (formats.md §2, verified).
pub(crate) fn system_info(file: &Bytes<'_>, e: &Entry) -> Result<SystemInfo, FormatError> {
    const WHAT: &str = "SystemInfo stream";
    let (
        arch,
        _level,
        _revision,
        processors,
        product_type,
        major,
        minor,
        build,
        platform,
        csd_rva,
        suite,
    ) = file.parse(
        WHAT,
        e.rva,
        30,
        (
            le_u16, le_u16, le_u16, le_u8, le_u8, le_u32, le_u32, le_u32, le_u32, le_u32, le_u16,
        ),
    )?;
    // The CSD string is optional: a bad RVA loses it, not the stream.
    let csd_version = match csd_rva {
        0 => None,
        rva => string(file, "CSDVersion string", u64::from(rva))
            .ok()
            .filter(|s| !s.is_empty()),
    };
    Ok(SystemInfo {
        architecture: architecture(arch),
        processors: u32::from(processors),
        product_type: Some(product_type),
        os_version: Some(format!("{major}.{minor}.{build}")),
        platform_id: Some(platform),
        csd_version,
        suite_mask: Some(suite),
    })
}

/// PROCESSOR_ARCHITECTURE_* names (winnt.h, as in rust-minidump format.rs).
fn architecture(n: u16) -> String {
    match n {
        0 => "x86".into(),
        5 => "arm".into(),
        6 => "ia64".into(),
        9 => "amd64".into(),
        12 => "arm64".into(),
        other => format!("architecture {other}"),
    }
}

/// MiscInfo validity bits (rust-minidump `MiscInfoFlags`, formats.md §2).
mod misc_flags {
    pub(super) const PROCESS_ID: u32 = 0x1;
    pub(super) const PROCESS_TIMES: u32 = 0x2;
    pub(super) const TIMEZONE: u32 = 0x40;
    pub(super) const BUILDSTRING: u32 = 0x100;
    pub(super) const PROCESS_COOKIE: u32 = 0x200;
}

/// MiscInfo (15), v1 24 ... v5 1364 bytes; the version follows SizeOfInfo
/// (formats.md §2, verified: v1 rust-minidump__test.dmp, v4 simple-crashpad,
/// v5 invalid-parameter and thread_name_list). A SizeOfInfo larger than the
/// stream is corrupt: only what the stream holds is read.
pub(crate) fn misc_info(file: &Bytes<'_>, e: &Entry) -> Result<MiscInfo, FormatError> {
    const WHAT: &str = "MiscInfo stream";
    let declared = u64::from(file.parse(WHAT, e.rva, 4, le_u32)?);
    let size = declared.min(e.size);
    let version = match size {
        1364.. => 5,
        832.. => 4,
        232.. => 3,
        44.. => 2,
        24.. => 1,
        _ => {
            return Err(FormatError::invalid(
                WHAT,
                e.rva,
                format!(
                    "SizeOfInfo {declared} (stream {} bytes) is below the 24 of version 1",
                    e.size
                ),
            ))
        }
    };
    let (_, flags1, pid, create, user, kernel) = file.parse(
        WHAT,
        e.rva,
        24,
        (le_u32, le_u32, le_u32, le_u32, le_u32, le_u32),
    )?;
    let has = |bit: u32| flags1 & bit != 0;
    let mut m = MiscInfo {
        version,
        flags1,
        process_id: has(misc_flags::PROCESS_ID).then_some(pid),
        process_create_time: has(misc_flags::PROCESS_TIMES)
            .then(|| chrono::DateTime::from_timestamp(i64::from(create), 0))
            .flatten(),
        process_user_seconds: has(misc_flags::PROCESS_TIMES).then_some(user),
        process_kernel_seconds: has(misc_flags::PROCESS_TIMES).then_some(kernel),
        ..MiscInfo::default()
    };
    if version >= 3 && has(misc_flags::TIMEZONE) {
        m.time_zone = Some(file.parse(WHAT, e.rva + 56, 176, time_zone)?);
    }
    if version >= 4 && has(misc_flags::BUILDSTRING) {
        let strings = file.slice(WHAT, e.rva + 232, 600)?;
        m.build_string = Some(utf16_lossy(&strings[..520])).filter(|s| !s.is_empty());
        m.debug_build_string = Some(utf16_lossy(&strings[520..])).filter(|s| !s.is_empty());
    }
    if version >= 5 {
        let (features, cookie) = file
            .parse(WHAT, e.rva + 840, 8, le_u64)
            .and_then(|f| Ok((f, file.parse(WHAT, e.rva + 1360, 4, le_u32)?)))?;
        m.xstate_features = Some(features);
        m.process_cookie = has(misc_flags::PROCESS_COOKIE).then_some(cookie);
    }
    Ok(m)
}

/// TimeZoneId (u32) then TIME_ZONE_INFORMATION (172 bytes): Bias, StandardName[32],
/// StandardDate, StandardBias, DaylightName[32], DaylightDate, DaylightBias.
fn time_zone(i: &mut &[u8]) -> PResult<TimeZone> {
    let (id, bias) = (le_u32, le_i32).parse_next(i)?;
    let standard_name = take(64usize).map(utf16_lossy).parse_next(i)?;
    let (_, standard_bias) = (take(16usize), le_i32).parse_next(i)?;
    let daylight_name = take(64usize).map(utf16_lossy).parse_next(i)?;
    let (_, daylight_bias) = (take(16usize), le_i32).parse_next(i)?;
    Ok(TimeZone {
        id,
        bias,
        standard_name,
        standard_bias,
        daylight_name,
        daylight_bias,
    })
}
