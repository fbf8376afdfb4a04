//! TraceLogging: events that describe themselves. The provider name travels in the
//! PROV_TRAITS extended item, the event name and field types in EVENT_SCHEMA_TL
//! (formats.md §1.6; microsoft/tracelogging `TraceLoggingDynamic.h`). [`render`] writes
//! `EventName field=value field=value`, structs as `{a=1 b=2}`, arrays as `[1,2]`.

use std::fmt::Write;

use super::bytes::{
    ansiz, push_hex, push_int, slice, u16_at, u32_at, u64_at, u8_at, utf16, utf16z_into, Guid,
};
use super::event::{push_value, HEX_CAP};
use super::header::filetime_utc;

/// InType flag bits: a constant count (u16 in the metadata), a variable count (u16 in the
/// payload), a custom schema; the chain bit says an OutType byte follows.
const IN_COUNT_MASK: u8 = 0x60;
const IN_CONST_COUNT: u8 = 0x20;
const IN_VAR_COUNT: u8 = 0x40;
const IN_CUSTOM: u8 = 0x60;
const CHAIN: u8 = 0x80;
const IN_STRUCT: u8 = 24;
/// OutType values that change how an integer prints (TraceLoggingProvider.h `TlgOut*`).
/// Seen: primitive-types declares `boolean_type` as UInt8 with OutType 3.
const OUT_BOOLEAN: u8 = 3;
const OUT_HEX: u8 = 4;

/// The provider name from a PROV_TRAITS item: u16 size, then the UTF-8 name and a NUL
/// (verified: `0b 00 "MySource\0"` in SelfDescribingSingleEvent).
pub(crate) fn provider_name(traits: &[u8]) -> Option<&str> {
    let rest = traits.get(2..)?;
    let end = rest.iter().position(|&b| b == 0)?;
    std::str::from_utf8(&rest[..end]).ok()
}

/// One field of the metadata.
struct Field {
    name: Box<str>,
    in_type: u8,
    out_type: u8,
    /// Some(n) for a constant-count array.
    const_count: Option<u16>,
}

/// Reads tag bytes: they continue while the high bit is set (at most 4).
fn skip_tags(m: &[u8], mut at: usize) -> Option<usize> {
    for _ in 0..4 {
        let b = u8_at(m, at)?;
        at += 1;
        if b & CHAIN == 0 {
            break;
        }
    }
    Some(at)
}

fn cstr(m: &[u8], at: usize) -> Option<(&str, usize)> {
    let rest = m.get(at..)?;
    let end = rest.iter().position(|&b| b == 0)?;
    Some((std::str::from_utf8(&rest[..end]).ok()?, at + end + 1))
}

/// Event metadata, parsed: the event name and the flat field list (a struct field is
/// followed by its members; its OutType holds their number).
pub(crate) struct Meta {
    event: Box<str>,
    fields: Vec<Field>,
}

fn parse_meta(meta: &[u8]) -> Option<Meta> {
    let size = usize::from(u16_at(meta, 0)?).min(meta.len());
    let m = &meta[..size];
    let at = skip_tags(m, 2)?;
    let (event, mut at) = cstr(m, at)?;
    let mut fields = Vec::new();
    while at < m.len() {
        let (name, next) = cstr(m, at)?;
        at = next;
        let in_type = u8_at(m, at)?;
        at += 1;
        let mut out_type = 0;
        if in_type & CHAIN != 0 {
            out_type = u8_at(m, at)?;
            at += 1;
            if out_type & CHAIN != 0 {
                at = skip_tags(m, at)?;
            }
        }
        let mut const_count = None;
        match in_type & IN_COUNT_MASK {
            IN_CONST_COUNT => {
                const_count = Some(u16_at(m, at)?);
                at += 2;
            }
            IN_CUSTOM => {
                // u16 protocol, u16 schema length, schema bytes.
                at += 4 + usize::from(u16_at(m, at + 2)?);
            }
            _ => {}
        }
        fields.push(Field {
            name: name.into(),
            in_type,
            out_type: out_type & !CHAIN,
            const_count,
        });
    }
    Some(Meta {
        event: event.into(),
        fields,
    })
}

/// Renders a TraceLogging event into `msg`; false if the metadata is unusable (then
/// nothing useful was written and the caller shows the payload as hex).
#[cfg(test)]
pub(crate) fn render(meta: &[u8], payload: &[u8], pointer64: bool, msg: &mut String) -> bool {
    let Some(meta) = parse_meta(meta) else {
        return false;
    };
    render_meta(&meta, payload, pointer64, msg);
    true
}

/// Distinct metadata blobs kept by a [`Cache`] at most; past that it starts again, so
/// input with endless schemas cannot grow it without bound.
const CACHE_MAX: usize = 4096;

/// Metadata parsed once per distinct blob: every event of a schema carries the same
/// EVENT_SCHEMA_TL bytes, and parsing them again was a twentieth of a read (perf).
#[derive(Default)]
pub(crate) struct Cache {
    parsed: rustc_hash::FxHashMap<Box<[u8]>, Option<Meta>>,
}

