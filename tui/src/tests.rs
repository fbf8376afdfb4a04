//! The app driven headlessly on the cs-periodic-error fixture case: screens
//! rendered into ratatui's `TestBackend` (insta snapshots, so a change to what
//! users see shows in review), and the keys checked against counts taken from
//! the raw fixture files and the case's FACTS.md.

use std::path::{Path, PathBuf};

use dumptrace_correlate::TraceSource;
use dumptrace_trace::TimeContext;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEvent, MouseEventKind};
use ratatui::Terminal;

use crate::keymap::KEYS;
use crate::{App, Inputs};

/// Relative to the crate (tests run there), so snapshots hold no machine's paths.
const CASE: &str = "../fixtures/cases/cs-periodic-error";
/// The chain root: ProcessA.exe's owner of critical section 0x0032be30 (FACTS.md).
const ROOT: &str = "0adc.1c64";

fn trace_source(path: &Path, frame: polars::prelude::DataFrame) -> TraceSource {
    TraceSource {
        label: path.display().to_string(),
        frame,
    }
}

/// The case read as `dumptrace tui` reads it: dump first, its date and zone for the trace.
fn case() -> Inputs {
    let dir = PathBuf::from(CASE);
    let snapshot = dumptrace_dump::read_path(&dir.join("memory.log"))
        .expect("the fixture log reads")
        .snapshot;
    let session = snapshot
        .session_time
        .as_ref()
        .expect("the log has a session time");
    let ctx = TimeContext {
        date: Some(session.local.date()),
        offset: session.offset.expect("the session time has a zone"),
        source: "zone and date from the dump's Debug session time".into(),
    };
    let trace = dir.join("trace.txt");
    let frame = dumptrace_trace::read_path(&trace, &ctx)
        .expect("the fixture trace reads")
        .frame;
    Inputs {
        snapshot,
        traces: vec![trace_source(&trace, frame)],
        options: Default::default(),
        inputs: Vec::new(),
        notes: Vec::new(),
    }
}

fn app(w: u16, h: u16) -> App {
    let mut app = App::new(case());
    app.set_size(w, h);
    app
}

fn screen(app: &App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).expect("test backend");
    t.draw(|f| app.draw(f)).expect("draw");
    let buf = t.backend().buffer();
    let mut s = String::new();
    for y in 0..h {
        let line: String = (0..w).map(|x| buf[(x, y)].symbol()).collect();
        s.push_str(line.trim_end());
        s.push('\n');
    }
    s
}

fn press(app: &mut App, code: KeyCode) {
    app.on_key(KeyEvent::new(code, KeyModifiers::NONE));
}

fn typed(app: &mut App, text: &str) {
    for c in text.chars() {
        press(app, KeyCode::Char(c));
    }
    press(app, KeyCode::Enter);
}

/// The raw trace's event lines (after the header): file line number and the
/// fields `#`, PID, TID, Time, Message.
fn raw_events() -> Vec<(usize, Vec<String>)> {
    let text = std::fs::read_to_string(Path::new(CASE).join("trace.txt")).expect("trace.txt");
    text.lines()
        .enumerate()
        .skip(1)
        .map(|(i, l)| (i + 1, l.splitn(5, ' ').map(String::from).collect()))
        .collect()
}

#[test]
fn snapshot_findings() {
    insta::assert_snapshot!(screen(&app(80, 24), 80, 24));
}

#[test]
fn snapshot_wait_chains() {
    let mut a = app(80, 24);
    press(&mut a, KeyCode::Tab);
    insta::assert_snapshot!(screen(&a, 80, 24));
}

#[test]
fn snapshot_threads() {
    let mut a = app(80, 24);
    press(&mut a, KeyCode::Char('3'));
    insta::assert_snapshot!(screen(&a, 80, 24));
}

#[test]
fn snapshot_timeline_at_the_root_wait() {
    let mut a = app(100, 30);
    press(&mut a, KeyCode::Tab);
    press(&mut a, KeyCode::Enter);
    press(&mut a, KeyCode::Enter);
    insta::assert_snapshot!(screen(&a, 100, 30));
}

