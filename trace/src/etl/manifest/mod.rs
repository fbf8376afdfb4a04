//! Manifest-based ETW events: the schemas that give their payloads field names and types,
//! and the rendering of a payload by its schema.
//!
//! Schemas come from instrumentation manifests ([`xml`]): the files a caller passes
//! ([`Manifests`], the `--manifest` flag) and, for the CLR's providers, the manifest
//! shipped with this crate (`trace/manifests/ClrEtwAll.man`, from microsoft/perfview, MIT;
//! its notice is next to it), parsed once at the first CLR event. A caller's manifest wins
//! over the shipped one for the same provider. An event is looked up by provider GUID, id
//! and version ([`Schemas::get`]); [`decode`] writes its fields as PerfView does.

pub(crate) mod decode;
pub(crate) mod xml;

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustc_hash::FxHashMap;

use super::bytes::Guid;
use crate::Error;

/// How a field's bytes are read (winmeta.xml input types).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InType {
    UnicodeString,
    AnsiString,
    /// Size in bytes, signed.
    Int(u8, bool),
    /// win:HexInt32 / win:HexInt64 as an input type.
    Hex(u8),
    Float,
    Double,
    /// 4 bytes, nonzero is true.
    Boolean,
    Binary,
    Guid,
    Pointer,
    FileTime,
    SystemTime,
    Sid,
    /// u16 byte count, then UTF-16 text.
    CountedUnicode,
    /// u16 byte count, then 8-bit text.
    CountedAnsi,
    Struct,
    /// Pointer-sized integer printed in decimal (kernel `ImageSize`).
    USize,
    /// 4 bytes in network order, printed dotted (win:IPv4).
    Ipv4,
    /// 16 bytes, printed as RFC 5952 text (win:IPv6).
    Ipv6,
    /// u16 in network byte order, printed in host order (win:Port).
    Port,
    /// The kernel's `UserSID` of Process events: a TOKEN_USER (two pointers) and the SID,
    /// or 4 zero bytes when there is none (perfview `ProcessTraceData.SkipSID`).
    KernelSid,
    /// Pointers to the end of the payload (StackWalk's stack).
    PointerArray,
    /// `length` bytes that are not shown (reserved and padding fields).
    Skip,
    /// A SOCKADDR of `length` bytes (win:Binary with outType win:SocketAddress).
    SocketAddress,
}

/// How PerfView prints a mapped value, by where the map came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum MapStyle {
    /// A compiled parser's C# enum (the CLR's, the kernel's): `A, B`, 0 as `None`.
    #[default]
    Enum,
    /// A map TDH describes (an in-file EventMapInfo): `A, B`, 0 as `0`
    /// (`Flags=0` of Microsoft-Windows-Kernel-Process/ProcessStart/Start).
    Tdh,
    /// PerfView's dynamic parser of an EventSource manifest: `A|B`, 0 as `0`
    /// (`keywords=Process|Thread|ImageLoad...` of PerfView/KernelEnableParameters).
    Dynamic,
}

/// A count or length: none, a number, or an earlier field of the same level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Count {
    None,
    Fixed(u32),
    Field(usize),
}

/// A value map (`valueMap`) or bitmap (`bitMap`), entries sorted by value.
#[derive(Debug)]
pub(crate) struct Map {
    pub bitmap: bool,
    /// Bits left out before the value is named (none in a manifest's maps).
    pub ignore: u64,
    pub style: MapStyle,
    pub entries: Vec<(u64, Box<str>)>,
}

/// One `<data>` or `<struct>` of a template.
#[derive(Debug)]
pub(crate) struct Field {
    pub name: Box<str>,
    pub in_type: InType,
    /// outType win:HexInt32/64.
    pub hex: bool,
    /// outType win:Boolean.
    pub boolean: bool,
    pub map: Option<Arc<Map>>,
    pub count: Count,
    pub length: Count,
    /// A struct's members.
    pub members: Vec<Field>,
}

