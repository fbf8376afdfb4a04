//! One reader for every CSV export: a header row names the columns, a dialect says which
//! column plays which role ([`Roles`]), and each row is split by [`crate::csvrow`] and
//! turned into a row of the frame. The dialects (`tracerpt`, `perfview`, `wpa`, `winevent`,
//! and the user's own [`CsvMapping`](crate::CsvMapping)) only map header names to roles.

use chrono::{DateTime, NaiveDateTime, NaiveTime};

use crate::timeforms::{local, DayOrder, DayScan};

use crate::cells::{
    decimal_ns, decimal_u32, filetime_ns, grouped_u32, level_name, process_pid, trim,
};
use crate::csvrow::{split, split_str, Field, RecordEnd};
use crate::read::{
    Parsed, Row, When, BAD_ID, BAD_TIME, BAD_TIME_FORMAT, HEADER, NOT_A_ROW, TOO_FEW_FIELDS,
    UNTERMINATED,
};
use crate::stream::Format;
use crate::{ReadOptions, TimeFormat, TraceFormat};

/// How a time cell is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TimeCell {
    /// FILETIME (UTC), integer or double.
    Filetime,
    /// Units of `unit_ns` after the trace start, decimal mark per the separator.
    Relative { unit_ns: i64 },
    /// A date and time in any form Windows tools write ([`crate::timeforms`]): culture
    /// formats of the exporting machine's local time, or round-trip times with an offset.
    LocalText,
    /// A user-mapped column: None = ISO 8601.
    Mapped(Option<TimeFormat>),
}

/// How a PID or TID cell is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdCell {
    /// Plain decimal.
    Decimal,
    /// Decimal with group separators (`1,234`).
    Grouped,
    /// `name (1234)`.
    Process,
    /// `Key="1,234"` somewhere inside the cell (PerfView's `Rest`).
    Attr(&'static str),
    /// Decimal, `0x` hex or grouped (user-mapped columns).
    Any,
}

/// One piece of the message, in order; pieces are joined with a space, empty ones dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Part {
    Cell(usize),
    /// `Name=value`, if the value is not empty.
    Labeled(usize, String),
    /// The part of the cell after its first `/` (an event name without its provider).
    AfterSlash(usize),
    /// This cell and all after it, joined with `, `, trailing empty cells dropped, and the
    /// inner quotes of tracerpt strings removed.
    Spill(usize),
}

/// Which column plays which role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Roles {
    pub time: (usize, TimeCell),
    pub pid: Option<(usize, IdCell)>,
    pub tid: Option<(usize, IdCell)>,
    /// Provider column; `true` = only the part before the first `/`.
    pub provider: Option<(usize, bool)>,
    pub level: Option<usize>,
    pub event_id: Option<usize>,
    /// Full event name column (`Provider/Task/Opcode`).
    pub event: Option<usize>,
    pub message: Vec<Part>,
}

/// Maps a header to roles; None if the header is not this dialect's.
pub(crate) type RolesOf = fn(&[String], &ReadOptions) -> Option<Roles>;

/// Index of the first header name equal to one of `names` (ASCII case ignored).
pub(crate) fn col(header: &[String], names: &[&str]) -> Option<usize> {
    names
        .iter()
        .find_map(|n| header.iter().position(|h| h.eq_ignore_ascii_case(n)))
}

/// The header cells of `line` split with `sep`, unquoted and trimmed.
pub(crate) fn header_names(line: &str, sep: u8) -> Vec<String> {
    let mut fields = Vec::new();
    split_str(line, sep, true, &mut fields);
    fields
        .iter()
        .map(|f| f.unescaped(line).trim().to_owned())
        .collect()
}

/// `#TYPE System.Diagnostics.Eventing.Reader.EventLogRecord`: the type line Windows
/// PowerShell's Export-Csv writes before the header unless `-NoTypeInformation` is given
/// (formats.md §5 lists the columns; PowerShell 7 no longer writes it).
pub(crate) fn is_type_line(line: &str) -> bool {
    line.trim_start().starts_with("#TYPE")
}

