//! The bottom-line prompts (`/`, `f`, `t`, `o`, `e`): what is asked, and the
//! line being typed, edited with readline's keys.
//!
//! [`LineEdit`] is the editor: a text and a cursor. Besides typing, Backspace,
//! Delete, Left/Right and Home/End, it takes the readline (emacs mode) keys
//! engineers type without thinking in a shell: Ctrl-A / Ctrl-E start / end of
//! line, Ctrl-U deletes to the start, Ctrl-K to the end, Ctrl-W the word before
//! the cursor (back to white space, as readline's `unix-word-rubout`).

use std::path::PathBuf;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What a prompt asks for.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Ask {
    Search,
    Filter,
    Time,
    /// The offset override in force when the prompt opened (Esc restores it).
    Offset {
        before: Option<f64>,
    },
    Export,
    Overwrite(PathBuf),
}

/// A prompt: the question and the answer being typed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Prompt {
    pub ask: Ask,
    pub line: LineEdit,
}

impl Prompt {
    pub(crate) fn new(ask: Ask, text: String) -> Prompt {
        Prompt {
            ask,
            line: LineEdit::new(text),
        }
    }

    pub(crate) fn label(&self) -> String {
        match &self.ask {
            Ask::Search => "search (regex): ".into(),
            Ask::Filter => "filter (p:PROCESS t:TID s:STATE text; empty clears): ".into(),
            Ask::Time => {
                "go to time (HH:MM:SS.fff [UTC|local], RFC 3339, +/-SECS from dump): ".into()
            }
            Ask::Offset { .. } => {
                "offset seconds (Up/Down 0.1 s, PgUp/PgDn 1 s, Enter keeps, Esc reverts): ".into()
            }
            Ask::Export => "export view to (.csv or .json): ".into(),
            Ask::Overwrite(p) => format!("{} exists: overwrite? (y/n) ", p.display()),
        }
    }
}

/// One line of text and a cursor in it (a byte index on a char boundary).
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct LineEdit {
    text: String,
    cursor: usize,
}

impl LineEdit {
    /// `text` with the cursor at its end.
    pub(crate) fn new(text: String) -> LineEdit {
        let cursor = text.len();
        LineEdit { text, cursor }
    }

    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// Replaces the text; the cursor goes to its end.
    pub(crate) fn set(&mut self, text: String) {
        *self = LineEdit::new(text);
    }

    /// The text before and after the cursor.
    pub(crate) fn split(&self) -> (&str, &str) {
        self.text.split_at(self.cursor)
    }

