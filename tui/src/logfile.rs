//! The THREAD blocks of WinDbg logs, read lazily from the files: a thread's
//! `source` says `memory.log:7097`, and the detail pane shows the block from
//! that line to the blank line that ends it.
//!
//! Each file is memory-mapped once, with a sparse index of line starts (one
//! every [`STRIDE`] lines), so showing a block costs a short scan whatever the
//! log's size. Logs saved from WinDbg's UI are often UTF-16LE with a BOM
//! (`.logopen /u`), so lines are found and decoded per encoding.

use std::collections::HashMap;
use std::fs::File;

use dumptrace_mapfile::Map;

/// Lines between two indexed line starts.
const STRIDE: usize = 256;
/// A THREAD block longer than this is cut (a frame-less `!process` never gets there).
const MAX_LINES: usize = 400;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Utf8,
    Utf16Le,
    Utf16Be,
}

struct LogFile {
    map: Map,
    enc: Encoding,
    /// Byte offset of lines 1, 1+STRIDE, 1+2*STRIDE, ...
    index: Vec<usize>,
}

/// Files opened so far, by path.
#[derive(Default)]
pub(crate) struct LogFiles {
    files: HashMap<String, Result<LogFile, String>>,
}

impl LogFile {
    fn open(path: &str) -> Result<LogFile, String> {
        let f = File::open(path).map_err(|e| format!("{path}: cannot open: {e}"))?;
        // A guarded map: a log truncated while shown reads as zeros past its new end (see
        // `block`, which then says so) instead of killing the process.
        let map = Map::new(&f).map_err(|e| format!("{path}: cannot map: {e}"))?;
        let (enc, bom) = match map.get(..2) {
            Some([0xff, 0xfe]) => (Encoding::Utf16Le, 2),
            Some([0xfe, 0xff]) => (Encoding::Utf16Be, 2),
            _ if map.starts_with(&[0xef, 0xbb, 0xbf]) => (Encoding::Utf8, 3),
            _ => (Encoding::Utf8, 0),
        };
        let mut index = vec![bom];
        let mut lines = 0usize;
        let mut at = bom;
        while let Some(next) = next_line(&map, enc, at) {
            lines += 1;
            if lines % STRIDE == 0 {
                index.push(next);
            }
            at = next;
        }
        Ok(LogFile { map, enc, index })
    }

    /// Byte offset of 1-based line `n`, if the file has it.
    fn line_start(&self, n: usize) -> Option<usize> {
        let k = n.checked_sub(1)?;
        let mut at = *self.index.get(k / STRIDE)?;
        for _ in 0..k % STRIDE {
            at = next_line(&self.map, self.enc, at)?;
        }
        (at < self.map.len()).then_some(at)
    }

    fn line_at(&self, at: usize) -> (String, Option<usize>) {
        let next = next_line(&self.map, self.enc, at);
        let raw = &self.map[at..next.unwrap_or(self.map.len())];
        let text = match self.enc {
            Encoding::Utf8 => String::from_utf8_lossy(raw).into_owned(),
            Encoding::Utf16Le | Encoding::Utf16Be => {
                let units: Vec<u16> = raw
                    .chunks_exact(2)
                    .map(|c| match self.enc {
                        Encoding::Utf16Le => u16::from_le_bytes([c[0], c[1]]),
                        _ => u16::from_be_bytes([c[0], c[1]]),
                    })
                    .collect();
                String::from_utf16_lossy(&units)
            }
        };
        (text.trim_end_matches(['\r', '\n']).to_string(), next)
    }
}

/// The start of the line after the one at `at`, if there is one.
fn next_line(map: &[u8], enc: Encoding, at: usize) -> Option<usize> {
    if at >= map.len() {
        return None;
    }
    match enc {
        Encoding::Utf8 => map[at..]
            .iter()
            .position(|&b| b == b'\n')
            .map(|i| at + i + 1),
        Encoding::Utf16Le | Encoding::Utf16Be => {
            let nl: [u8; 2] = if enc == Encoding::Utf16Le {
                [b'\n', 0]
            } else {
                [0, b'\n']
            };
            map[at..]
                .chunks_exact(2)
                .position(|c| c == nl)
                .map(|i| at + 2 * i + 2)
        }
    }
}

