//! Binary values: `Uint8Array`/`ArrayBuffer` in scripts, `Vec<u8>` and
//! `Bytes` in Rust, crossing as raw frames beside the JSON messages, in
//! every direction: globals, results, callback params and results, events,
//! module calls, sessions.

mod common;

use std::sync::{Arc, Mutex};

use outrigger::{Bytes, CallbackError, Error, Script};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Bytes of every value, in an order that shows mistakes.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[tokio::test]
async fn bytes_of_many_sizes_go_in_and_come_back_unchanged() {
    let pool = common::pool().await;
    // Around 256 KiB the host starts reading a frame into an allocation of its own.
    for len in [
        0,
        1,
        2,
        10,
        255,
        256,
        4095,
        65_536,
        65_537,
        262_143,
        262_144,
        1 << 20,
        3 << 20,
    ] {
        let data = pattern(len, len as u8);
        let script = Script::expression(
            "if (!(data instanceof Uint8Array)) throw new Error('not a Uint8Array: ' + typeof data); \
             new Uint8Array(data).reverse()",
        )
        .global("data", Bytes::from(data.clone()));
        let output = pool.run(script).await.unwrap();
        let back: Vec<u8> = output.value_as().unwrap();
        let mut expected = data;
        expected.reverse();
        assert_eq!(back.len(), len);
        assert!(back == expected, "{len} bytes came back changed");
        assert_eq!(output.value, json!({"$bytes": 0}));
    }
}

