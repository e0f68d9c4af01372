//! Callbacks (`await host.lookupUser({ id: 7 })`) on an engine thread: the
//! handler's future is polled on the thread itself, inside the host's
//! tokio context, so one that is ready at once answers with no thread
//! switch; one that waits wakes the thread when it can go on. Its promise
//! settles with a value of the caller's realm. A run's calls end with it:
//! their futures are dropped and their `CallContext` cancelled.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context as TaskContext, Poll, Wake, Waker};

use bytes::Bytes;
use futures_util::FutureExt;
use rquickjs::function::Opt;
use rquickjs::{Ctx, Exception, Function, Persistent, Promise, Value};
use serde_json::value::RawValue;

use super::channel::Shared;
use super::engine::{state, State};
use super::realm::Realm;
use crate::callbacks::{CallContext, CallbackError, CallbackFuture};
use crate::wire::codes;

/// A callback call in progress.
pub(super) struct HostCall {
    pub(super) run: Option<u64>,
    realm: std::rc::Rc<Realm>,
    method: String,
    /// The script's frames where the call was made: a failed call's stack.
    frames: Option<String>,
    /// Where the callback's handler puts the binary values of its result.
    result_frames: Option<Arc<Mutex<Vec<Bytes>>>>,
    future: CallbackFuture,
    resolve: Persistent<Function<'static>>,
    reject: Persistent<Function<'static>>,
    waker: Waker,
}

/// Wakes the engine thread for one call.
struct CallWaker {
    call: u64,
    shared: Weak<Shared>,
}

impl Wake for CallWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if let Some(shared) = self.shared.upgrade() {
            shared.wake(self.call);
        }
    }
}

/// What a poll gave.
type Outcome = Result<Box<RawValue>, CallbackError>;

/// `bridge.call(method, params)`: starts a callback; returns its promise.
pub(super) fn call<'js>(
    ctx: Ctx<'js>,
    method: String,
    params: Opt<Value<'js>>,
    site: Opt<Option<rquickjs::Object<'js>>>,
) -> rquickjs::Result<Promise<'js>> {
    let st = state();
    let frames = site
        .0
        .flatten()
        .and_then(|site| site.get::<_, Option<String>>("stack").ok().flatten())
        .map(|stack| frames_of(&stack))
        .filter(|frames| !frames.is_empty());
    let Some(realm) = st.realm_of(&ctx) else {
        return Err(Exception::throw_internal(&ctx, "this realm has ended"));
    };
    let run = st.run_in(&realm);
    // The run's budget of calls.
    if let Some(run) = run {
        let over = {
            let mut runs = st.runs.borrow_mut();
            match runs.get_mut(&run) {
                Some(r) => {
                    r.callbacks += 1;
                    (r.max_callbacks > 0 && r.callbacks > r.max_callbacks)
                        .then_some(r.max_callbacks)
                }
                None => None,
            }
        };
        if let Some(max) = over {
            let message = format!("the run reached its limit of {max} callback calls");
            super::run::end(
                &st,
                run,
                Err(crate::wire::RpcError {
                    code: codes::LIMIT,
                    message: message.clone(),
                    data: None,
                }),
            );
            return Err(Exception::throw_message(&ctx, &message));
        }
    }
    let params = params
        .0
        .unwrap_or_else(|| Value::new_undefined(ctx.clone()));
    let (params, params_frames) = if params.is_undefined() {
        ("{}".to_owned(), Vec::new())
    } else {
        st.helper
            .to_json(&ctx, params, "callback params", st.max_message_bytes())
            .map_err(|e| super::world::coded_error(&ctx, "ERR_OUTRIGGER_NON_JSON", &e.message))?
    };
    let Some(handler) = st.registry.get(&method).cloned() else {
        let (promise, _, reject) = Promise::new(&ctx)?;
        let message = format!(
            "no callback named `{method}` (callbacks: {})",
            st.registry.names()
        );
        let error = rejection(
            &ctx,
            codes::METHOD_NOT_FOUND,
            &message,
            None,
            frames.as_deref(),
        )?;
        reject.call::<_, ()>((error,))?;
        return Ok(promise);
    };
    let token = run
        .and_then(|run| st.runs.borrow().get(&run).map(|r| r.token.clone()))
        .unwrap_or_default();
    let context = CallContext::new(
        run,
        realm.session,
        method.as_str().into(),
        token,
        Arc::downgrade(&st.sink),
        params_frames,
    );
    let args = RawValue::from_string(params)
        .unwrap_or_else(|_| RawValue::from_string("{}".into()).unwrap());
    // A call that needs approval waits for it first, its run's clock held.
    let gate = match run {
        Some(run) => st.shared.gate(
            &st.registry,
            run,
            &method,
            &args,
            position(frames.as_deref()),
        ),
        None => approval_outside_a_run(&st.registry, &method, &args),
    };
    let gate = match gate {
        Ok(gate) => gate,
        Err(error) => {
            let (promise, _, reject) = Promise::new(&ctx)?;
            let error = rejection(
                &ctx,
                error.code(),
                error.message(),
                error.data(),
                frames.as_deref(),
            )?;
            reject.call::<_, ()>((error,))?;
            return Ok(promise);
        }
    };
    let span = tracing::info_span!("outrigger.callback", callback = %method, run);
    let result_frames = context.result_frames();
    let future = match gate {
        Some(gate) => {
            let id = st.fresh_id();
            let run = run.unwrap_or_default();
            Ok(Box::pin(async move {
                gate.pass(id, move |held| super::run::hold(run, held))
                    .await?;
                handler(context, args).await
            }) as CallbackFuture)
        }
        None => {
            let _entered = span.enter();
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler(context, args)))
        }
    };
    match future {
        Ok(future) => start(&ctx, &method, frames, Some(result_frames), future),
        Err(panic) => {
            let (promise, _, reject) = Promise::new(&ctx)?;
            let error = panicked(&method, panic);
            let error = rejection(&ctx, error.code(), error.message(), None, frames.as_deref())?;
            reject.call::<_, ()>((error,))?;
            Ok(promise)
        }
    }
}

