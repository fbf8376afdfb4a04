//! Instrumentation manifests (the `<instrumentationManifest>` XML of manifest-based ETW
//! providers) parsed into [`Schemas`]: per provider its tasks, opcodes, value and bitmap
//! maps, templates and events, with `$(string.Id)` references resolved from the
//! `<localization>` string table (Microsoft docs, "EventManifest Schema"; the element and
//! attribute names below are that schema's).
//!
//! An event's name is `Provider/Task/Opcode` as PerfView prints it: the task's and the
//! opcode's `message` strings when they have one, else their `name`; the opcode is left out
//! when it is `win:Info` (0) or absent (the `Microsoft-Windows-DNS-Client/DnsServerForInterface`
//! and `KernelTraceControl/ImageID` lines of net.4.5.2.x64.baseline.txt).

use std::collections::HashMap;
use std::sync::Arc;

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use super::{Count, EventSchema, Field, InType, Map, MapStyle, Schemas};
use crate::etl::bytes::Guid;

/// Why a manifest could not be used, and the 1-based line of the XML to blame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct XmlError {
    pub line: u64,
    pub reason: String,
}

/// The standard opcodes of winmeta.xml, by value, with the names PerfView prints.
const WIN_OPCODES: [(&str, u8, &str); 10] = [
    ("win:Info", 0, ""),
    ("win:Start", 1, "Start"),
    ("win:Stop", 2, "Stop"),
    ("win:DC_Start", 3, "DCStart"),
    ("win:DC_Stop", 4, "DCStop"),
    ("win:Extension", 5, "Extension"),
    ("win:Reply", 6, "Reply"),
    ("win:Resume", 7, "Resume"),
    ("win:Suspend", 8, "Suspend"),
    ("win:Send", 9, "Send"),
];

/// winmeta.xml level names.
const WIN_LEVELS: [(&str, u8); 6] = [
    ("win:LogAlways", 0),
    ("win:Critical", 1),
    ("win:Error", 2),
    ("win:Warning", 3),
    ("win:Informational", 4),
    ("win:Verbose", 5),
];