#[test]
fn snapshot_thread_detail_wide() {
    let mut a = app(160, 48);
    press(&mut a, KeyCode::Enter);
    insta::assert_snapshot!(screen(&a, 160, 48));
}

#[test]
fn snapshot_help() {
    let mut a = app(80, 24);
    press(&mut a, KeyCode::Char('?'));
    insta::assert_snapshot!(screen(&a, 80, 24));
}

#[test]
fn help_lists_every_key_and_any_key_closes_it() {
    // At 80x24: every key and its whole description fit.
    let mut a = app(80, 24);
    press(&mut a, KeyCode::Char('?'));
    let s = screen(&a, 80, 24);
    for (k, d) in KEYS {
        assert!(s.contains(&format!("{k:<19}{d}")), "help lacks {k}:\n{s}");
    }
    press(&mut a, KeyCode::Char('x'));
    assert!(!screen(&a, 80, 24).contains("this help; any key closes it"));
}

#[test]
fn finding_enter_goes_to_the_thread_with_its_block_and_evidence() {
    let mut a = app(200, 70);
    let s = screen(&a, 200, 70);
    assert!(s.contains("[periodic-error"), "{s}");
    // Below the finding: how the clocks were joined (the zone explains the trace).
    assert!(
        s.contains("offset      +0.000 s: estimated: the zone offset +0 min"),
        "{s}"
    );
    assert!(
        s.contains("as written: Fri Oct  9 10:08:21.713 2009 (UTC -"),
        "{s}"
    );
    press(&mut a, KeyCode::Enter);
    let s = screen(&a, 200, 70);
    // The THREAD block as the log has it (memory.log:7097, FACTS.md) ...
    assert!(
        s.contains("THREAD 86396db0  Cid 0adc.1c64  Teb: 7ffb7000"),
        "{s}"
    );
    assert!(
        s.contains("Wait Start TickCount      67103239       Ticks: 442 (0:00:00:06.906)"),
        "{s}"
    );
    assert!(s.contains("ComponentA!DB_Driver_Command+0xa7"), "{s}");
    // ... with the finding's evidence, the periodic error's trace line among it.
    assert!(s.contains("Evidence of finding 1"), "{s}");
    assert!(s.contains("trace.txt:3512"), "{s}");
    assert!(s.contains("blocks      52 threads"), "{s}");
}

#[test]
fn chain_tree_has_the_root_on_top_and_every_waiter_under_the_lock() {
    let mut a = app(100, 200);
    press(&mut a, KeyCode::Tab);
    let s = screen(&a, 100, 200);
    let lines: Vec<&str> = s.lines().collect();
    let first = lines
        .iter()
        .position(|l| l.contains("chain 1: root"))
        .expect("chain 1");
    assert!(
        lines[first].contains(&format!("root {ROOT} ProcessA.exe  blocks 52")),
        "{s}"
    );
    assert!(lines[first + 1].contains(ROOT), "{s}");
    assert!(
        lines[first + 2].contains("cs:0x0032be30@0adc  52 waiting"),
        "{s}"
    );
    // 52 waiters (FACTS.md), each on one branch line under the lock.
    let waiters = lines[first + 3..]
        .iter()
        .take_while(|l| l.contains("├─ 0adc.") || l.contains("└─ 0adc."))
        .count();
    assert_eq!(waiters, 52, "{s}");
    // Longest wait first: Ticks 12081 = 3 min 8.8 s (FACTS.md waiter range).
    assert!(lines[first + 3].contains("3 min 8.8 s"), "{s}");
}