impl LogFiles {
    /// The block that starts at `source` (`path:line`): that line and the
    /// ones after it up to the first blank line.
    pub(crate) fn block(&mut self, source: &str) -> Result<Vec<String>, String> {
        let (path, line) = source
            .rsplit_once(':')
            .and_then(|(p, l)| Some((p, l.parse::<usize>().ok()?)))
            .ok_or_else(|| format!("{source}: not a file:line reference"))?;
        let file = self
            .files
            .entry(path.to_string())
            .or_insert_with(|| LogFile::open(path));
        let file = file.as_ref().map_err(Clone::clone)?;
        let shrank = || format!("{path}: the file shrank while it was shown");
        let start = file.line_start(line);
        if file.map.truncated() {
            return Err(shrank());
        }
        let mut at = start.ok_or_else(|| format!("{path} has no line {line}"))?;
        let mut out = Vec::new();
        while out.len() < MAX_LINES {
            let (text, next) = file.line_at(at);
            if text.trim().is_empty() && !out.is_empty() {
                break;
            }
            out.push(text);
            match next {
                Some(n) => at = n,
                None => break,
            }
        }
        if file.map.truncated() {
            return Err(shrank());
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, bytes: &[u8]) -> String {
        let dir =
            std::env::temp_dir().join(format!("dumptrace-tui-logfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let p = dir.join(name);
        std::fs::write(&p, bytes).expect("write");
        p.display().to_string()
    }

    #[test]
    fn block_runs_to_the_blank_line_past_the_index_stride() {
        let mut text = String::new();
        for i in 1..=600 {
            text.push_str(&format!("line {i}\r\n"));
        }
        text.push_str("THREAD 1\r\n  frame a\r\n  frame b\r\n\r\nTHREAD 2\r\n");
        let p = write("utf8.log", text.as_bytes());
        let mut files = LogFiles::default();
        let b = files.block(&format!("{p}:601")).expect("block");
        assert_eq!(b, ["THREAD 1", "  frame a", "  frame b"]);
        assert_eq!(
            files.block(&format!("{p}:300")).expect("block")[0],
            "line 300"
        );
        assert!(files.block(&format!("{p}:9999")).is_err());
        assert!(files.block("nowhere.log:3").is_err());
    }

    #[test]
    fn utf16_logs_with_a_bom_read_alike() {
        let text = "head\r\nTHREAD 86396db0  Cid 0adc.1c64\r\n    86396e28  NotificationTimer\r\n\r\nafter\r\n";
        let mut bytes = vec![0xff, 0xfe];
        bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        let p = write("utf16.log", &bytes);
        let b = LogFiles::default().block(&format!("{p}:2")).expect("block");
        assert_eq!(
            b,
            [
                "THREAD 86396db0  Cid 0adc.1c64",
                "    86396e28  NotificationTimer"
            ]
        );
    }

    #[test]
    fn a_log_truncated_while_open_is_an_error_not_a_crash() {
        let mut text = String::new();
        for i in 1..=20_000 {
            text.push_str(&format!("line {i}\n"));
        }
        let p = write("shrinks.log", text.as_bytes());
        let mut files = LogFiles::default();
        assert_eq!(
            files.block(&format!("{p}:19000")).expect("block")[0],
            "line 19000"
        );
        std::fs::OpenOptions::new()
            .write(true)
            .open(&p)
            .and_then(|f| f.set_len(100))
            .expect("truncate");
        let err = files.block(&format!("{p}:19000")).expect_err("file shrank");
        assert!(err.contains("shrank"), "{err}");
        assert!(err.contains("shrinks.log"), "{err}");
    }
}
