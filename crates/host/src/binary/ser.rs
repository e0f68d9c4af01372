//! Writing a value as JSON with its binary parts taken out as frames: a
//! serializer that wraps serde_json's, hands it everything but bytes, and
//! holds a sequence back until its first element says whether it is bytes.

use std::cell::RefCell;

use bytes::Bytes;
use serde::ser::{self, Impossible, Serialize, SerializeMap, Serializer};

use super::{KEY, TEXT_KEY};

/// JSON text for `value`; its frames are appended to `frames`, numbered on
/// from those already there. With `texts`, long strings become frames too
/// (placeholders `{"$text": n}`), for a script's runtime to decode: cheaper
/// than escaping and parsing them as JSON.
pub(super) fn to_json_into<T: Serialize + ?Sized>(
    value: &T,
    frames: &mut Vec<Bytes>,
    texts: bool,
) -> Result<String, serde_json::Error> {
    let sink = Sink {
        frames: RefCell::new(std::mem::take(frames)),
        texts,
    };
    let json = serde_json::to_string(&Wrap {
        value,
        frames: &sink,
    });
    *frames = sink.frames.into_inner();
    json
}

/// Where frames go, and whether long strings become frames.
struct Sink {
    frames: RefCell<Vec<Bytes>>,
    texts: bool,
}

/// Strings at least this long go as text frames (when texts may).
const TEXT_FRAME_MIN: usize = 64 * 1024;

/// A value to serialize through [`Adapter`].
struct Wrap<'a, 'f, T: ?Sized> {
    value: &'a T,
    frames: &'f Sink,
}

impl<T: Serialize + ?Sized> Serialize for Wrap<'_, '_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(Adapter {
            inner: serializer,
            frames: self.frames,
        })
    }
}

/// Serializes into `inner`, bytes as placeholders.
struct Adapter<'f, S> {
    inner: S,
    frames: &'f Sink,
}

impl<'f, S: Serializer> Adapter<'f, S> {
    fn wrap<'a, T: ?Sized>(&self, value: &'a T) -> Wrap<'a, 'f, T> {
        Wrap {
            value,
            frames: self.frames,
        }
    }
}

/// Writes the placeholder (under `key`) of a new frame into `inner`.
fn placeholder<S: Serializer>(
    inner: S,
    sink: &Sink,
    key: &str,
    bytes: Bytes,
) -> Result<S::Ok, S::Error> {
    let index = {
        let mut frames = sink.frames.borrow_mut();
        frames.push(bytes);
        frames.len() - 1
    };
    let mut map = inner.serialize_map(Some(1))?;
    map.serialize_entry(key, &index)?;
    map.end()
}

macro_rules! forward {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {
        $(fn $method(self, $($arg: $ty),*) -> Result<S::Ok, S::Error> {
            self.inner.$method($($arg),*)
        })*
    };
}

impl<'f, S: Serializer> Serializer for Adapter<'f, S> {
    type Ok = S::Ok;
    type Error = S::Error;
    type SerializeSeq = Seq<'f, S>;
    type SerializeTuple = Compound<'f, S::SerializeTuple>;
    type SerializeTupleStruct = Compound<'f, S::SerializeTupleStruct>;
    type SerializeTupleVariant = Compound<'f, S::SerializeTupleVariant>;
    type SerializeMap = Compound<'f, S::SerializeMap>;
    type SerializeStruct = Compound<'f, S::SerializeStruct>;
    type SerializeStructVariant = Compound<'f, S::SerializeStructVariant>;

