//! The wire protocol: JSON-RPC 2.0, one JSON text per line, both ways.
//!
//! The host sends requests (`init`, `run`, `call`, `module.load`,
//! `session.open`, `ping`) and notifications (`cancel`, `session.close`,
//! `module.unload`, `shutdown`). The worker answers them, and sends
//! notifications of its own (`log`, `event`) and requests for callbacks.
//! Values travel as raw JSON text: a result is handed on without being parsed
//! into an intermediate tree.

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::error::Error;
use crate::script::{Event, LogEntry, LogLevel};

/// The protocol version the embedded worker runtime speaks.
pub(crate) const PROTOCOL_VERSION: u32 = 1;

/// Error codes of the protocol. Standard JSON-RPC codes, and an application
/// range for what runs can end with.
pub mod codes {
    /// The message was not valid JSON.
    pub const PARSE_ERROR: i64 = -32700;
    /// The message was not a valid request.
    pub const INVALID_REQUEST: i64 = -32600;
    /// No such method (or callback).
    pub const METHOD_NOT_FOUND: i64 = -32601;
    /// The params did not fit the method.
    pub const INVALID_PARAMS: i64 = -32602;
    /// Something broke inside the receiver.
    pub const INTERNAL_ERROR: i64 = -32603;
    /// The script threw or failed to compile.
    pub const SCRIPT_ERROR: i64 = -32000;
    /// The run hit its timeout.
    pub const TIMEOUT: i64 = -32001;
    /// The run was cancelled.
    pub const CANCELLED: i64 = -32002;
    /// The worker died under the request.
    pub const WORKER_EXITED: i64 = -32003;
    /// The pool's queue was full.
    pub const OVERLOADED: i64 = -32004;
    /// A callback failed.
    pub const CALLBACK_FAILED: i64 = -32005;
    /// A value could not be represented as JSON.
    pub const NON_JSON: i64 = -32006;
    /// The worker does not hold the compiled script the host referred to.
    pub const UNKNOWN_SCRIPT: i64 = -32007;
    /// A session, module or export does not exist.
    pub const NOT_FOUND: i64 = -32008;
    /// A size limit was exceeded.
    pub const LIMIT: i64 = -32009;
    /// An import could not be resolved or is not allowed.
    pub const IMPORT: i64 = -32010;
}

/// Writes a request line (without the newline).
/// Writes a request line (without the final newline), followed, when there is one, by its attachment
/// line: a large JSON value named by the request's `"attachment"` param,
/// sent as it is rather than escaped into a string (which would cost an
/// escaping pass here and a string decode in the worker). The attachment
/// must be compact JSON: see [`attachable`].
pub(crate) fn request_with(
    id: u64,
    method: &str,
    params: &str,
    attachment: Option<&str>,
) -> String {
    let extra = attachment.map_or(0, |a| a.len() + 1);
    let mut line = String::with_capacity(48 + method.len() + params.len() + extra);
    line.push_str(r#"{"jsonrpc":"2.0","id":"#);
    line.push_str(itoa(id).as_str());
    line.push_str(r#","method":""#);
    line.push_str(method);
    line.push_str(r#"","params":"#);
    line.push_str(params);
    line.push('}');
    if let Some(attachment) = attachment {
        line.push('\n');
        line.push_str(attachment);
    }
    line
}

/// Whether a JSON text can travel as an attachment line: JSON texts from
/// serde_json's compact writer never hold a raw newline, but one passed
/// through as a `RawValue` may.
pub(crate) fn attachable(json: &str) -> bool {
    !json.as_bytes().contains(&b'\n')
}

/// Writes a notification line (without the newline).
pub(crate) fn notification(method: &str, params: &str) -> String {
    format!(r#"{{"jsonrpc":"2.0","method":"{method}","params":{params}}}"#)
}

/// Writes an error response line (without the newline).
pub(crate) fn error_response(id: Option<u64>, code: i64, message: &str) -> String {
    let id = id.map_or_else(|| "null".to_owned(), itoa);
    let message = serde_json::to_string(message).unwrap_or_else(|_| "\"\"".to_owned());
    format!(r#"{{"jsonrpc":"2.0","id":{id},"error":{{"code":{code},"message":{message}}}}}"#)
}

/// Writes an error response line with optional data (without the newline).
pub(crate) fn error_response_with_data(
    id: Option<u64>,
    code: i64,
    message: &str,
    data: Option<&serde_json::Value>,
) -> String {
    let Some(data) = data else {
        return error_response(id, code, message);
    };
    let id = id.map_or_else(|| "null".to_owned(), itoa);
    let message = json_string(message);
    format!(
        r#"{{"jsonrpc":"2.0","id":{id},"error":{{"code":{code},"message":{message},"data":{data}}}}}"#
    )
}

/// Writes a success response line (without the newline).
pub(crate) fn response(id: u64, result: &str) -> String {
    format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{result}}}"#)
}

fn itoa(n: u64) -> String {
    n.to_string()
}

/// A JSON string literal holding `text` (for values sent as JSON text).
pub(crate) fn json_string(text: &str) -> String {
    serde_json::to_string(text).expect("a string always serializes")
}

/// One line from a worker, parsed only as far as routing needs.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(default)]
    id: Option<u64>,
    #[serde(default, borrow)]
    method: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, borrow)]
    params: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    result: Option<&'a RawValue>,
    #[serde(default)]
    error: Option<RpcError>,
}

