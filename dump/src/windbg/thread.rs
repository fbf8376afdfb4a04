//! The body of a `THREAD` block (from `!process 0 ff`, `!process ADDR`, `!thread ADDR f`)
//! and of a user-mode `~` thread (its stack, and `~*`'s `Start:` and `Priority:` lines).

use super::grammar::{self, hex_token};
use crate::model::{AlpcWait, Thread};

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

pub(crate) fn body_line(t: &mut Thread, line: &str, in_stack: &mut bool) -> LineKind {
    let s = line.trim();
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
    if t.stack.is_empty() && t.wait_objects.len() < 64 && !*in_stack {
        if let Some((address, kind, owner)) = grammar::wait_object(s) {
            // Wait objects come right after the header, before any named field.
            if t.context_switches.is_none() && t.wait_start_tick.is_none() {
                t.wait_objects.push(crate::model::WaitObject {
                    address,
                    kind,
                    owner_thread: owner,
                });
                return LineKind::Used;
            }
        }
    }
    if let Some(rest) = s.strip_prefix("Waiting for reply to LPC MessageId") {
        t.lpc_waiting_for = hex_u32(rest.trim().trim_end_matches(':'));
        return LineKind::Used;
    }
    if let Some(rest) = s.strip_prefix("LPC Server thread working on message Id") {
        t.lpc_serving = hex_u32(rest.trim());
        return LineKind::Used;
    }
    if let Some(rest) = s.strip_prefix("Waiting for reply to ALPC Message") {
        t.alpc_waiting_for = alpc_wait(rest);
        return LineKind::Used;
    }
    if s == "IRP List:" {
        return LineKind::Used;
    }
    // `    89b49008: (0006,01d8) Flags: 00000030  Mdl: 00000000`
    if let Some((irp, rest)) = s.split_once(": (") {
        if rest.contains("Flags:") {
            if let Some(a) = hex_token(irp) {
                t.irps.push(a);
                return LineKind::Used;
            }
        }
    }
    if s == "Not impersonating" {
        t.impersonating = false;
        return LineKind::Used;
    }
    if s.starts_with("Impersonation token:") {
        t.impersonating = true;
        return LineKind::Used;
    }
    if let Some(rest) = s.strip_prefix("Owning Process") {
        let (addr, image) = process_ref(rest);
        if addr.is_some() {
            t.process_address = addr;
        }
        if image.is_some() {
            t.image = image;
        }
        return LineKind::Used;
    }
    if let Some(rest) = s.strip_prefix("Attached Process") {
        // Old builds print `Owning Process 0 Image: <Unknown>` and the real
        // process as attached (seed: the userinit.exe LPC case).
        let (addr, image) = process_ref(rest);
        if t.process_address.is_none() {
            t.process_address = addr;
        }
        if t.image.is_none() {
            t.image = image;
        }
        return LineKind::Used;
    }
    if s.starts_with("Wait Start TickCount") {
        return match grammar::wait_start(s) {
            Some((tick, ticks, text)) => {
                t.wait_start_tick = Some(tick);
                t.ticks = ticks;
                t.ticks_text = text;
                LineKind::Used
            }
            None => LineKind::Unknown,
        };
    }
    // Old x86 builds: `WaitTime (seconds) 12345`.
    if s.starts_with("WaitTime") {
        return LineKind::Used;
    }
    if let Some(rest) = s.strip_prefix("Context Switch Count") {
        t.context_switches = rest.split_whitespace().next().and_then(|v| v.parse().ok());
        return LineKind::Used;
    }
    if let Some(rest) = s.strip_prefix("UserTime") {
        t.user_time = Some(rest.trim().to_string());
        return LineKind::Used;
    }
    if let Some(rest) = s.strip_prefix("KernelTime") {
        t.kernel_time = Some(rest.trim().to_string());
        return LineKind::Used;
    }
    if let Some(rest) = s.strip_prefix("Win32 Start Address") {
        t.win32_start_address = Some(rest.trim().to_string());
        return LineKind::Used;
    }
    if let Some(rest) = s.strip_prefix("Start Address") {
        t.start_address = Some(rest.trim().to_string());
        return LineKind::Used;
    }
    if let Some(rest) = s.strip_prefix("Priority") {
        // `Priority 8 BasePriority 8 ...`; `~*`: `Priority: 0  Priority class: 32  Affinity: f`.
        t.priority = rest
            .trim_start_matches(':')
            .split_whitespace()
            .next()
            .and_then(|v| v.parse().ok());
        return LineKind::Used;
    }
    // `~*`: `      Start: ucrtbase!thread_start<...> (00007ffe`bd96cd30)`.
    if let Some(rest) = s.strip_prefix("Start:") {
        t.start_address = Some(rest.trim().to_string());
        return LineKind::Used;
    }
    if s.starts_with("Kernel stack not resident") {
        t.kernel_stack_resident = false;
        return LineKind::Used;
    }
    if is_noise(s) {
        return LineKind::Used;
    }
    LineKind::Unknown
}

fn hex_u32(s: &str) -> Option<u32> {
    hex_token(s.split_whitespace().next()?).and_then(|v| u32::try_from(v).ok())
}

/// `87581c78       Image:         ProcessA.exe`, `0 Image: <Unknown>`, `N/A Image: N/A`.
fn process_ref(rest: &str) -> (Option<u64>, Option<String>) {
    let (addr, image) = match rest.split_once("Image:") {
        Some((a, i)) => (a.trim(), i.trim()),
        None => (rest.trim(), ""),
    };
    let addr = hex_token(addr).filter(|&a| a != 0);
    let image = match image {
        "" | "N/A" | "<Unknown>" => None,
        i => Some(i.to_string()),
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