    forward! {
        serialize_bool(v: bool);
        serialize_i8(v: i8);
        serialize_i16(v: i16);
        serialize_i32(v: i32);
        serialize_i64(v: i64);
        serialize_i128(v: i128);
        serialize_u8(v: u8);
        serialize_u16(v: u16);
        serialize_u32(v: u32);
        serialize_u64(v: u64);
        serialize_u128(v: u128);
        serialize_f32(v: f32);
        serialize_f64(v: f64);
        serialize_char(v: char);
        serialize_none();
        serialize_unit();
        serialize_unit_struct(name: &'static str);
        serialize_unit_variant(name: &'static str, index: u32, variant: &'static str);
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<S::Ok, S::Error> {
        placeholder(self.inner, self.frames, KEY, Bytes::copy_from_slice(v))
    }

    fn serialize_str(self, v: &str) -> Result<S::Ok, S::Error> {
        if self.frames.texts && v.len() >= TEXT_FRAME_MIN {
            return placeholder(
                self.inner,
                self.frames,
                TEXT_KEY,
                Bytes::copy_from_slice(v.as_bytes()),
            );
        }
        self.inner.serialize_str(v)
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<S::Ok, S::Error> {
        let value = self.wrap(value);
        self.inner.serialize_some(&value)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<S::Ok, S::Error> {
        let value = self.wrap(value);
        self.inner.serialize_newtype_struct(name, &value)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<S::Ok, S::Error> {
        let value = self.wrap(value);
        self.inner
            .serialize_newtype_variant(name, index, variant, &value)
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<Self::SerializeSeq, S::Error> {
        Ok(Seq {
            state: SeqState::Undecided(self.inner, len),
            frames: self.frames,
        })
    }

    fn serialize_tuple(self, len: usize) -> Result<Self::SerializeTuple, S::Error> {
        Ok(Compound::new(self.inner.serialize_tuple(len)?, self.frames))
    }

    fn serialize_tuple_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleStruct, S::Error> {
        Ok(Compound::new(
            self.inner.serialize_tuple_struct(name, len)?,
            self.frames,
        ))
    }

    fn serialize_tuple_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleVariant, S::Error> {
        Ok(Compound::new(
            self.inner
                .serialize_tuple_variant(name, index, variant, len)?,
            self.frames,
        ))
    }

    fn serialize_map(self, len: Option<usize>) -> Result<Self::SerializeMap, S::Error> {
        Ok(Compound::new(self.inner.serialize_map(len)?, self.frames))
    }

    fn serialize_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStruct, S::Error> {
        let mut compound = Compound::new(self.inner.serialize_struct(name, len)?, self.frames);
        // serde_json's `RawValue` is a struct of this name whose one field
        // is its text: it goes to serde_json as it is.
        compound.raw = name == RAW_VALUE;
        Ok(compound)
    }

    fn serialize_struct_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStructVariant, S::Error> {
        Ok(Compound::new(
            self.inner
                .serialize_struct_variant(name, index, variant, len)?,
            self.frames,
        ))
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

/// A sequence: held back while every element so far is a `u8` (then it is
/// bytes), written as an array from the first element that is not.
struct Seq<'f, S: Serializer> {
    state: SeqState<S>,
    frames: &'f Sink,
}

enum SeqState<S: Serializer> {
    /// No element yet.
    Undecided(S, Option<usize>),
    /// Every element so far was a `u8`.
    Bytes(S, Option<usize>, Vec<u8>),
    /// An array.
    Array(S::SerializeSeq),
    /// Only while changing state.
    Moved,
}

impl<S: Serializer> ser::SerializeSeq for Seq<'_, S> {
    type Ok = S::Ok;
    type Error = S::Error;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), S::Error> {
        if let SeqState::Array(seq) = &mut self.state {
            return seq.serialize_element(&Wrap {
                value,
                frames: self.frames,
            });
        }
        let byte = value.serialize(U8Probe).ok();
        match (std::mem::replace(&mut self.state, SeqState::Moved), byte) {
            (SeqState::Undecided(inner, len), Some(byte)) => {
                let mut bytes = Vec::with_capacity(len.unwrap_or(0));
                bytes.push(byte);
                self.state = SeqState::Bytes(inner, len, bytes);
            }
            (SeqState::Bytes(inner, len, mut bytes), Some(byte)) => {
                bytes.push(byte);
                self.state = SeqState::Bytes(inner, len, bytes);
            }
            (SeqState::Undecided(inner, len), None) => {
                let mut seq = inner.serialize_seq(len)?;
                seq.serialize_element(&Wrap {
                    value,
                    frames: self.frames,
                })?;
                self.state = SeqState::Array(seq);
            }
            (SeqState::Bytes(inner, len, bytes), None) => {
                let mut seq = inner.serialize_seq(len)?;
                for byte in &bytes {
                    seq.serialize_element(byte)?;
                }
                seq.serialize_element(&Wrap {
                    value,
                    frames: self.frames,
                })?;
                self.state = SeqState::Array(seq);
            }
            (SeqState::Array(_) | SeqState::Moved, _) => unreachable!("handled above"),
        }
        Ok(())
    }

    fn end(self) -> Result<S::Ok, S::Error> {
        match self.state {
            SeqState::Undecided(inner, _) => inner.serialize_seq(Some(0))?.end(),
            SeqState::Bytes(inner, _, bytes) => placeholder(inner, self.frames, KEY, bytes.into()),
            SeqState::Array(seq) => seq.end(),
            SeqState::Moved => unreachable!("a sequence is never left moved"),
        }
    }
}

/// A tuple, map or struct of `inner`, its parts wrapped (unless `raw`).
struct Compound<'f, C> {
    inner: C,
    frames: &'f Sink,
    raw: bool,
}

/// The name serde_json gives the struct a `RawValue` serializes as.
const RAW_VALUE: &str = "$serde_json::private::RawValue";

impl<'f, C> Compound<'f, C> {
    fn new(inner: C, frames: &'f Sink) -> Self {
        Compound {
            inner,
            frames,
            raw: false,
        }
    }

    fn wrap<'a, T: ?Sized>(&self, value: &'a T) -> Wrap<'a, 'f, T> {
        Wrap {
            value,
            frames: self.frames,
        }
    }
}

impl<C: ser::SerializeTuple> ser::SerializeTuple for Compound<'_, C> {
    type Ok = C::Ok;
    type Error = C::Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), C::Error> {
        let value = self.wrap(value);
        self.inner.serialize_element(&value)
    }
    fn end(self) -> Result<C::Ok, C::Error> {
        self.inner.end()
    }
}

impl<C: ser::SerializeTupleStruct> ser::SerializeTupleStruct for Compound<'_, C> {
    type Ok = C::Ok;
    type Error = C::Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), C::Error> {
        let value = self.wrap(value);
        self.inner.serialize_field(&value)
    }
    fn end(self) -> Result<C::Ok, C::Error> {
        self.inner.end()
    }
}

