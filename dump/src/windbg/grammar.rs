//! Line grammars of WinDbg/kd output, written with winnow.
//!
//! Every function takes one (already normalised) line and returns `None` when the
//! line is not of that shape; callers decide whether that means "skipped" or
//! "some other block".

use winnow::ascii::{digit1, space1};
use winnow::combinator::{alt, opt, preceded};
use winnow::error::ContextError;
use winnow::token::literal;
use winnow::Parser;

use compact_str::CompactString;
use std::cell::RefCell;

use crate::model::{Args, Frame, Symbol, ThreadState};

type In<'a> = &'a str;
type PResult<O> = winnow::Result<O, ContextError>;

/// A hex number as WinDbg prints addresses: optional `0x`, and on x64 an optional
/// backtick between the high and low halves (`fffffa60`190e5980`; formats.md §4).
pub(crate) fn hex(input: &mut In<'_>) -> PResult<u64> {
    let (v, rest) = hex_prefix(input).ok_or_else(ContextError::new)?;
    *input = rest;
    Ok(v)
}

/// [`hex`] at the start of `s`, and what follows. By hand rather than with winnow's
/// `take_while`: THREAD and PROCESS headers hold three to five of these, and the
/// combinator version cost ~450 instructions a call. Up to 17 characters (16 digits and
/// x64's backtick) after an optional `0x`; the first must be a digit.
fn hex_prefix(s: &str) -> Option<(u64, &str)> {
    let b = s.as_bytes();
    let start = match b {
        [b'0', b'x' | b'X', ..] => 2,
        _ => 0,
    };
    let body = &b[start..];
    let n = body
        .iter()
        .take(17)
        .take_while(|&&c| HEX[usize::from(c)] != NOT_HEX)
        .count();
    let v = hex_bytes(&body[..n])?;
    // `hex_bytes` saw only ASCII, so `start + n` is a character boundary.
    Some((v, s.get(start + n..)?))
}

/// Parses a whole token as hex (`0x1b00`, `00001b00`, `fffff800`01027752`).
/// Hand-written rather than with [`hex`]: it runs on every token of every
/// stack frame, the hot path of a 1 GB `!process 0 ff` log.
pub(crate) fn hex_token(s: &str) -> Option<u64> {
    hex_bytes(s.as_bytes())
}

fn hex_bytes(b: &[u8]) -> Option<u64> {
    let b = match b {
        [b'0', b'x' | b'X', rest @ ..] => rest,
        _ => b,
    };
    if b.is_empty() || b.len() > 17 || b[0] == b'`' {
        return None;
    }
    let mut v: u64 = 0;
    let mut digits = 0;
    for &c in b {
        let d = HEX[usize::from(c)];
        if d == BACKTICK {
            continue;
        }
        if d == NOT_HEX || digits == 16 {
            return None;
        }
        digits += 1;
        v = (v << 4) | u64::from(d);
    }
    Some(v)
}

const NOT_HEX: u8 = 0xff;
const BACKTICK: u8 = 0xfe;

