//! Checking a value against a JSON Schema, for tools registered at run time
//! (`PoolBuilder::tool`), whose params have no Rust type to be parsed into.
//! The keywords checked are those tool schemas use: `type` (one or a list),
//! `enum`, `const`, `properties`, `required`, `additionalProperties`,
//! `items`, `prefixItems`, `minItems`/`maxItems`, `minLength`/`maxLength`,
//! `minimum`/`maximum` (and their exclusive forms), `multipleOf`,
//! `anyOf`/`oneOf`/`allOf`/`not`, and `$ref` to `#/$defs/..` or
//! `#/definitions/..`. Others (`pattern`, `format`, ...) are not checked.

use serde_json::{Map, Value};

/// Where in the value a check failed (`.` for the root, `user.tags[0]`
/// below it, as the params errors of `#[outrigger::callbacks]` say), and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Invalid {
    pub(crate) path: String,
    pub(crate) reason: String,
}

/// The error a call with params that break the schema gets, in the words
/// of the params errors of typed callbacks.
pub(crate) fn params_error(callback: &str, invalid: Invalid) -> super::CallbackError {
    let message = if invalid.path == "." {
        format!("invalid params for `{callback}`: {}", invalid.reason)
    } else {
        format!(
            "invalid params for `{callback}`: `{}`: {}",
            invalid.path, invalid.reason
        )
    };
    super::CallbackError::new(message)
        .with_code(crate::wire::codes::INVALID_PARAMS)
        .with_data(serde_json::json!({ "callback": callback, "path": invalid.path, "reason": invalid.reason }))
}

/// Checks `value` against `schema` (its `$defs` resolved against `schema` itself).
pub(crate) fn validate(schema: &Value, value: &Value) -> Result<(), Invalid> {
    Checker { root: schema }.check(schema, value, &mut Vec::new(), 0)
}

struct Checker<'a> {
    root: &'a Value,
}

/// A step of the path to a value.
enum Step {
    Key(String),
    Index(usize),
}

fn render(path: &[Step]) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let mut out = String::new();
    for step in path {
        match step {
            Step::Key(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Step::Index(index) => out.push_str(&format!("[{index}]")),
        }
    }
    out
}

