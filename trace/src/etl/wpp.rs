//! WPP software-tracing messages and the TMF files that give their text (`--tmf DIR`).
//!
//! A WPP record carries only a message GUID, a message number and the binary arguments
//! (formats.md §1.5). The format string, the argument types and the source line are in a
//! TMF file named after the GUID, as written by `tracepdb` (layout: MicrosoftDocs
//! windows-driver-docs "Trace Message Format File"):
//!
//! ```text
//! 8f3b1e4c-52c1-4d37-9a29-3f7f1e3b5a10 mydriver // SRC=driver.c MJ= MN=
//! #typev driver_c120 10 "%0Opened %10!s! status=%11!x!" // LEVEL=TRACE_LEVEL_ERROR FUNC=Open
//! {
//! name, ItemString -- 10
//! status, ItemNTSTATUS -- 11
//! }
//! ```
//!
//! [source] only: no public .etl with WPP records was found; the test-data writer follows
//! the same description.

use std::collections::HashMap;
use std::path::Path;

use super::bytes::{ansiz, push_hex, slice, u16_at, u32_at, u64_at, utf16, utf16z, Guid};
use super::event::HEX_CAP;

/// One message of a TMF file.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Message {
    /// The module named on the GUID line (Tracefmt shows it as the provider).
    pub module: String,
    pub file: Option<String>,
    pub line: Option<u64>,
    pub level: Option<u8>,
    format: String,
    /// (placeholder number, item type) in payload order.
    items: Vec<(u32, String)>,
}

/// Every message of the TMF files in one folder, by (GUID, message number).
#[derive(Debug, Default)]
pub(crate) struct Tmf {
    messages: HashMap<(Guid, u16), Message>,
}

impl Tmf {
    /// Reads every `*.tmf` file in `dir` (unreadable files are left out; the caller reports
    /// the folder itself when it cannot be listed).
    pub(crate) fn load(dir: &Path) -> std::io::Result<Tmf> {
        let mut tmf = Tmf::default();
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            let is_tmf = path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("tmf"));
            if is_tmf {
                if let Ok(bytes) = std::fs::read(&path) {
                    tmf.add(&String::from_utf8_lossy(&bytes));
                }
            }
        }
        Ok(tmf)
    }

    /// Adds the messages of one TMF text.
    pub(crate) fn add(&mut self, text: &str) {
        let mut guid: Option<(Guid, String)> = None;
        let mut current: Option<(u16, Message)> = None;
        for line in text.lines().map(str::trim) {
            if let Some(g) = line.get(..36).and_then(Guid::parse) {
                let module = line[36..].split_whitespace().next().unwrap_or("");
                guid = Some((g, module.to_string()));
            } else if let Some(rest) = line.strip_prefix("#typev") {
                if let Some((g, module)) = &guid {
                    current = typev(rest, module).map(|(n, m)| {
                        self.messages.insert((*g, n), m.clone());
                        (n, m)
                    });
                }
            } else if line == "}" {
                if let (Some((g, _)), Some((n, m))) = (&guid, current.take()) {
                    self.messages.insert((*g, n), m);
                }
            } else if let Some((_, m)) = current.as_mut() {
                // `name, ItemType -- N`
                if let Some((left, number)) = line.rsplit_once("--") {
                    let kind = left.rsplit_once(',').map_or(left, |(_, k)| k).trim();
                    let kind = kind.split('(').next().unwrap_or(kind).trim();
                    if let Ok(n) = number.trim().parse() {
                        m.items.push((n, kind.to_string()));
                    }
                }
            }
        }
    }

    pub(crate) fn get(&self, guid: Guid, number: u16) -> Option<&Message> {
        self.messages.get(&(guid, number))
    }
}

/// `#typev file_c120 10 "format" // LEVEL=... FUNC=...` (after `#typev`).
fn typev(rest: &str, module: &str) -> Option<(u16, Message)> {
    let rest = rest.trim_start();
    let (name, rest) = rest.split_once(char::is_whitespace)?;
    let (number, rest) = rest.trim_start().split_once(char::is_whitespace)?;
    let number: u16 = number.parse().ok()?;
    let open = rest.find('"')?;
    let close = rest.rfind('"')?;
    let format = rest.get(open + 1..close)?.to_string();
    let comment = rest.get(close + 1..).unwrap_or("");
    let level = comment
        .split_whitespace()
        .find_map(|w| w.strip_prefix("LEVEL="))
        .and_then(level_of);
    // `driver_c120`: the source file with `.` written as `_`, then the line.
    let digits = name.len() - name.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    let (stem, line) = name.split_at(name.len() - digits);
    let file = stem.rsplit_once('_').map(|(a, b)| format!("{a}.{b}"));
    Some((
        number,
        Message {
            module: module.to_string(),
            file,
            line: line.parse().ok(),
            level,
            format,
            items: Vec::new(),
        },
    ))
}