/// A field that is there, even when it is `null` (a `null` result is a result).
fn present<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue as Deserialize>::deserialize(deserializer).map(Some)
}

/// A JSON-RPC error object.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RpcError {
    pub(crate) code: i64,
    pub(crate) message: String,
    #[serde(default)]
    pub(crate) data: Option<serde_json::Value>,
}

/// What a worker said, ready to route.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// The answer to one of the host's requests.
    Response {
        id: u64,
        result: Result<Box<RawValue>, RpcError>,
    },
    /// A console call of a run.
    Log { run: Option<u64>, entry: LogEntry },
    /// An event a run emitted.
    Event { run: Option<u64>, event: Event },
    /// A request from the worker to the host (a callback call).
    Request {
        id: u64,
        method: String,
        params: Option<Box<RawValue>>,
    },
    /// An error the worker reported with no request to pin it on.
    Unsolicited(RpcError),
}

#[derive(Deserialize)]
struct LogParams {
    run: Option<u64>,
    level: LogLevel,
    args: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct EventParams {
    run: Option<u64>,
    name: String,
    data: serde_json::Value,
}

/// Parses one line from a worker.
pub(crate) fn parse_incoming(line: &str) -> Result<Incoming, Error> {
    let envelope: Envelope<'_> = serde_json::from_str(line)
        .map_err(|e| Error::Protocol(format!("malformed message from worker: {e}")))?;
    if let Some(method) = envelope.method {
        let params = envelope.params.map(RawValue::get).unwrap_or("null");
        return match (envelope.id, method.as_ref()) {
            (None, "log") => {
                let p: LogParams = serde_json::from_str(params)
                    .map_err(|e| Error::Protocol(format!("malformed log notification: {e}")))?;
                Ok(Incoming::Log {
                    run: p.run,
                    entry: LogEntry {
                        level: p.level,
                        args: p.args,
                    },
                })
            }
            (None, "event") => {
                let p: EventParams = serde_json::from_str(params)
                    .map_err(|e| Error::Protocol(format!("malformed event notification: {e}")))?;
                Ok(Incoming::Event {
                    run: p.run,
                    event: Event {
                        name: p.name,
                        data: p.data,
                    },
                })
            }
            (None, other) => Err(Error::Protocol(format!(
                "unknown notification `{other}` from worker"
            ))),
            (Some(id), _) => Ok(Incoming::Request {
                id,
                method: method.into_owned(),
                params: envelope.params.map(RawValue::to_owned),
            }),
        };
    }
    match (envelope.id, envelope.result, envelope.error) {
        (Some(id), Some(result), None) => Ok(Incoming::Response {
            id,
            result: Ok(result.to_owned()),
        }),
        (Some(id), None, Some(error)) => Ok(Incoming::Response {
            id,
            result: Err(error),
        }),
        (None, None, Some(error)) => Ok(Incoming::Unsolicited(error)),
        _ => Err(Error::Protocol(
            "message from worker is neither a request, a notification nor a response".into(),
        )),
    }
}

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
}