/// A call that needs approval from code no run owns (a timer left by a
/// session's run): it is asked for under run 0.
fn approval_outside_a_run(
    registry: &crate::callbacks::Registry,
    method: &str,
    args: &RawValue,
) -> Result<Option<super::super::approval::Gate>, CallbackError> {
    super::super::approval::gate(registry, None, 0, method, args, None)
}

/// Starts polling `future` for the run running in the realm of `ctx`; its
/// outcome settles the promise returned.
pub(super) fn start<'js>(
    ctx: &Ctx<'js>,
    method: &str,
    frames: Option<String>,
    result_frames: Option<Arc<Mutex<Vec<Bytes>>>>,
    future: CallbackFuture,
) -> rquickjs::Result<Promise<'js>> {
    let st = state();
    let Some(realm) = st.realm_of(ctx) else {
        return Err(Exception::throw_internal(ctx, "this realm has ended"));
    };
    let run = st.run_in(&realm);
    let (promise, resolve, reject) = Promise::new(ctx)?;
    let id = st.fresh_id();
    let waker = Waker::from(Arc::new(CallWaker {
        call: id,
        shared: Arc::downgrade(&st.shared),
    }));
    let mut call = HostCall {
        run,
        realm,
        method: method.to_owned(),
        frames,
        result_frames,
        future,
        resolve: Persistent::save(ctx, resolve),
        reject: Persistent::save(ctx, reject),
        waker,
    };
    match poll(&mut call) {
        Poll::Ready(outcome) => settle(ctx, &call, outcome)?,
        Poll::Pending => {
            if let Some(run) = run {
                if let Some(r) = st.runs.borrow_mut().get_mut(&run) {
                    r.calls.push(id);
                }
            }
            st.calls.borrow_mut().insert(id, call);
        }
    }
    Ok(promise)
}

fn panicked(method: &str, panic: Box<dyn std::any::Any + Send>) -> CallbackError {
    let what = super::super::answer::panic_message(&*panic);
    tracing::error!(panic = %what, "callback panicked");
    CallbackError::new(format!("callback `{method}` panicked: {what}"))
        .with_code(codes::CALLBACK_FAILED)
}