impl Cache {
    /// [`render`] with the metadata parsed at most once.
    pub(crate) fn render(
        &mut self,
        meta: &[u8],
        payload: &[u8],
        pointer64: bool,
        msg: &mut String,
    ) -> bool {
        if !self.parsed.contains_key(meta) {
            if self.parsed.len() >= CACHE_MAX {
                self.parsed.clear();
            }
            self.parsed.insert(meta.into(), parse_meta(meta));
        }
        match self.parsed.get(meta) {
            Some(Some(m)) => {
                render_meta(m, payload, pointer64, msg);
                true
            }
            _ => false,
        }
    }
}

/// Renders an event of metadata `meta`.
fn render_meta(meta: &Meta, payload: &[u8], pointer64: bool, msg: &mut String) {
    let fields = &meta.fields;
    msg.push_str(&meta.event);
    let mut r = Reader {
        p: payload,
        at: 0,
        pointer64,
        scratch: String::new(),
    };
    let mut i = 0;
    while i < fields.len() {
        msg.push(' ');
        match r.field(fields, i, msg) {
            Some(next) => i = next,
            None => {
                msg.push_str("<cut off> rest=");
                push_hex(msg, payload.get(r.at..).unwrap_or(&[]), HEX_CAP);
                return;
            }
        }
    }
    if r.at < payload.len() {
        msg.push_str(" extra=");
        push_hex(msg, &payload[r.at..], HEX_CAP);
    }
}

struct Reader<'p> {
    p: &'p [u8],
    at: usize,
    pointer64: bool,
    /// One buffer for the event's UTF-16 strings.
    scratch: String,
}

/// Index after field `i` and, for a struct, its members (recursively).
fn skip_field(fields: &[Field], i: usize) -> usize {
    let f = &fields[i];
    let mut next = i + 1;
    if f.in_type & 0x1F == IN_STRUCT {
        for _ in 0..f.out_type {
            if next >= fields.len() {
                break;
            }
            next = skip_field(fields, next);
        }
    }
    next
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let s = slice(self.p, self.at, n)?;
        self.at += n;
        Some(s)
    }

    /// Writes `name=value` for field `i`; returns the index of the next field.
    fn field(&mut self, fields: &[Field], i: usize, msg: &mut String) -> Option<usize> {
        let f = &fields[i];
        msg.push_str(&f.name);
        msg.push('=');
        let count = match f.in_type & IN_COUNT_MASK {
            IN_CONST_COUNT => f.const_count,
            IN_VAR_COUNT => Some(u16_at(self.take(2)?, 0)?),
            _ => None,
        };
        let end = skip_field(fields, i);
        match count {
            None => self.value(fields, i, msg)?,
            Some(n) => {
                msg.push('[');
                for k in 0..n {
                    if k > 0 {
                        msg.push(',');
                    }
                    self.value(fields, i, msg)?;
                }
                msg.push(']');
            }
        }
        Some(end)
    }

    /// One value of field `i` (a whole struct for a struct field).
    fn value(&mut self, fields: &[Field], i: usize, msg: &mut String) -> Option<()> {
        let f = &fields[i];
        let in_type = f.in_type & 0x1F;
        if f.in_type & IN_COUNT_MASK == IN_CUSTOM {
            let n = usize::from(u16_at(self.take(2)?, 0)?);
            push_hex(msg, self.take(n)?, HEX_CAP);
            return Some(());
        }
        if (3..=10).contains(&in_type) && matches!(f.out_type, OUT_BOOLEAN | OUT_HEX) {
            let size = 1usize << ((in_type - 3) / 2);
            let b = self.take(size)?;
            let v = b.iter().rev().fold(0u64, |a, &x| a << 8 | u64::from(x));
            if f.out_type == OUT_BOOLEAN {
                msg.push_str(if v != 0 { "true" } else { "false" });
            } else {
                write!(msg, "{v:#x}").ok()?;
            }
            return Some(());
        }
        match in_type {
            IN_STRUCT => {
                msg.push('{');
                let mut j = i + 1;
                for k in 0..f.out_type {
                    if j >= fields.len() {
                        break;
                    }
                    if k > 0 {
                        msg.push(' ');
                    }
                    j = self.field(fields, j, msg)?;
                }
                msg.push('}');
            }
            1 => {
                let mut s = std::mem::take(&mut self.scratch);
                self.at += utf16z_into(&mut s, self.p.get(self.at..)?);
                push_value(msg, &s);
                self.scratch = s;
            }
            2 => {
                let (s, used) = ansiz(self.p.get(self.at..)?);
                self.at += used;
                push_value(msg, &s);
            }
            3 => push_int(msg, self.take(1)?[0] as i8),
            4 => push_int(msg, self.take(1)?[0]),
            5 => push_int(msg, u16_at(self.take(2)?, 0)? as i16),
            6 => push_int(msg, u16_at(self.take(2)?, 0)?),
            7 => push_int(msg, u32_at(self.take(4)?, 0)? as i32),
            8 => push_int(msg, u32_at(self.take(4)?, 0)?),
            9 => push_int(msg, u64_at(self.take(8)?, 0)? as i64),
            10 => push_int(msg, u64_at(self.take(8)?, 0)?),
            11 => write!(msg, "{}", f32::from_bits(u32_at(self.take(4)?, 0)?)).ok()?,
            12 => write!(msg, "{}", f64::from_bits(u64_at(self.take(8)?, 0)?)).ok()?,
            13 => msg.push_str(if u32_at(self.take(4)?, 0)? != 0 {
                "true"
            } else {
                "false"
            }),
            14 | 25 => {
                let n = usize::from(u16_at(self.take(2)?, 0)?);
                push_hex(msg, self.take(n)?, HEX_CAP);
            }
            15 => write!(msg, "{}", Guid::at(self.take(16)?, 0)?).ok()?,
            16 => {
                let v = if self.pointer64 {
                    u64_at(self.take(8)?, 0)?
                } else {
                    u64::from(u32_at(self.take(4)?, 0)?)
                };
                write!(msg, "{v:#x}").ok()?
            }
            17 => {
                let ft = u64_at(self.take(8)?, 0)? as i64;
                match filetime_utc(ft) {
                    Some(t) => {
                        msg.push_str(&t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
                    }
                    None => write!(msg, "{ft}").ok()?,
                }
            }
            18 => push_systemtime(msg, self.take(16)?),
            19 => {
                let n = usize::from(u8_at(self.p, self.at + 1)?);
                let sid = self.take(8 + 4 * n)?;
                push_sid(msg, sid);
            }
            20 => write!(msg, "{:#x}", u32_at(self.take(4)?, 0)?).ok()?,
            21 => write!(msg, "{:#x}", u64_at(self.take(8)?, 0)?).ok()?,
            22 => {
                let n = usize::from(u16_at(self.take(2)?, 0)?);
                let s = utf16(self.take(n)?);
                push_value(msg, &s);
            }
            23 => {
                let n = usize::from(u16_at(self.take(2)?, 0)?);
                let s = String::from_utf8_lossy(self.take(n)?).into_owned();
                push_value(msg, &s);
            }
            _ => return None,
        }
        Some(())
    }
}

