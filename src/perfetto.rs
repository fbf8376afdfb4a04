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

/// One timeline row as a trace event.
pub fn event(out: &mut dyn Write, e: &Event<'_>, first: &mut bool) -> io::Result<()> {
    sep(out, first)?;
    let (pid, tid) = (e.pid.unwrap_or(0), e.tid.unwrap_or(0));
    let opt = |v: Option<u32>| v.map_or("null".to_string(), |v| v.to_string());
    match (e.kind, e.until) {
        ("wait-start", Some(end)) => write!(
            out,
            "{{\"ph\":\"X\",\"cat\":\"wait\",\"name\":{},\"pid\":{pid},\"tid\":{tid},\"ts\":{},\"dur\":{},\"args\":{{\"source\":{},\"chain\":{}}}}}",
            text(&format!("wait: {}", e.message)),
            micros(e.time),
            // A wait said to start after the dump (an inconsistent dump) gets no length.
            micros(end.saturating_sub(e.time).max(0)),
            text(e.source),
            opt(e.chain)
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
            "{{\"ph\":\"i\",\"s\":\"g\",\"cat\":{},\"name\":{},\"pid\":{pid},\"tid\":{tid},\"ts\":{},\"args\":{{\"message\":{},\"source\":{},\"chain\":{},\"finding\":{}}}}}",
            text(kind),
            text(&e.message.chars().take(NAME_CHARS).collect::<String>()),
            micros(e.time),
            text(e.message),
            text(e.source),
            opt(e.chain),
            opt(e.finding)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::micros;

    #[test]
    fn microseconds_keep_nanoseconds() {
        assert_eq!(micros(1_255_097_294_806_750_123), "1255097294806750.123");
        assert_eq!(micros(999), "0.999");
        assert_eq!(micros(-1_500), "-1.500");
    }
}