/// Polls a call's future once (a panic in it is its error).
fn poll(call: &mut HostCall) -> Poll<Outcome> {
    let mut cx = TaskContext::from_waker(&call.waker);
    let future: Pin<&mut (dyn Future<Output = Outcome> + Send)> = call.future.as_mut();
    match std::panic::AssertUnwindSafe(future)
        .catch_unwind()
        .poll_unpin(&mut cx)
    {
        Poll::Ready(Ok(outcome)) => Poll::Ready(outcome),
        Poll::Ready(Err(panic)) => Poll::Ready(Err(panicked(&call.method, panic))),
        Poll::Pending => Poll::Pending,
    }
}

/// Settles a call's promise in its realm.
fn settle<'js>(ctx: &Ctx<'js>, call: &HostCall, outcome: Outcome) -> rquickjs::Result<()> {
    let st = state();
    let _entered = st.enter(call.run);
    match outcome {
        Ok(value) => {
            let binary = call
                .result_frames
                .as_ref()
                .map(|frames| std::mem::take(&mut *frames.lock().unwrap()))
                .unwrap_or_default();
            let value = st.helper.parse_with_frames(ctx, value.get(), &binary)?;
            let resolve = call.resolve.clone().restore(ctx)?;
            resolve.call::<_, ()>((value,))
        }
        Err(error) => {
            tracing::debug!(%error, "callback failed");
            let error = rejection(
                ctx,
                error.code(),
                error.message(),
                error.data(),
                call.frames.as_deref(),
            )?;
            let reject = call.reject.clone().restore(ctx)?;
            reject.call::<_, ()>((error,))
        }
    }
}

/// The script's frames of a captured call site's stack.
fn frames_of(stack: &str) -> String {
    stack
        .lines()
        .filter(|line| line.trim_start().starts_with("at "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Where a call was made: the first of its frames.
fn position(frames: Option<&str>) -> Option<crate::output::CallSite> {
    let frame = frames?.lines().next()?.trim().strip_prefix("at ")?;
    let place = match frame.rfind(" (") {
        Some(open) if frame.ends_with(')') => &frame[open + 2..frame.len() - 1],
        _ => frame,
    };
    let (rest, column) = place.rsplit_once(':')?;
    let (file, line) = rest.rsplit_once(':')?;
    Some(crate::output::CallSite {
        file: file.to_owned(),
        line: line.parse().ok()?,
        column: column.parse().ok()?,
    })
}

/// The `Error` a failed call rejects with: `code` (`"APPROVAL_DENIED"` for
/// a denial, as on every engine), `message`, `data`, and the stack of the
/// call in the script, so that a failed call is reported where it was made.
fn rejection<'js>(
    ctx: &Ctx<'js>,
    code: i64,
    message: &str,
    data: Option<&serde_json::Value>,
    frames: Option<&str>,
) -> rquickjs::Result<Value<'js>> {
    let error = Exception::from_message(ctx.clone(), message)?;
    let object = error.as_object();
    if code == codes::APPROVAL_DENIED {
        object.set("code", "APPROVAL_DENIED")?;
    } else {
        object.set("code", code as f64)?;
    }
    if let Some(frames) = frames {
        object.set("stack", format!("Error: {message}\n{frames}\n"))?;
    }
    if let Some(data) = data {
        object.set("data", ctx.json_parse(data.to_string())?)?;
    }
    Ok(error.into_value())
}

/// Polls the calls whose futures were woken; true if any settled.
pub(super) fn poll_woken(st: &State) -> bool {
    let mut settled = false;
    for id in st.shared.take_woken() {
        let Some(mut call) = st.calls.borrow_mut().remove(&id) else {
            continue;
        };
        match poll(&mut call) {
            Poll::Pending => {
                st.calls.borrow_mut().insert(id, call);
            }
            Poll::Ready(outcome) => {
                settled = true;
                if let Some(run) = call.run {
                    if let Some(r) = st.runs.borrow_mut().get_mut(&run) {
                        r.calls.retain(|c| *c != id);
                    }
                }
                let realm = call.realm.clone();
                let result = realm.context.with(|ctx| settle(&ctx, &call, outcome));
                if let Err(error) = result {
                    tracing::debug!(%error, "settling a callback's promise failed");
                }
            }
        }
    }
    settled
}

/// Drops the calls of a run that ended (their futures with them).
pub(super) fn end_run(st: &State, calls: &[u64]) {
    let mut all = st.calls.borrow_mut();
    for id in calls {
        all.remove(id);
    }
}