#[tokio::test]
async fn a_vec_of_u8_is_a_uint8array_and_reads_back_as_any_byte_type() {
    let pool = common::pool().await;
    let kind: String = pool
        .run(
            Script::expression("Object.prototype.toString.call(v) + ':' + v.length")
                .global("v", vec![1u8, 2, 3]),
        )
        .await
        .unwrap()
        .value_as()
        .unwrap();
    assert_eq!(kind, "[object Uint8Array]:3");
    let as_vec: Vec<u8> = pool.eval("new Uint8Array([7, 8, 9])").await.unwrap();
    assert_eq!(as_vec, [7, 8, 9]);
    let as_bytes: Bytes = pool.eval("new Uint8Array([7, 8, 9]).buffer").await.unwrap();
    assert_eq!(as_bytes, &[7u8, 8, 9][..]);
    // A Buffer, a view into part of a larger buffer, an empty array.
    let text: Vec<u8> = pool
        .eval("new TextEncoder().encode('héllo')")
        .await
        .unwrap();
    assert_eq!(text, "héllo".as_bytes());
    let part: Vec<u8> = pool
        .eval("new Uint8Array(new Uint8Array([0, 1, 2, 3, 4]).buffer, 1, 3)")
        .await
        .unwrap();
    assert_eq!(part, [1, 2, 3]);
    let empty: Vec<u8> = pool.eval("new Uint8Array(0)").await.unwrap();
    assert!(empty.is_empty());
    // Serde gives an empty `Vec<u8>` as an empty sequence, like any empty
    // `Vec`: it arrives as `[]`. `Bytes` (or `serde_bytes`) says it is bytes.
    let kinds: String = pool
        .run(
            Script::expression(
                "Object.prototype.toString.call(v) + ':' + Object.prototype.toString.call(b) + ':' + b.length",
            )
            .global("v", Vec::<u8>::new())
            .global("b", Bytes::new()),
        )
        .await
        .unwrap()
        .value_as()
        .unwrap();
    assert_eq!(kinds, "[object Array]:[object Uint8Array]:0");
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Upload {
    name: String,
    parts: Vec<Bytes>,
    meta: Option<Bytes>,
}

#[tokio::test]
async fn binary_values_inside_json_keep_their_places() {
    let pool = common::pool().await;
    let upload = Upload {
        name: "a.bin".into(),
        parts: vec![Bytes::from_static(b"one"), Bytes::from(pattern(70_000, 3))],
        meta: None,
    };
    let script = Script::module(
        "const { name, parts } = upload;
         export default {
           name: name.toUpperCase(),
           parts: [...parts.map((p) => p.subarray(0, 2)), new Uint8Array([parts.length])],
           meta: new Uint8Array(parts[1].length % 256),
         };",
    )
    .global("upload", &upload);
    let back: Upload = pool.run(script).await.unwrap().value_as().unwrap();
    assert_eq!(back.name, "A.BIN");
    assert_eq!(
        back.parts,
        [
            Bytes::from_static(b"on"),
            Bytes::from(pattern(2, 3)),
            Bytes::from_static(&[2])
        ]
    );
    assert_eq!(back.meta.unwrap().len(), 70_000 % 256);
}

#[tokio::test]
async fn large_and_small_values_in_one_answer_keep_their_order() {
    let pool = common::pool().await;
    // Large frames, read by the host each into its own allocation, between
    // small ones read from its buffer, twice in a row on one worker.
    let script = "[300000, 7, 1 << 20, 0, 262144, 5].map((n, i) => \
                  new Uint8Array(n).map((_, j) => (j * 31 + i) & 255))";
    for _ in 0..2 {
        let back: Vec<Bytes> = pool.eval(script).await.unwrap();
        let lens: Vec<usize> = back.iter().map(Bytes::len).collect();
        assert_eq!(lens, [300_000, 7, 1 << 20, 0, 262_144, 5]);
        for (i, value) in back.iter().enumerate() {
            let expected: Vec<u8> = (0..value.len())
                .map(|j| ((j * 31 + i) & 255) as u8)
                .collect();
            assert!(value[..] == expected[..], "value {i} came back changed");
        }
    }
}

#[derive(Default)]
struct Store {
    saved: Arc<Mutex<Vec<Vec<u8>>>>,
}

#[outrigger::callbacks]
impl Store {
    /// Keeps `data`, answers its length and its bytes reversed.
    async fn save(&self, data: Vec<u8>) -> Result<Reply, CallbackError> {
        self.saved.lock().unwrap().push(data.clone());
        let mut reversed = data.clone();
        reversed.reverse();
        Ok(Reply {
            len: data.len(),
            reversed: Bytes::from(reversed),
        })
    }
}

#[derive(Serialize, schemars::JsonSchema)]
struct Reply {
    len: usize,
    reversed: Bytes,
}

#[tokio::test]
async fn callbacks_take_and_give_bytes() {
    let store = Store::default();
    let saved = store.saved.clone();
    let pool = common::builder().callbacks(store).build().await.unwrap();
    let script = Script::module(
        "const data = new Uint8Array(300000).map((_, i) => i % 251);
         const reply = await host.save({ data });
         if (!(reply.reversed instanceof Uint8Array)) throw new Error('not bytes');
         export default [reply.len, reply.reversed[0], reply.reversed.at(-1)];",
    );
    let value: (usize, u8, u8) = pool.run(script).await.unwrap().value_as().unwrap();
    assert_eq!(value, (300_000, (299_999 % 251) as u8, 0));
    let saved = saved.lock().unwrap();
    assert_eq!(saved.len(), 1);
    assert!(saved[0]
        .iter()
        .enumerate()
        .all(|(i, &b)| b == (i % 251) as u8));
    // What the script sees as the type of the param and the result.
    assert!(
        pool.typescript().contains("data: Uint8Array"),
        "{}",
        pool.typescript()
    );
}

#[tokio::test]
async fn events_carry_bytes() {
    let pool = common::pool().await;
    let output = pool
        .run(Script::expression(
            "host.emit('chunk', { seq: 1, body: new Uint8Array([5, 6]) }); host.emit('raw', new Uint8Array([9]).buffer); 0",
        ))
        .await
        .unwrap();
    #[derive(Deserialize)]
    struct Chunk {
        seq: u32,
        body: Vec<u8>,
    }
    let chunk: Chunk = output.events[0].data_as().unwrap();
    assert_eq!((chunk.seq, chunk.body), (1, vec![5, 6]));
    assert_eq!(output.events[1].data_as::<Bytes>().unwrap(), &[9u8][..]);
}

#[tokio::test]
async fn a_session_keeps_bytes_between_runs() {
    let pool = common::pool().await;
    let session = pool.session().await.unwrap();
    session
        .run(
            Script::expression("globalThis.kept = blob; 0")
                .global("blob", Bytes::from(pattern(5000, 1))),
        )
        .await
        .unwrap();
    let back: Vec<u8> = session.eval("kept.subarray(10, 20)").await.unwrap();
    assert_eq!(back, pattern(5000, 1)[10..20]);
}

#[tokio::test]
async fn module_exports_are_called_with_bytes() {
    let pool = common::pool().await;
    let module = pool
        .load_module(
            "codec",
            "export function xor(data, key) { return data.map((b) => b ^ key); }",
        )
        .await
        .unwrap();
    let out: Vec<u8> = module
        .call("xor", (Bytes::from_static(&[1, 2, 3]), 255))
        .await
        .unwrap();
    assert_eq!(out, [254, 253, 252]);
}

#[tokio::test]
async fn bytes_over_the_message_limit_are_refused_and_the_pool_goes_on() {
    let pool = common::builder()
        .max_message_bytes(1 << 20)
        .build()
        .await
        .unwrap();
    let big = Bytes::from(vec![0u8; 2 << 20]);
    let error = pool
        .run(Script::expression("data.length").global("data", big))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Limit(_)), "{error:?}");
    let error = pool
        .eval::<Vec<u8>>("new Uint8Array(2 << 20)")
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Limit(_)), "{error:?}");
    assert!(error.to_string().contains("binary"), "{error}");
    assert_eq!(pool.eval::<u32>("1 + 1").await.unwrap(), 2);
}