/// A number as manifests write them: decimal or `0x` hex.
fn number(s: &str) -> Option<u64> {
    let s = s.trim();
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

/// A number that must fit `T` (a task, opcode, event id or version).
fn sized<T: TryFrom<u64>>(v: &str, what: &str, line: u64) -> Result<T, XmlError> {
    number(v)
        .and_then(|n| T::try_from(n).ok())
        .ok_or_else(|| XmlError {
            line,
            reason: format!(
                "{what} '{v}' is not a {}-bit number",
                8 * std::mem::size_of::<T>()
            ),
        })
}

fn in_type(name: &str) -> Option<InType> {
    Some(match name.trim_start_matches("win:") {
        "UnicodeString" => InType::UnicodeString,
        "AnsiString" => InType::AnsiString,
        "Int8" => InType::Int(1, true),
        "UInt8" => InType::Int(1, false),
        "Int16" => InType::Int(2, true),
        "UInt16" => InType::Int(2, false),
        "Int32" => InType::Int(4, true),
        "UInt32" => InType::Int(4, false),
        "Int64" => InType::Int(8, true),
        "UInt64" => InType::Int(8, false),
        "HexInt32" => InType::Hex(4),
        "HexInt64" => InType::Hex(8),
        "Float" => InType::Float,
        "Double" => InType::Double,
        "Boolean" => InType::Boolean,
        "Binary" => InType::Binary,
        "GUID" => InType::Guid,
        "Pointer" => InType::Pointer,
        "FILETIME" => InType::FileTime,
        "SYSTEMTIME" => InType::SystemTime,
        "SID" => InType::Sid,
        "CountedString" | "CountedUnicodeString" => InType::CountedUnicode,
        "CountedAnsiString" => InType::CountedAnsi,
        _ => return None,
    })
}

/// A `<data>` or `<struct>` as written, before names are resolved.
struct RawField {
    line: u64,
    name: String,
    in_type: String,
    out_type: String,
    map: Option<String>,
    count: Option<String>,
    length: Option<String>,
    members: Option<Vec<RawField>>,
}

#[derive(Default)]
struct RawProvider {
    name: String,
    guid: Option<Guid>,
    line: u64,
    /// task name → (value, display name reference)
    tasks: HashMap<String, (u16, String)>,
    /// (task name or "" for provider-wide, opcode name) → (value, display name reference)
    opcodes: HashMap<(String, String), (u8, String)>,
    maps: HashMap<String, (bool, Vec<(u64, String)>)>,
    templates: HashMap<String, Vec<RawField>>,
    /// (line, id, version, task, opcode, template, level)
    events: Vec<RawEvent>,
}

struct RawEvent {
    line: u64,
    id: u16,
    version: u8,
    task: Option<String>,
    opcode: Option<String>,
    template: Option<String>,
    level: u8,
}

/// Line (1-based) of byte `pos` of `text`.
fn line_at(text: &str, pos: u64) -> u64 {
    let end = (pos as usize).min(text.len());
    1 + memchr::memchr_iter(b'\n', &text.as_bytes()[..end]).count() as u64
}

fn attrs(e: &BytesStart<'_>, line: u64) -> Result<HashMap<String, String>, XmlError> {
    let mut out = HashMap::new();
    for a in e.attributes() {
        let a = a.map_err(|err| XmlError {
            line,
            reason: format!("bad attribute: {err}"),
        })?;
        let key = String::from_utf8_lossy(a.key.local_name().as_ref()).into_owned();
        let value = a.unescape_value().map_err(|err| XmlError {
            line,
            reason: format!("bad attribute value: {err}"),
        })?;
        out.insert(key, value.into_owned());
    }
    Ok(out)
}

/// Parses manifest text into schemas.
pub(crate) fn parse(text: &str) -> Result<Schemas, XmlError> {
    parse_styled(text, MapStyle::Enum)
}

/// [`parse`] for a manifest PerfView reads with its dynamic parser (an EventSource's, from
/// the trace itself): maps print as `A|B` and `0`, 64-bit unsigned fields in hex
/// (`keywords=0x00000070` in net.4.5.2.x64's PerfView/ProviderEnableParameters).
pub(crate) fn parse_eventsource(text: &str) -> Result<Schemas, XmlError> {
    parse_styled(text, MapStyle::Dynamic)
}

fn parse_styled(text: &str, style: MapStyle) -> Result<Schemas, XmlError> {
    let mut reader = Reader::from_str(text);
    let mut providers: Vec<RawProvider> = Vec::new();
    let mut strings: HashMap<String, String> = HashMap::new();
    // Open elements, by local name.
    let mut stack: Vec<String> = Vec::new();
    let mut task: Option<String> = None;
    let mut map: Option<String> = None;
    let mut template: Option<String> = None;
    // Struct members being collected (a struct inside a template).
    let mut structs: Vec<RawField> = Vec::new();
    loop {
        let before = reader.buffer_position();
        let ev = reader.read_event().map_err(|err| XmlError {
            line: line_at(text, reader.error_position()),
            reason: format!("not well-formed XML: {err}"),
        })?;
        let line = line_at(text, before);
        let (e, empty) = match &ev {
            Event::Start(e) => (e, false),
            Event::Empty(e) => (e, true),
            Event::End(_) => {
                let name = stack.pop().unwrap_or_default();
                match name.as_str() {
                    "task" => task = None,
                    "valueMap" | "bitMap" => map = None,
                    "template" => template = None,
                    "struct" => close_struct(&mut structs, &mut providers, template.as_deref()),
                    _ => {}
                }
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
        let parent = stack.last().map(String::as_str).unwrap_or("");
        let a = attrs(e, line)?;
        let get = |k: &str| a.get(k).cloned();
        let need = |k: &str| {
            a.get(k).cloned().ok_or_else(|| XmlError {
                line,
                reason: format!("<{name}> without the {k} attribute"),
            })
        };
        let in_provider = stack.iter().any(|s| s == "provider");
        match name.as_str() {
            "provider" => {
                let guid_text = need("guid")?;
                let guid = Guid::parse(&guid_text).ok_or_else(|| XmlError {
                    line,
                    reason: format!("provider guid '{guid_text}' is not a GUID"),
                })?;
                providers.push(RawProvider {
                    name: need("name")?,
                    guid: Some(guid),
                    line,
                    ..RawProvider::default()
                });
            }
            "task" if in_provider => {
                let value: u16 = sized(&need("value")?, "task value", line)?;
                let tname = need("name")?;
                let shown = get("message").unwrap_or_else(|| tname.clone());
                if let Some(p) = providers.last_mut() {
                    p.tasks.insert(tname.clone(), (value, shown));
                }
                if !empty {
                    task = Some(tname);
                }
            }
            "opcode" if in_provider => {
                let value: u8 = sized(&need("value")?, "opcode value", line)?;
                let oname = need("name")?;
                let shown = get("message").unwrap_or_else(|| oname.clone());
                let scope = task.clone().unwrap_or_default();
                if let Some(p) = providers.last_mut() {
                    p.opcodes.insert((scope, oname), (value, shown));
                }
            }
            "valueMap" | "bitMap" if in_provider => {
                let mname = need("name")?;
                if let Some(p) = providers.last_mut() {
                    p.maps.insert(mname.clone(), (name == "bitMap", Vec::new()));
                }
                if !empty {
                    map = Some(mname);
                }
            }
            "map" if parent == "valueMap" || parent == "bitMap" => {
                let v = need("value")?;
                let value = number(&v).ok_or_else(|| XmlError {
                    line,
                    reason: format!("map value '{v}' is not a number"),
                })?;
                let message = need("message")?;
                let entries = providers
                    .last_mut()
                    .zip(map.as_ref())
                    .and_then(|(p, m)| p.maps.get_mut(m));
                if let Some((_, entries)) = entries {
                    entries.push((value, message));
                }
            }
            "template" if in_provider => {
                let tid = need("tid")?;
                if let Some(p) = providers.last_mut() {
                    p.templates.insert(tid.clone(), Vec::new());
                }
                if !empty {
                    template = Some(tid);
                }
            }
            "data" | "struct"
                if template.is_some() && (parent == "template" || parent == "struct") =>
            {
                let f = RawField {
                    line,
                    name: need("name")?,
                    in_type: if name == "data" {
                        need("inType")?
                    } else {
                        String::new()
                    },
                    out_type: get("outType").unwrap_or_default(),
                    map: get("map"),
                    count: get("count"),
                    length: get("length"),
                    members: (name == "struct").then(Vec::new),
                };
                if name == "struct" && !empty {
                    structs.push(f);
                } else {
                    push_field(f, &mut structs, &mut providers, template.as_deref());
                }
            }
            "event" if in_provider && parent == "events" => {
                let id: u16 = sized(&need("value")?, "event value", line)?;
                let version: u8 = match get("version") {
                    None => 0,
                    Some(v) => sized(&v, "event version", line)?,
                };
                let level = get("level")
                    .and_then(|l| {
                        WIN_LEVELS
                            .iter()
                            .find(|(n, _)| *n == l)
                            .map(|(_, v)| *v)
                            .or_else(|| number(&l).and_then(|n| u8::try_from(n).ok()))
                    })
                    .unwrap_or(4);
                if let Some(p) = providers.last_mut() {
                    p.events.push(RawEvent {
                        line,
                        id,
                        version,
                        task: get("task"),
                        opcode: get("opcode"),
                        template: get("template"),
                        level,
                    });
                }
            }
            "string" if parent == "stringTable" => {
                strings.insert(need("id")?, need("value")?);
            }
            _ => {}
        }
        if !empty {
            stack.push(name);
        }
    }
    if providers.is_empty() {
        return Err(XmlError {
            line: 1,
            reason: "no <provider> element: not an instrumentation manifest".into(),
        });
    }
    let mut schemas = Schemas::default();
    for p in providers {
        resolve(p, &strings, style, &mut schemas)?;
    }
    Ok(schemas)
}

/// Adds a finished field to the innermost open struct, or else to the template.
fn push_field(
    f: RawField,
    structs: &mut [RawField],
    providers: &mut [RawProvider],
    template: Option<&str>,
) {
    if let Some(members) = structs.last_mut().and_then(|s| s.members.as_mut()) {
        members.push(f);
        return;
    }
    let fields = providers
        .last_mut()
        .zip(template)
        .and_then(|(p, t)| p.templates.get_mut(t));
    if let Some(fields) = fields {
        fields.push(f);
    }
}

fn close_struct(
    structs: &mut Vec<RawField>,
    providers: &mut [RawProvider],
    template: Option<&str>,
) {
    if let Some(s) = structs.pop() {
        push_field(s, structs, providers, template);
    }
}

/// `$(string.Id)` resolved from the string table; other text as it is.
fn text(s: &str, strings: &HashMap<String, String>) -> String {
    s.strip_prefix("$(string.")
        .and_then(|r| r.strip_suffix(')'))
        .and_then(|id| strings.get(id))
        .cloned()
        .unwrap_or_else(|| s.to_string())
}

fn fields(
    raw: &[RawField],
    maps: &HashMap<String, Arc<Map>>,
    style: MapStyle,
) -> Result<Vec<Field>, XmlError> {
    let mut out: Vec<Field> = Vec::with_capacity(raw.len());
    for r in raw {
        // `count` and `length` name an earlier field of the same level, or are numbers.
        let refer = |what: &str, v: &Option<String>| -> Result<Count, XmlError> {
            let Some(v) = v else {
                return Ok(Count::None);
            };
            if let Some(n) = number(v) {
                return Ok(Count::Fixed(n.min(u64::from(u32::MAX)) as u32));
            }
            out.iter()
                .position(|f| f.name.as_ref() == v)
                .map(Count::Field)
                .ok_or_else(|| XmlError {
                    line: r.line,
                    reason: format!(
                        "field {}: {what} '{v}' names no earlier field of the template",
                        r.name
                    ),
                })
        };
        let count = refer("count", &r.count)?;
        let length = refer("length", &r.length)?;
        let map = match &r.map {
            None => None,
            Some(m) => Some(maps.get(m).cloned().ok_or_else(|| XmlError {
                line: r.line,
                reason: format!("field {}: map '{m}' is not defined", r.name),
            })?),
        };
        let (in_type, members) = match &r.members {
            Some(m) => (InType::Struct, fields(m, maps, style)?),
            None => (
                in_type(&r.in_type).ok_or_else(|| XmlError {
                    line: r.line,
                    reason: format!("field {}: unknown inType '{}'", r.name, r.in_type),
                })?,
                Vec::new(),
            ),
        };
        // outType win:HexInt32/HexInt64 prints an integer in hex; win:Boolean a byte as
        // True/False (winmeta.xml output types).
        let out_type = r.out_type.trim_start_matches("win:");
        let in_type = match (style, in_type, out_type) {
            (MapStyle::Dynamic, InType::Int(8, false), _) => InType::Hex(8),
            (_, InType::Binary, "SocketAddress") => InType::SocketAddress,
            (_, t, _) => t,
        };
        out.push(Field {
            name: r.name.as_str().into(),
            in_type,
            hex: matches!(out_type, "HexInt32" | "HexInt64" | "HexInt8" | "HexInt16"),
            boolean: out_type == "Boolean",
            map,
            count,
            length,
            members,
        });
    }
    Ok(out)
}

fn resolve(
    p: RawProvider,
    strings: &HashMap<String, String>,
    style: MapStyle,
    schemas: &mut Schemas,
) -> Result<(), XmlError> {
    let Some(guid) = p.guid else {
        return Err(XmlError {
            line: p.line,
            reason: "provider without a guid".into(),
        });
    };
    let maps: HashMap<String, Arc<Map>> = p
        .maps
        .iter()
        .map(|(name, (bitmap, entries))| {
            let mut entries: Vec<(u64, Box<str>)> = entries
                .iter()
                .map(|(v, m)| (*v, text(m, strings).trim().into()))
                .collect();
            entries.sort_by_key(|(v, _)| *v);
            (
                name.clone(),
                Arc::new(Map {
                    bitmap: *bitmap,
                    ignore: 0,
                    style,
                    entries,
                }),
            )
        })
        .collect();
    let mut templates: HashMap<&str, Arc<[Field]>> = HashMap::new();
    for (tid, raw) in &p.templates {
        templates.insert(tid.as_str(), fields(raw, &maps, style)?.into());
    }
    for e in &p.events {
        let task = e.task.as_ref().map(|t| {
            p.tasks
                .get(t)
                .map_or((t.clone(), 0), |(v, shown)| (text(shown, strings), *v))
        });
        let opcode_name = match &e.opcode {
            None => String::new(),
            Some(o) => {
                let scoped = e
                    .task
                    .as_ref()
                    .and_then(|t| p.opcodes.get(&(t.clone(), o.clone())))
                    .or_else(|| p.opcodes.get(&(String::new(), o.clone())));
                match scoped {
                    Some((_, shown)) => text(shown, strings),
                    None => WIN_OPCODES
                        .iter()
                        .find(|(n, _, _)| n == o)
                        .map_or(o.clone(), |(_, _, shown)| (*shown).to_string()),
                }
            }
        };
        let name = super::event_name(
            &p.name,
            task.as_ref().map(|(t, _)| t.as_str()),
            &opcode_name,
            e.id,
        );
        let fields = match &e.template {
            None => Arc::from(Vec::new()),
            Some(t) => templates.get(t.as_str()).cloned().ok_or_else(|| XmlError {
                line: e.line,
                reason: format!("event {}: template '{t}' is not defined", e.id),
            })?,
        };
        schemas.insert(
            guid,
            e.id,
            e.version,
            EventSchema {
                name: name.into(),
                level: e.level,
                fields,
            },
        );
    }
    schemas.name_provider(guid, &p.name);
    Ok(())
}
