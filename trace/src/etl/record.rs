//! Record headers: every type a logger writes (formats.md §1.4–1.6).
//!
//! A record starts on an 8-byte boundary from its buffer's start. Its first u32 is a
//! marker: byte 3 holds flags (0x80 always, 0x40 for the typed headers, 0x10 for a WPP
//! message) and byte 2 the header type. [`parse`] turns the bytes at one position into a
//! [`Record`]: its size, timestamp, process and thread, the header's own fields and the
//! payload, without copying.

use super::bytes::{align8, i64_at, slice, u16_at, u32_at, Guid};

/// The header types of byte 2 (ntwmi.h, formats.md §1.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum HeaderType {
    System32,
    System64,
    Compact32,
    Compact64,
    Full32,
    Full64,
    Instance32,
    Instance64,
    PerfInfo32,
    PerfInfo64,
    Event32,
    Event64,
    Message,
}

/// Every header type, in declaration order (`as usize` indexes this).
pub(crate) const ALL_TYPES: [HeaderType; 13] = [
    HeaderType::System32,
    HeaderType::System64,
    HeaderType::Compact32,
    HeaderType::Compact64,
    HeaderType::Full32,
    HeaderType::Full64,
    HeaderType::Instance32,
    HeaderType::Instance64,
    HeaderType::PerfInfo32,
    HeaderType::PerfInfo64,
    HeaderType::Event32,
    HeaderType::Event64,
    HeaderType::Message,
];

impl HeaderType {
    fn from_byte(b: u8) -> Option<HeaderType> {
        Some(match b {
            0x01 => HeaderType::System32,
            0x02 => HeaderType::System64,
            0x03 => HeaderType::Compact32,
            0x04 => HeaderType::Compact64,
            0x0A => HeaderType::Full32,
            0x0B => HeaderType::Instance32,
            0x10 => HeaderType::PerfInfo32,
            0x11 => HeaderType::PerfInfo64,
            0x12 => HeaderType::Event32,
            0x13 => HeaderType::Event64,
            0x14 => HeaderType::Full64,
            0x15 => HeaderType::Instance64,
            _ => return None,
        })
    }

    /// The name used in [`EtlInfo::records_by_header`](crate::EtlInfo::records_by_header).
    pub(crate) fn name(self) -> &'static str {
        match self {
            HeaderType::System32 => "SYSTEM32",
            HeaderType::System64 => "SYSTEM64",
            HeaderType::Compact32 => "COMPACT32",
            HeaderType::Compact64 => "COMPACT64",
            HeaderType::Full32 => "FULL_HEADER32",
            HeaderType::Full64 => "FULL_HEADER64",
            HeaderType::Instance32 => "INSTANCE32",
            HeaderType::Instance64 => "INSTANCE64",
            HeaderType::PerfInfo32 => "PERFINFO32",
            HeaderType::PerfInfo64 => "PERFINFO64",
            HeaderType::Event32 => "EVENT_HEADER32",
            HeaderType::Event64 => "EVENT_HEADER64",
            HeaderType::Message => "MESSAGE",
        }
    }

    /// Whether the logger used 8-byte pointers: the "32/64" of the name changes
    /// pointer-sized payload fields, not the header (formats.md §1.5; net.4.5.2.x64 mixes both).
    pub(crate) fn pointer64(self) -> bool {
        matches!(
            self,
            HeaderType::System64
                | HeaderType::Compact64
                | HeaderType::Full64
                | HeaderType::Instance64
                | HeaderType::PerfInfo64
                | HeaderType::Event64
        )
    }
}

/// EVENT_DESCRIPTOR of an EVENT_HEADER record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Descriptor {
    pub id: u16,
    pub version: u8,
    pub channel: u8,
    pub level: u8,
    pub opcode: u8,
    pub task: u16,
    pub keyword: u64,
}

