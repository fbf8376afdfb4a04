//! A test-data writer for ETL files, in the style of rust-minidump's `minidump-synth`: it
//! builds buffers and records in code, following the layouts of formats.md §1, so tests
//! (and the benchmark generator, through the `synth` feature) need no binary fixtures.
//!
//! ```
//! use dumptrace_trace::etl_synth::{buffer, logfile_header, system, Header, BufferSpec};
//!
//! let h = Header::default();
//! let first = buffer(&BufferSpec::header(1024), &[logfile_header(&h)]);
//! let events = buffer(&BufferSpec::new(0, 1), &[system(true, 0x05, 1, 2, 4, 8, h.anchor + 10, &[4, 0, 0, 0, 8, 0, 0, 0])]);
//! let file = [first, events].concat();
//! assert_eq!(file.len(), 1024 + 4096);
//! ```

pub use super::xpress::compress;

/// Little-endian writer.
#[derive(Default)]
struct W(Vec<u8>);

impl W {
    fn u8(&mut self, v: u8) -> &mut Self {
        self.0.push(v);
        self
    }
    fn u16(&mut self, v: u16) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.0.extend_from_slice(b);
        self
    }
    /// Patches the u16 size field at `at` with the final length.
    fn size_at(mut self, at: usize) -> Vec<u8> {
        let n = self.0.len() as u16;
        self.0[at..at + 2].copy_from_slice(&n.to_le_bytes());
        self.0
    }
}

/// UTF-16LE with a terminating NUL.
pub fn utf16z(s: &str) -> Vec<u8> {
    s.encode_utf16()
        .chain([0])
        .flat_map(u16::to_le_bytes)
        .collect()
}

/// A GUID from its text form (panics on a bad literal: test data only).
pub fn guid(s: &str) -> [u8; 16] {
    super::bytes::Guid::parse(s).expect("GUID literal").0
}

/// The logfile header's facts (formats.md §1.7).
#[derive(Debug, Clone)]
pub struct Header {
    pub pointer_size: u32,
    pub cpus: u32,
    pub build: u32,
    pub buffer_size: u32,
    /// 1 QPC, 2 system time, 3 CPU cycles.
    pub clock_type: u32,
    pub perf_freq: u64,
    pub cpu_mhz: u32,
    /// FILETIME.
    pub start_time: u64,
    /// Raw timestamp of the header record: the clock's anchor.
    pub anchor: i64,
    pub events_lost: u32,
    pub buffers_lost: u32,
    pub bias_minutes: i32,
    pub log_file_mode: u32,
    pub logger_name: String,
}

impl Default for Header {
    fn default() -> Self {
        Header {
            pointer_size: 8,
            cpus: 2,
            build: 19045,
            buffer_size: 4096,
            clock_type: 1,
            perf_freq: 10_000_000,
            cpu_mhz: 3000,
            // 2024-01-13T08:31:07Z
            start_time: 133_496_082_670_000_000,
            anchor: 1_000_000,
            events_lost: 0,
            buffers_lost: 0,
            bias_minutes: 300,
            log_file_mode: 0,
            logger_name: "Synth".to_string(),
        }
    }
}

/// The logfile-header record: SYSTEM32/64, group 0, type 0.
pub fn logfile_header(h: &Header) -> Vec<u8> {
    let ptr = h.pointer_size as usize;
    let mut p = W::default();
    p.u32(h.buffer_size)
        .bytes(&[10, 0, 2, 0])
        .u32(h.build)
        .u32(h.cpus)
        .u64(h.start_time + 600_000_000)
        .u32(156_250)
        .u32(0)
        .u32(h.log_file_mode)
        .u32(3)
        .u32(1)
        .u32(h.pointer_size)
        .u32(h.events_lost)
        .u32(h.cpu_mhz);
    p.bytes(&vec![0; 2 * ptr]); // LoggerName, LogFileName pointers
    let mut tz = vec![0u8; 172];
    tz[..4].copy_from_slice(&h.bias_minutes.to_le_bytes());
    let name = utf16z("Synth Standard Time");
    tz[4..4 + name.len()].copy_from_slice(&name);
    p.bytes(&tz).u32(0);
    p.u64(h.start_time - 36_000_000_000)
        .u64(h.perf_freq)
        .u64(h.start_time)
        .u32(h.clock_type)
        .u32(h.buffers_lost)
        .bytes(&utf16z(&h.logger_name))
        .bytes(&utf16z("C:\\synth.etl"));
    system(h.pointer_size == 8, 0, 0, 2, 0x1234, 0x5678, h.anchor, &p.0)
}

