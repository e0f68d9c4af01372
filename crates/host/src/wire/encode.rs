//! Writing lines: requests (with their attachment line), notifications and
//! responses, each without its final newline.

use super::methods::Request;

/// A request line, followed, when there is one, by its attachment line: a
/// large JSON value named by the request's `"attachment"` param, sent as it
/// is rather than escaped into a string (which would cost an escaping pass
/// here and a string decode in the worker). The attachment must be compact
/// JSON: see [`attachable`].
pub(crate) fn request<R: Request>(id: u64, request: &R) -> Line {
    let attachment = request.attachment();
    let extra = attachment.map_or(0, |a| a.len() + 1);
    let mut line = String::with_capacity(64 + R::METHOD.len() + request.params_len() + extra);
    line.push_str(r#"{"jsonrpc":"2.0","id":"#);
    push_u64(&mut line, id);
    line.push_str(r#","method":""#);
    line.push_str(R::METHOD);
    line.push_str(r#"","params":"#);
    let params_start = line.len();
    request.write_params(&mut line);
    let params_len = line.len() - params_start;
    line.push('}');
    if let Some(attachment) = attachment {
        line.push('\n');
        line.push_str(attachment);
    }
    Line {
        text: line,
        params_len,
    }
}

/// A request's line (with its attachment line), and how long its params are.
pub(crate) struct Line {
    pub(crate) text: String,
    pub(crate) params_len: usize,
}

/// Whether a JSON text can travel as an attachment line: JSON texts from
/// serde_json's compact writer never hold a raw newline, but one passed
/// through as a `RawValue` may.
pub(crate) fn attachable(json: &str) -> bool {
    !json.as_bytes().contains(&b'\n')
}

/// A notification line.
pub(crate) fn notification(method: &str, params: &str) -> String {
    format!(r#"{{"jsonrpc":"2.0","method":"{method}","params":{params}}}"#)
}

/// An error response line, with `data` when there is some.
pub(crate) fn error_response(
    id: Option<u64>,
    code: i64,
    message: &str,
    data: Option<&serde_json::Value>,
) -> String {
    let id = id.map_or_else(|| "null".to_owned(), |id| id.to_string());
    let message = json_string(message);
    match data {
        Some(data) => format!(
            r#"{{"jsonrpc":"2.0","id":{id},"error":{{"code":{code},"message":{message},"data":{data}}}}}"#
        ),
        None => {
            format!(
                r#"{{"jsonrpc":"2.0","id":{id},"error":{{"code":{code},"message":{message}}}}}"#
            )
        }
    }
}

/// A success response line.
pub(crate) fn response(id: u64, result: &str) -> String {
    // Every callback call's answer: written as a request line is.
    let mut line = String::with_capacity(48 + result.len());
    line.push_str(r#"{"jsonrpc":"2.0","id":"#);
    push_u64(&mut line, id);
    line.push_str(r#","result":"#);
    line.push_str(result);
    line.push('}');
    line
}

/// A JSON string literal holding `text` (for values sent as JSON text).
pub(crate) fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    push_json_string(&mut out, text);
    out
}

/// Appends a JSON string literal holding `text`. Most texts (names, keys,
/// paths) need no escaping and are copied as they are.
pub(crate) fn push_json_string(out: &mut String, text: &str) {
    if text.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        out.push_str(&serde_json::to_string(text).expect("a string always serializes"));
    } else {
        out.reserve(text.len() + 2);
        out.push('"');
        out.push_str(text);
        out.push('"');
    }
}

/// Appends a number in decimal, without the formatting machinery: every
/// request has a few, on the path of every run.
pub(crate) fn push_u64(out: &mut String, n: u64) {
    out.push_str(itoa::Buffer::new().format(n));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{codes, methods};

    #[test]
    fn writes_requests_and_error_responses() {
        let ping = request(5, &methods::Ping);
        assert_eq!(
            ping.text,
            r#"{"jsonrpc":"2.0","id":5,"method":"ping","params":{}}"#
        );
        assert_eq!(ping.params_len, 2);
        let args = r#"[{"input":"a \"quoted\" line\nbreak"}]"#;
        assert!(attachable(args));
        assert!(!attachable("{\"a\":\n1}"));
        let call = methods::Call {
            handle: 3,
            export: "f",
            args,
            frames: &[],
            timeout: std::time::Duration::from_millis(250),
            max_callbacks: 0,
            start_by: None,
        };
        let line = request(6, &call);
        let params = call.params();
        assert_eq!(
            line.text,
            format!(r#"{{"jsonrpc":"2.0","id":6,"method":"call","params":{params}}}"#)
                + "\n"
                + args
        );
        assert_eq!(line.params_len, params.len());
        assert_eq!(
            response(7, r#"{"a":[1]}"#),
            r#"{"jsonrpc":"2.0","id":7,"result":{"a":[1]}}"#
        );
        let line = error_response(Some(9), codes::METHOD_NOT_FOUND, "no \"x\"", None);
        let parsed: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(parsed["error"]["message"], "no \"x\"");
        let with_data = error_response(
            None,
            codes::INVALID_PARAMS,
            "m",
            Some(&serde_json::json!({"path": "a"})),
        );
        let parsed: serde_json::Value = serde_json::from_str(&with_data).unwrap();
        assert_eq!(
            (
                parsed["id"].clone(),
                parsed["error"]["data"]["path"].clone()
            ),
            (serde_json::Value::Null, "a".into())
        );
    }

    #[test]
    fn strings_and_numbers_are_written_as_serde_json_writes_them() {
        for text in [
            "",
            "<eval>",
            "/a b/c.mjs",
            "say \"hi\"",
            "back\\slash",
            "tab\tnew\nline\u{1}\u{1f}",
            "\u{7f} é ✓ 😀 \u{2028}",
        ] {
            assert_eq!(
                json_string(text),
                serde_json::to_string(text).unwrap(),
                "{text:?}"
            );
        }
        for n in [0, 7, 30_000, u64::from(u32::MAX), u64::MAX] {
            let mut out = String::from("x");
            push_u64(&mut out, n);
            assert_eq!(out, format!("x{n}"));
        }
    }
}
