//! JWT verification: ours vs. `jsonwebtoken` vs. the floor (ring's signature/HMAC check alone),
//! on the same tokens (HS256 and EdDSA, ~200 bytes of claims).
//!
//! Run: `cargo bench --bench jwt`. Before the timings it prints the allocations of one
//! verification for each contender (counted by a wrapper around the system allocator) and
//! the ratios of interleaved runs. Ours keeps the permissions claim as JSON text until
//! `permissions()` is first called; one paired line includes that call, to compare with
//! jsonwebtoken's eager `Vec<String>`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_group, criterion_main};
use jwt_game_server::{NoClaims, Signer, TokenSpec, Verifier};
use ring::hmac;
use ring::signature::{ED25519, UnparsedPublicKey};
use serde::Deserialize;
use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Counts allocations while [`COUNTING`] is set.
struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call unchanged to the system allocator; only adds a counter.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by one call of `f` (the result is dropped outside the count).
fn allocations<R>(f: impl FnOnce() -> R) -> usize {
    ALLOCS.store(0, Ordering::SeqCst);
    COUNTING.store(true, Ordering::SeqCst);
    let r = f();
    COUNTING.store(false, Ordering::SeqCst);
    drop(r);
    ALLOCS.load(Ordering::SeqCst)
}

/// Times `a` and `b` in alternating blocks of `iters` calls and returns the median ns per call
/// of each: on a noisy machine the ratio of two interleaved medians is steadier than the ratio
/// of two benchmarks run one after the other.
fn paired(blocks: usize, iters: u32, mut a: impl FnMut(), mut b: impl FnMut()) -> (f64, f64) {
    let time = |f: &mut dyn FnMut()| {
        let t = Instant::now();
        for _ in 0..iters {
            f();
        }
        t.elapsed().as_nanos() as f64 / f64::from(iters)
    };
    let (mut ta, mut tb) = (Vec::new(), Vec::new());
    for _ in 0..blocks {
        ta.push(time(&mut a));
        tb.push(time(&mut b));
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    (median(&mut ta), median(&mut tb))
}

const SECRET: &[u8] = b"bench-secret-bench-secret-bench-secret!!";
const ISSUER: &str = "https://auth.example.com";
const AUDIENCE: &str = "game-server";

#[derive(Deserialize)]
#[allow(dead_code)]
struct PlayerInfo {
    name: String,
    level: u32,
}

/// Our extra claims: what the game keeps beyond the ids.
#[derive(Deserialize)]
#[allow(dead_code)]
struct Extra {
    #[serde(rename = "gameSlug")]
    game_slug: String,
    #[serde(rename = "playerInfo")]
    player_info: PlayerInfo,
}

/// jsonwebtoken's target: the same information in one struct.
#[derive(Deserialize)]
#[allow(dead_code)]
struct Full {
    iss: String,
    aud: String,
    pid: String,
    sid: String,
    iat: u64,
    exp: u64,
    jti: String,
    #[serde(rename = "gameSlug")]
    game_slug: String,
    permissions: Vec<String>,
    #[serde(rename = "playerInfo")]
    player_info: PlayerInfo,
}

fn claims(now: u64) -> serde_json::Map<String, serde_json::Value> {
    let v = serde_json::json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "pid": "player-4711",
        "sid": "table-42-eu",
        "gameSlug": "texas-holdem",
        "permissions": ["play", "chat"],
        "playerInfo": {"name": "Alice", "level": 17},
        "iat": now,
    });
    match v {
        serde_json::Value::Object(m) => m,
        _ => unreachable!(),
    }
}

fn spec() -> TokenSpec {
    TokenSpec::default()
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .permissions_claim("permissions")
        .leeway(Duration::from_secs(30))
}

fn jwt_validation(alg: jsonwebtoken::Algorithm) -> jsonwebtoken::Validation {
    let mut v = jsonwebtoken::Validation::new(alg);
    v.set_issuer(&[ISSUER]);
    v.set_audience(&[AUDIENCE]);
    v.leeway = 30;
    v.set_required_spec_claims(&["exp", "iss", "aud"]);
    v
}

