//! A strict, allocation-free JSON scanner (RFC 8259) for the JWS header and the claims set.
//!
//! The input is a `&str`, so it is valid UTF-8 already; the scanner checks the JSON grammar:
//! strings (no raw control characters; escapes `\" \\ \/ \b \f \n \r \t \uXXXX` with UTF-16
//! surrogates correctly paired), numbers (`-? (0 | [1-9][0-9]*) (.[0-9]+)? ([eE][+-]?[0-9]+)?`),
//! the literals `true`, `false`, `null`, arrays and objects nested at most [`MAX_DEPTH`] deep
//! (skipped iteratively, never recursed into), whitespace (space, tab, LF, CR).
//!
//! Strings are returned as [`JStr`]: the raw text between the quotes plus whether it contains
//! escapes; [`JStr::text`] unescapes (allocating only when there are escapes). Callers walk the
//! top-level object member by member and decide per member how strictly to read its value.

use std::borrow::Cow;

/// Deepest accepted nesting of arrays and objects, the outermost object included: serde_json's
/// recursion limit (it refuses the 128th level), so that whatever the scanner accepts,
/// serde_json can read.
pub(crate) const MAX_DEPTH: usize = 127;

/// The input is not what was expected (bad JSON, or a value of the wrong type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Malformed;

/// Result of the scanner.
pub(crate) type Scan<T> = Result<T, Malformed>;

/// Bytes that end the fast run inside a string: `"`, `\` and the control characters.
const STRING_STOP: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// Eight copies of byte `b`.
const fn splat(b: u8) -> u64 {
    u64::from_ne_bytes([b; 8])
}

/// For the 8 bytes of `w` (little-endian), a mask with bit 7 of each byte set where the byte
/// is `"`, `\` or below 0x20. Bytes above a match may be flagged too (borrows propagate
/// upwards), so only the lowest flagged byte is exact, which is the one the caller uses.
#[inline(always)]
fn string_stops(w: u64) -> u64 {
    const LO: u64 = splat(0x01);
    const HI: u64 = splat(0x80);
    let zero = |x: u64| x.wrapping_sub(LO) & !x;
    let quote = zero(w ^ splat(b'"'));
    let backslash = zero(w ^ splat(b'\\'));
    let control = w.wrapping_sub(splat(0x20)) & !w;
    (quote | backslash | control) & HI
}

/// A JSON string as it appears in the input: the text between the quotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct JStr<'de> {
    /// The raw text between the quotes (escapes not resolved; already validated).
    pub(crate) raw: &'de str,
    /// True if `raw` contains at least one escape.
    pub(crate) escaped: bool,
}

impl<'de> JStr<'de> {
    /// The string's value: borrowed when it has no escapes.
    #[inline]
    pub(crate) fn text(self) -> Cow<'de, str> {
        if self.escaped {
            Cow::Owned(unescape(self.raw))
        } else {
            Cow::Borrowed(self.raw)
        }
    }
}

/// Resolves the escapes of a string's raw text, which the scanner has validated.
fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        let b = rest.as_bytes();
        let (c, used) = match b.get(at + 1) {
            Some(b'b') => ('\u{8}', 2),
            Some(b'f') => ('\u{c}', 2),
            Some(b'n') => ('\n', 2),
            Some(b'r') => ('\r', 2),
            Some(b't') => ('\t', 2),
            Some(b'u') => {
                let hi = hex4(b.get(at + 2..).unwrap_or_default()).unwrap_or(0xFFFD);
                if (0xD800..0xDC00).contains(&hi) {
                    let lo = hex4(b.get(at + 8..).unwrap_or_default()).unwrap_or(0xDC00);
                    let c = 0x1_0000 + ((u32::from(hi) - 0xD800) << 10) + (u32::from(lo) - 0xDC00);
                    (char::from_u32(c).unwrap_or('\u{FFFD}'), 12)
                } else {
                    (char::from_u32(u32::from(hi)).unwrap_or('\u{FFFD}'), 6)
                }
            }
            // `"`, `\` and `/` stand for themselves.
            Some(&other) => (char::from(other), 2),
            None => break,
        };
        out.push(c);
        rest = rest.get(at + used..).unwrap_or_default();
    }
    out.push_str(rest);
    out
}

