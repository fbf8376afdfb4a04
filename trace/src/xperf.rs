//! `xperf -i trace.etl -a dumper` text (format only; the real text is in rust-lang/rustc-perf
//! `collector/src/etw_parser.rs`, doc comment and tests; formats.md §5):
//!
//! ```text
//! BeginHeader
//!                 P-Start,  TimeStamp,     Process Name ( PID),  ParentPID
//!                 CSwitch,  TimeStamp, New Process Name ( PID),    New TID, Old Process Name ( PID), …
//! EndHeader
//! OS Version: 10.0.19043, Trace Size: 20736KB, Events Lost: 0, Buffers lost: 0, Trace Start: 132675686690347142, Trace Length: 2 sec, PointerSize: 8, Trace Name: x.etl
//! FirstReliableEventTimeStamp, 0
//!                 P-Start,     104743,        rustc.exe (10612),        480, …
//! ```
//!
//! Quirks:
//! * each row is laid out by the schema line of its event name; cells are padded and never
//!   quoted, so a command line holding commas spills into extra cells (rejoined here);
//! * processes print as `rustc.exe (10612)` or `Idle (   0)`;
//! * TimeStamp is an integer after `Trace Start` (a FILETIME in the `OS Version` line). The
//!   xperf help says µs in older and ms in the Win8 version; the rustc-perf sample (P-Start
//!   104743 … P-End 1359642 in a "Trace Length: 2 sec" trace) fits **µs**, which is used;
//! * CSwitch has no `Process Name ( PID)` column: the first column naming a process
//!   (`New Process Name ( PID)`, the thread switched in) and the first naming a TID
//!   (`New TID`) are the row's process and thread.

use std::collections::HashMap;

use crate::cells::{process_pid, unix_ns_from_filetime};
use crate::csvrow::{split_str, Field};
use crate::read::{Parsed, Row, When, BAD_TIME, HEADER, NOT_A_ROW};
use crate::stream::Format;

#[derive(Default, Clone)]
pub(crate) struct Xperf {
    state: State,
    /// Event name → its column names (after the name).
    schemas: HashMap<String, Vec<String>>,
    start_ns: Option<i64>,
    start_text: Option<String>,
    fields: Vec<Field>,
    scratch: String,
}

#[derive(Default, Clone, PartialEq, Eq)]
enum State {
    #[default]
    Before,
    Schema,
    Body,
}

impl Format for Xperf {
    fn parse<'s>(&'s mut self, record: &'s str, _fresh: bool) -> Parsed<'s> {
        let line = record.trim();
        match self.state {
            State::Before => {
                if line == "BeginHeader" {
                    self.state = State::Schema;
                }
                return Err(HEADER);
            }
            State::Schema => {
                if line == "EndHeader" {
                    self.state = State::Body;
                } else if let Some((name, cols)) = line.split_once(',') {
                    let cols = cols.split(',').map(|c| c.trim().to_owned()).collect();
                    self.schemas.insert(name.trim().to_owned(), cols);
                }
                return Err(HEADER);
            }
            State::Body => {}
        }
        if line.starts_with("OS Version:") {
            self.trace_start(line);
            return Err(HEADER);
        }
        if line.starts_with("FirstReliable") {
            return Err(HEADER);
        }
        split_str(record, b',', false, &mut self.fields);
        let cell = |i: usize| self.fields.get(i).map(|f| f.raw(record).trim());
        let name = cell(0).unwrap_or_default();
        let schema = self.schemas.get(name);
        let col_of = |pred: &dyn Fn(&str) -> bool| {
            schema
                .and_then(|s| s.iter().position(|c| pred(c)))
                .map(|i| i + 1)
        };
        let ts_col = col_of(&|c| c == "TimeStamp").unwrap_or(1);
        let time_raw = cell(ts_col).ok_or(NOT_A_ROW)?;
        let ticks: i64 = time_raw.parse().map_err(|_| NOT_A_ROW)?;
        let rel = ticks.checked_mul(1_000).ok_or(BAD_TIME)?;
        let when = match self.start_ns {
            Some(s) => When::Utc(s.checked_add(rel).ok_or(BAD_TIME)?),
            None => When::Relative(rel),
        };
        let pid_col = col_of(&|c| c.ends_with("Process Name ( PID)"));
        let tid_col = col_of(&|c| c == "ThreadID" || c == "TID" || c.ends_with(" TID"));
        let pid = pid_col.and_then(cell).and_then(process_pid);
        let tid = tid_col.and_then(cell).and_then(|t| t.parse().ok());
        self.scratch.clear();
        self.scratch.push_str(name);
        let used = [Some(0), Some(ts_col), pid_col, tid_col];
        let n = self.fields.len();
        let mut i = 1;
        let mut first = true;
        while i < n {
            let value = cell(i).unwrap_or_default();
            let label = schema.and_then(|s| s.get(i - 1));
            let last_col = schema.is_some_and(|s| i == s.len());
            if used.contains(&Some(i)) {
                i += 1;
                continue;
            }
            self.scratch.push_str(if first { " " } else { ", " });
            first = false;
            if let Some(l) = label {
                self.scratch.push_str(l);
                self.scratch.push('=');
            }
            self.scratch.push_str(value);
            if last_col {
                // Cells past the schema are the last value's own commas.
                for k in i + 1..n {
                    self.scratch.push(',');
                    self.scratch
                        .push_str(self.fields.get(k).map_or("", |f| f.raw(record)));
                }
                break;
            }
            i += 1;
        }
        let mut row = Row::new(when, time_raw, self.scratch.trim_end());
        row.pid = pid;
        row.tid = tid;
        row.provider = name.split_once('/').map(|(p, _)| p);
        row.event = (!name.is_empty()).then_some(name);
        Ok(row)
    }