fn bench(c: &mut Criterion) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();

    // HS256.
    let hs = Signer::hs256("k1", SECRET).expect("secret");
    let hs_token = hs.sign("JWT", claims(now), now, 3600);
    let ours_hs: Verifier<Extra> = Verifier::new(hs.verification_keys(), spec()).expect("spec");
    let ours_hs_none: Verifier<NoClaims> =
        Verifier::new(hs.verification_keys(), spec()).expect("spec");
    let jwt_hs_key = jsonwebtoken::DecodingKey::from_secret(SECRET);
    let jwt_hs_val = jwt_validation(jsonwebtoken::Algorithm::HS256);
    let hmac_key = hmac::Key::new(hmac::HMAC_SHA256, SECRET);
    let (hs_input, hs_sig) = hs_token.rsplit_once('.').expect("three segments");

    // EdDSA.
    let ed = Signer::generate_ed25519("e1").expect("rng");
    let ed_token = ed.sign("JWT", claims(now), now, 3600);
    let ours_ed: Verifier<Extra> = Verifier::new(ed.verification_keys(), spec()).expect("spec");
    let public = ed.public_key_bytes().expect("ed25519").to_vec();
    let jwt_ed_key =
        jsonwebtoken::DecodingKey::from_ed_components(&URL_SAFE_NO_PAD.encode(&public)).expect("x");
    let jwt_ed_val = jwt_validation(jsonwebtoken::Algorithm::EdDSA);
    let (ed_input, ed_sig) = ed_token.rsplit_once('.').expect("three segments");
    let ed_sig = URL_SAFE_NO_PAD.decode(ed_sig).expect("b64");

    // Everything verifies before anything is timed.
    let payload_len = URL_SAFE_NO_PAD
        .decode(hs_token.split('.').nth(1).expect("payload"))
        .expect("b64")
        .len();
    ours_hs.verify(&hs_token, now).expect("ours hs");
    ours_ed.verify(&ed_token, now).expect("ours ed");
    jsonwebtoken::decode::<Full>(&hs_token, &jwt_hs_key, &jwt_hs_val).expect("jsonwebtoken hs");
    jsonwebtoken::decode::<Full>(&ed_token, &jwt_ed_key, &jwt_ed_val).expect("jsonwebtoken ed");

    println!(
        "token: {} bytes (HS256), {} bytes (EdDSA); claims JSON {payload_len} bytes",
        hs_token.len(),
        ed_token.len()
    );
    println!(
        "allocations per verification: ours HS256 Extra {}, ours HS256 Extra reading \
         permissions() {}, ours HS256 NoClaims {}, ours EdDSA Extra {}, jsonwebtoken HS256 {}, \
         jsonwebtoken EdDSA {}",
        allocations(|| ours_hs.verify(&hs_token, now)),
        allocations(|| {
            let v = ours_hs.verify(&hs_token, now).expect("valid");
            assert_eq!(v.permissions().len(), 2);
            v
        }),
        allocations(|| ours_hs_none.verify(&hs_token, now)),
        allocations(|| ours_ed.verify(&ed_token, now)),
        allocations(|| jsonwebtoken::decode::<Full>(&hs_token, &jwt_hs_key, &jwt_hs_val)),
        allocations(|| jsonwebtoken::decode::<Full>(&ed_token, &jwt_ed_key, &jwt_ed_val)),
    );

    let hs_ours = || {
        black_box(ours_hs.verify(black_box(&hs_token), now).expect("valid"));
    };
    let hs_ours_none = || {
        black_box(
            ours_hs_none
                .verify(black_box(&hs_token), now)
                .expect("valid"),
        );
    };
    let hs_jwt = || {
        black_box(
            jsonwebtoken::decode::<Full>(black_box(&hs_token), &jwt_hs_key, &jwt_hs_val)
                .expect("valid"),
        );
    };
    let hs_floor = || {
        let mut sig = [0u8; 32];
        let n = URL_SAFE_NO_PAD
            .decode_slice(black_box(hs_sig), &mut sig)
            .expect("b64");
        hmac::verify(&hmac_key, black_box(hs_input).as_bytes(), &sig[..n]).expect("valid");
    };
    let ed_ours = || {
        black_box(ours_ed.verify(black_box(&ed_token), now).expect("valid"));
    };
    let ed_floor = || {
        UnparsedPublicKey::new(&ED25519, &public)
            .verify(black_box(ed_input).as_bytes(), black_box(&ed_sig))
            .expect("valid");
    };
    let (a, b) = paired(60, 2000, hs_ours, hs_jwt);
    println!(
        "paired HS256: ours (Extra) {a:.0} ns, jsonwebtoken {b:.0} ns: jsonwebtoken/ours {:.2}",
        b / a
    );
    // The same, with our permissions materialised as `Vec<String>` like jsonwebtoken's.
    let hs_ours_perms = || {
        let v = ours_hs.verify(black_box(&hs_token), now).expect("valid");
        black_box(v.permissions());
    };
    let (a, b) = paired(60, 2000, hs_ours_perms, hs_jwt);
    println!(
        "paired HS256: ours (Extra, reading permissions()) {a:.0} ns, jsonwebtoken {b:.0} ns: \
         jsonwebtoken/ours {:.2}",
        b / a
    );
    let (a, b) = paired(60, 2000, hs_ours, hs_floor);
    println!(
        "paired HS256: ours (Extra) {a:.0} ns, floor {b:.0} ns: ours/floor {:.2}",
        a / b
    );
    let (a, b) = paired(60, 2000, hs_ours_none, hs_floor);
    println!(
        "paired HS256: ours (NoClaims) {a:.0} ns, floor {b:.0} ns: ours/floor {:.2}",
        a / b
    );
    let (a, b) = paired(40, 100, ed_ours, ed_floor);
    println!(
        "paired EdDSA: ours (Extra) {a:.0} ns, ring verify {b:.0} ns: ours/floor {:.3}",
        a / b
    );

    let mut g = c.benchmark_group("hs256");
    g.bench_function("ours_extra", |b| {
        b.iter(|| ours_hs.verify(black_box(&hs_token), now).expect("valid"))
    });
    g.bench_function("ours_noclaims", |b| {
        b.iter(|| {
            ours_hs_none
                .verify(black_box(&hs_token), now)
                .expect("valid")
        })
    });
    g.bench_function("jsonwebtoken", |b| {
        b.iter(|| {
            jsonwebtoken::decode::<Full>(black_box(&hs_token), &jwt_hs_key, &jwt_hs_val)
                .expect("valid")
        })
    });
    g.bench_function("floor_hmac", |b| {
        b.iter(|| {
            let mut sig = [0u8; 32];
            let n = URL_SAFE_NO_PAD
                .decode_slice(black_box(hs_sig), &mut sig)
                .expect("b64");
            hmac::verify(&hmac_key, black_box(hs_input).as_bytes(), &sig[..n]).expect("valid")
        })
    });
    g.finish();

    let mut g = c.benchmark_group("eddsa");
    g.bench_function("ours_extra", |b| {
        b.iter(|| ours_ed.verify(black_box(&ed_token), now).expect("valid"))
    });
    g.bench_function("jsonwebtoken", |b| {
        b.iter(|| {
            jsonwebtoken::decode::<Full>(black_box(&ed_token), &jwt_ed_key, &jwt_ed_val)
                .expect("valid")
        })
    });
    g.bench_function("floor_ring_verify", |b| {
        b.iter(|| {
            UnparsedPublicKey::new(&ED25519, &public)
                .verify(black_box(ed_input).as_bytes(), black_box(&ed_sig))
                .expect("valid")
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50);
    targets = bench
}
criterion_main!(benches);