fn level_of(name: &str) -> Option<u8> {
    Some(match name {
        "TRACE_LEVEL_CRITICAL" | "TRACE_LEVEL_FATAL" => 1,
        "TRACE_LEVEL_ERROR" => 2,
        "TRACE_LEVEL_WARNING" => 3,
        "TRACE_LEVEL_INFORMATION" => 4,
        "TRACE_LEVEL_VERBOSE" => 5,
        _ => return None,
    })
}

/// A decoded argument.
enum Value {
    Int(i64),
    Uint(u64),
    Float(f64),
    Text(String),
}

/// Decodes the arguments of `m` from `args` in order; an unknown item type or a short
/// payload ends the list (the rest is shown as hex).
fn arguments(m: &Message, args: &[u8], pointer64: bool) -> (HashMap<u32, Value>, usize) {
    let mut values = HashMap::new();
    let mut at = 0usize;
    for (number, kind) in &m.items {
        let rest = args.get(at..).unwrap_or(&[]);
        let int = |n: usize| -> Option<(Value, usize)> {
            let b = slice(rest, 0, n)?;
            let v = match n {
                1 => i64::from(b[0] as i8),
                2 => i64::from(u16_at(b, 0)? as i16),
                4 => i64::from(u32_at(b, 0)? as i32),
                _ => u64_at(b, 0)? as i64,
            };
            Some((Value::Int(v), n))
        };
        let uint = |n: usize| -> Option<(Value, usize)> {
            let b = slice(rest, 0, n)?;
            let v = match n {
                1 => u64::from(b[0]),
                2 => u64::from(u16_at(b, 0)?),
                4 => u64::from(u32_at(b, 0)?),
                _ => u64_at(b, 0)?,
            };
            Some((Value::Uint(v), n))
        };
        let ptr = if pointer64 { 8 } else { 4 };
        let decoded = match kind.as_str() {
            "ItemChar" | "ItemCharSign" => int(1),
            "ItemUChar" | "ItemCharHidden" => uint(1),
            "ItemShort" => int(2),
            "ItemUShort" | "ItemPort" => uint(2),
            "ItemLong" => int(4),
            "ItemULong" | "ItemULongX" | "ItemLongX" | "ItemNTSTATUS" | "ItemWINERROR"
            | "ItemHRESULT" | "ItemEnum" | "ItemSetLong" | "ItemIPAddr" => uint(4),
            "ItemLongLong" => int(8),
            "ItemULongLong" | "ItemULongLongX" | "ItemLongLongX" | "ItemLongLongXX" => uint(8),
            "ItemPtr" => uint(ptr),
            "ItemDouble" => slice(rest, 0, 8)
                .and_then(|b| u64_at(b, 0))
                .map(|v| (Value::Float(f64::from_bits(v)), 8)),
            "ItemString" | "ItemRString" => {
                let (s, used) = ansiz(rest);
                Some((Value::Text(s), used))
            }
            "ItemWString" | "ItemRWString" => {
                let (s, used) = utf16z(rest);
                Some((Value::Text(s), used))
            }
            "ItemPString" => u16_at(rest, 0).and_then(|n| {
                let b = slice(rest, 2, usize::from(n))?;
                Some((
                    Value::Text(String::from_utf8_lossy(b).into_owned()),
                    2 + b.len(),
                ))
            }),
            "ItemPWString" => u16_at(rest, 0).and_then(|n| {
                let b = slice(rest, 2, usize::from(n))?;
                Some((Value::Text(utf16(b)), 2 + b.len()))
            }),
            "ItemGuid" => Guid::at(rest, 0).map(|g| (Value::Text(g.to_string()), 16)),
            _ => None,
        };
        let Some((value, used)) = decoded else { break };
        values.insert(*number, value);
        at += used;
    }
    (values, at)
}

/// Writes the message text of `m` with its arguments from `args`.
pub(crate) fn render(m: &Message, args: &[u8], pointer64: bool, out: &mut String) {
    let (values, used) = arguments(m, args, pointer64);
    let f = m.format.as_str();
    let mut i = 0;
    while i < f.len() {
        let Some(p) = f[i..].find('%') else {
            out.push_str(&f[i..]);
            break;
        };
        out.push_str(&f[i..i + p]);
        i += p + 1;
        let rest = &f[i..];
        if let Some(r) = rest.strip_prefix('%') {
            out.push('%');
            i = f.len() - r.len();
            continue;
        }
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 {
            out.push('%');
            continue;
        }
        let number: u32 = rest[..digits].parse().unwrap_or(u32::MAX);
        i += digits;
        let mut spec = "s";
        if let Some(s) = f[i..].strip_prefix('!') {
            if let Some(end) = s.find('!') {
                spec = &s[..end];
                i += end + 2;
            }
        }
        // %0 is the prefix (CPU, ids, time) that Tracefmt adds; the row has those columns.
        if number == 0 {
            continue;
        }
        match values.get(&number) {
            Some(v) => printf(out, spec, v, pointer64),
            None => out.push_str("<?>"),
        }
    }
    if used < args.len() {
        out.push_str(" extra=");
        push_hex(out, &args[used..], HEX_CAP);
    }
}

