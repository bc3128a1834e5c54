//! The claims set in one serde pass: the verifier's claims and the caller's `C` together.
//!
//! `C` drives the parse (its `Deserialize` asks for a map, fields, values), and every map entry
//! it reads passes through [`ObsMap`] on its way: names are checked for duplicates, and the
//! values of the claims the verifier needs (`exp`, `iss`, the ids…) are parsed into
//! [`Claims`] first and then handed to `C` from the parsed value. Everything else goes straight
//! from serde_json to `C` (an `IgnoredAny` for [`NoClaims`](crate::NoClaims) or unknown fields,
//! which serde_json skips quickly). One pass over the JSON instead of two.
//!
//! A `C` that does not read the claims set as a map at all (a unit-like type with its own
//! `Deserialize`) gets a second, claims-only pass, so the rules hold for every `C`.

use crate::jwt::TokenSpec;
use crate::jwt::json::{AudSeed, Id, Names, NumericDate, Text};
use serde::Deserialize as _;
use serde::de::value::{
    BorrowedStrDeserializer, SeqDeserializer, StrDeserializer, U64Deserializer,
};
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor,
};
use serde_json::de::StrRead;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// The claims the verifier reads, borrowed from the decoded payload.
#[derive(Default)]
pub(crate) struct Claims<'de> {
    pub(crate) exp: Option<u64>,
    pub(crate) nbf: Option<u64>,
    pub(crate) iat: Option<u64>,
    pub(crate) iss: Option<Cow<'de, str>>,
    /// `Some(true)` if `aud` names a configured audience.
    pub(crate) aud: Option<bool>,
    pub(crate) jti: Option<Cow<'de, str>>,
    pub(crate) player: Option<Id<'de>>,
    pub(crate) session: Option<Id<'de>>,
    pub(crate) tenant: Option<Id<'de>>,
    pub(crate) permissions: Option<Vec<String>>,
    /// Some claim of [`TokenSpec::require_claim`] is absent.
    pub(crate) missing_required: bool,
}

/// What a claim name means to the verifier.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Exp,
    Nbf,
    Iat,
    Iss,
    Aud,
    Jti,
    Player,
    Session,
    Tenant,
    Permissions,
    Other,
}

fn role(name: &str, spec: &TokenSpec) -> Role {
    match name {
        "exp" => Role::Exp,
        "nbf" => Role::Nbf,
        "iat" => Role::Iat,
        "iss" => Role::Iss,
        "aud" => Role::Aud,
        "jti" => Role::Jti,
        n if n == spec.player_claim => Role::Player,
        n if n == spec.session_claim => Role::Session,
        n if spec.tenant_claim.as_deref() == Some(n) => Role::Tenant,
        n if spec.permissions_claim.as_deref() == Some(n) => Role::Permissions,
        _ => Role::Other,
    }
}

/// What the pass has seen so far.
struct State<'de, 's> {
    spec: &'s TokenSpec,
    claims: Claims<'de>,
    /// One bit per [`Role`] other than `Other`: duplicates of known claims.
    seen: u16,
    /// The other names: duplicates among them.
    names: Names<'de>,
    /// The map's end was reached.
    done: bool,
}

impl<'de, 's> State<'de, 's> {
    fn new(spec: &'s TokenSpec) -> Self {
        Self {
            spec,
            claims: Claims::default(),
            seen: 0,
            names: Names::new(),
            done: false,
        }
    }

    /// Records a member name; an error on a duplicate.
    fn name<E: de::Error>(&mut self, name: Cow<'de, str>) -> Result<Role, E> {
        let role = role(&name, self.spec);
        let fresh = if role == Role::Other {
            self.names.insert(name)
        } else {
            let bit = 1u16 << role as u16;
            let fresh = self.seen & bit == 0;
            self.seen |= bit;
            fresh
        };
        if fresh {
            Ok(role)
        } else {
            Err(E::custom("duplicate claim"))
        }
    }

    /// True if the claim `name` was present.
    fn has(&self, name: &str) -> bool {
        match role(name, self.spec) {
            Role::Other => self.names.contains(name),
            r => self.seen & (1u16 << r as u16) != 0,
        }
    }

