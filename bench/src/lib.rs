//! Shared pieces of the benchmark binaries in `src/bin/`: a seeded random
//! generator (so every input is reproducible from its seed), and measurement of
//! wall time, throughput and peak memory.
//!
//! Each `gen-*` binary writes a large input; each `bench-*` binary reads one
//! and prints a line of figures:
//!
//! ```text
//! bench-windbg  input=1073741824 B  wall=2.41 s  1.000 GiB  424.8 MB/s  peak_rss=1.12 GiB
//! ```

use std::time::{Duration, Instant};

pub mod incident;

/// xorshift64*: small, fast and deterministic across platforms.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `lo..hi` (hi exclusive); `lo` when the range is empty.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        lo + self.next_u64() % (hi - lo)
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.range(0, items.len() as u64) as usize]
    }
}

/// Prints `usage: TEXT` and exits with status 2: what every bench binary does when its
/// arguments are missing or do not parse.
pub fn usage(text: &str) -> ! {
    eprintln!("usage: {text}");
    std::process::exit(2);
}

/// The number after `name` in `args` (`--events 10000000`), or `default`.
pub fn arg(args: &[String], name: &str, default: u64) -> u64 {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A size like `200M`, `2G`, `512K` or a plain byte count (powers of 1024).
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mult) = match s.chars().last()? {
        'K' | 'k' => (&s[..s.len() - 1], 1u64 << 10),
        'M' | 'm' => (&s[..s.len() - 1], 1 << 20),
        'G' | 'g' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<u64>().ok()?.checked_mul(mult)
}

/// Appends one Tracefmt line with the default prefix (formats.md §5):
/// `[CPU]PID.TID::MM/DD/YYYY-HH:MM:SS.mmm [Provider]message`, PID and TID in hex. `ms` counts
/// from midnight of `start`; a trace running past midnight goes on with the next date, as
/// Tracefmt prints it.
#[allow(clippy::too_many_arguments)]
pub fn tracefmt_line(
    line: &mut String,
    cpu: u64,
    pid: u64,
    tid: u64,
    start: chrono::NaiveDate,
    ms: u64,
    provider: &str,
    message: &str,
) {
    use chrono::Datelike;
    use std::fmt::Write as _;
    let date = start
        .checked_add_days(chrono::Days::new(ms / 86_400_000))
        .unwrap_or(start);
    let (h, m, s, f) = (
        ms / 3_600_000 % 24,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000,
    );
    let _ = writeln!(
        line,
        "[{cpu}]{pid:04X}.{tid:04X}::{:02}/{:02}/{}-{h:02}:{m:02}:{s:02}.{f:03} [{provider}]{message}",
        date.month(),
        date.day(),
        date.year()
    );
}

/// Peak resident set size of the largest finished child process, in bytes
/// (`getrusage(RUSAGE_CHILDREN)`: Linux reports `ru_maxrss` in KiB).
pub fn children_peak_rss_bytes() -> Option<u64> {
    // SAFETY: getrusage only writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    (rc == 0).then(|| u64::try_from(usage.ru_maxrss).unwrap_or(0) * 1024)
}

/// A size line of `/proc/self/status`, in bytes.
fn status_bytes(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Peak resident set size of this process so far (Linux `VmHWM`), in bytes.
pub fn peak_rss_bytes() -> Option<u64> {
    status_bytes("VmHWM:")
}

/// Resident set size of this process now (Linux `VmRSS`), in bytes.
pub fn rss_bytes() -> Option<u64> {
    status_bytes("VmRSS:")
}

/// One measured run.
pub struct Figures {
    pub name: String,
    pub input_bytes: u64,
    pub wall: Duration,
    pub records: u64,
}

impl Figures {
    pub fn mb_per_s(&self) -> f64 {
        self.input_bytes as f64 / 1e6 / self.wall.as_secs_f64().max(1e-9)
    }

    /// The line every bench binary prints (and BENCHMARKS.md tables are made from).
    pub fn line(&self) -> String {
        let peak = peak_rss_bytes().unwrap_or(0);
        format!(
            "{}  input={} B  wall={:.3} s  records={}  {:.1} MB/s  {:.0} records/s  peak_rss={} B ({:.2}x input)",
            self.name,
            self.input_bytes,
            self.wall.as_secs_f64(),
            self.records,
            self.mb_per_s(),
            self.records as f64 / self.wall.as_secs_f64().max(1e-9),
            peak,
            peak as f64 / self.input_bytes.max(1) as f64
        )
    }
}

/// Times `f`, which returns how many records it read.
pub fn measure(name: &str, input_bytes: u64, f: impl FnOnce() -> u64) -> Figures {
    let start = Instant::now();
    let records = f();
    Figures {
        name: name.to_string(),
        input_bytes,
        wall: start.elapsed(),
        records,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("200M"), Some(200 << 20));
        assert_eq!(parse_size("2G"), Some(2 << 30));
        assert_eq!(parse_size("17"), Some(17));
        assert_eq!(parse_size("x"), None);
    }

    #[test]
    fn rng_is_deterministic_and_in_range() {
        let a: Vec<u64> = (0..5)
            .scan(Rng::new(7), |r, _| Some(r.range(10, 20)))
            .collect();
        let b: Vec<u64> = (0..5)
            .scan(Rng::new(7), |r, _| Some(r.range(10, 20)))
            .collect();
        assert_eq!(a, b);
        assert!(a.iter().all(|v| (10..20).contains(v)));
        assert_ne!(Rng::new(7).next_u64(), Rng::new(8).next_u64());
    }
}
