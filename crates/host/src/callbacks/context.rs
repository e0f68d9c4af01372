//! What a callback knows about its caller.

use std::fmt;
use std::sync::{Arc, Mutex, Weak};

use bytes::Bytes;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};
use crate::output::Event;

/// Where a callback's events go: the stream of the run that called it.
pub(crate) trait EventSink: Send + Sync {
    /// Hands `event` to run `run`'s stream (logged when the run is gone).
    fn emit(&self, run: Option<u64>, event: Event);
}

/// The sink of a context that belongs to no run.
struct Detached;

impl EventSink for Detached {
    fn emit(&self, _run: Option<u64>, _event: Event) {}
}

/// What a callback knows about its caller: which run and session called it,
/// that run's cancellation, and a way to emit events to the run's stream.
#[derive(Clone)]
pub struct CallContext {
    run: Option<u64>,
    session: Option<u64>,
    callback: Arc<str>,
    cancel: CancellationToken,
    events: Weak<dyn EventSink>,
    /// The frames of the params' binary values.
    params_frames: Arc<[Bytes]>,
    /// The frames of the result's binary values, put here by the handler.
    result_frames: Arc<Mutex<Vec<Bytes>>>,
}

impl fmt::Debug for CallContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallContext")
            .field("run", &self.run)
            .field("session", &self.session)
            .field("callback", &self.callback)
            .field("cancelled", &self.cancel.is_cancelled())
            .finish()
    }
}

impl CallContext {
    pub(crate) fn new(
        run: Option<u64>,
        session: Option<u64>,
        callback: Arc<str>,
        cancel: CancellationToken,
        events: Weak<dyn EventSink>,
        params_frames: Vec<Bytes>,
    ) -> Self {
        CallContext {
            run,
            session,
            callback,
            cancel,
            events,
            params_frames: params_frames.into(),
            result_frames: Arc::default(),
        }
    }

    /// The frames the params' placeholders refer to.
    pub(crate) fn params_frames(&self) -> &[Bytes] {
        &self.params_frames
    }

    /// Where the handler puts the frames its result's placeholders refer to.
    pub(crate) fn result_frames(&self) -> Arc<Mutex<Vec<Bytes>>> {
        self.result_frames.clone()
    }

    /// A context that belongs to no run, for calling callbacks directly
    /// (in tests, say).
    pub fn detached(callback: &str) -> Self {
        CallContext::new(
            None,
            None,
            callback.into(),
            CancellationToken::new(),
            Weak::<Detached>::new(),
            Vec::new(),
        )
    }

    /// The id of the run that called (see [`RunHandle::id`](crate::RunHandle::id)).
    pub fn run_id(&self) -> Option<u64> {
        self.run
    }

    /// The session the calling run belongs to, if any.
    pub fn session_id(&self) -> Option<u64> {
        self.session
    }

    /// The wire name of the callback being called (`lookupUser`, `kv.get`).
    pub fn callback(&self) -> &str {
        &self.callback
    }

    pub(crate) fn callback_name(&self) -> Arc<str> {
        self.callback.clone()
    }

    /// Whether the calling run has ended (finished, failed, timed out or was
    /// cancelled). The callback's future is dropped then anyway; this is for
    /// work it handed elsewhere.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Resolves when the calling run ends.
    pub async fn cancelled(&self) {
        self.cancel.cancelled().await;
    }

    /// A token cancelled when the calling run ends, for tasks the callback
    /// spawns.
    pub fn cancellation_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// Sends an event to the calling run's stream, as `host.emit` would.
    pub fn emit(&self, name: &str, data: impl Serialize) -> Result<()> {
        let (data, binary) = crate::binary::to_json(&data)
            .and_then(|(json, frames)| Ok((serde_json::from_str(&json)?, frames)))
            .map_err(|e| {
                Error::InvalidInput(format!("event data cannot be turned into JSON: {e}"))
            })?;
        if let Some(events) = self.events.upgrade() {
            events.emit(
                self.run,
                Event {
                    name: name.to_owned(),
                    data,
                    binary,
                },
            );
        }
        Ok(())
    }
}