/// The fields that differ between header types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fields {
    /// SYSTEM, COMPACT and PERFINFO: a kernel hook, `HookId = group << 8 | kind`.
    Kernel { group: u8, kind: u8, version: u16 },
    /// FULL_HEADER (classic `EVENT_TRACE_HEADER`) and INSTANCE.
    Classic {
        guid: Guid,
        opcode: u8,
        level: u8,
        version: u16,
        instance: Option<(u32, u32, Guid)>,
    },
    /// EVENT_HEADER (manifest and TraceLogging events).
    Event {
        provider: Guid,
        flags: u16,
        desc: Descriptor,
        activity: Guid,
    },
    /// A WPP / TraceMessage record and the optional fields its flags asked for.
    Message {
        number: u16,
        flags: u16,
        sequence: Option<u32>,
        guid: Option<Guid>,
        component: Option<u32>,
    },
}

/// One record, borrowed from its buffer's bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Record<'b> {
    pub header: HeaderType,
    /// Bytes the record takes before alignment (header included).
    pub size: usize,
    /// Raw timestamp in the file's clock; None for a message without TIMESTAMP.
    pub timestamp: Option<i64>,
    pub pid: Option<u32>,
    pub tid: Option<u32>,
    pub fields: Fields,
    /// EVENT_HEADER extended data items (empty when there are none).
    pub extended: &'b [u8],
    /// User data.
    pub payload: &'b [u8],
}

/// EVENT_HEADER `Flags` bits (formats.md §1.5).
pub(crate) const EVENT_FLAG_EXTENDED_INFO: u16 = 0x1;
pub(crate) const EVENT_FLAG_32_BIT: u16 = 0x20;
pub(crate) const EVENT_FLAG_64_BIT: u16 = 0x40;

/// WPP OptionFlags bits, in the order their fields follow the 8-byte header (§1.5).
pub(crate) const MSG_SEQUENCE: u16 = 0x01;
pub(crate) const MSG_GUID: u16 = 0x02;
pub(crate) const MSG_COMPONENT_ID: u16 = 0x04;
pub(crate) const MSG_TIMESTAMP: u16 = 0x08;
pub(crate) const MSG_SYSTEM_INFO: u16 = 0x20;
pub(crate) const MSG_POINTER64: u16 = 0x80;

/// Marker byte-3 flags (ntwmi.h l.98–165, formats.md §1.4).
const TRACE_HEADER_FLAG: u8 = 0x80;
const HEADER_EVENT_TRACE: u8 = 0x40;
const TRACE_MESSAGE: u8 = 0x10;

/// What the bytes at a record position hold.
pub(crate) enum Parsed<'b> {
    Record(Record<'b>),
    /// A zero or all-ones marker: the buffer's records end here (formats.md §1.4).
    End,
}

