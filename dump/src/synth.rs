//! Synthetic minidumps and kernel dump headers, built in code for tests.
//!
//! [`MinidumpWriter`] lays a minidump out the simple way: the 32-byte header,
//! then blobs (strings, object information, stream bodies) in the order they
//! are added, then the stream directory, whose RVA the header gets last. The
//! stream body functions take RVAs of blobs already written, so any layout,
//! including broken ones, can be expressed. [`kernel_dump`] writes a
//! `PAGEDUMP`/`PAGEDU64` file from a [`KernelSpec`].
//!
//! ```
//! use dumptrace_dump::synth::{self, MinidumpWriter};
//! let mut w = MinidumpWriter::new(0x45d3_5f73);
//! let name = w.string("main thread");
//! w.stream(synth::THREAD_NAMES, &synth::thread_names(&[(0xbf4, name)]));
//! let bytes = w.finish();
//! assert_eq!(dumptrace_dump::detect(&bytes), Some("minidump"));
//! ```

/// Stream types (formats.md §2).
pub const THREAD_LIST: u32 = 3;
pub const MODULE_LIST: u32 = 4;
pub const MEMORY_LIST: u32 = 5;
pub const EXCEPTION: u32 = 6;
pub const SYSTEM_INFO: u32 = 7;
pub const MEMORY64_LIST: u32 = 9;
pub const HANDLE_DATA: u32 = 12;
pub const UNLOADED_MODULE_LIST: u32 = 14;
pub const MISC_INFO: u32 = 15;
pub const THREAD_INFO_LIST: u32 = 17;
pub const THREAD_NAMES: u32 = 24;

/// Little-endian field writer.
#[derive(Default)]
struct Le(Vec<u8>);

/// `le.u32(v)` etc.: appends `v` in little-endian order.
macro_rules! le_writers {
    ($($name:ident: $t:ty),*) => {
        $(fn $name(&mut self, v: $t) -> &mut Self {
            self.0.extend_from_slice(&v.to_le_bytes());
            self
        })*
    };
}

impl Le {
    le_writers!(u8: u8, u16: u16, u32: u32, i32: i32, u64: u64);

    fn zeros(&mut self, n: usize) -> &mut Self {
        self.0.resize(self.0.len() + n, 0);
        self
    }
    /// UTF-16 LE of `s` in a NUL-padded field of `units` code units.
    fn utf16_field(&mut self, s: &str, units: usize) -> &mut Self {
        let mut v: Vec<u16> = s.encode_utf16().take(units.saturating_sub(1)).collect();
        v.resize(units, 0);
        for u in v {
            self.u16(u);
        }
        self
    }
    fn done(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.0)
    }
}

/// Builds a minidump in memory.
pub struct MinidumpWriter {
    buf: Vec<u8>,
    directory: Vec<(u32, u32, u32)>,
    time_stamp: u32,
    flags: u64,
}

impl MinidumpWriter {
    /// An empty minidump written at `time_stamp` (time_t, UTC).
    pub fn new(time_stamp: u32) -> Self {
        MinidumpWriter {
            buf: vec![0; 32],
            directory: Vec::new(),
            time_stamp,
            flags: 0,
        }
    }

    /// Header Flags (MINIDUMP_TYPE).
    pub fn flags(&mut self, flags: u64) -> &mut Self {
        self.flags = flags;
        self
    }

    /// Appends `bytes` at a 4-byte aligned RVA and returns it.
    pub fn blob(&mut self, bytes: &[u8]) -> u32 {
        self.buf.resize(self.buf.len().next_multiple_of(4), 0);
        let rva = self.buf.len() as u32;
        self.buf.extend_from_slice(bytes);
        rva
    }

    /// Appends a MINIDUMP_STRING and returns its RVA.
    pub fn string(&mut self, s: &str) -> u32 {
        let units: Vec<u16> = s.encode_utf16().collect();
        let mut le = Le::default();
        le.u32(units.len() as u32 * 2);
        for u in units {
            le.u16(u);
        }
        self.blob(&le.done())
    }

