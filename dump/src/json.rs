//! The snapshot as compact JSON, its threads written on every core.
//!
//! A 1 GB `!process 0 ff` log makes a snapshot of half a million threads and about as
//! many bytes of JSON; serde_json writes that on one core at a few hundred MB/s. The
//! threads are most of it, and each serialises on its own: they are cut into rounds, each
//! round into one piece per core, the pieces are serialised at the same time and written
//! in order. Everything else is serialised by serde as usual, with the threads taken out,
//! and the thread array is put where serde wrote the empty one. The bytes are the same as
//! `serde_json::to_writer(out, snapshot)` writes.

use std::io::{self, Write};

use crate::model::{DumpSnapshot, Thread};

/// Threads serialised per round (each round's text is held until it is written).
const ROUND: usize = if cfg!(test) { 5 } else { 16 << 10 };

/// Where serde writes the empty thread array of the snapshot whose threads were taken
/// out. Inside a JSON string every quote is escaped, so these bytes can only be the key.
const EMPTY_THREADS: &[u8] = br#""threads":[]"#;

/// Writes `snap` as compact JSON (no newline after it). The threads are moved out while
/// the rest is serialised and put back before this returns.
pub fn write_json(snap: &mut DumpSnapshot, out: &mut dyn Write) -> io::Result<()> {
    let threads = std::mem::take(&mut snap.threads);
    let shell = serde_json::to_vec(&*snap);
    snap.threads = threads;
    let shell = shell.map_err(io::Error::other)?;
    let at = memchr::memmem::find(&shell, EMPTY_THREADS)
        .ok_or_else(|| io::Error::other("the snapshot has no thread array"))?;
    let open = at + EMPTY_THREADS.len() - 1;
    out.write_all(&shell[..open])?;
    write_threads(&snap.threads, out)?;
    out.write_all(&shell[open..])
}

/// The elements of the thread array, comma-separated, a round at a time.
fn write_threads(threads: &[Thread], out: &mut dyn Write) -> io::Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut pieces: Vec<Vec<u8>> = vec![Vec::new(); cores];
    let mut first = true;
    for round in threads.chunks(ROUND * cores) {
        let per = round.len().div_ceil(cores);
        // Each thread owns its buffer while it writes: buffers side by side in `pieces`
        // would share a cache line between cores, and serde updates a buffer's length
        // on every write.
        let done: Vec<(serde_json::Result<()>, Vec<u8>)> = std::thread::scope(|s| {
            let mut work = round.chunks(per).zip(pieces.iter_mut().map(std::mem::take));
            let mine = work.next();
            let handles: Vec<_> = work
                .map(|(part, mut buf)| s.spawn(move || (serialise(part, &mut buf), buf)))
                .collect();
            let mut done: Vec<_> = mine
                .map(|(part, mut buf)| (serialise(part, &mut buf), buf))
                .into_iter()
                .collect();
            for h in handles {
                // A panic while serialising is a bug in a Serialize impl: pass it on.
                done.push(h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
            }
            done
        });
        for (slot, (r, piece)) in pieces.iter_mut().zip(done) {
            r.map_err(io::Error::other)?;
            if !piece.is_empty() {
                if !first {
                    out.write_all(b",")?;
                }
                first = false;
                out.write_all(&piece)?;
            }
            *slot = piece;
        }
    }
    Ok(())
}

/// `threads` as JSON values separated by commas, into `buf` (emptied first).
fn serialise(threads: &[Thread], buf: &mut Vec<u8>) -> serde_json::Result<()> {
    buf.clear();
    for (i, t) in threads.iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        serde_json::to_writer(&mut *buf, t)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Byte for byte what serde writes, for the fixture logs (threads in many rounds,
    /// rounds of every size) and for a snapshot without threads.
    #[test]
    fn same_bytes_as_serde() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/cases");
        let mut logs = 0;
        let mut threads = 0;
        for case in std::fs::read_dir(&dir).expect("fixture cases") {
            let path = case.expect("case").path().join("memory.log");
            if !path.exists() {
                continue;
            }
            let mut snap = crate::read_path(&path).expect("fixture log").snapshot;
            let want = serde_json::to_vec(&snap).expect("serde");
            let mut got = Vec::new();
            write_json(&mut snap, &mut got).expect("write");
            assert_eq!(
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(&want),
                "{}",
                path.display()
            );
            logs += 1;
            threads += snap.threads.len();
        }
        assert!(
            logs >= 3 && threads > 3 * ROUND,
            "{logs} logs, {threads} threads"
        );
        let mut empty = DumpSnapshot::default();
        let mut got = Vec::new();
        write_json(&mut empty, &mut got).expect("write");
        assert_eq!(got, serde_json::to_vec(&empty).expect("serde"));
    }
}
