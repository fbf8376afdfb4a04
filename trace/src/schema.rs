//! Column names of the event frame. Every reader fills the same columns, in this order.
//!
//! | column | type | meaning | null when |
//! |---|---|---|---|
//! | [`TIME`] | Datetime(ns, "UTC") | event time in UTC: local wall-clock times are converted with the caller's [`TimeContext`](crate::TimeContext) (UTC = local − offset); FILETIMEs are UTC already; times relative to the trace start are added to the start (the report's `time_note` says which anchor) | never (rows without a usable time are skipped) |
//! | [`PID`] | UInt32 | process id (Tracefmt prints it in hex, the other formats in decimal; kernel events show 0) | the format or row has none (a PerfView row of a process-less event, a mapped CSV without `--pid-col`) |
//! | [`TID`] | UInt32 | thread id, same bases as `pid` | as `pid` |
//! | [`PROVIDER`] | String | provider name: Tracefmt's `[Provider]`, tracerpt's `Event Name`, the part of a PerfView/xperf event name before `/`, WPA's `Provider Name`, Get-WinEvent's `ProviderName` | the format has none: viewer table, mapped CSV, a Tracefmt line without `[...]`, xperf kernel events (`CSwitch`) |
//! | [`LEVEL`] | String | event level; the numbers 0–5 and `TRACE_LEVEL_*` names become `log-always`, `critical`, `error`, `warning`, `information`, `verbose`; other values are kept as written | the format or prefix carries none |
//! | [`EVENT_ID`] | UInt32 | event id (tracerpt `Event ID`, WPA `Id`, Get-WinEvent `Id`) | the format carries none |
//! | [`EVENT`] | String | the event's full name as PerfView writes it, `Provider/Task/Opcode` (`Windows Kernel/Process/DCStart`, `Microsoft-Windows-DotNETRuntime/GC/Start`): PerfView's and xperf's event-name cell, an ETL event's name from its kernel class or manifest | the format has none, or the ETL event's schema is unknown |
//! | [`MESSAGE`] | String | the formatted message, trailing blanks removed; for CSV exports the payload cells (tracerpt's user data, PerfView's `Rest`) joined with `, ` | never (may be empty) |
//! | [`SOURCE`] | String | source-code file a WPP message was logged from (Tracefmt prefix variable `%2`, printed `file_c123` or `file.c(123)`) | the prefix does not print it |
//! | [`LINE`] | UInt64 | source-code line a WPP message was logged from (with `%2`) | as `source` |
//! | [`TIME_RAW`] | String | the time exactly as written in the trace (date part included when present) | never |
//! | [`INPUT_LINE`] | UInt64 | 1-based line of the trace file the event starts on; with [`TraceReport::path`](crate::TraceReport::path) it makes a `file:line` reference | never |
//! | [`INPUT_OFFSET`] | UInt64 | byte offset of the ETL record in the file (of its buffer, for a record in a compressed buffer); with the path it makes a `file@offset` reference | text input |
//!
//! For ETL input (binary ETW logs): `time` comes from the file's own clock and logfile header
//! (no [`TimeContext`](crate::TimeContext) is needed); `pid`/`tid` are null where the record
//! carries none (PERFINFO records, WPP messages without SYSTEMINFO); `provider` is the
//! provider's name when the file or a table of well-known GUIDs gives it, else its GUID, and
//! `Windows Kernel` for kernel records; `event_id` is the manifest event id, the kernel HookId
//! (`group << 8 | type`), a classic event's opcode or a WPP message number; `time_raw` is the
//! raw timestamp in the file's clock (QPC ticks, FILETIME or CPU cycles), in decimal;
//! `input_line` is null.
//!
//! Unknown values are null; nothing is filled in from guesses.

use polars::prelude::{
    ChunkTake, ChunkedArray, Column, DataFrame, DataType, IdxCa, IdxSize, Int64Chunked, IntoColumn,
    NewChunkedArray, PolarsNumericType, PolarsResult, StringChunked, StringChunkedBuilder,
    TimeUnit, TimeZone, UInt32Type, UInt64Type,
};
use polars_arrow::bitmap::{Bitmap, MutableBitmap};

