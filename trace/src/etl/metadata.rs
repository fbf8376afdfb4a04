//! Schemas a trace carries for its own events, so that a file decodes on a machine without
//! its providers' manifests, as PerfView decodes it. Two sources:
//!
//! - KernelTraceControl's `MetaData` events (provider bbccf6c1-6cd1-48c4-80ff-839482e37671),
//!   which xperf and PerfView merge into a trace for every manifest event in it: opcode 32,
//!   `EventInfo`, is a TRACE_EVENT_INFO as `TdhGetEventInformation` returns it; opcode 33,
//!   `EventMapInfo`, the provider's GUID (16 bytes) and an EVENT_MAP_INFO as
//!   `TdhGetEventMapInformation` returns it (learn.microsoft.com, "TRACE_EVENT_INFO
//!   structure", "EVENT_PROPERTY_INFO structure", "EVENT_MAP_INFO structure"; the layout
//!   seen in net.4.5.2.x64: 61 EventInfo and 24 EventMapInfo records).
//! - EventSource `ManifestData` events (event id 65534, opcode 254): the provider's manifest
//!   XML in chunks, each after an 8-byte envelope: Format, MajorVersion, MinorVersion,
//!   Magic (0x5B), TotalChunks (u16), ChunkNumber (u16) (dotnet/runtime EventSource.cs,
//!   `ManifestEnvelope`). A provider logs it when a session enables it and again at
//!   rundown; one complete copy is enough.
//!
//! The reader collects these records as it decodes ([`Meta`]); when a file has them and
//! some of its events had no schema, it reads the file again with [`build`]'s schemas as
//! the last source (after `--manifest` and the shipped CLR manifest, as PerfView prefers
//! its own CLR parser). A blob that does not parse is counted by reason, never fatal.

use std::collections::BTreeMap;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::bytes::{u16_at, u32_at, u8_at, utf16z, Guid};
use super::manifest::{self, Count, EventSchema, Field, InType, Map, MapStyle, Schemas};

/// KernelTraceControl's metadata provider, bbccf6c1-6cd1-48c4-80ff-839482e37671, as stored.
pub(crate) const METADATA_PROVIDER: Guid = Guid([
    0xc1, 0xf6, 0xcc, 0xbb, 0xd1, 0x6c, 0xc4, 0x48, 0x80, 0xff, 0x83, 0x94, 0x82, 0xe3, 0x76, 0x71,
]);
pub(crate) const EVENT_INFO: u8 = 32;
pub(crate) const EVENT_MAP_INFO: u8 = 33;
/// EventSource's ManifestData event.
pub(crate) const MANIFEST_ID: u16 = 0xFFFE;
pub(crate) const MANIFEST_OPCODE: u8 = 0xFE;

/// Metadata records beyond this many bytes in one file are not kept (counted instead).
pub(crate) const MAX_BYTES: usize = 64 << 20;

/// One metadata record, copied out of its buffer.
#[derive(Debug, Clone)]
pub(crate) enum Meta {
    EventInfo(Box<[u8]>),
    MapInfo(Box<[u8]>),
    Manifest { provider: Guid, chunk: Box<[u8]> },
}

impl Meta {
    pub(crate) fn len(&self) -> usize {
        match self {
            Meta::EventInfo(b) | Meta::MapInfo(b) => b.len(),
            Meta::Manifest { chunk, .. } => chunk.len(),
        }
    }
}

/// Why a metadata record was not used.
pub(crate) const BAD_EVENT_INFO: &str = "in-file TRACE_EVENT_INFO does not parse";
pub(crate) const BAD_MAP_INFO: &str = "in-file EVENT_MAP_INFO does not parse";
pub(crate) const BAD_MANIFEST: &str = "in-file EventSource manifest does not parse";
pub(crate) const PART_MANIFEST: &str = "in-file EventSource manifest misses chunks";

/// What [`build`] made: the schemas, and the records it could not use, by reason.
#[derive(Debug, Default)]
pub(crate) struct Built {
    pub schemas: Schemas,
    pub events: usize,
    pub bad: BTreeMap<&'static str, u64>,
}

impl Built {
    /// The records not used, by reason, as the input's report lists them.
    pub(crate) fn unusable(&self) -> BTreeMap<String, u64> {
        self.bad.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }
}