    /// Appends a stream body and its directory entry.
    pub fn stream(&mut self, kind: u32, body: &[u8]) -> &mut Self {
        let rva = self.blob(body);
        self.directory.push((kind, body.len() as u32, rva));
        self
    }

    /// A directory entry as given, pointing anywhere (for corrupt dumps).
    pub fn raw_entry(&mut self, kind: u32, size: u32, rva: u32) -> &mut Self {
        self.directory.push((kind, size, rva));
        self
    }

    /// The file: header, blobs, then the directory.
    pub fn finish(&mut self) -> Vec<u8> {
        let dir_rva = self.blob(&[]);
        for &(kind, size, rva) in &self.directory {
            let mut le = Le::default();
            self.buf
                .extend_from_slice(&le.u32(kind).u32(size).u32(rva).done());
        }
        let mut h = Le::default();
        h.0.extend_from_slice(b"MDMP");
        h.u32(0xA793)
            .u32(self.directory.len() as u32)
            .u32(dir_rva)
            .u32(0)
            .u32(self.time_stamp)
            .u64(self.flags);
        self.buf[..32].copy_from_slice(&h.done());
        std::mem::take(&mut self.buf)
    }
}

/// One MINIDUMP_THREAD.
#[derive(Debug, Clone, Default)]
pub struct Thread {
    pub tid: u32,
    pub suspend_count: u32,
    pub priority_class: u32,
    pub priority: u32,
    pub teb: u64,
    pub stack_start: u64,
    pub stack_size: u32,
}

/// A list body: the `header` words ([`COUNT`] where the item count goes), then each entry.
fn list<T>(header: &[u32], items: &[T], mut entry: impl FnMut(&mut Le, &T)) -> Vec<u8> {
    let mut le = Le::default();
    for &h in header {
        le.u32(if h == COUNT { items.len() as u32 } else { h });
    }
    for item in items {
        entry(&mut le, item);
    }
    le.done()
}

/// Stands for the item count in a list header.
const COUNT: u32 = u32::MAX;

/// ThreadList body: u32 count, 48-byte entries.
pub fn thread_list(threads: &[Thread]) -> Vec<u8> {
    list(&[COUNT], threads, |le, t| {
        le.u32(t.tid).u32(t.suspend_count).u32(t.priority_class);
        le.u32(t.priority).u64(t.teb).u64(t.stack_start);
        le.u32(t.stack_size).zeros(12);
    })
}

/// One MINIDUMP_THREAD_INFO (times are FILETIMEs / 100 ns durations).
#[derive(Debug, Clone, Default)]
pub struct ThreadInfo {
    pub tid: u32,
    pub dump_flags: u32,
    pub exit_status: u32,
    pub create_time: u64,
    pub exit_time: u64,
    pub kernel_time: u64,
    pub user_time: u64,
    pub start_address: u64,
}

/// ThreadInfoList body: 12-byte header, 64-byte entries.
pub fn thread_info_list(infos: &[ThreadInfo]) -> Vec<u8> {
    list(&[12, 64, COUNT], infos, |le, i| {
        le.u32(i.tid).u32(i.dump_flags).u32(0).u32(i.exit_status);
        le.u64(i.create_time).u64(i.exit_time);
        le.u64(i.kernel_time).u64(i.user_time);
        le.u64(i.start_address).u64(1);
    })
}

/// ThreadNames body: u32 count, {tid, RVA64 of a MINIDUMP_STRING}.
pub fn thread_names(names: &[(u32, u32)]) -> Vec<u8> {
    list(&[COUNT], names, |le, &(tid, rva)| {
        le.u32(tid).u64(u64::from(rva));
    })
}

/// One MINIDUMP_MODULE (or unloaded module: `version` unused there).
#[derive(Debug, Clone, Default)]
pub struct Module {
    pub base: u64,
    pub size: u32,
    pub checksum: u32,
    pub time_stamp: u32,
    pub name_rva: u32,
    /// (dwFileVersionMS, dwFileVersionLS).
    pub version: Option<(u32, u32)>,
}

/// The fields a module and an unloaded module share.
fn module_head(le: &mut Le, m: &Module) {
    le.u64(m.base).u32(m.size).u32(m.checksum);
    le.u32(m.time_stamp).u32(m.name_rva);
}

