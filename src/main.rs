//! `dumptrace`: explain a Windows hang by joining a memory dump's wait chains
//! with the ETW trace recorded before it.

mod export;
mod inputs;
mod perfetto;
mod render;
mod tracesum;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

use inputs::ClockArgs;

#[derive(Parser)]
#[command(name = "dumptrace", version, about, long_about = None, after_help = AFTER_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The end of `--help`: standard input and the exit status (also in README.md, "Using it").
const AFTER_HELP: &str = "\
A PATH of `-` reads standard input (its kind is detected from its content, as for a file;
reports name it <stdin>).

Exit status:
  0  done; for `analyze`, at least one wait chain or finding was reported
  1  `analyze` read its inputs but found no wait chain and no finding
  2  nothing usable was read (every input unreadable or unrecognised), or the output
     could not be written; usage errors (unknown flag, missing argument) exit 2 too,
     from the argument parser
A closed pipe (`dumptrace analyze ... | head -1`) is not an error: exit 0, nothing on stderr.

Colour: the `analyze` report is coloured at a terminal only; NO_COLOR turns it off.";

/// Exit status 1: `analyze` read its inputs and found nothing to report.
const NOTHING_FOUND: u8 = 1;

#[derive(Subcommand)]
enum Command {
    /// Join dump and trace: wait chains, ranked findings, trace around each root.
    Analyze(AnalyzeArgs),
    /// Summarise the dump-side inputs: processes, thread states, longest waits, locks.
    Dump(DumpArgs),
    /// Summarise trace inputs: span, providers, threads, message templates, recurring errors.
    Trace(TraceArgs),
    /// Browse the analysis in the terminal.
    Tui(TuiArgs),
    /// Write the correlated timeline (trace events and dump events) to a file.
    Export(ExportArgs),
    /// Print a shell completion script (e.g. `dumptrace completions bash > /etc/bash_completion.d/dumptrace`).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// The inputs of an analysis and how to put their clocks together.
#[derive(clap::Args)]
struct InputArgs {
    /// Input files, or case folders (every file in them), or `-` for standard input; kinds are detected from content.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Seconds added to trace times to put them on the dump's clock.
    #[arg(
        long,
        value_name = "SECONDS",
        allow_hyphen_values = true,
        help_heading = "Clocks"
    )]
    offset: Option<f64>,
    #[command(flatten)]
    clock: ClockArgs,
}

#[derive(clap::Args)]
struct AnalyzeArgs {
    #[command(flatten)]
    input: InputArgs,
    /// Print one JSON document (schema in docs/json.md) instead of the report.
    #[arg(long)]
    json: bool,
}

/// The browser takes the inputs only: for the analysis as JSON, `analyze --json`.
#[derive(clap::Args)]
struct TuiArgs {
    #[command(flatten)]
    input: InputArgs,
}

#[derive(clap::Args)]
struct DumpArgs {
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Print the snapshot as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct TraceArgs {
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    clock: ClockArgs,
}

#[derive(Clone, Copy, ValueEnum)]
enum ExportFormat {
    Csv,
    Jsonl,
    Parquet,
    Perfetto,
}

#[derive(clap::Args)]
struct ExportArgs {
    #[command(flatten)]
    input: InputArgs,
    #[arg(long, value_enum)]
    format: ExportFormat,
    /// Output file, or `-` for standard output.
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
    /// Replace an existing output file.
    #[arg(long)]
    force: bool,
    /// Only rows at or after this UTC time (RFC 3339, or `2009-10-09 18:08:14` taken as UTC).
    #[arg(long, value_name = "TIME", value_parser = export::parse_utc, help_heading = "Filters")]
    from: Option<chrono::DateTime<chrono::Utc>>,
    /// Only rows at or before this UTC time.
    #[arg(long, value_name = "TIME", value_parser = export::parse_utc, help_heading = "Filters")]
    to: Option<chrono::DateTime<chrono::Utc>>,
    /// Only rows of these process ids, in hex as WinDbg prints them (`0adc` or
    /// `0x0adc`); decimal with WinDbg's `0n` prefix (`0n2780`). Repeat or separate
    /// with commas.
    #[arg(
        long,
        value_name = "PID",
        value_delimiter = ',',
        value_parser = export::parse_id,
        help_heading = "Filters"
    )]
    pid: Vec<u32>,
    /// Only rows of these thread ids, written as for `--pid` (`1c64`, `0x1c64`, `0n7268`).
    #[arg(
        long,
        value_name = "TID",
        value_delimiter = ',',
        value_parser = export::parse_id,
        help_heading = "Filters"
    )]
    tid: Vec<u32>,
    /// Only rows of threads in these wait chains (ids as `analyze` numbers them).
    #[arg(
        long,
        value_name = "ID",
        value_delimiter = ',',
        help_heading = "Filters"
    )]
    chain: Vec<u32>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            render::warn(format_args!("{e:#}"));
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Correlation options from the command line and what the loader learned.
fn options(input: &InputArgs, loaded: &inputs::Loaded) -> dumptrace_correlate::Options {
    dumptrace_correlate::Options {
        offset_seconds: input.offset,
        trace_time_note: loaded.trace_time_note.clone(),
        context_seconds: None,
    }
}

