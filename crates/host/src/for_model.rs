//! What a run gives back, within a budget of bytes, for a model to read:
//! [`Output::for_model`]. The cut is structural, so the text stays valid
//! JSON and says what it left out: long arrays keep their head and end
//! with `"… N more items"`, objects keep their first keys and end with a
//! `"…"` key, long strings keep their start and say how many characters
//! were cut, and what lies too deep is replaced by a summary of its size.

use serde_json::{json, Map, Value};

use crate::output::Output;

/// How much of a value is kept, shrunk until the rendering fits.
#[derive(Debug, Clone, Copy)]
struct Limits {
    items: usize,
    chars: usize,
    depth: usize,
}

impl Limits {
    fn smaller(self) -> Option<Limits> {
        if self.items <= 1 && self.chars <= 16 && self.depth <= 1 {
            return None;
        }
        Some(Limits {
            // Two items (or keys) are kept until depth has been cut too.
            items: (self.items / 2).max(if self.depth > 2 { 2 } else { 1 }),
            chars: (self.chars / 2).max(16),
            // Depth goes last: a summary of a whole subtree says less than
            // its first items do.
            depth: if self.items <= 4 {
                (self.depth * 3 / 4).max(1)
            } else {
                self.depth
            },
        })
    }
}

/// `value` with at most `limits` of it.
fn shrink(value: &Value, limits: Limits, depth: usize) -> Value {
    match value {
        Value::String(text) => Value::String(cut(text, limits.chars)),
        Value::Array(items) if depth >= limits.depth && !items.is_empty() => {
            Value::String(format!("[… {} items]", items.len()))
        }
        Value::Object(map) if depth >= limits.depth && !map.is_empty() => {
            Value::String(format!("{{… {} keys}}", map.len()))
        }
        Value::Array(items) => {
            let mut kept: Vec<Value> = items
                .iter()
                .take(limits.items)
                .map(|item| shrink(item, limits, depth + 1))
                .collect();
            if items.len() > limits.items {
                kept.push(Value::String(format!(
                    "… {} more items",
                    items.len() - limits.items
                )));
            }
            Value::Array(kept)
        }
        Value::Object(map) => {
            let mut kept: Map<String, Value> = map
                .iter()
                .take(limits.items)
                .map(|(key, item)| {
                    (
                        cut(key, limits.chars.max(64)),
                        shrink(item, limits, depth + 1),
                    )
                })
                .collect();
            if map.len() > limits.items {
                kept.insert(
                    "…".into(),
                    Value::String(format!("{} more keys", map.len() - limits.items)),
                );
            }
            Value::Object(kept)
        }
        other => other.clone(),
    }
}

/// `text` cut to `chars` characters, saying how many were cut.
fn cut(text: &str, chars: usize) -> String {
    let count = text.chars().count();
    if count <= chars {
        return text.to_owned();
    }
    let kept: String = text.chars().take(chars).collect();
    format!("{kept}… ({} more characters)", count - chars)
}

/// `value` rendered within `max_bytes`, cut as little as the budget allows.
pub(crate) fn fit(value: &Value, max_bytes: usize) -> String {
    let whole = value.to_string();
    if whole.len() <= max_bytes {
        return whole;
    }
    let mut limits = Some(Limits {
        items: 1000,
        chars: 10_000,
        depth: 32,
    });
    while let Some(now) = limits {
        let text = shrink(value, now, 0).to_string();
        if text.len() <= max_bytes {
            return text;
        }
        limits = now.smaller();
    }
    // Not even a summary fits: say only that, as briefly as JSON allows.
    let summary = json!({ "truncated": format!("{} bytes", whole.len()) }).to_string();
    if summary.len() <= max_bytes {
        summary
    } else {
        "null".into()
    }
}

