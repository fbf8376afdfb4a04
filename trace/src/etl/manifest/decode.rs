//! A manifest event's payload rendered by its template as `Name=Value; Name=Value`, the
//! way PerfView prints payloads (perfview `*.baseline.txt`): integers in decimal with
//! thousands separators (`AllocationAmount=107,664`; also for outType win:HexInt64,
//! `MethodID=8,767,616,885,296`), the win:HexInt32/64 input types as `0x` and at least 8
//! digits (like `Size=0x01ffffd8`), pointers likewise (`TypeID=0x08c3d188`,
//! `Address=0x1b0f1000028`), map-typed fields by their map's names (`Type=SmallObjectHeap`;
//! bitmaps as `Manifest, ReadyToRun`; a value no name covers as its plain number, like
//! `StartupFlags=8388611`), booleans as `True`/`False`, strings as they are, GUIDs in
//! lowercase without braces. Times are written in RFC 3339 UTC, as for TraceLogging
//! events. Arrays are `[a, b]` (a comma alone is a thousands separator), structs `{a=1 b=2}`.

use std::fmt::Write;

use super::{Count, Field, InType, Map, MapStyle};
use crate::etl::bytes::{push_hex, slice, u16_at, u32_at, u64_at, utf16, utf16z_into, Guid};
use crate::etl::event::HEX_CAP;
use crate::etl::header::filetime_utc;

/// Why a template did not fit a payload (the keys counted in the ETL report).
pub(crate) const SHORT: &str = "manifest template longer than the payload";
pub(crate) const NO_LENGTH: &str = "manifest binary field without a length";
pub(crate) const EMPTY_ELEMENT: &str = "manifest array of empty elements";

/// Writes `fields` read from `payload` into `msg`; on a misfit returns its reason (what
/// was written by then is to be discarded).
pub(crate) fn render(
    fields: &[Field],
    payload: &[u8],
    pointer64: bool,
    msg: &mut String,
) -> Result<(), &'static str> {
    render_values(fields, payload, pointer64, msg, &mut [0u64; 64])
}

/// [`render`], also giving the integer value of each top-level field (0 for fields that are
/// not integers, and for fields past the end of `values`).
pub(crate) fn render_values(
    fields: &[Field],
    payload: &[u8],
    pointer64: bool,
    msg: &mut String,
    values: &mut [u64],
) -> Result<(), &'static str> {
    let mut r = Reader {
        p: payload,
        at: 0,
        pointer64,
        scratch: String::new(),
    };
    r.level(fields, msg, "; ", values)
}

struct Reader<'p> {
    p: &'p [u8],
    at: usize,
    pointer64: bool,
    scratch: String,
}

/// Appends `v` (negated when `neg`) with a comma every three digits.
fn push_grouped(msg: &mut String, v: u64, neg: bool) {
    let mut buf = itoa::Buffer::new();
    let digits = buf.format(v).as_bytes();
    if neg {
        msg.push('-');
    }
    for (i, d) in digits.iter().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            msg.push(',');
        }
        msg.push(char::from(*d));
    }
}

/// A mapped value: its name, the names of its bits, or else the number.
fn push_mapped(msg: &mut String, map: &Map, v: u64) {
    if !map.bitmap {
        match map.entries.binary_search_by_key(&v, |(k, _)| *k) {
            Ok(i) => msg.push_str(&map.entries[i].1),
            Err(_) => crate::etl::bytes::push_int(msg, v),
        }
        return;
    }
    let v = v & !map.ignore;
    if v == 0 {
        // PerfView's flags enums name the empty set `None` (`AssemblyFlags=None`).
        match (map.entries.first(), map.style) {
            (Some((0, name)), _) => msg.push_str(name),
            (_, MapStyle::Enum) => msg.push_str("None"),
            _ => msg.push('0'),
        }
        return;
    }
    let joiner = match map.style {
        MapStyle::Dynamic => "|",
        MapStyle::Enum | MapStyle::Tdh => ", ",
    };
    let mut covered = 0u64;
    let start = msg.len();
    for (bit, name) in &map.entries {
        if *bit != 0 && v & bit == *bit {
            if covered != 0 {
                msg.push_str(joiner);
            }
            covered |= bit;
            msg.push_str(name);
        }
    }
    // Bits no name covers: the number, as .NET prints such a flags value.
    if covered != v {
        msg.truncate(start);
        crate::etl::bytes::push_int(msg, v);
    }
}