/// Turns an error object from a worker into the error a caller sees.
pub(crate) fn into_error(error: RpcError, script: &str, timeout: std::time::Duration) -> Error {
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

/// The longest line a worker may send: the largest message plus its envelope.
pub(crate) fn line_limit(max_message_bytes: usize) -> usize {
    max_message_bytes + 64 * 1024
}

/// Parses the complete lines at the front of `buffer` (lines split on `\n`,
/// empty lines skipped, each UTF-8 and a JSON-RPC message) and hands each
/// message to `each`. The first `scanned` bytes are known to hold no newline.
/// Returns how many bytes the complete lines took; a line, or an unfinished
/// tail, longer than `limit` is an error.
pub(crate) fn split_messages(
    buffer: &[u8],
    scanned: usize,
    limit: usize,
    mut each: impl FnMut(Incoming),
) -> Result<usize, Error> {
    let too_long = || Error::Protocol(format!("a message from the worker exceeds {limit} bytes"));
    let mut start = 0;
    let mut from = scanned.min(buffer.len());
    while let Some(offset) = memchr::memchr(b'\n', &buffer[from..]) {
        let end = from + offset;
        let line = &buffer[start..end];
        if line.len() > limit {
            return Err(too_long());
        }
        if !line.is_empty() {
            let text = std::str::from_utf8(line)
                .map_err(|e| Error::Protocol(format!("message from worker is not UTF-8: {e}")))?;
            each(parse_incoming(text)?);
        }
        start = end + 1;
        from = start;
    }
    if buffer.len() - start > limit {
        return Err(too_long());
    }
    Ok(start)
}

/// Decodes a stream of bytes from a worker exactly as the host's reader does
/// ([`split_messages`]) and returns how many messages it held. For the fuzz
/// target and property tests: what fails here kills the worker with a
/// `Protocol` error, and nothing panics.
#[doc(hidden)]
pub fn decode_stream(bytes: &[u8], max_message_bytes: usize) -> Result<usize, Error> {
    let mut messages = 0;
    split_messages(bytes, 0, line_limit(max_message_bytes), |_| messages += 1)?;
    Ok(messages)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_response_keeping_the_raw_result() {
        let line = r#"{"jsonrpc":"2.0","id":7,"result":{"a":[1,2]}}"#;
        let Incoming::Response { id, result } = parse_incoming(line).unwrap() else {
            panic!("not a response")
        };
        assert_eq!(id, 7);
        assert_eq!(result.unwrap().get(), r#"{"a":[1,2]}"#);
    }

    #[test]
    fn a_null_result_is_a_result() {
        let line = r#"{"jsonrpc":"2.0","id":3,"result":null}"#;
        let Incoming::Response { result, .. } = parse_incoming(line).unwrap() else {
            panic!("not a response")
        };
        assert_eq!(result.unwrap().get(), "null");
    }

    #[test]
    fn parses_log_and_event_notifications() {
        let log =
            r#"{"jsonrpc":"2.0","method":"log","params":{"run":3,"level":"warn","args":["x",1]}}"#;
        match parse_incoming(log).unwrap() {
            Incoming::Log { run, entry } => {
                assert_eq!(run, Some(3));
                assert_eq!(entry.level, LogLevel::Warn);
                assert_eq!(entry.message(), "x 1");
            }
            other => panic!("unexpected {other:?}"),
        }
        let event =
            r#"{"jsonrpc":"2.0","method":"event","params":{"run":4,"name":"p","data":{"n":1}}}"#;
        match parse_incoming(event).unwrap() {
            Incoming::Event { run, event } => {
                assert_eq!(run, Some(4));
                assert_eq!(event.name, "p");
                assert_eq!(event.data["n"], 1);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn rejects_garbage_with_a_protocol_error() {
        for line in [
            "not json",
            "[1,2]",
            r#"{"jsonrpc":"2.0"}"#,
            r#"{"method":"nope"}"#,
        ] {
            assert!(
                matches!(parse_incoming(line), Err(Error::Protocol(_))),
                "{line}"
            );
        }
    }

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
        match into_error(error, "user.js", std::time::Duration::from_secs(1)) {
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

    #[test]
    fn writes_requests_and_error_responses() {
        assert_eq!(
            request_with(5, "ping", "{}", None),
            r#"{"jsonrpc":"2.0","id":5,"method":"ping","params":{}}"#
        );
        let globals = r#"{"input":"a \"quoted\" line\nbreak"}"#;
        assert!(attachable(globals));
        assert!(!attachable("{\"a\":\n1}"));
        assert_eq!(
            request_with(6, "run", r#"{"attachment":"globals"}"#, Some(globals)),
            format!(
                "{}\n{globals}",
                r#"{"jsonrpc":"2.0","id":6,"method":"run","params":{"attachment":"globals"}}"#
            )
        );
        let line = error_response(Some(9), codes::METHOD_NOT_FOUND, "no \"x\"");
        let parsed: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(parsed["error"]["message"], "no \"x\"");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// Lines that look like what a worker sends, valid or not.
        fn rpc_line() -> impl Strategy<Value = String> {
            let id = prop_oneof![
                Just("1".to_owned()),
                Just("null".to_owned()),
                Just("-1".to_owned()),
                Just("1e400".to_owned()),
                Just("\"x\"".to_owned()),
                any::<u64>().prop_map(|n| n.to_string()),
            ];
            let method = prop_oneof![
                Just("log"),
                Just("event"),
                Just("kv.get"),
                Just(""),
                Just("\\u0000"),
            ];
            let params = prop_oneof![
                Just("{}".to_owned()),
                Just("null".to_owned()),
                Just("[]".to_owned()),
                Just(r#"{"run":1,"level":"log","args":["hi",{"a":1}]}"#.to_owned()),
                Just(r#"{"run":1,"level":"nope","args":[]}"#.to_owned()),
                Just(r#"{"run":null,"name":"e","data":null}"#.to_owned()),
                Just(r#"{"run":-5,"name":7}"#.to_owned()),
                "[ -~]{0,40}".prop_map(|s| serde_json::to_string(&s).unwrap()),
            ];
            let error = prop_oneof![
                Just(r#"{"code":-32000,"message":"boom"}"#.to_owned()),
                Just(r#"{"code":"x"}"#.to_owned()),
                Just(r#"{"code":1e300,"message":"m","data":{"line":-1,"column":1e9}}"#.to_owned()),
                Just("null".to_owned()),
            ];
            (id, method, params, error, 0..6u8, "[ -~]{0,8}").prop_map(
                |(id, method, params, error, shape, junk)| match shape {
                    0 => format!(r#"{{"jsonrpc":"2.0","method":"{method}","params":{params}}}"#),
                    1 => format!(
                        r#"{{"jsonrpc":"2.0","id":{id},"method":"{method}","params":{params}}}"#
                    ),
                    2 => format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{params}}}"#),
                    3 => format!(r#"{{"jsonrpc":"2.0","id":{id},"error":{error}}}"#),
                    4 => format!(r#"{{"id":{id},"result":{params},"error":{error}}}"#),
                    _ => format!(r#"{{"jsonrpc":"2.0","id":{id}{junk}"#),
                },
            )
        }

        proptest! {
            #[test]
            fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
                let _ = decode_stream(&bytes, 256);
            }

            #[test]
            fn random_rpc_lines_never_panic(lines in proptest::collection::vec(rpc_line(), 1..8)) {
                let stream = lines.join("\n") + "\n";
                let _ = decode_stream(stream.as_bytes(), 1024 * 1024);
                for line in &lines {
                    if let Ok(Incoming::Response { result: Err(error), .. }) = parse_incoming(line) {
                        let _ = into_error(error, "fuzz", std::time::Duration::from_secs(1));
                    }
                }
            }

            #[test]
            fn an_oversized_line_is_a_protocol_error(extra in 1usize..4096) {
                let line = format!("{{\"id\":1,\"result\":\"{}\"}}\n", "x".repeat(1024 + 64 * 1024 + extra));
                prop_assert!(matches!(decode_stream(line.as_bytes(), 1024), Err(Error::Protocol(_))));
            }
        }
    }
}
