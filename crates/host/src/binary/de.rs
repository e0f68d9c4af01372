//! Reading a value from JSON whose placeholders refer to frames: a
//! deserializer over a parsed JSON value that hands a placeholder to the
//! type being read as bytes, or as a sequence of `u8`.

use bytes::Bytes;
use serde::de::value::{BorrowedStrDeserializer, U8Deserializer};
use serde::de::{self, DeserializeSeed, Deserializer, IntoDeserializer, Visitor};
use serde_json::{Error, Map, Value};

use super::placeholder;

/// One JSON value, with the frames its placeholders refer to.
pub(super) struct Reader<'de> {
    value: &'de Value,
    frames: &'de [Bytes],
}

impl<'de> Reader<'de> {
    pub(super) fn new(value: &'de Value, frames: &'de [Bytes]) -> Self {
        Reader { value, frames }
    }

    fn at(&self, value: &'de Value) -> Reader<'de> {
        Reader {
            value,
            frames: self.frames,
        }
    }

    fn frame(&self) -> Option<&'de Bytes> {
        placeholder(self.value, self.frames)
    }
}

impl<'de> Deserializer<'de> for Reader<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.value {
            Value::Array(items) => visitor.visit_seq(Items {
                items: items.iter(),
                frames: self.frames,
            }),
            Value::Object(map) => match self.frame() {
                Some(bytes) => visitor.visit_borrowed_bytes(bytes),
                None => visitor.visit_map(Entries::new(map, self.frames)),
            },
            Value::String(text) => visitor.visit_borrowed_str(text),
            scalar => scalar.deserialize_any(visitor),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.frame() {
            Some(bytes) => visitor.visit_seq(ByteItems { bytes, at: 0 }),
            None => self.deserialize_any(visitor),
        }
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_any(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_any(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.value {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.value {
            Value::Object(map) if map.len() == 1 && self.frame().is_none() => {
                let (variant, value) = map.iter().next().expect("one entry");
                visitor.visit_enum(Variant {
                    variant,
                    value: self.at(value),
                })
            }
            other => other.deserialize_enum(name, variants, visitor),
        }
    }

    fn is_human_readable(&self) -> bool {
        true
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        unit unit_struct tuple tuple_struct map struct identifier ignored_any
    }
}

/// An array's items.
struct Items<'de> {
    items: std::slice::Iter<'de, Value>,
    frames: &'de [Bytes],
}

impl<'de> de::SeqAccess<'de> for Items<'de> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        match self.items.next() {
            Some(value) => seed.deserialize(Reader::new(value, self.frames)).map(Some),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

/// A frame's bytes, one `u8` at a time.
struct ByteItems<'de> {
    bytes: &'de [u8],
    at: usize,
}

impl<'de> de::SeqAccess<'de> for ByteItems<'de> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        let Some(&byte) = self.bytes.get(self.at) else {
            return Ok(None);
        };
        self.at += 1;
        let byte: U8Deserializer<Error> = byte.into_deserializer();
        seed.deserialize(byte).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.bytes.len() - self.at)
    }
}

/// An object's entries.
struct Entries<'de> {
    entries: serde_json::map::Iter<'de>,
    value: Option<&'de Value>,
    frames: &'de [Bytes],
}

impl<'de> Entries<'de> {
    fn new(map: &'de Map<String, Value>, frames: &'de [Bytes]) -> Self {
        Entries {
            entries: map.iter(),
            value: None,
            frames,
        }
    }
}

impl<'de> de::MapAccess<'de> for Entries<'de> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        match self.entries.next() {
            Some((key, value)) => {
                self.value = Some(value);
                seed.deserialize(BorrowedStrDeserializer::new(key))
                    .map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let value = self
            .value
            .take()
            .ok_or_else(|| de::Error::custom("a value was asked for before its key"))?;
        seed.deserialize(Reader::new(value, self.frames))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// An enum written as `{"Variant": value}`.
struct Variant<'de> {
    variant: &'de str,
    value: Reader<'de>,
}

impl<'de> de::EnumAccess<'de> for Variant<'de> {
    type Error = Error;
    type Variant = Reader<'de>;

    fn variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, Reader<'de>), Error> {
        let variant = seed.deserialize(BorrowedStrDeserializer::<Error>::new(self.variant))?;
        Ok((variant, self.value))
    }
}

impl<'de> de::VariantAccess<'de> for Reader<'de> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        de::Deserialize::deserialize(self)
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_any(visitor)
    }
}
