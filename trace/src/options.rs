//! What a caller can tell the readers beyond the clock: the start of a trace whose times are
//! relative, and which columns of an arbitrary CSV hold the event fields.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

/// Options for [`read_path_with`](crate::read_path_with) and friends. `Default` reads the
/// known formats with no anchor for relative times.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReadOptions {
    /// Start of the trace, for exports whose times are relative to it (PerfView's
    /// `Time MSec`, WPA's `Time (s)`). Without it such times are laid out from
    /// 1970-01-01T00:00:00Z and the report says so.
    pub trace_start: Option<DateTime<Utc>>,
    /// Columns of a CSV in no known layout. Used for a CSV whose header names them all.
    pub csv: Option<CsvMapping>,
    /// Folder of WPP format (TMF) files, named `GUID.tmf`, for WPP messages in ETL input.
    pub tmf_dir: Option<std::path::PathBuf>,
    /// Instrumentation manifests for manifest-based events in ETL input (besides the CLR's,
    /// which is built in).
    pub manifests: Option<crate::Manifests>,
}

impl ReadOptions {
    /// Options with a trace start and a CSV mapping.
    pub fn new(trace_start: Option<DateTime<Utc>>, csv: Option<CsvMapping>) -> Self {
        ReadOptions {
            trace_start,
            csv,
            tmf_dir: None,
            manifests: None,
        }
    }

    /// These options with a folder of TMF files for WPP messages.
    pub fn with_tmf_dir(mut self, tmf_dir: Option<std::path::PathBuf>) -> Self {
        self.tmf_dir = tmf_dir;
        self
    }

    /// These options with manifests for manifest-based ETW events.
    pub fn with_manifests(mut self, manifests: Option<crate::Manifests>) -> Self {
        self.manifests = manifests;
        self
    }
}

/// Which header names of a CSV hold the event's time, process, thread and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvMapping {
    /// Header of the time column (required).
    pub time_col: String,
    pub pid_col: Option<String>,
    pub tid_col: Option<String>,
    /// Header of the message column; without it the message is every other column as
    /// `Name=value`.
    pub message_col: Option<String>,
    /// How the time cells are written; None = ISO 8601 / RFC 3339 (a time without a zone is
    /// local and takes the caller's offset).
    pub time_format: Option<TimeFormat>,
}

/// How a mapped CSV writes its times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeFormat {
    /// A chrono `strftime` pattern, e.g. `%d/%m/%Y %H:%M:%S%.f`. With `%z`/`%:z` it gives
    /// instants; without a zone, local times (the caller's offset); with no date part, times
    /// of day (the caller's date).
    Strftime(String),
    /// FILETIME: 100 ns units since 1601-01-01 UTC (integer or as tracerpt's doubles).
    Filetime,
    /// Unix seconds, fraction allowed.
    Unix,
    /// Unix milliseconds, fraction allowed.
    UnixMs,
}

impl FromStr for TimeFormat {
    type Err = String;

    /// `filetime`, `unix`, `unix-ms`, or a strftime pattern (it must contain `%`).
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "filetime" => Ok(TimeFormat::Filetime),
            "unix" => Ok(TimeFormat::Unix),
            "unix-ms" => Ok(TimeFormat::UnixMs),
            p if p.contains('%') => {
                // Reject patterns chrono cannot even tokenise now, not at the first row.
                let bad = chrono::format::StrftimeItems::new(p)
                    .any(|i| matches!(i, chrono::format::Item::Error));
                if bad {
                    Err(format!("'{s}': not a valid strftime pattern"))
                } else {
                    Ok(TimeFormat::Strftime(p.to_owned()))
                }
            }
            _ => Err(format!(
                "'{s}': expected filetime, unix, unix-ms or a strftime pattern such as '%Y-%m-%d %H:%M:%S%.f'"
            )),
        }
    }
}

impl fmt::Display for TimeFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimeFormat::Strftime(p) => f.write_str(p),
            TimeFormat::Filetime => f.write_str("filetime"),
            TimeFormat::Unix => f.write_str("unix"),
            TimeFormat::UnixMs => f.write_str("unix-ms"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_format_names() {
        assert_eq!("unix-ms".parse(), Ok(TimeFormat::UnixMs));
        assert_eq!(
            "%d.%m.%Y %H:%M:%S".parse(),
            Ok(TimeFormat::Strftime("%d.%m.%Y %H:%M:%S".into()))
        );
        assert!("%Q".parse::<TimeFormat>().is_err());
        assert!("seconds".parse::<TimeFormat>().is_err());
        assert_eq!(TimeFormat::Filetime.to_string(), "filetime");
    }
}