#[derive(Clone)]
pub(crate) struct CsvReader {
    sep: u8,
    roles_of: RolesOf,
    opts: ReadOptions,
    roles: Option<Roles>,
    header_seen: bool,
    fields: Vec<Field>,
    unterminated: bool,
    scratch: String,
    bad_time: Option<String>,
    note: Option<&'static str>,
    /// Day/month order of slash dates, decided from the start of the column ([`Self::prime`]).
    order: DayOrder,
    /// What decided it, for the report.
    order_note: Option<String>,
    /// While priming: the column's slash dates seen so far (rows are only looked at).
    scan: Option<DayScan>,
}

impl CsvReader {
    pub(crate) fn new(
        sep: u8,
        roles_of: RolesOf,
        opts: &ReadOptions,
        note: Option<&'static str>,
    ) -> Self {
        CsvReader {
            sep,
            roles_of,
            opts: opts.clone(),
            roles: None,
            header_seen: false,
            fields: Vec::new(),
            unterminated: false,
            scratch: String::new(),
            bad_time: None,
            note,
            order: DayOrder::default(),
            order_note: None,
            scan: None,
        }
    }

    /// Reads the time cells of the records in `head` (the start of the input) to decide
    /// whether slash dates put the day or the month first: a first field above 12 anywhere
    /// there means day first; otherwise month first (the US form), and the report says so.
    pub(crate) fn prime(&mut self, head: &str) {
        let mut r = self.clone();
        r.scan = Some(DayScan::default());
        let bytes = head.as_bytes();
        let mut pos = 0usize;
        while let Some(end) = bytes.get(pos..).and_then(|rest| r.record(rest, true)) {
            if let Some(rec) = head.get(pos..pos + end.len) {
                let _ = r.parse(rec, true);
            }
            pos += end.step.max(1);
            if pos >= bytes.len() {
                break;
            }
        }
        if let Some(scan) = r.scan.take() {
            self.order = scan.order();
            self.order_note = scan.note();
        }
    }

    /// Decimal mark of culture-formatted numbers: `,` when the list separator is `;`
    /// (PerfView writes the culture's list separator, formats.md §5; such cultures use a
    /// decimal comma), otherwise `.`.
    fn decimal(&self) -> u8 {
        if self.sep == b';' {
            b','
        } else {
            b'.'
        }
    }
}

impl Format for CsvReader {
    fn record(&mut self, buf: &[u8], force: bool) -> Option<RecordEnd> {
        let end = split(buf, self.sep, true, force, &mut self.fields)?;
        self.unterminated = end.unterminated;
        Some(end)
    }

