//! The caller's extra claims `C`, read in the same pass as the verifier's claims.
//!
//! `C` sees the claims set as a map (also through `Option` and newtypes). Member names come
//! from the [`ClaimsScan`], which checks them and reads the claims the verifier needs; each
//! other value is read in place when `C` asks for it, streaming and without recursion of our
//! own, and validated as it is read:
//!
//! - a value `C` ignores (an unknown field, or everything for [`NoClaims`](crate::NoClaims))
//!   is skipped (and validated) by the scanner;
//! - strings without escapes are lent to `C` (`visit_borrowed_str`), plain non-negative
//!   integers are visited as `u64`, `true`/`false`/`null`, objects and arrays are walked in
//!   place, exactly as serde_json's deserializer visits them;
//! - anything else (escaped strings, negative or fractional numbers, bytes, enums, …) is
//!   validated by the scanner and then handed to serde_json on the value's own text, so `C`
//!   behaves as under `serde_json::from_str`.
//!
//! Each byte is read a fixed number of times at most (a fast path that gives up, the
//! scanner's validation, serde_json), and a value handed to serde_json is not descended into
//! again, so the work stays linear in the size of the claims. Any error on the way poisons the
//! pass ([`Poison`]): even a `C` that swallowed an error cannot make a malformed claims set
//! pass.

use crate::jwt::claims::ClaimsScan;
use crate::jwt::scan::{Cursor, JStr, MAX_DEPTH};
use serde::de::value::{BorrowedStrDeserializer, StringDeserializer};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Error;
use serde_json::de::StrRead;
use std::cell::Cell;

/// Set when any step of the pass failed.
pub(crate) type Poison = Cell<bool>;

/// Deserialises `C` from the claims object `scan` reads. `poison` is set if anything failed
/// on the way (whatever `C` made of the error).
pub(crate) fn deserialize<'de, C: de::Deserialize<'de>>(
    scan: &mut ClaimsScan<'de, '_>,
    poison: &Poison,
) -> Result<C, Error> {
    let json = scan.cur.text();
    C::deserialize(Top { json, scan, poison })
}

/// Sets `poison` if `r` is an error.
fn guard<T>(poison: &Poison, r: Result<T, Error>) -> Result<T, Error> {
    if r.is_err() {
        poison.set(true);
    }
    r
}

/// Malformed JSON, or a visitor that stopped reading a map or sequence before its end
/// (serde_json refuses that too).
fn malformed() -> Error {
    de::Error::custom("malformed claims")
}

/// Runs `f` on a serde_json deserializer over `raw`, which holds one value and nothing else.
fn with_json<'de, T>(
    raw: &'de str,
    f: impl FnOnce(&mut serde_json::Deserializer<StrRead<'de>>) -> Result<T, Error>,
) -> Result<T, Error> {
    let mut de = serde_json::Deserializer::from_str(raw);
    let out = f(&mut de)?;
    de.end()?;
    Ok(out)
}

/// Hands a member name (or any string) to `seed`: borrowed unless it has escapes.
fn feed_str<'de, T: DeserializeSeed<'de>>(seed: T, s: JStr<'de>) -> Result<T::Value, Error> {
    if s.escaped {
        seed.deserialize(StringDeserializer::new(s.text().into_owned()))
    } else {
        seed.deserialize(BorrowedStrDeserializer::new(s.raw))
    }
}

/// The whole claims set, as `C` sees it.
struct Top<'a, 'de, 'b> {
    json: &'de str,
    scan: &'a mut ClaimsScan<'de, 'b>,
    poison: &'a Poison,
}

/// `Deserializer` methods of [`Top`] answered by serde_json on the whole JSON text (the
/// verifier then reads the claims on its own).
macro_rules! whole_json {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {$(
        fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, Error> {
            with_json(self.json, |de| de.$method($($arg,)* visitor))
        }
    )*};
}

impl<'de> Top<'_, 'de, '_> {
    /// Hands the members to `visitor` as a map.
    fn map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let poison = self.poison;
        let mut entries = Entries {
            scan: self.scan,
            value: None,
            poison,
        };
        let out = visitor.visit_map(&mut entries);
        let complete = entries.scan.done() && entries.value.is_none();
        guard(
            poison,
            out.and_then(|v| if complete { Ok(v) } else { Err(malformed()) }),
        )
    }
}

