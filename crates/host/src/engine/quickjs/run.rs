//! Requests on an engine thread, as a Node.js worker answers them
//! (`js-client/src/29_jobs.mjs`): runs (an expression or an ES module),
//! calls of a loaded module's exports, module loads, sessions, `ping`,
//! `stats`, `init`. A run's value is settled when its promise is; its end,
//! whatever the cause, goes through [`end`].

use bytes::Bytes;

use crate::binary::Payload;
use std::rc::Rc;
use std::time::{Duration, Instant};

use rquickjs::context::EvalOptions;
use rquickjs::promise::PromiseState;
use rquickjs::{Ctx, Module, Object, Persistent, Promise, Runtime, Value};
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio_util::sync::CancellationToken;

use super::engine::{cancelled, error, internal, Config, State};
use super::errors;
use super::realm::{self, Realm};
use super::scripts::{script_for, KnownScript};
use crate::wire::{codes, RpcError, PROTOCOL_VERSION};

/// A run (or call, or module load) in flight.
pub(super) struct Run {
    pub(super) realm: Rc<Realm>,
    /// The script's name: where errors are located.
    pub(super) name: String,
    pub(super) deadline: Instant,
    /// Its calls waiting for approval, and what was left of its time when
    /// the first began to: its clock stops while any waits.
    held: u32,
    left: Duration,
    pub(super) max_callbacks: u32,
    pub(super) callbacks: u32,
    pub(super) console_bytes: usize,
    /// The engine's allocation refusals when it started.
    refusals: u64,
    /// Cancelled when the run ends (its callbacks' `CallContext`).
    pub(super) token: CancellationToken,
    pub(super) controller: Option<Persistent<Object<'static>>>,
    /// Host calls it is waiting for.
    pub(super) calls: Vec<u64>,
    /// Its realm goes when it ends.
    fresh: bool,
    /// The script's source, when it is the run's own: errors are told
    /// what they point at.
    source: Option<Rc<str>>,
    waiting: Waiting,
    purpose: Purpose,
}

