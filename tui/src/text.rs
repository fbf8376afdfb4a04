//! Text shown on screen: escaping what inputs say, formatting times and ids,
//! the filter language shared by the threads table and the timeline, and the
//! colours (none when `NO_COLOR` is set).

use chrono::{DateTime, Utc};
use ratatui::style::{Color, Modifier, Style};
use regex::{Regex, RegexBuilder};

/// Escapes control characters so input text never drives the terminal:
/// trace messages can hold ESC sequences, tabs, NULs or bare CRs.
pub(crate) use dumptrace_dump::escape_control as clean;

/// `0adc.1c64`, the way WinDbg prints a Cid (a missing id prints `?`).
pub(crate) fn cid(pid: Option<u32>, tid: Option<u32>) -> String {
    let part = |v: Option<u32>| v.map_or("?".to_string(), |v| format!("{v:04x}"));
    format!("{}.{}", part(pid), part(tid))
}

/// `14:08:14.806750` (UTC).
pub(crate) fn clock(t: DateTime<Utc>) -> String {
    t.format("%H:%M:%S%.6f").to_string()
}

/// `2009-10-09T14:08:14.806750Z`.
pub(crate) fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// A wait as people read it: `6.906 s`, `3 min 8.8 s`, `2 h 14 min`.
pub(crate) fn seconds(s: f64) -> String {
    if s < 60.0 {
        format!("{s:.3} s")
    } else if s < 3600.0 {
        format!("{} min {:.1} s", (s / 60.0) as u64, s % 60.0)
    } else {
        format!(
            "{} h {} min",
            (s / 3600.0) as u64,
            ((s % 3600.0) / 60.0) as u64
        )
    }
}

/// What `f` filters on: `p:X` process (image name contains X, or pid X in hex
/// or decimal), `t:X` thread id (hex or decimal), `s:X` state or wait reason
/// contains X; the remaining words form a case-insensitive regex over the row.
/// Every given term must match.
#[derive(Debug, Clone, Default)]
pub(crate) struct Filter {
    process: Option<Term>,
    thread: Option<Term>,
    state: Option<String>,
    text: Option<Regex>,
    /// The filter as typed, for the title bar.
    pub spec: String,
}

/// A `p:` or `t:` value: lower-cased, and the ids it can name (WinDbg prints
/// them in hex, traces mostly in decimal, so `1c64` and `7268` both work).
#[derive(Debug, Clone)]
struct Term {
    text: String,
    ids: Vec<u32>,
}

impl Term {
    fn new(v: &str) -> Term {
        let text = v.to_lowercase();
        let hex = text.trim_start_matches("0x");
        let ids = [u32::from_str_radix(hex, 16).ok(), text.parse::<u32>().ok()]
            .into_iter()
            .flatten()
            .collect();
        Term { text, ids }
    }

    fn names(&self, v: Option<u32>) -> bool {
        v.is_some_and(|v| self.ids.contains(&v))
    }
}

impl Filter {
    pub(crate) fn parse(spec: &str) -> Result<Filter, String> {
        let mut f = Filter {
            spec: spec.trim().to_string(),
            ..Default::default()
        };
        let mut words = Vec::new();
        for w in spec.split_whitespace() {
            if let Some(v) = w.strip_prefix("p:") {
                f.process = Some(Term::new(v));
            } else if let Some(v) = w.strip_prefix("t:") {
                f.thread = Some(Term::new(v));
            } else if let Some(v) = w.strip_prefix("s:") {
                f.state = Some(v.to_lowercase());
            } else {
                words.push(w);
            }
        }
        if !words.is_empty() {
            f.text = Some(regex(&words.join(" "))?);
        }
        Ok(f)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.spec.is_empty()
    }

    /// Whether the filter says anything about state (callers may skip looking it up).
    pub(crate) fn wants_state(&self) -> bool {
        self.state.is_some()
    }

    /// The terms about who: process `image`/`pid`, thread `tid`, state words.
    /// The same for every row of a thread, so callers can cache it per thread.
    pub(crate) fn matches_thread(
        &self,
        image: Option<&str>,
        pid: Option<u32>,
        tid: Option<u32>,
        state: &str,
    ) -> bool {
        if let Some(p) = &self.process {
            let by_name = image.is_some_and(|i| i.to_lowercase().contains(p.text.as_str()));
            if !by_name && !p.names(pid) {
                return false;
            }
        }
        if self.thread.as_ref().is_some_and(|t| !t.names(tid)) {
            return false;
        }
        self.state
            .as_ref()
            .is_none_or(|s| state.to_lowercase().contains(s.as_str()))
    }

