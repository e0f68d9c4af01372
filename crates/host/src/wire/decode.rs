//! Reading what a worker says: each line parsed only as far as routing
//! needs, values kept as raw JSON text.

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::error::Error;
use crate::output::{Event, LogEntry, LogLevel};

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
    /// Runs parked at an await while the worker's event loop turned (so not
    /// running a synchronous loop then).
    Waiting { runs: Vec<u64> },
    /// A request from the worker to the host (a callback call).
    Request {
        id: u64,
        method: String,
        params: Option<Box<RawValue>>,
    },
    /// An error the worker reported with no request to pin it on.
    Unsolicited(RpcError),
    /// A sign of life from a worker with runs in progress but nothing else to
    /// say (see `PoolBuilder::blocked_after`).
    Beat,
}

#[derive(Deserialize)]
struct LogParams {
    run: Option<u64>,
    level: LogLevel,
    args: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct WaitingParams {
    runs: Vec<u64>,
}

#[derive(Deserialize)]
struct EventParams {
    run: Option<u64>,
    name: String,
    data: serde_json::Value,
}

/// Parses one line from a worker.
pub(crate) fn parse_incoming(line: &str) -> Result<Incoming, Error> {
    if let Some(response) = plain_response(line) {
        return Ok(response);
    }
    parse_envelope(line)
}

/// The answer to a request that succeeded, in the one shape the worker
/// writes it (`{"jsonrpc":"2.0","id":7,"result":…}`), read without the
/// general parser: most lines are one, and only their value needs parsing,
/// to check that it is one JSON text. Any other line, or spacing, is left
/// to the general parser.
fn plain_response(line: &str) -> Option<Incoming> {
    let rest = line.strip_prefix(r#"{"jsonrpc":"2.0","id":"#)?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    // JSON writes no leading zeros.
    if digits == 0 || (digits > 1 && rest.starts_with('0')) {
        return None;
    }
    let id = rest[..digits].parse::<u64>().ok()?;
    let value = rest[digits..]
        .strip_prefix(r#","result":"#)?
        .strip_suffix('}')?;
    let result = serde_json::from_str::<Box<RawValue>>(value).ok()?;
    Some(Incoming::Response {
        id,
        result: Ok(result),
    })
}

fn parse_envelope(line: &str) -> Result<Incoming, Error> {
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
                        binary: Vec::new(),
                    },
                })
            }
            (None, "beat") => Ok(Incoming::Beat),
            (None, "waiting") => {
                let p: WaitingParams = serde_json::from_str(params)
                    .map_err(|e| Error::Protocol(format!("malformed waiting notification: {e}")))?;
                Ok(Incoming::Waiting { runs: p.runs })
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

/// The params of a callback call from a worker: the run and session it
/// belongs to, and the callback's own params object.
#[derive(Debug, Deserialize)]
pub(crate) struct CallbackCall<'a> {
    #[serde(default)]
    pub(crate) run: Option<u64>,
    #[serde(default)]
    pub(crate) session: Option<u64>,
    #[serde(borrow)]
    pub(crate) args: Option<&'a RawValue>,
    /// Where the script made the call (sent for calls that need approval).
    #[serde(default)]
    pub(crate) site: Option<crate::output::CallSite>,
}

impl<'a> CallbackCall<'a> {
    /// Parses a callback request's params (`{}` when it had none).
    pub(crate) fn parse(params: Option<&'a RawValue>) -> Option<Self> {
        serde_json::from_str(params.map_or("{}", RawValue::get)).ok()
    }

    /// The callback's params object (`{}` when none was sent).
    pub(crate) fn args(&self) -> Box<RawValue> {
        self.args
            .map(RawValue::to_owned)
            .unwrap_or_else(|| RawValue::from_string("{}".into()).expect("valid JSON"))
    }
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
        let waiting = r#"{"jsonrpc":"2.0","method":"waiting","params":{"runs":[4,9]}}"#;
        match parse_incoming(waiting).unwrap() {
            Incoming::Waiting { runs } => assert_eq!(runs, [4, 9]),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn parses_callback_calls() {
        let params =
            RawValue::from_string(r#"{"run":5,"session":null,"args":{"id":7}}"#.into()).unwrap();
        let call = CallbackCall::parse(Some(&params)).unwrap();
        assert_eq!(
            (call.run, call.session, call.args().get()),
            (Some(5), None, r#"{"id":7}"#)
        );
        let bare = CallbackCall::parse(None).unwrap();
        assert_eq!((bare.run, bare.args().get()), (None, "{}"));
        let wrong = RawValue::from_string("[1]".into()).unwrap();
        assert!(CallbackCall::parse(Some(&wrong)).is_none());
    }

    /// What a line reads as: the response's id and result, or why not one.
    fn as_response(parsed: Result<Incoming, Error>) -> Result<(u64, String), String> {
        match parsed {
            Ok(Incoming::Response {
                id,
                result: Ok(value),
            }) => Ok((id, value.get().to_owned())),
            other => Err(format!("{other:?}")),
        }
    }

    #[test]
    fn the_plain_answer_reads_as_the_general_parser_reads_it() {
        let lines = [
            r#"{"jsonrpc":"2.0","id":7,"result":4}"#,
            r#"{"jsonrpc":"2.0","id":0,"result":null}"#,
            r#"{"jsonrpc":"2.0","id":18446744073709551615,"result":"a}\"b"}"#,
            r#"{"jsonrpc":"2.0","id":9,"result":{"a":[1,{"b":"}"}]}}"#,
            r#"{"jsonrpc":"2.0","id":9,"result":[]}"#,
        ];
        for line in lines {
            assert!(plain_response(line).is_some(), "{line}");
            assert_eq!(
                as_response(parse_incoming(line)),
                as_response(parse_envelope(line)),
                "{line}"
            );
        }
        // Lines of another shape go to the general parser, which reads them
        // or refuses them.
        for line in [
            r#"{"jsonrpc":"2.0","id":07,"result":4}"#,
            r#"{"jsonrpc":"2.0","id":18446744073709551616,"result":4}"#,
            r#"{"jsonrpc":"2.0","id":7,"result":4,"x":1}"#,
            r#"{"jsonrpc":"2.0","id":7,"result":4}}"#,
            r#"{"jsonrpc":"2.0","id":7,"result":{"a":1}"#,
            r#"{"jsonrpc":"2.0","id":7,"result":}"#,
            r#"{"jsonrpc":"2.0","id":7,"result":4,"error":{"code":1,"message":"m"}}"#,
            r#"{"jsonrpc":"2.0","id":-1,"result":4}"#,
            r#"{"jsonrpc":"2.0","id": 7,"result":4}"#,
        ] {
            assert!(plain_response(line).is_none(), "{line}");
            assert_eq!(
                as_response(parse_incoming(line)),
                as_response(parse_envelope(line)),
                "{line}"
            );
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
}
