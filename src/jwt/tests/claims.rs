//! Verifier tests for the claim rules: time, lifetime, issuer, audience, payload, extra claims.

use super::*;

#[test]
fn time_rules_at_the_leeway_edges() {
    let v = verifier(TokenSpec::default().leeway(Duration::from_secs(30)));
    let exp = NOW + 100;
    let t = with(|c| {
        c.insert("exp".into(), exp.into());
    });
    assert!(v.verify(&t, exp + 30).is_ok());
    assert!(v.verify(&t, exp + 29).is_ok());
    assert_eq!(v.verify(&t, exp + 31).unwrap_err(), E::TokenExpired);

    let nbf = NOW + 100;
    let t = with(|c| {
        c.insert("nbf".into(), nbf.into());
    });
    assert!(v.verify(&t, nbf - 30).is_ok());
    assert_eq!(v.verify(&t, nbf - 31).unwrap_err(), E::TokenNotYetValid);

    let iat = NOW;
    let t = token(&good_claims());
    assert!(v.verify(&t, iat - 30).is_ok());
    assert_eq!(v.verify(&t, iat - 31).unwrap_err(), E::TokenNotYetValid);

    let t = with(|c| {
        c.remove("exp");
    });
    assert_eq!(err(&v, &t), E::MissingClaim);
    for bad in [
        json!("123"),
        json!(true),
        json!(null),
        json!([1]),
        json!(-1),
        json!(1.5),
        json!(1e300),
        json!(9_007_199_254_740_993u64),
    ] {
        let t = with(|c| {
            c.insert("exp".into(), bad.clone());
        });
        assert_eq!(err(&v, &t), E::TokenMalformed, "{bad}");
    }
}

#[test]
fn lifetime_rules() {
    let v = verifier(TokenSpec::default().max_lifetime(Some(Duration::from_secs(600))));
    assert!(v.verify(&token(&good_claims()), NOW).is_ok());
    let long = with(|c| {
        c.insert("exp".into(), (NOW + 601).into());
    });
    assert_eq!(err(&v, &long), E::LifetimeExceeded);
    let no_iat = with(|c| {
        c.remove("iat");
    });
    assert_eq!(err(&v, &no_iat), E::LifetimeExceeded);
    let any = verifier(TokenSpec::default().max_lifetime(None));
    assert!(any.verify(&no_iat, NOW).is_ok());
}

#[test]
fn issuer_and_audience_rules() {
    let v = verifier(TokenSpec::default().issuer("a").issuer("b").audience("g"));
    let t = |iss: Value, aud: Value| {
        with(|c| {
            if !iss.is_null() {
                c.insert("iss".into(), iss);
            }
            if !aud.is_null() {
                c.insert("aud".into(), aud);
            }
        })
    };
    assert!(v.verify(&t(json!("b"), json!("g")), NOW).is_ok());
    assert!(v.verify(&t(json!("a"), json!(["h", "g"])), NOW).is_ok());
    assert_eq!(err(&v, &t(json!("c"), json!("g"))), E::InvalidIssuer);
    assert_eq!(err(&v, &t(Value::Null, json!("g"))), E::InvalidIssuer);
    assert_eq!(err(&v, &t(json!(["a"]), json!("g"))), E::TokenMalformed);
    assert_eq!(err(&v, &t(json!("a"), json!("h"))), E::InvalidAudience);
    assert_eq!(err(&v, &t(json!("a"), json!([]))), E::InvalidAudience);
    assert_eq!(err(&v, &t(json!("a"), Value::Null)), E::InvalidAudience);
    assert_eq!(err(&v, &t(json!("a"), json!(["g", 1]))), E::TokenMalformed);
}

