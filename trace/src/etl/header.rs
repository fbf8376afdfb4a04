//! The logfile header (`TRACE_LOGFILE_HEADER`, formats.md §1.7) and the clock that turns
//! raw timestamps into UTC (§1.8).

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::bytes::{i64_at, u32_at, utf16z};
use super::record::{Fields, Record};

/// FILETIME of 1970-01-01 (100 ns units since 1601).
const UNIX_EPOCH_FILETIME: i64 = 116_444_736_000_000_000;

/// The facts of the logfile header that reports and the clock need.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogfileHeader {
    /// Buffer size of the logger, bytes.
    pub buffer_size: u32,
    /// Windows version, `major.minor` (e.g. `10.0`).
    pub os_version: String,
    /// Windows build (the header's ProviderVersion), e.g. 19043.
    pub os_build: u32,
    /// Layout version of the file, `major.minor` (1.5 or 2.0 seen).
    pub logfile_version: String,
    pub cpus: u32,
    /// Bytes per pointer of the logging system: 4 or 8.
    pub pointer_size: u32,
    /// Timer resolution in 100 ns units.
    pub timer_resolution: u32,
    pub log_file_mode: u32,
    pub buffers_written: u32,
    /// Events the logger says it lost.
    pub events_lost: u32,
    /// Buffers the logger says it lost.
    pub buffers_lost: u32,
    pub cpu_speed_mhz: u32,
    /// Minutes; UTC = local time + bias.
    pub time_zone_bias_minutes: i32,
    /// The zone's standard name, e.g. `@tzres.dll,-212`.
    pub time_zone_name: String,
    /// Raw clock type: 0 raw, 1 QPC, 2 system time, 3 CPU cycles.
    pub clock_type: u32,
    /// Ticks per second of the QPC clock.
    pub perf_freq: i64,
    pub start_time: Option<DateTime<Utc>>,
    pub end_time: Option<DateTime<Utc>>,
    pub boot_time: Option<DateTime<Utc>>,
    pub logger_name: String,
    pub log_file_name: String,
    #[serde(skip)]
    pub(crate) start_filetime: i64,
}

/// Why the first record is no usable logfile header.
pub(crate) const NOT_A_HEADER: &str =
    "first record is not a logfile header (SYSTEM record, group 0, type 0)";

impl LogfileHeader {
    /// Reads the header from the first record of the first buffer.
    ///
    /// Offsets are those of a PointerSize-8 header; with PointerSize 4 the two name pointers
    /// at +56 are 4 bytes each, so every field from +72 sits 8 bytes earlier (RavuAlHemio,
    /// formats.md §1.7; [source] only).
    pub(crate) fn parse(record: &Record<'_>) -> Result<LogfileHeader, &'static str> {
        if !matches!(
            record.fields,
            Fields::Kernel {
                group: 0,
                kind: 0,
                ..
            }
        ) {
            return Err(NOT_A_HEADER);
        }
        let p = record.payload;
        let cut = "logfile header cut off";
        let u32f = |off| u32_at(p, off).ok_or(cut);
        let i64f = |off| i64_at(p, off).ok_or(cut);
        let pointer_size = u32f(44)?;
        let shift = match pointer_size {
            8 => 0,
            4 => 8,
            _ => return Err("logfile header gives a pointer size other than 4 or 8"),
        };
        let at = |off: usize| off - shift;
        let version = u32f(4)?.to_le_bytes();
        let names = p.get(at(280)..).ok_or(cut)?;
        let (logger_name, used) = utf16z(names);
        let (log_file_name, _) = utf16z(names.get(used..).unwrap_or(&[]));
        let tz = p.get(at(72)..at(72) + 172).ok_or(cut)?;
        let (time_zone_name, _) = utf16z(tz.get(4..68).unwrap_or(&[]));
        let start_filetime = i64f(at(264))?;
        Ok(LogfileHeader {
            buffer_size: u32f(0)?,
            os_version: format!("{}.{}", version[0], version[1]),
            os_build: u32f(8)?,
            logfile_version: format!("{}.{}", version[2], version[3]),
            cpus: u32f(12)?,
            pointer_size,
            timer_resolution: u32f(24)?,
            log_file_mode: u32f(32)?,
            buffers_written: u32f(36)?,
            events_lost: u32f(48)?,
            buffers_lost: u32f(at(276))?,
            cpu_speed_mhz: u32f(52)?,
            time_zone_bias_minutes: u32f(at(72))? as i32,
            time_zone_name,
            clock_type: u32f(at(272))?,
            perf_freq: i64f(at(256))?,
            start_time: filetime_utc(start_filetime),
            end_time: filetime_utc(i64f(16)?),
            boot_time: filetime_utc(i64f(at(248))?),
            logger_name,
            log_file_name,
            start_filetime,
        })
    }

    /// The clock name for reports.
    pub fn clock_name(&self) -> &'static str {
        match self.clock_type {
            0 => "raw",
            1 => "QPC",
            2 => "system time",
            3 => "CPU cycles",
            _ => "unknown",
        }
    }
}

/// A FILETIME as UTC; None for 0 or out of range.
pub(crate) fn filetime_utc(ft: i64) -> Option<DateTime<Utc>> {
    if ft <= 0 {
        return None;
    }
    let ns = i128::from(ft - UNIX_EPOCH_FILETIME) * 100;
    Some(DateTime::from_timestamp_nanos(i64::try_from(ns).ok()?))
}

/// Raw timestamps to UTC nanoseconds since 1970.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    start_ns: i128,
    anchor: i64,
    num: i128,
    den: i128,
}

impl Clock {
    /// `FILETIME(ev) = StartTime + (ev.ts − hdr.ts) × scale`, with `hdr.ts` the logfile-header
    /// record's own timestamp, as TraceEvent and dissect do (formats.md §1.8, verified for QPC
    /// against 4 PerfView baselines). Scales: QPC 1e7/PerfFreq, system time 1, CPU cycles
    /// 10/MHz ([source] for the last two). Raw (0) is read like QPC ([source]: ntwmi.h).
    pub(crate) fn new(h: &LogfileHeader, anchor: i64) -> Result<Clock, &'static str> {
        let (num, den) = match h.clock_type {
            0 | 1 if h.perf_freq > 0 => (1_000_000_000, i128::from(h.perf_freq)),
            0 | 1 => return Err("logfile header gives a QPC frequency of 0"),
            2 => (100, 1),
            3 if h.cpu_speed_mhz > 0 => (1000, i128::from(h.cpu_speed_mhz)),
            3 => return Err("logfile header gives a CPU speed of 0 for a CPU-cycle clock"),
            _ => return Err("unknown clock type in the logfile header"),
        };
        Ok(Clock {
            start_ns: (i128::from(h.start_filetime) - i128::from(UNIX_EPOCH_FILETIME)) * 100,
            anchor,
            num,
            den,
        })
    }

    /// UTC nanoseconds of a raw timestamp; None outside the i64 range.
    #[inline]
    pub(crate) fn utc_ns(&self, ts: i64) -> Option<i64> {
        let delta = (i128::from(ts) - i128::from(self.anchor)) * self.num;
        i64::try_from(self.start_ns + delta.div_euclid(self.den)).ok()
    }
}
