//! Kernel (MOF) event classes: their names and payload layouts, from a table
//! (`kernel_classes.txt`, read once) rather than code, so a class is a few lines of data.
//!
//! The layouts are the kernel MOF classes of learn.microsoft.com ("Process class", "Thread
//! class", "CSwitch class", "Image class", "PerfInfo class", "DiskIo class", ...) as
//! perfview's `KernelTraceEventParser.cs` reads them, with PerfView's field and event names
//! (PerfView's decoding of real files is the test oracle: the `*.baseline.txt` files in the
//! samples). A class is keyed by the kernel group (the high byte of the HookId) or, for the
//! MOF classes logged with a GUID of their own (SysConfig, KernelTraceControl's ImageID),
//! by that GUID; then by opcode and version. Its fields are [`Field`]s, so a payload is
//! rendered by the manifest renderer ([`decode::render_values`]), and fields marked `pid` /
//! `tid` give the row its process and thread (an event about another thread than the one
//! that logged it: SampledProfile, StackWalk, Image and TcpIp events).
//!
//! Table format (one token per blank-separated word; `#` starts a comment line):
//! ```text
//! class <Task> <group|guid> v<min>[-<max>|+] : <opcode>=<Event>|- ... [provider=<Name>]
//! <Field> <type> [map=<Map>] [pid] [tid]
//! map <Map> value|bitmap [ignore=0x<bits>] : <number>=<Name> ...
//! ```
//! A class line may end with `thread=none|logger` (see [`Thread`]); a map's `ignore` bits
//! are left out before the value is named (DiskIo's IrpFlags carry the I/O priority in
//! bits 17-19, which PerfView prints as a field of its own, not as flags).
//! ```text
//! ```

use std::sync::{Arc, OnceLock};

use rustc_hash::FxHashMap;

use super::bytes::Guid;
use super::manifest::{Count, Field, InType, Map, MapStyle};

/// The provider PerfView names kernel records by.
pub(crate) const KERNEL: &str = "Windows Kernel";

const TABLE: &str = include_str!("kernel_classes.txt");

/// A class key: a kernel group or the GUID of a classic MOF provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Key {
    Group(u8),
    Guid(Guid),
}

/// Where a field sits when everything before it has a fixed size: `fixed` bytes plus
/// `pointers` pointer-sized fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct At {
    pub index: usize,
    pub fixed: usize,
    pub pointers: usize,
    pub size: usize,
}

impl At {
    /// The field's value in `payload` (little-endian, at most 4 bytes are read).
    pub(crate) fn read(&self, payload: &[u8], pointer64: bool) -> Option<u32> {
        let at = self.fixed + self.pointers * if pointer64 { 8 } else { 4 };
        match self.size {
            2 => super::bytes::u16_at(payload, at).map(u32::from),
            _ => super::bytes::u32_at(payload, at),
        }
    }
}

/// One class version: its fields and which of them name the event's process and thread.
#[derive(Debug)]
pub(crate) struct Class {
    pub fields: Arc<[Field]>,
    pub pid: Option<usize>,
    pub tid: Option<usize>,
    /// The thread field's place, when it can be read without rendering (for the merge's
    /// thread → process lookup).
    pub tid_at: Option<At>,
    pub thread: Thread,
}

/// Whose thread an event of a class is on, when a field names its process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Thread {
    /// The logging thread's, if that thread is of the event's process (PerfView's
    /// Image/Load: the loader thread).
    SameProcess,
    /// No thread (PerfView's Process, Image/DCStart|Unload, ImageID, TcpIp: `TID=-1`).
    None,
    /// The logging thread's, whatever the process (SystemConfig/Services).
    Logger,
}

/// One event of a class: `Task/Event` and the provider-qualified name.
#[derive(Debug)]
pub(crate) struct Entry {
    pub min: u16,
    pub max: u16,
    /// `Task/Event` (or `Task` alone): the start of the row's message.
    pub short: Box<str>,
    /// `Provider/Task/Event`: the row's `event` column.
    pub full: Box<str>,
    pub provider: &'static str,
    pub class: Arc<Class>,
}

/// The parsed table.
#[derive(Debug, Default)]
pub(crate) struct Table {
    events: FxHashMap<(Key, u8), Vec<Entry>>,
    /// The task of each key, for opcodes the table does not list (`SysConfig/Opcode(37)`).
    tasks: FxHashMap<Key, (Box<str>, &'static str)>,
    /// `Provider/Task/Opcode(N)` for every opcode of a task, made once so a row can name
    /// an opcode the table lacks as PerfView does.
    unlisted: FxHashMap<Key, Box<[Box<str>]>>,
    /// Lines that did not parse (a unit test keeps this empty).
    pub errors: Vec<String>,
}

/// The table, parsed at first use.
pub(crate) fn table() -> &'static Table {
    static T: OnceLock<Table> = OnceLock::new();
    T.get_or_init(|| parse(TABLE))
}

