//! Integration tests: the `dumptrace` binary run as a real process on the
//! fixtures, checked against counts taken from the raw inputs and against the
//! conclusions of the seed case studies.

mod cli {
    /// Clock alignment between dump and trace on cases with a known offset.
    mod alignment;
    /// `analyze` on the critical-section / periodic-error case.
    mod analyze_cs_periodic;
    /// `export` in every format, filters, merging, safe writing.
    mod export;
    /// Input detection, bad and unrecognised inputs, exit codes.
    mod inputs;
    /// Today's debugger output: x64 user-mode and kernel deadlocks, KMUTANT waits, MEX tables.
    mod modern_cases;
    /// The report: snapshots, the ranking rule, counts, placeholders, the chain tree.
    mod report;
    /// Hostile and broken inputs: no panic, nothing lost uncounted, escaped output, bounded memory.
    mod robustness;
    /// A critical-section hang with a kernel trace of context switches: the clock
    /// offset from switch-outs, the root's last run, waiters' readyings, a starved thread.
    mod sched_case;
    /// One case per seed study with a wait chain: the expert's conclusions.
    mod seed_cases;
    /// The WinDbg excerpts of the seed case studies.
    mod seeds;
    /// `dump` and `trace` subcommands.
    mod subcommands;
    /// `trace` on every trace export format, the CSV mapping flags, `--trace-start`.
    mod trace_formats;
    /// `tui` in a real terminal (tmux): the walk to the chain root, quitting.
    mod tui;
    /// Unix conventions: closed pipes, `-` for stdin, completions, exit codes, colour.
    mod unix;
    /// The user-mode case: `~` threads, `!locks`, `!handle` mutant owners, WOW64 stacks.
    mod user_mode;
    /// Shared helpers: running the binary, reading fixtures.
    pub mod util;
}