/// Notes about the inputs as a whole that the analysis carries.
fn input_notes(loaded: &inputs::Loaded) -> Vec<String> {
    if loaded.has_dump {
        Vec::new()
    } else {
        vec!["no dump input: there are no threads or wait chains to correlate".into()]
    }
}

fn analysis(input: &InputArgs) -> Result<dumptrace_correlate::Analysis> {
    let loaded = inputs::load(&input.paths, &input.clock)?;
    let opts = options(input, &loaded);
    let mut a = dumptrace_correlate::analyze(&loaded.snapshot, &loaded.traces, &opts);
    a.notes.extend(input_notes(&loaded));
    a.inputs = loaded.inputs;
    Ok(a)
}

fn run(cli: Cli) -> Result<ExitCode> {
    if let Command::Tui(args) = &cli.command {
        let loaded = inputs::load(&args.input.paths, &args.input.clock)?;
        dumptrace_tui::run(dumptrace_tui::Inputs {
            options: options(&args.input, &loaded),
            notes: input_notes(&loaded),
            snapshot: loaded.snapshot,
            traces: loaded.traces,
            inputs: loaded.inputs,
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    // Standard output is line-buffered: without a buffer of our own, `dump --json` of a
    // large log makes one write per line of JSON.
    let stdout = std::io::stdout();
    // JSON is indented for a person at a terminal and compact for a pipe or file: the
    // snapshot of a 1 GB log is half the size without the indentation.
    let pretty = stdout.is_terminal();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut code = ExitCode::SUCCESS;
    match cli.command {
        Command::Analyze(args) => {
            let a = analysis(&args.input)?;
            if a.chains.is_empty() && a.findings.is_empty() {
                code = ExitCode::from(NOTHING_FOUND);
            }
            if args.json {
                write_json(&mut out, &a, pretty)?;
            } else {
                let color = render::color_wanted(pretty, std::env::var_os("NO_COLOR").as_deref());
                render::analysis(&mut render::Escaping::new(&mut out).with_color(color), &a)?;
            }
        }
        Command::Completions { shell } => {
            // Generated into memory first: the generator panics on a write error, and a
            // closed pipe must stay quiet.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "dumptrace", &mut script);
            out.write_all(&script)?;
        }
        Command::Dump(args) => {
            let mut loaded = inputs::load(&args.paths, &ClockArgs::default())?;
            if args.json && !pretty {
                dumptrace_dump::write_json(&mut loaded.snapshot, &mut out)?;
                writeln!(out)?;
            } else if args.json {
                write_json(&mut out, &loaded.snapshot, pretty)?;
            } else {
                let a = dumptrace_correlate::analyze(&loaded.snapshot, &[], &Default::default());
                render::dump_summary(&mut render::Escaping::new(&mut out), &loaded, &a)?;
            }
            // The process ends next: freeing a big log's snapshot piece by piece (half a
            // million threads, millions of frames) took longer than the exit that frees it.
            std::mem::forget(loaded);
        }
        Command::Trace(args) => {
            let loaded = inputs::load(&args.paths, &args.clock)?;
            let summary = tracesum::summarize(&loaded)?;
            if args.json {
                write_json(&mut out, &summary, pretty)?;
            } else {
                tracesum::render(&mut render::Escaping::new(&mut out), &summary)?;
            }
        }
        Command::Tui(_) => {}
        Command::Export(args) => {
            let filters =
                export::Filters::new(args.from, args.to, &args.pid, &args.tid, &args.chain);
            export::export(&args, &filters, &mut out)?;
        }
    }
    out.flush()?;
    Ok(code)
}

/// One JSON document and a newline: indented when `pretty`, compact otherwise.
fn write_json(out: &mut impl Write, value: &impl serde::Serialize, pretty: bool) -> Result<()> {
    if pretty {
        serde_json::to_writer_pretty(&mut *out, value)?;
    } else {
        serde_json::to_writer(&mut *out, value)?;
    }
    writeln!(out)?;
    Ok(())
}