use crate::read::Row;
use crate::strings::Strings;

/// Event time in UTC, nanoseconds.
pub const TIME: &str = "time";
/// Process id.
pub const PID: &str = "pid";
/// Thread id.
pub const TID: &str = "tid";
/// Provider name.
pub const PROVIDER: &str = "provider";
/// Event level.
pub const LEVEL: &str = "level";
/// Event id.
pub const EVENT_ID: &str = "event_id";
/// Full event name.
pub const EVENT: &str = "event";
/// Formatted message.
pub const MESSAGE: &str = "message";
/// Source-code file of a WPP message.
pub const SOURCE: &str = "source";
/// Source-code line of a WPP message.
pub const LINE: &str = "line";
/// Time text as written in the trace.
pub const TIME_RAW: &str = "time_raw";
/// 1-based line in the trace file.
pub const INPUT_LINE: &str = "input_line";
/// Byte offset of an ETL record in the file.
pub const INPUT_OFFSET: &str = "input_offset";

/// All columns, in frame order.
pub const ALL: [&str; 13] = [
    TIME,
    PID,
    TID,
    PROVIDER,
    LEVEL,
    EVENT_ID,
    EVENT,
    MESSAGE,
    SOURCE,
    LINE,
    TIME_RAW,
    INPUT_LINE,
    INPUT_OFFSET,
];

/// The columns being filled, one builder each. Strings are copied in as rows arrive, so the
/// input they came from can be released chunk by chunk (peak memory stays near the frame's
/// own size). Columns that only ever see nulls are never allocated.
pub(crate) struct Columns {
    time: Vec<i64>,
    pid: SparseNum<UInt32Type>,
    tid: SparseNum<UInt32Type>,
    provider: DictStr,
    level: DictStr,
    event_id: SparseNum<UInt32Type>,
    event: DictStr,
    message: StringChunkedBuilder,
    source: SparseStr,
    line: SparseNum<UInt64Type>,
    time_raw: StringChunkedBuilder,
    input_line: SparseNum<UInt64Type>,
    input_offset: SparseNum<UInt64Type>,
}

impl Default for Columns {
    fn default() -> Self {
        Columns::with_capacity(0)
    }
}

impl Columns {
    /// Room for `rows` rows; memory that is reserved but never written is not resident.
    pub(crate) fn with_capacity(rows: usize) -> Self {
        Columns {
            time: Vec::with_capacity(rows),
            pid: SparseNum::new(PID, rows),
            tid: SparseNum::new(TID, rows),
            provider: DictStr::new(PROVIDER, rows),
            level: DictStr::new(LEVEL, rows),
            event_id: SparseNum::new(EVENT_ID, rows),
            event: DictStr::new(EVENT, rows),
            message: StringChunkedBuilder::new(MESSAGE.into(), rows),
            source: SparseStr::new(SOURCE, rows),
            line: SparseNum::new(LINE, rows),
            time_raw: StringChunkedBuilder::new(TIME_RAW.into(), rows),
            input_line: SparseNum::new(INPUT_LINE, rows),
            input_offset: SparseNum::new(INPUT_OFFSET, rows),
        }
    }

    pub(crate) fn push(&mut self, time_ns: i64, row: &Row<'_>, input_line: u64) {
        self.push_at(time_ns, row, Some(input_line), None);
    }

    /// [`Columns::push`] for input located by line (text) or by byte offset (ETL).
    pub(crate) fn push_at(
        &mut self,
        time_ns: i64,
        row: &Row<'_>,
        input_line: Option<u64>,
        input_offset: Option<u64>,
    ) {
        self.time.push(time_ns);
        self.pid.push(row.pid);
        self.tid.push(row.tid);
        self.provider.push(row.provider);
        self.level.push(row.level);
        self.event_id.push(row.event_id);
        self.event.push(row.event);
        self.message.append_value(row.message);
        self.source.push(row.source.as_deref());
        self.line.push(row.line);
        self.time_raw.append_value(row.time_raw);
        self.input_line.push(input_line);
        self.input_offset.push(input_offset);
    }