    fn fork(&self) -> Option<Box<dyn Format>> {
        (self.state == State::Body).then(|| Box::new(self.clone()) as Box<dyn Format>)
    }

    fn note(&self) -> Option<String> {
        Some(match &self.start_text {
            Some(t) => format!("xperf TimeStamp read as µs after the file's Trace Start {t}"),
            None => "xperf TimeStamp read as µs after the trace start; the file has no \
                     `Trace Start` line"
                .to_owned(),
        })
    }
}

impl Xperf {
    /// `…, Trace Start: 132675686690347142, …`: a FILETIME.
    fn trace_start(&mut self, line: &str) {
        let Some(value) = line
            .split(',')
            .find_map(|part| part.trim().strip_prefix("Trace Start:"))
        else {
            return;
        };
        let Ok(ticks) = value.trim().parse::<i128>() else {
            return;
        };
        self.start_ns = unix_ns_from_filetime(ticks);
        self.start_text = self.start_ns.map(|ns| {
            format!(
                "{} ({})",
                value.trim(),
                chrono::DateTime::from_timestamp_nanos(ns)
                    .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
            )
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "BeginHeader
                P-Start,  TimeStamp,     Process Name ( PID),  ParentPID, Command Line
                CSwitch,  TimeStamp, New Process Name ( PID),    New TID, Old Process Name ( PID),    Old TID, CPU
EndHeader
OS Version: 10.0.19043, Trace Size: 20736KB, Events Lost: 0, Buffers lost: 0, Trace Start: 132675686690347142, Trace Length: 2 sec, PointerSize: 8, Trace Name: x.etl
FirstReliableEventTimeStamp, 0
                P-Start,     104743,        rustc.exe (10612),        480, \"rustc.exe\" --emit=dep-info,metadata -C x
                CSwitch,     106082,        rustc.exe (10612),      15340,    Idle (   0),          0,    0
";

    #[test]
    fn rows_by_schema() {
        let mut x = Xperf::default();
        let mut rows = Vec::new();
        for line in TEXT.lines() {
            if let Ok(r) = x.parse(line, true) {
                rows.push((r.pid, r.tid, r.when, r.message.to_owned()));
            }
        }
        // Trace Start 132675686690347142 = 2021-06-07T19:44:29.0347142Z; +104743 µs
        let start = 1_623_095_069_034_714_200i64;
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].0, Some(10612));
        assert_eq!(rows[0].2, When::Utc(start + 104_743_000));
        assert_eq!(
            rows[0].3,
            "P-Start ParentPID=480, Command Line=\"rustc.exe\" --emit=dep-info,metadata -C x"
        );
        assert_eq!((rows[1].0, rows[1].1), (Some(10612), Some(15340)));
        assert_eq!(
            rows[1].3,
            "CSwitch Old Process Name ( PID)=Idle (   0), Old TID=0, CPU=0"
        );
        assert!(x
            .note()
            .is_some_and(|n| n.contains("2021-06-07T19:44:29.0347142")));
    }
}
