//! The Chrome trace-event JSON that the Perfetto UI (ui.perfetto.dev) and chrome://tracing
//! open: `{"traceEvents":[...]}` with one object per event.
//!
//! The layout follows Google's "Trace Event Format" document: `ph` is the phase (`M`
//! metadata, `X` complete slice with `dur`, `i` instant with scope `s` of `t` thread or `g`
//! global), `ts` and `dur` are microseconds (fractions allowed, so nanoseconds survive as
//! three decimals), and `pid`/`tid` are integers that name the process and thread tracks;
//! `process_name`/`thread_name` metadata events give the tracks their names.
//!
//! dumptrace writes a process track per pid named by its image, a thread track per tid, each
//! wait as an `X` slice from its wait start to the dump time, trace events as thread instants
//! with their message in `args`, and the dump time and findings as global instants.
//!
//! A hung server's threads often wait far longer than the trace ran: in cs-periodic-error
//! 253 of 343 waits began before the trace's first event, the oldest 67 hours before it, and
//! a viewer opening on the whole file would show days in which the trace is a sliver. So the
//! dump's events are clipped to the trace window with a margin before it ([`clip_start`]):
//! a wait that began earlier starts its slice there, and its args keep the true start
//! (`wait_start`, RFC 3339, and `wait_start_ts`, microseconds) with `"clipped":true`; a
//! finding placed at such a wait start moves there too, its true `time` in args.

use std::io::{self, Write};

use dumptrace_dump::DumpSnapshot;

/// One row of the timeline, as the export hands it over.
pub struct Event<'a> {
    pub time: i64,
    /// For a wait: when it ended (the dump time).
    pub until: Option<i64>,
    pub pid: Option<u32>,
    pub tid: Option<u32>,
    pub kind: &'a str,
    pub provider: Option<&'a str>,
    pub level: Option<&'a str>,
    pub message: &'a str,
    pub source: &'a str,
    pub chain: Option<u32>,
    pub finding: Option<u32>,
}

/// The least margin kept before the first trace event.
const MIN_MARGIN_NS: i64 = 60_000_000_000;

/// Where the dump's events are clipped for a trace whose events run from `first` to
/// `last` (ns, dump clock): a tenth of the trace's length before it, at least a minute.
pub fn clip_start(first: i64, last: i64) -> i64 {
    let span = last.saturating_sub(first).max(0);
    first.saturating_sub((span / 10).max(MIN_MARGIN_NS))
}

