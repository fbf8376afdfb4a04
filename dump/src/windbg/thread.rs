//! The body of a `THREAD` block (from `!process 0 ff`, `!process ADDR`, `!thread ADDR f`)
//! and of a user-mode `~` thread (its stack, and `~*`'s `Start:` and `Priority:` lines).

use super::grammar::{self, hex_token};
use crate::model::{AlpcWait, Thread};
use compact_str::CompactString;

/// What one line inside a THREAD block turned out to be.
pub(crate) enum LineKind {
    /// Understood and stored (or understood and of no use to us).
    Used,
    /// A stack frame was appended.
    Frame,
    /// Not a line this grammar knows.
    Unknown,
}

pub(crate) fn new_thread(h: grammar::ThreadHeader, source: String, line: u64) -> Thread {
    let mut t = Thread::new(h.address, h.pid, h.tid, h.state, source, line);
    t.teb = h.teb;
    t.win32_thread = h.win32_thread;
    // Resident unless the block says `Kernel stack not resident.`
    t.kernel_stack_resident = true;
    t
}

/// A stack `k*` printed for a thread outside its block (after `.thread`, or at
/// a user-mode thread's prompt) replaces the one it has when it is richer.
pub(crate) fn offer_stack(t: &mut Thread, frames: Vec<crate::model::Frame>, wow64: bool) {
    let stack = if wow64 {
        &mut t.wow64_stack
    } else {
        &mut t.stack
    };
    if crate::model::richer_stack(&frames, stack) {
        *stack = frames;
    }
}

/// Lines a debugger prints among stack frames that carry nothing we use.
pub(crate) fn is_noise(s: &str) -> bool {
    crate::text::is_elision(s) || KNOWN_UNUSED.iter().any(|p| s.starts_with(p))
}

/// Lines WinDbg prints inside thread blocks that carry nothing we use.
const KNOWN_UNUSED: &[&str] = &[
    "DeviceMap",
    "Stack Init",
    "Base ",
    "Current LPC port",
    "*** ERROR",
    "*** WARNING",
    "WARNING:",
    "Unable to",
    "GetContextState failed",
    "*** Stack trace for last set context",
    "LargeStack",
    "Debugger SaveContext",
];

/// `s` is the line trimmed.
pub(crate) fn body_line(t: &mut Thread, s: &str, in_stack: &mut bool) -> LineKind {
    // Frames first: they are most of the lines of a `!process 0 ff` log.
    if *in_stack {
        if let Some(f) = grammar::frame(s) {
            t.stack.push(f);
            return LineKind::Frame;
        }
        if grammar::is_stack_header(s) {
            return LineKind::Used;
        }
    } else if grammar::is_stack_header(s) {
        *in_stack = true;
        return LineKind::Used;
    }
    let Some(&first) = s.as_bytes().first() else {
        return LineKind::Used;
    };
    // The named fields, by their first letter (one look instead of twenty).
    let used = match first {
        b'0'..=b'9' | b'a'..=b'f' => address_line(t, s, *in_stack),
        b'W' => waits_line(t, s),
        b'L' => s
            .strip_prefix("LPC Server thread working on message Id")
            .map(|rest| {
                t.lpc_serving = hex_u32(rest.trim_ascii());
            }),
        b'I' if s == "IRP List:" => Some(()),
        b'I' => s
            .starts_with("Impersonation token:")
            .then(|| t.impersonating = true),
        b'N' if s == "Not impersonating" => {
            t.impersonating = false;
            Some(())
        }
        b'O' => s.strip_prefix("Owning Process").map(|rest| {
            let (addr, image) = process_ref(rest);
            if addr.is_some() {
                t.process_address = addr;
            }
            if image.is_some() {
                t.image = image;
            }
        }),
        b'A' => s.strip_prefix("Attached Process").map(|rest| {
            // Old builds print `Owning Process 0 Image: <Unknown>` and the real
            // process as attached (seed: the userinit.exe LPC case).
            let (addr, image) = process_ref(rest);
            if t.process_address.is_none() {
                t.process_address = addr;
            }
            if t.image.is_none() {
                t.image = image;
            }
        }),
        b'C' => s.strip_prefix("Context Switch Count").map(|rest| {
            t.context_switches = rest
                .split_ascii_whitespace()
                .next()
                .and_then(|v| v.parse().ok());
        }),
        b'U' => text_field(&mut t.user_time, s, "UserTime"),
        b'K' if s.starts_with("Kernel stack not resident") => {
            t.kernel_stack_resident = false;
            Some(())
        }
        b'K' => text_field(&mut t.kernel_time, s, "KernelTime"),
        b'S' => {
            text_field(&mut t.start_address, s, "Start Address").or_else(|| {
                // `~*`: `      Start: ucrtbase!thread_start<...> (00007ffe`bd96cd30)`.
                text_field(&mut t.start_address, s, "Start:")
            })
        }
        b'P' => s.strip_prefix("Priority").map(|rest| {
            // `Priority 8 BasePriority 8 ...`; `~*`: `Priority: 0  Priority class: 32  Affinity: f`.
            t.priority = rest
                .trim_start_matches(':')
                .split_ascii_whitespace()
                .next()
                .and_then(|v| v.parse().ok());
        }),
        _ => None,
    };
    if used.is_some() || is_noise(s) {
        return LineKind::Used;
    }
    LineKind::Unknown
}

