//! What the dump and trace readers share about their input files (they know
//! nothing of each other): read-only maps that survive the file being truncated
//! while mapped, and the sniffing of UTF-16 text that has no BOM.
//!
//! ## Maps
//!
//! Touching a page of a mapping past the end of its file raises `SIGBUS`, which kills the
//! process. [`Map`] registers its address range with a `SIGBUS` handler (installed once,
//! chaining to any earlier one for faults elsewhere). A fault inside a registered range
//! is answered by mapping a zero page over the faulting page (`MAP_FIXED`) and marking the
//! map: the read that faulted sees zeros and carries on, and the reader, asking
//! [`Map::truncated`] when it is done, throws its result away and reads the file again
//! with ordinary reads ([`read_with_fallback`]), or reports the file as changed.
//!
//! On platforms without the handler (non-Unix) the file is read into memory instead.

use std::fs::File;
use std::io::{self, Read};
use std::ops::Deref;

mod encoding;
#[cfg(unix)]
mod guard;

pub use encoding::{utf16, Utf16Unit};

/// A read-only map of a whole file.
pub struct Map {
    #[cfg(unix)]
    inner: guard::Guarded,
    #[cfg(not(unix))]
    inner: Vec<u8>,
}

impl Map {
    /// Maps `file` (its length now). An empty file gives an empty map.
    pub fn new(file: &File) -> io::Result<Map> {
        #[cfg(unix)]
        {
            Ok(Map {
                inner: guard::Guarded::new(file)?,
            })
        }
        #[cfg(not(unix))]
        {
            let mut v = Vec::new();
            (&*file).read_to_end(&mut v)?;
            Ok(Map { inner: v })
        }
    }

    /// Whether a read touched a page past the file's end (the file shrank while mapped):
    /// the bytes read there were zeros, not the file's.
    pub fn truncated(&self) -> bool {
        #[cfg(unix)]
        {
            self.inner.faulted()
        }
        #[cfg(not(unix))]
        {
            false
        }
    }

    /// For a reader that cannot start again (its rows already went to a caller): Ok when no
    /// read touched a page past the file's end, otherwise an error that says the file
    /// shrank, from the length mapped to `file`'s length now.
    pub fn unchanged(&self, file: &File) -> io::Result<()> {
        if !self.truncated() {
            return Ok(());
        }
        let now = file.metadata()?.len();
        Err(io::Error::other(format!(
            "the file shrank from {} to {now} bytes while it was read",
            self.len()
        )))
    }

    /// Tells the system that `self[..end]` has been read and will not be needed soon: a
    /// reader going once through a file larger than the memory it may use calls this as
    /// it goes, so the file's pages do not all stay resident in the process at once.
    pub fn release(&self, end: usize) {
        self.release_range(0, end);
    }

    /// [`Map::release`] for `self[start..end]` (the pages wholly inside it): for readers
    /// that go through parts of one file at once, each releasing what it has read.
    pub fn release_range(&self, start: usize, end: usize) {
        #[cfg(unix)]
        self.inner.release(start, end);
        #[cfg(not(unix))]
        let _ = (start, end);
    }
}

impl Deref for Map {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        #[cfg(unix)]
        {
            self.inner.bytes()
        }
        #[cfg(not(unix))]
        {
            &self.inner
        }
    }
}

/// Runs `read` over a map of `file`; if the file shrank meanwhile, runs it again over the
/// file's bytes as they are now, read with ordinary reads. The second result is what the
/// file holds now (a truncated file reads as truncated, with its own errors and skips).
pub fn read_with_fallback<R>(file: &mut File, mut read: impl FnMut(&[u8]) -> R) -> io::Result<R> {
    read_with_fallback_releasing(file, |bytes, _| read(bytes))
}

/// What [`read_with_fallback_releasing`] hands a reader besides the bytes: releases
/// `bytes[..end]` ([`Map::release`]; nothing for bytes read with ordinary reads).
pub type Release<'a> = &'a (dyn Fn(usize) + Sync);

