//! The host functions of the script's world (the `bridge` each realm's
//! `world.js` is given): console and events into the run's replies,
//! callbacks, timers, clocks, random bytes, UTF-8, URL parsing and fetch.

use std::collections::{BTreeSet, HashMap};
use std::ffi::CString;
use std::rc::Rc;
use std::time::{Duration, Instant};

use rquickjs::function::Opt;
use rquickjs::{qjs, Array, ArrayBuffer, Ctx, Exception, Function, Object, Persistent, Value};

use super::super::connection::Reply;
use super::engine::{state, State};
use super::realm::Realm;
use crate::output::{Event, LogEntry, LogLevel};
use crate::wire::codes;

/// Compiles a script to QuickJS bytecode (once per thread), to be read
/// into each realm that needs it without parsing it again.
pub(super) fn compile(ctx: &Ctx<'_>, source: &str, name: &str) -> rquickjs::Result<Vec<u8>> {
    let code = CString::new(source).map_err(|_| rquickjs::Error::Unknown)?;
    let file = CString::new(name).map_err(|_| rquickjs::Error::Unknown)?;
    let raw = ctx.as_raw().as_ptr();
    // SAFETY: `raw` is the live context of `ctx`; the strings outlive the
    // call; every value made is freed before returning, the buffer with
    // the context's allocator that made it.
    unsafe {
        let flags = (qjs::JS_EVAL_TYPE_GLOBAL
            | qjs::JS_EVAL_FLAG_COMPILE_ONLY
            | qjs::JS_EVAL_FLAG_STRICT) as i32;
        let compiled = qjs::JS_Eval(raw, code.as_ptr(), source.len() as _, file.as_ptr(), flags);
        if qjs::JS_IsException(compiled) {
            return Err(rquickjs::Error::Exception);
        }
        let mut len: qjs::size_t = 0;
        let buffer =
            qjs::JS_WriteObject(raw, &mut len, compiled, qjs::JS_WRITE_OBJ_BYTECODE as i32);
        qjs::JS_FreeValue(raw, compiled);
        if buffer.is_null() {
            return Err(rquickjs::Error::Allocation);
        }
        let bytes = std::slice::from_raw_parts(buffer, len as usize).to_vec();
        qjs::js_free(raw, buffer.cast());
        Ok(bytes)
    }
}

/// Reads bytecode from [`compile`] into the realm of `ctx` and runs it:
/// its value (for `world.js`, the function that makes the world).
pub(super) fn load<'js, T: rquickjs::FromJs<'js>>(
    ctx: &Ctx<'js>,
    bytes: &[u8],
) -> rquickjs::Result<T> {
    let raw = ctx.as_raw().as_ptr();
    // SAFETY: `bytes` is bytecode this engine wrote with `JS_WriteObject`
    // from a script compiled by the same QuickJS; the values returned are
    // owned and handed to rquickjs, which frees them.
    let value = unsafe {
        let object = qjs::JS_ReadObject(
            raw,
            bytes.as_ptr(),
            bytes.len() as _,
            qjs::JS_READ_OBJ_BYTECODE as i32,
        );
        if qjs::JS_IsException(object) {
            return Err(rquickjs::Error::Exception);
        }
        let value = qjs::JS_EvalFunction(raw, object);
        if qjs::JS_IsException(value) {
            return Err(rquickjs::Error::Exception);
        }
        Value::from_raw(ctx.clone(), value)
    };
    T::from_js(ctx, value)
}

/// A Rust function of the realm of `ctx` (rquickjs would give it the
/// prototype of the realm that made its first one: see `Helper::new`).
fn native<'js, F, P>(ctx: &Ctx<'js>, f: F) -> rquickjs::Result<Function<'js>>
where
    F: rquickjs::function::IntoJsFunc<'js, P> + 'js,
{
    let function = Function::new(ctx.clone(), f)?;
    function.set_prototype(Some(&Function::prototype(ctx.clone())))?;
    Ok(function)
}

/// The host functions of one realm.
pub(super) fn bridge<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<Object<'js>> {
    let bridge = Object::new(ctx.clone())?;
    bridge.set("log", native(ctx, log)?)?;
    bridge.set("emit", native(ctx, emit)?)?;
    bridge.set("call", native(ctx, super::host_calls::call)?)?;
    bridge.set("setTimer", native(ctx, set_timer)?)?;
    bridge.set("clearTimer", native(ctx, clear_timer)?)?;
    bridge.set("now", native(ctx, now)?)?;
    bridge.set("randomBytes", native(ctx, random_bytes)?)?;
    bridge.set("encodeUtf8", native(ctx, encode_utf8)?)?;
    bridge.set("decodeUtf8", native(ctx, decode_utf8)?)?;
    bridge.set("parseUrl", native(ctx, parse_url)?)?;
    bridge.set("setUrlPart", native(ctx, set_url_part)?)?;
    bridge.set("fetch", native(ctx, super::fetch::fetch)?)?;
    bridge.set("callbacks", native(ctx, callbacks)?)?;
    bridge.set("callSiteFrames", native(ctx, call_site_frames)?)?;
    Ok(bridge)
}

