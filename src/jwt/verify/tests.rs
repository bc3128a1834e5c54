//! The fast path against the general one.

use super::*;
use crate::jwt::Signer;

#[test]
fn the_fast_path_gives_the_exact_path_s_results() {
    let signer = Signer::hs256("k1", b"0123456789abcdef0123456789abcdef").unwrap();
    let v: Verifier = Verifier::new(signer.verification_keys(), TokenSpec::default()).unwrap();
    let now = 1_700_000_000;
    let good = signer.sign_raw(
        br#"{"alg":"HS256","kid":"k1"}"#,
        br#"{"pid":"p","sid":"s","iat":1700000000,"exp":1700000600}"#,
    );
    let (h, rest) = good.split_once('.').unwrap();
    let (p, s) = rest.split_once('.').unwrap();
    let bad_header = "eyJhbGciOiJub25lIn0";
    let sig43 = "A".repeat(43);
    let pieces = [
        h, p, s, "", "AAAA", "AA", "A", bad_header, "x.y", "..", &sig43,
    ];
    let mut n = 0;
    for a in pieces {
        for b in pieces {
            for c in pieces {
                for d in ["", ".", ".AAAA", ".A", "..", &format!(".{s}")] {
                    let t = format!("{a}.{b}.{c}{d}");
                    let fast = v.verify(&t, now).map(|_| ());
                    let exact = v.verify_exact(&t, now).map(|_| ());
                    assert_eq!(fast, exact, "{t}");
                    n += 1;
                }
            }
        }
    }
    assert!(n > 1000);
    assert!(v.verify_fast(&good, now).is_ok());
}