/// Parses the record at `pos` of `data`, which ends at `end`. The error says why the
/// buffer cannot be read further; records carry no resync point (ntoseye stops there too).
pub(crate) fn parse(data: &[u8], pos: usize, end: usize) -> Result<Parsed<'_>, &'static str> {
    let data = data.get(..end).ok_or("buffer data past its end")?;
    let Some(marker) = u32_at(data, pos) else {
        return Ok(Parsed::End);
    };
    if marker == 0 || marker == u32::MAX {
        return Ok(Parsed::End);
    }
    let flags = (marker >> 24) as u8;
    let type_byte = (marker >> 16) as u8;
    if flags & TRACE_HEADER_FLAG == 0 {
        return Err("record marker lacks the trace-header flag");
    }
    let header = if flags & TRACE_MESSAGE != 0 {
        HeaderType::Message
    } else if flags & HEADER_EVENT_TRACE != 0 {
        HeaderType::from_byte(type_byte).ok_or("unknown record header type")?
    } else {
        return Err("unknown record marker");
    };
    let rec = data.get(pos..).ok_or("record past the buffer end")?;
    let at16 = |off| u16_at(rec, off).ok_or("record header cut off");
    let at32 = |off| u32_at(rec, off).ok_or("record header cut off");
    let ts = |off| i64_at(rec, off).ok_or("record header cut off");
    // SYSTEM/COMPACT/PERFINFO keep a version in bytes 0-1 and the size at +4; the others
    // keep the size in bytes 0-1 (formats.md §1.4, verified: the logfile header is 398 bytes).
    let (size, min) = match header {
        HeaderType::System32 | HeaderType::System64 => (at16(4)?, 0x20),
        HeaderType::Compact32 | HeaderType::Compact64 => (at16(4)?, 0x18),
        HeaderType::PerfInfo32 | HeaderType::PerfInfo64 => (at16(4)?, 0x10),
        HeaderType::Full32 | HeaderType::Full64 => (at16(0)?, 0x30),
        HeaderType::Instance32 | HeaderType::Instance64 => (at16(0)?, 0x48),
        HeaderType::Event32 | HeaderType::Event64 => (at16(0)?, 0x50),
        HeaderType::Message => (at16(0)?, 8),
    };
    let size = usize::from(size);
    if size < min {
        return Err("record size smaller than its header");
    }
    let rec = rec
        .get(..size)
        .ok_or("record size runs past the buffer's data end")?;
    let kernel = |version: u16| Fields::Kernel {
        group: rec[7],
        kind: rec[6],
        version,
    };
    let classic = |instance| -> Result<Fields, &'static str> {
        Ok(Fields::Classic {
            guid: Guid::at(rec, 24).ok_or("record header cut off")?,
            opcode: rec[4],
            level: rec[5],
            version: at16(6)?,
            instance,
        })
    };
    let plain = |fields, timestamp, pid, tid, body: usize| Record {
        header,
        size,
        timestamp: Some(timestamp),
        pid,
        tid,
        fields,
        extended: &[],
        payload: rec.get(body..).unwrap_or(&[]),
    };
    let record = match header {
        HeaderType::System32 | HeaderType::System64 => plain(
            kernel(at16(0)?),
            ts(16)?,
            Some(at32(12)?),
            Some(at32(8)?),
            0x20,
        ),
        HeaderType::Compact32 | HeaderType::Compact64 => plain(
            kernel(at16(0)?),
            ts(16)?,
            Some(at32(12)?),
            Some(at32(8)?),
            0x18,
        ),
        HeaderType::PerfInfo32 | HeaderType::PerfInfo64 => {
            let version = at16(0)?;
            // `Version & 0x8000` adds an 8-byte PEBS value and bits 8-10 count 8-byte PMC
            // counters (ntwmi.h; formats.md §1.5, [source] only: no sample has them).
            let pebs = if version & 0x8000 != 0 { 8 } else { 0 };
            let pmc = usize::from((version & 0x0700) >> 8) * 8;
            let body = (0x10 + pebs + pmc).min(size);
            plain(kernel(version & 0xFF), ts(8)?, None, None, body)
        }
        HeaderType::Full32 | HeaderType::Full64 => plain(
            classic(None)?,
            ts(16)?,
            Some(at32(12)?),
            Some(at32(8)?),
            0x30,
        ),
        HeaderType::Instance32 | HeaderType::Instance64 => {
            let parent = Guid::at(rec, 56).ok_or("record header cut off")?;
            let instance = Some((at32(48)?, at32(52)?, parent));
            plain(
                classic(instance)?,
                ts(16)?,
                Some(at32(12)?),
                Some(at32(8)?),
                0x48,
            )
        }
        HeaderType::Event32 | HeaderType::Event64 => event(rec, header, size)?,
        HeaderType::Message => message(rec, header, size)?,
    };
    Ok(Parsed::Record(record))
}

/// Where the record after one of `size` bytes at `pos` starts.
pub(crate) fn next(pos: usize, size: usize) -> usize {
    align8(pos.saturating_add(size))
}

