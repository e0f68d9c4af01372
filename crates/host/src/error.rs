//! The one error type of the runtime.

use std::path::PathBuf;
use std::time::Duration;

/// Everything that can go wrong running JavaScript in a pool.
///
/// Each variant is something a caller can act on: fix the script
/// ([`Error::Script`]), retry later ([`Error::Overloaded`]), retry on another
/// worker ([`Error::WorkerExited`]), or give the run more time
/// ([`Error::Timeout`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The script failed to compile or threw. `line` and `column` are 1-based
    /// and point into the script's own source (the script named `script`);
    /// they are `None` when the engine gives no position, e.g. for a value
    /// thrown that is not an `Error`.
    #[error("{name}: {message}{}", location(script, *line, *column))]
    Script {
        /// The error's name (`SyntaxError`, `TypeError`, ...), or for a thrown
        /// value that is not an `Error`, its JavaScript type (`string`, ...).
        name: String,
        /// The error's message, or the thrown value rendered as text.
        message: String,
        /// The JavaScript stack, without the runtime's own frames.
        stack: Option<String>,
        /// The name the script ran under (see [`Script::name`](crate::Script::name)),
        /// or the path of the file the error is in when it is not in the
        /// script itself (a syntax error inside an imported package).
        script: String,
        /// 1-based line in the script.
        line: Option<u32>,
        /// 1-based column in the script.
        column: Option<u32>,
    },
    /// The TypeScript did not type-check (the run was asked to check,
    /// [`Script::typecheck`](crate::Script::typecheck)): nothing of it ran.
    /// Printed as `tsc` prints diagnostics, one per line.
    #[error("{}", crate::diagnostic::render(diagnostics))]
    Type {
        /// What the checker found, errors first.
        diagnostics: Vec<crate::diagnostic::Diagnostic>,
    },
    /// The run did not finish in time. Its JavaScript was stopped; a worker
    /// stuck in a synchronous loop was replaced.
    #[error("run timed out after {after:?}")]
    Timeout {
        /// The limit that was reached.
        after: Duration,
    },
    /// The run was cancelled before it finished.
    #[error("run cancelled")]
    Cancelled,
    /// The worker process died while the request was on it. The pool has
    /// started a replacement; the request itself may be retried.
    #[error("worker {pid} exited while running the request: {reason}")]
    WorkerExited {
        /// Process id of the worker that died.
        pid: u32,
        /// How it ended (exit status or signal) and the last lines it wrote to stderr.
        reason: String,
    },
    /// The pool's queue is full; nothing was run.
    #[error("pool overloaded: {bound} requests are already waiting")]
    Overloaded {
        /// The queue bound that was reached.
        bound: usize,
    },
    /// The run waited in the queue for the whole
    /// [`queue_timeout`](crate::PoolBuilder::queue_timeout); nothing was run.
    #[error("no worker became free within {waited:?}")]
    QueueTimeout {
        /// How long it waited.
        waited: Duration,
    },
    /// An engine process could not be started.
    #[error("cannot start JavaScript engine `{program}`: {message}")]
    Spawn {
        /// The program that was looked for or run.
        program: String,
        /// What went wrong.
        message: String,
    },
    /// A worker sent something the host cannot understand. The worker is
    /// replaced.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// A value JSON cannot carry (a BigInt, a function, a cycle, a Map, ...)
    /// was returned, emitted or passed.
    #[error("{0}")]
    NonJson(String),
    /// A script imported something that does not exist or is not allowed.
    #[error("{message}")]
    Import {
        /// What was imported.
        specifier: String,
        /// The module or script that imported it.
        referrer: String,
        /// The full message, naming both and the reason.
        message: String,
    },
    /// The script used a capability the sandbox withholds (a file outside
    /// the grants, a socket, a child process, ...). It is refused when used,
    /// not when imported; `setting` says what would allow it.
    #[error("{message}")]
    Denied {
        /// What was used, e.g. `node:child_process.spawn()`.
        capability: String,
        /// The setting that would allow it, e.g.
        /// `PoolBuilder::allow_builtin("node:child_process")`.
        setting: String,
        /// The full message.
        message: String,
    },
    /// The script called `process.exit(code)`: the run ended there (the
    /// worker goes on).
    #[error("the script called process.exit({code})")]
    Exit {
        /// The exit code it gave.
        code: i32,
    },
    /// A session, loaded module or exported function that does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A size limit was exceeded (message, result or log size).
    #[error("limit exceeded: {0}")]
    Limit(String),
    /// The script's result does not have the type the caller asked for.
    #[error("result does not match the requested type: {0}")]
    Deserialize(#[source] serde_json::Error),
    /// An input (a global, an argument) could not be turned into JSON, or
    /// does not have the shape the call needs.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A script file could not be read.
    #[error("cannot read script file {}: {source}", path.display())]
    ReadScript {
        /// The file.
        path: PathBuf,
        /// Why it could not be read.
        #[source]
        source: std::io::Error,
    },
    /// The callbacks given to the pool do not fit together (two with one
    /// name, a name that is also a namespace, types TypeScript cannot tell
    /// apart).
    #[error("cannot register callbacks: {0}")]
    Registration(String),
    /// The pool was shut down.
    #[error("the pool is shut down")]
    Closed,
}

fn location(script: &str, line: Option<u32>, column: Option<u32>) -> String {
    match (line, column) {
        (Some(line), Some(column)) => format!(" (at {script}:{line}:{column})"),
        (Some(line), None) => format!(" (at {script}:{line})"),
        _ => String::new(),
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
