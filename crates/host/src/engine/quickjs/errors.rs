//! What a run threw, as the JSON-RPC error the host maps into
//! [`Error`](crate::Error): the same codes and `data` as the Node.js
//! runtime's (`js-client/src/05_errors.mjs`), with line and column read
//! from QuickJS's stack (`at f (name:line:column)`).

use rquickjs::{Ctx, Value};

use super::engine::state;
use crate::wire::{codes, RpcError};

/// The error for what was thrown in a script named `filename`.
pub(super) fn from_thrown<'js>(ctx: &Ctx<'js>, thrown: Value<'js>, filename: &str) -> RpcError {
    let st = state();
    let Some(thrown) = st.helper.describe(ctx, thrown) else {
        return RpcError {
            code: codes::SCRIPT_ERROR,
            message: "uncaught exception (it could not be read)".into(),
            data: None,
        };
    };
    if thrown.name == "InternalError" && thrown.message == "interrupted" {
        if st
            .current
            .get()
            .is_some_and(|run| st.shared.is_cancelled(run))
        {
            return super::engine::cancelled();
        }
        return RpcError {
            code: codes::TIMEOUT,
            message: "the run's synchronous code was stopped at its deadline".into(),
            data: None,
        };
    }
    if thrown.name == "InternalError" && thrown.message == "out of memory" {
        return memory_limit("InternalError: out of memory", st.memory_mb);
    }
    match thrown.code.as_deref() {
        Some("ERR_OUTRIGGER_DENIED") => {
            return RpcError {
                code: codes::DENIED,
                message: thrown.message,
                data: Some(serde_json::json!({
                    "capability": thrown.capability.unwrap_or_default(),
                    "setting": thrown.setting.unwrap_or_default(),
                })),
            }
        }
        Some("ERR_OUTRIGGER_IMPORT") => {
            return RpcError {
                code: codes::IMPORT,
                message: thrown.message,
                data: Some(serde_json::json!({
                    "specifier": thrown.specifier.unwrap_or_default(),
                    "referrer": thrown.referrer.unwrap_or_default(),
                })),
            }
        }
        Some("ERR_OUTRIGGER_NON_JSON") => {
            return RpcError {
                code: codes::NON_JSON,
                message: thrown.message,
                data: None,
            }
        }
        Some("ERR_OUTRIGGER_LIMIT") => {
            return RpcError {
                code: codes::LIMIT,
                message: thrown.message,
                data: None,
            }
        }
        _ => {}
    }
    if thrown.is_error {
        let (line, column) = thrown
            .stack
            .as_deref()
            .and_then(|stack| locate(stack, filename, &thrown.name))
            .unzip();
        let stack = thrown.stack.as_deref().map(clean_stack);
        return RpcError {
            code: codes::SCRIPT_ERROR,
            message: format!("{}: {}", thrown.name, thrown.message),
            data: Some(serde_json::json!({
                "name": thrown.name,
                "message": thrown.message,
                "stack": stack,
                "line": line,
                "column": column,
            })),
        };
    }
    RpcError {
        code: codes::SCRIPT_ERROR,
        message: format!("uncaught {}: {}", thrown.name, thrown.message),
        data: Some(serde_json::json!({
            "name": thrown.name, "message": thrown.message, "stack": null, "line": null, "column": null,
        })),
    }
}

/// The error for an rquickjs error met while doing something for a run.
pub(super) fn from_engine<'js>(ctx: &Ctx<'js>, error: rquickjs::Error, filename: &str) -> RpcError {
    match error {
        rquickjs::Error::Exception => from_thrown(ctx, ctx.catch(), filename),
        rquickjs::Error::Allocation => memory_limit("an allocation failed", state().memory_mb),
        other => RpcError {
            code: codes::SCRIPT_ERROR,
            message: other.to_string(),
            data: Some(serde_json::json!({
                "name": "Error", "message": other.to_string(), "stack": null, "line": null, "column": null,
            })),
        },
    }
}