// The arguments are the header's fields, one to one.
#[allow(clippy::too_many_arguments)]
fn kernel_record(
    type_byte: u8,
    group: u8,
    kind: u8,
    version: u16,
    ids: Option<(u32, u32)>,
    ts: i64,
    times: bool,
    payload: &[u8],
) -> Vec<u8> {
    let mut w = W::default();
    w.u16(version)
        .u8(type_byte)
        .u8(0xC0)
        .u16(0)
        .u8(kind)
        .u8(group);
    if let Some((pid, tid)) = ids {
        w.u32(tid).u32(pid);
    }
    w.u64(ts as u64);
    if times {
        w.u32(1).u32(2);
    }
    w.bytes(payload);
    w.size_at(4)
}

/// A SYSTEM32/64 record (0x20-byte header).
// The arguments are the header's fields, one to one.
#[allow(clippy::too_many_arguments)]
pub fn system(
    ptr64: bool,
    group: u8,
    kind: u8,
    version: u16,
    pid: u32,
    tid: u32,
    ts: i64,
    payload: &[u8],
) -> Vec<u8> {
    kernel_record(
        if ptr64 { 0x02 } else { 0x01 },
        group,
        kind,
        version,
        Some((pid, tid)),
        ts,
        true,
        payload,
    )
}

/// A COMPACT32/64 record (0x18 bytes: SYSTEM without kernel/user time).
// The arguments are the header's fields, one to one.
#[allow(clippy::too_many_arguments)]
pub fn compact(
    ptr64: bool,
    group: u8,
    kind: u8,
    version: u16,
    pid: u32,
    tid: u32,
    ts: i64,
    payload: &[u8],
) -> Vec<u8> {
    kernel_record(
        if ptr64 { 0x04 } else { 0x03 },
        group,
        kind,
        version,
        Some((pid, tid)),
        ts,
        false,
        payload,
    )
}

/// A PERFINFO32/64 record; `pebs` adds the 8-byte PEBS value, `pmc` that many counters.
pub fn perfinfo(
    ptr64: bool,
    group: u8,
    kind: u8,
    ts: i64,
    pebs: bool,
    pmc: u8,
    payload: &[u8],
) -> Vec<u8> {
    let version = 2 | if pebs { 0x8000 } else { 0 } | (u16::from(pmc & 7) << 8);
    let mut extra = vec![0xAB; if pebs { 8 } else { 0 }];
    extra.extend(vec![0xCD; usize::from(pmc & 7) * 8]);
    extra.extend_from_slice(payload);
    kernel_record(
        if ptr64 { 0x11 } else { 0x10 },
        group,
        kind,
        version,
        None,
        ts,
        false,
        &extra,
    )
}

/// Fields of a classic (FULL_HEADER / INSTANCE) record.
pub struct Classic {
    pub ptr64: bool,
    pub guid: [u8; 16],
    pub opcode: u8,
    pub level: u8,
    pub pid: u32,
    pub tid: u32,
    pub ts: i64,
    /// (InstanceId, ParentInstanceId, ParentGuid) makes an INSTANCE record.
    pub instance: Option<(u32, u32, [u8; 16])>,
}

/// A FULL_HEADER32/64 or INSTANCE32/64 record.
pub fn classic(c: &Classic, payload: &[u8]) -> Vec<u8> {
    let type_byte = match (c.instance.is_some(), c.ptr64) {
        (false, false) => 0x0A,
        (false, true) => 0x14,
        (true, false) => 0x0B,
        (true, true) => 0x15,
    };
    let mut w = W::default();
    w.u16(0)
        .u8(type_byte)
        .u8(0xC0)
        .u8(c.opcode)
        .u8(c.level)
        .u16(1);
    w.u32(c.tid)
        .u32(c.pid)
        .u64(c.ts as u64)
        .bytes(&c.guid)
        .u32(0)
        .u32(0);
    if let Some((id, parent, parent_guid)) = c.instance {
        w.u32(id).u32(parent).bytes(&parent_guid);
    }
    w.bytes(payload);
    w.size_at(0)
}

/// Fields of an EVENT_HEADER record.
pub struct Event {
    pub ptr64: bool,
    pub provider: [u8; 16],
    pub id: u16,
    pub version: u8,
    pub level: u8,
    pub opcode: u8,
    pub task: u16,
    pub channel: u8,
    pub keyword: u64,
    pub pid: u32,
    pub tid: u32,
    pub ts: i64,
    /// Extended data items (ExtType, data).
    pub extended: Vec<(u16, Vec<u8>)>,
}

