//! What the host asks of a worker: one type per method, with its name and
//! params. Hot paths (`run`, `call`, `cancel`) are written by hand into one
//! string; the others go through serde.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;

use super::encode::{push_json_string, push_u64};

/// A request the host sends to a worker.
pub(crate) trait Request {
    /// The method's name on the wire.
    const METHOD: &'static str;
    /// Whether it executes the user's code (a run, a call, a module load),
    /// rather than asking the runtime something.
    const RUNS_CODE: bool = false;
    /// The params object, as JSON text.
    fn params(&self) -> String;
    /// Appends the params object to `line`, a request line being written
    /// (the hot requests write theirs in place, not into a text of their own).
    fn write_params(&self, line: &mut String) {
        line.push_str(&self.params());
    }
    /// About how long the params object is, to size its line once.
    fn params_len(&self) -> usize {
        64
    }
    /// The value that follows the request on an attachment line, if any.
    fn attachment(&self) -> Option<&str> {
        None
    }
    /// The binary frames its placeholders refer to, sent before it.
    fn frames(&self) -> &[Bytes] {
        &[]
    }
    /// The start deadline the request carries, if the worker may refuse to
    /// start it (see [`Run::start_by`]).
    fn start_by(&self) -> Option<u64> {
        None
    }
}

/// A notification the host sends to a worker (no answer).
pub(crate) trait Notification {
    /// The method's name on the wire.
    const METHOD: &'static str;
    /// The params object, as JSON text.
    fn params(&self) -> String;
}

/// `init`: what a worker needs to know before it runs anything.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Init {
    /// Registered modules scripts import by name.
    pub(crate) modules: BTreeMap<String, RegisteredModule>,
    pub(crate) script_cache_size: usize,
    pub(crate) max_message_bytes: usize,
    pub(crate) spare_contexts: usize,
    /// Every callback's wire name and where it sits on `host`.
    pub(crate) callbacks: Vec<CallbackPath>,
    pub(crate) watchdog_trust: u32,
    /// Frames of the script's stack a callback call keeps.
    pub(crate) call_site_frames: u32,
    pub(crate) project: Option<String>,
    pub(crate) preloads: Vec<Preload>,
    pub(crate) allow_builtins: BTreeSet<String>,
    pub(crate) sandbox: SandboxInit,
    /// Mount points of the host's file stores, absolute, in the order their
    /// requests number them.
    pub(crate) mounts: Vec<String>,
    /// `"run"` (a fresh context per plain run) or `"worker"` (one shared).
    pub(crate) isolation: &'static str,
    /// How often a worker with runs in progress and nothing to write says it
    /// is alive, in milliseconds (0: never).
    pub(crate) heartbeat_ms: u64,
}

impl Request for Init {
    const METHOD: &'static str = "init";
    fn params(&self) -> String {
        serde_json::to_string(self).expect("init params serialize")
    }
}

/// `init` as one worker is sent it: the pool's settings and the host's
/// clock when sent, from which a worker whose own clock is not
/// `CLOCK_MONOTONIC` (Deno's `process.hrtime` counts from its start)
/// reckons the host's, to read start deadlines in.
#[derive(Debug, Serialize)]
pub(crate) struct InitNow<'a> {
    #[serde(flatten)]
    pub(crate) init: &'a Init,
    /// The host's monotonic clock, in microseconds.
    pub(crate) clock: u64,
}

impl Request for InitNow<'_> {
    const METHOD: &'static str = "init";
    fn params(&self) -> String {
        serde_json::to_string(self).expect("init params serialize")
    }
}

/// A module registered by name (`PoolBuilder::module`).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RegisteredModule {
    pub(crate) code: String,
    pub(crate) key: String,
}

/// A callback as the worker builds it into `host`: its wire name and the
/// path of properties it sits at (`["kv", "get"]`).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct CallbackPath {
    pub(crate) name: String,
    pub(crate) path: Vec<String>,
    /// Its calls wait for an approver: the worker sends where each was made.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(crate) approval: bool,
}

/// A module imported into every context as a global.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Preload {
    pub(crate) name: String,
    pub(crate) specifier: String,
}

/// The sandbox settings the worker enforces itself.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SandboxInit {
    pub(crate) fetch_allow: Vec<String>,
    /// What scripts' `node:fs` may read beside the project, absolute.
    pub(crate) read_paths: Vec<String>,
    /// What scripts' `node:fs` may write (and read), absolute.
    pub(crate) write_paths: Vec<String>,
    pub(crate) max_console_bytes: usize,
    pub(crate) permission_model: bool,
    /// The bound on the worker's whole memory, in MiB, for the errors that
    /// name it.
    pub(crate) max_memory_mb: u64,
}

