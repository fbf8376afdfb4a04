//! One record to one row: provider, level, id, process, thread and the message text,
//! dispatched on the header type to the kernel, TraceLogging and WPP decoders.

use std::fmt::Write;

use super::bytes::{push_hex, push_hex_int, push_int, Guid};
use super::header::LogfileHeader;
use super::kernel::{self, Looked};
use super::manifest::{self, EventSchema, Schemas};
use super::metadata::{self, Meta};
use super::mof;
use super::record::{ext_items, pointer64, Fields, Record, EXT_EVENT_SCHEMA_TL, EXT_PROV_TRAITS};
use super::tracelogging;
use super::wpp::Tmf;
use rustc_hash::FxHashMap;

/// Misfit reason of a manifest event whose provider's schemas lack its id or version.
pub(crate) const NO_VERSION: &str = "manifest has no such event id or version";

/// Payload bytes shown as hex in a message at most; the rest is counted.
pub(crate) const HEX_CAP: usize = 256;

/// Appends `s`, in double quotes (with `"` and `\` escaped) when it is empty or holds
/// blanks, quotes, `=` or braces, so `field=value` pairs stay readable.
pub(crate) fn push_value(msg: &mut String, s: &str) {
    let special = |c: char| matches!(c, '"' | '=' | '{' | '}' | '[' | ']' | ',');
    // ASCII text, the common case, is checked byte by byte: its blanks and controls are
    // the bytes up to the space, and DEL.
    let plain = !s.is_empty()
        && if s.is_ascii() {
            !s.bytes()
                .any(|b| b <= b' ' || b == 0x7F || special(char::from(b)))
        } else {
            !s.chars()
                .any(|c| c.is_whitespace() || c.is_control() || special(c))
        };
    if plain {
        msg.push_str(s);
        return;
    }
    msg.push('"');
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                msg.push('\\');
                msg.push(c);
            }
            c if c.is_control() => msg.extend(c.escape_default()),
            c => msg.push(c),
        }
    }
    msg.push('"');
}

/// Who logged a record, for the `provider` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Provider<'a> {
    /// The NT kernel logger (SYSTEM, COMPACT and PERFINFO records).
    Kernel,
    /// A GUID, named from a table of well-known providers when possible.
    Guid(Guid),
    /// A GUID with the name its events carry (TraceLogging traits, WPP TMF module).
    Named(Guid, &'a str),
}

/// The row fields of one record, besides time and message.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Row<'a> {
    pub provider: Provider<'a>,
    pub level: Option<&'static str>,
    pub event_id: Option<u32>,
    pub event: Option<&'a str>,
    pub pid: Option<u32>,
    pub tid: Option<u32>,
    pub source: Option<&'a str>,
    pub line: Option<u64>,
}

/// Level names of the `level` column for the winmeta.xml levels 0–5 (the names every
/// reader of this crate uses).
pub(crate) fn level_name(level: u8) -> Option<&'static str> {
    crate::cells::LEVELS.get(usize::from(level)).copied()
}

/// Well-known provider GUIDs (perfview parsers' `ProviderGuid` values; KernelTraceControl's
/// ImageID/DbgID records are in net.4.5.2.x64).
pub(crate) fn known_provider(g: &Guid) -> Option<&'static str> {
    const KNOWN: [(&str, &str); 6] = [
        (
            "e13c0d23-ccbc-4e12-931b-d9cc2eee27e4",
            "Microsoft-Windows-DotNETRuntime",
        ),
        (
            "a669021c-c450-4609-a035-5af59af4df18",
            "Microsoft-Windows-DotNETRuntimeRundown",
        ),
        (
            "763fd754-7086-4dfe-95eb-c01a46faf4ca",
            "Microsoft-Windows-DotNETRuntimePrivate",
        ),
        (
            "68fdd900-4a3e-11d1-84f4-0000f80464e3",
            "Windows Kernel/EventTrace",
        ),
        ("9e814aad-3204-11d2-9a82-006008a86939", "Windows Kernel"),
        ("b3e675d7-2554-4f18-830b-2762732560de", "KernelTraceControl"),
    ];
    let text = g.to_string();
    KNOWN.iter().find(|(k, _)| *k == text).map(|(_, v)| *v)
}

/// What decoding counted besides rows: summed over the decoding threads of a read.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    /// WPP messages no TMF file described.
    pub wpp_without_format: u64,
    /// Manifest events of providers no schema described, by provider.
    pub without_schema: FxHashMap<Guid, u64>,
    /// Manifest events whose schema did not fit the payload, by reason.
    pub misfits: FxHashMap<&'static str, u64>,
    /// Kernel events of a group and type the class table lacks.
    pub kernel_without_layout: FxHashMap<(u8, u8), u64>,
    /// The file's own metadata records, copied (see [`metadata`]).
    pub meta: Vec<Meta>,
    pub meta_bytes: usize,
    /// Metadata records not kept (past [`metadata::MAX_BYTES`]).
    pub meta_dropped: u64,
}