/// Digit values of hex characters; the backtick of x64 addresses is marked.
static HEX: [u8; 256] = {
    let mut t = [NOT_HEX; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t[b'`' as usize] = BACKTICK;
    t
};

pub(crate) struct ThreadHeader {
    pub address: u64,
    pub pid: u32,
    pub tid: u32,
    pub teb: Option<u64>,
    pub win32_thread: Option<u64>,
    pub state: ThreadState,
}

/// `THREAD 89d475a8  Cid 0fa4.0f48  Teb: 7ffda000 Win32Thread: 00000000 WAIT: (WrLpcReply) UserMode Non-Alertable`
pub(crate) fn thread_header(line: &str) -> Option<ThreadHeader> {
    // By hand, with the same rules as the winnow grammar it replaced (one header per
    // thread of a 1 GB log): blanks are spaces and tabs; `Teb:` and `Win32Thread:`
    // are optional, each taken only when its whole field reads.
    let i = blanks(line.trim_start().strip_prefix("THREAD")?, 1)?;
    let (address, i) = hex_prefix(i)?;
    // `Cid 0adc.1c64`: process and thread id in hex (`-thread.md`: "Cid" is pid.tid).
    let i = blanks(blanks(i, 1)?.strip_prefix("Cid")?, 1)?;
    let (pid, i) = hex_prefix(i)?;
    let (tid, mut i) = hex_prefix(i.strip_prefix('.')?)?;
    let mut field = |name: &str| {
        let (v, rest) = hex_prefix(blanks(blanks(i, 1)?.strip_prefix(name)?, 0)?)?;
        i = rest;
        Some(v)
    };
    let teb = field("Teb:");
    let win32_thread = field("Win32Thread:");
    Some(ThreadHeader {
        address,
        pid: u32::try_from(pid).ok()?,
        tid: u32::try_from(tid).ok()?,
        teb,
        win32_thread,
        state: thread_state(i.trim_ascii()),
    })
}

fn thread_state(s: &str) -> ThreadState {
    if let Some(rest) = s.strip_prefix("WAIT:") {
        let rest = rest.trim_ascii();
        let (reason, rest) = match rest.strip_prefix('(').and_then(|r| r.split_once(')')) {
            Some((reason, rest)) => (reason.trim_ascii(), rest.trim_ascii()),
            None => ("", rest),
        };
        let mut words = rest.split_ascii_whitespace();
        let mode = words.next().unwrap_or("");
        let alertable = words.next() == Some("Alertable");
        return ThreadState::Wait {
            reason: reason.into(),
            mode: mode.into(),
            alertable,
        };
    }
    let mut words = s.split_whitespace();
    match words.next() {
        Some("RUNNING") => {
            // `RUNNING on processor 1`
            let processor = words.last().and_then(|p| p.parse().ok());
            ThreadState::Running { processor }
        }
        Some("READY") | Some("DEFERREDREADY") => ThreadState::Ready,
        Some("STANDBY") => ThreadState::Standby,
        Some("TERMINATED") => ThreadState::Terminated,
        Some("TRANSITION") => ThreadState::Transition,
        Some("INITIALIZED") => ThreadState::Initialized,
        Some(other) => ThreadState::Other(other.into()),
        None => ThreadState::Other(Default::default()),
    }
}

pub(crate) struct ProcessHeader {
    pub address: u64,
    pub session_id: Option<u32>,
    /// `None` when the Cid is on the next line (x64 builds; see [`process_ids`]).
    pub pid: Option<u32>,
    pub parent_pid: Option<u32>,
}

/// `PROCESS 89cf4870  SessionId: 0  Cid: 0fa4    Peb: 7ffde000  ParentCid: 0228`
/// (`SessionId: none` for System). x64 builds print the address alone and the
/// ids on the next line (seed case `alpc-missing-threads`, Server 2008 x64).
pub(crate) fn process_header(line: &str) -> Option<ProcessHeader> {
    let mut i = line.trim_start();
    let address = preceded((literal("PROCESS"), space1), hex)
        .parse_next(&mut i)
        .ok()?;
    if !i.trim().is_empty() && !i.contains("Cid:") {
        return None;
    }
    let mut h = ProcessHeader {
        address,
        session_id: None,
        pid: None,
        parent_pid: None,
    };
    process_ids(i, &mut h);
    Some(h)
}

/// Reads `SessionId: 0  Cid: 06f0  Peb: ...  ParentCid: 0260` into `h`; false
/// when the line has no Cid.
pub(crate) fn process_ids(line: &str, h: &mut ProcessHeader) -> bool {
    let mut words = line.split_whitespace();
    let mut found = false;
    while let Some(w) = words.next() {
        match w {
            "SessionId:" => h.session_id = words.next().and_then(|v| v.parse().ok()),
            "Cid:" => {
                h.pid = words
                    .next()
                    .and_then(hex_token)
                    .and_then(|p| u32::try_from(p).ok());
                found = h.pid.is_some();
            }
            "ParentCid:" => {
                h.parent_pid = words
                    .next()
                    .and_then(hex_token)
                    .and_then(|p| u32::try_from(p).ok())
            }
            _ => {}
        }
    }
    found
}

/// `Wait Start TickCount      1845699        Ticks: 1284370 (0:05:34:28.281)`;
/// the `Ticks:` part is missing on running threads and in inconsistent dumps.
pub(crate) fn wait_start(line: &str) -> Option<(u64, Option<u64>, Option<CompactString>)> {
    // By hand (every THREAD block has this line): `Wait Start TickCount`, blanks,
    // the tick; then optionally blanks, `Ticks:`, blanks, the count; then
    // optionally blanks and the duration in parentheses.
    let rest = line.trim_start().strip_prefix("Wait Start TickCount")?;
    let (tick, mut i) = dec_u64(blanks(rest, 1)?)?;
    let mut ticks = None;
    if let Some((v, after)) = blanks(i, 1)
        .and_then(|r| r.strip_prefix("Ticks:"))
        .and_then(|r| dec_u64(blanks(r, 0)?))
    {
        ticks = Some(v);
        i = after;
    }
    let text = blanks(i, 0)
        .and_then(|r| r.strip_prefix('('))
        .and_then(|r| r.split_once(')'))
        .map(|(t, _)| t)
        .filter(|t| !t.is_empty())
        .map(CompactString::from);
    Some((tick, ticks, text))
}

/// Where `needle` first occurs in a short line: candidates found by its first byte.
/// Cheaper than `str::find` with a `&str` pattern or a fresh `memmem` searcher, whose
/// setup costs more than the whole search of a line.
pub(crate) fn find(line: &str, needle: &str) -> Option<usize> {
    let (h, n) = (line.as_bytes(), needle.as_bytes());
    let first = *n.first()?;
    memchr::memchr_iter(first, h).find(|&at| h[at..].starts_with(n))
}

/// `s` after its leading spaces and tabs, if there are at least `min` of them.
fn blanks(s: &str, min: usize) -> Option<&str> {
    let rest = s.trim_start_matches([' ', '\t']);
    (s.len() - rest.len() >= min).then_some(rest)
}

/// A decimal number at the start of `s` (at least one digit, no overflow) and what follows.
fn dec_u64(s: &str) -> Option<(u64, &str)> {
    let n = s.bytes().take_while(u8::is_ascii_digit).count();
    let mut v: u64 = 0;
    for c in &s.as_bytes()[..n] {
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    (n > 0).then(|| (v, &s[n..]))
}

/// `d:hh:mm:ss.fff` from the Ticks parenthesis, in milliseconds.
pub(crate) fn dhms_ms(s: &str) -> Option<u64> {
    let (main, frac) = s.split_once('.').unwrap_or((s, ""));
    let mut parts = [0u64; 4];
    let mut n = 0;
    for p in main.split(':') {
        *parts.get_mut(n)? = p.trim_ascii().parse().ok()?;
        n += 1;
    }
    let [d, h, m, sec] = match n {
        4 => parts,
        3 => [0, parts[0], parts[1], parts[2]],
        _ => return None,
    };
    Some((((d * 24 + h) * 60 + m) * 60 + sec) * 1000 + fraction_ms(frac)?)
}

/// The digits after a seconds' decimal point as milliseconds: `281` -> 281,
/// `5` -> 500, `0093` -> 9 (ms precision; `!runaway` prints four digits).
pub(crate) fn fraction_ms(frac: &str) -> Option<u64> {
    let mut ms = 0;
    for i in 0..3 {
        let d = match frac.as_bytes().get(i) {
            Some(c) if c.is_ascii_digit() => c - b'0',
            Some(_) => return None,
            None => 0,
        };
        ms = ms * 10 + u64::from(d);
    }
    Some(ms)
}

/// A wait object line under a THREAD header: `89d4779c  Semaphore Limit 0x1`,
/// `85e9ba00  Mutant - owning thread 866d63e8`, `86b33b30  ProcessObject`.
pub(crate) fn wait_object(line: &str) -> Option<(u64, CompactString, Option<u64>)> {
    let t = line.trim_ascii();
    let (addr, rest) = t.split_once(|c: char| c.is_ascii_whitespace())?;
    let address = hex_token(addr)?;
    let kind = rest.trim_ascii();
    let first = kind.split_ascii_whitespace().next()?;
    if !first.starts_with(|c: char| c.is_ascii_uppercase()) || first.contains(':') {
        return None;
    }
    if first == "Mutant" {
        if let Some((k, owner)) = kind.split_once(" - owning thread ") {
            return Some((address, k.trim().into(), hex_token(owner.trim())));
        }
    }
    Some((address, kind.into(), None))
}

/// Stack header lines: x86 `ChildEBP RetAddr [Args to Child]`, x64 `Child-SP RetAddr Call Site`
/// and `Child-SP RetAddr : Args to Child : Call Site` (formats.md §4), with or without ` # `.
pub(crate) fn is_stack_header(line: &str) -> bool {
    let t = line.trim_ascii_start();
    let t = t.strip_prefix('#').unwrap_or(t).trim_ascii_start();
    t.starts_with("ChildEBP") || t.starts_with("Child-SP")
}

/// One stack frame. Split on whitespace, not columns: `kn` adds a frame number,
/// newer builds widen RetAddr, and web copies squeeze spaces.
///
/// x86: `029ef3b0 7c901046 00980600 7c910435 7c980600 ntdll!RtlpWaitForCriticalSection+0x132`
/// x64: `fffffad8`67f5a990 fffff800`01027752 : fffffa80`071181f0 : nt!KiSwapContext+0x85`
pub(crate) fn frame(line: &str) -> Option<Frame> {
    match columns(line.as_bytes()) {
        Columns::Frame {
            frame,
            ret,
            args,
            symbol,
        } => {
            // `columns` cut at ASCII bytes only, so both ends are character boundaries.
            let rest = line.get(symbol.end..).unwrap_or("");
            let symbol = line.get(symbol)?;
            Some(finish_frame(frame, ret, args, symbol, rest))
        }
        Columns::NotFrame => None,
        Columns::Unusual => frame_by_tokens(line),
    }
}

/// What [`columns`] made of a line.
enum Columns {
    Frame {
        frame: u64,
        ret: u64,
        args: Args,
        /// Where the symbol token is in the line.
        symbol: std::ops::Range<usize>,
    },
    /// Certainly not a frame.
    NotFrame,
    /// Not the common shape; [`frame_by_tokens`] decides.
    Unusual,
}

/// The common shape of a frame line, read in one pass over fixed-width columns: an
/// 8-digit (x86) or backticked 16-digit (x64) ChildEBP/Child-SP, RetAddr, up to four
/// such args (`:` separators allowed), then the symbol. Anything else (a `kn` frame
/// number, `0x` prefixes, unpadded or 16-digit plain columns) is `Unusual` and goes
/// through the token reader, which accepts every form; on the common shape both give
/// the same frame.
fn columns(b: &[u8]) -> Columns {
    let Some((frame, mut pos)) = column(b) else {
        return Columns::Unusual;
    };
    let Some(ret) = next_column(b, &mut pos) else {
        return Columns::Unusual;
    };
    let mut args = Args::default();
    loop {
        pos = b.len() - skip_spaces(b.get(pos..).unwrap_or_default()).len();
        let rest = b.get(pos..).unwrap_or_default();
        match rest {
            // A line of bare numbers ends without a symbol: not a frame.
            [] => return Columns::NotFrame,
            [b':'] => return Columns::NotFrame,
            [b':', c, ..] if WHITESPACE[usize::from(*c)] => {
                pos += 1;
                continue;
            }
            _ => {}
        }
        if args.len() < Args::MAX {
            if let Some((v, n)) = column(rest) {
                args.push(v);
                pos += n;
                continue;
            }
        }
        let len = token_len(rest);
        // A token the token reader would take for one more argument (an odd form of
        // address) is left to it.
        if args.len() < Args::MAX && address_bytes(&rest[..len]).is_some() {
            return Columns::Unusual;
        }
        return Columns::Frame {
            frame,
            ret,
            args,
            symbol: pos..pos + len,
        };
    }
}

/// The column after `pos`, past its whitespace; `pos` moves past it.
fn next_column(b: &[u8], pos: &mut usize) -> Option<u64> {
    let start = b.len() - skip_spaces(b.get(*pos..)?).len();
    let (v, n) = column(b.get(start..)?)?;
    *pos = start + n;
    Some(v)
}

/// An address column at the start of `b`, ended by whitespace or the line's end:
/// `8c1a6d48` (x86) or `fffff880`0351f4c0` (x64, backtick after the high half).
fn column(b: &[u8]) -> Option<(u64, usize)> {
    let high = hex8(b)?;
    let ends = |i: usize| b.get(i).is_none_or(|&c| WHITESPACE[usize::from(c)]);
    if ends(8) {
        return Some((high, 8));
    }
    if b.get(8) == Some(&b'`') && ends(17) {
        let low = hex8(b.get(9..)?)?;
        return Some(((high << 32) | low, 17));
    }
    None
}

/// Every byte of a 64-bit word set to 1, and to 0x80: the masks of the bytewise tests below.
const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// Eight hex digits at the start of `b`, as one 64-bit word: every byte is checked
/// and converted at once (two stack columns per frame, millions of frames per log).
fn hex8(b: &[u8]) -> Option<u64> {
    let x = u64::from_le_bytes(*b.first_chunk::<8>()?);
    if x & HIGH != 0 {
        return None;
    }
    // Bytes below 0x80 plus a constant below 0x80 cannot carry into the next byte, so
    // each byte's high bit tells whether it was at least `lo` / more than `hi`.
    let within = |v: u64, lo: u8, hi: u8| {
        let ge = v.wrapping_add(ONES * u64::from(0x80 - lo));
        let gt = v.wrapping_add(ONES * u64::from(0x7f - hi));
        ge & !gt & HIGH
    };
    let digit = within(x, b'0', b'9');
    // `| 0x20` lowers `A-F`; digits already have that bit.
    let letter = within(x | (ONES * 0x20), b'a', b'f');
    if (digit | letter) != HIGH {
        return None;
    }
    // `0`-`9` are 0x30-0x39 and `a`-`f` are 0x61-0x66: the low nibble, plus 9 for letters.
    let nibbles = (x & (ONES * 0x0f)) + (letter >> 7) * 9;
    // The first digit is the lowest byte: reverse, then fold nibble pairs together.
    let v = nibbles.swap_bytes();
    let v = (v | (v >> 4)) & 0x00ff_00ff_00ff_00ff;
    let v = (v | (v >> 8)) & 0x0000_ffff_0000_ffff;
    let v = (v | (v >> 16)) & 0x0000_0000_ffff_ffff;
    Some(v)
}

/// Where the token at the start of `b` ends: its length up to the first ASCII
/// whitespace. Symbols are long and hold no byte at or below a space, so eight bytes
/// are looked at at once until one such byte is in them.
fn token_len(b: &[u8]) -> usize {
    let mut i = 0;
    while let Some(chunk) = b.get(i..).and_then(|r| r.first_chunk::<8>()) {
        let x = u64::from_le_bytes(*chunk);
        // A byte below 0x21 (the classic "has a byte less than n" test).
        if x.wrapping_sub(ONES * 0x21) & !x & HIGH != 0 {
            break;
        }
        i += 8;
    }
    let rest = b.get(i..).unwrap_or_default();
    i + rest
        .iter()
        .position(|&c| WHITESPACE[usize::from(c)])
        .unwrap_or(rest.len())
}

/// The frame from its columns and the text after the symbol (a trailing note).
fn finish_frame(frame: u64, ret: u64, args: Args, symbol: &str, rest: &str) -> Frame {
    let rest = rest.trim_ascii();
    let symbol = if rest.is_empty() {
        intern(symbol)
    } else if rest.bytes().any(|c| c.is_ascii_whitespace() && c != b' ') || rest.contains("  ") {
        let words: Vec<&str> = rest.split_ascii_whitespace().collect();
        Symbol::new(symbol, Some(&words.join(" ")))
    } else {
        Symbol::new(symbol, Some(rest))
    };
    Frame {
        frame,
        ret,
        args,
        symbol,
    }
}

/// Any frame line, token by token (see [`frame`]).
fn frame_by_tokens(line: &str) -> Option<Frame> {
    let mut tokens = Tokens { s: line, pos: 0 };
    let mut first = tokens.next()?;
    // `kn`: a 2-digit frame number before ChildEBP.
    if first.len() <= 3 && first.bytes().all(|c| c.is_ascii_hexdigit()) {
        first = tokens.next()?;
    }
    let frame = address_bytes(first.as_bytes())?;
    let ret = address_bytes(tokens.next()?.as_bytes())?;
    let mut args = Args::default();
    let symbol = loop {
        let tok = tokens.next()?;
        if tok == ":" {
            continue;
        }
        match address_bytes(tok.as_bytes()) {
            Some(v) if args.len() < Args::MAX && !tok.starts_with("0x") => {
                args.push(v);
            }
            // `00000000 00000000 0x0`-style frames always have a symbol token; a
            // line of bare numbers is not a frame (it is `dps`/`dd` output).
            _ => break tok,
        }
    };
    Some(finish_frame(frame, ret, args, symbol, tokens.rest()))
}

/// The tokens of a line split on ASCII whitespace, as `split_ascii_whitespace`
/// gives them, without its per-byte closure: stack lines are read by the
/// million. Tokens are cut at ASCII bytes, so they are whole characters.
struct Tokens<'a> {
    s: &'a str,
    /// Where the unread rest of the line starts.
    pos: usize,
}

impl<'a> Tokens<'a> {
    fn next(&mut self) -> Option<&'a str> {
        let b = self.s.as_bytes().get(self.pos..)?;
        let start = self.pos + (b.len() - skip_spaces(b).len());
        let len = token_len(self.s.as_bytes().get(start..).unwrap_or_default());
        self.pos = start + len;
        (len > 0).then(|| self.s.get(start..self.pos)).flatten()
    }

    fn rest(&self) -> &'a str {
        self.s.get(self.pos..).unwrap_or("")
    }
}

