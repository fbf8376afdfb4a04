//! The Unix conventions: a closed pipe is quiet, `-` reads standard input, shell
//! completions, documented exit codes, colour only at a terminal.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use super::util::{fixture, root, run, stderr, stdout};

const CASE: &str = "fixtures/cases/cs-periodic-error";

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dumptrace"));
    c.current_dir(root());
    c
}

#[test]
fn closed_pipe_after_one_line_is_quiet_with_exit_0() {
    let mut child = bin()
        .args(["analyze", CASE])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut first = String::new();
    {
        let out = child.stdout.take().expect("stdout");
        BufReader::new(out).read_line(&mut first).expect("a line");
        // The reader is dropped here: the pipe is closed, as `| head -1` does.
    }
    let o = child.wait_with_output().expect("wait");
    assert_eq!(first, "Inputs\n");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stderr(&o), "");

    // A pipe closed before anything is read, with more output than a pipe holds
    // (760 KB of JSON): the write itself fails, and that is still no error.
    let mut child = bin()
        .args(["dump", "--json", &format!("{CASE}/memory.log")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take());
    let o = child.wait_with_output().expect("wait");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stderr(&o), "");
}

/// Runs dumptrace with `input` on standard input.
fn with_stdin(args: &[&str], input: &[u8]) -> std::process::Output {
    let mut child = bin()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut w = child.stdin.take().expect("stdin");
    let input = input.to_vec();
    // Written from a thread: the child may fill its stdout before it has read all.
    let feeder = std::thread::spawn(move || {
        let _ = w.write_all(&input);
    });
    let o = child.wait_with_output().expect("wait");
    feeder.join().expect("feeder");
    o
}

#[test]
fn dash_reads_standard_input_detected_by_content() {
    // A dump on stdin, with a trace file beside it: the same findings as from files.
    let log = std::fs::read(fixture("cases/cs-periodic-error/memory.log")).expect("log");
    let trace = format!("{CASE}/trace.txt");
    let o = with_stdin(&["analyze", "--json", "-", &trace], &log);
    assert!(o.status.success(), "{}", stderr(&o));
    let a: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let b = super::util::json(&["analyze", "--json", CASE]);
    assert_eq!(a["findings"][0]["summary"], b["findings"][0]["summary"]);
    assert_eq!(a["inputs"][0]["path"], "<stdin>");
    assert_eq!(a["inputs"][0]["kind"], "dump");

    // A trace on stdin.
    let text = std::fs::read(fixture("cases/cs-periodic-error/trace.txt")).expect("trace");
    let o = with_stdin(&["trace", "--trace-date", "2009-10-09", "-"], &text);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("<stdin>"), "{}", stdout(&o));

    // Something else on stdin is named as <stdin>.
    let o = with_stdin(&["analyze", "-"], b"hello\nnot a log\n");
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("<stdin>: not a dump or trace"),
        "{}",
        stderr(&o)
    );
}

/// The subcommands `--help` lists.
fn subcommands() -> Vec<String> {
    let help = stdout(&run(&["--help"]));
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_string)
        .collect()
}

#[test]
fn bash_completions_name_every_subcommand() {
    let cmds = subcommands();
    assert!(cmds.len() >= 6, "{cmds:?}");
    let o = run(&["completions", "bash"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let script = stdout(&o);
    assert!(script.contains("complete -F _dumptrace"), "{script}");
    for c in &cmds {
        assert!(script.contains(&format!("dumptrace,{c})")), "{c} missing");
    }
    for shell in ["zsh", "fish", "powershell", "elvish"] {
        let o = run(&["completions", shell]);
        assert!(o.status.success(), "{shell}: {}", stderr(&o));
        assert!(stdout(&o).contains("analyze"), "{shell}");
    }
}

#[test]
fn exit_codes_are_documented_and_kept() {
    let help = stdout(&run(&["--help"]));
    assert!(help.contains("Exit status:"), "{help}");
    for line in [
        "  0  done",
        "  1  `analyze` read its inputs",
        "  2  nothing usable",
    ] {
        assert!(help.contains(line), "{line:?} missing from\n{help}");
    }
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README");
    assert!(readme.contains("| `1` |"), "README documents exit 1");
    // A readable trace and no dump: nothing to report, exit 1.
    let o = run(&[
        "analyze",
        "--trace-date",
        "2009-10-09",
        &format!("{CASE}/trace.txt"),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stdout(&o).contains("Findings"));
    // A chain found: 0. A usage error: clap's 2.
    assert_eq!(run(&["analyze", CASE]).status.code(), Some(0));
    assert_eq!(
        run(&["analyze", "--no-such-flag", CASE]).status.code(),
        Some(2)
    );
}

#[test]
fn colour_at_a_terminal_only_and_never_with_no_color() {
    let piped = run(&["analyze", CASE]);
    assert!(!stdout(&piped).contains('\x1b'));
    // `script` gives the report a terminal.
    if Command::new("script").arg("--version").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "script is missing");
        eprintln!("skipped: util-linux script is not installed");
        return;
    }
    let at_tty = |no_color: Option<&str>, json: bool| {
        let cmd = format!(
            "'{}' analyze {}{CASE}",
            env!("CARGO_BIN_EXE_dumptrace"),
            if json { "--json " } else { "" }
        );
        let mut c = Command::new("script");
        c.args(["-qec", &cmd, "/dev/null"]).current_dir(root());
        c.env_remove("NO_COLOR");
        if let Some(v) = no_color {
            c.env("NO_COLOR", v);
        }
        stdout(&c.output().expect("script runs"))
    };
    let coloured = at_tty(None, false);
    assert!(
        coloured.contains("\x1b[1;31m[periodic-error 0.95]\x1b[0m"),
        "{coloured}"
    );
    assert!(coloured.contains("\x1b[36mChain 1\x1b[0m"), "{coloured}");
    assert!(!at_tty(Some("1"), false).contains('\x1b'));
    assert!(!at_tty(None, true).contains('\x1b'));
}