impl Tally {
    pub(crate) fn add(&mut self, other: Tally) {
        self.wpp_without_format += other.wpp_without_format;
        for (k, v) in other.without_schema {
            *self.without_schema.entry(k).or_default() += v;
        }
        for (k, v) in other.misfits {
            *self.misfits.entry(k).or_default() += v;
        }
        for (k, v) in other.kernel_without_layout {
            *self.kernel_without_layout.entry(k).or_default() += v;
        }
        self.meta_dropped += other.meta_dropped;
        for m in other.meta {
            self.keep(m);
        }
    }

    /// Keeps a metadata record while the file's kept records stay under the cap.
    fn keep(&mut self, m: Meta) {
        if self.meta_bytes + m.len() > metadata::MAX_BYTES {
            self.meta_dropped += 1;
            return;
        }
        self.meta_bytes += m.len();
        self.meta.push(m);
    }

    /// Manifest events no schema decoded: what the file's own metadata might describe.
    pub(crate) fn undecoded(&self) -> u64 {
        self.without_schema.values().sum::<u64>()
            + self.misfits.get(NO_VERSION).copied().unwrap_or(0)
    }
}

/// What decoding needs besides the record: the logfile header, the TMF messages and the
/// caller's manifests. Read-only, so every decoding thread has its own.
pub(crate) struct Decoder<'s> {
    pub header: &'s LogfileHeader,
    pub tmf: Option<&'s Tmf>,
    pub manifests: Option<&'s Schemas>,
    /// The schemas of the file's own metadata, on a second reading (last in lookups).
    pub file: Option<&'s Schemas>,
    pub tally: Tally,
    /// TraceLogging metadata parsed so far.
    pub tl: tracelogging::Cache,
}