/// The schemas the records describe.
pub(crate) fn build(meta: &[Meta]) -> Built {
    let mut out = Built::default();
    // Maps first: an EventInfo's properties name them.
    let mut maps: FxHashMap<(Guid, String), Arc<Map>> = FxHashMap::default();
    for m in meta {
        if let Meta::MapInfo(b) = m {
            match map_info(b) {
                Some((guid, name, map)) => {
                    maps.insert((guid, name), Arc::new(map));
                }
                None => *out.bad.entry(BAD_MAP_INFO).or_default() += 1,
            }
        }
    }
    for m in meta {
        if let Meta::EventInfo(b) = m {
            match event_info(b, &maps) {
                Some(e) => {
                    out.schemas.name_provider(e.provider, &e.provider_name);
                    out.schemas.insert(e.provider, e.id, e.version, e.schema);
                    out.events += 1;
                }
                None => *out.bad.entry(BAD_EVENT_INFO).or_default() += 1,
            }
        }
    }
    // EventSource manifests: chunks by provider and number, one copy of each.
    let mut chunks: BTreeMap<Guid, (u16, BTreeMap<u16, &[u8]>)> = BTreeMap::new();
    for m in meta {
        if let Meta::Manifest { provider, chunk } = m {
            let (Some(0x5B), Some(total), Some(number), Some(xml)) = (
                u8_at(chunk, 3),
                u16_at(chunk, 4),
                u16_at(chunk, 6),
                chunk.get(8..),
            ) else {
                *out.bad.entry(BAD_MANIFEST).or_default() += 1;
                continue;
            };
            let entry = chunks.entry(*provider).or_insert((total, BTreeMap::new()));
            entry.0 = total;
            entry.1.entry(number).or_insert(xml);
        }
    }
    for (provider, (total, parts)) in chunks {
        if parts.len() != usize::from(total) {
            *out.bad.entry(PART_MANIFEST).or_default() += 1;
            continue;
        }
        let bytes: Vec<u8> = parts.values().flat_map(|p| p.iter().copied()).collect();
        let text = String::from_utf8_lossy(&bytes);
        // EventSource pads the last chunk; the XML ends at its root's close.
        let text = text.trim_end_matches('\0');
        match manifest::xml::parse_eventsource(text) {
            Ok(mut s) => {
                if let Some(name) = s.provider_name(&provider).map(str::to_string) {
                    // PerfView names the manifest's own event `Provider/ManifestData`.
                    s.insert(
                        provider,
                        MANIFEST_ID,
                        1,
                        EventSchema {
                            name: format!("{name}/ManifestData").into(),
                            level: 0,
                            fields: Arc::from(Vec::new()),
                        },
                    );
                }
                out.events += s.event_count();
                out.schemas.merge(s);
            }
            Err(_) => *out.bad.entry(BAD_MANIFEST).or_default() += 1,
        }
    }
    out
}

/// The UTF-16 string at `offset` of `b` (None for offset 0, "no such string").
fn string_at(b: &[u8], offset: u32) -> Option<String> {
    let at = usize::try_from(offset).ok().filter(|&o| o > 0)?;
    Some(utf16z(b.get(at..)?).0.trim_end().to_string())
}

/// `(provider, map name, map)` of an EventMapInfo payload.
fn map_info(b: &[u8]) -> Option<(Guid, String, Map)> {
    let guid = Guid::at(b, 0)?;
    let m = b.get(16..)?;
    let name = string_at(m, u32_at(m, 0)?)?;
    let flag = u32_at(m, 4)?;
    let count = u32_at(m, 8)? as usize;
    // EVENTMAP_INFO_FLAG_MANIFEST_BITMAP (2) and _WBEM_BITMAP (0x10) are bitmaps; the
    // value maps (1, 8) and pattern maps (4) map values.
    let bitmap = flag & (0x02 | 0x10) != 0;
    let mut entries = Vec::with_capacity(count.min(4096));
    for i in 0..count {
        let at = 16 + i.checked_mul(8)?;
        let output = u32_at(m, at)?;
        let value = u32_at(m, at + 4)?;
        let text = string_at(m, output).unwrap_or_default();
        entries.push((u64::from(value), text.into()));
    }
    entries.sort_by_key(|(v, _)| *v);
    Some((
        guid,
        name,
        Map {
            bitmap,
            ignore: 0,
            style: MapStyle::Tdh,
            entries,
        },
    ))
}

struct Info {
    provider: Guid,
    provider_name: String,
    id: u16,
    version: u8,
    schema: EventSchema,
}