    pub(crate) fn len(&self) -> usize {
        self.time.len()
    }

    pub(crate) fn into_frame(self) -> PolarsResult<DataFrame> {
        let n = self.len();
        let time = Int64Chunked::from_vec(TIME.into(), self.time)
            .into_datetime(TimeUnit::Nanoseconds, Some(TimeZone::UTC))
            .into_column();
        let columns = vec![
            time,
            self.pid.finish(n),
            self.tid.finish(n),
            self.provider.finish(n)?,
            self.level.finish(n)?,
            self.event_id.finish(n),
            self.event.finish(n)?,
            self.message.finish().into_column(),
            self.source.finish(n),
            self.line.finish(n),
            self.time_raw.finish().into_column(),
            self.input_line.finish(n),
            self.input_offset.finish(n),
        ];
        DataFrame::new(n, columns)
    }
}

/// A string column of few distinct values (providers, levels). Each distinct string is
/// stored once and the column is gathered from those: the gathered views point into the
/// one copy, so a row costs its 16-byte view and not its text again (a provider name like
/// `Microsoft-Windows-WLAN-AutoConfig` is too long to sit inside the view). The rows' ids
/// go straight into the index the gather reads, with a validity mask made at the first null.
struct DictStr {
    name: &'static str,
    values: Strings,
    rows: Vec<IdxSize>,
    validity: Option<MutableBitmap>,
    /// The last row's id: consecutive rows mostly repeat it.
    last: u32,
}

impl DictStr {
    fn new(name: &'static str, capacity: usize) -> Self {
        DictStr {
            name,
            values: Strings::default(),
            rows: Vec::with_capacity(capacity),
            validity: None,
            last: 0,
        }
    }

    fn push(&mut self, v: Option<&str>) {
        let Some(v) = v else {
            push_null(&mut self.validity, self.rows.len(), self.rows.capacity());
            self.rows.push(0);
            return;
        };
        let id = if self.values.get(self.last) == Some(v) {
            self.last
        } else {
            self.last = self.values.id(v);
            self.last
        };
        if let Some(validity) = &mut self.validity {
            validity.push(true);
        }
        self.rows.push(IdxSize::from(id));
    }

    fn finish(self, n: usize) -> PolarsResult<Column> {
        if self.values.is_empty() {
            return Ok(Column::full_null(self.name.into(), n, &DataType::String));
        }
        let values = self.values.into_vec();
        let dict =
            StringChunked::from_iter_values(self.name.into(), values.iter().map(String::as_str));
        let validity = self.validity.map(Bitmap::from);
        let idx = IdxCa::from_vec_validity(self.name.into(), self.rows, validity);
        Ok(dict.take(&idx)?.into_column())
    }
}

