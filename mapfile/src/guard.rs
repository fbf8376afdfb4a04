//! The `SIGBUS` handler and the table of guarded ranges it consults.
//!
//! The handler may only touch async-signal-safe state, so the ranges live in a fixed table
//! of atomics, not behind a lock: a map claims a free slot by writing its start address,
//! publishes its length, and clears the slot when dropped.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Once;

/// Maps that can be guarded at once; more are read into memory instead.
const SLOTS: usize = 256;

struct Slot {
    /// Start address; 0 = free. Claimed by compare-and-swap from 0.
    start: AtomicUsize,
    /// Length in bytes, rounded up to whole pages; 0 until the slot is published.
    len: AtomicUsize,
    faulted: AtomicBool,
}

#[allow(clippy::declare_interior_mutable_const)] // only to build the static table
const FREE: Slot = Slot {
    start: AtomicUsize::new(0),
    len: AtomicUsize::new(0),
    faulted: AtomicBool::new(false),
};
static TABLE: [Slot; SLOTS] = [FREE; SLOTS];

/// The `SIGBUS` disposition before ours, for faults outside every guarded range.
static mut PREVIOUS: Option<libc::sigaction> = None;
static INSTALL: Once = Once::new();
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// The page size, read once before the handler is installed: `sysconf` is not on
/// POSIX's list of async-signal-safe functions, so the handler only loads this.
static PAGE: AtomicUsize = AtomicUsize::new(4096);

fn page_size() -> usize {
    PAGE.load(Ordering::Relaxed)
}

fn read_page_size() {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if let Some(n) = usize::try_from(n).ok().filter(|&n| n > 0) {
        PAGE.store(n, Ordering::Relaxed);
    }
}

fn install() {
    INSTALL.call_once(|| {
        read_page_size();
        // SAFETY: a zeroed sigaction is a valid "no flags, empty mask" value; the handler has
        // the SA_SIGINFO signature; PREVIOUS is written once, here, before the handler can
        // run (it is installed last).
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_sigbus as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            libc::sigemptyset(&mut action.sa_mask);
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(libc::SIGBUS, &action, &mut old) == 0 {
                *ptr::addr_of_mut!(PREVIOUS) = Some(old);
                INSTALLED.store(true, Ordering::Release);
            }
        }
    });
}

extern "C" fn on_sigbus(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers.
    let addr = unsafe { (*info).si_addr() } as usize;
    for slot in &TABLE {
        let start = slot.start.load(Ordering::Acquire);
        let len = slot.len.load(Ordering::Acquire);
        if start == 0 || len == 0 || addr < start || addr >= start + len {
            continue;
        }
        let page = page_size();
        let at = addr & !(page - 1);
        // SAFETY: `at` is a page inside a live mapping this crate made (the slot is cleared
        // before the map is unmapped); replacing it with a private zero page is what the
        // map's owner expects, and mmap is a plain system call.
        let done = unsafe {
            libc::mmap(
                at as *mut libc::c_void,
                page,
                libc::PROT_READ,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                -1,
                0,
            )
        };
        if done != libc::MAP_FAILED {
            slot.faulted.store(true, Ordering::Release);
            return; // the faulting read runs again and sees zeros
        }
    }
    // Not ours: do what would have happened without this handler.
    // SAFETY: PREVIOUS was written before the handler was installed and never again.
    let previous = unsafe { *ptr::addr_of!(PREVIOUS) };
    match previous {
        Some(old) if old.sa_sigaction == libc::SIG_IGN => {}
        Some(old) if old.sa_sigaction != libc::SIG_DFL => {
            // SAFETY: calling the earlier handler with the signature it registered.
            unsafe {
                if old.sa_flags & libc::SA_SIGINFO != 0 {
                    let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                        std::mem::transmute(old.sa_sigaction);
                    f(sig, info, ctx);
                } else {
                    let f: extern "C" fn(libc::c_int) = std::mem::transmute(old.sa_sigaction);
                    f(sig);
                }
            }
        }
        _ => {
            // SAFETY: restoring the default action and re-raising ends the process as the
            // fault would have.
            unsafe {
                let mut dfl: libc::sigaction = std::mem::zeroed();
                dfl.sa_sigaction = libc::SIG_DFL;
                libc::sigaction(libc::SIGBUS, &dfl, ptr::null_mut());
                libc::raise(libc::SIGBUS);
            }
        }
    }
}