/// ModuleList body: u32 count, packed 108-byte entries.
pub fn module_list(modules: &[Module]) -> Vec<u8> {
    list(&[COUNT], modules, |le, m| {
        module_head(le, m);
        match m.version {
            Some((ms, ls)) => le.u32(0xFEEF_04BD).u32(0x1_0000).u32(ms).u32(ls).zeros(36),
            None => le.zeros(52),
        };
        le.zeros(32);
    })
}

/// UnloadedModuleList body: 12-byte header, 24-byte entries.
pub fn unloaded_module_list(modules: &[Module]) -> Vec<u8> {
    list(&[12, 24, COUNT], modules, module_head)
}

/// One handle descriptor; `info_rva` is written only in 40-byte descriptors.
#[derive(Debug, Clone, Default)]
pub struct Handle {
    pub handle: u64,
    pub type_rva: u32,
    pub name_rva: u32,
    pub attributes: u32,
    pub granted_access: u32,
    pub handle_count: u32,
    pub pointer_count: u32,
    pub info_rva: u32,
}

/// HandleData body with 32-byte (v1) or 40-byte (v2) descriptors.
pub fn handle_data(descriptor_size: u32, handles: &[Handle]) -> Vec<u8> {
    list(&[16, descriptor_size, COUNT, 0], handles, |le, h| {
        le.u64(h.handle).u32(h.type_rva).u32(h.name_rva);
        le.u32(h.attributes).u32(h.granted_access);
        le.u32(h.handle_count).u32(h.pointer_count);
        if descriptor_size >= 40 {
            le.u32(h.info_rva).u32(0);
            le.zeros(descriptor_size as usize - 40);
        }
    })
}

/// One MINIDUMP_HANDLE_OBJECT_INFORMATION record with its payload.
pub fn object_info(next_rva: u32, info_type: u32, payload: &[u8]) -> Vec<u8> {
    let mut le = Le::default();
    le.u32(next_rva).u32(info_type).u32(payload.len() as u32);
    le.0.extend_from_slice(payload);
    le.done()
}

/// A mutant's owner CLIENT_ID as a 64-bit writer stores it (16 bytes).
pub fn mutant_owner64(pid: u32, tid: u32) -> Vec<u8> {
    Le::default().u64(u64::from(pid)).u64(u64::from(tid)).done()
}

/// MUTANT_BASIC_INFORMATION {CurrentCount, OwnedByCaller, AbandonedState}, padded to 8.
pub fn mutant_basic(count: i32, abandoned: bool) -> Vec<u8> {
    Le::default()
        .i32(count)
        .u8(0)
        .u8(u8::from(abandoned))
        .zeros(2)
        .done()
}

/// MiscInfo content; the version decides the size (1: 24 ... 5: 1364 bytes).
#[derive(Debug, Clone, Default)]
pub struct Misc {
    pub flags1: u32,
    pub pid: u32,
    pub create_time: u32,
    pub user_seconds: u32,
    pub kernel_seconds: u32,
    /// (TimeZoneId, Bias, StandardName, StandardBias, DaylightName, DaylightBias).
    pub zone: Option<(u32, i32, String, i32, String, i32)>,
    pub build: String,
    pub debug_build: String,
    pub xstate_features: u64,
    pub cookie: u32,
}

/// MiscInfo body of `version` (1 to 5).
pub fn misc_info(version: u8, m: &Misc) -> Vec<u8> {
    let size: u32 = match version {
        1 => 24,
        2 => 44,
        3 => 232,
        4 => 832,
        _ => 1364,
    };
    let mut le = Le::default();
    le.u32(size)
        .u32(m.flags1)
        .u32(m.pid)
        .u32(m.create_time)
        .u32(m.user_seconds)
        .u32(m.kernel_seconds);
    if version >= 2 {
        le.zeros(20);
    }
    if version >= 3 {
        le.zeros(12);
        let (id, bias, std, std_bias, dl, dl_bias) = m.zone.clone().unwrap_or_default();
        le.u32(id)
            .i32(bias)
            .utf16_field(&std, 32)
            .zeros(16)
            .i32(std_bias);
        le.utf16_field(&dl, 32).zeros(16).i32(dl_bias);
    }
    if version >= 4 {
        le.utf16_field(&m.build, 260)
            .utf16_field(&m.debug_build, 40);
    }
    if version >= 5 {
        le.u32(528)
            .u32(0)
            .u64(m.xstate_features)
            .zeros(512)
            .u32(m.cookie);
    }
    le.done()
}