enum Waiting {
    /// Not yet evaluated (or already answered).
    Nothing,
    Promise(Persistent<Promise<'static>>),
    /// An ES module: its value is the namespace's default once evaluated.
    Module {
        promise: Persistent<Promise<'static>>,
        namespace: Persistent<Object<'static>>,
    },
}

#[derive(Clone, Copy)]
enum Purpose {
    /// Its value is the answer.
    Value,
    /// A module load: the answer is its export names; it is kept.
    Load { handle: u64 },
}

/// A module loaded by handle.
pub(super) struct LoadedModule {
    name: String,
    realm: Rc<Realm>,
    namespace: Persistent<Object<'static>>,
    /// It has a realm of its own (not a session's).
    own: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RunParams {
    /// Left out, with `name`, by a run sent by key alone: the engine keeps both.
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    name: Option<String>,
    key: String,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    globals: Option<String>,
    #[serde(default)]
    attachment: Option<String>,
    #[serde(default)]
    session: Option<u64>,
    timeout: u64,
    #[serde(default)]
    max_callbacks: u32,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CallParams {
    handle: u64,
    export: String,
    timeout: u64,
    #[serde(default)]
    max_callbacks: u32,
}

#[derive(Deserialize)]
struct LoadParams {
    handle: u64,
    name: String,
    code: String,
    timeout: u64,
    #[serde(default)]
    session: Option<u64>,
}

#[derive(Deserialize)]
struct SessionParams {
    session: u64,
}

#[derive(Deserialize)]
struct CancelParams {
    id: u64,
    #[serde(default)]
    reason: String,
}

#[derive(Deserialize)]
struct HandleParams {
    handle: u64,
}

fn parse<'a, T: Deserialize<'a>>(params: &'a str) -> Result<T, RpcError> {
    serde_json::from_str(params)
        .map_err(|e| error(codes::INVALID_PARAMS, format!("bad params: {e}")))
}

fn raw(text: String) -> Box<RawValue> {
    RawValue::from_string(text).unwrap_or_else(|_| RawValue::from_string("null".into()).unwrap())
}

fn payload((text, frames): (String, Vec<Bytes>)) -> Payload {
    Payload {
        json: raw(text),
        frames,
    }
}

/// Handles one request; its answer goes out now or when it settles.
pub(super) fn request(
    st: &State,
    rt: &Runtime,
    id: u64,
    method: &str,
    params: &str,
    attachment: Option<String>,
    frames: &[Bytes],
) {
    let answer = match method {
        "init" => init(st, params),
        "ping" => {
            measure(st);
            Ok(raw("{}".into()))
        }
        "stats" => {
            measure(st);
            Ok(raw(stats(st)))
        }
        "run" => return start_run(st, rt, id, params, attachment, frames),
        "call" => return start_call(st, id, params, attachment, frames),
        "module.load" => return start_load(st, rt, id, params),
        "session.open" => parse::<SessionParams>(params).and_then(|p| {
            if st.sessions.borrow().contains_key(&p.session) {
                return Err(error(
                    codes::INVALID_PARAMS,
                    format!("session {} is already open", p.session),
                ));
            }
            let realm = Realm::new(st, rt, Some(p.session))
                .map_err(|e| error(codes::INTERNAL_ERROR, format!("cannot make a context: {e}")))?;
            st.sessions.borrow_mut().insert(p.session, realm);
            Ok(raw("{}".into()))
        }),
        other => Err(error(
            codes::METHOD_NOT_FOUND,
            format!("unknown method \"{other}\""),
        )),
    };
    st.shared.done(id, answer);
}

fn init(st: &State, params: &str) -> Result<Box<RawValue>, RpcError> {
    let config: Config = parse(params)?;
    if let Some(preload) = config.preloads.first() {
        return Err(error(
            codes::INVALID_PARAMS,
            format!(
                "PoolBuilder::preload({:?}, {:?}) is not supported by the QuickJS engine (Engine::Node has it)",
                preload.name, preload.specifier
            ),
        ));
    }
    if let Some(size) = std::num::NonZeroUsize::new(config.script_cache_size) {
        st.scripts.borrow_mut().resize(size);
    }
    *st.config.borrow_mut() = config;
    let hello = serde_json::json!({
        "protocol": PROTOCOL_VERSION,
        "version": super::VERSION,
        "clock": super::super::monotonic_micros(),
    });
    Ok(raw(hello.to_string()))
}

/// Reads the runtime's memory into what the host sees.
fn measure(st: &State) {
    st.shared.set_memory(st.budget.used.get() as u64);
}

fn stats(st: &State) -> String {
    let counters = st.counters.borrow();
    serde_json::json!({
        "scriptCompiles": counters.script_compiles,
        "scriptHits": counters.script_hits,
        "moduleCompiles": counters.module_compiles,
        "moduleCacheHits": counters.module_cache_hits,
        "runs": st.runs.borrow().len(),
        "sessions": st.sessions.borrow().len(),
        "loadedModules": st.modules.borrow().len(),
        "spareContexts": st.spares.borrow().len(),
        "heapUsed": st.budget.used.get(),
    })
    .to_string()
}

/// What a run is registered with.
struct Registration {
    name: String,
    timeout: u64,
    max_callbacks: u32,
    fresh: bool,
    purpose: Purpose,
    /// The script's source, when it is the run's own.
    source: Option<Rc<str>>,
}

/// A run's signal to abort once no realm is locked.
pub(super) struct Abort {
    realm: Rc<Realm>,
    controller: Persistent<Object<'static>>,
    /// Its realm goes once it is aborted.
    fresh: bool,
    timed_out: bool,
}

/// Registers a run in flight in `realm`.
fn register(st: &State, id: u64, realm: &Rc<Realm>, how: Registration) {
    let Registration {
        name,
        timeout,
        max_callbacks,
        fresh,
        purpose,
        source,
    } = how;
    realm.runs.borrow_mut().push(id);
    st.runs.borrow_mut().insert(
        id,
        Run {
            realm: realm.clone(),
            name,
            deadline: Instant::now() + Duration::from_millis(timeout.max(1)),
            held: 0,
            left: Duration::ZERO,
            max_callbacks,
            callbacks: 0,
            console_bytes: 0,
            refusals: st.budget.refusals.get(),
            token: CancellationToken::new(),
            controller: None,
            calls: Vec::new(),
            fresh,
            waiting: Waiting::Nothing,
            purpose,
            source,
        },
    );
}

fn start_run(
    st: &State,
    rt: &Runtime,
    id: u64,
    params: &str,
    attachment: Option<String>,
    frames: &[Bytes],
) {
    let params: RunParams = match parse(params) {
        Ok(p) => p,
        Err(e) => return st.shared.done(id, Err(e)),
    };
    let known = script_for(
        st,
        &params.key,
        params.code.as_deref(),
        params.kind.as_deref(),
        params.name.as_deref(),
    );
    let KnownScript { code, module, name } = match known {
        Ok(known) => known,
        Err(e) => return st.shared.done(id, Err(e)),
    };
    let (realm, fresh) = match params.session {
        Some(session) => match st.sessions.borrow().get(&session).cloned() {
            Some(realm) => (realm, false),
            None => {
                return st.shared.done(
                    id,
                    Err(error(
                        codes::NOT_FOUND,
                        format!("session {session} is not open on this worker"),
                    )),
                )
            }
        },
        None => match realm::for_plain_run(st, rt) {
            Ok(found) => found,
            Err(e) => {
                return st
                    .shared
                    .done(id, Err(internal(&format!("cannot make a context: {e}"))))
            }
        },
    };
    let globals = match params.attachment.as_deref() {
        Some("globals") => attachment,
        _ => params.globals.clone(),
    };
    let how = Registration {
        name: name.to_string(),
        timeout: params.timeout,
        max_callbacks: params.max_callbacks,
        fresh,
        purpose: Purpose::Value,
        source: Some(code.clone()),
    };
    register(st, id, &realm, how);
    let outcome = realm.context.with(|ctx| {
        let _entered = st.enter(Some(id));
        let fail = |e| errors::from_engine(&ctx, e, &name);
        if let Some(globals) = &globals {
            let globals = st
                .helper
                .parse_with_frames(&ctx, globals, frames)
                .map_err(fail)?;
            realm::set_globals(&ctx, globals).map_err(fail)?;
        }
        if module {
            let declared = Module::declare(ctx.clone(), &*name, &*code).map_err(fail)?;
            let (evaluated, promise) = declared.eval().map_err(fail)?;
            let namespace = evaluated.namespace().map_err(fail)?;
            Ok(Started::Waiting(Waiting::Module {
                promise: Persistent::save(&ctx, promise),
                namespace: Persistent::save(&ctx, namespace),
            }))
        } else {
            let mut options = EvalOptions::default();
            options.global = true;
            options.strict = false;
            options.filename = Some(name.to_string());
            let value: Value = ctx.eval_with_options(&*code, options).map_err(fail)?;
            started_with(st, &ctx, id, value)
        }
    });
    settle_start(st, id, outcome);
}

/// How evaluating a run began.
enum Started {
    Waiting(Waiting),
    /// Its value was there at once (JSON text and frames, or the run's error).
    Done(Result<(String, Vec<Bytes>), RpcError>),
}

/// A value that may be a promise: waited for, or answered now.
fn started_with<'js>(
    st: &State,
    ctx: &Ctx<'js>,
    id: u64,
    value: Value<'js>,
) -> Result<Started, RpcError> {
    if let Some(promise) = value.as_promise() {
        return Ok(Started::Waiting(Waiting::Promise(Persistent::save(
            ctx,
            promise.clone(),
        ))));
    }
    let thenable = value
        .as_object()
        .is_some_and(|o| o.get::<_, Value>("then").is_ok_and(|t| t.is_function()));
    if thenable {
        let promise_class: Object = ctx
            .globals()
            .get("Promise")
            .map_err(|e| errors::from_engine(ctx, e, ""))?;
        let resolve: rquickjs::Function = promise_class
            .get("resolve")
            .map_err(|e| errors::from_engine(ctx, e, ""))?;
        let promise: Promise = resolve
            .call((rquickjs::function::This(promise_class), value))
            .map_err(|e| errors::from_engine(ctx, e, ""))?;
        return Ok(Started::Waiting(Waiting::Promise(Persistent::save(
            ctx, promise,
        ))));
    }
    let _ = id;
    Ok(Started::Done(st.helper.to_json(
        ctx,
        value,
        "value",
        st.max_message_bytes(),
    )))
}

fn settle_start(st: &State, id: u64, outcome: Result<Started, RpcError>) {
    match outcome {
        Ok(Started::Waiting(waiting)) => {
            if let Some(run) = st.runs.borrow_mut().get_mut(&id) {
                run.waiting = waiting;
            }
        }
        Ok(Started::Done(result)) => end(st, id, result.map(payload)),
        Err(e) => end(st, id, Err(e)),
    }
}

fn start_call(st: &State, id: u64, params: &str, attachment: Option<String>, frames: &[Bytes]) {
    let params: CallParams = match parse(params) {
        Ok(p) => p,
        Err(e) => return st.shared.done(id, Err(e)),
    };
    let found = st
        .modules
        .borrow()
        .get(&params.handle)
        .map(|m| (m.realm.clone(), m.namespace.clone(), m.name.clone()));
    let Some((realm, namespace, name)) = found else {
        return st.shared.done(
            id,
            Err(error(
                codes::NOT_FOUND,
                format!("module {} is not loaded on this worker", params.handle),
            )),
        );
    };
    let how = Registration {
        name: name.clone(),
        timeout: params.timeout,
        max_callbacks: params.max_callbacks,
        fresh: false,
        purpose: Purpose::Value,
        source: None,
    };
    register(st, id, &realm, how);
    let outcome = realm.context.with(|ctx| {
        let _entered = st.enter(Some(id));
        let fail = |e| errors::from_engine(&ctx, e, &name);
        let namespace = namespace.restore(&ctx).map_err(fail)?;
        let export: Value = namespace.get(params.export.as_str()).map_err(fail)?;
        let Some(function) = export.as_function() else {
            let names: Vec<String> = st
                .helper
                .export_names(&ctx, namespace.clone())
                .into_iter()
                .filter(|n| namespace.get::<_, Value>(n.as_str()).is_ok_and(|v| v.is_function()))
                .collect();
            let names = if names.is_empty() { "none".to_owned() } else { names.join(", ") };
            return Err(error(
                codes::NOT_FOUND,
                format!("module \"{name}\" has no exported function \"{}\" (exported functions: {names})", params.export),
            ));
        };
        let args = st
            .helper
            .parse_with_frames(&ctx, attachment.as_deref().unwrap_or("[]"), frames)
            .map_err(fail)?;
        let args: Vec<Value> = args.into_array().map(|a| a.iter().collect::<rquickjs::Result<_>>()).transpose().map_err(fail)?.unwrap_or_default();
        let mut call = rquickjs::function::Args::new(ctx.clone(), args.len());
        for arg in args {
            call.push_arg(arg).map_err(fail)?;
        }
        let value: Value = function.call_arg(call).map_err(fail)?;
        started_with(st, &ctx, id, value)
    });
    settle_start(st, id, outcome);
}

fn start_load(st: &State, rt: &Runtime, id: u64, params: &str) {
    let params: LoadParams = match parse(params) {
        Ok(p) => p,
        Err(e) => return st.shared.done(id, Err(e)),
    };
    let (realm, own) = match params.session {
        Some(session) => match st.sessions.borrow().get(&session).cloned() {
            Some(realm) => (realm, false),
            None => {
                return st.shared.done(
                    id,
                    Err(error(
                        codes::NOT_FOUND,
                        format!("session {session} is not open on this worker"),
                    )),
                )
            }
        },
        None => match Realm::new(st, rt, None) {
            Ok(realm) => (realm, true),
            Err(e) => {
                return st
                    .shared
                    .done(id, Err(internal(&format!("cannot make a context: {e}"))))
            }
        },
    };
    let how = Registration {
        name: params.name.clone(),
        timeout: params.timeout,
        max_callbacks: 0,
        fresh: own,
        purpose: Purpose::Load {
            handle: params.handle,
        },
        source: None,
    };
    register(st, id, &realm, how);
    let outcome = realm.context.with(|ctx| {
        let _entered = st.enter(Some(id));
        let fail = |e| errors::from_engine(&ctx, e, &params.name);
        let declared = Module::declare(ctx.clone(), params.name.as_str(), params.code.as_str())
            .map_err(fail)?;
        let (evaluated, promise) = declared.eval().map_err(fail)?;
        let namespace = evaluated.namespace().map_err(fail)?;
        Ok(Started::Waiting(Waiting::Module {
            promise: Persistent::save(&ctx, promise),
            namespace: Persistent::save(&ctx, namespace),
        }))
    });
    settle_start(st, id, outcome);
}

/// Handles a notification.
pub(super) fn notification(st: &State, method: &str, params: &str) {
    match method {
        "cancel" => {
            if let Ok(p) = serde_json::from_str::<CancelParams>(params) {
                let error = match p.reason.as_str() {
                    "timeout" => error(codes::TIMEOUT, "the run timed out"),
                    _ => cancelled(),
                };
                end(st, p.id, Err(error));
            }
        }
        "session.close" => {
            if let Ok(p) = serde_json::from_str::<SessionParams>(params) {
                let realm = st.sessions.borrow_mut().remove(&p.session);
                if let Some(realm) = realm {
                    let modules: Vec<u64> = st
                        .modules
                        .borrow()
                        .iter()
                        .filter(|(_, m)| m.realm.id == realm.id)
                        .map(|(h, _)| *h)
                        .collect();
                    for handle in modules {
                        st.modules.borrow_mut().remove(&handle);
                    }
                    Realm::dispose(st, &realm);
                }
            }
        }
        "module.unload" => {
            if let Ok(p) = serde_json::from_str::<HandleParams>(params) {
                let module = st.modules.borrow_mut().remove(&p.handle);
                if let Some(module) = module {
                    if module.own {
                        Realm::dispose(st, &module.realm);
                    }
                }
            }
        }
        _ => {}
    }
}

/// Answers the runs whose promise has settled.
pub(super) fn settle(st: &State) {
    let waiting: Vec<u64> = st
        .runs
        .borrow()
        .iter()
        .filter(|(_, r)| !matches!(r.waiting, Waiting::Nothing))
        .map(|(id, _)| *id)
        .collect();
    for id in waiting {
        let found = st.runs.borrow().get(&id).map(|r| {
            let waiting = match &r.waiting {
                Waiting::Promise(p) => (p.clone(), None),
                Waiting::Module { promise, namespace } => {
                    (promise.clone(), Some(namespace.clone()))
                }
                Waiting::Nothing => unreachable!("filtered above"),
            };
            (r.realm.clone(), r.name.clone(), r.purpose, waiting)
        });
        let Some((realm, name, purpose, (promise, namespace))) = found else {
            continue;
        };
        let outcome = realm.context.with(|ctx| -> Option<Settled> {
            let promise = promise.restore(&ctx).ok()?;
            match promise.state() {
                PromiseState::Pending => None,
                PromiseState::Rejected => {
                    let reason = match promise.result::<Value>() {
                        Some(Err(rquickjs::Error::Exception)) => ctx.catch(),
                        _ => Value::new_undefined(ctx.clone()),
                    };
                    Some(Settled::Done(Err(errors::from_thrown(&ctx, reason, &name))))
                }
                PromiseState::Resolved => {
                    let _entered = st.enter(Some(id));
                    let value: Value = match (&namespace, purpose) {
                        (Some(namespace), Purpose::Value) => {
                            let namespace = namespace.clone().restore(&ctx).ok()?;
                            let value = namespace
                                .get("default")
                                .unwrap_or_else(|_| Value::new_undefined(ctx.clone()));
                            // A promise as the default export is awaited too.
                            match started_with(st, &ctx, id, value) {
                                Ok(Started::Waiting(waiting)) => {
                                    return Some(Settled::Wait(waiting))
                                }
                                Ok(Started::Done(result)) => return Some(Settled::Done(result)),
                                Err(e) => return Some(Settled::Done(Err(e))),
                            }
                        }
                        (Some(namespace), Purpose::Load { handle }) => {
                            let ns = namespace.clone().restore(&ctx).ok()?;
                            let exports = st.helper.export_names(&ctx, ns);
                            st.modules.borrow_mut().insert(
                                handle,
                                LoadedModule {
                                    name: name.clone(),
                                    realm: realm.clone(),
                                    namespace: namespace.clone(),
                                    own: st.runs.borrow().get(&id).is_some_and(|r| r.fresh),
                                },
                            );
                            if let Some(run) = st.runs.borrow_mut().get_mut(&id) {
                                run.fresh = false;
                            }
                            return Some(Settled::Done(Ok((
                                serde_json::json!({ "exports": exports }).to_string(),
                                Vec::new(),
                            ))));
                        }
                        (None, _) => promise.result::<Value>()?.ok()?,
                    };
                    Some(Settled::Done(st.helper.to_json(
                        &ctx,
                        value,
                        "value",
                        st.max_message_bytes(),
                    )))
                }
            }
        });
        match outcome {
            Some(Settled::Done(result)) => end(st, id, result.map(payload)),
            Some(Settled::Wait(waiting)) => {
                if let Some(run) = st.runs.borrow_mut().get_mut(&id) {
                    run.waiting = waiting;
                }
            }
            None => {}
        }
    }
}

/// What a settled promise leads to.
enum Settled {
    Done(Result<(String, Vec<Bytes>), RpcError>),
    /// Another promise to wait for (a module's default export).
    Wait(Waiting),
}

/// A call of run `id` waits for approval (`held`) or no longer does: its
/// clock stops while any waits, and its handle is told so it holds its own.
/// A call dropped as its engine ends finds no state and does nothing.
pub(super) fn hold(id: u64, held: bool) {
    let Some(st) = super::engine::try_state() else {
        return;
    };
    let now = Instant::now();
    // Borrowed only when the run is ending (its calls dropped with it).
    if let Ok(mut runs) = st.runs.try_borrow_mut() {
        if let Some(run) = runs.get_mut(&id) {
            if held {
                if run.held == 0 {
                    run.left = run.deadline.saturating_duration_since(now);
                    run.deadline = now + HELD;
                }
                run.held += 1;
            } else if run.held > 0 {
                run.held -= 1;
                if run.held == 0 {
                    run.deadline = now + run.left;
                }
            }
        }
    }
    st.shared.reply(id, crate::engine::Reply::Held(held, now));
}

/// A held run's deadline: far enough never to come.
const HELD: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// Ends the runs past their deadline.
pub(super) fn expire(st: &State) {
    let now = Instant::now();
    let late: Vec<u64> = st
        .runs
        .borrow()
        .iter()
        .filter(|(_, r)| r.deadline <= now)
        .map(|(id, _)| *id)
        .collect();
    for id in late {
        end(st, id, Err(error(codes::TIMEOUT, "the run timed out")));
    }
}

/// A job of QuickJS's queue threw (it was interrupted, most likely): the
/// runs of its realm past their deadline, or cancelled, end.
pub(super) fn job_failed(st: &State, context: &rquickjs::Context) {
    let key = context.as_raw().as_ptr() as usize;
    let realm = st.realms.borrow().get(&key).cloned();
    let thrown = context.with(|ctx| {
        let thrown = ctx.catch();
        errors::from_thrown(&ctx, thrown, "")
    });
    let Some(realm) = realm else { return };
    let now = Instant::now();
    let runs: Vec<u64> = realm.runs.borrow().clone();
    let mut ended = false;
    for id in &runs {
        let late = st.runs.borrow().get(id).is_some_and(|r| r.deadline <= now);
        if late || st.shared.is_cancelled(*id) || thrown.code == codes::TIMEOUT {
            end(st, *id, Err(thrown.clone()));
            ended = true;
        }
    }
    if !ended {
        if let Some(last) = runs.last() {
            end(st, *last, Err(thrown));
        }
    }
}

/// Ends run `id` with `result` (if it is still in flight): answers it,
/// drops its callbacks, aborts its signal, and lets its fresh realm go.
pub(super) fn end(st: &State, id: u64, result: Result<Payload, RpcError>) {
    let Some(run) = st.runs.borrow_mut().remove(&id) else {
        return;
    };
    run.realm.runs.borrow_mut().retain(|r| *r != id);
    let result = match result {
        Err(e)
            if st.budget.refusals.get() > run.refusals
                && ![codes::LIMIT, codes::TIMEOUT, codes::CANCELLED].contains(&e.code) =>
        {
            Err(errors::memory_limit(&e.message, st.memory_mb))
        }
        Err(mut e) if e.code == codes::SCRIPT_ERROR => {
            if let Some(source) = &run.source {
                errors::name_missing_callback(&mut e, source, &st.registry.names());
            }
            Err(e)
        }
        other => other,
    };
    if let Err(e) = &result {
        tracing::debug!(run = id, code = e.code, message = %e.message, "run failed");
    }
    // A thread being ended answers nothing: its runs end as its exit says.
    if st.budget.refusals.get() > run.refusals {
        // What the run held goes now, not at the next collection.
        st.collect.set(true);
    }
    let failed = result.is_err();
    let timed_out = matches!(&result, Err(e) if e.code == codes::TIMEOUT);
    if !st.shared.is_killed() {
        st.shared.done_framed(id, result);
    }
    run.token.cancel();
    super::host_calls::end_run(st, &run.calls);
    match run.controller {
        Some(controller) if failed || run.fresh => st.aborts.borrow_mut().push(Abort {
            realm: run.realm.clone(),
            controller,
            fresh: run.fresh,
            timed_out,
        }),
        _ if run.fresh => Realm::dispose(st, &run.realm),
        _ => {}
    }
}

/// Aborts the signals of runs that ended before their value (outside any
/// realm's lock: it runs their listeners).
pub(super) fn abort_signals(st: &State) -> bool {
    let aborts = std::mem::take(&mut *st.aborts.borrow_mut());
    let any = !aborts.is_empty();
    for Abort {
        realm,
        controller,
        fresh,
        timed_out,
    } in aborts
    {
        let _ = realm.context.with(|ctx| -> rquickjs::Result<()> {
            let _entered = st.enter(None);
            let controller = controller.restore(&ctx)?;
            let abort: rquickjs::Function = realm.world(&ctx)?.get("abortRun")?;
            abort.call::<_, ()>((controller, timed_out))
        });
        if fresh {
            Realm::dispose(st, &realm);
        }
    }
    any
}