    fn parse<'s>(&'s mut self, record: &'s str, fresh: bool) -> Parsed<'s> {
        if !fresh {
            split_str(record, self.sep, true, &mut self.fields);
        }
        if !self.header_seen {
            if is_type_line(record) {
                return Err(HEADER);
            }
            self.header_seen = true;
            let names = header_names(record, self.sep);
            self.roles = (self.roles_of)(&names, &self.opts);
            return Err(HEADER);
        }
        if std::mem::take(&mut self.unterminated) {
            return Err(UNTERMINATED);
        }
        let decimal = self.decimal();
        let roles = self.roles.as_ref().ok_or(NOT_A_ROW)?;
        let fields = &self.fields;
        // Unquoted cells come trimmed from the splitter; quoted ones keep their blanks.
        let cell = |i: usize| {
            fields.get(i).map(|f| {
                let raw = f.raw(record);
                if f.quoted {
                    trim(raw)
                } else {
                    raw
                }
            })
        };
        let time_raw = cell(roles.time.0).ok_or(TOO_FEW_FIELDS)?;
        if let Some(scan) = self.scan.as_mut() {
            scan.see(time_raw);
            return Err(NOT_A_ROW);
        }
        let when = match time_of(&roles.time.1, time_raw, decimal, self.order) {
            Some(w) => w,
            None if matches!(roles.time.1, TimeCell::Mapped(_)) => {
                if self.bad_time.is_none() {
                    self.bad_time = Some(time_raw.to_owned());
                }
                return Err(BAD_TIME_FORMAT);
            }
            None => return Err(BAD_TIME),
        };
        let id = |role: Option<(usize, IdCell)>| -> Result<Option<u32>, &'static str> {
            let Some((i, kind)) = role else {
                return Ok(None);
            };
            let text = cell(i).unwrap_or_default();
            if text.is_empty() {
                return Ok(None);
            }
            if let IdCell::Attr(key) = kind {
                // PerfView's Rest is quoted when it holds the separator: unescape first.
                let rest = fields
                    .get(i)
                    .map(|f| f.unescaped(record))
                    .unwrap_or_default();
                return match attr(&rest, key) {
                    None => Ok(None),
                    Some(v) => grouped_u32(v).map(Some).ok_or(BAD_ID),
                };
            }
            id_of(kind, text).map(Some).ok_or(BAD_ID)
        };
        let pid = id(roles.pid)?;
        let tid = id(roles.tid)?;
        let provider = roles.provider.and_then(|(i, before_slash)| {
            let t = cell(i)?;
            let t = if before_slash {
                t.split('/').next().unwrap_or(t)
            } else {
                t
            };
            (!t.is_empty()).then_some(t)
        });
        let level = roles.level.and_then(cell).and_then(level_name);
        let event_id = roles.event_id.and_then(cell).and_then(decimal_u32);
        let event = roles.event.and_then(cell).filter(|t| !t.is_empty());
        self.scratch.clear();
        for part in &roles.message {
            let mark = self.scratch.len();
            if mark > 0 {
                self.scratch.push(' ');
            }
            let start = self.scratch.len();
            match part {
                Part::Cell(i) => {
                    if let Some(f) = fields.get(*i) {
                        f.push_to(record, &mut self.scratch);
                    }
                }
                Part::Labeled(i, name) => {
                    if let Some(f) = fields.get(*i).filter(|f| !f.raw(record).is_empty()) {
                        self.scratch.push_str(name);
                        self.scratch.push('=');
                        f.push_to(record, &mut self.scratch);
                    }
                }
                Part::AfterSlash(i) => {
                    let t = cell(*i).unwrap_or_default();
                    self.scratch
                        .push_str(t.split_once('/').map_or("", |(_, rest)| rest));
                }
                Part::Spill(i) => spill(
                    fields.get(*i..).unwrap_or_default(),
                    record,
                    &mut self.scratch,
                ),
            }
            if self.scratch.len() == start {
                self.scratch.truncate(mark);
            }
        }
        let message = self.scratch.trim_end();
        let mut row = Row::new(when, time_raw, message);
        row.pid = pid;
        row.tid = tid;
        row.provider = provider;
        row.level = level;
        row.event_id = event_id;
        row.event = event;
        Ok(row)
    }

    fn note(&self) -> Option<String> {
        match (self.note, &self.order_note) {
            (Some(a), Some(b)) => Some(format!("{a}; {b}")),
            (Some(a), None) => Some(a.to_owned()),
            (None, b) => b.clone(),
        }
    }

    fn fork(&self) -> Option<Box<dyn Format>> {
        // A mapped CSV's time-format check counts failures before the first good row,
        // which only a single reader sees in order.
        let roles = self.roles.as_ref()?;
        (self.header_seen && !matches!(roles.time.1, TimeCell::Mapped(_)))
            .then(|| Box::new(self.clone()) as Box<dyn Format>)
    }

    fn bad_time(&self) -> Option<(String, String)> {
        let format = match &self.roles.as_ref()?.time.1 {
            TimeCell::Mapped(Some(f)) => f.to_string(),
            TimeCell::Mapped(None) => format!(
                "(none given; read as any of: {})",
                crate::timeforms::form_names()
            ),
            _ => return None,
        };
        Some((self.bad_time.clone()?, format))
    }
}