/// Exception body: thread, code, flags, address and parameters (at most 15 kept).
pub fn exception(tid: u32, code: u32, flags: u32, address: u64, params: &[u64]) -> Vec<u8> {
    let mut le = Le::default();
    le.u32(tid)
        .u32(0)
        .u32(code)
        .u32(flags)
        .u64(0)
        .u64(address)
        .u32(params.len() as u32)
        .u32(0);
    for i in 0..15 {
        le.u64(params.get(i).copied().unwrap_or(0));
    }
    le.u32(0).u32(0);
    le.done()
}

/// MemoryList body: u32 count, {start, DataSize, Rva}.
pub fn memory_list(ranges: &[(u64, u32, u32)]) -> Vec<u8> {
    list(&[COUNT], ranges, |le, &(start, size, rva)| {
        le.u64(start).u32(size).u32(rva);
    })
}

/// Memory64List body: {count, BaseRva}, then {start, size}.
pub fn memory64_list(base_rva: u64, ranges: &[(u64, u64)]) -> Vec<u8> {
    let mut le = Le::default();
    le.u64(ranges.len() as u64).u64(base_rva);
    for &(start, size) in ranges {
        le.u64(start).u64(size);
    }
    le.done()
}

/// SystemInfo body (56 bytes).
pub fn system_info(
    arch: u16,
    processors: u8,
    version: (u32, u32, u32),
    platform: u32,
    csd_rva: u32,
) -> Vec<u8> {
    let mut le = Le::default();
    le.u16(arch).u16(6).u16(0).u8(processors).u8(1);
    le.u32(version.0)
        .u32(version.1)
        .u32(version.2)
        .u32(platform)
        .u32(csd_rva)
        .u16(0x100)
        .u16(0);
    le.zeros(24);
    le.done()
}

/// What a synthetic kernel dump header says.
#[derive(Debug, Clone)]
pub struct KernelSpec {
    /// 32 (PAGEDUMP) or 64 (PAGEDU64).
    pub bits: u8,
    pub dump_type: u32,
    /// FILETIME.
    pub system_time: u64,
    /// 100 ns units.
    pub uptime: u64,
    pub bugcheck: u32,
    pub parameters: [u64; 4],
    pub processors: u32,
    pub machine: u32,
    /// (BasePage, PageCount).
    pub runs: Vec<(u64, u64)>,
    /// RequiredDumpSpace; `None` writes header size + pages x 4096.
    pub required_space: Option<u64>,
    pub comment: String,
    /// Bitmap header at 0x2000 (64-bit types 5 and 6): (FirstPage, TotalPresentPages).
    pub bitmap: Option<(u64, u64)>,
}

impl Default for KernelSpec {
    fn default() -> Self {
        KernelSpec {
            bits: 64,
            dump_type: 1,
            // 2024-03-01T12:00:00Z
            system_time: 133_537_680_000_000_000,
            uptime: 36_000_000_000,
            bugcheck: 0xE2,
            parameters: [1, 2, 3, 4],
            processors: 4,
            machine: 0x8664,
            runs: vec![(1, 8), (0x100, 8)],
            required_space: None,
            comment: String::new(),
            bitmap: None,
        }
    }
}

impl KernelSpec {
    fn header_size(&self) -> u64 {
        if self.bits == 64 {
            0x2000
        } else {
            0x1000
        }
    }

    fn pages(&self) -> u64 {
        self.runs.iter().map(|r| r.1).sum()
    }

    /// The size of the whole, untruncated file.
    pub fn full_size(&self) -> u64 {
        match self.bitmap {
            Some((first, present)) => first + present * 0x1000,
            None => self.header_size() + self.pages() * 0x1000,
        }
    }
}

