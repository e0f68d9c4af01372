//! Error codes of the protocol: the standard JSON-RPC ones, and an
//! application range for what runs can end with. The worker's copy
//! (`js-client/src/00_codes.mjs`) is checked against this one by a test.

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
/// The worker did not start a request before its start deadline (it was
/// busy in synchronous code); the host sends the request elsewhere.
pub const NOT_STARTED: i64 = -32011;
/// The script called `process.exit()`.
pub const EXIT: i64 = -32012;
/// The script used a capability the sandbox withholds.
pub const DENIED: i64 = -32013;
/// A callback call that needs approval was denied (or no approver is set).
pub const APPROVAL_DENIED: i64 = -32014;

/// Every code with its name, for checking the worker's table.
#[cfg(test)]
pub(crate) const ALL: [(&str, i64); 20] = [
    ("PARSE_ERROR", PARSE_ERROR),
    ("INVALID_REQUEST", INVALID_REQUEST),
    ("METHOD_NOT_FOUND", METHOD_NOT_FOUND),
    ("INVALID_PARAMS", INVALID_PARAMS),
    ("INTERNAL_ERROR", INTERNAL_ERROR),
    ("SCRIPT_ERROR", SCRIPT_ERROR),
    ("TIMEOUT", TIMEOUT),
    ("CANCELLED", CANCELLED),
    ("WORKER_EXITED", WORKER_EXITED),
    ("OVERLOADED", OVERLOADED),
    ("CALLBACK_FAILED", CALLBACK_FAILED),
    ("NON_JSON", NON_JSON),
    ("UNKNOWN_SCRIPT", UNKNOWN_SCRIPT),
    ("NOT_FOUND", NOT_FOUND),
    ("LIMIT", LIMIT),
    ("IMPORT", IMPORT),
    ("NOT_STARTED", NOT_STARTED),
    ("EXIT", EXIT),
    ("DENIED", DENIED),
    ("APPROVAL_DENIED", APPROVAL_DENIED),
];

#[cfg(test)]
mod tests {
    /// The worker's table (`js-client/src/00_codes.mjs`, one `NAME: code,`
    /// a line) holds exactly these codes under these names.
    #[test]
    fn the_worker_speaks_the_same_codes() {
        let source = include_str!("../../runtime/00_codes.mjs");
        let table = source
            .split_once("export const CODES")
            .expect("00_codes.mjs exports CODES")
            .1;
        let mut worker: Vec<(String, i64)> = table
            .lines()
            .filter_map(|line| {
                let (name, code) = line.trim().strip_suffix(',')?.split_once(": ")?;
                Some((name.to_owned(), code.parse().ok()?))
            })
            .collect();
        let mut host: Vec<(String, i64)> = super::ALL
            .iter()
            .map(|(n, c)| ((*n).to_owned(), *c))
            .collect();
        worker.sort();
        host.sort();
        assert_eq!(worker, host);
    }
}