/// RFC 3339 UTC with nanoseconds.
fn rfc3339(ns: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(ns).to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// Longest event name; the whole message is in `args`.
const NAME_CHARS: usize = 80;

fn text(s: &str) -> String {
    // serde_json escapes control characters and quotes; it cannot fail on a str.
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// Nanoseconds since the epoch as microseconds with three decimals.
fn micros(ns: i64) -> String {
    let sign = if ns < 0 { "-" } else { "" };
    let a = ns.unsigned_abs();
    format!("{sign}{}.{:03}", a / 1000, a % 1000)
}

fn sep(out: &mut dyn Write, first: &mut bool) -> io::Result<()> {
    if *first {
        *first = false;
        out.write_all(b"\n")
    } else {
        out.write_all(b",\n")
    }
}

/// Track names: each process by its image and pid, each thread of the dump by its tid.
pub fn names(out: &mut dyn Write, snapshot: &DumpSnapshot, first: &mut bool) -> io::Result<()> {
    let processes = snapshot
        .processes
        .iter()
        .map(|p| ("process_name", p.pid, 0, format!("{} ({})", p.image, p.pid)));
    let threads = snapshot.threads.iter().map(|t| {
        let name = format!("{:x}.{:x} {}", t.pid, t.tid, t.state.name());
        ("thread_name", t.pid, t.tid, name)
    });
    for (what, pid, tid, name) in processes.chain(threads) {
        sep(out, first)?;
        write!(
            out,
            "{{\"ph\":\"M\",\"name\":\"{what}\",\"pid\":{pid},\"tid\":{tid},\"args\":{{\"name\":{}}}}}",
            text(&name)
        )?;
    }
    Ok(())
}

/// One timeline row as a trace event; the dump's events start no earlier than `clip`
/// (see the module docs).
pub fn event(
    out: &mut dyn Write,
    e: &Event<'_>,
    first: &mut bool,
    clip: Option<i64>,
) -> io::Result<()> {
    sep(out, first)?;
    let (pid, tid) = (e.pid.unwrap_or(0), e.tid.unwrap_or(0));
    let opt = |v: Option<u32>| v.map_or("null".to_string(), |v| v.to_string());
    let at = match clip {
        Some(c) if e.kind != "trace" => e.time.max(c),
        _ => e.time,
    };
    match (e.kind, e.until) {
        ("wait-start", Some(end)) => write!(
            out,
            "{{\"ph\":\"X\",\"cat\":\"wait\",\"name\":{},\"pid\":{pid},\"tid\":{tid},\"ts\":{},\"dur\":{},\"args\":{{\"source\":{},\"chain\":{},\"wait_start\":{},\"wait_start_ts\":{},\"clipped\":{}}}}}",
            text(&format!("wait: {}", e.message)),
            micros(at),
            // A wait said to start after the dump (an inconsistent dump) gets no length.
            micros(end.saturating_sub(at).max(0)),
            text(e.source),
            opt(e.chain),
            text(&rfc3339(e.time)),
            micros(e.time),
            at != e.time
        ),
        ("trace", _) => {
            let name: String = e.message.chars().take(NAME_CHARS).collect();
            write!(
                out,
                "{{\"ph\":\"i\",\"s\":\"t\",\"cat\":{},\"name\":{},\"pid\":{pid},\"tid\":{tid},\"ts\":{},\"args\":{{\"message\":{},\"level\":{},\"source\":{},\"chain\":{},\"finding\":{}}}}}",
                text(e.provider.unwrap_or("trace")),
                text(&name),
                micros(e.time),
                text(e.message),
                e.level.map_or("null".into(), text),
                text(e.source),
                opt(e.chain),
                opt(e.finding)
            )
        }
        // The dump time, findings, and a wait with no known end: global instants.
        (kind, _) => write!(
            out,
            "{{\"ph\":\"i\",\"s\":\"g\",\"cat\":{},\"name\":{},\"pid\":{pid},\"tid\":{tid},\"ts\":{},\"args\":{{\"message\":{},\"source\":{},\"chain\":{},\"finding\":{},\"time\":{},\"clipped\":{}}}}}",
            text(kind),
            text(&e.message.chars().take(NAME_CHARS).collect::<String>()),
            micros(at),
            text(e.message),
            text(e.source),
            opt(e.chain),
            opt(e.finding),
            text(&rfc3339(e.time)),
            at != e.time
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::{clip_start, micros};

    #[test]
    fn clipping_keeps_a_tenth_of_the_trace_and_at_least_a_minute() {
        let s = 1_000_000_000i64;
        // A 351 s trace: the minute.
        assert_eq!(clip_start(1000 * s, 1351 * s), 940 * s);
        // A 2 h trace: 12 minutes.
        assert_eq!(clip_start(10_000 * s, 17_200 * s), 9280 * s);
        // One event, or times out of order: the minute.
        assert_eq!(clip_start(1000 * s, 900 * s), 940 * s);
        assert_eq!(clip_start(i64::MIN, i64::MAX), i64::MIN);
    }

    #[test]
    fn microseconds_keep_nanoseconds() {
        assert_eq!(micros(1_255_097_294_806_750_123), "1255097294806750.123");
        assert_eq!(micros(999), "0.999");
        assert_eq!(micros(-1_500), "-1.500");
    }
}