/// A kernel dump file as `spec` describes it, cut to `len` bytes when given.
pub fn kernel_dump(spec: &KernelSpec, len: Option<u64>) -> Vec<u8> {
    let header = spec.header_size() as usize;
    let mut b: Vec<u8> = b"PAGE".iter().copied().cycle().take(header).collect();
    let put =
        |b: &mut Vec<u8>, at: usize, bytes: &[u8]| b[at..at + bytes.len()].copy_from_slice(bytes);
    let wide = spec.bits == 64;
    put(&mut b, 4, if wide { b"DU64" } else { b"DUMP" });
    put(&mut b, 8, &Le::default().u32(15).u32(19041).done());
    let (machine, bugcheck, params, block) = if wide {
        (0x30, 0x38, 0x40, 0x88)
    } else {
        (0x20, 0x28, 0x2C, 0x64)
    };
    put(
        &mut b,
        machine,
        &Le::default().u32(spec.machine).u32(spec.processors).done(),
    );
    put(&mut b, bugcheck, &spec.bugcheck.to_le_bytes());
    let mut le = Le::default();
    for p in spec.parameters {
        if wide {
            le.u64(p);
        } else {
            le.u32(p as u32);
        }
    }
    put(&mut b, params, &le.done());
    le.u32(spec.runs.len() as u32);
    if wide {
        le.u32(0).u64(spec.pages());
        for &(base, count) in &spec.runs {
            le.u64(base).u64(count);
        }
    } else {
        le.u32(spec.pages() as u32);
        for &(base, count) in &spec.runs {
            le.u32(base as u32).u32(count as u32);
        }
    }
    put(&mut b, block, &le.done());
    let required = spec.required_space.unwrap_or(spec.full_size());
    let (dump_type, required_at, time, uptime, comment) = if wide {
        (0xF98, 0xFA0, 0xFA8, 0x1030, 0xFB0)
    } else {
        (0xF88, 0xFA0, 0xFC0, 0xFB8, 0x820)
    };
    put(&mut b, dump_type, &spec.dump_type.to_le_bytes());
    put(&mut b, required_at, &required.to_le_bytes());
    put(&mut b, time, &spec.system_time.to_le_bytes());
    put(&mut b, uptime, &spec.uptime.to_le_bytes());
    let mut text = spec.comment.as_bytes().to_vec();
    text.resize(128, 0);
    put(&mut b, comment, &text);
    if let Some((first, present)) = spec.bitmap {
        let mut bmp = Le::default();
        bmp.0.extend_from_slice(b"SDMPDUMP");
        bmp.zeros(0x18).u64(first).u64(present).u64(spec.pages());
        b.extend_from_slice(&bmp.done());
    }
    let full = spec.full_size().max(b.len() as u64);
    b.resize(full as usize, 0);
    if let Some(len) = len {
        b.truncate(len as usize);
    }
    b
}

/// A small deterministic generator (xorshift64) for robustness tests.
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> Self {
        XorShift(seed.max(1))
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0.checked_rem(n).unwrap_or(0)
    }
}

/// 2024-03-01T12:00:00Z
pub const SAMPLE_TIME: u32 = 1_709_294_400;
/// FILETIME of 2024-03-01T11:59:30.1234567Z.
pub const SAMPLE_CREATE: u64 = (1_709_294_370 + 11_644_473_600) * 10_000_000 + 1_234_567;

/// A version-5 MISC_INFO with every field set, for process `pid`.
pub fn misc_v5(pid: u32) -> Misc {
    Misc {
        flags1: 0x1 | 0x2 | 0x40 | 0x100 | 0x200,
        pid,
        create_time: SAMPLE_TIME - 90,
        user_seconds: 3,
        kernel_seconds: 1,
        zone: Some((
            2,
            300,
            "Eastern Standard Time".into(),
            0,
            "Eastern Daylight Time".into(),
            -60,
        )),
        build: "19041.1.amd64fre".into(),
        debug_build: "dbgcore.amd64".into(),
        xstate_features: 0x7,
        cookie: 0xC00C1E,
    }
}