/// The value of 4 hex digits at the start of `b`.
#[inline]
fn hex4(b: &[u8]) -> Option<u16> {
    let digits = b.get(..4)?;
    let mut v = 0u16;
    for &d in digits {
        let x = match d {
            b'0'..=b'9' => d - b'0',
            b'a'..=b'f' => d - b'a' + 10,
            b'A'..=b'F' => d - b'A' + 10,
            _ => return None,
        };
        v = (v << 4) | u16::from(x);
    }
    Some(v)
}

/// What a scalar value was (containers are reported after being skipped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind<'de> {
    /// A string.
    Str(JStr<'de>),
    /// A number; `Some(n)` when it is a plain non-negative integer (digits only, no sign,
    /// fraction or exponent) that fits a `u64`.
    Num(Option<u64>),
    /// `true`.
    True,
    /// `false`.
    False,
    /// `null`.
    Null,
    /// An array or an object (already skipped).
    Container,
}

/// A position in a JSON text.
pub(crate) struct Cursor<'de> {
    s: &'de str,
    pos: usize,
}

impl<'de> Cursor<'de> {
    /// A cursor at the start of `s`.
    #[inline]
    pub(crate) fn new(s: &'de str) -> Self {
        Self { s, pos: 0 }
    }

    /// The whole text.
    #[inline]
    pub(crate) fn text(&self) -> &'de str {
        self.s
    }

    /// The byte offset of the cursor.
    #[inline]
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// Moves the cursor to `pos`.
    #[inline]
    pub(crate) fn seek(&mut self, pos: usize) {
        self.pos = pos;
    }

    /// Consumes the literal `word` if it comes next (no whitespace skipped).
    #[inline]
    pub(crate) fn eat_literal(&mut self, word: &[u8]) -> bool {
        self.literal(word).is_ok()
    }

    /// The text from `start` to the cursor.
    #[inline]
    pub(crate) fn since(&self, start: usize) -> &'de str {
        self.s.get(start..self.pos).unwrap_or_default()
    }

    /// The next byte, if any.
    #[inline]
    pub(crate) fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }

    /// Skips whitespace and returns the next byte.
    #[inline(always)]
    pub(crate) fn ws_peek(&mut self) -> Option<u8> {
        let b = self.s.as_bytes();
        while let Some(&c) = b.get(self.pos) {
            if c > b' ' || !matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
                return Some(c);
            }
            self.pos += 1;
        }
        None
    }

    /// Skips whitespace, then consumes `c` or fails.
    #[inline(always)]
    pub(crate) fn expect(&mut self, c: u8) -> Scan<()> {
        if self.ws_peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(Malformed)
        }
    }

    /// Skips whitespace; consumes `c` and returns true if it comes next.
    #[inline(always)]
    pub(crate) fn eat(&mut self, c: u8) -> bool {
        let next = self.ws_peek() == Some(c);
        if next {
            self.pos += 1;
        }
        next
    }

    /// Skips whitespace and fails unless the input ends there.
    #[inline]
    pub(crate) fn end(&mut self) -> Scan<()> {
        match self.ws_peek() {
            None => Ok(()),
            Some(_) => Err(Malformed),
        }
    }

    /// Skips whitespace and consumes the next byte, which must be `,` (→ `true`: another
    /// element follows) or `close` (→ `false`).
    #[inline(always)]
    pub(crate) fn comma_or(&mut self, close: u8) -> Scan<bool> {
        match self.ws_peek() {
            Some(b',') => {
                self.pos += 1;
                Ok(true)
            }
            Some(c) if c == close => {
                self.pos += 1;
                Ok(false)
            }
            _ => Err(Malformed),
        }
    }

    /// Skips whitespace and reads the string that must start there.
    #[inline(always)]
    pub(crate) fn string(&mut self) -> Scan<JStr<'de>> {
        if self.ws_peek() != Some(b'"') {
            return Err(Malformed);
        }
        self.string_body()
    }

    /// Reads a string; the cursor is at its opening quote.
    #[inline(always)]
    fn string_body(&mut self) -> Scan<JStr<'de>> {
        let b = self.s.as_bytes();
        let start = self.pos + 1;
        let mut i = start;
        let mut escaped = false;
        loop {
            // Eight bytes at a time while they last (the stop byte is taken from the loaded
            // word, not loaded again), then byte by byte.
            let stop = loop {
                if let Some(chunk) = b.get(i..i + 8) {
                    let mut w = [0u8; 8];
                    w.copy_from_slice(chunk);
                    let w = u64::from_le_bytes(w);
                    let stops = string_stops(w);
                    if stops == 0 {
                        i += 8;
                        continue;
                    }
                    let bit = stops.trailing_zeros();
                    i += (bit / 8) as usize;
                    break Some((w >> (bit & !7)) as u8);
                }
                while b.get(i).is_some_and(|&c| !STRING_STOP[usize::from(c)]) {
                    i += 1;
                }
                break b.get(i).copied();
            };
            match stop {
                Some(b'"') => {
                    self.pos = i + 1;
                    let raw = self.s.get(start..i).ok_or(Malformed)?;
                    return Ok(JStr { raw, escaped });
                }
                Some(b'\\') => {
                    escaped = true;
                    i = escape(b, i + 1)?;
                }
                // A control character, or the end of the input.
                _ => return Err(Malformed),
            }
        }
    }

    /// Reads a number; the cursor is at its first byte.
    #[inline]
    pub(crate) fn number(&mut self) -> Scan<Option<u64>> {
        let b = self.s.as_bytes();
        let mut i = self.pos;
        let negative = b.get(i) == Some(&b'-');
        if negative {
            i += 1;
        }
        let first = i;
        let mut value: u64 = 0;
        match b.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => {
                // Eight digits at a time, then one by one; exact while at most 19 digits.
                while let Some(chunk) = b.get(i..i + 8) {
                    let mut w = [0u8; 8];
                    w.copy_from_slice(chunk);
                    let Some(eight) = eight_digits(u64::from_le_bytes(w)) else {
                        break;
                    };
                    value = value.wrapping_mul(100_000_000).wrapping_add(eight);
                    i += 8;
                }
                while let Some(&d @ b'0'..=b'9') = b.get(i) {
                    value = value.wrapping_mul(10).wrapping_add(u64::from(d - b'0'));
                    i += 1;
                }
            }
            _ => return Err(Malformed),
        }
        // Up to 19 digits always fit a u64; 20 may; more never do.
        let value = match i - first {
            0..=19 => Some(value),
            20 => b
                .get(first..i)
                .unwrap_or_default()
                .iter()
                .try_fold(0u64, |v, &d| {
                    v.checked_mul(10)?.checked_add(u64::from(d - b'0'))
                }),
            _ => None,
        };
        let mut plain = !negative;
        if b.get(i) == Some(&b'.') {
            plain = false;
            i = digits(b, i + 1)?;
        }
        if let Some(b'e' | b'E') = b.get(i) {
            plain = false;
            i += 1;
            if let Some(b'+' | b'-') = b.get(i) {
                i += 1;
            }
            i = digits(b, i)?;
        }
        self.pos = i;
        Ok(if plain { value } else { None })
    }

    /// Consumes the literal `word` (the cursor is at its first byte).
    #[inline]
    fn literal(&mut self, word: &[u8]) -> Scan<()> {
        let b = self.s.as_bytes();
        if b.get(self.pos..self.pos + word.len()) == Some(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(Malformed)
        }
    }

    /// Skips whitespace and reads one value of any kind; `depth` is the number of arrays and
    /// objects already open around it (1 for a member of the top-level object).
    #[inline(always)]
    pub(crate) fn value(&mut self, depth: usize) -> Scan<Kind<'de>> {
        match self.ws_peek() {
            Some(b'[' | b'{') => self.container(depth).map(|()| Kind::Container),
            _ => self.scalar(),
        }
    }

    /// Reads a string, number or literal (whitespace already skipped).
    #[inline(always)]
    fn scalar(&mut self) -> Scan<Kind<'de>> {
        match self.peek() {
            Some(b'"') => self.string_body().map(Kind::Str),
            Some(b'-' | b'0'..=b'9') => self.number().map(Kind::Num),
            Some(b't') => self.literal(b"true").map(|()| Kind::True),
            Some(b'f') => self.literal(b"false").map(|()| Kind::False),
            Some(b'n') => self.literal(b"null").map(|()| Kind::Null),
            _ => Err(Malformed),
        }
    }

    /// Skips an array or object (the cursor is at its `[` or `{`) without recursion; `outer`
    /// containers are already open around it.
    fn container(&mut self, outer: usize) -> Scan<()> {
        // One bit per open container, innermost lowest: 1 for an object.
        let mut stack: u128 = 0;
        let mut depth = outer;
        // At the loop head the cursor is at the next value to read.
        loop {
            if let Some(open @ (b'[' | b'{')) = self.ws_peek() {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(Malformed);
                }
                let object = open == b'{';
                stack = (stack << 1) | u128::from(object);
                self.pos += 1;
                if self.ws_peek() == Some(if object { b'}' } else { b']' }) {
                    // Empty: closed at once.
                    self.pos += 1;
                    depth -= 1;
                    stack >>= 1;
                } else {
                    if object {
                        self.string()?;
                        self.expect(b':')?;
                    }
                    continue;
                }
            } else {
                self.scalar()?;
            }
            // After a value: close containers until one has a next element.
            loop {
                if depth == outer {
                    return Ok(());
                }
                let object = stack & 1 == 1;
                if self.comma_or(if object { b'}' } else { b']' })? {
                    if object {
                        self.string()?;
                        self.expect(b':')?;
                    }
                    break;
                }
                depth -= 1;
                stack >>= 1;
            }
        }
    }
}