/// A SYSTEMTIME (8 u16: year, month, weekday, day, hour, minute, second, ms) as
/// `YYYY-MM-DDTHH:MM:SS.mmm`.
pub(crate) fn push_systemtime(msg: &mut String, s: &[u8]) {
    let w = |k: usize| u16_at(s, k * 2).unwrap_or(0);
    let _ = write!(
        msg,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}",
        w(0),
        w(1),
        w(3),
        w(4),
        w(5),
        w(6),
        w(7)
    );
}

/// `S-1-5-21-...` from a binary SID.
pub(crate) fn push_sid(msg: &mut String, sid: &[u8]) {
    let authority = sid
        .get(2..8)
        .map_or(0, |b| b.iter().fold(0u64, |a, &x| a << 8 | u64::from(x)));
    let _ = write!(msg, "S-{}-{authority}", sid.first().copied().unwrap_or(0));
    let mut at = 8;
    while let Some(v) = u32_at(sid, at) {
        let _ = write!(msg, "-{v}");
        at += 4;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_struct_of_self_describing_single_event() {
        // The metadata and payload as formats.md §1.6 transcribes them.
        let mut meta = vec![0x17, 0x00, 0x00];
        meta.extend_from_slice(b"TestEvent\0a\0\x98\x02b\0\x01c\0\x01");
        assert_eq!(meta.len(), 0x17);
        let mut payload = Vec::new();
        for s in ["Hello", "World!"] {
            for u in s.encode_utf16().chain([0]) {
                payload.extend_from_slice(&u.to_le_bytes());
            }
        }
        let mut msg = String::new();
        assert!(render(&meta, &payload, true, &mut msg));
        assert_eq!(msg, "TestEvent a={b=Hello c=World!}");
        assert_eq!(provider_name(b"\x0b\x00MySource\0"), Some("MySource"));
    }

    #[test]
    fn arrays_and_cut_off_payloads() {
        let mut meta = vec![0, 0, 0];
        meta.extend_from_slice(b"E\0v\0\x48n\0\x27\x02\x00");
        meta[0] = meta.len() as u8;
        // v: variable-count Int32 array (0x40|7=0x47 would be Int32; 0x48 is UInt32)
        let mut payload = vec![2, 0, 1, 0, 0, 0, 2, 0, 0, 0];
        payload.extend_from_slice(&[5, 0, 0, 0, 6, 0, 0, 0]); // n: constant count 2 of Int32
        let mut msg = String::new();
        assert!(render(&meta, &payload, true, &mut msg));
        assert_eq!(msg, "E v=[1,2] n=[5,6]");
        msg.clear();
        assert!(render(&meta, &payload[..5], true, &mut msg));
        assert!(msg.contains("<cut off>"), "{msg}");
        assert!(!render(&[1], &[], true, &mut msg));
    }
}