    /// The text term.
    pub(crate) fn matches_text(&self, text: &str) -> bool {
        self.text.as_ref().is_none_or(|r| r.is_match(text))
    }

    /// Whether a row passes every term.
    pub(crate) fn matches(
        &self,
        image: Option<&str>,
        pid: Option<u32>,
        tid: Option<u32>,
        state: &str,
        text: &str,
    ) -> bool {
        self.matches_thread(image, pid, tid, state) && self.matches_text(text)
    }
}

/// A case-insensitive regex, with the error as a person reads it.
pub(crate) fn regex(pattern: &str) -> Result<Regex, String> {
    RegexBuilder::new(pattern)
        .case_insensitive(true)
        .size_limit(1 << 22)
        .build()
        .map_err(|e| format!("not a valid regex: {e}"))
}

/// Colours, or none at all when `NO_COLOR` is set (<https://no-color.org>).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Theme {
    pub color: bool,
}

const PALETTE: [Color; 10] = [
    Color::Cyan,
    Color::Green,
    Color::Yellow,
    Color::Magenta,
    Color::Blue,
    Color::LightRed,
    Color::LightGreen,
    Color::LightCyan,
    Color::LightMagenta,
    Color::LightYellow,
];

impl Theme {
    pub(crate) fn from_env() -> Self {
        Theme {
            color: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        }
    }

    fn fg(self, c: Color) -> Style {
        if self.color {
            Style::default().fg(c)
        } else {
            Style::default()
        }
    }

    /// One colour per thread, stable across runs.
    pub(crate) fn thread(self, pid: Option<u32>, tid: Option<u32>) -> Style {
        let h = u64::from(pid.unwrap_or(0)).wrapping_mul(0x9e37_79b9_7f4a_7c15)
            ^ u64::from(tid.unwrap_or(0)).wrapping_mul(0xc2b2_ae3d_27d4_eb4f);
        self.fg(PALETTE[(h >> 32) as usize % PALETTE.len()])
    }

    pub(crate) fn selected(self) -> Style {
        Style::default().add_modifier(Modifier::REVERSED)
    }

    pub(crate) fn marker(self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }

    pub(crate) fn warn(self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }

    pub(crate) fn heading(self) -> Style {
        Style::default().add_modifier(Modifier::BOLD)
    }

    pub(crate) fn dim(self) -> Style {
        Style::default().add_modifier(Modifier::DIM)
    }

    /// Rows of the selected thread stand out; those of its process less so.
    pub(crate) fn focus(self, thread: bool, process: bool) -> Style {
        if thread {
            Style::default().add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
        } else if process {
            Style::default().add_modifier(Modifier::BOLD)
        } else {
            Style::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(clean("a\u{1b}[31mb\tc\r"), "a\\u{1b}[31mb\\tc\\r");
        assert!(matches!(clean("plain"), std::borrow::Cow::Borrowed(_)));
    }

    #[test]
    fn filter_terms_all_apply() {
        let f = Filter::parse("p:processa s:wait temp\\s+disk").expect("parses");
        let ok = |img, pid, state, text| f.matches(Some(img), Some(pid), Some(1), state, text);
        assert!(ok(
            "ProcessA.exe",
            2780,
            "WAIT UserRequest",
            "not enough TEMP  disk"
        ));
        assert!(!ok("w3wp.exe", 3928, "WAIT UserRequest", "temp disk"));
        assert!(!ok("ProcessA.exe", 2780, "RUNNING", "temp disk"));
        assert!(!ok("ProcessA.exe", 2780, "WAIT", "no match"));
        // A pid as WinDbg prints it (hex) or as traces print it (decimal).
        let by_pid = Filter::parse("p:0adc").expect("parses");
        assert!(by_pid.matches(None, Some(2780), None, "", ""));
        assert!(Filter::parse("p:2780")
            .expect("parses")
            .matches(None, Some(2780), None, "", ""));
        assert!(!by_pid.matches(None, Some(2781), None, "", ""));
        assert!(Filter::parse("(").is_err());
    }

    #[test]
    fn waits_read_naturally() {
        assert_eq!(seconds(6.906), "6.906 s");
        assert_eq!(seconds(188.765), "3 min 8.8 s");
        assert_eq!(seconds(8040.0), "2 h 14 min");
    }
}