fn event(rec: &[u8], header: HeaderType, size: usize) -> Result<Record<'_>, &'static str> {
    let cut = "record header cut off";
    let flags = u16_at(rec, 4).ok_or(cut)?;
    let desc = Descriptor {
        id: u16_at(rec, 40).ok_or(cut)?,
        version: rec[42],
        channel: rec[43],
        level: rec[44],
        opcode: rec[45],
        task: u16_at(rec, 46).ok_or(cut)?,
        keyword: i64_at(rec, 48).ok_or(cut)? as u64,
    };
    // Extended items sit between the 80-byte header and the user data; each is
    // {u16 size, u16 type, u16 linkage, u16 data size} + data, and linkage bit 0 says
    // another follows (formats.md §1.6, verified on primitive-types).
    let mut body = 0x50;
    if flags & EVENT_FLAG_EXTENDED_INFO != 0 {
        loop {
            let item = u16_at(rec, body).ok_or("extended data item cut off")?;
            let linkage = u16_at(rec, body + 4).ok_or("extended data item cut off")?;
            if item < 8 {
                return Err("extended data item smaller than its header");
            }
            body += usize::from(item);
            if body > size {
                return Err("extended data items run past the record");
            }
            if linkage & 1 == 0 {
                break;
            }
        }
    }
    Ok(Record {
        header,
        size,
        timestamp: Some(i64_at(rec, 16).ok_or(cut)?),
        pid: Some(u32_at(rec, 12).ok_or(cut)?),
        tid: Some(u32_at(rec, 8).ok_or(cut)?),
        fields: Fields::Event {
            provider: Guid::at(rec, 24).ok_or(cut)?,
            flags,
            desc,
            activity: Guid::at(rec, 64).ok_or(cut)?,
        },
        extended: &rec[0x50..body],
        payload: &rec[body..],
    })
}

fn message(rec: &[u8], header: HeaderType, size: usize) -> Result<Record<'_>, &'static str> {
    let cut = "message header fields cut off";
    let number = u16_at(rec, 4).ok_or(cut)?;
    let flags = u16_at(rec, 6).ok_or(cut)?;
    // Optional fields are packed in this order (TraceMessage docs; formats.md §1.5;
    // [source] only: no public sample holds WPP records).
    let mut at = 8;
    let mut take = |n: usize| {
        let s = slice(rec, at, n).ok_or(cut);
        at += n;
        s
    };
    let sequence = if flags & MSG_SEQUENCE != 0 {
        u32_at(take(4)?, 0)
    } else {
        None
    };
    let (guid, component) = if flags & MSG_GUID != 0 {
        (Guid::at(take(16)?, 0), None)
    } else if flags & MSG_COMPONENT_ID != 0 {
        (None, u32_at(take(4)?, 0))
    } else {
        (None, None)
    };
    let timestamp = if flags & MSG_TIMESTAMP != 0 {
        i64_at(take(8)?, 0)
    } else {
        None
    };
    let (tid, pid) = if flags & MSG_SYSTEM_INFO != 0 {
        let s = take(8)?;
        (u32_at(s, 0), u32_at(s, 4))
    } else {
        (None, None)
    };
    Ok(Record {
        header,
        size,
        timestamp,
        pid,
        tid,
        fields: Fields::Message {
            number,
            flags,
            sequence,
            guid,
            component,
        },
        extended: &[],
        payload: rec.get(at..).unwrap_or(&[]),
    })
}

/// One EVENT_HEADER extended data item.
pub(crate) struct ExtItem<'b> {
    pub kind: u16,
    pub data: &'b [u8],
}

/// ExtType values used here (perfview `EVENT_HEADER_EXT_TYPE_*`, formats.md §1.6).
pub(crate) const EXT_EVENT_SCHEMA_TL: u16 = 0xB;
pub(crate) const EXT_PROV_TRAITS: u16 = 0xC;

/// The items of an `extended` region, which [`parse`] already checked.
pub(crate) fn ext_items(extended: &[u8]) -> impl Iterator<Item = ExtItem<'_>> {
    let mut at = 0usize;
    std::iter::from_fn(move || {
        let total = usize::from(u16_at(extended, at)?);
        let kind = u16_at(extended, at + 2)?;
        let len = usize::from(u16_at(extended, at + 6)?);
        let data = slice(extended, at + 8, len.min(total.saturating_sub(8)))?;
        at += total.max(8);
        Some(ExtItem { kind, data })
    })
}

/// Whether the pointer-sized fields of this record are 8 bytes.
pub(crate) fn pointer64(r: &Record<'_>) -> bool {
    match r.fields {
        Fields::Event { flags, .. } if flags & (EVENT_FLAG_32_BIT | EVENT_FLAG_64_BIT) != 0 => {
            flags & EVENT_FLAG_64_BIT != 0
        }
        Fields::Message { flags, .. } => flags & MSG_POINTER64 != 0,
        _ => r.header.pointer64(),
    }
}