/// Enter on a thread of the chain tree opens that thread: the Threads screen with it
/// selected and its THREAD block in the detail pane; Enter on the lock opens the
/// lock's detail; Enter again on the thread goes to its wait in the timeline.
#[test]
fn chain_node_enter_opens_that_thread() {
    let mut a = app(120, 60);
    press(&mut a, KeyCode::Tab);
    // Chain 1's rows: the chain, its root, the lock, then the longest waiter.
    for _ in 0..3 {
        press(&mut a, KeyCode::Down);
    }
    let s = screen(&a, 120, 60);
    let row = s
        .lines()
        .find(|l| l.contains("3 min 8.8 s"))
        .unwrap_or_else(|| panic!("the longest waiter's row:\n{s}"));
    let cid = row
        .split_whitespace()
        .find(|w| w.starts_with("0adc.") && *w != ROOT)
        .unwrap_or_else(|| panic!("no waiter id in {row:?}"))
        .to_string();
    press(&mut a, KeyCode::Enter);
    let s = screen(&a, 120, 60);
    assert!(s.contains("Threads (345 of 345)"), "not on Threads:\n{s}");
    assert!(
        s.contains(&format!("wait chain: thread {cid}; Enter again")),
        "{s}"
    );
    // The detail pane is the waiter's own THREAD block, not the root's.
    assert!(s.contains(&format!("Cid {cid}")), "{s}");
    assert!(!s.contains(&format!("Cid {ROOT}")), "{s}");
    press(&mut a, KeyCode::Enter);
    let s = screen(&a, 120, 60);
    assert!(s.contains(&format!("wait start of {cid}")), "{s}");

    // The lock row has no thread of its own: Enter goes into its detail.
    let mut a = app(120, 60);
    press(&mut a, KeyCode::Tab);
    press(&mut a, KeyCode::Down);
    press(&mut a, KeyCode::Down);
    press(&mut a, KeyCode::Enter);
    let s = screen(&a, 120, 60);
    assert!(s.contains("Wait chains"), "{s}");
    assert!(!s.contains("Threads (345"), "{s}");
}

#[test]
fn threads_table_sorts_and_filters_against_the_log_counts() {
    let mut a = app(80, 24);
    press(&mut a, KeyCode::Char('3'));
    let s = screen(&a, 80, 24);
    // 345 THREAD blocks in the log; the root blocks the most and sorts first.
    assert!(s.contains("Threads (345 of 345)"), "{s}");
    let first_row = s.lines().nth(4).expect("first row");
    assert!(
        first_row.contains(ROOT) && first_row.contains(" 52 "),
        "{s}"
    );
    // ProcessA has 60 threads, one RUNNING and one READY (FACTS.md): 58 wait.
    press(&mut a, KeyCode::Char('f'));
    typed(&mut a, "p:processa s:wait");
    assert!(screen(&a, 80, 24).contains("Threads (58 of 345)"));
    press(&mut a, KeyCode::Char('f'));
    typed(&mut a, "p:0adc");
    assert!(screen(&a, 80, 24).contains("Threads (60 of 345)"));
    press(&mut a, KeyCode::Char('f'));
    typed(&mut a, "");
    assert!(screen(&a, 80, 24).contains("Threads (345 of 345)"));
    // Sort by process name, ascending (byte order: upper case first), then reversed.
    press(&mut a, KeyCode::Char('s'));
    press(&mut a, KeyCode::Char('g'));
    let s = screen(&a, 80, 24);
    assert!(s.contains("sort: process ↑"), "{s}");
    assert!(
        s.lines().nth(4).expect("row").starts_with("│AgentX.exe"),
        "{s}"
    );
    press(&mut a, KeyCode::Char('r'));
    press(&mut a, KeyCode::Char('g'));
    let s = screen(&a, 80, 24);
    assert!(
        s.lines().nth(4).expect("row").starts_with("│wmiprvse.exe"),
        "{s}"
    );
}

/// The prompt takes readline's keys: Ctrl-W drops the last word of a filter, Ctrl-U
/// the whole line, Ctrl-A goes to its start (what is typed there goes in front).
#[test]
fn prompt_edits_with_readline_keys() {
    let ctrl = |c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL);
    let mut a = app(80, 24);
    press(&mut a, KeyCode::Char('3'));
    press(&mut a, KeyCode::Char('f'));
    for c in "p:processa s:wait".chars() {
        press(&mut a, KeyCode::Char(c));
    }
    a.on_key(ctrl('w'));
    assert!(screen(&a, 80, 24).contains("empty clears): p:processa _"));
    press(&mut a, KeyCode::Enter);
    assert!(screen(&a, 80, 24).contains("Threads (60 of 345)"));
    press(&mut a, KeyCode::Char('f'));
    for c in "junk".chars() {
        press(&mut a, KeyCode::Char(c));
    }
    a.on_key(ctrl('u'));
    for c in "s:wait".chars() {
        press(&mut a, KeyCode::Char(c));
    }
    a.on_key(ctrl('a'));
    typed(&mut a, "p:processa ");
    assert!(screen(&a, 80, 24).contains("Threads (58 of 345)"));
}