/// `run`: a script, by key alone when the worker has it compiled.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Run<'a> {
    /// `"expression"` or `"module"`.
    pub(crate) kind: &'a str,
    pub(crate) name: &'a str,
    /// The absolute path of a script read from a file.
    pub(crate) file: Option<&'a str>,
    pub(crate) key: &'a str,
    /// The source, or `None` to run the worker's compiled copy.
    pub(crate) code: Option<&'a str>,
    /// The globals object as JSON text; on the attachment line when it can go there.
    pub(crate) globals: Option<&'a str>,
    /// The frames of the globals' binary values.
    pub(crate) frames: &'a [Bytes],
    pub(crate) session: Option<u64>,
    pub(crate) timeout: Duration,
    pub(crate) max_callbacks: u32,
    /// The monotonic time (µs, `CLOCK_MONOTONIC`) after which the worker must
    /// not start the run but answer `NOT_STARTED`: a run not yet read by a
    /// blocked worker can then be sent elsewhere without running twice.
    pub(crate) start_by: Option<u64>,
}

impl Run<'_> {
    fn globals_attached(&self) -> bool {
        self.globals.is_some_and(super::attachable)
    }
}

impl Request for Run<'_> {
    const METHOD: &'static str = "run";
    const RUNS_CODE: bool = true;

    fn params(&self) -> String {
        let mut params = String::with_capacity(self.params_len());
        self.write_params(&mut params);
        params
    }

    fn params_len(&self) -> usize {
        let inline_globals = self.globals.filter(|_| !self.globals_attached());
        128 + self.name.len()
            + self.key.len()
            + self.file.map_or(0, str::len)
            + self.code.map_or(0, str::len)
            + inline_globals.map_or(0, str::len)
    }

    fn write_params(&self, params: &mut String) {
        let inline_globals = self.globals.filter(|_| !self.globals_attached());
        // A run by key alone leaves out its kind and name: the worker keeps
        // them from the run that brought the source, and the line of nearly
        // every run is shorter to parse.
        params.push('{');
        if self.code.is_some() {
            params.push_str(r#""kind":""#);
            params.push_str(self.kind);
            params.push_str(r#"","name":"#);
            push_json_string(params, self.name);
            params.push(',');
        }
        if let Some(file) = self.file {
            params.push_str(r#""file":"#);
            push_json_string(params, file);
            params.push(',');
        }
        params.push_str(r#""key":""#);
        params.push_str(self.key);
        params.push('"');
        if let Some(code) = self.code {
            params.push_str(r#","code":"#);
            push_json_string(params, code);
        }
        if self.globals.is_some() {
            match inline_globals {
                Some(globals) => {
                    params.push_str(r#","globals":"#);
                    push_json_string(params, globals);
                }
                None => params.push_str(r#","attachment":"globals""#),
            }
        }
        if let Some(session) = self.session {
            params.push_str(r#","session":"#);
            push_u64(params, session);
        }
        push_limits(params, self.timeout, self.max_callbacks, self.start_by);
        params.push('}');
    }

    fn attachment(&self) -> Option<&str> {
        self.globals.filter(|_| self.globals_attached())
    }

    fn frames(&self) -> &[Bytes] {
        self.frames
    }

    fn start_by(&self) -> Option<u64> {
        self.start_by
    }
}

fn push_limits(params: &mut String, timeout: Duration, max_callbacks: u32, start_by: Option<u64>) {
    // Written in place: every run's request has these. No limit on
    // callbacks (0), the worker's default, is left out: each byte of a
    // run's line is parsed.
    params.push_str(r#","timeout":"#);
    // In u64 arithmetic: `as_millis` divides a u128.
    let millis = timeout
        .as_secs()
        .saturating_mul(1000)
        .saturating_add(u64::from(timeout.subsec_millis()));
    push_u64(params, millis);
    if max_callbacks > 0 {
        params.push_str(r#","maxCallbacks":"#);
        push_u64(params, max_callbacks.into());
    }
    if let Some(start_by) = start_by {
        params.push_str(r#","startBy":"#);
        push_u64(params, start_by);
    }
}

/// `call`: an exported function of a loaded module, its arguments (a JSON
/// array, compact) on the attachment line.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Call<'a> {
    pub(crate) handle: u64,
    pub(crate) export: &'a str,
    pub(crate) args: &'a str,
    /// The frames of the arguments' binary values.
    pub(crate) frames: &'a [Bytes],
    pub(crate) timeout: Duration,
    pub(crate) max_callbacks: u32,
    /// As for [`Run::start_by`].
    pub(crate) start_by: Option<u64>,
}

impl Request for Call<'_> {
    const METHOD: &'static str = "call";
    const RUNS_CODE: bool = true;

    fn params(&self) -> String {
        let mut params = String::with_capacity(self.params_len());
        self.write_params(&mut params);
        params
    }

    fn params_len(&self) -> usize {
        96 + self.export.len()
    }

    fn write_params(&self, params: &mut String) {
        params.push_str(r#"{"handle":"#);
        push_u64(params, self.handle);
        params.push_str(r#","export":"#);
        push_json_string(params, self.export);
        params.push_str(r#","attachment":"args""#);
        push_limits(params, self.timeout, self.max_callbacks, self.start_by);
        params.push('}');
    }

    fn attachment(&self) -> Option<&str> {
        Some(self.args)
    }

    fn frames(&self) -> &[Bytes] {
        self.frames
    }

    fn start_by(&self) -> Option<u64> {
        self.start_by
    }
}

/// `module.load`: a module loaded once (into a worker or a session) whose
/// exports are then called by handle.
#[derive(Debug, Serialize)]
pub(crate) struct ModuleLoad<'a> {
    pub(crate) handle: u64,
    pub(crate) name: &'a str,
    pub(crate) key: &'a str,
    pub(crate) code: &'a str,
    #[serde(serialize_with = "millis")]
    pub(crate) timeout: Duration,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) session: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) file: Option<&'a str>,
}

fn millis<S: serde::Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_u128(duration.as_millis())
}

impl Request for ModuleLoad<'_> {
    const METHOD: &'static str = "module.load";
    const RUNS_CODE: bool = true;
    fn params(&self) -> String {
        serde_json::to_string(self).expect("module.load params serialize")
    }
}

/// `session.open`: a context kept across runs, with its own project
/// directory if it has one.
#[derive(Debug, Serialize)]
pub(crate) struct SessionOpen<'a> {
    pub(crate) session: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) project: Option<&'a str>,
}

impl Request for SessionOpen<'_> {
    const METHOD: &'static str = "session.open";
    fn params(&self) -> String {
        serde_json::to_string(self).expect("session.open params serialize")
    }
}

/// `ping`: a round trip without work.
#[derive(Debug)]
pub(crate) struct Ping;

impl Request for Ping {
    const METHOD: &'static str = "ping";
    fn params(&self) -> String {
        "{}".into()
    }
}

/// `stats`: the worker's own counters ([`WorkerStats`](super::WorkerStats)).
#[derive(Debug)]
pub(crate) struct Stats;

impl Request for Stats {
    const METHOD: &'static str = "stats";
    fn params(&self) -> String {
        "{}".into()
    }
}

/// Why a run is stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CancelReason {
    Timeout,
    Cancelled,
}

/// `cancel`: stop a run (its awaits reject, its signal aborts).
#[derive(Debug)]
pub(crate) struct Cancel {
    pub(crate) id: u64,
    pub(crate) reason: CancelReason,
}

impl Notification for Cancel {
    const METHOD: &'static str = "cancel";
    fn params(&self) -> String {
        let reason = match self.reason {
            CancelReason::Timeout => "timeout",
            CancelReason::Cancelled => "cancelled",
        };
        format!(r#"{{"id":{},"reason":"{reason}"}}"#, self.id)
    }
}

/// `session.close`: the session's context goes.
#[derive(Debug)]
pub(crate) struct SessionClose {
    pub(crate) session: u64,
}

impl Notification for SessionClose {
    const METHOD: &'static str = "session.close";
    fn params(&self) -> String {
        format!(r#"{{"session":{}}}"#, self.session)
    }
}

/// `module.unload`: a loaded module (and its context, unless a session's) goes.
#[derive(Debug)]
pub(crate) struct ModuleUnload {
    pub(crate) handle: u64,
}

impl Notification for ModuleUnload {
    const METHOD: &'static str = "module.unload";
    fn params(&self) -> String {
        format!(r#"{{"handle":{}}}"#, self.handle)
    }
}

/// `shutdown`: the worker exits once it has written what it has.
#[derive(Debug)]
pub(crate) struct Shutdown;

impl Notification for Shutdown {
    const METHOD: &'static str = "shutdown";
    fn params(&self) -> String {
        "{}".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run() -> Run<'static> {
        Run {
            kind: "module",
            name: "a \"b\".mjs",
            file: None,
            key: "k1",
            code: None,
            globals: None,
            frames: &[],
            session: None,
            timeout: Duration::from_millis(1500),
            max_callbacks: 7,
            start_by: None,
        }
    }

    #[test]
    fn run_params_say_only_what_is_set() {
        let params_of =
            |run: Run| -> serde_json::Value { serde_json::from_str(&run.params()).unwrap() };
        // By key alone: the worker keeps its kind and name.
        let cases = [
            (
                run(),
                serde_json::json!({"key": "k1", "timeout": 1500, "maxCallbacks": 7}),
            ),
            (
                Run {
                    code: Some("1"),
                    ..run()
                },
                serde_json::json!({"kind": "module", "name": "a \"b\".mjs", "key": "k1", "code": "1", "timeout": 1500, "maxCallbacks": 7}),
            ),
            (
                Run {
                    file: Some("/x/a.mjs"),
                    ..run()
                },
                serde_json::json!({"file": "/x/a.mjs", "key": "k1", "timeout": 1500, "maxCallbacks": 7}),
            ),
        ];
        for (run, expected) in cases {
            assert_eq!(params_of(run), expected);
        }
        let full = Run {
            file: Some("/x/a.mjs"),
            code: Some("export default 1"),
            globals: Some(r#"{"a":1}"#),
            session: Some(9),
            start_by: Some(123),
            ..run()
        };
        let params: serde_json::Value = serde_json::from_str(&full.params()).unwrap();
        assert_eq!(
            (
                &params["file"],
                &params["code"],
                &params["attachment"],
                &params["session"]
            ),
            (
                &"/x/a.mjs".into(),
                &"export default 1".into(),
                &"globals".into(),
                &9.into()
            )
        );
        assert_eq!(full.attachment(), Some(r#"{"a":1}"#));
        // Timeouts in whole milliseconds, the longest saturating.
        for (timeout, millis) in [
            (Duration::from_micros(2_999), 2),
            (Duration::new(4, 999_999_999), 4_999),
            (Duration::from_secs(u64::MAX / 1000), u64::MAX / 1000 * 1000),
            (Duration::MAX, u64::MAX),
        ] {
            let params: serde_json::Value =
                serde_json::from_str(&Run { timeout, ..run() }.params()).unwrap();
            assert_eq!(params["timeout"], millis, "{timeout:?}");
        }
        // Pretty JSON holds newlines: it goes escaped inside the params instead.
        let pretty = Run {
            globals: Some("{\n\"a\": 1}"),
            ..run()
        };
        let params: serde_json::Value = serde_json::from_str(&pretty.params()).unwrap();
        assert_eq!(params["globals"], "{\n\"a\": 1}");
        assert_eq!(pretty.attachment(), None);
    }

    #[test]
    fn a_run_by_key_is_written_in_the_shape_the_worker_reads_directly() {
        // The worker reads this line without the JSON parser
        // (js-client/src/31_run_line.mjs): its params in this order, and
        // integers only. Another shape is still read, through `JSON.parse`.
        let by_key = Run {
            session: Some(9),
            start_by: Some(81_234_567_891),
            ..run()
        };
        assert_eq!(
            crate::wire::encode::request(5, &by_key).text,
            r#"{"jsonrpc":"2.0","id":5,"method":"run","params":{"key":"k1","session":9,"timeout":1500,"maxCallbacks":7,"startBy":81234567891}}"#
        );
    }

    #[test]
    fn other_params_are_json() {
        let call = Call {
            handle: 3,
            export: "f",
            args: "[1]",
            frames: &[],
            timeout: Duration::from_secs(2),
            max_callbacks: 0,
            start_by: None,
        };
        let params: serde_json::Value = serde_json::from_str(&call.params()).unwrap();
        assert_eq!(
            params,
            serde_json::json!({"handle": 3, "export": "f", "attachment": "args", "timeout": 2000})
        );
        let load = ModuleLoad {
            handle: 4,
            name: "m",
            key: "k",
            code: "x",
            timeout: Duration::from_secs(1),
            session: None,
            file: None,
        };
        let params: serde_json::Value = serde_json::from_str(&load.params()).unwrap();
        assert_eq!(
            params,
            serde_json::json!({"handle": 4, "name": "m", "key": "k", "code": "x", "timeout": 1000})
        );
        for (params, expected) in [
            (
                Cancel {
                    id: 5,
                    reason: CancelReason::Timeout,
                }
                .params(),
                serde_json::json!({"id": 5, "reason": "timeout"}),
            ),
            (
                SessionClose { session: 6 }.params(),
                serde_json::json!({"session": 6}),
            ),
            (
                ModuleUnload { handle: 7 }.params(),
                serde_json::json!({"handle": 7}),
            ),
            (
                SessionOpen {
                    session: 8,
                    project: Some("/p"),
                }
                .params(),
                serde_json::json!({"session": 8, "project": "/p"}),
            ),
        ] {
            assert_eq!(
                serde_json::from_str::<serde_json::Value>(&params).unwrap(),
                expected
            );
        }
    }
}
