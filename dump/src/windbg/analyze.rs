//! `!analyze -v` and the `BugCheck X, {...}` line a kernel dump opens with.
//!
//! ```text
//! MANUALLY_INITIATED_CRASH (e2)
//! The user manually initiated this crash dump.
//! Arguments:
//! Arg1: 00000000
//! ...
//! PROCESS_NAME:  AppA.exe
//! STACK_TEXT:
//! f46f5b44 808b73a4 e1a36008 00000004 00000018 nt!HvpFindFreeCellInThisViewWindow+0xd7
//! ```
//! (seed: "Truncated dump, spiking thread, not my version and hooked
//! functions"). Newer debuggers also print `BUGCHECK_CODE:  e2` and
//! `BUGCHECK_P1: 0`; argument lines may carry a description
//! (`Arg1: 00000008, EXCEPTION_DOUBLE_FAULT`, seed: "Lateral damage...").

use super::grammar::{self, hex_token};
use super::{Out, Step};
use crate::system::Bugcheck;

#[derive(Default)]
pub(crate) struct AnalyzeParser {
    b: Bugcheck,
    in_stack: bool,
    started: bool,
}

impl AnalyzeParser {
    pub(crate) fn line(&mut self, t: &str, n: u64, _out: &mut Out) -> Step {
        if !self.started {
            self.started = true;
            self.b.line = n;
        }
        if self.in_stack {
            if let Some(f) = grammar::frame(t) {
                self.b.stack.push(f);
                return Step::Used;
            }
            if super::thread::is_noise(t) {
                return Step::Used;
            }
            self.in_stack = false;
        }
        if t.starts_with("STACK_TEXT:") {
            self.in_stack = true;
            return Step::Used;
        }
        if let Some((name, code)) = bugcheck_name(t) {
            self.b.name = Some(name.to_string());
            self.b.code = Some(code);
            return Step::Used;
        }
        if let Some((k, v)) = t.split_once(':') {
            let v = v.trim();
            let first = v
                .split(|c: char| c == ',' || c.is_whitespace())
                .next()
                .unwrap_or("");
            let set_arg = |b: &mut Bugcheck, i: usize| {
                if let Some(a) = hex_token(first) {
                    if b.args.len() <= i {
                        b.args.resize(i + 1, 0);
                    }
                    b.args[i] = a;
                }
            };
            match k.trim() {
                "Arg1" | "BUGCHECK_P1" => set_arg(&mut self.b, 0),
                "Arg2" | "BUGCHECK_P2" => set_arg(&mut self.b, 1),
                "Arg3" | "BUGCHECK_P3" => set_arg(&mut self.b, 2),
                "Arg4" | "BUGCHECK_P4" => set_arg(&mut self.b, 3),
                "BUGCHECK_CODE" => {
                    self.b.code = hex_token(first).and_then(|c| u32::try_from(c).ok())
                }
                "PROCESS_NAME" => self.b.process_name = Some(v.to_string()),
                "IMAGE_NAME" => self.b.image_name = Some(v.to_string()),
                "FAILURE_BUCKET_ID" => self.b.failure_bucket = Some(v.to_string()),
                _ => {}
            }
        }
        Step::Used
    }

    pub(crate) fn end(&mut self, out: &mut Out) {
        let b = std::mem::take(&mut self.b);
        if b.code.is_some() || b.process_name.is_some() || !b.stack.is_empty() {
            out.record();
            out.snap.bugchecks.push(b);
        }
    }
}

/// `MANUALLY_INITIATED_CRASH (e2)`: an upper-case name and the code in hex.
fn bugcheck_name(t: &str) -> Option<(&str, u32)> {
    let (name, rest) = t.split_once(" (")?;
    let code = rest.strip_suffix(')')?;
    let ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    if !ok {
        return None;
    }
    Some((name, u32::try_from(hex_token(code)?).ok()?))
}

/// `BugCheck E2, {0, 0, 0, 0}` (the debugger's banner when it opens a dump).
pub(crate) fn banner(t: &str, n: u64) -> Option<Bugcheck> {
    let rest = t.strip_prefix("BugCheck ")?;
    let (code, args) = rest.split_once(',')?;
    let args = args
        .trim()
        .strip_prefix('{')?
        .trim_end()
        .strip_suffix('}')?;
    let args: Option<Vec<u64>> = args.split(',').map(|a| hex_token(a.trim())).collect();
    Some(Bugcheck {
        code: Some(u32::try_from(hex_token(code.trim())?).ok()?),
        args: args?,
        line: n,
        ..Bugcheck::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banner_and_names() {
        let b = banner("BugCheck 7F, {8, f7727fe0, 0, 0}", 3).unwrap();
        assert_eq!(b.code, Some(0x7f));
        assert_eq!(b.args, vec![8, 0xf7727fe0, 0, 0]);
        assert!(banner("BugCheck what", 1).is_none());
        assert_eq!(
            bugcheck_name("MANUALLY_INITIATED_CRASH (e2)"),
            Some(("MANUALLY_INITIATED_CRASH", 0xe2))
        );
        assert_eq!(bugcheck_name("Probably caused by (x)"), None);
    }
}
