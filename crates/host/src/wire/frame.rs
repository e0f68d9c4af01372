//! Line framing of the channel: splitting what a worker sent into messages,
//! with a bound on a message's size.

use bytes::Bytes;

use super::decode::{parse_incoming, Incoming};
use crate::binary::{FRAME_HEADER, FRAME_MARKER};
use crate::error::Error;

/// The longest line a worker may send: the largest message plus its envelope.
pub(crate) fn line_limit(max_message_bytes: usize) -> usize {
    max_message_bytes + 64 * 1024
}

/// Parses the complete messages at the front of `buffer` and hands each to
/// `each` with the frames that came before it (see [`FRAME_MARKER`]): lines
/// split on `\n`, empty lines skipped, each UTF-8 and a JSON-RPC message.
/// `frames` holds the frames read since the last line, across calls. The
/// first `scanned` bytes are known to hold no newline. Returns how many bytes
/// the complete messages and frames took; a line or a frame (or the frames
/// waiting for their line) longer than `limit`, or an unfinished tail longer
/// than that, is an error.
pub(crate) fn split_messages(
    buffer: &[u8],
    scanned: usize,
    limit: usize,
    frames: &mut Vec<Bytes>,
    mut each: impl FnMut(Incoming, Vec<Bytes>),
) -> Result<usize, Error> {
    let too_long = || Error::Protocol(format!("a message from the worker exceeds {limit} bytes"));
    let mut start = 0;
    let mut from = scanned.min(buffer.len());
    loop {
        if buffer.get(start) == Some(&FRAME_MARKER) {
            let Some(header) = buffer.get(start + 1..start + FRAME_HEADER) else {
                break;
            };
            let len = u32::from_le_bytes(header.try_into().expect("four bytes")) as usize;
            let waiting: usize = frames.iter().map(Bytes::len).sum();
            if len.saturating_add(waiting) > limit {
                return Err(too_long());
            }
            let body = start + FRAME_HEADER;
            let Some(bytes) = buffer.get(body..body + len) else {
                break;
            };
            frames.push(Bytes::copy_from_slice(bytes));
            start = body + len;
            from = start;
            continue;
        }
        let Some(offset) = memchr::memchr(b'\n', &buffer[from.max(start)..]) else {
            break;
        };
        let end = from.max(start) + offset;
        let line = &buffer[start..end];
        if line.len() > limit {
            return Err(too_long());
        }
        if !line.is_empty() {
            let text = std::str::from_utf8(line)
                .map_err(|e| Error::Protocol(format!("message from worker is not UTF-8: {e}")))?;
            each(parse_incoming(text)?, std::mem::take(frames));
        }
        start = end + 1;
        from = start;
    }
    if buffer.len() - start > limit + FRAME_HEADER {
        return Err(too_long());
    }
    Ok(start)
}

/// Frames at least this long are read into an allocation of their own
/// ([`large_frame`]).
const LARGE_FRAME: usize = 256 * 1024;

/// The length of the large frame whose header starts `buffer` and whose
/// body has not all arrived (what [`split_messages`] left), if one does:
/// the reader then reads the body straight into an allocation of its size,
/// which becomes the frame's `Bytes` without a copy, rather than growing
/// its buffer to hold it and copying it out. A frame that would take the
/// frames waiting for their line past `limit` is an error, as there.
pub(crate) fn large_frame(
    buffer: &[u8],
    limit: usize,
    frames: &[Bytes],
) -> Result<Option<usize>, Error> {
    if buffer.first() != Some(&FRAME_MARKER) {
        return Ok(None);
    }
    let Some(header) = buffer.get(1..FRAME_HEADER) else {
        return Ok(None);
    };
    let len = u32::from_le_bytes(header.try_into().expect("four bytes")) as usize;
    if len < LARGE_FRAME || buffer.len() >= FRAME_HEADER + len {
        return Ok(None);
    }
    let waiting: usize = frames.iter().map(Bytes::len).sum();
    if len.saturating_add(waiting) > limit {
        return Err(Error::Protocol(format!(
            "a message from the worker exceeds {limit} bytes"
        )));
    }
    Ok(Some(len))
}