impl Output {
    /// The run's value, console output and events as one JSON text of at
    /// most `max_bytes` bytes, for a model to read: `{"value": ..., "logs":
    /// ["[warn] ...", ...], "events": [{"name", "data"}, ...]}` (`logs` and
    /// `events` only when there are some, `approval_wait_ms` when the run
    /// waited for approvals). What does not fit is cut structurally and the
    /// cut is said where it happened (see the module's doc), so the text is
    /// always valid JSON. Budgets under 32 bytes may give `null`.
    ///
    /// ```
    /// # use outrigger_host::Output;
    /// let output = Output {
    ///     value: serde_json::json!({ "rows": (0..1000).collect::<Vec<_>>() }),
    ///     logs: vec![],
    ///     events: vec![],
    ///     approval_wait: std::time::Duration::ZERO,
    ///     binary: vec![],
    /// };
    /// let text = output.for_model(200);
    /// assert!(text.len() <= 200);
    /// let back: serde_json::Value = serde_json::from_str(&text).unwrap();
    /// assert!(back["value"]["rows"].as_array().unwrap().last().unwrap().as_str().unwrap().contains("more items"));
    /// ```
    pub fn for_model(&self, max_bytes: usize) -> String {
        let mut rendered = Map::new();
        rendered.insert("value".into(), described(&self.value, &self.binary));
        if !self.logs.is_empty() {
            let lines = self
                .logs
                .iter()
                .map(|entry| {
                    Value::String(format!("[{}] {}", level_name(entry.level), entry.message()))
                })
                .collect();
            rendered.insert("logs".into(), Value::Array(lines));
        }
        if !self.events.is_empty() {
            let events = self
                .events
                .iter()
                .map(|event| json!({ "name": event.name, "data": event.data }))
                .collect();
            rendered.insert("events".into(), Value::Array(events));
        }
        if self.approval_wait.as_millis() > 0 {
            rendered.insert(
                "approval_wait_ms".into(),
                json!(self.approval_wait.as_millis() as u64),
            );
        }
        fit(&Value::Object(rendered), max_bytes)
    }
}

fn level_name(level: crate::output::LogLevel) -> &'static str {
    use crate::output::LogLevel;
    match level {
        LogLevel::Log => "log",
        LogLevel::Info => "info",
        LogLevel::Warn => "warn",
        LogLevel::Error => "error",
        LogLevel::Debug => "debug",
        LogLevel::Trace => "trace",
    }
}

/// `value` with each binary value (a placeholder, see [`Output::value`]) told
/// as its size: a model has no use for the bytes.
fn described(value: &Value, binary: &[bytes::Bytes]) -> Value {
    if binary.is_empty() {
        return value.clone();
    }
    if let Some(bytes) = crate::binary::placeholder(value, binary) {
        return Value::String(format!("[binary data: {} bytes]", bytes.len()));
    }
    match value {
        Value::Array(items) => Value::Array(items.iter().map(|v| described(v, binary)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), described(v, binary)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn what_fits_is_left_as_it_is() {
        let value = json!({ "a": [1, 2, 3], "b": "text" });
        assert_eq!(fit(&value, 1000), value.to_string());
    }

    #[test]
    fn long_arrays_keep_their_head_and_say_what_was_cut() {
        let value = json!((0..10_000).collect::<Vec<_>>());
        let text = fit(&value, 300);
        assert!(text.len() <= 300, "{text}");
        let back: Vec<Value> = serde_json::from_str(&text).unwrap();
        assert_eq!(back[0], 0);
        assert_eq!(back[1], 1);
        let last = back.last().unwrap().as_str().unwrap();
        assert!(
            last.starts_with("… ") && last.ends_with(" more items"),
            "{last}"
        );
        let kept = back.len() - 1;
        assert_eq!(last, format!("… {} more items", 10_000 - kept));
    }

    #[test]
    fn long_strings_and_deep_objects_are_summarized() {
        let long = "x".repeat(5_000);
        let mut deep = json!("bottom");
        for _ in 0..50 {
            deep = json!({ "next": deep, "pad": "y".repeat(50) });
        }
        let text = fit(&json!({ "long": long, "deep": deep }), 600);
        assert!(text.len() <= 600, "{text}");
        let back: Value = serde_json::from_str(&text).unwrap();
        assert!(back["long"].as_str().unwrap().contains("more characters)"));
        assert!(text.contains(" keys}"), "{text}");
    }

    proptest! {
        /// Whatever the value and budget, the text is valid JSON within it.
        #[test]
        fn always_valid_json_within_the_budget(
            value in arbitrary_json(),
            budget in 32usize..4000,
        ) {
            let text = fit(&value, budget);
            prop_assert!(text.len() <= budget, "{} > {budget}: {text}", text.len());
            prop_assert!(serde_json::from_str::<Value>(&text).is_ok(), "{text}");
        }
    }

    fn arbitrary_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            "[a-zé😀 ]{0,300}".prop_map(Value::String),
        ];
        leaf.prop_recursive(6, 400, 40, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..40).prop_map(Value::Array),
                prop::collection::btree_map("[a-z]{1,12}", inner, 0..30)
                    .prop_map(|map| Value::Object(map.into_iter().collect())),
            ]
        })
    }

    #[test]
    fn binary_values_are_told_by_their_size() {
        let output = Output {
            value: json!({ "file": { "$bytes": 0 }, "name": "a" }),
            logs: vec![],
            events: vec![],
            approval_wait: std::time::Duration::ZERO,
            binary: vec![bytes::Bytes::from(vec![0u8; 1234])],
        };
        let back: Value = serde_json::from_str(&output.for_model(1000)).unwrap();
        assert_eq!(back["value"]["file"], "[binary data: 1234 bytes]");
        assert_eq!(back["value"]["name"], "a");
    }
}
