//! Integration tests: the `dumptrace` binary run as a real process on the
//! fixtures, checked against counts taken from the raw inputs and against the
//! conclusions of the seed case studies.

mod cli {
    /// Clock alignment between dump and trace on cases with a known offset.
    mod alignment;
    /// `analyze` on the critical-section / periodic-error case.
    mod analyze_cs_periodic;
    /// Input detection, bad and unrecognised inputs, exit codes.
    mod inputs;
    /// The WinDbg excerpts of the seed case studies.
    mod seeds;
    /// `dump`, `trace` and `export` subcommands.
    mod subcommands;
    /// Shared helpers: running the binary, reading fixtures.
    pub mod util;
}
