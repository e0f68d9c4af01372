//! What a run or call sends to a worker, kept until it ends so that it can
//! be sent again: with its source, when the worker no longer holds the
//! compiled script the host assumed it had; or to another worker, when a
//! blocked one never started it.

use std::time::Duration;

use crate::engine::{monotonic_micros, Replies, ReplySender, Worker};
use crate::script::LoadedScript;
use crate::wire::methods;

/// The limits a run is sent with.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RunLimits {
    pub(crate) timeout: Duration,
    pub(crate) max_callbacks: u32,
}

/// A request a run sent, and what it needs to be sent again.
#[derive(Debug)]
pub(crate) struct Outgoing {
    what: What,
    limits: RunLimits,
}

#[derive(Debug)]
enum What {
    /// A script, in a session's context or a fresh one.
    Script {
        script: LoadedScript,
        session: Option<u64>,
        /// Whether its source went with the last request.
        code_sent: bool,
    },
    /// A call of an export of a module loaded into every worker, or into a
    /// session's context (`pinned`: it cannot go to another worker).
    Call {
        handle: u64,
        export: String,
        args: String,
        frames: Vec<bytes::Bytes>,
        pinned: bool,
    },
}

impl Outgoing {
    pub(crate) fn script(script: LoadedScript, session: Option<u64>, limits: RunLimits) -> Self {
        Outgoing {
            what: What::Script {
                script,
                session,
                code_sent: false,
            },
            limits,
        }
    }

    pub(crate) fn call(
        handle: u64,
        export: &str,
        (args, frames): (String, Vec<bytes::Bytes>),
        pinned: bool,
        limits: RunLimits,
    ) -> Self {
        Outgoing {
            what: What::Call {
                handle,
                export: export.to_owned(),
                args,
                frames,
                pinned,
            },
            limits,
        }
    }

    /// Whether it may run on any worker (not a session's).
    pub(crate) fn movable(&self) -> bool {
        match &self.what {
            What::Script { session, .. } => session.is_none(),
            What::Call { pinned, .. } => !pinned,
        }
    }

    /// The method it is sent as.
    pub(crate) fn method(&self) -> &'static str {
        use methods::Request;
        match self.what {
            What::Script { .. } => methods::Run::METHOD,
            What::Call { .. } => methods::Call::METHOD,
        }
    }

    /// Sends it to `worker` under `id`. A script goes by key alone when the
    /// worker has it compiled. With `blocked_after`, a request that may run
    /// anywhere carries a start deadline twice that far ahead: a worker that
    /// reads it later refuses it, so the host may send it elsewhere.
    pub(crate) fn send(
        &mut self,
        worker: &Worker,
        id: u64,
        blocked_after: Option<Duration>,
    ) -> Replies {
        let start_by = blocked_after
            .filter(|_| self.movable() && worker.keeps_deadlines())
            .map(|after| monotonic_micros() + 2 * after.as_micros() as u64);
        let limits = self.limits;
        match &mut self.what {
            What::Script {
                script,
                session,
                code_sent,
            } => {
                *code_sent = !worker.knows_script(&script.key);
                worker.request(
                    id,
                    &run_request(script, *session, limits, *code_sent, start_by),
                )
            }
            What::Call {
                handle,
                export,
                args,
                frames,
                ..
            } => worker.request(
                id,
                &methods::Call {
                    handle: *handle,
                    export,
                    args,
                    frames,
                    timeout: limits.timeout,
                    max_callbacks: limits.max_callbacks,
                    start_by,
                },
            ),
        }
    }

    /// Sends a script again with its source, its replies to `replies`;
    /// false when the source went already (or it is not a script).
    pub(crate) fn resend_with_code(
        &mut self,
        worker: &Worker,
        id: u64,
        replies: ReplySender,
    ) -> bool {
        let What::Script {
            script,
            session,
            code_sent,
        } = &mut self.what
        else {
            return false;
        };
        if *code_sent {
            return false;
        }
        *code_sent = true;
        // The same worker, which started nothing: no deadline.
        worker.resend(
            id,
            &run_request(script, *session, self.limits, true, None),
            replies,
        );
        true
    }

    /// The worker answered with an error, or never started the request: a
    /// script whose source went with it was not kept by the worker.
    pub(crate) fn failed(&self, worker: &Worker) {
        if let What::Script {
            script,
            code_sent: true,
            ..
        } = &self.what
        {
            worker.forget_script(&script.key);
        }
    }
}

/// The `run` request for `script`, with its source or by key alone.
fn run_request(
    script: &LoadedScript,
    session: Option<u64>,
    limits: RunLimits,
    with_code: bool,
    start_by: Option<u64>,
) -> methods::Run<'_> {
    methods::Run {
        kind: script.kind.as_str(),
        name: &script.name,
        file: script.file.as_deref(),
        key: &script.key,
        code: with_code.then_some(&*script.code),
        globals: script.globals.as_deref(),
        frames: &script.frames,
        session,
        timeout: limits.timeout,
        max_callbacks: limits.max_callbacks,
        start_by,
    }
}