impl<'de> Deserializer<'de> for Top<'_, 'de, '_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.map(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.map(visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.map(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        // An object is never `null`.
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        if name.starts_with("$serde_json") {
            // serde_json's private newtypes (`RawValue`): only serde_json knows them.
            with_json(self.json, |de| de.deserialize_newtype_struct(name, visitor))
        } else {
            visitor.visit_newtype_struct(self)
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        // The verifier reads the claims on its own.
        visitor.visit_unit()
    }

    whole_json! {
        deserialize_bool(); deserialize_i8(); deserialize_i16(); deserialize_i32();
        deserialize_i64(); deserialize_i128(); deserialize_u8(); deserialize_u16();
        deserialize_u32(); deserialize_u64(); deserialize_u128(); deserialize_f32();
        deserialize_f64(); deserialize_char(); deserialize_str(); deserialize_string();
        deserialize_bytes(); deserialize_byte_buf(); deserialize_unit();
        deserialize_unit_struct(name: &'static str);
        deserialize_seq(); deserialize_tuple(len: usize);
        deserialize_tuple_struct(name: &'static str, len: usize);
        deserialize_enum(name: &'static str, variants: &'static [&'static str]);
        deserialize_identifier();
    }
}

/// The members of the claims object as map entries.
struct Entries<'a, 'de, 'b> {
    scan: &'a mut ClaimsScan<'de, 'b>,
    /// After a name: `Some(Some(text))` for a value the verifier read, `Some(None)` for one
    /// at the cursor.
    value: Option<Option<&'de str>>,
    poison: &'a Poison,
}

impl<'de> MapAccess<'de> for Entries<'_, 'de, '_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        if self.value.is_some() {
            // The previous value was not read.
            return guard(self.poison, Err(malformed()));
        }
        let r = match self.scan.next_member() {
            Err(_) => Err(malformed()),
            Ok(None) => Ok(None),
            Ok(Some(m)) => {
                self.value = Some(m.value);
                feed_str(seed, m.name).map(Some)
            }
        };
        guard(self.poison, r)
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, Error> {
        let r = match self.value.take() {
            None => Err(malformed()),
            // A value the verifier read: `C` reads it again from its text.
            Some(Some(raw)) => seed.deserialize(Value {
                cur: &mut Cursor::new(raw),
                depth: 1,
                alone: true,
                poison: self.poison,
            }),
            // A member's value sits inside the top-level object: depth 1.
            Some(None) => seed.deserialize(Value {
                cur: &mut self.scan.cur,
                depth: 1,
                alone: false,
                poison: self.poison,
            }),
        };
        guard(self.poison, r)
    }
}

/// One value at the cursor, read (and validated) in place; `depth` arrays and objects are open
/// around it.
struct Value<'a, 'de> {
    cur: &'a mut Cursor<'de>,
    depth: usize,
    /// The cursor covers this value alone and the verifier has validated it (a claim it
    /// reads), so an ignored value need not even be skipped.
    alone: bool,
    poison: &'a Poison,
}

/// `Deserializer` methods of [`Value`] that always go to serde_json.
macro_rules! value_json {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {$(
        fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, Error> {
            self.json(|de| de.$method($($arg,)* visitor))
        }
    )*};
}

/// Number methods: a plain non-negative integer is visited as `u64` (as serde_json does for
/// every one of these methods), anything else goes to serde_json.
macro_rules! value_number {
    ($($method:ident;)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            let start = self.cur.pos();
            if let Some(b'0'..=b'9') = self.cur.ws_peek() {
                if let Ok(Some(n)) = self.cur.number() {
                    return guard(self.poison, visitor.visit_u64(n));
                }
            }
            self.json_from(start, |de| de.$method(visitor))
        }
    )*};
}

/// String methods: a string without escapes is lent (`visit_borrowed_str`, as serde_json
/// does for every one of these methods), anything else goes to serde_json.
macro_rules! value_str {
    ($($method:ident;)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            let start = self.cur.pos();
            if self.cur.ws_peek() == Some(b'"') {
                if let Ok(s) = self.cur.string() {
                    if !s.escaped {
                        return guard(self.poison, visitor.visit_borrowed_str(s.raw));
                    }
                }
            }
            self.json_from(start, |de| de.$method(visitor))
        }
    )*};
}