/// TDH_INTYPE values (tdh.h) as this reader's input types.
fn tdh_in_type(v: u16) -> Option<InType> {
    Some(match v {
        1 => InType::UnicodeString,
        2 => InType::AnsiString,
        3 => InType::Int(1, true),
        4 => InType::Int(1, false),
        5 => InType::Int(2, true),
        6 => InType::Int(2, false),
        7 => InType::Int(4, true),
        8 => InType::Int(4, false),
        9 => InType::Int(8, true),
        10 => InType::Int(8, false),
        11 => InType::Float,
        12 => InType::Double,
        13 => InType::Boolean,
        14 => InType::Binary,
        15 => InType::Guid,
        16 => InType::Pointer,
        17 => InType::FileTime,
        18 => InType::SystemTime,
        19 => InType::Sid,
        20 => InType::Hex(4),
        21 => InType::Hex(8),
        // TDH_INTYPE_COUNTEDSTRING, _COUNTEDANSISTRING.
        300 => InType::CountedUnicode,
        301 => InType::CountedAnsi,
        // TDH_INTYPE_SIZET.
        305 => InType::USize,
        _ => return None,
    })
}

/// An EventInfo payload: a TRACE_EVENT_INFO.
fn event_info(b: &[u8], maps: &FxHashMap<(Guid, String), Arc<Map>>) -> Option<Info> {
    let provider = Guid::at(b, 0)?;
    // EVENT_DESCRIPTOR at 32: Id, Version, Channel, Level, Opcode, Task, Keyword.
    let id = u16_at(b, 32)?;
    let version = u8_at(b, 34)?;
    let level = u8_at(b, 36)?;
    let opcode = u8_at(b, 37)?;
    let provider_name = string_at(b, u32_at(b, 52)?)?;
    let task = string_at(b, u32_at(b, 68)?);
    let opcode_name = match opcode {
        0 => String::new(),
        // TRACE_EVENT_INFO gives the opcode's name as the manifest writes it: `win:Start`
        // for the standard ones, which PerfView prints as `Start`.
        _ => string_at(b, u32_at(b, 72)?)
            .map(|o| o.trim_start_matches("win:").to_string())
            .unwrap_or_default(),
    };
    let count = u32_at(b, 100)? as usize;
    let top = (u32_at(b, 104)? as usize).min(count);
    let props: Vec<Prop> = (0..count)
        .map(|i| prop(b, 112 + i.checked_mul(24)?))
        .collect::<Option<_>>()?;
    let fields = fields(&props, 0, top, provider, maps, b)?;
    let task = task.filter(|t| !t.is_empty());
    let name = manifest::event_name(&provider_name, task.as_deref(), &opcode_name, id);
    Some(Info {
        provider,
        provider_name,
        id,
        version,
        schema: EventSchema {
            name: name.into(),
            level,
            fields: fields.into(),
        },
    })
}

/// One EVENT_PROPERTY_INFO (24 bytes).
struct Prop {
    flags: u32,
    name: u32,
    /// InType and OutType, or StructStartIndex and NumOfStructMembers.
    a: u16,
    b: u16,
    map_name: u32,
    count: u16,
    length: u16,
}

fn prop(b: &[u8], at: usize) -> Option<Prop> {
    Some(Prop {
        flags: u32_at(b, at)?,
        name: u32_at(b, at + 4)?,
        a: u16_at(b, at + 8)?,
        b: u16_at(b, at + 10)?,
        map_name: u32_at(b, at + 12)?,
        count: u16_at(b, at + 16)?,
        length: u16_at(b, at + 18)?,
    })
}

// PROPERTY_FLAGS (tdh.h).
const PROPERTY_STRUCT: u32 = 0x1;
const PROPERTY_PARAM_LENGTH: u32 = 0x2;
const PROPERTY_PARAM_COUNT: u32 = 0x4;
const PROPERTY_PARAM_FIXED_LENGTH: u32 = 0x10;
const PROPERTY_PARAM_FIXED_COUNT: u32 = 0x20;