/// Decodes a stream of bytes from a worker exactly as the host's reader does
/// ([`split_messages`]) and returns how many messages it held. For the fuzz
/// target and property tests: what fails here kills the worker with a
/// `Protocol` error, and nothing panics.
#[doc(hidden)]
pub fn decode_stream(bytes: &[u8], max_message_bytes: usize) -> Result<usize, Error> {
    let mut messages = 0;
    let mut frames = Vec::new();
    split_messages(
        bytes,
        0,
        line_limit(max_message_bytes),
        &mut frames,
        |_, _| messages += 1,
    )?;
    Ok(messages)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::into_error;
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

    #[test]
    fn splits_lines_and_keeps_an_unfinished_tail() {
        let stream =
            b"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":1}\n\n{\"jsonrpc\":\"2.0\",\"id\":2,";
        let mut ids = Vec::new();
        let consumed = split_messages(stream, 0, 1024, &mut Vec::new(), |incoming, _| {
            if let Incoming::Response { id, .. } = incoming {
                ids.push(id);
            }
        })
        .unwrap();
        assert_eq!(ids, [1]);
        assert_eq!(&stream[consumed..], b"{\"jsonrpc\":\"2.0\",\"id\":2,");
    }

    #[test]
    fn frames_go_with_the_next_line_in_any_split() {
        let line = b"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"$bytes\":1}}\n";
        let mut stream = Vec::new();
        for body in [&b"ab\n"[..], &[0u8, 10, 0][..]] {
            stream.extend_from_slice(&crate::binary::frame_header(body.len()));
            stream.extend_from_slice(body);
        }
        stream.extend_from_slice(line);
        stream.extend_from_slice(line);
        // Fed in two pieces, cut anywhere: the same messages, the same frames.
        for cut in 0..stream.len() {
            let mut frames = Vec::new();
            let mut seen = Vec::new();
            let mut each = |_: Incoming, f: Vec<Bytes>| seen.push(f);
            let consumed = split_messages(&stream[..cut], 0, 1024, &mut frames, &mut each).unwrap();
            let mut rest = stream[consumed..cut].to_vec();
            rest.extend_from_slice(&stream[cut..]);
            split_messages(&rest, 0, 1024, &mut frames, &mut each).unwrap();
            assert_eq!(seen.len(), 2, "cut at {cut}");
            assert_eq!(
                seen[0],
                [Bytes::from_static(b"ab\n"), Bytes::from_static(&[0, 10, 0])]
            );
            assert!(seen[1].is_empty());
        }
    }

    #[test]
    fn a_large_frame_not_yet_whole_is_read_apart() {
        let limit = 1 << 20;
        let large = crate::binary::frame_header(LARGE_FRAME).to_vec();
        // Whole header, part of the body: read apart, its length said.
        let mut partial = large.clone();
        partial.extend_from_slice(&[7; 100]);
        assert_eq!(
            large_frame(&partial, limit, &[]).unwrap(),
            Some(LARGE_FRAME)
        );
        // Part of the header, a small frame, a whole large frame, or a line: not.
        assert_eq!(large_frame(&large[..3], limit, &[]).unwrap(), None);
        let small = crate::binary::frame_header(LARGE_FRAME - 1);
        assert_eq!(large_frame(&small, limit, &[]).unwrap(), None);
        let mut whole = large.clone();
        whole.resize(FRAME_HEADER + LARGE_FRAME, 1);
        assert_eq!(large_frame(&whole, limit, &[]).unwrap(), None);
        assert_eq!(large_frame(b"{}\n", limit, &[]).unwrap(), None);
        // Past the limit with the frames waiting for their line: an error.
        let waiting = [Bytes::from(vec![0; limit - LARGE_FRAME + 1])];
        assert!(matches!(
            large_frame(&partial, limit, &waiting),
            Err(Error::Protocol(_))
        ));
    }

    #[test]
    fn an_oversized_frame_is_a_protocol_error() {
        let mut stream = crate::binary::frame_header(2000).to_vec();
        stream.extend_from_slice(&[1; 10]);
        let result = split_messages(&stream, 0, 1024, &mut Vec::new(), |_, _| {});
        assert!(matches!(result, Err(Error::Protocol(_))));
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