/// A column builder that can start late: the sparse column below makes one
/// only at the first value, so columns that stay all-null allocate nothing.
trait LateBuilder: Sized {
    type Value<'v>;
    fn start(name: &'static str, capacity: usize) -> Self;
    fn value(&mut self, v: Self::Value<'_>);
    fn null(&mut self);
    fn done(self) -> Column;
    fn dtype() -> DataType;
}

impl LateBuilder for StringChunkedBuilder {
    type Value<'v> = &'v str;
    fn start(name: &'static str, capacity: usize) -> Self {
        StringChunkedBuilder::new(name.into(), capacity)
    }
    fn value(&mut self, v: &str) {
        self.append_value(v);
    }
    fn null(&mut self) {
        self.append_null();
    }
    fn done(self) -> Column {
        self.finish().into_column()
    }
    fn dtype() -> DataType {
        DataType::String
    }
}

/// A nullable column whose builder is made at its first value.
struct Sparse<B: LateBuilder> {
    name: &'static str,
    capacity: usize,
    nulls: usize,
    builder: Option<B>,
}

type SparseStr = Sparse<StringChunkedBuilder>;

impl<B: LateBuilder> Sparse<B> {
    fn new(name: &'static str, capacity: usize) -> Self {
        Sparse {
            name,
            capacity,
            nulls: 0,
            builder: None,
        }
    }

    fn push(&mut self, v: Option<B::Value<'_>>) {
        match (&mut self.builder, v) {
            (Some(b), Some(v)) => b.value(v),
            (Some(b), None) => b.null(),
            (None, None) => self.nulls += 1,
            (None, Some(v)) => {
                let mut b = B::start(self.name, self.capacity);
                for _ in 0..self.nulls {
                    b.null();
                }
                b.value(v);
                self.builder = Some(b);
            }
        }
    }

    fn finish(self, n: usize) -> Column {
        match self.builder {
            Some(b) => b.done(),
            None => Column::full_null(self.name.into(), n, &B::dtype()),
        }
    }
}

/// Marks the next row (row `len`) null in `validity`, making the mask at the first null
/// with every earlier row valid (a column that never sees a null after a value has none).
fn push_null(validity: &mut Option<MutableBitmap>, len: usize, capacity: usize) {
    validity
        .get_or_insert_with(|| {
            let mut b = MutableBitmap::with_capacity(capacity);
            b.extend_constant(len, true);
            b
        })
        .push(false);
}

/// A nullable number column: its values in a plain vector, and a validity mask made at the
/// first null that follows a value (a column that is always set, like ETL's pid, has none).
/// Nothing is allocated before the first value, so columns that stay all-null cost nothing.
struct SparseNum<T: PolarsNumericType> {
    name: &'static str,
    capacity: usize,
    /// Rows before the first value (all null).
    nulls: usize,
    values: Vec<T::Native>,
    validity: Option<MutableBitmap>,
}

impl<T: PolarsNumericType> SparseNum<T> {
    fn new(name: &'static str, capacity: usize) -> Self {
        SparseNum {
            name,
            capacity,
            nulls: 0,
            values: Vec::new(),
            validity: None,
        }
    }

    #[inline]
    fn push(&mut self, v: Option<T::Native>) {
        match v {
            Some(v) => {
                if self.values.capacity() == 0 {
                    self.start();
                }
                self.values.push(v);
                if let Some(validity) = &mut self.validity {
                    validity.push(true);
                }
            }
            None if self.values.capacity() == 0 => self.nulls += 1,
            None => {
                push_null(
                    &mut self.validity,
                    self.values.len(),
                    self.values.capacity(),
                );
                self.values.push(T::Native::default());
            }
        }
    }

    /// Makes room at the first value, with the nulls before it.
    fn start(&mut self) {
        self.values = Vec::with_capacity(self.capacity.max(self.nulls + 1));
        if self.nulls > 0 {
            self.values.resize(self.nulls, T::Native::default());
            let mut b = MutableBitmap::with_capacity(self.values.capacity());
            b.extend_constant(self.nulls, false);
            self.validity = Some(b);
        }
    }

    fn finish(self, n: usize) -> Column {
        if self.values.is_empty() {
            return Column::full_null(self.name.into(), n, &T::get_static_dtype());
        }
        let validity = self.validity.map(Bitmap::from);
        ChunkedArray::<T>::from_vec_validity(self.name.into(), self.values, validity).into_column()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Distinct values are stored once and every row, nulls included, reads back as pushed.
    #[test]
    fn dictionary_column_reads_back_every_row() {
        let pushed = [
            Some("Microsoft-Windows-WLAN-AutoConfig"),
            Some("DbClient"),
            None,
            Some("Microsoft-Windows-WLAN-AutoConfig"),
            Some("Microsoft-Windows-WLAN-AutoConfig"),
            Some("DbClient"),
            None,
        ];
        let mut d = DictStr::new(PROVIDER, 0);
        for v in pushed {
            d.push(v);
        }
        // Two distinct values, kept once each.
        assert!(d.values.get(1).is_some() && d.values.get(2).is_none());
        let col = d.finish(pushed.len()).expect("column");
        let got: Vec<Option<&str>> = col.str().expect("strings").iter().collect();
        assert_eq!(got, pushed);

        let empty = DictStr::new(LEVEL, 0).finish(3).expect("column");
        assert_eq!(empty.null_count(), 3);
        assert_eq!(empty.dtype(), &DataType::String);
    }
}