/// `Name value`: the rest of the line, kept as printed.
fn text_field(slot: &mut Option<CompactString>, s: &str, name: &str) -> Option<()> {
    let rest = s.strip_prefix(name)?;
    *slot = Some(rest.trim_ascii().into());
    Some(())
}

/// Lines that start with an address: wait objects right after the header,
/// and the entries of the IRP list.
fn address_line(t: &mut Thread, s: &str, in_stack: bool) -> Option<()> {
    // `    89b49008: (0006,01d8) Flags: 00000030  Mdl: 00000000`
    let addr_len = s.bytes().take_while(u8::is_ascii_hexdigit).count();
    if s[addr_len..].starts_with(": (") && s.contains("Flags:") {
        t.irps.push(hex_token(&s[..addr_len])?);
        return Some(());
    }
    // Wait objects come right after the header, before any named field.
    let early = t.stack.is_empty()
        && !in_stack
        && t.wait_objects.len() < 64
        && t.context_switches.is_none()
        && t.wait_start_tick.is_none();
    if !early {
        return None;
    }
    let (address, kind, owner_thread) = grammar::wait_object(s)?;
    t.wait_objects.push(crate::model::WaitObject {
        address,
        kind,
        owner_thread,
    });
    Some(())
}

/// `Waiting for reply to LPC MessageId X:`, `... ALPC Message X : ...`,
/// `Wait Start TickCount`, `WaitTime`, `Win32 Start Address`.
fn waits_line(t: &mut Thread, s: &str) -> Option<()> {
    if let Some(rest) = s.strip_prefix("Waiting for reply to LPC MessageId") {
        t.lpc_waiting_for = hex_u32(rest.trim_ascii().trim_end_matches(':'));
    } else if let Some(rest) = s.strip_prefix("Waiting for reply to ALPC Message") {
        t.alpc_waiting_for = alpc_wait(rest);
    } else if s.starts_with("Wait Start TickCount") {
        let (tick, ticks, text) = grammar::wait_start(s)?;
        t.wait_start_tick = Some(tick);
        t.ticks = ticks;
        t.ticks_text = text;
    } else if s.starts_with("WaitTime") {
        // Old x86 builds: `WaitTime (seconds) 12345`.
    } else {
        return text_field(&mut t.win32_start_address, s, "Win32 Start Address");
    }
    Some(())
}

fn hex_u32(s: &str) -> Option<u32> {
    hex_token(s.split_whitespace().next()?).and_then(|v| u32::try_from(v).ok())
}

/// `87581c78       Image:         ProcessA.exe`, `0 Image: <Unknown>`, `N/A Image: N/A`.
fn process_ref(rest: &str) -> (Option<u64>, Option<CompactString>) {
    // Not `split_once("Image:")`: building its searcher cost more than the search on
    // these short lines (two per THREAD block).
    let (addr, image) = match grammar::find(rest, "Image:") {
        Some(at) => (rest[..at].trim_ascii(), rest[at + 6..].trim_ascii()),
        None => (rest.trim_ascii(), ""),
    };
    let addr = hex_token(addr).filter(|&a| a != 0);
    let image = match image {
        "" | "N/A" | "<Unknown>" => None,
        i => Some(i.into()),
    };
    (addr, image)
}

/// ` 0000000000000000 : queued at port fffffa8005d1c460 : owned by process fffffa80052ad060`
/// (newer builds append `Image: name` or put the owner on its own line).
fn alpc_wait(rest: &str) -> Option<AlpcWait> {
    let mut parts = rest.split(':').map(str::trim);
    let message = hex_token(parts.next()?.split_whitespace().next()?)?;
    let mut w = AlpcWait {
        message,
        port: None,
        server_process: None,
        server_image: None,
    };
    for p in parts {
        if let Some(v) = p.strip_prefix("queued at port") {
            w.port = v.split_whitespace().next().and_then(hex_token);
        } else if let Some(v) = p.strip_prefix("owned by process") {
            let mut words = v.split_whitespace();
            w.server_process = words.next().and_then(hex_token);
            w.server_image = words
                .skip_while(|x| *x != "Image")
                .nth(1)
                .map(str::to_string);
        }
    }
    Some(w)
}