/// The fields of properties `start..start + n` (a struct's members are a range of the
/// same array; a count or length names a property by its index there).
fn fields(
    props: &[Prop],
    start: usize,
    n: usize,
    provider: Guid,
    maps: &FxHashMap<(Guid, String), Arc<Map>>,
    blob: &[u8],
) -> Option<Vec<Field>> {
    let mut out = Vec::with_capacity(n);
    let range = props.get(start..start.checked_add(n)?)?;
    // A count or length names a property of the same level by its index in the array.
    let refer = |i: u16| -> Count {
        let i = usize::from(i);
        if i >= start && i < start + n {
            Count::Field(i - start)
        } else {
            Count::None
        }
    };
    for p in range {
        let name = string_at(blob, p.name).unwrap_or_default();
        let count = if p.flags & PROPERTY_PARAM_COUNT != 0 {
            refer(p.count)
        } else if p.flags & PROPERTY_PARAM_FIXED_COUNT != 0 || p.count > 1 {
            Count::Fixed(u32::from(p.count))
        } else {
            Count::None
        };
        let length = if p.flags & PROPERTY_PARAM_LENGTH != 0 {
            refer(p.length)
        } else if p.flags & PROPERTY_PARAM_FIXED_LENGTH != 0 || p.length > 0 {
            Count::Fixed(u32::from(p.length))
        } else {
            Count::None
        };
        let (in_type, members, hex, boolean, map) = if p.flags & PROPERTY_STRUCT != 0 {
            let members = fields(
                props,
                usize::from(p.a),
                usize::from(p.b),
                provider,
                maps,
                blob,
            )?;
            (InType::Struct, members, false, false, None)
        } else {
            let in_type = match (tdh_in_type(p.a)?, p.b) {
                // TDH_OUTTYPE_SOCKETADDRESS.
                (InType::Binary, 25) => InType::SocketAddress,
                (t, _) => t,
            };
            // TDH_OUTTYPE_HEXINT8..HEXINT64 (16-19), _BOOLEAN (13).
            let hex = (16..=19).contains(&p.b);
            let boolean = p.b == 13;
            let map = string_at(blob, p.map_name).and_then(|m| maps.get(&(provider, m)).cloned());
            (in_type, Vec::new(), hex, boolean, map)
        };
        // A string's length in TDH counts characters where the manifest's counts bytes
        // alike: both are the `length` of the field here.
        let length = match (in_type, length) {
            // A fixed length of an integer is its size, not a string length.
            (InType::Int(..) | InType::Hex(_) | InType::Pointer | InType::Guid, _) => Count::None,
            (_, l) => l,
        };
        out.push(Field {
            name: name.into(),
            in_type,
            hex,
            boolean,
            map,
            count,
            length,
            members,
        });
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16(s: &str) -> Vec<u8> {
        s.encode_utf16()
            .chain([0])
            .flat_map(u16::to_le_bytes)
            .collect()
    }

    /// A TRACE_EVENT_INFO with two properties: a UInt32 mapped by `M` and a string.
    fn event_info_blob(provider: Guid) -> Vec<u8> {
        let mut b = vec![0u8; 112 + 2 * 24];
        b[..16].copy_from_slice(&provider.0);
        b[32..34].copy_from_slice(&7u16.to_le_bytes()); // id
        b[34] = 1; // version
        b[37] = 1; // opcode
        b[100..104].copy_from_slice(&2u32.to_le_bytes());
        b[104..108].copy_from_slice(&2u32.to_le_bytes());
        let mut strings = Vec::new();
        let mut add = |s: &str| {
            let at = (112 + 2 * 24 + strings.len()) as u32;
            strings.extend(utf16(s));
            at
        };
        let provider_name = add("Contoso-Demo");
        let task = add("Order");
        let opcode = add("Start");
        let state = add("State");
        let map = add("StateMap");
        let who = add("Who");
        b[52..56].copy_from_slice(&provider_name.to_le_bytes());
        b[68..72].copy_from_slice(&task.to_le_bytes());
        b[72..76].copy_from_slice(&opcode.to_le_bytes());
        let p0 = 112;
        b[p0 + 4..p0 + 8].copy_from_slice(&state.to_le_bytes());
        b[p0 + 8..p0 + 10].copy_from_slice(&8u16.to_le_bytes());
        b[p0 + 12..p0 + 16].copy_from_slice(&map.to_le_bytes());
        b[p0 + 16..p0 + 18].copy_from_slice(&1u16.to_le_bytes());
        let p1 = 112 + 24;
        b[p1 + 4..p1 + 8].copy_from_slice(&who.to_le_bytes());
        b[p1 + 8..p1 + 10].copy_from_slice(&1u16.to_le_bytes());
        b[p1 + 16..p1 + 18].copy_from_slice(&1u16.to_le_bytes());
        b.extend(strings);
        b
    }

    fn map_info_blob(provider: Guid) -> Vec<u8> {
        let mut m = vec![0u8; 16 + 2 * 8];
        m[4..8].copy_from_slice(&1u32.to_le_bytes());
        m[8..12].copy_from_slice(&2u32.to_le_bytes());
        let mut strings = Vec::new();
        let base = m.len() as u32;
        let mut add = |s: &str| {
            let at = base + strings.len() as u32;
            strings.extend(utf16(s));
            at
        };
        let name = add("StateMap");
        let open = add("Open");
        let shut = add("Shut");
        m[0..4].copy_from_slice(&name.to_le_bytes());
        m[16..20].copy_from_slice(&open.to_le_bytes());
        m[20..24].copy_from_slice(&0u32.to_le_bytes());
        m[24..28].copy_from_slice(&shut.to_le_bytes());
        m[28..32].copy_from_slice(&1u32.to_le_bytes());
        m.extend(strings);
        let mut b = provider.0.to_vec();
        b.extend(m);
        b
    }

    #[test]
    fn event_info_and_map_info_give_a_schema() {
        let g = Guid::parse("12345678-1234-1234-1234-123456789abc").expect("guid");
        let built = build(&[
            Meta::EventInfo(event_info_blob(g).into()),
            Meta::MapInfo(map_info_blob(g).into()),
        ]);
        assert!(built.bad.is_empty(), "{:?}", built.bad);
        let e = built.schemas.get(&g, 7, 1).expect("event 7 v1");
        assert_eq!(&*e.name, "Contoso-Demo/Order/Start");
        let mut msg = String::new();
        let mut payload = 1u32.to_le_bytes().to_vec();
        payload.extend(utf16("ops"));
        manifest::decode::render(&e.fields, &payload, true, &mut msg).expect("fits");
        assert_eq!(msg, "State=Shut; Who=ops");
    }

    #[test]
    fn cut_and_garbage_blobs_are_counted_not_fatal() {
        let g = Guid::parse("12345678-1234-1234-1234-123456789abc").expect("guid");
        let whole = event_info_blob(g);
        let mut meta = Vec::new();
        for cut in [0, 20, 60, 111, 130] {
            meta.push(Meta::EventInfo(whole[..cut].into()));
        }
        meta.push(Meta::MapInfo(vec![0xff; 10].into()));
        meta.push(Meta::Manifest {
            provider: g,
            chunk: vec![1, 1, 0, 0x5B, 2, 0, 0, 0, b'<'].into(),
        });
        let built = build(&meta);
        assert_eq!(built.bad.get(BAD_EVENT_INFO), Some(&5));
        assert_eq!(built.bad.get(BAD_MAP_INFO), Some(&1));
        assert_eq!(built.bad.get(PART_MANIFEST), Some(&1));
        assert_eq!(built.events, 0);
    }

    #[test]
    fn an_eventsource_manifest_in_chunks() {
        let g = Guid::parse("a8a71ac1-040f-54a2-07ca-00a89b5ab761").expect("guid");
        let xml = r#"<instrumentationManifest xmlns="http://schemas.microsoft.com/win/2004/08/events"><instrumentation><events><provider name="Demo" guid="{a8a71ac1-040f-54a2-07ca-00a89b5ab761}" symbol="Demo"><tasks><task name="Work" value="1"/></tasks><templates><template tid="t"><data name="N" inType="win:Int32"/></template></templates><events><event value="3" version="0" task="Work" opcode="win:Start" template="t"/></events></provider></events></instrumentation></instrumentationManifest>"#;
        let (a, b) = xml.as_bytes().split_at(100);
        let chunk = |n: u16, part: &[u8]| {
            let mut c = vec![1, 1, 0, 0x5B];
            c.extend(2u16.to_le_bytes());
            c.extend(n.to_le_bytes());
            c.extend(part);
            Meta::Manifest {
                provider: g,
                chunk: c.into(),
            }
        };
        // Out of order and repeated (a session start and its rundown).
        let built = build(&[chunk(1, b), chunk(0, a), chunk(0, a)]);
        assert!(built.bad.is_empty(), "{:?}", built.bad);
        assert_eq!(
            &*built.schemas.get(&g, 3, 0).expect("event 3").name,
            "Demo/Work/Start"
        );
        assert_eq!(
            &*built
                .schemas
                .get(&g, MANIFEST_ID, 1)
                .expect("manifest")
                .name,
            "Demo/ManifestData"
        );
    }
}
