//! Unit tests of the scanner against serde_json.

use super::*;
use serde_json::Value;

/// The scanner's verdict on a whole JSON text (one value, whitespace around it).
fn valid(json: &str) -> bool {
    let mut cur = Cursor::new(json);
    cur.value(0).is_ok() && cur.end().is_ok()
}

/// serde_json's verdict (a `Value`: strings must be valid Unicode).
fn serde_valid(json: &str) -> bool {
    serde_json::from_str::<Value>(json).is_ok()
}

#[test]
fn strings_and_escapes_agree_with_serde_json() {
    for json in [
        r#""""#,
        r#""abc""#,
        r#""\"\\\/\b\f\n\r\t""#,
        r#""\u0041\u00e9\u20AC""#,
        r#""\ud83d\ude00""#,
        r#""\uD83D\uDE00x""#,
        r#""\ud800""#,
        r#""\udc00""#,
        r#""\ud800\u0041""#,
        r#""\ud800\ud800""#,
        r#""\ud800\\""#,
        r#""\ud800x""#,
        r#""\u12""#,
        r#""\uZZZZ""#,
        r#""\x""#,
        r#""\'""#,
        "\"\u{7f}\"",
        "\"é😀\"",
        "\"a\u{0}\"",
        "\"a\u{1f}\"",
        "\"a\tb\"",
        "\"abc",
        "\"abc\\",
        "\"abc\\\"",
    ] {
        assert_eq!(valid(json), serde_valid(json), "{json}");
        if valid(json) {
            let mut cur = Cursor::new(json);
            let s = cur.string().unwrap();
            let want: String = serde_json::from_str(json).unwrap();
            assert_eq!(s.text(), want, "{json}");
            assert_eq!(s.escaped, json.contains('\\'), "{json}");
        }
    }
}

/// Every position of a special byte in strings of every length (the eight-byte steps).
#[test]
fn special_bytes_are_found_at_every_position() {
    for len in 0..40 {
        for at in 0..len {
            for special in ["\"", "\\n", "\u{1}", "é", "\\u00e9", "\\"] {
                let body: String = (0..len)
                    .map(|i| {
                        if i == at {
                            special.to_owned()
                        } else {
                            "a".to_owned()
                        }
                    })
                    .collect();
                let json = format!("\"{body}\"");
                assert_eq!(valid(&json), serde_valid(&json), "{json:?}");
                let trailing = format!("{json} ");
                assert_eq!(valid(&trailing), serde_valid(&trailing), "{trailing:?}");
            }
        }
    }
}

#[test]
fn numbers_agree_with_serde_json_grammar() {
    for json in [
        "0",
        "-0",
        "1",
        "-1",
        "10",
        "1.5",
        "-1.5e10",
        "1E+2",
        "1e-2",
        "0.0",
        "123456789",
        "18446744073709551615",
        "18446744073709551616",
        "01",
        "-01",
        "1.",
        ".5",
        "-",
        "+1",
        "1e",
        "1e+",
        "1.e5",
        "0x10",
        "1_000",
        "--1",
        "1.5.5",
        "1e5e5",
        "Infinity",
        "NaN",
    ] {
        assert_eq!(valid(json), serde_valid(json), "{json}");
    }
    let num = |s: &str| Cursor::new(s).number().ok().flatten();
    assert_eq!(num("0"), Some(0));
    assert_eq!(num("42"), Some(42));
    assert_eq!(num("18446744073709551615"), Some(u64::MAX));
    assert_eq!(num("18446744073709551616"), None);
    assert_eq!(num("99999999999999999999"), None);
    assert_eq!(num("123456789012345678901"), None);
    assert_eq!(num("-1"), None);
    assert_eq!(num("-0"), None);
    assert_eq!(num("1.0"), None);
    assert_eq!(num("1e0"), None);
}

#[test]
fn literals_whitespace_and_structure_agree_with_serde_json() {
    for json in [
        "true",
        "false",
        "null",
        "tru",
        "nul",
        "True",
        "truex",
        " true ",
        "\ttrue\r\n",
        "\u{b}true",
        "\u{c}true",
        "\u{a0}true",
        "[]",
        "[1]",
        "[1,]",
        "[,1]",
        "[1 2]",
        "{}",
        r#"{"a":1}"#,
        r#"{"a":1,}"#,
        r#"{"a" 1}"#,
        r#"{a:1}"#,
        r#"{"a":1 "b":2}"#,
        r#"{"a":[1,{"b":[]}],"c":{}}"#,
        "[1]]",
        "[[1]",
        "{]",
        "[}",
        "",
        " ",
        "1 2",
        r#"{"a":1}}"#,
        "[\"a\",\n \"b\" ,\"c\"\r]",
    ] {
        assert_eq!(valid(json), serde_valid(json), "{json:?}");
    }
}

#[test]
fn nesting_is_limited_like_serde_json() {
    for depth in [1, 2, 126, 127, 128, 129, 5000] {
        for (open, close) in [("[", "]"), ("{\"a\":", "}")] {
            let inner = if open == "[" { "" } else { "1" };
            let json = format!("{}{inner}{}", open.repeat(depth), close.repeat(depth));
            assert_eq!(valid(&json), depth <= MAX_DEPTH, "{open} {depth}");
            assert_eq!(valid(&json), serde_valid(&json), "{open} {depth}");
        }
    }
    // The depth of the surrounding containers counts.
    let mut cur = Cursor::new("[[]]");
    assert!(cur.value(MAX_DEPTH - 2).is_ok());
    let mut cur = Cursor::new("[[]]");
    assert!(cur.value(MAX_DEPTH - 1).is_err());
}

#[test]
fn eight_digits_at_once_match_one_by_one() {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..20_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let digits = format!("{:08}", x % 100_000_000);
        let w = u64::from_le_bytes(digits.as_bytes().try_into().unwrap());
        assert_eq!(eight_digits(w), Some(x % 100_000_000), "{digits}");
        // One byte out of range at each position.
        for at in 0..8 {
            for bad in [b'/', b':', b'a', b' ', 0x80, 0xB0] {
                let mut b: [u8; 8] = digits.as_bytes().try_into().unwrap();
                b[at] = bad;
                assert_eq!(eight_digits(u64::from_le_bytes(b)), None);
            }
        }
    }
    for n in [
        0u64,
        1,
        9,
        10,
        99_999_999,
        1_764_127_600,
        u64::MAX / 10,
        u64::MAX,
    ] {
        for text in [
            n.to_string(),
            format!("{n}.5"),
            format!("{n}e1"),
            format!("{n} "),
        ] {
            let mut cur = Cursor::new(&text);
            let plain = !text.contains(['.', 'e']);
            assert_eq!(cur.number(), Ok(plain.then_some(n)), "{text}");
        }
    }
}