#[test]
fn payload_rules() {
    let v = verifier(TokenSpec::default());
    let s = hs();
    let h = r#"{"alg":"HS256"}"#;
    let p = |payload: &str| err(&v, &raw(&s, h, payload));
    assert_eq!(
        p(r#"{"pid":"a","sid":"b","iat":1700000000,"exp":1700000600,"pid":"c"}"#),
        E::TokenMalformed
    );
    assert_eq!(
        p(r#"{"pid":"a","sid":"b","iat":1700000000,"exp":1700000600,"p\u0069d":"c"}"#),
        E::TokenMalformed
    );
    assert_eq!(p("[1]"), E::TokenMalformed);
    assert_eq!(p("not json"), E::TokenMalformed);
    assert_eq!(p(r#"{"exp":1} {}"#), E::TokenMalformed);
    let bomb = format!(
        r#"{{"pid":"a","sid":"b","iat":1700000000,"exp":1700000600,"x":{}{}}}"#,
        "[".repeat(3000),
        "]".repeat(3000)
    );
    assert_eq!(p(&bomb), E::TokenMalformed);
    let t = with(|c| {
        c.remove("pid");
    });
    assert_eq!(err(&v, &t), E::MissingClaim);
    let t = with(|c| {
        c.remove("sid");
    });
    assert_eq!(err(&v, &t), E::MissingClaim);
    for bad in [
        json!(""),
        json!(-3),
        json!(2.5),
        json!(false),
        json!({"id":1}),
    ] {
        let t = with(|c| {
            c.insert("pid".into(), bad.clone());
        });
        assert_eq!(err(&v, &t), E::TokenMalformed, "{bad}");
    }
    let t = with(|c| {
        c.insert("jti".into(), json!(5));
    });
    assert_eq!(err(&v, &t), E::TokenMalformed);
    let raw_bytes = format!(
        "{}.{}.{}",
        base64url::encode(h.as_bytes()),
        base64url::encode(b"{\"pid\":\"\xff\"}"),
        base64url::encode(&[0; 32])
    );
    assert_eq!(err(&v, &raw_bytes), E::TokenMalformed);
}

#[test]
fn extra_claims_are_deserialised_and_failures_are_malformed() {
    #[derive(Deserialize, Debug)]
    struct Extra {
        level: u8,
    }
    let v: Verifier<Extra> = Verifier::new(hs().verification_keys(), TokenSpec::default()).unwrap();
    let ok = with(|c| {
        c.insert("level".into(), 3.into());
    });
    assert_eq!(v.verify(&ok, NOW).unwrap().into_claims().level, 3);
    let bad = with(|c| {
        c.insert("level".into(), 300.into());
    });
    assert_eq!(v.verify(&bad, NOW).unwrap_err(), E::TokenMalformed);
    let v: Verifier<Value> = Verifier::new(hs().verification_keys(), TokenSpec::default()).unwrap();
    assert_eq!(v.verify(&ok, NOW).unwrap().claims()["level"], 3);
    let _: Verifier<NoClaims> = verifier(TokenSpec::default());
}

#[test]
fn full_spec_with_extra_claims() {
    #[derive(Deserialize, Debug, PartialEq)]
    struct Extra {
        #[serde(rename = "gameSlug")]
        game: String,
    }
    let spec = TokenSpec::default()
        .issuer("auth")
        .audience("poker")
        .player_claim("playerId")
        .session_claim("roomId")
        .tenant_claim("operatorId")
        .permissions_claim("permissions")
        .require_permission("play")
        .require_claim("gameSlug");
    let v: Verifier<Extra> = Verifier::new(hs().verification_keys(), spec).unwrap();
    let c = json!({"iss":"auth","aud":["x","poker"],"playerId":"p\u{e9}","roomId":7,
        "operatorId":12,"permissions":["chat","play"],"gameSlug":"holdem",
        "iat":NOW,"exp":NOW+60,"jti":"j-1"});
    let ok = v.verify(&token(&c), NOW).unwrap();
    assert_eq!(ok.player(), "p\u{e9}");
    assert_eq!(ok.session(), "7");
    assert_eq!(ok.tenant(), Some("12"));
    assert_eq!(ok.permissions(), ["chat", "play"]);
    assert_eq!(ok.token_id(), Some("j-1"));
    assert_eq!(ok.key_id(), Some("k1"));
    assert_eq!(ok.claims().game, "holdem");

    let mut c2 = c.clone();
    c2["permissions"] = json!(["chat"]);
    assert_eq!(
        v.verify(&token(&c2), NOW).unwrap_err(),
        E::InsufficientPermissions
    );
    c2.as_object_mut().unwrap().remove("permissions");
    assert_eq!(
        v.verify(&token(&c2), NOW).unwrap_err(),
        E::InsufficientPermissions
    );
    let mut c3 = c.clone();
    c3["permissions"] = json!("play");
    assert_eq!(v.verify(&token(&c3), NOW).unwrap_err(), E::TokenMalformed);
    let mut c4 = c.clone();
    c4.as_object_mut().unwrap().remove("operatorId");
    assert_eq!(v.verify(&token(&c4), NOW).unwrap_err(), E::MissingClaim);
    // A field `C` requires is part of `C`'s deserialisation: its absence is malformed.
    let mut c5 = c.clone();
    c5.as_object_mut().unwrap().remove("gameSlug");
    assert_eq!(v.verify(&token(&c5), NOW).unwrap_err(), E::TokenMalformed);
    // A required claim outside `C` is reported missing.
    let v2: Verifier = Verifier::new(
        hs().verification_keys(),
        TokenSpec::default().require_claim("room"),
    )
    .unwrap();
    assert_eq!(
        v2.verify(&token(&good_claims()), NOW).unwrap_err(),
        E::MissingClaim
    );
    let mut c6 = c;
    c6["gameSlug"] = json!(5);
    assert_eq!(v.verify(&token(&c6), NOW).unwrap_err(), E::TokenMalformed);
}