impl Event {
    /// A 64-bit TraceLogging event as Windows logs one: id 0, level 4 (information),
    /// channel 11, its schema in `extended` ([`tracelogging_items`]).
    pub fn tracelogging(
        provider: [u8; 16],
        pid: u32,
        tid: u32,
        ts: i64,
        extended: Vec<(u16, Vec<u8>)>,
    ) -> Self {
        Event {
            ptr64: true,
            provider,
            id: 0,
            version: 0,
            level: 4,
            opcode: 0,
            task: 0,
            channel: 11,
            keyword: 0,
            pid,
            tid,
            ts,
            extended,
        }
    }
}

/// An EVENT_HEADER32/64 record with its extended items (formats.md §1.6).
pub fn event(e: &Event, payload: &[u8]) -> Vec<u8> {
    let mut flags = if e.ptr64 { 0x40 } else { 0x20 };
    if !e.extended.is_empty() {
        flags |= 1;
    }
    let mut w = W::default();
    w.u16(0)
        .u8(if e.ptr64 { 0x13 } else { 0x12 })
        .u8(0xC0)
        .u16(flags)
        .u16(0);
    w.u32(e.tid).u32(e.pid).u64(e.ts as u64).bytes(&e.provider);
    w.u16(e.id)
        .u8(e.version)
        .u8(e.channel)
        .u8(e.level)
        .u8(e.opcode)
        .u16(e.task)
        .u64(e.keyword);
    w.u64(0).bytes(&[0x11; 16]);
    for (i, (kind, data)) in e.extended.iter().enumerate() {
        let total = (8 + data.len()).div_ceil(8) * 8;
        let linkage = u16::from(i + 1 < e.extended.len());
        w.u16(total as u16)
            .u16(*kind)
            .u16(linkage)
            .u16(data.len() as u16)
            .bytes(data);
        w.bytes(&vec![0; total - 8 - data.len()]);
    }
    w.bytes(payload);
    w.size_at(0)
}

/// TraceLogging extended items: PROV_TRAITS with the provider name and EVENT_SCHEMA_TL
/// with the event name and `fields` (each: name, InType, optional OutType).
pub fn tracelogging_items(
    provider: &str,
    event: &str,
    fields: &[(&str, u8, Option<u8>)],
) -> Vec<(u16, Vec<u8>)> {
    let mut traits = vec![0, 0];
    traits.extend_from_slice(provider.as_bytes());
    traits.push(0);
    let n = traits.len() as u16;
    traits[..2].copy_from_slice(&n.to_le_bytes());
    let mut meta = vec![0, 0, 0];
    meta.extend_from_slice(event.as_bytes());
    meta.push(0);
    for (name, in_type, out_type) in fields {
        meta.extend_from_slice(name.as_bytes());
        meta.push(0);
        match out_type {
            Some(o) => meta.extend_from_slice(&[in_type | 0x80, *o]),
            None => meta.push(*in_type),
        }
    }
    let n = meta.len() as u16;
    meta[..2].copy_from_slice(&n.to_le_bytes());
    vec![(0xC, traits), (0xB, meta)]
}

/// Optional fields of a WPP message; each set one adds its OptionFlags bit.
#[derive(Default)]
pub struct Message {
    pub number: u16,
    pub sequence: Option<u32>,
    pub guid: Option<[u8; 16]>,
    pub component: Option<u32>,
    pub ts: Option<i64>,
    /// (TID, PID).
    pub system_info: Option<(u32, u32)>,
    pub ptr64: bool,
}

/// A WPP/TraceMessage record (formats.md §1.5): marker byte 3 = 0x90.
pub fn message(m: &Message, args: &[u8]) -> Vec<u8> {
    let mut flags = if m.ptr64 { 0x80 } else { 0x40 };
    let mut tail = W::default();
    if let Some(s) = m.sequence {
        flags |= 0x01;
        tail.u32(s);
    }
    if let Some(g) = m.guid {
        flags |= 0x02;
        tail.bytes(&g);
    } else if let Some(c) = m.component {
        flags |= 0x04;
        tail.u32(c);
    }
    if let Some(t) = m.ts {
        flags |= 0x08;
        tail.u64(t as u64);
    }
    if let Some((tid, pid)) = m.system_info {
        flags |= 0x20;
        tail.u32(tid).u32(pid);
    }
    let mut w = W::default();
    w.u16(0)
        .u8(0)
        .u8(0x90)
        .u16(m.number)
        .u16(flags)
        .bytes(&tail.0)
        .bytes(args);
    w.size_at(0)
}