/// A SOCKADDR as PerfView prints it: `10.50.10.50:0`, `[2001:4898::1050:1050]:0`; other
/// families, or a cut one, as hex. SOCKADDR_IN: family (u16, 2), port (network order),
/// address; SOCKADDR_IN6: family (23), port, flow info (u32), address (ws2def.h, ws2ipdef.h).
fn push_sockaddr(msg: &mut String, b: &[u8]) {
    let port = b.get(2..4).map(|p| u16::from_be_bytes([p[0], p[1]]));
    match (u16_at(b, 0), port) {
        (Some(2), Some(port)) if b.len() >= 8 => {
            let _ = write!(msg, "{}.{}.{}.{}:{port}", b[4], b[5], b[6], b[7]);
        }
        (Some(23), Some(port)) if b.len() >= 24 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(&b[8..24]);
            let _ = write!(msg, "[{}]:{port}", std::net::Ipv6Addr::from(a));
        }
        _ => push_hex(msg, b, HEX_CAP),
    }
}

impl Reader<'_> {
    fn pointer(&mut self) -> Result<u64, &'static str> {
        Ok(if self.pointer64 {
            u64_at(self.take(8)?, 0).ok_or(SHORT)?
        } else {
            u64::from(u32_at(self.take(4)?, 0).ok_or(SHORT)?)
        })
    }

    fn take(&mut self, n: usize) -> Result<&[u8], &'static str> {
        let s = slice(self.p, self.at, n).ok_or(SHORT)?;
        self.at += n;
        Ok(s)
    }

    /// The fields of one level (the template, or a struct's members), `sep` between them.
    /// `values` receives the integer value of each field, for counts and lengths naming them.
    fn level(
        &mut self,
        fields: &[Field],
        msg: &mut String,
        sep: &str,
        values: &mut [u64],
    ) -> Result<(), &'static str> {
        let mut written = 0;
        for (i, f) in fields.iter().enumerate() {
            let lookup = |c: Count| match c {
                Count::None => None,
                Count::Fixed(n) => Some(u64::from(n)),
                Count::Field(k) => Some(values.get(k).copied().unwrap_or(0)),
            };
            let length = lookup(f.length);
            if f.in_type == InType::Skip {
                let n = usize::try_from(length.unwrap_or(0)).map_err(|_| SHORT)?;
                self.take(n)?;
                continue;
            }
            if written > 0 {
                msg.push_str(sep);
            }
            written += 1;
            msg.push_str(&f.name);
            msg.push('=');
            let v = match lookup(f.count) {
                None => self.value(f, length, msg)?,
                Some(n) => {
                    msg.push('[');
                    for k in 0..n {
                        if k > 0 {
                            msg.push_str(", ");
                        }
                        let before = self.at;
                        self.value(f, length, msg)?;
                        if self.at == before {
                            return Err(EMPTY_ELEMENT);
                        }
                    }
                    msg.push(']');
                    0
                }
            };
            if let Some(slot) = values.get_mut(i) {
                *slot = v;
            }
        }
        Ok(())
    }

    /// One value of `f`; returns it as an integer (0 for what is not one).
    fn value(
        &mut self,
        f: &Field,
        length: Option<u64>,
        msg: &mut String,
    ) -> Result<u64, &'static str> {
        let len = |n: u64| usize::try_from(n).map_err(|_| SHORT);
        match f.in_type {
            InType::Int(size, _) | InType::Hex(size) if size <= 8 => {
                let signed = matches!(f.in_type, InType::Int(_, true));
                let b = self.take(usize::from(size))?;
                let v = b.iter().rev().fold(0u64, |a, &x| a << 8 | u64::from(x));
                // outType win:HexInt32/64 is printed in decimal: PerfView does so for most
                // such CLR fields (MethodID, ModuleID, MethodToken in net.4.5.2.x64's
                // baseline); its hex for GC/CreateSegment's Address and Size comes from its
                // compiled parser, not from the manifest.
                // Its parser types fields named `...Address` as addresses (`Address=0x02551000`,
                // `MethodStartAddress=0x7f95eb10090`): those stay hex.
                let hex =
                    matches!(f.in_type, InType::Hex(_)) || (f.hex && f.name.ends_with("Address"));
                if let Some(map) = &f.map {
                    push_mapped(msg, map, v);
                } else if f.boolean {
                    msg.push_str(if v != 0 { "True" } else { "False" });
                } else if hex {
                    write!(msg, "0x{v:08x}").map_err(|_| SHORT)?;
                } else if signed {
                    let shift = 64 - 8 * u32::from(size);
                    let s = ((v << shift) as i64) >> shift;
                    push_grouped(msg, s.unsigned_abs(), s < 0);
                } else {
                    push_grouped(msg, v, false);
                }
                return Ok(v);
            }
            InType::Int(..) | InType::Hex(_) => return Err(SHORT),
            InType::UnicodeString => {
                let mut s = std::mem::take(&mut self.scratch);
                match length {
                    Some(n) => {
                        let n = len(n)?.checked_mul(2).ok_or(SHORT)?;
                        s = utf16(self.take(n)?);
                        // A counted string may still end in NULs.
                        let kept = s.trim_end_matches('\0').len();
                        s.truncate(kept);
                    }
                    None => {
                        let rest = self.p.get(self.at..).ok_or(SHORT)?;
                        if rest.is_empty() {
                            return Err(SHORT);
                        }
                        self.at += utf16z_into(&mut s, rest);
                    }
                }
                msg.push_str(&s);
                self.scratch = s;
            }
            InType::AnsiString => {
                let b = match length {
                    Some(n) => self.take(len(n)?)?,
                    None => {
                        let rest = self.p.get(self.at..).ok_or(SHORT)?;
                        let n = rest.iter().position(|&c| c == 0).ok_or(SHORT)?;
                        self.at += n + 1;
                        &rest[..n]
                    }
                };
                let b = b.split(|&c| c == 0).next().unwrap_or_default();
                msg.push_str(&String::from_utf8_lossy(b));
            }
            InType::CountedUnicode | InType::CountedAnsi => {
                let n = usize::from(u16_at(self.take(2)?, 0).ok_or(SHORT)?);
                let b = self.take(n)?;
                if f.in_type == InType::CountedUnicode {
                    msg.push_str(&utf16(b));
                } else {
                    msg.push_str(&String::from_utf8_lossy(b));
                }
            }
            InType::Float => {
                let v = f32::from_bits(u32_at(self.take(4)?, 0).ok_or(SHORT)?);
                write!(msg, "{v}").map_err(|_| SHORT)?;
            }
            InType::Double => {
                let v = f64::from_bits(u64_at(self.take(8)?, 0).ok_or(SHORT)?);
                write!(msg, "{v}").map_err(|_| SHORT)?;
            }
            InType::Boolean => {
                let v = u32_at(self.take(4)?, 0).ok_or(SHORT)?;
                msg.push_str(if v != 0 { "True" } else { "False" });
                return Ok(u64::from(v));
            }
            InType::Binary => {
                let n = length.ok_or(NO_LENGTH)?;
                let b = self.take(len(n)?)?;
                push_hex(msg, b, HEX_CAP);
            }
            InType::SocketAddress => {
                let n = length.ok_or(NO_LENGTH)?;
                let b = self.take(len(n)?)?;
                push_sockaddr(msg, b);
            }
            InType::Guid => {
                let g = Guid::at(self.take(16)?, 0).ok_or(SHORT)?;
                write!(msg, "{g}").map_err(|_| SHORT)?;
            }
            InType::Pointer => {
                let v = self.pointer()?;
                write!(msg, "0x{v:08x}").map_err(|_| SHORT)?;
                return Ok(v);
            }
            InType::FileTime => {
                let ft = u64_at(self.take(8)?, 0).ok_or(SHORT)? as i64;
                match filetime_utc(ft) {
                    Some(t) => {
                        msg.push_str(&t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
                    }
                    None => crate::etl::bytes::push_int(msg, ft),
                }
            }
            InType::SystemTime => {
                crate::etl::tracelogging::push_systemtime(msg, self.take(16)?);
            }
            InType::Sid => {
                // Revision, sub-authority count, 6-byte authority, then the sub-authorities.
                let n = usize::from(*self.p.get(self.at + 1).ok_or(SHORT)?);
                let sid = self.take(8 + 4 * n)?;
                crate::etl::tracelogging::push_sid(msg, sid);
            }
            InType::USize => {
                let v = self.pointer()?;
                push_grouped(msg, v, false);
                return Ok(v);
            }
            InType::Ipv4 => {
                let b = self.take(4)?;
                let _ = write!(msg, "{}.{}.{}.{}", b[0], b[1], b[2], b[3]);
            }
            InType::Ipv6 => {
                let b: [u8; 16] = self.take(16)?.try_into().map_err(|_| SHORT)?;
                let _ = write!(msg, "{}", std::net::Ipv6Addr::from(b));
            }
            InType::Port => {
                let b = self.take(2)?;
                let v = u64::from(u16::from_be_bytes([b[0], b[1]]));
                push_grouped(msg, v, false);
                return Ok(v);
            }
            InType::KernelSid => {
                if u32_at(self.p, self.at).ok_or(SHORT)? == 0 {
                    self.take(4)?;
                } else {
                    let ptr = if self.pointer64 { 8 } else { 4 };
                    let n = usize::from(*self.p.get(self.at + 2 * ptr + 1).ok_or(SHORT)?);
                    let blob = self.take(2 * ptr + 8 + 4 * n)?;
                    crate::etl::tracelogging::push_sid(msg, &blob[2 * ptr..]);
                }
            }
            InType::PointerArray => {
                msg.push('[');
                let mut k = 0;
                while self.at < self.p.len() {
                    if k > 0 {
                        msg.push_str(", ");
                    }
                    k += 1;
                    let v = self.pointer()?;
                    write!(msg, "0x{v:x}").map_err(|_| SHORT)?;
                }
                msg.push(']');
            }
            InType::Skip => {}
            InType::Struct => {
                msg.push('{');
                self.level(&f.members, msg, " ", &mut [0u64; 64])?;
                msg.push('}');
            }
        }
        Ok(0)
    }
}