impl<C: ser::SerializeTupleVariant> ser::SerializeTupleVariant for Compound<'_, C> {
    type Ok = C::Ok;
    type Error = C::Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), C::Error> {
        let value = self.wrap(value);
        self.inner.serialize_field(&value)
    }
    fn end(self) -> Result<C::Ok, C::Error> {
        self.inner.end()
    }
}

impl<C: ser::SerializeMap> ser::SerializeMap for Compound<'_, C> {
    type Ok = C::Ok;
    type Error = C::Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), C::Error> {
        self.inner.serialize_key(key)
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), C::Error> {
        let value = self.wrap(value);
        self.inner.serialize_value(&value)
    }
    fn end(self) -> Result<C::Ok, C::Error> {
        self.inner.end()
    }
}

impl<C: ser::SerializeStruct> ser::SerializeStruct for Compound<'_, C> {
    type Ok = C::Ok;
    type Error = C::Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), C::Error> {
        if self.raw {
            return self.inner.serialize_field(key, value);
        }
        let value = self.wrap(value);
        self.inner.serialize_field(key, &value)
    }
    fn skip_field(&mut self, key: &'static str) -> Result<(), C::Error> {
        self.inner.skip_field(key)
    }
    fn end(self) -> Result<C::Ok, C::Error> {
        self.inner.end()
    }
}

impl<C: ser::SerializeStructVariant> ser::SerializeStructVariant for Compound<'_, C> {
    type Ok = C::Ok;
    type Error = C::Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), C::Error> {
        let value = self.wrap(value);
        self.inner.serialize_field(key, &value)
    }
    fn skip_field(&mut self, key: &'static str) -> Result<(), C::Error> {
        self.inner.skip_field(key)
    }
    fn end(self) -> Result<C::Ok, C::Error> {
        self.inner.end()
    }
}

/// Tells a `u8` (serialized as one) from anything else.
struct U8Probe;

#[derive(Debug)]
struct NotU8;

impl std::fmt::Display for NotU8 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not a u8")
    }
}

impl std::error::Error for NotU8 {}

impl ser::Error for NotU8 {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        NotU8
    }
}

macro_rules! not_u8 {
    ($($method:ident($($ty:ty),*);)*) => {
        $(fn $method(self, $(_: $ty),*) -> Result<u8, NotU8> {
            Err(NotU8)
        })*
    };
}

impl Serializer for U8Probe {
    type Ok = u8;
    type Error = NotU8;
    type SerializeSeq = Impossible<u8, NotU8>;
    type SerializeTuple = Impossible<u8, NotU8>;
    type SerializeTupleStruct = Impossible<u8, NotU8>;
    type SerializeTupleVariant = Impossible<u8, NotU8>;
    type SerializeMap = Impossible<u8, NotU8>;
    type SerializeStruct = Impossible<u8, NotU8>;
    type SerializeStructVariant = Impossible<u8, NotU8>;

    fn serialize_u8(self, v: u8) -> Result<u8, NotU8> {
        Ok(v)
    }

    not_u8! {
        serialize_bool(bool);
        serialize_i8(i8);
        serialize_i16(i16);
        serialize_i32(i32);
        serialize_i64(i64);
        serialize_u16(u16);
        serialize_u32(u32);
        serialize_u64(u64);
        serialize_f32(f32);
        serialize_f64(f64);
        serialize_char(char);
        serialize_str(&str);
        serialize_bytes(&[u8]);
        serialize_none();
        serialize_unit();
        serialize_unit_struct(&'static str);
        serialize_unit_variant(&'static str, u32, &'static str);
    }

    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<u8, NotU8> {
        Err(NotU8)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: &T,
    ) -> Result<u8, NotU8> {
        Err(NotU8)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<u8, NotU8> {
        Err(NotU8)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, NotU8> {
        Err(NotU8)
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, NotU8> {
        Err(NotU8)
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, NotU8> {
        Err(NotU8)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, NotU8> {
        Err(NotU8)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, NotU8> {
        Err(NotU8)
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, NotU8> {
        Err(NotU8)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, NotU8> {
        Err(NotU8)
    }
}
