//! Binary values: `Uint8Array`/`ArrayBuffer` in scripts, `Vec<u8>` or
//! [`Bytes`] in Rust. They never cross as JSON: each travels as a raw frame
//! beside the message that refers to it, and the message's JSON holds a
//! placeholder `{"$bytes": n}` (the index of its frame) where the value was.
//!
//! [`to_json`] writes a value as JSON text plus the frames of its binary
//! parts: anything serialized as bytes (`Bytes`, `serde_bytes`) and any
//! non-empty sequence of `u8` (`Vec<u8>`, `&[u8]`). [`from_json`] reads a
//! value back, giving each placeholder to the type being read as bytes (or
//! as a sequence of `u8`, for `Vec<u8>`).

mod de;
mod ser;

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::value::RawValue;

/// The key of a placeholder object.
pub(crate) const KEY: &str = "$bytes";
/// The key of a placeholder of a long string sent to a script as a frame
/// of UTF-8 (see [`to_script_into`]): only scripts' runtimes read these.
pub(crate) const TEXT_KEY: &str = "$text";

/// JSON text for `value`, and the frames its placeholders refer to.
pub(crate) fn to_json<T: Serialize + ?Sized>(
    value: &T,
) -> Result<(String, Vec<Bytes>), serde_json::Error> {
    let mut frames = Vec::new();
    let json = ser::to_json_into(value, &mut frames, false)?;
    Ok((json, frames))
}

/// JSON text for a value only a script reads (a global, an argument, a
/// callback's result), its frames appended to `frames` (its placeholders
/// numbered on from the frames already there). Long strings go as frames
/// too: `{"$text": n}`, frame `n` holding their UTF-8.
pub(crate) fn to_script_into<T: Serialize + ?Sized>(
    value: &T,
    frames: &mut Vec<Bytes>,
) -> Result<String, serde_json::Error> {
    ser::to_json_into(value, frames, true)
}

/// Reads a `T` from JSON text whose placeholders refer to `frames`.
pub(crate) fn from_json<T: DeserializeOwned>(
    json: &str,
    frames: &[Bytes],
) -> Result<T, serde_json::Error> {
    if frames.is_empty() {
        return serde_json::from_str(json);
    }
    let value: serde_json::Value = serde_json::from_str(json)?;
    from_value(&value, frames)
}

/// Reads a `T` from a JSON value whose placeholders refer to `frames`.
pub(crate) fn from_value<T: DeserializeOwned>(
    value: &serde_json::Value,
    frames: &[Bytes],
) -> Result<T, serde_json::Error> {
    if frames.is_empty() {
        return T::deserialize(value);
    }
    T::deserialize(de::Reader::new(value, frames))
}

/// A deserializer of `value` that reads placeholders as the frames they
/// refer to.
pub(crate) fn reader<'de>(
    value: &'de serde_json::Value,
    frames: &'de [Bytes],
) -> impl serde::Deserializer<'de, Error = serde_json::Error> {
    de::Reader::new(value, frames)
}

/// `value` with each placeholder replaced by the bytes it refers to as an
/// array of numbers: for what speaks JSON alone (tools known at run time,
/// whose schemas and handlers see JSON).
pub(crate) fn inline(value: serde_json::Value, frames: &[Bytes]) -> serde_json::Value {
    use serde_json::Value;
    if frames.is_empty() {
        return value;
    }
    if let Some(bytes) = placeholder(&value, frames) {
        return Value::Array(bytes.iter().map(|&b| Value::from(b)).collect());
    }
    match value {
        Value::Array(items) => Value::Array(items.into_iter().map(|v| inline(v, frames)).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, inline(v, frames)))
                .collect(),
        ),
        other => other,
    }
}

/// The frame a placeholder object refers to, if `value` is one.
pub(crate) fn placeholder<'a>(value: &serde_json::Value, frames: &'a [Bytes]) -> Option<&'a Bytes> {
    let object = value.as_object()?;
    if object.len() != 1 {
        return None;
    }
    let index = object.get(KEY)?.as_u64()?;
    frames.get(usize::try_from(index).ok()?)
}

/// A JSON text and the frames its placeholders refer to, as one message
/// carries them.
#[derive(Debug, Clone)]
pub(crate) struct Payload {
    pub(crate) json: Box<RawValue>,
    pub(crate) frames: Vec<Bytes>,
}

impl Payload {
    /// A value with no binary parts.
    #[cfg_attr(not(feature = "quickjs"), allow(dead_code))]
    pub(crate) fn plain(json: Box<RawValue>) -> Self {
        Payload {
            json,
            frames: Vec::new(),
        }
    }

    /// The JSON text.
    pub(crate) fn get(&self) -> &str {
        self.json.get()
    }

    /// Reads a `T` from it.
    pub(crate) fn read<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        from_json(self.json.get(), &self.frames)
    }
}

/// A frame on the channel: this marker byte (no JSON text starts with it),
/// the length as a little-endian `u32`, then the bytes. Frames go before the
/// message line that refers to them.
pub(crate) const FRAME_MARKER: u8 = 0;
/// The marker and the length.
pub(crate) const FRAME_HEADER: usize = 5;