/// The run code in the realm of `ctx` belongs to.
pub(super) fn run_of(st: &State, ctx: &Ctx<'_>) -> Option<u64> {
    let realm = st.realm_of(ctx)?;
    st.run_in(&realm)
}

/// An `Error` of the script's realm with a `code` the host maps.
pub(super) fn coded_error(ctx: &Ctx<'_>, code: &str, message: &str) -> rquickjs::Error {
    match Exception::from_message(ctx.clone(), message) {
        Ok(error) => {
            let _ = error.as_object().set("code", code);
            ctx.throw(error.into_value())
        }
        Err(error) => error,
    }
}

fn log<'js>(ctx: Ctx<'js>, level: String, args: Value<'js>) -> rquickjs::Result<()> {
    let st = state();
    let level = match level.as_str() {
        "info" => LogLevel::Info,
        "warn" => LogLevel::Warn,
        "error" => LogLevel::Error,
        "debug" => LogLevel::Debug,
        "trace" => LogLevel::Trace,
        _ => LogLevel::Log,
    };
    let mut text = st.helper.log_args(&ctx, args)?;
    let max_message = st.max_message_bytes();
    if text.len() > max_message {
        text = serde_json::to_string(&[format!(
            "[log line of {} bytes dropped: over the limit of {max_message}]",
            text.len()
        )])
        .unwrap_or_default();
    }
    let args: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap_or_default();
    let entry = LogEntry { level, args };
    let Some(run) = run_of(&st, &ctx) else {
        tracing::debug!(target: "outrigger::console", "{entry}");
        return Ok(());
    };
    let limit = st.config.borrow().sandbox.max_console_bytes;
    if limit > 0 {
        let over = {
            let mut runs = st.runs.borrow_mut();
            runs.get_mut(&run).is_some_and(|r| {
                r.console_bytes += text.len() + 32;
                r.console_bytes > limit
            })
        };
        if over {
            let message = format!(
                "the run's console output passed its limit of {limit} bytes (Sandbox::max_console_bytes)"
            );
            super::run::end(
                &st,
                run,
                Err(crate::wire::RpcError {
                    code: codes::LIMIT,
                    message: message.clone(),
                    data: None,
                }),
            );
            return Err(coded_error(&ctx, "ERR_OUTRIGGER_LIMIT", &message));
        }
    }
    st.shared.reply(run, Reply::Log(entry));
    Ok(())
}

fn emit<'js>(ctx: Ctx<'js>, name: String, data: Opt<Value<'js>>) -> rquickjs::Result<()> {
    let st = state();
    let data = data.0.unwrap_or_else(|| Value::new_undefined(ctx.clone()));
    let (text, binary) = st
        .helper
        .to_json(&ctx, data, "event data", st.max_message_bytes())
        .map_err(|error| {
            let code = if error.code == codes::LIMIT {
                "ERR_OUTRIGGER_LIMIT"
            } else {
                "ERR_OUTRIGGER_NON_JSON"
            };
            coded_error(&ctx, code, &error.message)
        })?;
    let data = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
    let event = Event { name, data, binary };
    match run_of(&st, &ctx) {
        Some(run) => {
            st.shared.reply(run, Reply::Event(event));
        }
        None => tracing::debug!(name = %event.name, "event outside a run"),
    }
    Ok(())
}

fn now() -> f64 {
    state().started.elapsed().as_secs_f64() * 1000.0
}