/// `bytes` without its leading ASCII whitespace; eight spaces at a time first,
/// since the lines of a `!process 0 ff` block are indented by 8 to 16 spaces.
pub(crate) fn skip_spaces(mut b: &[u8]) -> &[u8] {
    while let Some((word, rest)) = b.split_first_chunk::<8>() {
        if *word != [b' '; 8] {
            break;
        }
        b = rest;
    }
    let n = b
        .iter()
        .position(|&c| !WHITESPACE[usize::from(c)])
        .unwrap_or(b.len());
    &b[n..]
}

/// `line.trim_ascii()`, with the leading indentation skipped eight bytes at a time.
pub(crate) fn trim_line(line: &str) -> &str {
    let rest = skip_spaces(line.as_bytes());
    // Only ASCII bytes were skipped, so the rest starts on a character boundary.
    line[line.len() - rest.len()..].trim_ascii_end()
}

/// ASCII whitespace as `u8::is_ascii_whitespace` defines it.
static WHITESPACE: [bool; 256] = {
    let mut t = [false; 256];
    t[b' ' as usize] = true;
    t[b'\t' as usize] = true;
    t[b'\n' as usize] = true;
    t[0x0c] = true;
    t[b'\r' as usize] = true;
    t
};

thread_local! {
    /// The symbols of the log being read. A busy server's stacks repeat a few thousand
    /// `module!function+0xoff` strings millions of times; each frame shares one copy.
    static SYMBOLS: RefCell<SymbolSet> = RefCell::new(SymbolSet::default());
}

