//! What binary dump files (user-mode minidumps, kernel dump files) say beyond
//! threads and processes: header facts, modules, handles and per-thread details.
//!
//! These types hang off [`crate::DumpSnapshot`]: `dump_files` (one
//! [`DumpFile`] per file read), `modules`, `handles` and `thread_details`.
//! Times are UTC; durations are in nanoseconds unless the name says otherwise.

use chrono::{DateTime, FixedOffset, Utc};
use serde::Serialize;

use crate::model::SessionTime;

/// One binary dump file: what its headers say.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DumpFile {
    pub path: String,
    /// `minidump` or `kernel-dump`.
    pub format: String,
    pub file_size: u64,
    /// When the dump was written: the minidump header's TimeDateStamp (whole
    /// seconds) or the kernel header's SystemTime.
    pub time: Option<DateTime<Utc>>,
    pub system: Option<SystemInfo>,
    pub exception: Option<ExceptionInfo>,
    pub minidump: Option<MinidumpInfo>,
    pub kernel: Option<KernelHeader>,
    /// Set when the file is shorter than its own headers say it should be.
    pub truncation: Option<Truncation>,
}

/// The file is shorter than its headers require: data is missing from its end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Truncation {
    pub file_size: u64,
    /// The size the headers require.
    pub expected_size: u64,
    pub missing_bytes: u64,
    /// Which header field or rule gave `expected_size`.
    pub basis: String,
}

impl Truncation {
    /// `Some` when `file_size < expected_size`.
    pub(crate) fn check(
        file_size: u64,
        expected_size: u64,
        basis: impl Into<String>,
    ) -> Option<Self> {
        (file_size < expected_size).then(|| Truncation {
            file_size,
            expected_size,
            missing_bytes: expected_size - file_size,
            basis: basis.into(),
        })
    }
}

/// SystemInfo stream (minidump) or the machine fields of a kernel header.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SystemInfo {
    /// `x86`, `amd64`, `arm64`, ... or the number when unknown.
    pub architecture: String,
    pub processors: u32,
    /// 1 workstation, 2 domain controller, 3 server.
    pub product_type: Option<u8>,
    /// `10.0.17134`.
    pub os_version: Option<String>,
    /// 2 = Windows NT; Breakpad writes 0x8101 for macOS, 0x8201 for Linux.
    pub platform_id: Option<u32>,
    /// `Service Pack 2`, or a build revision such as `282`.
    pub csd_version: Option<String>,
    pub suite_mask: Option<u16>,
}

/// The exception a minidump was written for (Exception stream).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExceptionInfo {
    pub thread_id: u32,
    pub code: u32,
    pub flags: u32,
    pub address: u64,
    /// ExceptionInformation, as many as NumberParameters says (at most 15).
    pub parameters: Vec<u64>,
}

/// Facts only a minidump has.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MinidumpInfo {
    /// Header Flags: the MINIDUMP_TYPE the dump was written with.
    pub flags: u64,
    /// Stream type names in directory order (unused slots left out).
    pub streams: Vec<String>,
    pub misc: Option<MiscInfo>,
    /// MemoryList / Memory64List ranges.
    pub memory_ranges: Vec<MemoryRange>,
    pub unloaded_modules: Vec<Module>,
}

/// MiscInfo stream, any version (v1 24 bytes ... v5 1364 bytes).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MiscInfo {
    /// 1 to 5, chosen by SizeOfInfo.
    pub version: u8,
    pub flags1: u32,
    pub process_id: Option<u32>,
    /// Whole seconds (a time_t in the file).
    pub process_create_time: Option<DateTime<Utc>>,
    pub process_user_seconds: Option<u32>,
    pub process_kernel_seconds: Option<u32>,
    pub time_zone: Option<TimeZone>,
    pub build_string: Option<String>,
    pub debug_build_string: Option<String>,
    pub process_cookie: Option<u32>,
    /// XSTATE EnabledFeatures (v5).
    pub xstate_features: Option<u64>,
}

/// TIME_ZONE_INFORMATION of the machine that wrote the dump (MiscInfo v3+).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TimeZone {
    /// GetTimeZoneInformation's result: 0 unknown, 1 standard time, 2 daylight time.
    pub id: u32,
    /// Minutes; UTC = local time + bias.
    pub bias: i32,
    pub standard_name: String,
    pub standard_bias: i32,
    pub daylight_name: String,
    pub daylight_bias: i32,
}

impl TimeZone {
    /// Offset of local time from UTC in minutes at the time of the dump
    /// (east positive), from the bias in force per `id`.
    pub fn utc_offset_minutes(&self) -> i32 {
        let extra = match self.id {
            1 => self.standard_bias,
            2 => self.daylight_bias,
            _ => 0,
        };
        -(self.bias.saturating_add(extra))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MemoryRange {
    pub start: u64,
    pub size: u64,
}

/// A loaded (ModuleList) or unloaded (UnloadedModuleList) module.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Module {
    pub pid: Option<u32>,
    pub base: u64,
    pub size: u32,
    /// Full path as stored in the dump.
    pub name: String,
    /// Link time stamp (time_t) of the image.
    pub time_stamp: u32,
    pub checksum: u32,
    /// File version `a.b.c.d` from VS_FIXEDFILEINFO, when present.
    pub version: Option<String>,
    /// From a log's `lmv`: the debugger's module name (`AppA`, `nt`), the
    /// product version, and the version resource's company and description.
    pub short_name: Option<String>,
    pub product_version: Option<String>,
    pub company: Option<String>,
    pub description: Option<String>,
}

impl Module {
    /// `C:\Windows\System32\ntdll.dll` -> `ntdll.dll`.
    pub fn file_name(&self) -> &str {
        self.name.rsplit(['\\', '/']).next().unwrap_or(&self.name)
    }
}

/// One handle from the HandleData stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Handle {
    pub pid: Option<u32>,
    pub handle: u64,
    pub type_name: Option<String>,
    pub object_name: Option<String>,
    pub attributes: u32,
    pub granted_access: u32,
    pub handle_count: u32,
    pub pointer_count: u32,
    /// Object information types in the descriptor's chain (v2 descriptors).
    pub object_info_types: Vec<u32>,
    /// Mutant state and owner, when the object information carries them
    /// (from a log: `!handle X f`'s `Mutant Owner pid.tid`).
    pub mutant: Option<MutantInfo>,
    /// The object's address (a kernel `!handle` prints it).
    pub object: Option<u64>,
    /// From a log: the debugger context the entry was read in (which process
    /// it was credited to, and why).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MutantInfo {
    pub current_count: Option<i32>,
    pub abandoned: Option<bool>,
    pub owner_pid: Option<u32>,
    pub owner_tid: Option<u32>,
}