/// tracerpt's user-data cells: `158," ""HTTP Protocol """," ""http.sys""",,,` becomes
/// `158, HTTP Protocol , http.sys`. tracerpt quotes string values itself (` "…"`, with a
/// leading space) inside the CSV quoting (Log-parser sample, formats.md §5); that inner
/// layer is removed too. Trailing empty cells are padding up to the widest row.
fn spill(fields: &[Field], record: &str, out: &mut String) {
    let used = fields
        .iter()
        .rposition(|f| !f.is_void() && !trim(f.raw(record)).is_empty())
        .map_or(0, |i| i + 1);
    for (k, f) in fields.iter().take(used).enumerate() {
        if k > 0 {
            out.push_str(", ");
        }
        let start = out.len();
        f.push_to(record, out);
        // The value is cut down in place (no copy): trimmed, then one layer of quotes off.
        let value = out.get(start..).unwrap_or_default();
        let trimmed = trim(value);
        let lead = if trimmed.len() == value.len() {
            0
        } else {
            value.len() - value.trim_start().len()
        };
        let (lead, keep) =
            if trimmed.len() >= 2 && trimmed.starts_with('"') && trimmed.ends_with('"') {
                (lead + 1, trimmed.len() - 2)
            } else {
                (lead, trimmed.len())
            };
        if lead != 0 || keep != value.len() {
            out.truncate(start + lead + keep);
            out.replace_range(start..start + lead, "");
        }
    }
}

/// The value of `key="value"` in `text`, if the key is there.
fn attr<'t>(text: &'t str, key: &str) -> Option<&'t str> {
    let at = text.find(key)?;
    let rest = text.get(at + key.len()..)?.strip_prefix("=\"")?;
    rest.split('"').next()
}

fn id_of(kind: IdCell, text: &str) -> Option<u32> {
    match kind {
        IdCell::Decimal => decimal_u32(text),
        IdCell::Grouped => grouped_u32(text),
        IdCell::Process => process_pid(text),
        IdCell::Attr(key) => attr(text, key).and_then(grouped_u32),
        IdCell::Any => match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
            Some(hex) => u32::from_str_radix(hex, 16).ok(),
            None => grouped_u32(text),
        },
    }
}

fn time_of(kind: &TimeCell, t: &str, decimal: u8, order: DayOrder) -> Option<When> {
    match kind {
        // A Clock-Time before 1970 is no wall-clock FILETIME (a raw QPC or cycle count).
        // One in another form (an export re-saved by a spreadsheet) is read in that form.
        TimeCell::Filetime => filetime_ns(t)
            .filter(|ns| *ns >= 0)
            .map(When::Utc)
            .or_else(|| any_form(t, order)),
        TimeCell::Relative { unit_ns } => decimal_ns(t, *unit_ns, decimal).map(When::Relative),
        TimeCell::LocalText | TimeCell::Mapped(None) => any_form(t, order),
        TimeCell::Mapped(Some(f)) => mapped(f, t),
    }
}

/// A time in any form of [`crate::timeforms`].
fn any_form(t: &str, order: DayOrder) -> Option<When> {
    crate::timeforms::parse(t, order).map(|(when, _)| when)
}

fn mapped(f: &TimeFormat, t: &str) -> Option<When> {
    match f {
        TimeFormat::Filetime => filetime_ns(t).map(When::Utc),
        TimeFormat::Unix => decimal_ns(t, 1_000_000_000, b'.').map(When::Utc),
        TimeFormat::UnixMs => decimal_ns(t, 1_000_000, b'.').map(When::Utc),
        TimeFormat::Strftime(p) => {
            if let Ok(dt) = DateTime::parse_from_str(t, p) {
                return crate::timeforms::instant(dt);
            }
            if let Ok(dt) = NaiveDateTime::parse_from_str(t, p) {
                return Some(local(dt));
            }
            NaiveTime::parse_from_str(t, p).ok().map(|tod| When::Local {
                date: None,
                two_digit_year: false,
                tod,
            })
        }
    }
}

/// The user's [`CsvMapping`](crate::CsvMapping): every named column must be in the header.
pub(crate) fn mapped_roles(header: &[String], opts: &ReadOptions) -> Option<Roles> {
    let m = opts.csv.as_ref()?;
    let time = col(header, &[m.time_col.as_str()])?;
    let find = |name: &Option<String>| -> Option<Option<usize>> {
        match name {
            Some(n) => col(header, &[n.as_str()]).map(Some),
            None => Some(None),
        }
    };
    let pid = find(&m.pid_col)?;
    let tid = find(&m.tid_col)?;
    let msg = find(&m.message_col)?;
    let message = match msg {
        Some(i) => vec![Part::Cell(i)],
        None => header
            .iter()
            .enumerate()
            .filter(|(i, _)| ![Some(time), pid, tid].contains(&Some(*i)))
            .map(|(i, name)| Part::Labeled(i, name.clone()))
            .collect(),
    };
    Some(Roles {
        time: (time, TimeCell::Mapped(m.time_format.clone())),
        pid: pid.map(|i| (i, IdCell::Any)),
        tid: tid.map(|i| (i, IdCell::Any)),
        provider: None,
        level: None,
        event_id: None,
        event: None,
        message,
    })
}

