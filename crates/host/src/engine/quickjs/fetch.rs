//! `fetch` on the QuickJS engine, done by the host: every URL a request
//! goes to (redirects included, followed here) is checked against
//! `Sandbox::allow_fetch` with the rules of the Node.js runtime
//! (`js-client/src/09_fetch_policy.mjs`). `data:` URLs are answered here;
//! `http:` goes through a small HTTP/1.1 client on the host's tokio
//! runtime (one connection per request, `Connection: close`); `https:` is
//! refused with a denial naming `Engine::Node`, since the engine has no TLS.

use std::time::Duration;

use rquickjs::{Ctx, Exception, Promise, Value};
use serde_json::value::RawValue;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::engine::state;
use crate::callbacks::CallbackError;

/// A parsed `allow_fetch` pattern.
struct Pattern {
    scheme: String,
    host: String,
    wildcard: bool,
    port: Option<u16>,
    path: String,
}

fn pattern(text: &str) -> Option<Pattern> {
    let text = text
        .strip_suffix('*')
        .filter(|t| t.ends_with('/'))
        .unwrap_or(text);
    let wildcard = text.contains("://*.");
    let url = url::Url::parse(&text.replacen("://*.", "://wildcard--.", 1)).ok()?;
    let host = url.host_str()?.to_owned();
    let scheme = match url.scheme() {
        "ws" => "http",
        "wss" => "https",
        other => other,
    };
    Some(Pattern {
        scheme: scheme.to_owned(),
        host: if wildcard {
            host.trim_start_matches("wildcard--").to_owned()
        } else {
            host
        },
        wildcard,
        port: url.port(),
        path: url.path().to_owned(),
    })
}

/// Whether `fetch` may reach `url` under the pool's patterns.
fn allowed(url: &url::Url, patterns: &[String]) -> bool {
    if matches!(url.scheme(), "data" | "blob") {
        return true;
    }
    let host = url.host_str().unwrap_or("");
    patterns.iter().filter_map(|p| pattern(p)).any(|p| {
        p.scheme == url.scheme()
            && p.port == url.port()
            && (if p.wildcard {
                host.ends_with(&p.host)
            } else {
                host == p.host
            })
            && (p.path == "/"
                || url.path() == p.path
                || url.path().starts_with(&if p.path.ends_with('/') {
                    p.path.clone()
                } else {
                    format!("{}/", p.path)
                }))
    })
}

/// `bridge.fetch(url, method, headers, body, redirect)`: a promise of
/// `{ status, statusText, headers, url, redirected, body }`.
pub(super) fn fetch<'js>(
    ctx: Ctx<'js>,
    url: String,
    method: String,
    headers: Vec<Vec<String>>,
    body: Value<'js>,
    redirect: String,
) -> rquickjs::Result<Promise<'js>> {
    let st = state();
    let patterns = st.config.borrow().sandbox.fetch_allow.clone();
    let max = st.max_message_bytes();
    let Ok(parsed) = url::Url::parse(&url) else {
        return Err(Exception::throw_type(
            &ctx,
            &format!("fetch failed: invalid URL {url}"),
        ));
    };
    if !allowed(&parsed, &patterns) {
        return Err(denied(
            &ctx,
            &format!("fetch refused: {url} is not allowed by the sandbox (Sandbox::allow_fetch)"),
            "Sandbox::allow_fetch",
        ));
    }
    let body: Option<Vec<u8>> = body
        .as_object()
        .and_then(|o| rquickjs::TypedArray::<u8>::from_object(o.clone()).ok())
        // SAFETY: the bytes are copied before any JavaScript runs again.
        .map(|array| unsafe { array.as_bytes() }.unwrap_or_default().to_vec());
    let headers: Vec<(String, String)> = headers
        .into_iter()
        .filter_map(|pair| match pair.as_slice() {
            [k, v] => Some((k.clone(), v.clone())),
            _ => None,
        })
        .collect();
    let future = async move {
        let answer = send(parsed, method, headers, body, &redirect, &patterns, max).await?;
        let text = serde_json::to_string(&answer).map_err(|e| CallbackError::new(e.to_string()))?;
        RawValue::from_string(text).map_err(|e| CallbackError::new(e.to_string()))
    };
    super::host_calls::start(&ctx, "fetch", None, None, Box::pin(future))
}