fn random_bytes(ctx: Ctx<'_>, n: usize) -> rquickjs::Result<ArrayBuffer<'_>> {
    super::realm::typed_arrays(&ctx)?;
    let mut bytes = vec![0u8; n.min(65536)];
    let mut filled = 0;
    while filled < bytes.len() {
        // SAFETY: the pointer and length describe the unfilled end of `bytes`.
        let got = unsafe {
            libc::getrandom(bytes[filled..].as_mut_ptr().cast(), bytes.len() - filled, 0)
        };
        if got <= 0 {
            return Err(Exception::throw_internal(
                &ctx,
                "no random bytes from the system",
            ));
        }
        filled += got as usize;
    }
    ArrayBuffer::new(ctx, bytes)
}

fn encode_utf8(ctx: Ctx<'_>, text: String) -> rquickjs::Result<ArrayBuffer<'_>> {
    super::realm::typed_arrays(&ctx)?;
    ArrayBuffer::new(ctx, text.into_bytes())
}

fn decode_utf8<'js>(
    ctx: Ctx<'js>,
    buffer: ArrayBuffer<'js>,
    fatal: bool,
) -> rquickjs::Result<String> {
    // SAFETY: the bytes are copied before any JavaScript can run again.
    let bytes = unsafe { buffer.as_bytes() }.unwrap_or_default().to_vec();
    match String::from_utf8(bytes) {
        Ok(text) => Ok(text),
        Err(error) if fatal => Err(Exception::throw_type(
            &ctx,
            &format!(
                "The encoded data was not valid for encoding utf-8: {}",
                error.utf8_error()
            ),
        )),
        Err(error) => Ok(String::from_utf8_lossy(error.as_bytes()).into_owned()),
    }
}

fn url_parts<'js>(ctx: &Ctx<'js>, url: &url::Url) -> rquickjs::Result<Object<'js>> {
    let parts = Object::new(ctx.clone())?;
    let origin = url.origin().ascii_serialization();
    let search = match url.query() {
        Some(q) if !q.is_empty() => format!("?{q}"),
        _ => String::new(),
    };
    let hash = match url.fragment() {
        Some(f) if !f.is_empty() => format!("#{f}"),
        _ => String::new(),
    };
    let host = match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        _ => String::new(),
    };
    parts.set("href", url.as_str())?;
    parts.set("origin", origin)?;
    parts.set("protocol", format!("{}:", url.scheme()))?;
    parts.set("username", url.username())?;
    parts.set("password", url.password().unwrap_or(""))?;
    parts.set("host", host)?;
    parts.set("hostname", url.host_str().unwrap_or(""))?;
    parts.set(
        "port",
        url.port().map(|p| p.to_string()).unwrap_or_default(),
    )?;
    parts.set("pathname", url.path())?;
    parts.set("search", search)?;
    parts.set("hash", hash)?;
    Ok(parts)
}

fn parse_url<'js>(
    ctx: Ctx<'js>,
    input: String,
    base: Option<String>,
) -> rquickjs::Result<Value<'js>> {
    let parsed = match base {
        Some(base) => url::Url::parse(&base).and_then(|base| base.join(&input)),
        None => url::Url::parse(&input),
    };
    match parsed {
        Ok(url) => Ok(url_parts(&ctx, &url)?.into_value()),
        Err(_) => Ok(Value::new_null(ctx)),
    }
}

fn set_url_part<'js>(
    ctx: Ctx<'js>,
    href: String,
    part: String,
    value: String,
) -> rquickjs::Result<Value<'js>> {
    let Ok(mut url) = url::Url::parse(&href) else {
        return Ok(Value::new_null(ctx));
    };
    let strip = |s: &str, c: char| s.strip_prefix(c).unwrap_or(s).to_owned();
    let ok = match part.as_str() {
        "href" => match url::Url::parse(&value) {
            Ok(new) => {
                url = new;
                true
            }
            Err(_) => {
                return Err(Exception::throw_type(
                    &ctx,
                    &format!("Invalid URL: {value}"),
                ))
            }
        },
        "protocol" => url.set_scheme(value.trim_end_matches(':')).is_ok(),
        "username" => url.set_username(&value).is_ok(),
        "password" => url.set_password(Some(&value)).is_ok(),
        "host" => {
            let (host, port) = match value.rsplit_once(':') {
                Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) => {
                    (h.to_owned(), p.parse().ok())
                }
                _ => (value.clone(), url.port()),
            };
            url.set_host(Some(&host)).is_ok() && url.set_port(port).is_ok()
        }
        "hostname" => url.set_host(Some(&value)).is_ok(),
        "port" => url
            .set_port(if value.is_empty() {
                None
            } else {
                value.parse().ok()
            })
            .is_ok(),
        "pathname" => {
            url.set_path(&value);
            true
        }
        "search" => {
            let q = strip(&value, '?');
            url.set_query(if q.is_empty() { None } else { Some(&q) });
            true
        }
        "hash" => {
            let f = strip(&value, '#');
            url.set_fragment(if f.is_empty() { None } else { Some(&f) });
            true
        }
        _ => false,
    };
    if !ok {
        return Ok(Value::new_null(ctx));
    }
    Ok(url_parts(&ctx, &url)?.into_value())
}

fn call_site_frames() -> u32 {
    state().call_site_frames()
}