/// Formats one value by a printf conversion such as `d`, `08x`, `I64u`, `ws`, `#x`, `p`.
fn printf(out: &mut String, spec: &str, v: &Value, pointer64: bool) {
    let conv = spec.chars().last().unwrap_or('s');
    let body = &spec[..spec.len() - conv.len_utf8()];
    let left = body.contains('-');
    let alt = body.contains('#');
    let width_text: String = body
        .trim_start_matches(['-', '+', '#', ' '])
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    let zero = width_text.starts_with('0');
    let width: usize = width_text.parse().unwrap_or(0);
    let as_u = |v: &Value| match v {
        Value::Int(i) => *i as u64,
        Value::Uint(u) => *u,
        Value::Float(f) => *f as u64,
        Value::Text(_) => 0,
    };
    let text = match (conv, v) {
        (_, Value::Text(s)) => s.clone(),
        ('d' | 'i', Value::Int(i)) => i.to_string(),
        ('d' | 'i', Value::Uint(u)) => (*u as i64).to_string(),
        ('x', v) if alt => format!("{:#x}", as_u(v)),
        ('X', v) if alt => format!("0x{:X}", as_u(v)),
        ('x', v) => format!("{:x}", as_u(v)),
        ('X', v) => format!("{:X}", as_u(v)),
        ('o', v) => format!("{:o}", as_u(v)),
        ('p', v) => format!("{:0w$X}", as_u(v), w = if pointer64 { 16 } else { 8 }),
        ('c', v) => char::from_u32(as_u(v) as u32).map_or_else(String::new, String::from),
        ('e' | 'f' | 'g', Value::Float(f)) => f.to_string(),
        (_, Value::Float(f)) => f.to_string(),
        (_, Value::Int(i)) => i.to_string(),
        (_, Value::Uint(u)) => u.to_string(),
    };
    let pad = width.saturating_sub(text.chars().count());
    if left {
        out.push_str(&text);
        out.extend(std::iter::repeat_n(' ', pad));
    } else if zero && !matches!(v, Value::Text(_)) {
        let (sign, digits) = text.split_at(usize::from(text.starts_with('-')));
        out.push_str(sign);
        out.extend(std::iter::repeat_n('0', pad));
        out.push_str(digits);
    } else {
        out.extend(std::iter::repeat_n(' ', pad));
        out.push_str(&text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const TMF: &str = "8f3b1e4c-52c1-4d37-9a29-3f7f1e3b5a10 mydriver // SRC=driver.c MJ= MN=\n\
        #typev driver_c120 10 \"%0Opened %10!s! status=%11!08x! n=%12!d! p=%13!p! w=%14!ws!%%\" //   LEVEL=TRACE_LEVEL_ERROR FLAGS=F FUNC=Open\n\
        {\n\
        name, ItemString -- 10\n\
        status, ItemNTSTATUS -- 11\n\
        n, ItemLong -- 12\n\
        p, ItemPtr -- 13\n\
        w, ItemWString -- 14\n\
        }\n";

    #[test]
    fn parses_a_tmf_and_renders_a_message() {
        let mut tmf = Tmf::default();
        tmf.add(TMF);
        let g = Guid::parse("8f3b1e4c-52c1-4d37-9a29-3f7f1e3b5a10").expect("guid");
        let m = tmf.get(g, 10).expect("message 10");
        assert_eq!(m.module, "mydriver");
        assert_eq!(
            (m.file.as_deref(), m.line, m.level),
            (Some("driver.c"), Some(120), Some(2))
        );
        let mut args = b"disk0\0".to_vec();
        args.extend_from_slice(&0xC000_0034u32.to_le_bytes());
        args.extend_from_slice(&(-5i32).to_le_bytes());
        args.extend_from_slice(&0xDEADu64.to_le_bytes());
        args.extend_from_slice(&[b'o', 0, b'k', 0, 0, 0, 9]);
        let mut out = String::new();
        render(m, &args, true, &mut out);
        assert_eq!(
            out,
            "Opened disk0 status=c0000034 n=-5 p=000000000000DEAD w=ok% extra=09"
        );
        out.clear();
        render(m, &args[..3], true, &mut out);
        // a string cut off by the end of the payload keeps what is there
        assert_eq!(out, "Opened dis status=<?> n=<?> p=<?> w=<?>%");
    }
}
