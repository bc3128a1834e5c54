//! Unit tests of the claims scan and of the caller's claims read in the same pass.

use super::*;
use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny};
use serde_json::Value;

/// [`super::parse_claims`] of `json` under `spec`.
fn parse_claims<'de, C: DeserializeOwned>(
    json: &'de str,
    spec: &TokenSpec,
) -> Scan<(Claims<'de>, C)> {
    let names = ClaimNames::new(spec);
    let mut scan = ClaimsScan::new(json, spec, &names);
    let c = super::parse_claims(&mut scan)?;
    Ok((scan.claims, c))
}

fn claims(json: &str) -> Result<Claims<'_>, Malformed> {
    parse_claims::<IgnoredAny>(json, &TokenSpec::default().audience("game")).map(|(c, _)| c)
}

#[test]
fn duplicate_claims_are_refused_even_when_escaped() {
    assert!(claims(r#"{"exp":1,"exp":2}"#).is_err());
    assert!(claims(r#"{"exp":1,"\u0065xp":2}"#).is_err());
    assert!(claims(r#"{"a":1,"a":2}"#).is_err());
    assert!(claims(r#"{"a":1,"\u0061":2}"#).is_err());
    assert!(claims(r#"{"a":1,"b":2}"#).is_ok());
}

#[test]
fn duplicates_are_found_past_the_inline_names() {
    let mut many: Vec<String> = (0..40).map(|i| format!("\"c{i}\":{i}")).collect();
    assert!(claims(&format!("{{{}}}", many.join(","))).is_ok());
    many.push("\"c3\":0".into());
    assert!(claims(&format!("{{{}}}", many.join(","))).is_err());
    many.pop();
    many.push("\"c39\":0".into());
    assert!(claims(&format!("{{{}}}", many.join(","))).is_err());
}

#[test]
fn known_claims_are_read_and_typed() {
    let c = claims(
        r#"{"exp":10,"nbf":2,"iat":1,"iss":"i","aud":["x","game"],"jti":"j\n","pid":"p","sid":7}"#,
    )
    .unwrap();
    assert_eq!((c.exp, c.nbf, c.iat), (Some(10), Some(2), Some(1)));
    assert_eq!(c.iss.as_deref(), Some("i"));
    assert_eq!(c.jti.as_deref(), Some("j\n"));
    assert_eq!(c.aud, Some(true));
    assert_eq!(c.player, Some(Id::Text(Cow::Borrowed("p"))));
    assert_eq!(c.session, Some(Id::Number(7)));
    for bad in [
        r#"{"exp":"1"}"#,
        r#"{"iat":-5}"#,
        r#"{"nbf":1.5}"#,
        r#"{"iss":1}"#,
        r#"{"jti":null}"#,
        r#"{"aud":7}"#,
        r#"{"aud":["x",1]}"#,
        r#"{"pid":""}"#,
        r#"{"sid":true}"#,
    ] {
        assert!(claims(bad).is_err(), "{bad}");
    }
}

#[test]
fn audience_match_is_reported() {
    assert_eq!(claims(r#"{"aud":"game"}"#).unwrap().aud, Some(true));
    assert_eq!(claims(r#"{"aud":"g\u0061me"}"#).unwrap().aud, Some(true));
    assert_eq!(claims(r#"{"aud":"other"}"#).unwrap().aud, Some(false));
    assert_eq!(claims(r#"{"aud":"ga\"me"}"#).unwrap().aud, Some(false));
    assert_eq!(claims(r#"{"aud":[]}"#).unwrap().aud, Some(false));
    assert_eq!(claims(r#"{}"#).unwrap().aud, None);
}

#[test]
fn required_claims_are_reported_missing() {
    let spec = TokenSpec::default()
        .require_claim("room")
        .require_claim("nbf");
    let parse = |j| {
        parse_claims::<IgnoredAny>(j, &spec)
            .unwrap()
            .0
            .missing_required
    };
    assert!(parse(r#"{"room":1}"#));
    assert!(parse(r#"{"nbf":1}"#));
    assert!(!parse(r#"{"room":1,"nbf":1}"#));
}

#[test]
fn the_callers_claims_see_every_member_including_known_ones() {
    #[derive(Deserialize, Debug, PartialEq)]
    struct Mine {
        exp: u64,
        pid: String,
        sid: u32,
        aud: Vec<String>,
        perms: Vec<String>,
        #[serde(rename = "x y")]
        spaced: Option<bool>,
        nested: Value,
    }
    let spec = TokenSpec::default().permissions_claim("perms");
    let json = r#"{"exp":5,"pid":"a\"b","sid":3,"aud":["g"],"perms":["p"],"x y":true,"nested":{"k":[1,2]},"other":[{}]}"#;
    let (c, mine) = parse_claims::<Mine>(json, &spec).unwrap();
    assert_eq!(
        mine,
        Mine {
            exp: 5,
            pid: "a\"b".into(),
            sid: 3,
            aud: vec!["g".into()],
            perms: vec!["p".into()],
            spaced: Some(true),
            nested: serde_json::json!({"k":[1,2]}),
        }
    );
    assert_eq!(c.permissions, Some(r#"["p"]"#));
    assert!(!c.missing_permission);
    assert_eq!(c.player, Some(Id::Text(Cow::Owned("a\"b".into()))));
    // Whole-map types work too.
    let (_, v) = parse_claims::<Value>(json, &spec).unwrap();
    assert_eq!(v["other"], serde_json::json!([{}]));
    let (_, o) = parse_claims::<Option<Mine>>(json, &spec).unwrap();
    assert!(o.is_some());
}

#[test]
fn a_type_that_reads_nothing_still_gets_the_rules() {
    struct Nothing;
    impl<'de> Deserialize<'de> for Nothing {
        fn deserialize<D: Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
            Ok(Self)
        }
    }
    let spec = TokenSpec::default();
    let (c, _) = parse_claims::<Nothing>(r#"{"exp":9}"#, &spec).unwrap();
    assert_eq!(c.exp, Some(9));
    assert!(parse_claims::<Nothing>(r#"{"exp":9,"exp":9}"#, &spec).is_err());
}

#[test]
fn failures_of_the_callers_type_fail_the_parse() {
    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    struct Strict {
        level: u8,
    }
    let spec = TokenSpec::default();
    assert!(parse_claims::<Strict>(r#"{"level":3}"#, &spec).is_ok());
    assert!(parse_claims::<Strict>(r#"{"level":300}"#, &spec).is_err());
    assert!(parse_claims::<Strict>(r#"{}"#, &spec).is_err());
    assert!(parse_claims::<IgnoredAny>(r#"[1]"#, &spec).is_err());
    assert!(parse_claims::<IgnoredAny>(r#"{} {}"#, &spec).is_err());
}

#[test]
fn required_permissions_are_looked_up_in_the_permissions_text() {
    let spec = TokenSpec::default()
        .permissions_claim("perms")
        .require_permission("play")
        .require_permission("chat");
    let missing = |j: &str| parse_claims::<IgnoredAny>(j, &spec).map(|(c, _)| c.missing_permission);
    assert_eq!(missing(r#"{"perms":["chat","x","play"]}"#), Ok(false));
    assert_eq!(missing(r#"{"perms":["pl\u0061y","chat"]}"#), Ok(false));
    assert_eq!(missing(r#"{"perms":["play"]}"#), Ok(true));
    assert_eq!(missing(r#"{"perms":[]}"#), Ok(true));
    assert_eq!(missing(r#"{}"#), Ok(true));
    assert_eq!(missing(r#"{"perms":["play",1]}"#), Err(Malformed));
    assert_eq!(missing(r#"{"perms":"play"}"#), Err(Malformed));
    let none = TokenSpec::default().permissions_claim("perms");
    let (c, _) = parse_claims::<IgnoredAny>(r#"{"perms":[ "a" , "b" ]}"#, &none).unwrap();
    assert_eq!(c.permissions, Some(r#"[ "a" , "b" ]"#));
    assert!(!c.missing_permission);
    // More than 64 required permissions.
    let many: Vec<String> = (0..70).map(|i| format!("p{i}")).collect();
    let spec = many
        .iter()
        .fold(TokenSpec::default().permissions_claim("perms"), |s, p| {
            s.require_permission(p.clone())
        });
    let all = format!(r#"{{"perms":{}}}"#, serde_json::to_string(&many).unwrap());
    let (c, _) = parse_claims::<IgnoredAny>(&all, &spec).unwrap();
    assert!(!c.missing_permission);
    let some = format!(
        r#"{{"perms":{}}}"#,
        serde_json::to_string(&many[1..]).unwrap()
    );
    let (c, _) = parse_claims::<IgnoredAny>(&some, &spec).unwrap();
    assert!(c.missing_permission);
}

/// `C = Value` reads exactly what serde_json reads.
#[test]
fn a_value_reads_what_serde_json_reads() {
    let spec = TokenSpec::default();
    for json in [
        r#"{}"#,
        r#" { "a" : [ 1 , -2.5e3 , "x\"y" , null , true , false , { } , [ ] ] } "#,
        r#"{"exp":1,"pid":"p\u00e9\ud83d\ude00","big":18446744073709551616,"neg":-0}"#,
        r#"{"k\u0000":"\u0000","deep":[[[[{"a":[{"b":null}]}]]]],"s":"\/\b\f\n\r\t"}"#,
    ] {
        let (_, v) = parse_claims::<Value>(json, &spec).unwrap();
        assert_eq!(v, serde_json::from_str::<Value>(json).unwrap(), "{json}");
    }
}

/// The shapes serde offers: options, newtypes, flattening, enums, raw values, strictness.
#[test]
fn the_callers_claims_may_use_any_serde_shape() {
    use serde_json::value::RawValue;
    use std::collections::HashMap;
    #[derive(Deserialize, Debug, PartialEq)]
    enum Mode {
        Ranked,
        Custom { size: u8 },
    }
    #[derive(Deserialize, Debug)]
    struct Shapes {
        mode: Mode,
        custom: Mode,
        maybe: Option<u32>,
        none: Option<u32>,
        raw: Box<RawValue>,
        pair: (u8, String),
        #[serde(flatten)]
        rest: HashMap<String, Value>,
    }
    #[derive(Deserialize, Debug)]
    struct Wrapped(Shapes);
    let spec = TokenSpec::default();
    let json = r#"{"mode":"Ranked","custom":{"Custom":{"size":4}},"maybe":7,"none":null,"raw":[1, {"x":2}],"pair":[1,"o"],"exp":5,"z":"\u007a"}"#;
    let (c, s) = parse_claims::<Wrapped>(json, &spec).unwrap();
    let s = s.0;
    assert_eq!(c.exp, Some(5));
    assert_eq!(s.mode, Mode::Ranked);
    assert_eq!(s.custom, Mode::Custom { size: 4 });
    assert_eq!((s.maybe, s.none), (Some(7), None));
    assert_eq!(s.raw.get(), r#"[1, {"x":2}]"#);
    assert_eq!(s.pair, (1, "o".to_owned()));
    assert_eq!(s.rest["exp"], Value::from(5));
    assert_eq!(s.rest["z"], Value::from("z"));
    // The whole set as raw JSON.
    let (c, raw) = parse_claims::<Box<RawValue>>(json, &spec).unwrap();
    assert_eq!((raw.get(), c.exp), (json, Some(5)));

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Only {
        exp: u64,
    }
    assert!(parse_claims::<Only>(r#"{"exp":1}"#, &spec).is_ok());
    assert!(parse_claims::<Only>(r#"{"exp":1,"x":2}"#, &spec).is_err());
}

/// A type whose visitor swallows errors cannot make malformed claims pass.
#[test]
fn a_visitor_that_swallows_errors_cannot_hide_malformed_claims() {
    use serde::de::{MapAccess, Visitor};
    use std::fmt;
    struct Lenient;
    impl<'de> Deserialize<'de> for Lenient {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Lenient;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("anything")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Lenient, A::Error> {
                    for _ in 0..16 {
                        match map.next_key::<String>() {
                            Ok(Some(_)) => {
                                let _ = map.next_value::<Value>();
                            }
                            Ok(None) => break,
                            Err(_) => {}
                        }
                    }
                    Ok(Lenient)
                }
            }
            d.deserialize_map(V)
        }
    }
    let spec = TokenSpec::default();
    assert!(parse_claims::<Lenient>(r#"{"a":[1,2],"b":{}}"#, &spec).is_ok());
    for bad in [
        r#"{"x":[1,}"#,
        r#"{"x":[1,},"y":2}"#,
        r#"{"x":{"a" 1}}"#,
        r#"{"x":tru}"#,
        r#"{"x":"\ud800"}"#,
        r#"{"x":1e400}"#,
    ] {
        assert!(parse_claims::<Lenient>(bad, &spec).is_err(), "{bad}");
    }
}

#[test]
fn permission_lists_are_read_back_from_their_text() {
    for json in [
        r#"[]"#,
        r#" [ "a" ] "#,
        r#"["play","chat","pl\u0061y","\ud83d\ude00"]"#,
    ] {
        let want: Vec<String> = serde_json::from_str(json).unwrap();
        assert_eq!(string_list(json), want, "{json}");
    }
}