/// Which CSV dialect a header row is, trying `,` then `;` as the separator.
pub(crate) fn sniff(line: &str, opts: &ReadOptions) -> Option<(TraceFormat, u8)> {
    for sep in [b',', b';'] {
        let names = header_names(line, sep);
        if names.len() < 2 {
            continue;
        }
        for (format, roles_of) in dialects() {
            if roles_of(&names, opts).is_some() {
                return Some((format, sep));
            }
        }
    }
    None
}

/// The CSV dialects in the order they are tried; the user's mapping first.
pub(crate) fn dialects() -> [(TraceFormat, RolesOf); 5] {
    [
        (TraceFormat::MappedCsv, mapped_roles),
        (TraceFormat::TracerptCsv, crate::tracerpt::roles),
        (TraceFormat::PerfViewCsv, crate::perfview::roles),
        (TraceFormat::WinEventCsv, crate::winevent::roles),
        (TraceFormat::WpaCsv, crate::wpa::roles),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CsvMapping;

    fn reader(header: &str, roles_of: RolesOf, opts: &ReadOptions) -> CsvReader {
        let mut r = CsvReader::new(b',', roles_of, opts, None);
        let mut f = Vec::new();
        split_str(header, b',', true, &mut f);
        r.fields = f;
        assert_eq!(r.parse(header, true).err(), Some(HEADER));
        r
    }

    fn parse<'s>(r: &'s mut CsvReader, rec: &'s str) -> Parsed<'s> {
        r.parse(rec, false)
    }

    #[test]
    fn mapped_columns_and_formats() {
        let opts = ReadOptions::new(
            None,
            Some(CsvMapping {
                time_col: "ts".into(),
                pid_col: Some("Pid".into()),
                tid_col: None,
                message_col: None,
                time_format: Some(TimeFormat::UnixMs),
            }),
        );
        let mut r = reader("ts,pid,what,extra", mapped_roles, &opts);
        let row = parse(&mut r, "1700000000123.5,0x10,\"a, b\",").expect("row");
        assert_eq!(row.when, When::Utc(1_700_000_000_123_500_000));
        assert_eq!((row.pid, row.tid), (Some(16), None));
        assert_eq!(row.message, "what=a, b");
        assert_eq!(parse(&mut r, "x,1,m,").err(), Some(BAD_TIME_FORMAT));
        assert_eq!(r.bad_time(), Some(("x".into(), "unix-ms".into())));
        assert_eq!(parse(&mut r, "1,zz,m,").err(), Some(BAD_ID));
        // a header without the mapped column is not this dialect
        assert!(mapped_roles(&header_names("time,pid", b','), &opts).is_none());
    }

    #[test]
    fn strftime_and_iso() {
        let f = TimeFormat::Strftime("%d/%m/%Y %H:%M:%S%.f".into());
        assert!(matches!(
            mapped(&f, "13/01/2024 23:31:07.097"),
            Some(When::Local { date: Some(_), .. })
        ));
        let f = TimeFormat::Strftime("%H:%M:%S".into());
        assert!(matches!(
            mapped(&f, "23:31:07"),
            Some(When::Local { date: None, .. })
        ));
        let f = TimeFormat::Strftime("%Y-%m-%d %H:%M:%S %z".into());
        assert_eq!(
            mapped(&f, "1970-01-01 01:00:00 +0100"),
            Some(When::Zoned {
                ns: 0,
                offset_s: 3600
            })
        );
        let iso = |t| any_form(t, DayOrder::MonthFirst);
        assert_eq!(
            iso("1970-01-01T00:00:01Z"),
            Some(When::Zoned {
                ns: 1_000_000_000,
                offset_s: 0
            })
        );
        assert!(matches!(
            iso("2024-01-13 23:31:07"),
            Some(When::Local { .. })
        ));
        assert_eq!(iso("13.01.2024"), None);
    }
}