/// Provider names of the GUID-keyed classes (perfview: SysConfig events print as
/// `Windows Kernel/SysConfig/...`; KernelTraceControl keeps its own name).
fn guid_provider(g: &Guid) -> &'static str {
    match g.to_string().as_str() {
        "b3e675d7-2554-4f18-830b-2762732560de" | "bbccf6c1-6cd1-48c4-80ff-839482e37671" => {
            "KernelTraceControl"
        }
        _ => KERNEL,
    }
}

impl Table {
    /// The entry for an event: the class version covering `version`, else the newest
    /// older one (a newer event has the older fields first, and PerfView reads it so).
    pub(crate) fn get(&self, key: Key, opcode: u8, version: u16) -> Option<&Entry> {
        let list = self.events.get(&(key, opcode))?;
        list.iter()
            .find(|e| (e.min..=e.max).contains(&version))
            .or_else(|| {
                list.iter()
                    .filter(|e| e.min <= version)
                    .max_by_key(|e| e.min)
            })
            .or_else(|| list.iter().min_by_key(|e| e.min))
    }

    /// The task name and provider of a key, for an opcode the table lacks.
    pub(crate) fn task(&self, key: Key) -> Option<(&str, &'static str)> {
        self.tasks.get(&key).map(|(t, p)| (&**t, *p))
    }

    /// The event name PerfView gives an opcode of a known task the table lacks.
    pub(crate) fn unlisted(&self, key: Key, opcode: u8) -> Option<&str> {
        self.unlisted
            .get(&key)
            .and_then(|names| names.get(usize::from(opcode)))
            .map(|n| &**n)
    }

    /// Whether events of this key and opcode have a thread field the merge can read.
    pub(crate) fn has_tid_at(&self, key: Key, opcode: u8) -> bool {
        self.events
            .get(&(key, opcode))
            .is_some_and(|l| l.iter().any(|e| e.class.tid_at.is_some()))
    }
}

/// A field type of the table.
fn field(name: &str, ty: &str) -> Option<Field> {
    let (base, n) = match ty.split_once('[') {
        Some((b, rest)) => (b, Some(rest.strip_suffix(']')?.parse::<u32>().ok()?)),
        None => (ty, None),
    };
    let mut f = Field {
        name: name.into(),
        in_type: InType::Int(4, false),
        hex: false,
        boolean: false,
        map: None,
        count: Count::None,
        length: n.map_or(Count::None, Count::Fixed),
        members: Vec::new(),
    };
    f.in_type = match base {
        "u8" => InType::Int(1, false),
        "u16" => InType::Int(2, false),
        "u32" => InType::Int(4, false),
        "u64" => InType::Int(8, false),
        "i8" => InType::Int(1, true),
        "i16" => InType::Int(2, true),
        "i32" => InType::Int(4, true),
        "i64" => InType::Int(8, true),
        "x8" => InType::Hex(1),
        "x16" => InType::Hex(2),
        "x32" => InType::Hex(4),
        "x64" => InType::Hex(8),
        "ptr" => InType::Pointer,
        "uptr" => InType::USize,
        "bool8" => {
            f.boolean = true;
            InType::Int(1, false)
        }
        "bool32" => InType::Boolean,
        "ansiz" | "ansi" => InType::AnsiString,
        "utf16z" | "utf16" => InType::UnicodeString,
        "ksid" => InType::KernelSid,
        "sid" => InType::Sid,
        "guid" => InType::Guid,
        "ipv4" => InType::Ipv4,
        "ipv6" => InType::Ipv6,
        "port" => InType::Port,
        "filetime" => InType::FileTime,
        "skip" => InType::Skip,
        "ptrs" => InType::PointerArray,
        _ => return None,
    };
    // `ansi`/`utf16` without a size and `skip` without one are not types.
    if matches!(base, "ansi" | "utf16" | "skip") && n.is_none() {
        return None;
    }
    Some(f)
}

/// The size of a field when it does not depend on the payload: (bytes, pointers).
fn fixed_size(f: &Field) -> Option<(usize, usize)> {
    let n = match f.length {
        Count::Fixed(n) => Some(n as usize),
        _ => None,
    };
    Some(match f.in_type {
        InType::Int(s, _) | InType::Hex(s) => (usize::from(s), 0),
        InType::Pointer | InType::USize => (0, 1),
        InType::Boolean | InType::Ipv4 | InType::Float => (4, 0),
        InType::Guid | InType::Ipv6 | InType::SystemTime => (16, 0),
        InType::Port => (2, 0),
        InType::FileTime | InType::Double => (8, 0),
        InType::Skip | InType::AnsiString => (n?, 0),
        InType::UnicodeString => (n? * 2, 0),
        _ => return None,
    })
}