/// Kernel payloads for process events (`Process_V4_TypeGroup1`, no SID).
pub fn process_payload(ptr64: bool, pid: u32, ppid: u32, image: &str, cmdline: &str) -> Vec<u8> {
    let ptr = if ptr64 { 8 } else { 4 };
    let mut w = W::default();
    w.bytes(&vec![0x77; ptr]).u32(pid).u32(ppid).u32(1).u32(0);
    w.bytes(&vec![0; ptr]).u32(0); // DirectoryTableBase, Flags
    w.u32(0); // no SID
    w.bytes(image.as_bytes()).u8(0).bytes(&utf16z(cmdline));
    w.bytes(&utf16z("")).bytes(&utf16z("")); // PackageFullName, ApplicationId
    w.0
}

/// A `Thread_V3_TypeGroup1` payload, 64-bit: ProcessId, TThreadId, seven pointers
/// (StackBase ... TebBase), SubProcessTag, then four priority and flag bytes.
pub fn thread_payload(pid: u32, tid: u32) -> Vec<u8> {
    let mut w = W::default();
    w.u32(pid)
        .u32(tid)
        .bytes(&[0; 56])
        .u32(0)
        .bytes(&[8, 5, 2, 0]);
    w.0
}

/// A `CSwitch` payload.
pub fn cswitch_payload(new_tid: u32, old_tid: u32, wait_reason: u8, old_state: u8) -> Vec<u8> {
    let mut w = W::default();
    w.u32(new_tid)
        .u32(old_tid)
        .bytes(&[8, 9, 0, 0, wait_reason, 1, old_state, 0])
        .u32(5)
        .u32(0);
    w.0
}

/// How to lay out one buffer.
#[derive(Debug, Clone)]
pub struct BufferSpec {
    pub cpu: u16,
    pub sequence: u64,
    /// Bytes in the file for an uncompressed buffer.
    pub size: usize,
    pub kind: u16,
    pub flags: u16,
    pub compress: bool,
    /// Extra records after SavedOffset, up to Offset (the header-buffer quirk, §1.3).
    pub beyond_saved: Vec<Vec<u8>>,
}

impl BufferSpec {
    /// A 4 KiB generic buffer.
    pub fn new(cpu: u16, sequence: u64) -> Self {
        BufferSpec {
            cpu,
            sequence,
            size: 4096,
            kind: 0,
            flags: 0,
            compress: false,
            beyond_saved: Vec::new(),
        }
    }

    /// The first buffer: type HEADER, flag FLUSH_MARKER.
    pub fn header(size: usize) -> Self {
        BufferSpec {
            size,
            kind: 4,
            flags: 1,
            ..BufferSpec::new(0, 0)
        }
    }
}

/// One buffer: the 0x48-byte header, the records 8-byte aligned, 0xFF filler (or, when
/// compressing, the LZ77 body and a BufferSize that is not 8-aligned).
pub fn buffer(spec: &BufferSpec, records: &[Vec<u8>]) -> Vec<u8> {
    let mut data = vec![0u8; 0x48];
    let place = |data: &mut Vec<u8>, rs: &[Vec<u8>]| {
        for r in rs {
            data.extend_from_slice(r);
            data.resize(data.len().div_ceil(8) * 8, 0);
        }
    };
    place(&mut data, records);
    let saved = data.len();
    place(&mut data, &spec.beyond_saved);
    let offset = data.len();
    let mut flags = spec.flags;
    let body = if spec.compress {
        flags |= 0x40;
        compress(&data[0x48..saved])
    } else {
        let mut rest = data[0x48..].to_vec();
        rest.resize(spec.size.max(data.len()) - 0x48, 0xFF);
        rest
    };
    let mut w = W::default();
    w.u32((0x48 + body.len()) as u32)
        .u32(saved as u32)
        .u32(offset as u32)
        .u32(0);
    w.u64(0).u64(spec.sequence).u64(0);
    w.u16(spec.cpu)
        .u16(1)
        .u32(3)
        .u32(offset as u32)
        .u16(flags)
        .u16(spec.kind);
    w.bytes(&[0; 16]).bytes(&body);
    w.0
}

/// The provider of [`sample_file`]'s events.
pub const SAMPLE_PROVIDER: &str = "d3dd3dd4-aac2-4e2a-8dd4-a8fb61b77615";
/// The WPP message GUID of [`sample_file`].
pub const SAMPLE_WPP_GUID: &str = "8f3b1e4c-52c1-4d37-9a29-3f7f1e3b5a10";