/// A guarded mapping, or the file's bytes when it could not be guarded.
pub(crate) enum Guarded {
    Mapped {
        ptr: *mut libc::c_void,
        len: usize,
        slot: usize,
    },
    Owned(Vec<u8>),
}

// SAFETY: the mapping is read-only and owned by this value; the slot is only written by
// the owner (claim, drop) and the handler (the fault flag, atomically).
unsafe impl Send for Guarded {}
unsafe impl Sync for Guarded {}

impl Guarded {
    pub(crate) fn new(file: &File) -> io::Result<Guarded> {
        let len = usize::try_from(file.metadata()?.len())
            .map_err(|_| io::Error::other("file too large to map"))?;
        if len == 0 {
            return Ok(Guarded::Owned(Vec::new()));
        }
        install();
        let claimed = INSTALLED
            .load(Ordering::Acquire)
            .then(|| {
                TABLE.iter().position(|s| {
                    s.start
                        .compare_exchange(0, usize::MAX, Ordering::AcqRel, Ordering::Relaxed)
                        .is_ok()
                })
            })
            .flatten();
        let Some(slot) = claimed else {
            // No handler or no free slot: a copy cannot fault.
            let mut v = Vec::with_capacity(len);
            io::Read::read_to_end(&mut &*file, &mut v)?;
            return Ok(Guarded::Owned(v));
        };
        // SAFETY: a fresh read-only private mapping of a file we hold open.
        let ptr = unsafe {
            libc::mmap(
                ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            TABLE[slot].start.store(0, Ordering::Release);
            return Err(io::Error::last_os_error());
        }
        let s = &TABLE[slot];
        s.faulted.store(false, Ordering::Release);
        s.len
            .store(len.div_ceil(page_size()) * page_size(), Ordering::Release);
        s.start.store(ptr as usize, Ordering::Release);
        Ok(Guarded::Mapped { ptr, len, slot })
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            // SAFETY: `ptr` maps `len` readable bytes for as long as `self` lives; a page
            // whose file bytes vanish is replaced by zeros by the handler, never left to fault.
            Guarded::Mapped { ptr, len, .. } => unsafe {
                std::slice::from_raw_parts(*ptr as *const u8, *len)
            },
            Guarded::Owned(v) => v,
        }
    }

    /// Drops the pages wholly inside `bytes[start..end]` from this process's memory; the page
    /// cache keeps them, and touching them again reads them back from the file.
    pub(crate) fn release(&self, start: usize, end: usize) {
        if let Guarded::Mapped { ptr, len, .. } = *self {
            let page = page_size();
            let first = start.min(len).div_ceil(page) * page;
            let last = end.min(len) / page * page;
            if last > first {
                // SAFETY: `ptr + first..ptr + last` lies inside our read-only private file
                // mapping (page-aligned, since the mapping is); MADV_DONTNEED on it only
                // drops page-table entries, and the next touch faults the file's bytes in
                // again (or the handler's zero page, if the file has shrunk).
                unsafe {
                    libc::madvise(
                        ptr.cast::<u8>().add(first).cast(),
                        last - first,
                        libc::MADV_DONTNEED,
                    );
                }
            }
        }
    }

    pub(crate) fn faulted(&self) -> bool {
        match self {
            Guarded::Mapped { slot, .. } => TABLE[*slot].faulted.load(Ordering::Acquire),
            Guarded::Owned(_) => false,
        }
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        if let Guarded::Mapped { ptr, len, slot } = *self {
            let s = &TABLE[slot];
            s.len.store(0, Ordering::Release);
            // SAFETY: the mapping made in `new`, unmapped once; zero pages mapped over parts
            // of it by the handler are inside the range and go with it.
            unsafe {
                libc::munmap(ptr, len);
            }
            s.faulted.store(false, Ordering::Release);
            s.start.store(0, Ordering::Release);
        }
    }
}