/// A class being read: its header and fields so far.
struct Open {
    task: String,
    key: Key,
    min: u16,
    max: u16,
    events: Vec<(u8, Option<String>)>,
    provider: &'static str,
    thread: Thread,
    fields: Vec<(Field, Option<String>, bool, bool)>,
}

fn versions(v: &str) -> Option<(u16, u16)> {
    let v = v.strip_prefix('v')?;
    if let Some(min) = v.strip_suffix('+') {
        return Some((min.parse().ok()?, u16::MAX));
    }
    match v.split_once('-') {
        Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
        None => {
            let n = v.parse().ok()?;
            Some((n, n))
        }
    }
}

fn class_line(words: &[&str]) -> Option<Open> {
    let [task, key, vers, colon, rest @ ..] = words else {
        return None;
    };
    if *colon != ":" {
        return None;
    }
    let key = match key.parse::<u8>() {
        Ok(g) => Key::Group(g),
        Err(_) => Key::Guid(Guid::parse(key)?),
    };
    let (min, max) = versions(vers)?;
    let mut provider = match key {
        Key::Group(_) => KERNEL,
        Key::Guid(g) => guid_provider(&g),
    };
    let mut events = Vec::new();
    let mut thread = Thread::SameProcess;
    for w in rest {
        if let Some(t) = w.strip_prefix("thread=") {
            thread = match t {
                "none" => Thread::None,
                "logger" => Thread::Logger,
                _ => return None,
            };
            continue;
        }
        if let Some(p) = w.strip_prefix("provider=") {
            // The few names PerfView takes from the file's own metadata.
            provider = match p {
                "MSNT_SystemTrace" => "MSNT_SystemTrace",
                _ => return None,
            };
            continue;
        }
        let (op, name) = w.split_once('=')?;
        let name = (name != "-").then(|| name.to_string());
        events.push((op.parse().ok()?, name));
    }
    Some(Open {
        task: task.to_string(),
        key,
        min,
        max,
        events,
        provider,
        thread,
        fields: Vec::new(),
    })
}

fn map_line(words: &[&str]) -> Option<(String, Map)> {
    let (name, kind, ignore, rest) = match words {
        [name, kind, ignore, ":", rest @ ..] => {
            let mask = ignore.strip_prefix("ignore=0x")?;
            (*name, *kind, u64::from_str_radix(mask, 16).ok()?, rest)
        }
        [name, kind, ":", rest @ ..] => (*name, *kind, 0, rest),
        _ => return None,
    };
    let bitmap = match kind {
        "bitmap" => true,
        "value" => false,
        _ => return None,
    };
    let mut entries = Vec::new();
    for w in rest {
        let (v, n) = w.split_once('=')?;
        let v = match v.strip_prefix("0x") {
            Some(h) => u64::from_str_radix(h, 16).ok()?,
            None => v.parse().ok()?,
        };
        entries.push((v, n.into()));
    }
    entries.sort_by_key(|(v, _)| *v);
    Some((
        name.to_string(),
        Map {
            bitmap,
            ignore,
            style: MapStyle::Enum,
            entries,
        },
    ))
}