/// One event of a manifest: its full name and its template's fields.
#[derive(Debug)]
pub(crate) struct EventSchema {
    /// `Provider/Task/Opcode`.
    pub name: Box<str>,
    #[allow(dead_code)]
    pub level: u8,
    pub fields: Arc<[Field]>,
}

/// Event schemas by provider GUID, event id and version.
#[derive(Debug, Default)]
pub(crate) struct Schemas {
    /// (provider, id) → versions, ascending.
    events: FxHashMap<(Guid, u16), Vec<(u8, EventSchema)>>,
    providers: FxHashMap<Guid, Box<str>>,
}

impl Schemas {
    pub(crate) fn insert(&mut self, guid: Guid, id: u16, version: u8, e: EventSchema) {
        let versions = self.events.entry((guid, id)).or_default();
        match versions.binary_search_by_key(&version, |(v, _)| *v) {
            Ok(i) => versions[i] = (version, e),
            Err(i) => versions.insert(i, (version, e)),
        }
    }

    pub(crate) fn name_provider(&mut self, guid: Guid, name: &str) {
        self.providers.insert(guid, name.into());
    }

    /// Whether these schemas describe provider `guid`.
    pub(crate) fn has_provider(&self, guid: &Guid) -> bool {
        self.providers.contains_key(guid)
    }

    /// The schema of event `id` version `version`: that version, or else the highest one
    /// below it (a newer runtime appends fields; PerfView reads the ones it knows).
    pub(crate) fn get(&self, guid: &Guid, id: u16, version: u8) -> Option<&EventSchema> {
        let versions = self.events.get(&(*guid, id))?;
        versions
            .iter()
            .rev()
            .find(|(v, _)| *v <= version)
            .map(|(_, e)| e)
    }

    /// The name of provider `guid`, if these schemas describe it.
    pub(crate) fn provider_name(&self, guid: &Guid) -> Option<&str> {
        self.providers.get(guid).map(|n| &**n)
    }

    pub(crate) fn merge(&mut self, other: Schemas) {
        for (k, v) in other.events {
            self.events.insert(k, v);
        }
        self.providers.extend(other.providers);
    }

    pub(crate) fn event_count(&self) -> usize {
        self.events.values().map(Vec::len).sum()
    }
}

/// An event's name as PerfView prints it: `Provider/Task/Opcode`, the opcode left out when
/// it has no name (win:Info), `Provider/EventID(N)` for an event without a task.
pub(crate) fn event_name(provider: &str, task: Option<&str>, opcode: &str, id: u16) -> String {
    let mut name = provider.to_string();
    match task {
        Some(t) => {
            name.push('/');
            name.push_str(t);
        }
        // PerfView names an event without a task by its id (`EventID(N)`).
        None => name.push_str(&format!("/EventID({id})")),
    }
    // PerfView drops the task's name from the front of an opcode's (`GCGenerationRange` of
    // task `GC` is `GC/GenerationRange` in net.4.5.2.x64's baseline).
    let opcode = match task {
        Some(t) => match opcode.strip_prefix(t) {
            Some(rest) if !rest.is_empty() => rest,
            _ => opcode,
        },
        None => opcode,
    };
    if !opcode.is_empty() {
        name.push('/');
        name.push_str(opcode);
    }
    name
}

/// The CLR's manifest, shipped with the crate.
const CLR_MANIFEST: &str = include_str!("../../../manifests/ClrEtwAll.man");

/// The CLR providers' schemas, parsed at first use.
pub(crate) fn clr() -> &'static Schemas {
    static CLR: OnceLock<Schemas> = OnceLock::new();
    // The shipped manifest parses (checked by a test); were it not to, no CLR event would
    // be decoded rather than the read failing.
    CLR.get_or_init(|| xml::parse(CLR_MANIFEST).unwrap_or_default())
}