/// The value of eight ASCII digits (the first one in the lowest byte), or `None` if one of
/// the bytes is not a digit.
#[inline(always)]
fn eight_digits(w: u64) -> Option<u64> {
    // Each byte in 0x30..=0x39: its high nibble is 3, and adding 6 keeps it 3.
    if w & splat(0xF0) != splat(0x30) || w.wrapping_add(splat(0x06)) & splat(0xF0) != splat(0x30) {
        return None;
    }
    // Pairs, then quadruples, then the eight (the first digit is the most significant).
    let v = w - splat(b'0');
    let v = v.wrapping_mul(10).wrapping_add(v >> 8);
    const MASK: u64 = 0x0000_00FF_0000_00FF;
    const MUL1: u64 = 100 + (1_000_000 << 32);
    const MUL2: u64 = 1 + (10_000 << 32);
    Some(
        ((v & MASK)
            .wrapping_mul(MUL1)
            .wrapping_add(((v >> 16) & MASK).wrapping_mul(MUL2)))
            >> 32,
    )
}

/// Skips `[0-9]+` from `i`; the position after the digits.
#[inline]
fn digits(b: &[u8], mut i: usize) -> Scan<usize> {
    let start = i;
    while let Some(b'0'..=b'9') = b.get(i) {
        i += 1;
    }
    if i == start { Err(Malformed) } else { Ok(i) }
}

/// Checks the escape whose character (after the `\`) is at `i`; the position after it.
fn escape(b: &[u8], i: usize) -> Scan<usize> {
    match b.get(i) {
        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => Ok(i + 1),
        Some(b'u') => {
            let n = hex4(b.get(i + 1..).unwrap_or_default()).ok_or(Malformed)?;
            match n {
                // A trailing surrogate on its own.
                0xDC00..=0xDFFF => Err(Malformed),
                // A leading surrogate: a trailing one must follow as `\uXXXX`.
                0xD800..=0xDBFF => {
                    if b.get(i + 5..i + 7) != Some(b"\\u") {
                        return Err(Malformed);
                    }
                    match hex4(b.get(i + 7..).unwrap_or_default()) {
                        Some(0xDC00..=0xDFFF) => Ok(i + 11),
                        _ => Err(Malformed),
                    }
                }
                _ => Ok(i + 5),
            }
        }
        _ => Err(Malformed),
    }
}

#[cfg(test)]
mod tests;