/// What a minidump says about one thread beyond [`crate::Thread`]'s fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ThreadDetail {
    pub pid: Option<u32>,
    pub tid: u32,
    /// ThreadNames stream.
    pub name: Option<String>,
    pub suspend_count: Option<u32>,
    pub priority_class: Option<u32>,
    pub priority: Option<u32>,
    pub teb: Option<u64>,
    pub stack_start: Option<u64>,
    pub stack_size: Option<u32>,
    /// ThreadInfoList: the only sub-second thread times in a minidump.
    pub create_time: Option<DateTime<Utc>>,
    pub exit_time: Option<DateTime<Utc>>,
    pub kernel_time_ns: Option<u64>,
    pub user_time_ns: Option<u64>,
    pub start_address: Option<u64>,
    /// ThreadInfoList DumpFlags: 0x1 error, 0x2 writing thread, 0x4 exited, ...
    pub dump_flags: Option<u32>,
    pub exit_status: Option<u32>,
}

/// Facts only a kernel dump header (PAGEDUMP / PAGEDU64) has.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct KernelHeader {
    /// 32 (PAGEDUMP) or 64 (PAGEDU64).
    pub bits: u8,
    pub major_version: u32,
    pub minor_version: u32,
    /// MachineImageType: 0x14c x86, 0x8664 x64, 0xaa64 arm64.
    pub machine_type: u32,
    pub dump_type: u32,
    /// `full`, `kernel`, `bitmap`, `complete`, ...
    pub dump_type_name: String,
    pub bugcheck_code: u32,
    pub bugcheck_parameters: [u64; 4],
    pub required_dump_space: u64,
    /// SystemUpTime in milliseconds.
    pub system_uptime_ms: Option<u64>,
    pub comment: Option<String>,
    /// PhysicalMemoryBlock NumberOfPages (4 KiB pages).
    pub physical_pages: Option<u64>,
    pub memory_runs: Vec<MemoryRun>,
}

/// A run of physical pages present in the dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MemoryRun {
    pub base_page: u64,
    pub page_count: u64,
}

/// FILETIME (100 ns since 1601-01-01 UTC) to UTC; 0 means "not set".
pub(crate) fn filetime(ft: u64) -> Option<DateTime<Utc>> {
    const EPOCH_DIFF_SECS: i64 = 11_644_473_600;
    if ft == 0 {
        return None;
    }
    let secs = i64::try_from(ft / 10_000_000).ok()? - EPOCH_DIFF_SECS;
    let nanos = (ft % 10_000_000) as u32 * 100;
    DateTime::from_timestamp(secs, nanos)
}

/// The dump time of a binary dump as a [`SessionTime`]: UTC from the header,
/// local time and zone when the dump records the writer's zone.
pub(crate) fn header_session_time(
    utc: DateTime<Utc>,
    offset_minutes: Option<i32>,
    source: &str,
) -> SessionTime {
    let offset = offset_minutes.and_then(|m| FixedOffset::east_opt(m.checked_mul(60)?));
    let (local, raw) = match offset {
        Some(o) => {
            let local = utc.with_timezone(&o).naive_local();
            (
                local,
                format!(
                    "{} (UTC{o}) from the {source}",
                    local.format("%Y-%m-%d %H:%M:%S%.3f")
                ),
            )
        }
        None => (
            utc.naive_utc(),
            format!(
                "{} UTC from the {source} (writer's zone not recorded)",
                utc.format("%Y-%m-%d %H:%M:%S%.3f")
            ),
        ),
    };
    SessionTime {
        raw,
        local,
        offset,
        utc: Some(utc),
    }
}

/// What a reader should know about a binary dump file, as snapshot notes.
pub(crate) fn notes(f: &DumpFile) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(t) = &f.truncation {
        notes.push(format!(
            "truncated dump: {} is {} bytes but its headers require {} ({}); {} bytes are missing, so data from its end is lost (the header times are still valid)",
            f.path, t.file_size, t.expected_size, t.basis, t.missing_bytes
        ));
    }
    if let Some(p) = f
        .system
        .as_ref()
        .and_then(|s| s.platform_id)
        .filter(|&p| p != 2)
    {
        notes.push(format!(
            "{} is not a Windows dump (SystemInfo PlatformId {p:#x}): its threads and modules are listed, nothing Windows-specific is assumed",
            f.path
        ));
    }
    if f.format == crate::MINIDUMP && f.time.is_none() {
        notes.push(format!(
            "{} has no header time stamp: the dump time is unknown",
            f.path
        ));
    }
    notes
}