/// QuickJS's `TypeError` for a call of something that is not a function
/// names nothing. When the script calls a `host.` name there (a callback
/// that does not exist: it reads as `undefined`, so that scripts can detect
/// optional tools), say so and list the callbacks that do, as Node's
/// worker does.
pub(super) fn name_missing_callback(error: &mut RpcError, source: &str, callbacks: &str) {
    let Some(data) = error.data.as_mut().and_then(|d| d.as_object_mut()) else {
        return;
    };
    if data.get("name").and_then(|n| n.as_str()) != Some("TypeError")
        || data.get("message").and_then(|m| m.as_str()) != Some("not a function")
    {
        return;
    }
    let at = |key: &str| data.get(key).and_then(|v| v.as_u64()).map(|v| v as usize);
    let (Some(line), Some(column)) = (at("line"), at("column")) else {
        return;
    };
    let Some(callee) = callee_at(source, line, column) else {
        return;
    };
    if !callee.starts_with("host.") {
        return;
    }
    let message = format!("{callee} is not a callback (callbacks: {callbacks})");
    data.insert("message".into(), message.clone().into());
    error.message = format!("TypeError: {message}");
}

/// The dotted name around 1-based `line` and `column` of `source`.
fn callee_at(source: &str, line: usize, column: usize) -> Option<String> {
    let text: Vec<char> = source.lines().nth(line.checked_sub(1)?)?.chars().collect();
    let part = |c: &char| c.is_alphanumeric() || matches!(c, '_' | '$' | '.');
    let at = column.checked_sub(1)?.min(text.len().checked_sub(1)?);
    if !part(&text[at]) {
        return None;
    }
    let start = (0..=at).rev().take_while(|i| part(&text[*i])).last()?;
    let end = (at..text.len()).take_while(|i| part(&text[*i])).last()?;
    Some(text[start..=end].iter().collect())
}

/// The `LIMIT` error of a run whose allocation the engine refused.
pub(super) fn memory_limit(what: &str, bound_mb: u64) -> RpcError {
    let bound = if bound_mb > 0 {
        format!(" of {bound_mb} MiB")
    } else {
        String::new()
    };
    RpcError {
        code: codes::LIMIT,
        message: format!(
            "the run asked for memory past its engine's bound{bound} (Sandbox::max_memory_mb) and was refused: {what}"
        ),
        data: Some(serde_json::json!({ "limit": "memory" })),
    }
}

/// Line and column of the first frame in `filename`, past the frames of
/// the error's own class (`class Custom extends Error`: QuickJS shows its
/// constructor, where V8 starts at the `new`).
fn locate(stack: &str, filename: &str, class: &str) -> Option<(u32, u32)> {
    let own = format!("at {class} (");
    stack.lines().find_map(|line| {
        if line.trim_start().starts_with(&own) {
            return None;
        }
        let place = frame_place(line)?;
        let rest = place.strip_prefix(filename)?.strip_prefix(':')?;
        let (line, column) = rest.split_once(':')?;
        Some((line.parse().ok()?, column.parse().ok()?))
    })
}

/// `file:line:column` of a stack line (`at f (file:1:2)` or `at file:1:2`).
fn frame_place(line: &str) -> Option<&str> {
    let frame = line.trim().strip_prefix("at ")?;
    match frame.rfind(" (") {
        Some(open) if frame.ends_with(')') => Some(&frame[open + 2..frame.len() - 1]),
        _ => Some(frame),
    }
}

/// The stack without the engine's own frames.
fn clean_stack(stack: &str) -> String {
    stack
        .lines()
        .filter(|line| !frame_place(line).is_some_and(|p| p.starts_with("outrigger:")))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_name_called_where_quickjs_points() {
        let source = "const x = 1;\nawait host.weather.nope({ city: 'Oslo' });";
        assert_eq!(
            callee_at(source, 2, 19).as_deref(),
            Some("host.weather.nope")
        );
        assert_eq!(callee_at(source, 2, 1).as_deref(), Some("await"));
        assert_eq!(callee_at(source, 3, 1), None);
        assert_eq!(callee_at(source, 2, 6), None);
    }

    #[test]
    fn reads_line_and_column_of_the_script_from_the_stack() {
        let stack = "    at f (lookup.js:2:23)\n    at <eval> (lookup.js:3:1)\n";
        assert_eq!(locate(stack, "lookup.js", "TypeError"), Some((2, 23)));
        assert_eq!(
            locate("    at script.js:2:7\n", "script.js", "SyntaxError"),
            Some((2, 7))
        );
        assert_eq!(
            locate("    at g (other.js:1:1)\n", "script.js", "Error"),
            None
        );
        let custom = "    at Custom (m.mjs:2:1)\n    at <anonymous> (m.mjs:3:7)\n";
        assert_eq!(locate(custom, "m.mjs", "Custom"), Some((3, 7)));
        assert_eq!(
            clean_stack("    at f (outrigger:world:3:4)\n    at <eval> (s.js:1:1)"),
            "    at <eval> (s.js:1:1)"
        );
    }
}