/// A TraceLogging event of [`SAMPLE_PROVIDER`] (`solar_system/Planet`) at `ts` after the anchor.
pub fn tracelogging_event(h: &Header, ts: i64, pid: u32, tid: u32) -> Vec<u8> {
    let items = tracelogging_items(
        "solar_system",
        "Planet",
        &[
            ("name", 1, None),
            ("moons", 8, None),
            ("ringed", 4, Some(3)),
        ],
    );
    let e = Event::tracelogging(guid(SAMPLE_PROVIDER), pid, tid, h.anchor + ts, items);
    let mut payload = utf16z("Saturn");
    payload.extend_from_slice(&146u32.to_le_bytes());
    payload.push(1);
    event(&e, &payload)
}

/// A file with every header type over two CPUs; CPU 1's second buffer is compressed. Its
/// WPP messages name [`SAMPLE_WPP_GUID`]; 17 records follow the logfile header.
pub fn sample_file() -> Vec<u8> {
    let h = Header::default();
    let t = |d: i64| h.anchor + d;
    let mut header_spec = BufferSpec::header(1024);
    // The header-buffer quirk of SelfDescribingSingleEvent: a record past SavedOffset.
    header_spec.beyond_saved = vec![system(true, 0, 0x50, 2, 0, 0, t(0), &[0; 48])];
    let first = buffer(&header_spec, &[logfile_header(&h)]);
    let manifest = Event {
        ptr64: false,
        provider: guid("e13c0d23-ccbc-4e12-931b-d9cc2eee27e4"),
        id: 10,
        version: 0,
        level: 5,
        opcode: 1,
        task: 1,
        channel: 16,
        keyword: 1,
        pid: 300,
        tid: 301,
        ts: t(70),
        extended: vec![(0x5, vec![1, 2, 3])],
    };
    let cpu0 = buffer(
        &BufferSpec::new(0, 1),
        &[
            system(
                true,
                0x03,
                1,
                4,
                4,
                8,
                t(10),
                &process_payload(true, 300, 4, "app.exe", "app.exe -x"),
            ),
            system(true, 0x05, 1, 3, 300, 8, t(20), &thread_payload(300, 301)),
            compact(
                true,
                0x05,
                36,
                2,
                0,
                0,
                t(30),
                &cswitch_payload(8, 301, 15, 5),
            ),
            perfinfo(true, 0x0F, 0x2E, t(40), true, 2, &[1, 2, 3, 4]),
            tracelogging_event(&h, 50, 300, 301),
            event(&manifest, &[0xAA, 0xBB]),
        ],
    );
    let wpp = |number, ts, tid| Message {
        number,
        sequence: Some(7),
        guid: Some(guid(SAMPLE_WPP_GUID)),
        ts: Some(t(ts)),
        system_info: Some((tid, 300)),
        ptr64: true,
        ..Message::default()
    };
    let mut args = b"disk0\0".to_vec();
    args.extend_from_slice(&0xC000_0034u32.to_le_bytes());
    let cpu1a = buffer(
        &BufferSpec::new(1, 1),
        &[
            system(false, 0x0A, 5, 1, 300, 302, t(15), &[9; 4]),
            classic(
                &Classic {
                    ptr64: true,
                    guid: guid(SAMPLE_PROVIDER),
                    opcode: 3,
                    level: 2,
                    pid: 300,
                    tid: 302,
                    ts: t(25),
                    instance: None,
                },
                &[1, 2],
            ),
            classic(
                &Classic {
                    ptr64: false,
                    guid: guid(SAMPLE_PROVIDER),
                    opcode: 4,
                    level: 3,
                    pid: 300,
                    tid: 302,
                    ts: t(35),
                    instance: Some((5, 6, guid(SAMPLE_WPP_GUID))),
                },
                &[3],
            ),
            message(&wpp(10, 45, 302), &args),
            message(&wpp(11, 55, 302), &[0xEE]),
        ],
    );
    let long_run = vec![0x42; 600]; // a long back-reference in the compressed buffer
    let mut spec = BufferSpec::new(1, 2);
    spec.compress = true;
    spec.flags = 0x2; // EVENTS_LOST
    let cpu1b = buffer(
        &spec,
        &[
            message(
                &Message {
                    number: 12,
                    component: Some(9),
                    ts: Some(t(65)),
                    ..Message::default()
                },
                &[1],
            ),
            // Without TIMESTAMP the message takes the time of the record before it.
            message(
                &Message {
                    number: 13,
                    ..Message::default()
                },
                &[],
            ),
            system(true, 0x0B, 1, 2, 300, 302, t(75), &long_run),
            tracelogging_event(&h, 80, 300, 302),
        ],
    );
    [first, cpu0, cpu1a, cpu1b].concat()
}