fn callbacks(ctx: Ctx<'_>) -> rquickjs::Result<Value<'_>> {
    let paths = state().callback_paths();
    ctx.json_parse(paths)
}

/// The run's `signal`: aborted when the run ends before its value (a
/// timeout, a cancel).
pub(super) fn signal<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<Value<'js>> {
    let st = state();
    let Some(realm) = st.realm_of(ctx) else {
        return Ok(Value::new_undefined(ctx.clone()));
    };
    let Some(run) = st.run_in(&realm) else {
        let last = realm.last_controller.borrow().clone();
        return match last {
            Some(controller) => controller.restore(ctx)?.get("signal"),
            None => Ok(Value::new_undefined(ctx.clone())),
        };
    };
    let existing = st
        .runs
        .borrow()
        .get(&run)
        .and_then(|r| r.controller.clone());
    let controller: Object = match existing {
        Some(controller) => controller.restore(ctx)?,
        None => {
            let world = realm.world(ctx)?;
            let make: Function = world.get("controller")?;
            let controller: Object = make.call(())?;
            let saved = Persistent::save(ctx, controller.clone());
            if let Some(r) = st.runs.borrow_mut().get_mut(&run) {
                r.controller = Some(saved.clone());
            }
            *realm.last_controller.borrow_mut() = Some(saved);
            controller
        }
    };
    controller.get("signal")
}

/// A timer of a realm.
pub(super) struct Timer {
    realm: Rc<Realm>,
    due: Instant,
    every: Option<Duration>,
    callback: Persistent<Function<'static>>,
    args: Persistent<Array<'static>>,
}

/// Every realm's timers, by id and by when they are due.
#[derive(Default)]
pub(super) struct Timers {
    by_id: HashMap<u64, Timer>,
    due: BTreeSet<(Instant, u64)>,
}

impl Timers {
    pub(super) fn next_due(&self) -> Option<Instant> {
        self.due.first().map(|(at, _)| *at)
    }

    pub(super) fn clear_realm(&mut self, realm: u64) {
        let ids: Vec<u64> = self
            .by_id
            .iter()
            .filter(|(_, t)| t.realm.id == realm)
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            self.remove(id);
        }
    }

    fn remove(&mut self, id: u64) -> Option<Timer> {
        let timer = self.by_id.remove(&id)?;
        self.due.remove(&(timer.due, id));
        Some(timer)
    }

    fn insert(&mut self, id: u64, timer: Timer) {
        self.due.insert((timer.due, id));
        self.by_id.insert(id, timer);
    }
}

fn set_timer<'js>(
    ctx: Ctx<'js>,
    callback: Function<'js>,
    delay: f64,
    args: Array<'js>,
    repeat: bool,
) -> rquickjs::Result<f64> {
    let st = state();
    let Some(realm) = st.realm_of(&ctx) else {
        return Err(Exception::throw_internal(&ctx, "this realm has ended"));
    };
    let delay = Duration::from_secs_f64((delay.max(0.0) / 1000.0).min(1e9));
    let id = st.fresh_id();
    let timer = Timer {
        realm,
        due: Instant::now() + delay,
        every: repeat.then_some(delay.max(Duration::from_millis(1))),
        callback: Persistent::save(&ctx, callback),
        args: Persistent::save(&ctx, args),
    };
    st.timers.borrow_mut().insert(id, timer);
    Ok(id as f64)
}

fn clear_timer(id: Value<'_>) {
    if let Some(id) = id.as_number() {
        state().timers.borrow_mut().remove(id as u64);
    }
}

/// Fires the timers that are due; true if any fired.
pub(super) fn fire_timers(st: &State) -> bool {
    let now = Instant::now();
    let mut fired = false;
    loop {
        let next = {
            let mut timers = st.timers.borrow_mut();
            match timers.due.first().copied() {
                Some((at, id)) if at <= now => timers.remove(id).map(|t| (id, t)),
                _ => None,
            }
        };
        let Some((id, timer)) = next else {
            return fired;
        };
        fired = true;
        let realm = timer.realm.clone();
        let run = st.run_in(&realm);
        let name = run
            .and_then(|run| st.runs.borrow().get(&run).map(|r| r.name.clone()))
            .unwrap_or_default();
        let (callback, args) = (timer.callback.clone(), timer.args.clone());
        if let Some(every) = timer.every {
            // Due again unless the callback clears it.
            let again = Timer {
                due: Instant::now() + every,
                ..timer
            };
            st.timers.borrow_mut().insert(id, again);
        }
        let outcome = realm.context.with(|ctx| {
            let _entered = st.enter(run);
            let fire = || -> rquickjs::Result<()> {
                let callback = callback.restore(&ctx)?;
                let args = args.restore(&ctx)?;
                let mut call = rquickjs::function::Args::new(ctx.clone(), args.len());
                for arg in args.iter::<Value>() {
                    call.push_arg(arg?)?;
                }
                callback.call_arg::<Value>(call).map(|_| ())
            };
            fire().map_err(|e| super::errors::from_engine(&ctx, e, &name))
        });
        if let Err(error) = outcome {
            if let Some(run) = run {
                super::run::end(st, run, Err(error));
            }
        }
    }
}