    /// Applies an editing key; false for a key that is not one (Enter, Esc, Up ...).
    pub(crate) fn key(&mut self, key: KeyEvent) -> bool {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Char('a') if ctrl => self.cursor = 0,
            KeyCode::Char('e') if ctrl => self.cursor = self.text.len(),
            KeyCode::Char('u') if ctrl => {
                self.text.drain(..self.cursor);
                self.cursor = 0;
            }
            KeyCode::Char('k') if ctrl => self.text.truncate(self.cursor),
            KeyCode::Char('w') if ctrl => {
                let start = self.word_start();
                self.text.drain(start..self.cursor);
                self.cursor = start;
            }
            KeyCode::Char('h') if ctrl => self.backspace(),
            // Other control chords are not text.
            KeyCode::Char(_) if ctrl => return false,
            KeyCode::Char(c) => {
                self.text.insert(self.cursor, c);
                self.cursor += c.len_utf8();
            }
            KeyCode::Backspace => self.backspace(),
            KeyCode::Delete => {
                if let Some(c) = self.text[self.cursor..].chars().next() {
                    self.text.drain(self.cursor..self.cursor + c.len_utf8());
                }
            }
            KeyCode::Left => self.cursor = self.prev(self.cursor),
            KeyCode::Right => {
                if let Some(c) = self.text[self.cursor..].chars().next() {
                    self.cursor += c.len_utf8();
                }
            }
            KeyCode::Home => self.cursor = 0,
            KeyCode::End => self.cursor = self.text.len(),
            _ => return false,
        }
        true
    }

    fn backspace(&mut self) {
        let start = self.prev(self.cursor);
        self.text.drain(start..self.cursor);
        self.cursor = start;
    }

    /// The char boundary before `at` (0 at the start).
    fn prev(&self, at: usize) -> usize {
        self.text[..at]
            .char_indices()
            .next_back()
            .map_or(0, |(i, _)| i)
    }

    /// Where Ctrl-W's deletion starts: back over white space, then over the word.
    fn word_start(&self) -> usize {
        let before = &self.text[..self.cursor];
        let word_end = before.trim_end().len();
        before[..word_end]
            .char_indices()
            .rev()
            .find(|(_, c)| c.is_whitespace())
            .map_or(0, |(i, c)| i + c.len_utf8())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctrl(c: char) -> KeyEvent {
        KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
    }

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn typed(l: &mut LineEdit, s: &str) {
        for c in s.chars() {
            assert!(l.key(key(KeyCode::Char(c))));
        }
    }

    /// `text` with the cursor moved `n` characters left of its end.
    fn left_of_end(text: &str, n: usize) -> LineEdit {
        let mut l = LineEdit::new(text.into());
        for _ in 0..n {
            l.key(key(KeyCode::Left));
        }
        l
    }

    fn state(l: &LineEdit) -> String {
        let (a, b) = l.split();
        format!("{a}|{b}")
    }

    #[test]
    fn ctrl_u_deletes_to_the_start_of_the_line() {
        let mut l = LineEdit::new("p:processa s:wait".into());
        assert!(l.key(ctrl('u')));
        assert_eq!(state(&l), "|");
        // From the middle: what is after the cursor stays.
        let mut l = left_of_end("p:processa s:wait", 6);
        l.key(ctrl('u'));
        assert_eq!(state(&l), "|s:wait");
    }

    #[test]
    fn ctrl_w_deletes_the_word_before_the_cursor() {
        let mut l = LineEdit::new(String::new());
        typed(&mut l, "p:processa s:wait  ");
        // Trailing blanks go with the word, as in readline.
        l.key(ctrl('w'));
        assert_eq!(state(&l), "p:processa |");
        l.key(ctrl('w'));
        assert_eq!(state(&l), "|");
        // Nothing before the cursor: nothing happens.
        assert!(l.key(ctrl('w')));
        assert_eq!(state(&l), "|");
        // In the middle of a line, only the text before the cursor is a word.
        let mut l = left_of_end("2009-10-09 14:08:14.806", 4);
        l.key(ctrl('w'));
        assert_eq!(state(&l), "2009-10-09 |.806");
    }

    #[test]
    fn ctrl_a_goes_to_the_start_and_typing_inserts_there() {
        let mut l = LineEdit::new("14:08:14".into());
        l.key(ctrl('a'));
        assert_eq!(state(&l), "|14:08:14");
        typed(&mut l, "2009-10-09 ");
        assert_eq!(state(&l), "2009-10-09 |14:08:14");
        l.key(ctrl('e'));
        assert_eq!(state(&l), "2009-10-09 14:08:14|");
        l.key(key(KeyCode::Home));
        l.key(key(KeyCode::Delete));
        assert_eq!(state(&l), "|009-10-09 14:08:14");
        l.key(ctrl('k'));
        assert_eq!(state(&l), "|");
    }

    #[test]
    fn editing_keeps_to_char_boundaries() {
        let mut l = LineEdit::new("größe µs".into());
        l.key(key(KeyCode::Backspace));
        assert_eq!(state(&l), "größe µ|");
        l.key(key(KeyCode::Left));
        l.key(key(KeyCode::Left));
        l.key(key(KeyCode::Backspace));
        assert_eq!(state(&l), "größ| µ");
        l.key(ctrl('w'));
        assert_eq!(state(&l), "| µ");
        // At either end, moving further does nothing.
        l.key(key(KeyCode::Left));
        assert_eq!(state(&l), "| µ");
        l.key(key(KeyCode::End));
        l.key(key(KeyCode::Right));
        l.key(key(KeyCode::Delete));
        assert_eq!(state(&l), " µ|");
        // Control chords that are not editing keys type nothing.
        assert!(!l.key(ctrl('x')));
        assert!(!l.key(key(KeyCode::Enter)));
        assert_eq!(l.text(), " µ");
    }
}
