//! ETL events into the crate's one frame builder ([`crate::schema`]'s columns): the provider
//! named, the raw timestamp as `time_raw`, and the record's byte offset as `input_offset`.

use std::collections::HashMap;
use std::hash::BuildHasher;

use polars::prelude::{DataFrame, PolarsResult};

use super::bytes::Guid;
use super::event::{known_provider, Provider};
use super::Event;
use crate::read::{Row, When};
use crate::schema::Columns;

/// Provider name of SYSTEM, COMPACT and PERFINFO records (PerfView's name for them).
pub(crate) const KERNEL: &str = "Windows Kernel";

pub(crate) struct EtlColumns {
    columns: Columns,
    /// Names of GUID-only providers, formatted once.
    guid_names: rustc_hash::FxHashMap<Guid, String>,
    time_raw: String,
}

/// The `provider` column's text: the name the record carries, a well-known name, or the GUID.
pub(crate) fn provider_name<'a, S: BuildHasher>(
    p: Provider<'a>,
    cache: &'a mut HashMap<Guid, String, S>,
) -> &'a str {
    match p {
        Provider::Kernel => KERNEL,
        Provider::Named(_, name) => name,
        Provider::Guid(g) => cache
            .entry(g)
            .or_insert_with(|| known_provider(&g).map_or_else(|| g.to_string(), str::to_string)),
    }
}

impl EtlColumns {
    /// Room for `rows` rows (see [`Columns::with_capacity`]).
    pub(crate) fn with_capacity(rows: usize) -> Self {
        EtlColumns {
            columns: Columns::with_capacity(rows),
            guid_names: rustc_hash::FxHashMap::default(),
            time_raw: String::new(),
        }
    }

    pub(crate) fn push(&mut self, e: &Event<'_>) {
        self.time_raw.clear();
        super::bytes::push_int(&mut self.time_raw, e.raw_ts);
        let r = &e.row;
        let mut row = Row::new(When::Utc(e.time_ns), &self.time_raw, e.message);
        row.pid = r.pid;
        row.tid = r.tid;
        row.provider = Some(provider_name(r.provider, &mut self.guid_names));
        row.level = r.level;
        row.event_id = r.event_id;
        row.event = r.event;
        row.source = r.source.map(std::borrow::Cow::Borrowed);
        row.line = r.line;
        self.columns.push_at(e.time_ns, &row, None, Some(e.offset));
    }

    pub(crate) fn finish(self) -> PolarsResult<DataFrame> {
        self.columns.into_frame()
    }
}
