//! Message templates: the message with its variable parts masked, so repeats of one log
//! statement compare equal.

/// Masks the variable parts of a message and keeps the words:
///
/// * GUIDs, with or without braces → `{guid}`;
/// * `0x` hex numbers, and words of 8 or more hex digits → `0x#`;
/// * decimal numbers → `#`; in a word that starts with a digit (`42ms`, `2nd`) each digit
///   run becomes `#`;
/// * words that start with a letter or `_` are kept whole (`Win32`, `Hw3d`, `file_c123`).
///
/// ```
/// use dumptrace_trace::template_of;
/// assert_eq!(
///     template_of("Execute DB command sleeps on error (retry 26) after 250ms at 0x7ffe0300"),
///     "Execute DB command sleeps on error (retry #) after #ms at 0x#"
/// );
/// ```
pub fn template_of(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    template_into(message, &mut out);
    out
}

/// [`template_of`] written into `out` (cleared first): a caller counting millions of
/// messages reuses one buffer and allocates only for templates it has not seen.
pub fn template_into(message: &str, out: &mut String) {
    out.clear();
    if message.is_ascii() {
        ascii_template(message, out);
    } else {
        char_template(message, out);
    }
}

/// [`template_into`] for ASCII text, byte by byte (most trace messages are ASCII); the
/// same rules as [`char_template`], which tests compare it with.
fn ascii_template(message: &str, out: &mut String) {
    let b = message.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut i = 0;
    let mut prev_word = false;
    while let Some(&c) = b.get(i) {
        // A GUID starts with a hex digit or its brace.
        if !prev_word && (c == b'{' || c.is_ascii_hexdigit()) {
            if let Some(len) = message.get(i..).and_then(guid_at) {
                out.push_str("{guid}");
                i += len;
                continue;
            }
        }
        if word(c) {
            let end = b[i..]
                .iter()
                .position(|&c| !word(c))
                .map_or(b.len(), |n| i + n);
            mask_word(message.get(i..end).unwrap_or_default(), out);
            i = end;
            prev_word = true;
        } else {
            out.push(char::from(c));
            i += 1;
            prev_word = false;
        }
    }
}

/// [`template_into`] for any text, char by char.
fn char_template(message: &str, out: &mut String) {
    let mut rest = message;
    let mut prev_word = false;
    while let Some(c) = rest.chars().next() {
        if !prev_word {
            if let Some(len) = guid_at(rest) {
                out.push_str("{guid}");
                rest = rest.get(len..).unwrap_or_default();
                prev_word = false;
                continue;
            }
        }
        if is_word(c) {
            let len = rest.find(|c: char| !is_word(c)).unwrap_or(rest.len());
            let (word, tail) = rest.split_at(len);
            mask_word(word, out);
            rest = tail;
            prev_word = true;
        } else {
            out.push(c);
            rest = rest.get(c.len_utf8()..).unwrap_or_default();
            prev_word = false;
        }
    }
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn mask_word(word: &str, out: &mut String) {
    let b = word.as_bytes();
    let all_hex = |s: &[u8]| !s.is_empty() && s.iter().all(u8::is_ascii_hexdigit);
    if b.iter().all(u8::is_ascii_digit) {
        out.push('#');
    } else if (b.starts_with(b"0x") || b.starts_with(b"0X"))
        && all_hex(b.get(2..).unwrap_or_default())
        || b.len() >= 8 && all_hex(b)
    {
        out.push_str("0x#");
    } else if b.first().is_some_and(u8::is_ascii_digit) {
        let mut in_digits = false;
        for c in word.chars() {
            if c.is_ascii_digit() {
                if !in_digits {
                    out.push('#');
                }
                in_digits = true;
            } else {
                out.push(c);
                in_digits = false;
            }
        }
    } else {
        out.push_str(word);
    }
}

/// Length of a GUID (`8-4-4-4-12` hex, optionally in braces) at the start of `s`, if it is
/// not followed by more word characters.
fn guid_at(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let braced = b.first() == Some(&b'{');
    let start = usize::from(braced);
    let body = b.get(start..start + 36)?;
    let ok = body.iter().enumerate().all(|(i, c)| match i {
        8 | 13 | 18 | 23 => *c == b'-',
        _ => c.is_ascii_hexdigit(),
    });
    if !ok {
        return None;
    }
    let mut len = start + 36;
    if braced {
        if b.get(len) != Some(&b'}') {
            return None;
        }
        len += 1;
    }
    let next = s.get(len..).and_then(|t| t.chars().next());
    (!next.is_some_and(is_word)).then_some(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_numbers_hex_guids() {
        let cases = [
            ("Not enough space on temp disk", "Not enough space on temp disk"),
            ("retry 26", "retry #"),
            ("(retry 11), code -5, 3.14", "(retry #), code -#, #.#"),
            ("handle 0x0000024C, status 0XC0000005", "handle 0x#, status 0x#"),
            ("addr 7ffe0300deadbeef and deadbeef", "addr 0x# and 0x#"),
            ("short hex beef and cafe stays", "short hex beef and cafe stays"),
            (
                "provider {d3dd3dd4-aac2-4e2a-8dd4-a8fb61b77615} id 6ba7b810-9dad-11d1-80b4-00c04fd430c8.",
                "provider {guid} id {guid}.",
            ),
            ("Win32 Hw3d x64 file_c123", "Win32 Hw3d x64 file_c123"),
            ("took 42ms, 2nd try, TID 0E48", "took #ms, #nd try, TID #E#"),
            (
                "\"time\":\"2024-01-13T23:31:07.097\",\"pid\":24556",
                "\"time\":\"#-#-#T#:#:#.#\",\"pid\":#",
            ),
            ("", ""),
            ("für 12 Größe", "für # Größe"),
        ];
        for (input, want) in cases {
            assert_eq!(template_of(input), want, "{input}");
        }
    }

    #[test]
    fn ascii_and_char_templates_agree() {
        // Random ASCII text from the characters the rules look at.
        let alphabet = b"0123456789abcdefABCDEFxXgz_-{} .,:()#";
        let mut rng = crate::test_util::xorshift(0x2545_f491_4f6c_dd1d);
        let mut next = move |n: usize| (rng() % n as u64) as usize;
        let guid = "d3dd3dd4-aac2-4e2a-8dd4-a8fb61b77615";
        for round in 0..20_000 {
            let mut m = String::new();
            for _ in 0..next(40) {
                match next(12) {
                    // Whole GUIDs (braced or not) and hex prefixes, so their rules fire.
                    0 => m.push_str(guid),
                    1 => m.push_str(&format!("{{{guid}}}")),
                    2 => m.push_str("0x"),
                    _ => m.push(char::from(alphabet[next(alphabet.len())])),
                }
            }
            let (mut a, mut c) = (String::new(), String::new());
            ascii_template(&m, &mut a);
            char_template(&m, &mut c);
            assert_eq!(a, c, "round {round}: {m:?}");
        }
    }

    #[test]
    fn guid_edges() {
        // a GUID glued to more word characters is not a GUID
        assert_eq!(
            template_of("d3dd3dd4-aac2-4e2a-8dd4-a8fb61b77615x"),
            "0x#-aac2-#e#a-#dd#-a8fb61b77615x"
        );
        // an opening brace without its closing brace
        assert_eq!(
            template_of("{d3dd3dd4-aac2-4e2a-8dd4-a8fb61b77615"),
            "{{guid}"
        );
    }
}