/// [`read_with_fallback`] for a reader that releases the bytes it is done with as it goes.
pub fn read_with_fallback_releasing<R>(
    file: &mut File,
    mut read: impl FnMut(&[u8], Release<'_>) -> R,
) -> io::Result<R> {
    let map = Map::new(file)?;
    let first = read(&map, &|end| map.release(end));
    if !map.truncated() {
        return Ok(first);
    }
    drop(first);
    drop(map);
    let mut bytes = Vec::new();
    io::Seek::rewind(file)?;
    file.read_to_end(&mut bytes)?;
    Ok(read(&bytes, &|_| {}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn temp(name: &str, bytes: &[u8]) -> (std::path::PathBuf, File) {
        let path = std::env::temp_dir().join(format!("mapfile-{name}-{}", std::process::id()));
        let mut f = File::create(&path).expect("create");
        f.write_all(bytes).expect("write");
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .expect("reopen");
        (path, f)
    }

    #[test]
    fn truncated_while_mapped_reads_zeros_and_says_so() {
        let page = 4096 * 4;
        let (path, f) = temp("shrink", &vec![0xAB; page * 3]);
        let map = Map::new(&f).expect("map");
        assert_eq!(map[0], 0xAB);
        f.set_len(10).expect("truncate");
        // Pages past the new end: without the handler this read kills the process.
        let sum: u64 = map.iter().skip(page).map(|&b| u64::from(b)).sum();
        assert_eq!(sum, 0, "pages past the end read as zeros");
        assert!(map.truncated());
        let err = map.unchanged(&f).expect_err("the file shrank");
        assert_eq!(
            err.to_string(),
            format!(
                "the file shrank from {} to 10 bytes while it was read",
                page * 3
            )
        );
        assert_eq!(&map[..10], &[0xAB; 10]);
        drop(map);
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn an_intact_map_is_not_truncated() {
        let (path, f) = temp("intact", b"hello");
        let map = Map::new(&f).expect("map");
        assert_eq!(&map[..], b"hello");
        assert!(!map.truncated());
        assert!(map.unchanged(&f).is_ok());
        let (_p2, empty) = temp("empty", b"");
        assert!(Map::new(&empty).expect("map").is_empty());
        let _ = std::fs::remove_file(path);
        let _ = std::fs::remove_file(_p2);
    }

    #[test]
    fn fallback_reads_what_the_file_holds_now() {
        let (path, mut f) = temp("fallback", &vec![7u8; 64 * 1024]);
        let shrink = f.try_clone().expect("clone");
        let mut calls = 0;
        let total = read_with_fallback(&mut f, |bytes| {
            calls += 1;
            if calls == 1 {
                shrink.set_len(100).expect("truncate");
            }
            bytes.iter().filter(|&&b| b == 7).count()
        })
        .expect("read");
        assert_eq!(calls, 2, "the map faulted, so the file was read again");
        assert_eq!(total, 100);
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn released_ranges_read_back_the_file() {
        let bytes: Vec<u8> = (0..64 * 4096).map(|i| (i % 251) as u8).collect();
        let (path, f) = temp("release", &bytes);
        let map = Map::new(&f).expect("map");
        assert_eq!(&map[..], &bytes[..]);
        // Unaligned, empty, reversed and out-of-range spans: only whole pages inside go.
        for (start, end) in [
            (4097, 20 * 4096 + 5),
            (0, 0),
            (9000, 100),
            (60 * 4096, 1 << 40),
        ] {
            map.release_range(start, end);
            assert_eq!(&map[..], &bytes[..], "after releasing {start}..{end}");
        }
        map.release(usize::MAX);
        assert_eq!(&map[..], &bytes[..]);
        assert!(!map.truncated());
        drop(map);
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn many_maps_at_once() {
        let files: Vec<_> = (0..80)
            .map(|i| temp(&format!("many{i}"), &[i as u8; 8192]))
            .collect();
        let maps: Vec<Map> = files
            .iter()
            .map(|(_, f)| Map::new(f).expect("map"))
            .collect();
        for (i, m) in maps.iter().enumerate() {
            assert_eq!(m[8191], i as u8);
        }
        files[79].1.set_len(0).expect("truncate");
        assert_eq!(maps[79][8191], 0);
        assert!(maps[79].truncated());
        assert!(!maps[0].truncated());
        drop(maps);
        for (p, _) in files {
            let _ = std::fs::remove_file(p);
        }
    }
}