impl<'de> Value<'_, 'de> {
    /// Hands the value at the cursor to serde_json.
    fn json<T>(
        self,
        f: impl FnOnce(&mut serde_json::Deserializer<StrRead<'de>>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let start = self.cur.pos();
        self.json_from(start, f)
    }

    /// Validates the value that starts at `start` (the cursor may be anywhere inside it, or
    /// just after it) and hands it to serde_json.
    fn json_from<T>(
        self,
        start: usize,
        f: impl FnOnce(&mut serde_json::Deserializer<StrRead<'de>>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        self.cur.seek(start);
        let r = match self.cur.value(self.depth) {
            Ok(_) => with_json(self.cur.since(start), f),
            Err(_) => Err(malformed()),
        };
        guard(self.poison, r)
    }

    /// Walks the array or object at the cursor (`[` or `{` next) with `visit`.
    fn nested<T>(
        self,
        close: u8,
        visit: impl FnOnce(&mut Nested<'_, 'de>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        self.cur.seek(self.cur.pos() + 1);
        let mut n = Nested {
            cur: self.cur,
            depth: self.depth + 1,
            close,
            first: true,
            done: false,
            poison: self.poison,
        };
        let r = visit(&mut n).and_then(|v| if n.done { Ok(v) } else { Err(malformed()) });
        guard(self.poison, r)
    }
}

impl<'de> Deserializer<'de> for Value<'_, 'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.cur.ws_peek() {
            Some(b'{') => self.deserialize_map(visitor),
            Some(b'[') => self.deserialize_seq(visitor),
            Some(b'"') => self.deserialize_str(visitor),
            Some(b't' | b'f') => self.deserialize_bool(visitor),
            // Numbers (whose visit depends on serde_json's features) and `null`.
            _ => self.json(|de| de.deserialize_any(visitor)),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.cur.ws_peek() {
            Some(b't') if self.cur.eat_literal(b"true") => {
                guard(self.poison, visitor.visit_bool(true))
            }
            Some(b'f') if self.cur.eat_literal(b"false") => {
                guard(self.poison, visitor.visit_bool(false))
            }
            _ => self.json(|de| de.deserialize_bool(visitor)),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let poison = self.poison;
        if self.cur.ws_peek() == Some(b'n') && self.cur.eat_literal(b"null") {
            guard(poison, visitor.visit_none())
        } else {
            guard(poison, visitor.visit_some(self))
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        if name.starts_with("$serde_json") {
            self.json(|de| de.deserialize_newtype_struct(name, visitor))
        } else {
            let poison = self.poison;
            guard(poison, visitor.visit_newtype_struct(self))
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.cur.ws_peek() != Some(b'[') || self.depth >= MAX_DEPTH {
            return self.json(|de| de.deserialize_seq(visitor));
        }
        self.nested(b']', |n| visitor.visit_seq(n))
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.cur.ws_peek() != Some(b'{') || self.depth >= MAX_DEPTH {
            return self.json(|de| de.deserialize_map(visitor));
        }
        self.nested(b'}', |n| visitor.visit_map(n))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        if self.cur.ws_peek() == Some(b'{') {
            self.deserialize_map(visitor)
        } else {
            // serde_json also reads a struct from an array.
            self.json(|de| de.deserialize_struct(name, fields, visitor))
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if !self.alone && self.cur.value(self.depth).is_err() {
            return guard(self.poison, Err(malformed()));
        }
        guard(self.poison, visitor.visit_unit())
    }

    value_number! {
        deserialize_i8; deserialize_i16; deserialize_i32; deserialize_i64;
        deserialize_u8; deserialize_u16; deserialize_u32; deserialize_u64;
        deserialize_f32; deserialize_f64;
    }

    value_str! {
        deserialize_char; deserialize_str; deserialize_string; deserialize_identifier;
    }

    value_json! {
        deserialize_i128(); deserialize_u128(); deserialize_bytes(); deserialize_byte_buf();
        deserialize_unit(); deserialize_unit_struct(name: &'static str);
        deserialize_tuple(len: usize);
        deserialize_tuple_struct(name: &'static str, len: usize);
        deserialize_enum(name: &'static str, variants: &'static [&'static str]);
    }
}

/// The elements of an array or the members of an object, read in place.
struct Nested<'a, 'de> {
    cur: &'a mut Cursor<'de>,
    /// Containers open around the elements (this one included).
    depth: usize,
    /// `]` or `}`.
    close: u8,
    /// Nothing read yet.
    first: bool,
    /// The closing bracket was read.
    done: bool,
    poison: &'a Poison,
}

impl<'de> Nested<'_, 'de> {
    /// Moves to the next element; false at the end.
    fn next(&mut self) -> Result<bool, Error> {
        if self.done {
            return Ok(false);
        }
        let more = if self.first {
            self.first = false;
            !self.cur.eat(self.close)
        } else {
            let r = self.cur.comma_or(self.close).map_err(|_| malformed());
            guard(self.poison, r)?
        };
        self.done = !more;
        Ok(more)
    }

    fn value(&mut self) -> Value<'_, 'de> {
        Value {
            cur: self.cur,
            depth: self.depth,
            alone: false,
            poison: self.poison,
        }
    }
}

impl<'de> SeqAccess<'de> for Nested<'_, 'de> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        if !self.next()? {
            return Ok(None);
        }
        let poison = self.poison;
        guard(poison, seed.deserialize(self.value()).map(Some))
    }
}

impl<'de> MapAccess<'de> for Nested<'_, 'de> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        if !self.next()? {
            return Ok(None);
        }
        let name = match self.cur.string() {
            Ok(name) if self.cur.expect(b':').is_ok() => name,
            _ => return guard(self.poison, Err(malformed())),
        };
        guard(self.poison, feed_str(seed, name).map(Some))
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, Error> {
        let poison = self.poison;
        guard(poison, seed.deserialize(self.value()))
    }
}
