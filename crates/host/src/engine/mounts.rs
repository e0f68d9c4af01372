//! The channel on which a worker asks the host's file stores for files
//! under its mounts (`PoolBuilder::mount`): a second socket, the worker's
//! fd 4, used only when mounts are set. The worker blocks on it (Node's
//! sync `fs` functions must answer before they return), so it is its own
//! channel, never queued behind runs on the main one.
//!
//! One request at a time: a JSON line `{"op", "mount", "path", "len"}`
//! followed by `len` bytes (what `write` writes), answered by a JSON line
//! `{"ok": {...}, "len"}` followed by `len` bytes (what `read` read), or
//! `{"error": {"code", "message"}}`, `code` a Node error code.

use std::io;
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use serde::Deserialize;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

use crate::store::{FileInfo, FileStore};

/// The descriptor the worker finds its file channel on.
pub(crate) const FILES_FD: i32 = 4;

/// A store mounted at a path.
#[derive(Clone)]
pub(crate) struct Mount {
    /// Absolute and normalized (`/data`), never `/`.
    pub(crate) path: String,
    pub(crate) store: Arc<dyn FileStore>,
}

impl std::fmt::Debug for Mount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mount")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Request {
    op: String,
    mount: usize,
    path: String,
    #[serde(default)]
    len: usize,
}

/// What one request was answered with: a JSON object, and bytes after it.
struct Answer {
    ok: serde_json::Value,
    bytes: Vec<u8>,
}

/// An error as the worker raises it: a Node error code and a message.
struct Failure {
    code: &'static str,
    message: String,
}

impl From<io::Error> for Failure {
    fn from(error: io::Error) -> Failure {
        let code = match error.kind() {
            io::ErrorKind::NotFound => "ENOENT",
            io::ErrorKind::PermissionDenied => "EACCES",
            io::ErrorKind::AlreadyExists => "EEXIST",
            _ => "EIO",
        };
        Failure {
            code,
            message: error.to_string(),
        }
    }
}

/// Serves the worker `pid`'s file requests until it closes its end.
/// `max_bytes` bounds one file, as `max_message_bytes` bounds a message.
pub(crate) async fn serve(stream: UnixStream, mounts: Arc<[Mount]>, pid: u32, max_bytes: usize) {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    let mut line = String::new();
    loop {
        line.clear();
        match (&mut read).take(64 * 1024).read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let request: Request = match serde_json::from_str(&line) {
            Ok(request) => request,
            Err(error) => {
                tracing::warn!(pid, %error, "a worker sent a malformed file request; closing its file channel");
                return;
            }
        };
        if request.len > max_bytes {
            tracing::warn!(
                pid,
                len = request.len,
                "a worker sent a file over the message limit; closing its file channel"
            );
            return;
        }
        let mut data = vec![0; request.len];
        if read.read_exact(&mut data).await.is_err() {
            return;
        }
        let started = std::time::Instant::now();
        let outcome = answer(&mounts, &request, data).await;
        tracing::debug!(
            pid,
            op = %request.op,
            path = %request.path,
            ok = outcome.is_ok(),
            elapsed_us = started.elapsed().as_micros() as u64,
            "file store call"
        );
        let (header, bytes) = match outcome {
            Ok(answer) if answer.bytes.len() > max_bytes => (
                json!({ "error": { "code": "EFBIG", "message": format!("the file is larger than the message limit of {max_bytes} bytes (PoolBuilder::max_message_bytes)") } }),
                Vec::new(),
            ),
            Ok(answer) => (
                json!({ "ok": answer.ok, "len": answer.bytes.len() }),
                answer.bytes,
            ),
            Err(failure) => (
                json!({ "error": { "code": failure.code, "message": failure.message } }),
                Vec::new(),
            ),
        };
        let mut frame = header.to_string().into_bytes();
        frame.push(b'\n');
        frame.extend_from_slice(&bytes);
        if write.write_all(&frame).await.is_err() {
            return;
        }
    }
}

/// Whether `path` is relative and normalized, as the worker sends them.
fn is_normal(path: &str) -> bool {
    path.is_empty()
        || (!path.starts_with('/')
            && !path.ends_with('/')
            && path.split('/').all(|part| {
                !part.is_empty() && part != "." && part != ".." && !part.contains('\0')
            }))
}

async fn answer(
    mounts: &Arc<[Mount]>,
    request: &Request,
    data: Vec<u8>,
) -> Result<Answer, Failure> {
    let Some(mount) = mounts.get(request.mount) else {
        return Err(Failure {
            code: "EINVAL",
            message: format!("no mount number {}", request.mount),
        });
    };
    if !is_normal(&request.path) {
        return Err(Failure {
            code: "EINVAL",
            message: format!(
                "{:?} is not a normalized path under the mount",
                request.path
            ),
        });
    }
    let store = mount.store.clone();
    let path = request.path.clone();
    let op = request.op.clone();
    tokio::task::spawn_blocking(move || call(&*store, &op, &path, data))
        .await
        .unwrap_or_else(|panic| {
            Err(Failure {
                code: "EIO",
                message: format!("the file store panicked: {panic}"),
            })
        })
}

fn info_json(info: &FileInfo) -> serde_json::Value {
    let modified = info
        .modified
        .and_then(|time| time.duration_since(UNIX_EPOCH).ok())
        .map(|since| since.as_secs_f64() * 1000.0);
    json!({ "dir": info.dir, "size": info.size, "mtimeMs": modified })
}

fn call(store: &dyn FileStore, op: &str, path: &str, data: Vec<u8>) -> Result<Answer, Failure> {
    let ok = |ok: serde_json::Value| Answer {
        ok,
        bytes: Vec::new(),
    };
    match op {
        "read" => Ok(match store.read(path)? {
            Some(bytes) => Answer {
                ok: json!({ "found": true }),
                bytes,
            },
            None => ok(json!({ "found": false })),
        }),
        "write" => {
            store.write(path, &data)?;
            Ok(ok(json!({})))
        }
        "list" => {
            let entries: Vec<_> = store
                .list(path)?
                .iter()
                .map(|entry| {
                    let mut info = info_json(&entry.info);
                    info["name"] = entry.name.clone().into();
                    info
                })
                .collect();
            Ok(ok(json!({ "entries": entries })))
        }
        "stat" => Ok(ok(
            json!({ "info": store.stat(path)?.as_ref().map(info_json) }),
        )),
        "remove" => Ok(ok(json!({ "removed": store.remove(path)? }))),
        "mkdir" => {
            store.create_dir(path)?;
            Ok(ok(json!({})))
        }
        other => Err(Failure {
            code: "EINVAL",
            message: format!("no file store operation {other:?}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::is_normal;

    #[test]
    fn only_normalized_relative_paths_reach_a_store() {
        for good in ["", "a", "a/b.txt", "a b/c"] {
            assert!(is_normal(good), "{good}");
        }
        for bad in ["/a", "a/", "a//b", "./a", "a/../b", "..", "a\0b"] {
            assert!(!is_normal(bad), "{bad}");
        }
    }
}