/// The CLR provider GUIDs the shipped manifest describes (its `<provider guid=...>`).
pub(crate) fn is_clr(guid: &Guid) -> bool {
    const CLR_GUIDS: [[u8; 4]; 4] = [
        // e13c0d23 (DotNETRuntime), a669021c (Rundown), 763fd754 (Private), cc2bcbba (Stress):
        // the first four bytes, little-endian, are enough to tell them from every other
        // provider here; the full GUID is checked by the lookup itself.
        [0x23, 0x0d, 0x3c, 0xe1],
        [0x1c, 0x02, 0x69, 0xa6],
        [0x54, 0xd7, 0x3f, 0x76],
        [0xba, 0xcb, 0x2b, 0xcc],
    ];
    CLR_GUIDS.iter().any(|p| guid.0[..4] == *p)
}

/// Instrumentation manifests a caller gives (`--manifest FILE|DIR`), parsed once and shared
/// by every input read with them. Cloning is cheap.
#[derive(Clone, Default)]
pub struct Manifests {
    schemas: Arc<Schemas>,
    files: Arc<[PathBuf]>,
}

impl std::fmt::Debug for Manifests {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manifests")
            .field("files", &self.files)
            .field("events", &self.schemas.event_count())
            .finish()
    }
}

impl PartialEq for Manifests {
    fn eq(&self, other: &Self) -> bool {
        self.files == other.files
    }
}

impl Eq for Manifests {}

impl Manifests {
    /// Parses every manifest in `paths`: a file, or a folder whose `.man` and `.xml` files
    /// are read (not its subfolders). A later file's event replaces an earlier one's.
    pub fn load(paths: &[PathBuf]) -> Result<Manifests, Error> {
        let mut schemas = Schemas::default();
        let mut files = Vec::new();
        for p in paths {
            let io = |error| Error::Io {
                path: p.clone(),
                error,
            };
            if p.is_dir() {
                let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                    .map_err(io)?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|f| {
                        f.is_file()
                            && f.extension().and_then(|x| x.to_str()).is_some_and(|x| {
                                x.eq_ignore_ascii_case("man") || x.eq_ignore_ascii_case("xml")
                            })
                    })
                    .collect();
                found.sort();
                files.extend(found);
            } else {
                files.push(p.clone());
            }
        }
        for f in &files {
            schemas.merge(load_file(f)?);
        }
        Ok(Manifests {
            schemas: Arc::new(schemas),
            files: files.into(),
        })
    }

    /// The manifest files read.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// Events described, over all versions.
    pub fn events(&self) -> usize {
        self.schemas.event_count()
    }

    pub(crate) fn schemas(&self) -> &Schemas {
        &self.schemas
    }
}

fn load_file(path: &Path) -> Result<Schemas, Error> {
    let bytes = std::fs::read(path).map_err(|error| Error::Io {
        path: path.to_path_buf(),
        error,
    })?;
    let text = decode_text(&bytes).ok_or_else(|| Error::Manifest {
        path: path.to_path_buf(),
        line: 1,
        reason: "not UTF-8 or UTF-16 text".into(),
    })?;
    xml::parse(&text).map_err(|e| Error::Manifest {
        path: path.to_path_buf(),
        line: e.line,
        reason: e.reason,
    })
}

/// Manifest text: UTF-8 (BOM allowed) or UTF-16 with a BOM (what `wevtutil` and Visual
/// Studio write).
fn decode_text(bytes: &[u8]) -> Option<String> {
    let utf16 = |b: &[u8], le: bool| {
        let units: Vec<u16> = b
            .chunks_exact(2)
            .map(|c| {
                if le {
                    u16::from_le_bytes([c[0], c[1]])
                } else {
                    u16::from_be_bytes([c[0], c[1]])
                }
            })
            .collect();
        String::from_utf16(&units).ok()
    };
    match bytes {
        [0xFF, 0xFE, rest @ ..] => utf16(rest, true),
        [0xFE, 0xFF, rest @ ..] => utf16(rest, false),
        [0xEF, 0xBB, 0xBF, rest @ ..] => String::from_utf8(rest.to_vec()).ok(),
        _ => String::from_utf8(bytes.to_vec()).ok(),
    }
}

#[cfg(test)]
mod tests;