type SymbolSet = rustc_hash::FxHashSet<Interned>;

/// A note-less symbol in the set, found by its text.
struct Interned(Symbol);

impl std::borrow::Borrow<str> for Interned {
    fn borrow(&self) -> &str {
        self.0.as_str()
    }
}

impl std::hash::Hash for Interned {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.0.as_str().hash(h);
    }
}

impl PartialEq for Interned {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

impl Eq for Interned {}

/// The shared copy of `symbol` (a frame without a note).
pub(crate) fn intern(symbol: &str) -> Symbol {
    SYMBOLS.with(|set| {
        let mut set = set.borrow_mut();
        if let Some(s) = set.get(symbol) {
            return s.0.clone();
        }
        let s = Symbol::from(symbol);
        set.insert(Interned(s.clone()));
        s
    })
}

/// Drops the reader's references to the symbols once a log is read (frames keep theirs).
pub(crate) fn forget_symbols() {
    SYMBOLS.with(|set| *set.borrow_mut() = SymbolSet::default());
}

/// A stack address column: 8 hex digits (x86) or 16 with a backtick (x64).
fn address_bytes(tok: &[u8]) -> Option<u64> {
    let plain = tok.len() == 8 || tok.len() == 16;
    let backtick = tok.len() == 17 && tok.get(8) == Some(&b'`');
    if !(plain || backtick) {
        return None;
    }
    hex_bytes(tok)
}

/// `Name   = value` lines of `!cs` and `!locks`.
pub(crate) fn key_value(line: &str) -> Option<(&str, &str)> {
    let (k, v) = line.split_once('=')?;
    let k = k.trim();
    if k.is_empty() || k.contains("  ") && k.split_whitespace().count() > 3 {
        return None;
    }
    Some((k, v.trim()))
}

/// A debugger prompt: the command after it, and whether the effective machine
/// is x86 on an x64 target (`0: kd:x86> `, `0:000:x86> `: after `.effmach x86`
/// or `.thread /w`, stacks are the 32-bit WOW64 ones).
pub(crate) struct Prompt<'a> {
    pub command: &'a str,
    pub x86: bool,
    /// User mode: the debugger's number of the current thread (`0:003>` is
    /// thread 3), whose stack `k` prints.
    pub user_thread: Option<u32>,
    /// User mode: the debugger's number of the current process (`1:003>` is
    /// process 1, the numbering `|` prints).
    pub user_process: Option<u32>,
}