#[tokio::test]
async fn what_bytes_cannot_say_is_refused_with_a_reason() {
    let pool = common::pool().await;
    // Other typed arrays would lose their element type.
    let error = pool
        .eval::<serde_json::Value>("({ samples: new Float32Array(2) })")
        .await
        .unwrap_err();
    let Error::NonJson(message) = &error else {
        panic!("{error:?}")
    };
    assert!(
        message.contains("value.samples is a Float32Array"),
        "{message}"
    );
    // A key that marks binary values, beside binary values.
    let error = pool
        .eval::<serde_json::Value>("({ a: new Uint8Array(1), b: { $bytes: 0 } })")
        .await
        .unwrap_err();
    assert!(matches!(error, Error::NonJson(_)), "{error:?}");
    // Without binary values beside it, such a key is only JSON.
    let plain: serde_json::Value = pool.eval("({ $bytes: 0 })").await.unwrap();
    assert_eq!(plain, json!({"$bytes": 0}));
}

/// Long strings go to scripts as UTF-8 frames; scripts see plain strings.
#[outrigger::callbacks]
impl Texts {
    /// A long text.
    async fn long_text(&self, len: usize) -> Result<String, CallbackError> {
        Ok("ü€😀x".repeat(len))
    }
}

struct Texts;

#[tokio::test]
async fn long_strings_reach_scripts_whole() {
    let pool = common::builder().callbacks(Texts).build().await.unwrap();
    let long = "ü€😀x".repeat(50_000);
    let script = Script::module(
        "const fromHost = await host.longText({ len: 30000 });
         export default [typeof text, text.length, text.slice(0, 4), nested.inner.length, nested.inner === text,
                         typeof fromHost, fromHost.length, fromHost.slice(-4), '$text' in nested];",
    )
    .global("text", &long)
    .global("nested", json!({ "inner": long }));
    let value = pool.run(script).await.unwrap().value;
    assert_eq!(
        value,
        json!([
            "string",
            50_000 * 5,
            "ü€😀",
            50_000 * 5,
            true,
            "string",
            30_000 * 5,
            "€😀x",
            false
        ])
    );
    let module = pool
        .load_module("m", "export const size = (s) => [typeof s, s.length];")
        .await
        .unwrap();
    let back: (String, usize) = module.call("size", (&long,)).await.unwrap();
    assert_eq!(back, ("string".to_owned(), 50_000 * 5));
}

#[tokio::test]
async fn tools_known_at_run_time_get_bytes_as_numbers() {
    let pool = common::builder()
        .tool(
            "sum",
            "Adds bytes up.",
            json!({ "type": "object", "properties": { "data": { "type": "array", "items": { "type": "integer" } } }, "required": ["data"] }),
            json!({ "type": "integer" }),
            |params: serde_json::Value| async move {
                let sum: u64 = params["data"].as_array().unwrap().iter().filter_map(|v| v.as_u64()).sum();
                Ok(json!(sum))
            },
        )
        .build()
        .await
        .unwrap();
    let sum: u64 = pool
        .eval("host.sum({ data: new Uint8Array([1, 2, 250]) })")
        .await
        .unwrap();
    assert_eq!(sum, 253);
}

#[tokio::test]
async fn console_shows_bytes_as_text() {
    let pool = common::pool().await;
    let output = pool
        .run(Script::expression("console.log(new Uint8Array([1, 2])); 0"))
        .await
        .unwrap();
    assert!(
        output.logs[0].message().contains("Uint8Array"),
        "{}",
        output.logs[0]
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_round_trip_through_a_callback_and_back(parts in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..2000), 1..4)) {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let store = Store::default();
            let saved = store.saved.clone();
            let pool = common::builder().workers(1).callbacks(store).build().await.unwrap();
            let script = Script::module(
                "const out = [];
                 for (const p of parts) out.push((await host.save({ data: p })).reversed);
                 export default out;",
            )
            .global("parts", &parts);
            let back: Vec<Vec<u8>> = pool.run(script).await.unwrap().value_as().unwrap();
            let expected: Vec<Vec<u8>> = parts.iter().map(|p| p.iter().rev().copied().collect()).collect();
            prop_assert_eq!(back, expected);
            prop_assert_eq!(&*saved.lock().unwrap(), &parts);
            Ok(())
        })?;
    }
}