/// The header of a frame of `len` bytes.
pub(crate) fn frame_header(len: usize) -> [u8; FRAME_HEADER] {
    let len = u32::try_from(len).expect("frames are bounded by the message limit");
    let [a, b, c, d] = len.to_le_bytes();
    [FRAME_MARKER, a, b, c, d]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Upload {
        name: String,
        data: Bytes,
        chunks: Vec<Vec<u8>>,
        note: Option<Bytes>,
        tags: Vec<u16>,
    }

    #[test]
    fn bytes_and_u8_sequences_become_frames_and_come_back() {
        let upload = Upload {
            name: "a.bin".into(),
            data: Bytes::from_static(b"\x00\x01\xff"),
            chunks: vec![vec![7, 8], vec![], vec![9]],
            note: Some(Bytes::from_static(b"hi")),
            tags: vec![1, 2],
        };
        let (json, frames) = to_json(&upload).unwrap();
        assert_eq!(
            json,
            r#"{"name":"a.bin","data":{"$bytes":0},"chunks":[{"$bytes":1},[],{"$bytes":2}],"note":{"$bytes":3},"tags":[1,2]}"#
        );
        assert_eq!(frames.len(), 4);
        assert_eq!(from_json::<Upload>(&json, &frames).unwrap(), upload);
    }

    #[test]
    fn long_strings_go_to_scripts_as_text_frames() {
        let long = "é".repeat(40_000);
        let value = serde_json::json!({ "short": "a", "long": long });
        let mut frames = Vec::new();
        let json = to_script_into(&value, &mut frames).unwrap();
        assert_eq!(json, r#"{"long":{"$text":0},"short":"a"}"#);
        assert_eq!(frames[0], long.as_bytes());
        // Values Rust reads back keep their strings.
        assert_eq!(to_json(&value).unwrap().0, value.to_string());
    }

    #[test]
    fn a_raw_value_goes_as_it_is_whatever_its_size() {
        let text = format!(r#"{{"s":"{}","n":[1,2]}}"#, "x".repeat(100_000));
        let raw = RawValue::from_string(text.clone()).unwrap();
        let mut frames = Vec::new();
        assert_eq!(to_script_into(&raw, &mut frames).unwrap(), text);
        assert!(frames.is_empty());
    }

    #[test]
    fn inlined_bytes_are_arrays_of_numbers() {
        let frames = vec![Bytes::from_static(&[1, 255])];
        let value = serde_json::json!({ "a": { "$bytes": 0 }, "b": [{ "$bytes": 0 }, "x"] });
        assert_eq!(
            inline(value, &frames),
            serde_json::json!({ "a": [1, 255], "b": [[1, 255], "x"] })
        );
    }

    #[test]
    fn plain_json_is_unchanged() {
        let value = serde_json::json!({"a": [1, 2, 255], "b": {"$bytes": 0}});
        let (json, frames) = to_json(&value).unwrap();
        assert_eq!(json, value.to_string());
        assert!(frames.is_empty());
    }

    #[test]
    fn a_sequence_that_is_not_all_u8_stays_an_array() {
        #[derive(Serialize)]
        #[serde(untagged)]
        enum Item {
            Byte(u8),
            Text(&'static str),
        }
        let items = vec![Item::Byte(1), Item::Byte(2), Item::Text("x")];
        let (json, frames) = to_json(&items).unwrap();
        assert_eq!(json, r#"[1,2,"x"]"#);
        assert!(frames.is_empty());
    }

    #[test]
    fn a_placeholder_reads_as_any_byte_container_or_a_value() {
        let frames = vec![Bytes::from_static(b"abc")];
        let json = r#"{"$bytes":0}"#;
        assert_eq!(from_json::<Vec<u8>>(json, &frames).unwrap(), b"abc");
        assert_eq!(from_json::<Bytes>(json, &frames).unwrap(), &b"abc"[..]);
        let value: serde_json::Value = from_json(json, &[]).unwrap();
        assert_eq!(placeholder(&value, &frames), Some(&frames[0]));
        // An index past the frames is a plain object.
        let other: serde_json::Value = serde_json::from_str(r#"{"$bytes":1}"#).unwrap();
        assert_eq!(placeholder(&other, &frames), None);
    }

    #[test]
    fn enums_options_and_maps_read_through_placeholders() {
        #[derive(Debug, PartialEq, Deserialize, Serialize)]
        enum Shape {
            Blob(Bytes),
            Pair {
                left: Vec<u8>,
                right: Option<Vec<u8>>,
            },
            Empty,
        }
        let value = vec![
            Shape::Blob(Bytes::from_static(b"x")),
            Shape::Pair {
                left: vec![1],
                right: None,
            },
            Shape::Empty,
        ];
        let (json, frames) = to_json(&value).unwrap();
        assert_eq!(from_json::<Vec<Shape>>(&json, &frames).unwrap(), value);
        let map: std::collections::BTreeMap<String, Bytes> =
            from_json(r#"{"k":{"$bytes":0}}"#, &[Bytes::from_static(b"v")]).unwrap();
        assert_eq!(map["k"], &b"v"[..]);
    }

    proptest! {
        #[test]
        fn random_bytes_round_trip(parts in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..300), 0..6)) {
            let (json, frames) = to_json(&parts).unwrap();
            prop_assert_eq!(frames.len(), parts.len());
            prop_assert_eq!(from_json::<Vec<Vec<u8>>>(&json, &frames).unwrap(), parts);
        }
    }
}