#[test]
fn timeline_walks_to_the_root_wait_and_shows_the_periodic_error_before_it() {
    let mut a = app(100, 40);
    press(&mut a, KeyCode::Tab);
    press(&mut a, KeyCode::Enter);
    press(&mut a, KeyCode::Enter);
    let s = screen(&a, 100, 40);
    assert!(s.contains("Timeline (3556 events)"), "{s}");
    let lines: Vec<&str> = s.lines().collect();
    let marker = lines
        .iter()
        .position(|l| l.contains(&format!("wait start of {ROOT} 14:08:14.806750")))
        .expect("wait start marker");
    // The owner's last words: the 13th retry pair at 10:08:14.802 local (FACTS.md).
    let before = &lines[..marker];
    assert!(
        before.iter().any(|l| l.contains(
            "14:08:14.802000 ▶0adc.1c64 Error: [DB Driver] Not enough space on temp disk"
        ) || l.contains(
            "▶14:08:14.802000 0adc.1c64 Error: [DB Driver] Not enough space on temp disk"
        )),
        "{s}"
    );
    // Nothing of the owner after its wait start.
    assert!(!lines[marker..].iter().any(|l| l.contains("▶")), "{s}");
}

#[test]
fn timeline_filter_search_time_and_export_match_the_raw_trace() {
    let raw = raw_events();
    let owner: Vec<&(usize, Vec<String>)> = raw.iter().filter(|(_, f)| f[2] == "7268").collect();
    let mut a = app(100, 30);
    press(&mut a, KeyCode::Char('4'));
    assert!(screen(&a, 100, 30).contains(&format!("Timeline ({} events)", raw.len())));
    press(&mut a, KeyCode::Char('f'));
    typed(&mut a, "t:1c64");
    // Timeline scans run in the background: the key answers at once.
    assert!(screen(&a, 100, 30).contains("filtering 3556 events..."));
    a.settle();
    let s = screen(&a, 100, 30);
    assert!(
        s.contains(&format!(
            "Timeline ({} of {} events)",
            owner.len(),
            raw.len()
        )),
        "{s}"
    );
    // Search finds the 13th retry, the owner's last pair (event 3512, file line 3513).
    let retry13 = raw
        .iter()
        .find(|(_, f)| f[4].ends_with("(retry 13)") && f[2] == "7268")
        .expect("retry 13 in the raw trace")
        .0;
    press(&mut a, KeyCode::Char('/'));
    typed(&mut a, "retry 13\\)");
    a.settle();
    let s = screen(&a, 100, 30);
    assert!(s.contains(&format!("trace.txt:{retry13}")), "{s}");
    press(&mut a, KeyCode::Char('n'));
    let s = screen(&a, 100, 30);
    assert!(
        s.contains(&format!("trace.txt:{retry13}")),
        "one match: n wraps to it: {s}"
    );
    // Time: the first owner event at or after 10:07:00 local is retry 3 (10:07:05.114).
    press(&mut a, KeyCode::Char('t'));
    typed(&mut a, "14:07:00");
    let s = screen(&a, 100, 30);
    let want = owner
        .iter()
        .filter(|(_, f)| f[3].as_str() < "10:07:00")
        .count();
    assert!(
        s.contains(&format!("trace.txt:{}", owner[want - 1].0)),
        "{s}"
    );
    // Export the filtered view: one row per owner event, then refuse to overwrite.
    let dir = std::env::temp_dir().join(format!("dumptrace-tui-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let out = dir.join("owner.csv");
    let _ = std::fs::remove_file(&out);
    press(&mut a, KeyCode::Char('e'));
    for _ in 0.."dumptrace-timeline.csv".len() {
        press(&mut a, KeyCode::Backspace);
    }
    typed(&mut a, out.to_str().expect("utf-8 path"));
    let csv = std::fs::read_to_string(&out).expect("exported");
    assert_eq!(csv.lines().count(), owner.len() + 1, "{csv}");
    assert!(csv.starts_with("time,pid,tid,process,"), "{csv}");
    assert!(
        csv.contains("2009-10-09T14:08:14.802000Z,2780,7268,ProcessA.exe,"),
        "{csv}"
    );
    press(&mut a, KeyCode::Char('f'));
    typed(&mut a, "");
    a.settle();
    press(&mut a, KeyCode::Char('e'));
    for _ in 0.."dumptrace-timeline.csv".len() {
        press(&mut a, KeyCode::Backspace);
    }
    typed(&mut a, out.to_str().expect("utf-8 path"));
    assert!(screen(&a, 100, 30).contains("exists: overwrite? (y/n)"));
    press(&mut a, KeyCode::Char('n'));
    assert_eq!(
        std::fs::read_to_string(&out).expect("kept"),
        csv,
        "the file is kept"
    );
    press(&mut a, KeyCode::Char('e'));
    for _ in 0.."dumptrace-timeline.csv".len() {
        press(&mut a, KeyCode::Backspace);
    }
    typed(&mut a, out.to_str().expect("utf-8 path"));
    press(&mut a, KeyCode::Char('y'));
    let all = std::fs::read_to_string(&out).expect("replaced");
    assert_eq!(
        all.lines().count(),
        raw.len() + 1,
        "y replaces it with the whole view"
    );
    press(&mut a, KeyCode::Char('e'));
    for _ in 0.."dumptrace-timeline.csv".len() {
        press(&mut a, KeyCode::Backspace);
    }
    typed(
        &mut a,
        out.with_extension("json").to_str().expect("utf-8 path"),
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.with_extension("json")).expect("json"))
            .expect("valid JSON");
    assert_eq!(v.as_array().map(Vec::len), Some(raw.len()));
}

/// `t` reads a time as UTC or as the dump's local time (UTC-4 here), whichever is in
/// the trace, and says which; a time outside the trace is refused and the view stays.
#[test]
fn go_to_time_reads_utc_or_local_and_refuses_times_outside_the_trace() {
    let mut a = app(100, 30);
    press(&mut a, KeyCode::Char('4'));
    press(&mut a, KeyCode::Char('t'));
    typed(&mut a, "14:08:14.802");
    let utc = screen(&a, 100, 30);
    assert!(
        utc.contains("went to 2009-10-09 14:08:14.802000 UTC ('14:08:14.802' read as UTC)"),
        "{utc}"
    );
    // The same instant as the trace file writes it, local time.
    press(&mut a, KeyCode::Char('g'));
    press(&mut a, KeyCode::Char('t'));
    typed(&mut a, "10:08:14.802");
    let local = screen(&a, 100, 30);
    assert!(
        local.contains(
            "went to 2009-10-09 14:08:14.802000 UTC ('10:08:14.802' read as local time (-04:00))"
        ),
        "{local}"
    );
    let list = |s: &str| s.lines().skip(2).take(20).collect::<Vec<_>>().join("\n");
    assert_eq!(list(&utc), list(&local));
    // A day later is after the trace whichever clock: refused, the view not moved.
    press(&mut a, KeyCode::Char('t'));
    typed(&mut a, "2009-10-10 14:08:14");
    let refused = screen(&a, 100, 30);
    assert!(
        refused.contains(
            "'2009-10-10 14:08:14' is outside the trace, not moved (the trace: 2009-10-09 "
        ),
        "{refused}"
    );
    assert_eq!(list(&refused), list(&local));
}

#[test]
fn offset_key_re_correlates_and_shifts_the_timeline() {
    let mut a = app(100, 30);
    press(&mut a, KeyCode::Char('4'));
    let before = screen(&a, 100, 30);
    assert!(before.contains("offset +0.000 s estimated"), "{before}");
    // The first event (trace.txt:1) at 10:02:30.009 local = 14:02:30.009 UTC.
    assert!(before.contains("14:02:30.009000"), "{before}");
    press(&mut a, KeyCode::Char('o'));
    press(&mut a, KeyCode::Up);
    press(&mut a, KeyCode::PageUp);
    a.settle();
    press(&mut a, KeyCode::Enter);
    let s = screen(&a, 100, 30);
    assert!(s.contains("offset +1.100 s set with o"), "{s}");
    assert!(s.contains("14:02:31.109000"), "{s}");
    press(&mut a, KeyCode::Char('o'));
    press(&mut a, KeyCode::Down);
    a.settle();
    press(&mut a, KeyCode::Esc);
    a.settle();
    let s = screen(&a, 100, 30);
    assert!(
        s.contains("offset +1.100 s set with o"),
        "Esc restores the value before the prompt: {s}"
    );
    press(&mut a, KeyCode::Char('o'));
    for _ in 0..6 {
        press(&mut a, KeyCode::Backspace);
    }
    typed(&mut a, "-2.5");
    a.settle();
    assert!(screen(&a, 100, 30).contains("14:02:27.509000"));
}

#[test]
fn control_characters_in_messages_never_reach_the_terminal() {
    use polars::prelude::*;
    let times = vec![1_255_097_294_000_000_000i64, 1_255_097_295_000_000_000];
    let time = Int64Chunked::from_vec(dumptrace_trace::schema::TIME.into(), times)
        .into_datetime(TimeUnit::Nanoseconds, Some(TimeZone::UTC));
    let frame = DataFrame::new_infer_height(vec![
        time.into_column(),
        UInt32Chunked::from_vec("pid".into(), vec![1, 1]).into_column(),
        UInt32Chunked::from_vec("tid".into(), vec![2, 2]).into_column(),
        StringChunked::from_iter_values(
            "message".into(),
            ["red \u{1b}[31malert\u{7}", "bell\rover"].into_iter(),
        )
        .into_column(),
    ])
    .expect("frame");
    let mut a = App::new(Inputs {
        snapshot: Default::default(),
        traces: vec![trace_source(Path::new("evil.txt"), frame)],
        options: Default::default(),
        inputs: Vec::new(),
        notes: Vec::new(),
    });
    a.set_size(80, 24);
    press(&mut a, KeyCode::Char('4'));
    let s = screen(&a, 80, 24);
    assert!(s.contains("red \\u{1b}[31malert\\u{7}"), "{s}");
    assert!(s.contains("bell\\rover"), "{s}");
    assert!(!s.contains('\u{1b}') && !s.contains('\r') && !s.contains('\u{7}'));
}

#[test]
fn keys_page_and_wheel_move_by_the_view_and_small_terminals_draw() {
    let mut a = app(80, 24);
    press(&mut a, KeyCode::Char('4'));
    let row = |a: &App| {
        let s = screen(a, 80, 24);
        s.lines()
            .find_map(|l| l.split("trace.txt:").nth(1))
            .and_then(|n| n.split_whitespace().next().map(String::from))
            .expect("an event detail")
    };
    // File line 2 holds event 1 (line 1 is the header).
    assert_eq!(row(&a), "2");
    press(&mut a, KeyCode::Char('j'));
    assert_eq!(row(&a), "3");
    a.on_mouse(MouseEvent {
        kind: MouseEventKind::ScrollDown,
        column: 0,
        row: 0,
        modifiers: KeyModifiers::NONE,
    });
    assert_eq!(row(&a), "6");
    // A page at 80x24: the list (55% of 21 rows, less the sparkline and borders).
    press(&mut a, KeyCode::PageDown);
    let paged: usize = row(&a).parse().expect("line number");
    assert!(paged > 6 + 3 && paged < 6 + 20, "{paged}");
    press(&mut a, KeyCode::Char('G'));
    assert_eq!(row(&a), "3557");
    press(&mut a, KeyCode::Char('g'));
    assert_eq!(row(&a), "2");
    for (w, h) in [(20, 5), (1, 1), (300, 100)] {
        for k in ['1', '2', '3', '4', '?'] {
            let mut a = app(w, h);
            press(&mut a, KeyCode::Char(k));
            screen(&a, w, h);
        }
    }
    // Into the detail pane: j scrolls it, not the list; h goes back.
    press(&mut a, KeyCode::Char('3'));
    let detail_top = |a: &App| {
        let s = screen(a, 80, 24);
        s.lines().nth(15).unwrap_or("").to_string()
    };
    let before = detail_top(&a);
    press(&mut a, KeyCode::Char('l'));
    press(&mut a, KeyCode::Char('j'));
    assert_ne!(detail_top(&a), before);
    assert!(screen(&a, 80, 24).contains("│ProcessA.exe     0adc.1c64"));
    press(&mut a, KeyCode::Char('h'));
    press(&mut a, KeyCode::Char('j'));
    press(&mut a, KeyCode::Char('q'));
    assert!(a.should_quit());
    let mut b = app(80, 24);
    b.on_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert!(b.should_quit());
}

fn frame(symbol: &str, args: Vec<u64>) -> dumptrace_dump::Frame {
    dumptrace_dump::Frame {
        frame: 0x1020_e900,
        ret: 0x7c90_e514,
        args: args.into(),
        symbol: symbol.into(),
    }
}

/// Two threads, each owning the critical section the other enters.
fn deadlock() -> Inputs {
    use dumptrace_dump::{CriticalSection, Thread, ThreadState};
    let mut s = dumptrace_dump::DumpSnapshot::default();
    for (tid, owns, enters) in [(1u32, 0xa0u64, 0xb0u64), (2, 0xb0, 0xa0)] {
        let state = ThreadState::Wait {
            reason: "UserRequest".into(),
            mode: "UserMode".into(),
            alertable: false,
        };
        let mut t = Thread::new(
            0x8000 + u64::from(tid),
            0x100,
            tid,
            state,
            format!("x.log:{tid}"),
            0,
        );
        t.image = Some("Locks.exe".into());
        t.stack = vec![frame(
            "ntdll!RtlEnterCriticalSection+0x46",
            vec![enters, 0, 0],
        )];
        s.threads.push(t);
        s.critical_sections.push(CriticalSection {
            address: owns,
            symbol: None,
            locked: true,
            lock_count: Some(1),
            recursion_count: Some(1),
            owning_tid: Some(tid),
            owning_thread: None,
            contention_count: None,
            lock_semaphore: None,
            waiter_woken: None,
            process_address: None,
            pid: Some(0x100),
            line: 0,
            source: String::new(),
        });
    }
    Inputs {
        snapshot: s,
        traces: Vec::new(),
        options: Default::default(),
        inputs: Vec::new(),
        notes: Vec::new(),
    }
}

#[test]
fn deadlock_cycles_are_marked_in_the_tree() {
    let mut a = App::new(deadlock());
    a.set_size(100, 30);
    press(&mut a, KeyCode::Char('2'));
    let s = screen(&a, 100, 30);
    assert!(s.contains("DEADLOCK"), "{s}");
    // root -> its lock -> the other thread -> its lock -> the root again, marked.
    let tree: Vec<&str> = s
        .lines()
        .skip_while(|l| !l.contains("chain 1:"))
        .take(6)
        .collect();
    assert!(
        tree[2].contains("└─ cs:0x000000") && tree[2].contains("1 waiting"),
        "{s}"
    );
    assert!(tree[3].contains("   └─ 0100.000"), "{s}");
    assert!(tree[4].contains("      └─ cs:0x000000"), "{s}");
    assert!(tree[5].contains("↺ cycle"), "{s}");
    // No trace: the timeline says so instead of an empty list.
    press(&mut a, KeyCode::Char('4'));
    assert!(screen(&a, 100, 30).contains("No trace events"));
}

#[test]
fn process_queue_chains_hang_their_waiters_under_the_queue() {
    let p = PathBuf::from("../fixtures/cases/alpc-missing-threads/memory.log");
    let snapshot = dumptrace_dump::read_path(&p).expect("fixture").snapshot;
    let mut a = App::new(Inputs {
        snapshot,
        traces: Vec::new(),
        options: Default::default(),
        inputs: Vec::new(),
        notes: Vec::new(),
    });
    a.set_size(120, 200);
    press(&mut a, KeyCode::Char('2'));
    let s = screen(&a, 120, 200);
    let lines: Vec<&str> = s.lines().collect();
    let first = lines
        .iter()
        .position(|l| l.contains("chain 1:"))
        .expect("chain 1");
    assert!(lines[first + 1].contains("queue no thread serves"), "{s}");
    // FACTS.md: 25 threads wait on their own ALPC message queued to ServiceA,
    // one of them ServiceC's 0790.2614, which serves ServiceB's 0734.0dc8:
    // 26 thread rows, 0734.0dc8 one level under 0790.2614.
    let rows: Vec<&str> = lines[first + 2..]
        .iter()
        .take_while(|l| !l.contains("chain 2:"))
        .copied()
        .filter(|l| {
            // A thread row: a branch, then a Cid (`└─ 0420.1358 svchost.exe`).
            l.split("─ ").nth(1).is_some_and(|rest| {
                let cid = rest.split(' ').next().unwrap_or("");
                cid.len() == 9 && cid.as_bytes()[4] == b'.'
            })
        })
        .collect();
    assert_eq!(rows.len(), 26, "{s}");
    let depth = |cid: &str| {
        let l = rows.iter().find(|l| l.contains(cid)).expect("row");
        l[..l.find(cid).expect("cid")].chars().count()
    };
    assert_eq!(depth("0734.0dc8"), depth("0790.2614") + 6, "{s}");
}

/// The case with terminal control sequences (clear screen, set window title, bell) planted
/// in a process image name and in trace messages.
fn hostile_case() -> Inputs {
    const EVIL: &str = "\x1b[2J\x1b]0;pwn\x07";
    let dir = PathBuf::from(CASE);
    let log = std::fs::read_to_string(dir.join("memory.log")).expect("fixture log");
    let log = log.replace("ProcessA.exe", &format!("Proc{EVIL}essA.exe"));
    let load = dumptrace_dump::read_bytes(Path::new("evil.log"), log.as_bytes()).expect("log");
    let session = load.snapshot.session_time.as_ref().expect("session time");
    let ctx = TimeContext {
        date: Some(session.local.date()),
        offset: session.offset.expect("zone"),
        source: "test".into(),
    };
    let trace = std::fs::read_to_string(dir.join("trace.txt")).expect("fixture trace");
    let trace = trace.replace("Error:", &format!("Error:{EVIL}"));
    let frame = dumptrace_trace::read_bytes(Path::new("evil.txt"), trace.as_bytes(), &ctx)
        .expect("trace")
        .frame;
    Inputs {
        snapshot: load.snapshot,
        traces: vec![trace_source(Path::new("evil.txt"), frame)],
        options: Default::default(),
        inputs: Vec::new(),
        notes: Vec::new(),
    }
}

#[test]
fn control_sequences_from_inputs_never_reach_the_terminal() {
    let (w, h) = (160, 50);
    let mut app = App::new(hostile_case());
    app.set_size(w, h);
    let mut seen = String::new();
    for screen_key in ['1', '2', '3', '4'] {
        press(&mut app, KeyCode::Char(screen_key));
        for _ in 0..3 {
            seen.push_str(&screen(&app, w, h));
            press(&mut app, KeyCode::Enter);
            seen.push_str(&screen(&app, w, h));
            press(&mut app, KeyCode::Esc);
            press(&mut app, KeyCode::Down);
        }
    }
    // Search for the planted text so the rows holding it are on screen.
    press(&mut app, KeyCode::Char('3'));
    typed(&mut app, "/pwn");
    seen.push_str(&screen(&app, w, h));
    let raw: Vec<char> = seen
        .chars()
        .filter(|c| c.is_control() && *c != '\n')
        .collect();
    assert!(raw.is_empty(), "raw control characters on screen: {raw:?}");
    // The text itself is shown, escaped: the input was read, not dropped.
    assert!(seen.contains("\\u{1b}"), "escaped ESC shown");
    assert!(seen.contains("pwn"), "the planted text is shown");
}
