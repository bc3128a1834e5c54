//! Strict base64url (RFC 4648 §5, no padding, canonical trailing bits).
//!
//! Decoding refuses everything a lenient decoder would let through: padding (`=`), the standard
//! alphabet's `+` and `/`, whitespace, lengths with `len % 4 == 1`, and non-zero trailing bits
//! (so every byte string has exactly one accepted encoding). Hand-written because the inputs are
//! short (tens to hundreds of bytes) and decoding into a caller's stack buffer avoids allocating.

/// The base64url alphabet.
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Marks a byte that is not in the alphabet.
const INVALID: u8 = 0xFF;

/// Byte → 6-bit value, or [`INVALID`].
const DECODE: [u8; 256] = {
    let mut t = [INVALID; 256];
    let mut i = 0;
    while i < 64 {
        t[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    t
};

/// Marks an invalid byte in [`SHIFTED`] (bits no valid quad sets).
const INVALID_SHIFTED: u32 = 0xFF00_0000;

/// For each position in a quad, byte → its 6 bits already in place in the quad's three
/// decoded bytes, stored little-endian (byte 0 of the `u32` is the first decoded byte), or
/// [`INVALID_SHIFTED`]: decoding a quad is four lookups and three ORs, and the result is
/// stored as it is.
const SHIFTED: [[u32; 256]; 4] = {
    let mut t = [[INVALID_SHIFTED; 256]; 4];
    let mut i = 0;
    while i < 256 {
        let d = DECODE[i];
        if d != INVALID {
            let d = d as u32;
            // First byte: d0 << 2 | d1 >> 4; second: d1 << 4 | d2 >> 2; third: d2 << 6 | d3.
            t[0][i] = d << 2;
            t[1][i] = (d >> 4) | ((d & 0x0F) << 12);
            t[2][i] = ((d >> 2) << 8) | ((d & 0x03) << 22);
            t[3][i] = d << 16;
        }
        i += 1;
    }
    t
};

/// The input is not strict base64url.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Invalid;

/// How many bytes `encoded_len` characters decode to, or `None` if no strict encoding has
/// that length (`encoded_len % 4 == 1`).
pub(crate) const fn decoded_len(encoded_len: usize) -> Option<usize> {
    match encoded_len % 4 {
        0 => Some(encoded_len / 4 * 3),
        2 => Some(encoded_len / 4 * 3 + 1),
        3 => Some(encoded_len / 4 * 3 + 2),
        _ => None,
    }
}

/// How many characters `len` bytes encode to (no padding).
pub(crate) const fn encoded_len(len: usize) -> usize {
    len / 3 * 4
        + match len % 3 {
            0 => 0,
            1 => 2,
            _ => 3,
        }
}

/// Decodes `input` into the front of `out` and returns the decoded length.
///
/// `out` must hold at least [`decoded_len`]`(input.len())` bytes; if it is shorter the input
/// is reported as [`Invalid`] (callers size the buffer first).
pub(crate) fn decode_into(input: &[u8], out: &mut [u8]) -> Result<usize, Invalid> {
    let n = decoded_len(input.len()).ok_or(Invalid)?;
    if out.len() < n {
        return Err(Invalid);
    }
    let full = input.len() / 4;
    let (quads, rest) = input.split_at(full * 4);
    let mut bad = 0u32;
    let quad = |c: &[u8]| {
        SHIFTED[0][usize::from(c[0])]
            | SHIFTED[1][usize::from(c[1])]
            | SHIFTED[2][usize::from(c[2])]
            | SHIFTED[3][usize::from(c[3])]
    };
    // Two quads at a time, each written as 4 bytes whose last one the next write overwrites
    // (one store instead of three); the last quads exactly.
    let mut o = 0;
    let mut pairs = quads.chunks_exact(8);
    for pair in &mut pairs {
        let Some(dst) = out.get_mut(o..o + 8) else {
            break;
        };
        let (a, b) = (quad(&pair[..4]), quad(&pair[4..]));
        bad |= a | b;
        dst[..4].copy_from_slice(&a.to_le_bytes());
        dst[3..7].copy_from_slice(&b.to_le_bytes());
        o += 6;
    }
    for (chunk, dst) in quads[o / 3 * 4..]
        .chunks_exact(4)
        .zip(out[o..].chunks_exact_mut(3))
    {
        let v = quad(chunk);
        bad |= v;
        dst.copy_from_slice(&v.to_le_bytes()[..3]);
    }
    if bad & INVALID_SHIFTED != 0 {
        return Err(Invalid);
    }
    let o = full * 3;
    match *rest {
        [] => {}
        [x, y] => {
            let (a, b) = (DECODE[usize::from(x)], DECODE[usize::from(y)]);
            // The low 4 bits of the last character are padding bits and must be zero.
            if (a | b) & 0x80 != 0 || b & 0x0F != 0 {
                return Err(Invalid);
            }
            out[o] = (a << 2) | (b >> 4);
        }
        [x, y, z] => {
            let (a, b, c) = (
                DECODE[usize::from(x)],
                DECODE[usize::from(y)],
                DECODE[usize::from(z)],
            );
            // The low 2 bits of the last character are padding bits and must be zero.
            if (a | b | c) & 0x80 != 0 || c & 0x03 != 0 {
                return Err(Invalid);
            }
            out[o] = (a << 2) | (b >> 4);
            out[o + 1] = (b << 4) | (c >> 2);
        }
        _ => return Err(Invalid),
    }
    Ok(n)
}

/// Decodes `input` into a new vector.
pub(crate) fn decode(input: &[u8]) -> Result<Vec<u8>, Invalid> {
    let mut out = vec![0; decoded_len(input.len()).ok_or(Invalid)?];
    decode_into(input, &mut out)?;
    Ok(out)
}

/// True if `input` is strict base64url (checks without keeping the bytes).
pub(crate) fn is_valid(input: &[u8]) -> bool {
    // Every 64-character slice but the last is a whole number of quads, so checking the
    // slices one by one is the same as checking the whole input.
    let mut buf = [0u8; 48];
    input.chunks(64).all(|c| decode_into(c, &mut buf).is_ok())
}

/// Appends the encoding of `bytes` to `out`.
pub(crate) fn encode_to(bytes: &[u8], out: &mut String) {
    out.reserve(encoded_len(bytes.len()));
    let sym = |v: u32| char::from(ALPHABET[(v & 63) as usize]);
    let mut chunks = bytes.chunks_exact(3);
    for c in &mut chunks {
        let v = (u32::from(c[0]) << 16) | (u32::from(c[1]) << 8) | u32::from(c[2]);
        out.push(sym(v >> 18));
        out.push(sym(v >> 12));
        out.push(sym(v >> 6));
        out.push(sym(v));
    }
    match *chunks.remainder() {
        [a] => {
            let v = u32::from(a) << 16;
            out.push(sym(v >> 18));
            out.push(sym(v >> 12));
        }
        [a, b] => {
            let v = (u32::from(a) << 16) | (u32::from(b) << 8);
            out.push(sym(v >> 18));
            out.push(sym(v >> 12));
            out.push(sym(v >> 6));
        }
        _ => {}
    }
}

/// The encoding of `bytes`.
pub(crate) fn encode(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(encoded_len(bytes.len()));
    encode_to(bytes, &mut s);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str) -> Result<Vec<u8>, Invalid> {
        decode(s.as_bytes())
    }

    #[test]
    fn round_trips_every_length_and_byte() {
        let data: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
        for len in 0..data.len() {
            let enc = encode(&data[..len]);
            assert_eq!(enc.len(), encoded_len(len));
            assert_eq!(dec(&enc).unwrap(), &data[..len], "length {len}");
            assert!(is_valid(enc.as_bytes()));
        }
    }

    #[test]
    fn matches_rfc_4648_vectors_without_padding() {
        for (plain, enc) in [
            ("", ""),
            ("f", "Zg"),
            ("fo", "Zm8"),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg"),
            ("fooba", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(encode(plain.as_bytes()), enc);
            assert_eq!(dec(enc).unwrap(), plain.as_bytes());
        }
        assert_eq!(encode(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn padding_is_refused() {
        assert_eq!(dec("Zg=="), Err(Invalid));
        assert_eq!(dec("Zm8="), Err(Invalid));
        assert_eq!(dec("Zg="), Err(Invalid));
    }

    #[test]
    fn standard_alphabet_is_refused() {
        assert_eq!(dec("-_8"), Ok(vec![0xfb, 0xff]));
        assert_eq!(dec("+/8"), Err(Invalid));
        assert_eq!(dec("ab+c"), Err(Invalid));
        assert_eq!(dec("ab/c"), Err(Invalid));
    }

    #[test]
    fn whitespace_and_other_bytes_are_refused() {
        for s in [
            "Zm9v Yg",
            "Zm9v\nYg",
            " Zm9v",
            "Zm9v\t",
            "Zm9.",
            "Zm\u{e9}v",
        ] {
            assert_eq!(dec(s), Err(Invalid), "{s:?}");
        }
        assert_eq!(decode(&[b'Z', b'm', 0, b'v']), Err(Invalid));
        assert_eq!(decode(&[b'Z', b'm', 0xc3, 0xa9]), Err(Invalid));
    }

    #[test]
    fn non_canonical_trailing_bits_are_refused() {
        // "Zg" is 'f'; "Zh".."Zv" differ only in the 4 discarded bits.
        assert_eq!(dec("Zg"), Ok(b"f".to_vec()));
        for s in ["Zh", "Zi", "Zj", "Zv"] {
            assert_eq!(dec(s), Err(Invalid), "{s}");
        }
        // "Zm8" is "fo"; "Zm9" sets one of the 2 discarded bits.
        assert_eq!(dec("Zm8"), Ok(b"fo".to_vec()));
        assert_eq!(dec("Zm9"), Err(Invalid));
        assert_eq!(dec("Zm-"), Err(Invalid));
    }

    #[test]
    fn impossible_lengths_are_refused() {
        assert_eq!(dec("Z"), Err(Invalid));
        assert_eq!(dec("Zm9vY"), Err(Invalid));
        assert_eq!(decoded_len(5), None);
        assert!(!is_valid(b"Zm9vY"));
    }

    #[test]
    fn decode_into_refuses_a_short_buffer() {
        let mut out = [0u8; 2];
        assert_eq!(decode_into(b"Zm9v", &mut out), Err(Invalid));
        let mut out = [0u8; 3];
        assert_eq!(decode_into(b"Zm9v", &mut out), Ok(3));
    }

    #[test]
    fn is_valid_checks_long_inputs_in_chunks() {
        let data = vec![7u8; 1000];
        let mut enc = encode(&data);
        assert!(is_valid(enc.as_bytes()));
        enc.insert(500, '=');
        assert!(!is_valid(enc.as_bytes()));
        let enc = encode(&[1u8; 48]);
        assert_eq!(enc.len(), 64);
        assert!(is_valid(enc.as_bytes()));
        assert!(!is_valid(format!("{enc}Zh").as_bytes()));
        assert!(is_valid(format!("{enc}Zg").as_bytes()));
    }
}