fn parse(text: &str) -> Table {
    let mut t = Table::default();
    let mut maps: FxHashMap<String, Arc<Map>> = FxHashMap::default();
    let mut classes: Vec<Open> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let bad = |t: &mut Table| {
            t.errors
                .push(format!("kernel_classes.txt:{}: {line}", n + 1))
        };
        match words.as_slice() {
            [] => {}
            [w, ..] if w.starts_with('#') => {}
            ["class", rest @ ..] => match class_line(rest) {
                Some(c) => classes.push(c),
                None => bad(&mut t),
            },
            ["map", rest @ ..] => match map_line(rest) {
                Some((name, m)) => {
                    maps.insert(name, Arc::new(m));
                }
                None => bad(&mut t),
            },
            [name, ty, flags @ ..] => {
                let (Some(open), Some(f)) = (classes.last_mut(), field(name, ty)) else {
                    bad(&mut t);
                    continue;
                };
                let mut map = None;
                let (mut pid, mut tid) = (false, false);
                for w in flags {
                    match *w {
                        "pid" => pid = true,
                        "tid" => tid = true,
                        _ => match w.strip_prefix("map=") {
                            Some(m) => map = Some(m.to_string()),
                            None => bad(&mut t),
                        },
                    }
                }
                open.fields.push((f, map, pid, tid));
            }
            _ => bad(&mut t),
        }
    }
    for c in classes {
        let mut fields = Vec::with_capacity(c.fields.len());
        let (mut pid, mut tid, mut tid_at) = (None, None, None);
        let mut offset = Some((0, 0));
        for (i, (mut f, map, is_pid, is_tid)) in c.fields.into_iter().enumerate() {
            if let Some(m) = map {
                match maps.get(&m) {
                    Some(m) => f.map = Some(m.clone()),
                    None => t.errors.push(format!("{}: no map {m}", c.task)),
                }
            }
            let size = fixed_size(&f);
            if is_pid {
                pid = Some(i);
            }
            if is_tid {
                tid = Some(i);
                if let (Some((fixed, pointers)), Some((s, 0))) = (offset, size) {
                    tid_at = Some(At {
                        index: i,
                        fixed,
                        pointers,
                        size: s,
                    });
                }
            }
            offset = match (offset, size) {
                (Some((a, b)), Some((c, d))) => Some((a + c, b + d)),
                _ => None,
            };
            fields.push(f);
        }
        let class = Arc::new(Class {
            fields: fields.into(),
            pid,
            tid,
            tid_at,
            thread: c.thread,
        });
        if !t.tasks.contains_key(&c.key) {
            let names = (0..=u8::MAX)
                .map(|op| format!("{}/{}/Opcode({op})", c.provider, c.task).into())
                .collect();
            t.unlisted.insert(c.key, names);
            t.tasks.insert(c.key, (c.task.clone().into(), c.provider));
        }
        for (op, name) in c.events {
            let short = match &name {
                Some(n) => format!("{}/{n}", c.task),
                None => c.task.clone(),
            };
            let full = format!("{}/{short}", c.provider);
            t.events.entry((c.key, op)).or_default().push(Entry {
                min: c.min,
                max: c.max,
                short: short.into(),
                full: full.into(),
                provider: c.provider,
                class: class.clone(),
            });
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_table_parses_whole() {
        let t = table();
        assert!(t.errors.is_empty(), "{:#?}", t.errors);
        assert!(t.events.len() > 10, "{} events", t.events.len());
    }

    #[test]
    fn versions_and_thread_offsets() {
        let t = parse(
            "map M value : 0=Zero 1=One\n\
             class Demo 9 v1-2 : 1=Old 2=-\n\
             A ptr\nB u32 tid\nC u8 map=M\n\
             class Demo 9 v3+ : 1=New\n\
             S utf16z\nT u32 tid\n",
        );
        assert!(t.errors.is_empty(), "{:?}", t.errors);
        let e = t.get(Key::Group(9), 1, 2).expect("v2");
        assert_eq!(&*e.full, "Windows Kernel/Demo/Old");
        let at = e.class.tid_at.expect("fixed offset");
        assert_eq!((at.fixed, at.pointers, at.size), (0, 1, 4));
        assert_eq!(
            at.read(&[0, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0], true),
            Some(7)
        );
        assert_eq!(at.read(&[0, 0, 0, 0, 9, 0, 0, 0], false), Some(9));
        assert!(e.class.fields[2].map.is_some());
        // A thread after a string has no fixed place.
        let n = t.get(Key::Group(9), 1, 7).expect("v3+ covers 7");
        assert_eq!(&*n.short, "Demo/New");
        assert_eq!(n.class.tid_at, None);
        assert_eq!(
            &*t.get(Key::Group(9), 2, 1).expect("task alone").short,
            "Demo"
        );
        assert!(t.get(Key::Group(9), 3, 1).is_none());
        assert_eq!(t.task(Key::Group(9)).map(|x| x.0), Some("Demo"));
        assert_eq!(
            t.unlisted(Key::Group(9), 3),
            Some("Windows Kernel/Demo/Opcode(3)")
        );
    }

    #[test]
    fn thread_rules_and_ignored_bits() {
        let t = parse(
            "map F bitmap ignore=0xe0000 : 1=Nocache 2=Paging\n\
             class A 1 v0+ : 1=X thread=none\nP u32 pid\n\
             class B 1 v0+ : 2=Y thread=logger\nP u32 pid\nG u32 map=F\n",
        );
        assert!(t.errors.is_empty(), "{:?}", t.errors);
        assert_eq!(
            t.get(Key::Group(1), 1, 0).map(|e| e.class.thread),
            Some(Thread::None)
        );
        let y = t.get(Key::Group(1), 2, 0).expect("Y");
        assert_eq!(y.class.thread, Thread::Logger);
        let map = y.class.fields[1].map.as_ref().expect("map");
        assert_eq!(map.ignore, 0xe0000);
        // An unknown class-line word is an error, not a silent default.
        let bad = parse("class C 1 v0+ : 1=Z thread=sometimes\n");
        assert_eq!(bad.errors.len(), 1);
    }

    #[test]
    fn bad_lines_are_named_not_fatal() {
        let t = parse("class X 1 v2 : 1=A\nF nosuchtype\nclass Y 1 vx : 1=B\n");
        assert_eq!(t.errors.len(), 2, "{:?}", t.errors);
        assert!(t.errors[0].starts_with("kernel_classes.txt:2:"));
    }
}
