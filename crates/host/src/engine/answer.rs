//! Waiting for a worker's answer to a request of the host's own (`stats`,
//! `module.load`, ...), as every kind of worker does: the value, the
//! script's error, or the worker's end, with its logs traced on the way.

use std::time::Duration;

use super::connection::Reply;
use super::replies::Replies;
use crate::binary::Payload;
use crate::error::{Error, Result};
use crate::wire;

/// The value of the request whose replies come on `replies`. Errors name
/// `name`; `closed` says why the worker (`pid`) ended if its replies stop.
/// `None` past `timeout`: the caller cancels the request.
pub(crate) async fn answer(
    mut replies: Replies,
    pid: u32,
    method: &'static str,
    name: &str,
    timeout: Duration,
    closed: impl Fn() -> String,
) -> Option<Result<Payload>> {
    let answer = async {
        loop {
            match replies.recv().await {
                Some(Reply::Done(Ok(value))) => return Ok(value),
                Some(Reply::Done(Err(error))) => {
                    return Err(wire::into_error(error, name, timeout))
                }
                Some(Reply::Exited { pid, reason }) => {
                    return Err(Error::WorkerExited { pid, reason })
                }
                Some(Reply::Log(entry)) => {
                    tracing::debug!(target: "outrigger::console", pid, method, "{entry}");
                }
                Some(Reply::Event(_) | Reply::Withdrawn | Reply::Held(..)) => {}
                None => {
                    return Err(Error::WorkerExited {
                        pid,
                        reason: closed(),
                    })
                }
            }
        }
    };
    tokio::time::timeout(timeout, answer).await.ok()
}

/// What a panic said, for errors and traces.
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".into())
}