/// A minidump with every stream dumptrace reads (threads 0x100, 0x200 and 0x300 of
/// process 0x1a2c, one more only in ThreadInfoList, two modules, two handles).
pub fn sample_minidump() -> Vec<u8> {
    let mut w = MinidumpWriter::new(SAMPLE_TIME);
    w.flags(0x1004);
    let csd = w.string("Service Pack 1");
    w.stream(SYSTEM_INFO, &system_info(9, 8, (10, 0, 19041), 2, csd));
    w.stream(MISC_INFO, &misc_info(5, &misc_v5(0x1a2c)));
    let threads = [0x100, 0x200, 0x300].map(|tid| Thread {
        tid,
        suspend_count: u32::from(tid == 0x200),
        priority_class: 0x20,
        priority: 2,
        teb: 0x7ff0_0000 + u64::from(tid),
        stack_start: 0x10_0000 + u64::from(tid) * 0x1000,
        stack_size: 0x800,
    });
    w.stream(THREAD_LIST, &thread_list(&threads));
    let info = |tid, flags| ThreadInfo {
        tid,
        dump_flags: flags,
        create_time: SAMPLE_CREATE,
        kernel_time: 156_250,
        user_time: 2_500_000,
        start_address: 0x7ff6_0000_1000,
        ..ThreadInfo::default()
    };
    // 0x400 exited before the dump: only ThreadInfoList knows it.
    w.stream(
        THREAD_INFO_LIST,
        &thread_info_list(&[info(0x100, 0x2), info(0x400, 0x4)]),
    );
    let main = w.string("main thread");
    let worker = w.string("worker");
    w.stream(
        THREAD_NAMES,
        &thread_names(&[(0x100, main), (0x300, worker)]),
    );
    let exe = w.string("C:\\app\\server.exe");
    let ntdll = w.string("C:\\Windows\\System32\\ntdll.dll");
    let modules = [
        Module {
            base: 0x1_4000_0000,
            size: 0x5000,
            checksum: 0xabc,
            time_stamp: 0x5f00_0000,
            name_rva: exe,
            version: Some((0x0001_0002, 0x0003_0004)),
        },
        Module {
            base: 0x7ff8_0000_0000,
            size: 0x1f_0000,
            time_stamp: 0x6000_0000,
            name_rva: ntdll,
            ..Module::default()
        },
    ];
    w.stream(MODULE_LIST, &module_list(&modules));
    let gone = w.string("plugin.dll");
    let unloaded = Module {
        base: 0x7ff7_0000_0000,
        size: 0x1000,
        name_rva: gone,
        ..Module::default()
    };
    w.stream(UNLOADED_MODULE_LIST, &unloaded_module_list(&[unloaded]));
    let mutant = w.string("Mutant");
    let event = w.string("Event");
    let lock_name = w.string("\\BaseNamedObjects\\AppLock");
    // Chain: Mutant1 (basic) -> Mutant2 (owner 1a2c.300).
    let owner = w.blob(&object_info(0, 3, &mutant_owner64(0x1a2c, 0x300)));
    let basic = w.blob(&object_info(owner, 2, &mutant_basic(0, false)));
    let handles = [
        Handle {
            handle: 0x44,
            type_rva: mutant,
            name_rva: lock_name,
            granted_access: 0x1f0001,
            handle_count: 2,
            pointer_count: 3,
            info_rva: basic,
            ..Handle::default()
        },
        Handle {
            handle: 0x48,
            type_rva: event,
            ..Handle::default()
        },
    ];
    w.stream(HANDLE_DATA, &handle_data(40, &handles));
    w.stream(
        EXCEPTION,
        &exception(0x100, 0xC000_0005, 0, 0x1_4000_1234, &[1, 0x45]),
    );
    w.stream(
        MEMORY_LIST,
        &memory_list(&[(0x10_0000, 0x100, 0x20), (0x20_0000, 0x200, 0x20)]),
    );
    w.stream(
        MEMORY64_LIST,
        &memory64_list(0x1000, &[(0x30_0000, 0x1000)]),
    );
    w.finish()
}
