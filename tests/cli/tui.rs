//! `dumptrace tui` in a real terminal: tmux runs it at 80x24, keys go in with
//! `send-keys` and the screen comes back with `capture-pane`. The walk an
//! engineer makes: open the case, go to the wait chain, Enter on its root (its
//! thread), Enter again (its wait in the timeline), and read the periodic error
//! just before the root's wait began. Quitting (q or Ctrl-C) and SIGTERM or
//! SIGHUP must give the shell back a cooked terminal, off the alternate screen,
//! mouse tracking off.

use std::process::Command;
use std::time::{Duration, Instant};

use super::util::root;

const CASE: &str = "fixtures/cases/cs-periodic-error";

/// One tmux server of our own (its own socket), killed on drop.
struct Tmux {
    socket: String,
    /// Where the browser's pid is written.
    pid_file: std::path::PathBuf,
}

impl Tmux {
    /// Starts `dumptrace tui CASE` in an 80x24 pane; None when tmux is missing
    /// outside CI (.ci/run installs it; there a missing tmux fails the test).
    fn start(name: &str) -> Option<Tmux> {
        if Command::new("tmux").arg("-V").output().is_err() {
            assert!(
                std::env::var_os("CI").is_none(),
                "tmux is missing: .ci/run installs it"
            );
            eprintln!("skipped: tmux is not installed");
            return None;
        }
        let id = format!("dumptrace-test-{}-{name}", std::process::id());
        let t = Tmux {
            pid_file: std::env::temp_dir().join(format!("{id}.pid")),
            socket: id,
        };
        let _ = std::fs::remove_file(&t.pid_file);
        // The browser writes its pid first (`exec` keeps the shell's), for the signal
        // tests. After it exits, the pane prints its exit code and whether the
        // terminal is back in canonical (cooked) mode, then stays for capture.
        let script = format!(
            "sh -c 'echo $$ > \"$0\"; exec \"$1\" tui {CASE}' '{}' '{}'; echo EXIT=$?; stty -a | tr ' ;' '\\n\\n' | grep -x -e icanon -e -icanon | sed 's/^/MODE=/'; sleep 60",
            t.pid_file.display(),
            env!("CARGO_BIN_EXE_dumptrace")
        );
        let ok = t
            .cmd(&[
                "new-session",
                "-d",
                "-s",
                "main",
                "-x",
                "80",
                "-y",
                "24",
                &script,
            ])
            .status
            .success();
        assert!(ok, "tmux new-session failed");
        Some(t)
    }

    fn cmd(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .current_dir(root())
            .env("TERM", "xterm-256color")
            .output()
            .expect("tmux runs")
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "main"];
        args.extend(keys);
        assert!(self.cmd(&args).status.success(), "send-keys {keys:?}");
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.cmd(&["capture-pane", "-p", "-t", "main"]).stdout)
            .into_owned()
    }

    /// Waits (up to 60 s: a debug build reads and correlates the case) for `text`.
    fn wait_for(&self, text: &str) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if s.contains(text) {
                return s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "'{text}' never showed; the screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Tmux {
    /// The browser exited 0 and gave the shell back its screen in cooked mode.
    fn assert_restored(&self) {
        self.assert_restored_with("EXIT=0");
    }

    /// A tmux format of the pane (`#{alternate_on}`, `#{mouse_any_flag}`).
    fn pane(&self, format: &str) -> String {
        let o = self.cmd(&["display-message", "-p", "-t", "main", format]);
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    }

    /// Sends `signal` to the running browser.
    fn kill(&self, signal: &str) {
        let pid = std::fs::read_to_string(&self.pid_file).expect("the browser wrote its pid");
        let ok = Command::new("kill")
            .args([&format!("-{signal}"), pid.trim()])
            .status()
            .expect("kill runs")
            .success();
        assert!(ok, "kill -{signal} {pid}");
    }

    /// The browser is up: the alternate screen and mouse tracking are on.
    fn assert_taken(&self) {
        assert_eq!(self.pane("#{alternate_on}"), "1", "{}", self.screen());
        assert_eq!(self.pane("#{mouse_any_flag}"), "1", "{}", self.screen());
    }

    /// The browser exited with `exit` and gave the shell back its screen in cooked
    /// mode, the alternate screen left and mouse tracking off.
    fn assert_restored_with(&self, exit: &str) {
        let s = self.wait_for("MODE=");
        assert!(s.contains(exit), "{s}");
        assert_eq!(self.pane("#{alternate_on}"), "0", "{s}");
        for flag in ["mouse_any_flag", "mouse_button_flag", "mouse_sgr_flag"] {
            assert_eq!(self.pane(&format!("#{{{flag}}}")), "0", "{flag}: {s}");
        }
        assert!(
            s.contains("MODE=icanon"),
            "the terminal is left in raw mode:\n{s}"
        );
        assert!(
            !s.contains("Wait chains"),
            "the alternate screen was not left:\n{s}"
        );
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]);
        let _ = std::fs::remove_file(&self.pid_file);
    }
}

#[test]
fn walks_to_the_chain_root_and_finds_the_periodic_error_on_screen() {
    let Some(t) = Tmux::start("walk") else { return };
    let s = t.wait_for("Findings (");
    assert!(
        s.contains("1 Findings  2 Wait chains  3 Threads  4 Timeline"),
        "{s}"
    );
    t.keys(&["Tab"]);
    // The root on top of its tree, the lock and its 52 waiters under it (FACTS.md).
    let s = t.wait_for("chain 1: root 0adc.1c64 ProcessA.exe  blocks 52");
    assert!(s.contains("cs:0x0032be30@0adc  52 waiting"), "{s}");
    // Enter opens the root thread; Enter again goes to its wait in the timeline.
    t.keys(&["Enter"]);
    t.wait_for("wait chain: thread 0adc.1c64; Enter again");
    t.keys(&["Enter"]);
    let s = t.wait_for("wait start of 0adc.1c64");
    let lines: Vec<&str> = s.lines().collect();
    let marker = lines
        .iter()
        .position(|l| l.contains("wait start of 0adc.1c64 14:08:14.806750"))
        .expect("the marker line");
    // The owner's last error, 10:08:14.802 local (UTC-4), just above its wait start.
    let error = lines
        .iter()
        .position(|l| {
            l.contains("14:08:14.802000 0adc.1c64 Error: [DB Driver] Not enough space on temp disk")
        })
        .unwrap_or_else(|| panic!("the periodic error is not on screen:\n{s}"));
    assert!(error < marker && marker - error <= 3, "{s}");
    t.keys(&["q"]);
    t.assert_restored();
}

#[test]
fn ctrl_c_quits_and_restores_the_terminal() {
    let Some(t) = Tmux::start("ctrlc") else {
        return;
    };
    t.wait_for("Findings (");
    t.keys(&["?"]);
    t.wait_for("Keys");
    t.keys(&["C-c"]);
    t.assert_restored();
}

/// SIGTERM (`kill`, a service manager) and SIGHUP (the SSH session dropped, the
/// window closed) restore the terminal like `q`, then end the browser by that
/// signal: the shell sees 128 + N.
#[test]
fn sigterm_and_sighup_restore_the_terminal() {
    for (signal, exit) in [("TERM", "EXIT=143"), ("HUP", "EXIT=129")] {
        let Some(t) = Tmux::start(&format!("sig{signal}")) else {
            return;
        };
        t.wait_for("Findings (");
        t.assert_taken();
        t.kill(signal);
        t.assert_restored_with(exit);
    }
}