/// A debugger prompt and the command after it: `0: kd> !cs -l -o -s`, `kd> `,
/// `0:000> ~*kv`, `0:000:x86> k`, `0: kd:x86> kb`, `lkd> `, `03: kd> `.
pub(crate) fn prompt(line: &str) -> Option<Prompt<'_>> {
    let t = line.trim_ascii_start();
    // Cheap rejection first: every prompt has `>` within its first 16 bytes.
    // Cheap rejection first (this runs on every line): a prompt starts with
    // `kd`, `lkd`, or a processor/process number followed by `:`.
    let b = t.as_bytes();
    let digits = b.iter().take(4).take_while(|c| c.is_ascii_digit()).count();
    let plausible = match b.get(digits) {
        Some(b':') => digits > 0,
        Some(b'k' | b'l') => digits == 0,
        _ => false,
    };
    if !plausible {
        return None;
    }
    let mut i = t;
    // `000` in `0:000>` has leading zeros, so digits, not dec_uint.
    let parsed: PResult<(bool, Option<(u32, u32)>)> = alt((
        (
            opt((digit1, literal(": "))),
            literal("kd"),
            opt(literal(":x86")),
            literal("> "),
        )
            .map(|(_, _, x86, _)| (x86.is_some(), None)),
        literal("lkd> ").value((false, None)),
        (
            digit1,
            literal(':'),
            digit1,
            opt(literal(":x86")),
            literal("> "),
        )
            .map(|(p, _, n, x86, _): (&str, _, &str, _, _)| {
                (x86.is_some(), p.parse().ok().zip(n.parse().ok()))
            }),
    ))
    .parse_next(&mut i);
    if let Ok((x86, user)) = parsed {
        return Some(Prompt {
            command: i.trim(),
            x86,
            user_thread: user.map(|u| u.1),
            user_process: user.map(|u| u.0),
        });
    }
    // A prompt with nothing typed after it (`0: kd>` at the end of a line).
    let t = t.trim_end();
    if (t.ends_with("kd>") || t.ends_with("kd:x86>")) && t.len() <= 12 {
        return Some(Prompt {
            command: "",
            x86: t.ends_with("x86>"),
            user_thread: None,
            user_process: None,
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_header_x86_wait() {
        let h = thread_header("THREAD 89d475a8  Cid 0fa4.0f48  Teb: 7ffda000 Win32Thread: 00000000 WAIT: (WrLpcReply) UserMode Non-Alertable").unwrap();
        assert_eq!(h.address, 0x89d475a8);
        assert_eq!((h.pid, h.tid), (0xfa4, 0xf48));
        assert_eq!(h.teb, Some(0x7ffda000));
        assert_eq!(
            h.state,
            ThreadState::Wait {
                reason: "WrLpcReply".into(),
                mode: "UserMode".into(),
                alertable: false
            }
        );
    }

    #[test]
    fn thread_header_x64_running() {
        let h = thread_header("        THREAD fffffa801f3a3bb0  Cid 4b4c.5fec  Teb: 000000007efaa000 Win32Thread: fffff900c1efad50 RUNNING on processor 1").unwrap();
        assert_eq!(h.address, 0xfffffa801f3a3bb0);
        assert_eq!(h.state, ThreadState::Running { processor: Some(1) });
    }

    #[test]
    fn wait_start_with_and_without_ticks() {
        assert_eq!(
            wait_start("Wait Start TickCount      1845699        Ticks: 1284370 (0:05:34:28.281)"),
            Some((1845699, Some(1284370), Some("0:05:34:28.281".into())))
        );
        assert_eq!(
            wait_start("Wait Start TickCount      4755080     "),
            Some((4755080, None, None))
        );
        assert_eq!(
            wait_start("Wait Start TickCount      10242012       Ticks: 0"),
            Some((10242012, Some(0), None))
        );
        assert_eq!(dhms_ms("0:05:34:28.281"), Some(20_068_281));
        assert_eq!(dhms_ms("4:10:03:56.640"), Some(381_836_640));
        assert_eq!(dhms_ms("00:00:00.0093"), Some(9));
        assert_eq!(dhms_ms("0:00:05.5"), Some(5_500));
        assert_eq!(dhms_ms("0:00:05"), Some(5_000));
        assert_eq!(dhms_ms("0:0x:05.5"), None);
    }

    /// The column reader is a shortcut: on every line it accepts, the token reader
    /// must give the same frame. Checked on every line of the fixture logs, on
    /// hand-made odd forms, and on each of those with bytes changed at fixed seeds.
    #[test]
    fn column_reader_agrees_with_token_reader() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/cases");
        let mut lines: Vec<String> = Vec::new();
        for case in std::fs::read_dir(root).expect("fixtures/cases") {
            let path = case.expect("case").path().join("memory.log");
            if let Ok(text) = std::fs::read_to_string(&path) {
                lines.extend(text.lines().map(|l| trim_line(l).to_string()));
            }
        }
        lines.extend(
            [
                "b3a43c18 80892e9b nt!IoRemoveIoCompletion+0x3e",
                "fffff880`0351f4c0 fffff800`02ad8052 : 00000000`00000001 : nt!KiSwapContext+0x7a",
                "fffff8800351f4c0 fffff80002ad8052 nt!KiSwapContext+0x7a",
                "00 b3a43c18 80892e9b nt!IoRemoveIoCompletion+0x3e",
                "b3a43c18 80892e9b 00000001 00000002 00000003 00000004 00000005",
                "b3a43c18 80892e9b 00000001 0x00000002 sym",
                "b3a43c18 80892e9b 0000`001 sym",
                "b3a43c18 80892e9b 00000001 :",
                "b3a43c18 80892e9b :sym  (TrapFrame @ b88a0d64)\t x",
                "b3a43c18 80892e9b",
                "b3a43c18\t80892e9b\tsym",
                "b3a43c18 80892e9b 0000000000000001 sym",
                "b3a43c1`8 80892e9b sym",
            ]
            .map(String::from),
        );
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut rand = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        const BYTES: &[u8] = b"0123456789abcdefABCDEFxX`: \t!+_.()@";
        let mut checked = 0;
        for line in &lines {
            let mut variants = vec![line.clone()];
            for _ in 0..4 {
                let mut b = line.clone().into_bytes();
                if b.is_empty() {
                    break;
                }
                for _ in 0..=rand() % 3 {
                    let i = (rand() % b.len() as u64) as usize;
                    b[i] = BYTES[(rand() % BYTES.len() as u64) as usize];
                }
                variants.push(String::from_utf8_lossy(&b).into_owned());
            }
            for v in &variants {
                assert_eq!(frame(v), frame_by_tokens(v), "{v:?}");
                checked += 1;
            }
        }
        assert!(checked > 10_000, "only {checked} lines checked");
    }

    #[test]
    fn frames_share_symbols_and_keep_their_notes() {
        let f = |line: &str| frame(line).expect(line);
        let a = f("b3a43c18 80892e9b nt!KiSwapContext+0x7a");
        let b = f("b3a43c20 80892e9c nt!KiSwapContext+0x7a");
        let noted = f("b3a43c28 80892e9d nt!KiSwapContext+0x7a (TrapFrame @ b88a0d64)");
        // One copy of a symbol for every frame without a note.
        assert!(std::ptr::eq(a.symbol.as_str(), b.symbol.as_str()));
        assert_eq!(&*noted.symbol, "nt!KiSwapContext+0x7a");
        assert_eq!(noted.symbol.note(), Some("(TrapFrame @ b88a0d64)"));
        assert_ne!(a.symbol, noted.symbol);
        // The noted frame's symbol did not become the shared copy.
        let later = f("b3a43c30 80892e9e nt!KiSwapContext+0x7a");
        assert_eq!(later.symbol.note(), None);
        assert!(std::ptr::eq(a.symbol.as_str(), later.symbol.as_str()));
        assert_eq!(
            serde_json::to_string(&noted).expect("json"),
            r#"{"frame":3013884968,"ret":2156474013,"args":[],"symbol":"nt!KiSwapContext+0x7a","note":"(TrapFrame @ b88a0d64)"}"#
        );
        assert_eq!(
            serde_json::to_string(&a).expect("json"),
            r#"{"frame":3013884952,"ret":2156474011,"args":[],"symbol":"nt!KiSwapContext+0x7a","note":null}"#
        );
        // Millions of frames: keep one at 64 bytes.
        assert_eq!(std::mem::size_of::<Frame>(), 64);
    }

    #[test]
    fn frames_x86_x64_with_and_without_args() {
        let f = frame(
            "029ef3b8 7c910435 7c980600 00000000 00000000 ntdll!RtlEnterCriticalSection+0x46",
        )
        .unwrap();
        assert_eq!(f.args, vec![0x7c980600, 0, 0]);
        assert_eq!(f.function(), "ntdll!RtlEnterCriticalSection");
        let f = frame("b88a0d50 7c90e514 nt!KiFastCallEntry+0xfc (TrapFrame @ b88a0d64)").unwrap();
        assert!(f.args.is_empty());
        assert_eq!(f.symbol.note(), Some("(TrapFrame @ b88a0d64)"));
        let f = frame(
            "fffffad8`67f5a990 fffff800`01027752 : fffffa80`071181f0 : nt!KiSwapContext+0x85",
        )
        .unwrap();
        assert_eq!(f.frame, 0xfffffad867f5a990);
        assert_eq!(f.args, vec![0xfffffa80071181f0]);
        assert_eq!(&*f.symbol, "nt!KiSwapContext+0x85");
        let f = frame("b6438c10 00000000 0x0").unwrap();
        assert_eq!(&*f.symbol, "0x0");
        assert!(frame("f70c2f38  8b20100c").is_none());
        assert!(frame("Priority 8 BasePriority 8").is_none());
    }

    #[test]
    fn prompts() {
        let cmd = |l| prompt(l).map(|p| p.command);
        assert_eq!(cmd("0: kd> !cs -l -o -s"), Some("!cs -l -o -s"));
        assert_eq!(cmd("kd> !process 0 ff"), Some("!process 0 ff"));
        assert_eq!(cmd("0:000> ~*kv"), Some("~*kv"));
        assert_eq!(cmd("03: kd> !handle"), Some("!handle"));
        assert_eq!(
            cmd("6: kd> .process /r /p fffffade6f337040"),
            Some(".process /r /p fffffade6f337040")
        );
        assert_eq!(cmd("Implicit process is now 87f76020"), None);
        assert!(prompt("0:000:x86> ~*kv").is_some_and(|p| p.x86 && p.command == "~*kv"));
        assert_eq!(prompt("0:012> kv").and_then(|p| p.user_thread), Some(12));
        assert!(prompt("0: kd:x86> kb").is_some_and(|p| p.x86 && p.command == "kb"));
        assert!(prompt("0: kd> kb").is_some_and(|p| !p.x86));
        assert_eq!(cmd("0: kd>"), Some(""));
    }

    #[test]
    fn hex_tokens() {
        assert_eq!(hex_token("0x1b00"), Some(0x1b00));
        assert_eq!(hex_token("fffff800`01027752"), Some(0xfffff80001027752));
        assert_eq!(hex_token("00000000`00000000"), Some(0));
        assert_eq!(hex_token("`12"), None);
        assert_eq!(hex_token(""), None);
        assert_eq!(hex_token("0x"), None);
        assert_eq!(hex_token("12345678901234567"), None);
        assert_eq!(hex_token("12g4"), None);
    }

    #[test]
    fn wait_objects() {
        assert_eq!(
            wait_object("    85e9ba00  Mutant - owning thread 866d63e8"),
            Some((0x85e9ba00, "Mutant".into(), Some(0x866d63e8)))
        );
        assert_eq!(
            wait_object("    89d4779c  Semaphore Limit 0x1"),
            Some((0x89d4779c, "Semaphore Limit 0x1".into(), None))
        );
        assert_eq!(
            wait_object("    89b49008: (0006,01d8) Flags: 00000030  Mdl: 00000000"),
            None
        );
    }
}