    /// Reads the value of a claim with `role` from `map`, keeps what the verifier needs and
    /// hands the value to the caller's `seed`.
    fn value<A, T>(&mut self, role: Role, map: &mut A, seed: T) -> Result<T::Value, A::Error>
    where
        A: MapAccess<'de>,
        T: DeserializeSeed<'de>,
    {
        let c = &mut self.claims;
        match role {
            Role::Other => map.next_value_seed(seed),
            Role::Exp | Role::Nbf | Role::Iat => {
                let NumericDate(v) = map.next_value()?;
                *match role {
                    Role::Exp => &mut c.exp,
                    Role::Nbf => &mut c.nbf,
                    _ => &mut c.iat,
                } = Some(v);
                seed.deserialize(U64Deserializer::new(v))
            }
            Role::Iss | Role::Jti => {
                let Text(v) = map.next_value()?;
                let out = feed_str(seed, &v)?;
                *if role == Role::Iss {
                    &mut c.iss
                } else {
                    &mut c.jti
                } = Some(v);
                Ok(out)
            }
            Role::Player | Role::Session | Role::Tenant => {
                let id: Id<'de> = map.next_value()?;
                let out = match &id {
                    Id::Text(t) => feed_str(seed, t)?,
                    Id::Number(n) => seed.deserialize(U64Deserializer::new(*n))?,
                };
                *match role {
                    Role::Player => &mut c.player,
                    Role::Session => &mut c.session,
                    _ => &mut c.tenant,
                } = Some(id);
                Ok(out)
            }
            Role::Aud => {
                let raw: &'de RawValue = map.next_value()?;
                let raw = raw.get();
                // A plain string (the usual case) is used as it is.
                if let Some(plain) = raw
                    .strip_prefix('"')
                    .and_then(|r| r.strip_suffix('"'))
                    .filter(|r| !r.contains('\\'))
                {
                    c.aud = Some(self.spec.audiences.iter().any(|a| a == plain));
                    return seed.deserialize(BorrowedStrDeserializer::new(plain));
                }
                // Otherwise (an array, escapes) parsed twice from the raw text (it is short).
                let json = |s: &'de str| serde_json::Deserializer::from_str(s);
                let found = AudSeed(&self.spec.audiences)
                    .deserialize(&mut json(raw))
                    .map_err(de::Error::custom)?;
                c.aud = Some(found);
                seed.deserialize(&mut json(raw)).map_err(de::Error::custom)
            }
            Role::Permissions => {
                let list: Vec<String> = map.next_value()?;
                let out =
                    seed.deserialize(SeqDeserializer::new(list.iter().map(String::as_str)))?;
                c.permissions = Some(list);
                Ok(out)
            }
        }
    }
}

/// Hands a string to `seed`, borrowed when it can be.
fn feed_str<'de, T: DeserializeSeed<'de>, E: de::Error>(
    seed: T,
    v: &Cow<'de, str>,
) -> Result<T::Value, E> {
    match v {
        Cow::Borrowed(b) => seed.deserialize(BorrowedStrDeserializer::new(b)),
        Cow::Owned(o) => seed.deserialize(StrDeserializer::new(o)),
    }
}

/// The deserializer `C` sees: the claims set as a map (also through `Option` and newtypes).
struct Observer<'a, 'de, 's> {
    de: &'a mut serde_json::Deserializer<StrRead<'de>>,
    st: &'a mut State<'de, 's>,
}

impl<'de> Deserializer<'de> for Observer<'_, 'de, '_> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
        self.de.deserialize_map(ObsVisitor {
            inner: v,
            st: self.st,
        })
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
        v.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, Self::Error> {
        v.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct seq tuple tuple_struct map struct enum identifier ignored_any
    }
}

/// Passes serde_json's map to `C`'s visitor wrapped in [`ObsMap`].
struct ObsVisitor<'a, 'de, 's, V> {
    inner: V,
    st: &'a mut State<'de, 's>,
}

impl<'de, V: Visitor<'de>> Visitor<'de> for ObsVisitor<'_, 'de, '_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.inner.visit_map(ObsMap {
            map,
            st: self.st,
            role: Role::Other,
        })
    }
}

/// The claims set's entries on their way to `C`.
struct ObsMap<'a, 'de, 's, A> {
    map: A,
    st: &'a mut State<'de, 's>,
    /// The role of the name just read.
    role: Role,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for ObsMap<'_, 'de, '_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        let Some(Text(name)) = self.map.next_key::<Text<'de>>()? else {
            self.st.done = true;
            return Ok(None);
        };
        self.role = self.st.name(name.clone())?;
        feed_str(seed, &name).map(Some)
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, A::Error> {
        self.st.value(self.role, &mut self.map, seed)
    }
}

/// Parses the claims set under `spec` and the caller's claims `C`, in one pass when `C` reads
/// the set as a map. The JSON must be one object and nothing else.
pub(crate) fn parse_claims<'de, C: DeserializeOwned>(
    json: &'de str,
    spec: &TokenSpec,
) -> Result<(Claims<'de>, C), serde_json::Error> {
    let mut st = State::new(spec);
    let mut de = serde_json::Deserializer::from_str(json);
    let c = C::deserialize(Observer {
        de: &mut de,
        st: &mut st,
    })?;
    if st.done {
        de.end()?;
    } else {
        // `C` did not read the map: read it for the verifier alone.
        st = State::new(spec);
        let mut de = serde_json::Deserializer::from_str(json);
        IgnoredAny::deserialize(Observer {
            de: &mut de,
            st: &mut st,
        })?;
        de.end()?;
    }
    let missing = spec.required_claims.iter().any(|r| !st.has(r));
    st.claims.missing_required = missing;
    Ok((st.claims, c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::Value;

    fn claims(json: &str) -> Result<Claims<'_>, serde_json::Error> {
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
        assert_eq!(c.permissions, Some(vec!["p".to_owned()]));
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
}