fn plural(count: u64) -> &'static str {
    if count == 1 {
        ""
    } else {
        "s"
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn has_type(value: &Value, name: &str) -> bool {
    match name {
        "number" => value.is_number(),
        "integer" => match value {
            Value::Number(n) => {
                n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
            }
            _ => false,
        },
        other => type_name(value) == other,
    }
}

impl Checker<'_> {
    fn fail(path: &[Step], reason: String) -> Result<(), Invalid> {
        Err(Invalid {
            path: render(path),
            reason,
        })
    }

    fn resolve(&self, reference: &str) -> Option<&Value> {
        let pointer = reference.strip_prefix('#')?;
        self.root.pointer(pointer)
    }

    fn check(
        &self,
        schema: &Value,
        value: &Value,
        path: &mut Vec<Step>,
        depth: usize,
    ) -> Result<(), Invalid> {
        if depth > 64 {
            return Self::fail(path, "the schema nests too deep (a `$ref` cycle?)".into());
        }
        let schema = match schema {
            Value::Bool(true) => return Ok(()),
            Value::Bool(false) => return Self::fail(path, "no value is allowed here".into()),
            Value::Object(schema) => schema,
            _ => return Ok(()),
        };
        if let Some(Value::String(reference)) = schema.get("$ref") {
            let Some(target) = self.resolve(reference) else {
                return Self::fail(
                    path,
                    format!("the schema refers to `{reference}`, which it does not define"),
                );
            };
            self.check(target, value, path, depth + 1)?;
        }
        self.check_type(schema, value, path)?;
        if let Some(Value::Array(options)) = schema.get("enum") {
            if !options.contains(value) {
                let listed: Vec<String> = options.iter().map(Value::to_string).collect();
                return Self::fail(
                    path,
                    format!("expected one of {}, got {value}", listed.join(", ")),
                );
            }
        }
        if let Some(expected) = schema.get("const") {
            if expected != value {
                return Self::fail(path, format!("expected {expected}, got {value}"));
            }
        }
        match value {
            Value::Object(object) => self.check_object(schema, object, path, depth)?,
            Value::Array(items) => self.check_array(schema, items, path, depth)?,
            Value::String(text) => Self::check_string(schema, text, path)?,
            Value::Number(_) => Self::check_number(schema, value, path)?,
            _ => {}
        }
        self.check_combinations(schema, value, path, depth)
    }

    fn check_type(
        &self,
        schema: &Map<String, Value>,
        value: &Value,
        path: &[Step],
    ) -> Result<(), Invalid> {
        let allowed: Vec<&str> = match schema.get("type") {
            Some(Value::String(name)) => vec![name.as_str()],
            Some(Value::Array(names)) => names.iter().filter_map(Value::as_str).collect(),
            _ => return Ok(()),
        };
        if allowed.iter().any(|name| has_type(value, name)) {
            return Ok(());
        }
        Self::fail(
            path,
            format!(
                "expected {}, got {}",
                allowed.join(" or "),
                type_name(value)
            ),
        )
    }

    fn check_object(
        &self,
        schema: &Map<String, Value>,
        object: &Map<String, Value>,
        path: &mut Vec<Step>,
        depth: usize,
    ) -> Result<(), Invalid> {
        if let Some(Value::Array(required)) = schema.get("required") {
            for name in required.iter().filter_map(Value::as_str) {
                if !object.contains_key(name) {
                    return Self::fail(path, format!("missing field `{name}`"));
                }
            }
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        for (key, item) in object {
            path.push(Step::Key(key.clone()));
            let result = match (
                properties.and_then(|p| p.get(key)),
                schema.get("additionalProperties"),
            ) {
                (Some(property), _) => self.check(property, item, path, depth + 1),
                (None, Some(Value::Bool(false))) => {
                    path.pop();
                    return Self::fail(path, format!("unknown field `{key}`"));
                }
                (None, Some(additional @ Value::Object(_))) => {
                    self.check(additional, item, path, depth + 1)
                }
                (None, _) => Ok(()),
            };
            path.pop();
            result?;
        }
        Ok(())
    }

    fn check_array(
        &self,
        schema: &Map<String, Value>,
        items: &[Value],
        path: &mut Vec<Step>,
        depth: usize,
    ) -> Result<(), Invalid> {
        let count = |key: &str| schema.get(key).and_then(Value::as_u64);
        if let Some(min) = count("minItems") {
            if (items.len() as u64) < min {
                return Self::fail(
                    path,
                    format!(
                        "expected at least {min} item{}, got {}",
                        plural(min),
                        items.len()
                    ),
                );
            }
        }
        if let Some(max) = count("maxItems") {
            if (items.len() as u64) > max {
                return Self::fail(
                    path,
                    format!(
                        "expected at most {max} item{}, got {}",
                        plural(max),
                        items.len()
                    ),
                );
            }
        }
        let prefix = schema.get("prefixItems").and_then(Value::as_array);
        for (index, item) in items.iter().enumerate() {
            let item_schema = prefix
                .and_then(|p| p.get(index))
                .or_else(|| schema.get("items"));
            if let Some(item_schema) = item_schema {
                path.push(Step::Index(index));
                let result = self.check(item_schema, item, path, depth + 1);
                path.pop();
                result?;
            }
        }
        Ok(())
    }

    fn check_string(schema: &Map<String, Value>, text: &str, path: &[Step]) -> Result<(), Invalid> {
        let length = text.chars().count() as u64;
        if let Some(min) = schema.get("minLength").and_then(Value::as_u64) {
            if length < min {
                return Self::fail(
                    path,
                    format!(
                        "expected at least {min} character{}, got {length}",
                        plural(min)
                    ),
                );
            }
        }
        if let Some(max) = schema.get("maxLength").and_then(Value::as_u64) {
            if length > max {
                return Self::fail(
                    path,
                    format!(
                        "expected at most {max} character{}, got {length}",
                        plural(max)
                    ),
                );
            }
        }
        Ok(())
    }

    fn check_number(
        schema: &Map<String, Value>,
        value: &Value,
        path: &[Step],
    ) -> Result<(), Invalid> {
        let Some(number) = value.as_f64() else {
            return Ok(());
        };
        let bound = |key: &str| schema.get(key).and_then(Value::as_f64);
        if let Some(min) = bound("minimum") {
            if number < min {
                return Self::fail(path, format!("expected at least {min}, got {value}"));
            }
        }
        if let Some(max) = bound("maximum") {
            if number > max {
                return Self::fail(path, format!("expected at most {max}, got {value}"));
            }
        }
        if let Some(min) = bound("exclusiveMinimum") {
            if number <= min {
                return Self::fail(path, format!("expected more than {min}, got {value}"));
            }
        }
        if let Some(max) = bound("exclusiveMaximum") {
            if number >= max {
                return Self::fail(path, format!("expected less than {max}, got {value}"));
            }
        }
        if let Some(step) = bound("multipleOf") {
            if step > 0.0 && (number / step).fract().abs() > 1e-9 {
                return Self::fail(path, format!("expected a multiple of {step}, got {value}"));
            }
        }
        Ok(())
    }

    fn check_combinations(
        &self,
        schema: &Map<String, Value>,
        value: &Value,
        path: &mut Vec<Step>,
        depth: usize,
    ) -> Result<(), Invalid> {
        if let Some(Value::Array(all)) = schema.get("allOf") {
            for part in all {
                self.check(part, value, path, depth + 1)?;
            }
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(Value::Array(options)) = schema.get(key) {
                let mut first_error = None;
                let mut matched = 0;
                for option in options {
                    match self.check(option, value, path, depth + 1) {
                        Ok(()) => matched += 1,
                        Err(error) => {
                            first_error.get_or_insert(error);
                        }
                    }
                }
                if matched == 0 {
                    let reason = first_error.map_or_else(String::new, |e| {
                        format!(" (first: {}: {})", e.path, e.reason)
                    });
                    return Self::fail(
                        path,
                        format!(
                            "matches none of the {} allowed shapes{reason}",
                            options.len()
                        ),
                    );
                }
                if key == "oneOf" && matched > 1 {
                    return Self::fail(
                        path,
                        format!("matches {matched} of the shapes where exactly one is allowed"),
                    );
                }
            }
        }
        if let Some(not) = schema.get("not") {
            if self.check(not, value, path, depth + 1).is_ok() {
                return Self::fail(path, "matches a shape that is not allowed".into());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "to": { "type": "string", "minLength": 3 },
                "cc": { "type": "array", "items": { "$ref": "#/$defs/Address" }, "maxItems": 2 },
                "priority": { "enum": ["low", "high"] },
                "retries": { "type": ["integer", "null"], "minimum": 0 }
            },
            "required": ["to"],
            "additionalProperties": false,
            "$defs": { "Address": { "type": "object", "properties": { "email": { "type": "string" } }, "required": ["email"] } }
        })
    }

    fn error(value: Value) -> (String, String) {
        let invalid = validate(&schema(), &value).unwrap_err();
        (invalid.path, invalid.reason)
    }

    #[test]
    fn a_valid_value_passes_and_each_fault_names_its_place() {
        assert_eq!(
            validate(
                &schema(),
                &json!({ "to": "ada", "cc": [{ "email": "b" }], "priority": "low", "retries": null })
            ),
            Ok(())
        );
        assert_eq!(error(json!({})), (".".into(), "missing field `to`".into()));
        assert_eq!(
            error(json!({ "to": 7 })),
            ("to".into(), "expected string, got integer".into())
        );
        assert_eq!(
            error(json!({ "to": "ab" })),
            ("to".into(), "expected at least 3 characters, got 2".into())
        );
        assert_eq!(
            error(json!({ "to": "ada", "cc": [{ "email": "x" }, {}] })),
            ("cc[1]".into(), "missing field `email`".into())
        );
        assert_eq!(
            error(json!({ "to": "ada", "extra": 1 })),
            (".".into(), "unknown field `extra`".into())
        );
        assert_eq!(
            error(json!({ "to": "ada", "priority": "mid" })),
            (
                "priority".into(),
                r#"expected one of "low", "high", got "mid""#.into()
            )
        );
        assert_eq!(
            error(json!({ "to": "ada", "retries": -1 })),
            ("retries".into(), "expected at least 0, got -1".into())
        );
        assert_eq!(
            error(json!({ "to": "ada", "retries": 1.5 })),
            (
                "retries".into(),
                "expected integer or null, got number".into()
            )
        );
    }
}
