//! Error objects from a worker, turned into the [`Error`] a caller sees.

use std::time::Duration;

use serde::Deserialize;

use super::codes;
use super::decode::RpcError;
use crate::error::Error;

/// What a worker says about a failed run in an error's `data`.
#[derive(Deserialize, Default)]
struct ScriptErrorData {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    stack: Option<String>,
    #[serde(default)]
    line: Option<u32>,
    #[serde(default)]
    column: Option<u32>,
    #[serde(default)]
    specifier: Option<String>,
    /// The file an error is in when it is not the script's own (a
    /// dependency's syntax error).
    #[serde(default)]
    file: Option<String>,
    #[serde(default)]
    referrer: Option<String>,
    /// `process.exit()`'s code.
    #[serde(default, rename = "exitCode")]
    exit_code: Option<i32>,
    /// What a denied capability was, and the setting that would allow it.
    #[serde(default)]
    capability: Option<String>,
    #[serde(default)]
    setting: Option<String>,
}

/// Whether a `LIMIT` error is about the worker's memory bound (its `data`
/// says `{"limit": "memory"}`), from the worker or from the host.
pub(crate) fn is_memory_limit(error: &RpcError) -> bool {
    error.code == codes::LIMIT
        && error
            .data
            .as_ref()
            .and_then(|data| data.get("limit"))
            .and_then(|limit| limit.as_str())
            == Some("memory")
}

/// Turns an error object from a worker into the error a caller sees:
/// `script` names the script (or module) the request ran, `timeout` is the
/// limit a `TIMEOUT` reached.
pub(crate) fn into_error(error: RpcError, script: &str, timeout: Duration) -> Error {
    let data: ScriptErrorData = error
        .data
        .and_then(|d| serde_json::from_value(d).ok())
        .unwrap_or_default();
    match error.code {
        codes::SCRIPT_ERROR => Error::Script {
            name: data.name.unwrap_or_else(|| "Error".into()),
            message: data.message.unwrap_or(error.message),
            stack: data.stack,
            script: data.file.unwrap_or_else(|| script.to_owned()),
            line: data.line,
            column: data.column,
        },
        codes::TIMEOUT => Error::Timeout { after: timeout },
        codes::CANCELLED => Error::Cancelled,
        codes::NON_JSON => Error::NonJson(error.message),
        codes::LIMIT => Error::Limit(error.message),
        codes::NOT_FOUND => Error::NotFound(error.message),
        codes::EXIT => Error::Exit {
            code: data.exit_code.unwrap_or(0),
        },
        codes::DENIED => Error::Denied {
            capability: data.capability.unwrap_or_default(),
            setting: data.setting.unwrap_or_default(),
            message: error.message,
        },
        codes::IMPORT => Error::Import {
            specifier: data.specifier.unwrap_or_default(),
            referrer: data.referrer.unwrap_or_default(),
            message: error.message,
        },
        code => Error::Protocol(format!(
            "worker answered with error {code}: {}",
            error.message
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_script_errors_with_their_position() {
        let error = RpcError {
            code: codes::SCRIPT_ERROR,
            message: "SyntaxError: Unexpected token".into(),
            data: Some(serde_json::json!({
                "name": "SyntaxError", "message": "Unexpected token", "stack": null,
                "line": 2, "column": 9
            })),
        };
        match into_error(error, "user.js", Duration::from_secs(1)) {
            Error::Script {
                name,
                line,
                column,
                script,
                ..
            } => {
                assert_eq!(
                    (name.as_str(), line, column, script.as_str()),
                    ("SyntaxError", Some(2), Some(9), "user.js")
                );
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