fn denied(ctx: &Ctx<'_>, message: &str, setting: &str) -> rquickjs::Error {
    match Exception::from_message(ctx.clone(), message) {
        Ok(error) => {
            let object = error.as_object();
            let _ = object.set("code", "ERR_OUTRIGGER_DENIED");
            let _ = object.set("capability", "fetch");
            let _ = object.set("setting", setting);
            ctx.throw(error.into_value())
        }
        Err(error) => error,
    }
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Answer {
    status: u16,
    status_text: String,
    headers: Vec<(String, String)>,
    url: String,
    redirected: bool,
    /// The body's bytes.
    body: Vec<u8>,
}

fn refused(message: String) -> CallbackError {
    CallbackError::new(message).with_code(crate::wire::codes::DENIED)
}

async fn send(
    mut url: url::Url,
    mut method: String,
    headers: Vec<(String, String)>,
    mut body: Option<Vec<u8>>,
    redirect: &str,
    patterns: &[String],
    max: usize,
) -> Result<Answer, CallbackError> {
    let mut redirected = false;
    for hop in 0..20 {
        if hop > 0 && !allowed(&url, patterns) {
            return Err(refused(format!("fetch refused: a redirect to {url} is not allowed by the sandbox (Sandbox::allow_fetch)")));
        }
        let mut answer = match url.scheme() {
            "data" => data_url(&url)?,
            "http" => http(&url, &method, &headers, body.as_deref(), max).await?,
            "https" => {
                return Err(refused(format!(
                    "fetch refused: {url}: the QuickJS engine has no TLS client, so https is not available (Engine::Node has it)"
                )))
            }
            other => return Err(CallbackError::new(format!("fetch failed: the scheme {other}: is not supported"))),
        };
        answer.redirected = redirected;
        if !matches!(answer.status, 301 | 302 | 303 | 307 | 308) || redirect == "manual" {
            return Ok(answer);
        }
        if redirect == "error" {
            return Err(CallbackError::new(format!(
                "fetch failed: {url} redirected and the request's redirect mode is \"error\""
            )));
        }
        let Some(location) = answer
            .headers
            .iter()
            .find(|(k, _)| k == "location")
            .map(|(_, v)| v.clone())
        else {
            return Ok(answer);
        };
        url = url.join(&location).map_err(|e| {
            CallbackError::new(format!("fetch failed: bad redirect {location}: {e}"))
        })?;
        if answer.status == 303
            || ((answer.status == 301 || answer.status == 302) && method == "POST")
        {
            method = "GET".into();
            body = None;
        }
        redirected = true;
    }
    Err(CallbackError::new("fetch failed: too many redirects"))
}

fn data_url(url: &url::Url) -> Result<Answer, CallbackError> {
    let text = url.as_str().strip_prefix("data:").unwrap_or("");
    let (meta, data) = text
        .split_once(',')
        .ok_or_else(|| CallbackError::new("fetch failed: a data: URL without a comma"))?;
    let base64 = meta.ends_with(";base64");
    let mime = meta.trim_end_matches(";base64");
    let decoded = percent_decode(data);
    let body = if base64 {
        decode_base64(&decoded)
            .ok_or_else(|| CallbackError::new("fetch failed: bad base64 in a data: URL"))?
    } else {
        decoded
    };
    Ok(Answer {
        status: 200,
        status_text: "OK".into(),
        headers: vec![(
            "content-type".into(),
            if mime.is_empty() {
                "text/plain;charset=US-ASCII".into()
            } else {
                mime.to_owned()
            },
        )],
        url: url.to_string(),
        redirected: false,
        body,
    })
}

fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(byte) = u8::from_str_radix(&text[i + 1..i + 3], 16) {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

fn decode_base64(data: &[u8]) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for &c in data
        .iter()
        .filter(|c| !c.is_ascii_whitespace() && **c != b'=')
    {
        acc = (acc << 6) | value(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// One plain HTTP/1.1 exchange.
async fn http(
    url: &url::Url,
    method: &str,
    headers: &[(String, String)],
    body: Option<&[u8]>,
    max: usize,
) -> Result<Answer, CallbackError> {
    let failed = |e: std::io::Error| CallbackError::new(format!("fetch failed: {url}: {e}"));
    let host = url.host_str().unwrap_or("");
    let port = url.port_or_known_default().unwrap_or(80);
    let connect = tokio::net::TcpStream::connect((host.trim_matches(['[', ']']), port));
    let mut stream = tokio::time::timeout(Duration::from_secs(30), connect)
        .await
        .map_err(|_| CallbackError::new(format!("fetch failed: {url}: connecting timed out")))?
        .map_err(failed)?;
    let mut path = url.path().to_owned();
    if let Some(query) = url.query() {
        path.push('?');
        path.push_str(query);
    }
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
        url.authority()
    );
    for (name, value) in headers {
        if name.eq_ignore_ascii_case("host")
            || name.eq_ignore_ascii_case("connection")
            || name.eq_ignore_ascii_case("content-length")
        {
            continue;
        }
        if name.contains(['\r', '\n']) || value.contains(['\r', '\n']) {
            return Err(CallbackError::new(
                "fetch failed: a header holds a line break",
            ));
        }
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("user-agent"))
    {
        head.push_str("User-Agent: outrigger-quickjs\r\n");
    }
    if let Some(body) = body {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.map_err(failed)?;
    if let Some(body) = body {
        stream.write_all(body).await.map_err(failed)?;
    }
    let mut response = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let n = stream.read(&mut chunk).await.map_err(failed)?;
        if n == 0 {
            break;
        }
        response.extend_from_slice(&chunk[..n]);
        if response.len() > max {
            return Err(CallbackError::new(format!(
                "fetch failed: the response is over the limit of {max} bytes"
            ))
            .with_code(crate::wire::codes::LIMIT));
        }
    }
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| CallbackError::new(format!("fetch failed: {url}: no complete response")))?;
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let mut rest = response[split + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.splitn(3, ' ');
    let _version = parts.next();
    let status: u16 = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let status_text = parts.next().unwrap_or("").to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    if headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"))
    {
        rest = dechunk(&rest)
            .ok_or_else(|| CallbackError::new(format!("fetch failed: {url}: bad chunked body")))?;
    } else if let Some(len) = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok())
    {
        rest.truncate(len);
    }
    Ok(Answer {
        status,
        status_text,
        headers,
        url: url.to_string(),
        redirected: false,
        body: rest,
    })
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let end = data.windows(2).position(|w| w == b"\r\n")?;
        let size = std::str::from_utf8(&data[..end])
            .ok()?
            .split(';')
            .next()?
            .trim();
        let size = usize::from_str_radix(size, 16).ok()?;
        data = &data[end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_as_the_node_runtime_matches() {
        let allow = [
            "https://api.example.com".to_owned(),
            "http://127.0.0.1:8080/v1/*".to_owned(),
            "https://*.example.org".to_owned(),
        ];
        let ok = |u: &str| allowed(&url::Url::parse(u).unwrap(), &allow);
        assert!(ok("https://api.example.com/anything"));
        assert!(!ok("http://api.example.com/"));
        assert!(ok("http://127.0.0.1:8080/v1/users"));
        assert!(!ok("http://127.0.0.1:8080/v2"));
        assert!(!ok("http://127.0.0.1/v1/users"));
        assert!(ok("https://a.b.example.org/"));
        assert!(!ok("https://example.org.evil.com/"));
        assert!(ok("data:text/plain,hi"));
        assert_eq!(decode_base64(b"aGk="), Some(b"hi".to_vec()));
        assert_eq!(dechunk(b"2\r\nhi\r\n0\r\n\r\n"), Some(b"hi".to_vec()));
    }
}