impl<'s> Decoder<'s> {
    /// A decoder of one file's records, with nothing counted or cached yet.
    pub(crate) fn new(
        header: &'s LogfileHeader,
        tmf: Option<&'s Tmf>,
        manifests: Option<&'s Schemas>,
        file: Option<&'s Schemas>,
    ) -> Decoder<'s> {
        Decoder {
            header,
            tmf,
            manifests,
            file,
            tally: Tally::default(),
            tl: tracelogging::Cache::default(),
        }
    }

    /// A decoder for another thread: the same inputs, its own count.
    pub(crate) fn fork(&self) -> Decoder<'s> {
        Decoder::new(self.header, self.tmf, self.manifests, self.file)
    }

    /// Copies `r` if it is one of the file's metadata records, on the first reading.
    fn collect(&mut self, r: &Record<'_>) {
        if self.file.is_some() {
            return;
        }
        let m = match r.fields {
            Fields::Classic { guid, opcode, .. } if guid == metadata::METADATA_PROVIDER => {
                match opcode {
                    metadata::EVENT_INFO => Meta::EventInfo(r.payload.into()),
                    metadata::EVENT_MAP_INFO => Meta::MapInfo(r.payload.into()),
                    _ => return,
                }
            }
            Fields::Event { provider, desc, .. }
                if desc.id == metadata::MANIFEST_ID && desc.opcode == metadata::MANIFEST_OPCODE =>
            {
                Meta::Manifest {
                    provider,
                    chunk: r.payload.into(),
                }
            }
            _ => return,
        };
        self.tally.keep(m);
    }

    /// The schema of a manifest event: the caller's manifests, then the shipped CLR
    /// manifest, then (on a second reading) the file's own metadata. Err(true) when the provider is known but not this event or version.
    fn schema(&self, provider: &Guid, id: u16, version: u8) -> Result<&'s EventSchema, bool> {
        // The file's own metadata last, as PerfView: its names for the CLR's events are the
        // manifest's symbols (`GarbageCollection/win:Start`), not the names PerfView prints.
        let clr = manifest::is_clr(provider).then(manifest::clr);
        let mut known = false;
        for schemas in [self.manifests, clr, self.file].into_iter().flatten() {
            if let Some(e) = schemas.get(provider, id, version) {
                return Ok(e);
            }
            known |= schemas.has_provider(provider);
        }
        Err(known)
    }

    /// Counts what [`Decoder::decode`] would count for `r` without decoding it.
    pub(crate) fn tally_only(&mut self, r: &Record<'_>) {
        self.collect(r);
        if self.unformatted(r) {
            self.tally.wpp_without_format += 1;
        }
        if let Fields::Event { provider, desc, .. } = r.fields {
            let tl = ext_items(r.extended).any(|i| i.kind == EXT_EVENT_SCHEMA_TL);
            if !tl && matches!(self.schema(&provider, desc.id, desc.version), Err(false)) {
                *self.tally.without_schema.entry(provider).or_default() += 1;
            }
        }
    }

    /// Whether [`Decoder::decode`] would count `r` as a WPP message without a format.
    pub(crate) fn unformatted(&self, r: &Record<'_>) -> bool {
        match r.fields {
            Fields::Message { number, guid, .. } => {
                guid.and_then(|g| self.tmf?.get(g, number)).is_none()
            }
            _ => false,
        }
    }

    /// Writes the message of `r` into `msg` and returns the other row fields; `looked` is
    /// what the merge found for it in the kernel state.
    pub(crate) fn decode<'a>(
        &mut self,
        r: &Record<'a>,
        looked: &Looked,
        msg: &mut String,
    ) -> Row<'a>
    where
        's: 'a,
    {
        self.collect(r);
        let mut row = Row {
            provider: Provider::Kernel,
            level: None,
            event_id: None,
            event: None,
            pid: kernel::known(r.pid),
            tid: kernel::known(r.tid),
            source: None,
            line: None,
        };
        match r.fields {
            Fields::Kernel {
                group: 0, kind: 0, ..
            } => {
                let h = self.header;
                let _ = write!(
                    msg,
                    "EventTrace/Header logger={} os={} build={} cpus={} pointer_size={} clock={} freq={} events_lost={} buffers_lost={}",
                    h.logger_name, h.os_version, h.os_build, h.cpus, h.pointer_size,
                    h.clock_name(), h.perf_freq, h.events_lost, h.buffers_lost
                );
                row.event_id = Some(0);
                row.event = Some("Windows Kernel/EventTrace");
            }
            Fields::Kernel {
                group,
                kind,
                version,
            } => {
                let k = kernel::decode(
                    looked,
                    group,
                    kind,
                    version,
                    pointer64(r),
                    r.pid,
                    r.tid,
                    r.payload,
                    msg,
                );
                row.pid = k.pid;
                row.tid = k.tid;
                row.event = k.event;
                match k.misfit {
                    Some(reason) => *self.tally.misfits.entry(reason).or_default() += 1,
                    None if k.event.is_none() => {
                        *self
                            .tally
                            .kernel_without_layout
                            .entry((group, kind))
                            .or_default() += 1;
                    }
                    None => {}
                }
                row.event_id = Some(u32::from(group) << 8 | u32::from(kind));
            }
            Fields::Classic {
                guid,
                opcode,
                level,
                version,
                instance,
            } => {
                row.provider = Provider::Guid(guid);
                row.level = level_name(level);
                row.event_id = Some(u32::from(opcode));
                // MOF classes logged under a GUID of their own (SysConfig, ImageID).
                let key = mof::Key::Guid(guid);
                let class = mof::table().get(key, opcode, version);
                let named = |name: &'static str| match name {
                    mof::KERNEL => Provider::Kernel,
                    name => Provider::Named(guid, name),
                };
                if let Some(e) = class {
                    let header = (row.pid, row.tid);
                    match kernel::render(e, looked, pointer64(r), header, r.payload, msg) {
                        Ok(k) => {
                            row.pid = k.pid;
                            row.tid = k.tid;
                            row.event = k.event;
                            row.provider = named(e.provider);
                            return row;
                        }
                        Err(reason) => {
                            *self.tally.misfits.entry(reason).or_default() += 1;
                            msg.clear();
                        }
                    }
                }
                row.event = kernel::name_unrendered(key, opcode, class, msg);
                if row.event.is_some() {
                    if let Some((_, name)) = mof::table().task(key) {
                        row.provider = named(name);
                    }
                    kernel::raw_tail(version, r.payload, msg);
                    return row;
                }
                let _ = write!(msg, "opcode={opcode} v{version}");
                if let Some((id, parent, parent_guid)) = instance {
                    let _ = write!(
                        msg,
                        " instance={id} parent={parent} parent_guid={parent_guid}"
                    );
                }
                msg.push_str(" data=");
                push_hex(msg, r.payload, HEX_CAP);
            }
            Fields::Event { provider, desc, .. } => {
                row.provider = Provider::Guid(provider);
                row.level = level_name(desc.level);
                row.event_id = Some(u32::from(desc.id));
                let mut meta = None;
                for item in ext_items(r.extended) {
                    match item.kind {
                        EXT_PROV_TRAITS => {
                            if let Some(name) = tracelogging::provider_name(item.data) {
                                row.provider = Provider::Named(provider, name);
                            }
                        }
                        EXT_EVENT_SCHEMA_TL => meta = Some(item.data),
                        _ => {}
                    }
                }
                let mut rendered =
                    meta.is_some_and(|m| self.tl.render(m, r.payload, pointer64(r), msg));
                if meta.is_none() {
                    match self.schema(&provider, desc.id, desc.version) {
                        Ok(schema) => {
                            // `Task/Opcode Name=Value; ...`: the name without its provider
                            // starts the message, as for kernel and TraceLogging events.
                            let short = schema.name.split_once('/').map_or("", |(_, s)| s);
                            msg.push_str(short);
                            if !short.is_empty() && !schema.fields.is_empty() {
                                msg.push(' ');
                            }
                            match manifest::decode::render(
                                &schema.fields,
                                r.payload,
                                pointer64(r),
                                msg,
                            ) {
                                Ok(()) => {
                                    rendered = true;
                                    row.event = Some(&schema.name);
                                    if let Some((name, _)) = schema.name.split_once('/') {
                                        row.provider = Provider::Named(provider, name);
                                    }
                                }
                                Err(reason) => {
                                    *self.tally.misfits.entry(reason).or_default() += 1;
                                }
                            }
                        }
                        Err(false) => {
                            *self.tally.without_schema.entry(provider).or_default() += 1;
                        }
                        Err(true) => {
                            *self.tally.misfits.entry(NO_VERSION).or_default() += 1;
                        }
                    }
                }
                if !rendered {
                    msg.clear();
                    // `id={} v{} opcode={} task={} keyword={:#x} channel={} data=`, written
                    // piece by piece: manifest events without metadata are common.
                    let fields = [
                        ("id=", u64::from(desc.id)),
                        (" v", u64::from(desc.version)),
                        (" opcode=", u64::from(desc.opcode)),
                        (" task=", u64::from(desc.task)),
                    ];
                    for (name, v) in fields {
                        msg.push_str(name);
                        push_int(msg, v);
                    }
                    msg.push_str(" keyword=");
                    push_hex_int(msg, desc.keyword);
                    msg.push_str(" channel=");
                    push_int(msg, desc.channel);
                    msg.push_str(" data=");
                    push_hex(msg, r.payload, HEX_CAP);
                }
            }
            Fields::Message {
                number,
                guid,
                component,
                ..
            } => {
                row.event_id = Some(u32::from(number));
                let found = guid.and_then(|g| Some((g, self.tmf?.get(g, number)?)));
                match (found, guid) {
                    (Some((g, m)), _) => {
                        row.provider = Provider::Named(g, &m.module);
                        row.level = m.level.and_then(level_name);
                        row.source = m.file.as_deref();
                        row.line = m.line;
                        super::wpp::render(m, r.payload, pointer64(r), msg);
                    }
                    (None, g) => {
                        self.tally.wpp_without_format += 1;
                        if let Some(g) = g {
                            row.provider = Provider::Guid(g);
                        }
                        match (g, component) {
                            (Some(g), _) => {
                                let _ = write!(msg, "WPP {g} message {number}");
                            }
                            (None, Some(c)) => {
                                let _ = write!(msg, "WPP component {c} message {number}");
                            }
                            (None, None) => {
                                let _ = write!(msg, "WPP message {number}");
                            }
                        }
                        msg.push_str(" data=");
                        push_hex(msg, r.payload, HEX_CAP);
                    }
                }
            }
        }
        row
    }
}

#[cfg(test)]
mod tests {
    use super::push_value;

    /// The ASCII check quotes exactly what the check by chars quotes.
    #[test]
    fn ascii_and_unicode_values_are_quoted_alike() {
        let by_chars = |s: &str| {
            s.is_empty()
                || s.chars().any(|c| {
                    c.is_whitespace()
                        || c.is_control()
                        || matches!(c, '"' | '=' | '{' | '}' | '[' | ']' | ',')
                })
        };
        let mut all: Vec<String> = (0u8..=0x7F)
            .map(|b| format!("a{}b", char::from(b)))
            .collect();
        all.extend(["", "plain", "é", "a\u{85}b", "a\u{3000}b", "x=\"1\"", "\\"].map(String::from));
        for s in all {
            let mut msg = String::new();
            push_value(&mut msg, &s);
            assert_eq!(msg.starts_with('"'), by_chars(&s), "{s:?} gave {msg:?}");
        }
    }
}
