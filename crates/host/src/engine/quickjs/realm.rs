//! Realms: a QuickJS context with the script's world in it. A plain run
//! gets a fresh one (prepared ahead while the thread is idle), a session
//! or a loaded module keeps one. Each realm's globals of the world are
//! accessors made at creation, cheap; what they stand for is built in the
//! realm the first time a script touches it (`world.js`).
//!
//! Also here: the module loader every realm shares (registered modules
//! only; anything else is refused with an import error naming what the
//! QuickJS engine lacks).

use std::cell::RefCell;
use std::rc::Rc;

use rquickjs::context::intrinsic::{
    Date, Eval, Json, MapSet, Promise, Proxy, RegExp, RegExpCompiler, WeakRef,
};
use rquickjs::loader::ImportAttributes;
use rquickjs::{qjs, Context, Ctx, Exception, Module, Object, Persistent, Runtime, Value};

use super::engine::{state, State};

/// The lazy globals of the world (besides `structuredClone` and `signal`).
const GLOBALS: [&str; 27] = [
    "DOMException",
    "console",
    "host",
    "setTimeout",
    "setInterval",
    "setImmediate",
    "clearTimeout",
    "clearInterval",
    "clearImmediate",
    "queueMicrotask",
    "TextEncoder",
    "TextDecoder",
    "atob",
    "btoa",
    "Event",
    "EventTarget",
    "AbortController",
    "AbortSignal",
    "URL",
    "URLSearchParams",
    "crypto",
    "fetch",
    "Headers",
    "Request",
    "Response",
    "performance",
    "structuredClone",
];

/// What QuickJS's typed-array intrinsic defines: added to a realm the first
/// time a script (or the world) touches one of them, since it costs a
/// quarter of a new context and most runs use none. (It also defines
/// `Atomics`, with a definition that aborts the process if the name is
/// taken: so `Atomics` has no accessor, and appears with the others.)
const TYPED: [&str; 15] = [
    "ArrayBuffer",
    "SharedArrayBuffer",
    "Uint8ClampedArray",
    "Int8Array",
    "Uint8Array",
    "Int16Array",
    "Uint16Array",
    "Int32Array",
    "Uint32Array",
    "BigInt64Array",
    "BigUint64Array",
    "Float16Array",
    "Float32Array",
    "Float64Array",
    "DataView",
];

/// A context with every intrinsic of `Context::full` but the typed arrays
/// (see [`TYPED`]) and QuickJS's own `performance`, `atob` and `btoa` (the
/// world has its own).
type Intrinsics = (
    Date,
    Eval,
    RegExpCompiler,
    RegExp,
    Json,
    Proxy,
    MapSet,
    Promise,
    WeakRef,
);

/// A context and what the engine knows of it.
pub(super) struct Realm {
    pub(super) id: u64,
    pub(super) context: Context,
    pub(super) session: Option<u64>,
    /// Runs and calls in flight in it, oldest first.
    pub(super) runs: RefCell<Vec<u64>>,
    /// The world's makers once the realm has needed one.
    world: RefCell<Option<Persistent<Object<'static>>>>,
    /// The controller of the last run whose `signal` was asked for: what
    /// `signal` is in code of no run in flight (a listener called as its
    /// run ends).
    pub(super) last_controller: RefCell<Option<Persistent<Object<'static>>>>,
    /// Whether its typed-array intrinsic has been added.
    typed: std::cell::Cell<bool>,
}

impl Realm {
    /// A new realm, registered with the engine. When memory is short, what
    /// ended runs left is collected first.
    pub(super) fn new(
        st: &State,
        rt: &Runtime,
        session: Option<u64>,
    ) -> rquickjs::Result<Rc<Realm>> {
        let context = match Context::custom::<Intrinsics>(rt) {
            Ok(context) => context,
            Err(_) => {
                rt.run_gc();
                Context::custom::<Intrinsics>(rt)?
            }
        };
        context.with(|ctx| install(&ctx))?;
        let realm = Rc::new(Realm {
            id: st.fresh_id(),
            context,
            session,
            runs: RefCell::new(Vec::new()),
            world: RefCell::new(None),
            last_controller: RefCell::new(None),
            typed: std::cell::Cell::new(false),
        });
        st.realms
            .borrow_mut()
            .insert(realm.context.as_raw().as_ptr() as usize, realm.clone());
        Ok(realm)
    }

    /// The world's makers in this realm (read into it on first use).
    pub(super) fn world<'js>(&self, ctx: &Ctx<'js>) -> rquickjs::Result<Object<'js>> {
        if let Some(world) = self.world.borrow().clone() {
            return world.restore(ctx);
        }
        let st = state();
        let make: rquickjs::Function = super::world::load(ctx, &st.helper.world)?;
        let bridge = super::world::bridge(ctx)?;
        let world: Object = make.call((bridge,))?;
        *self.world.borrow_mut() = Some(Persistent::save(ctx, world.clone()));
        Ok(world)
    }

    /// Drops the realm: its timers and host calls go, then its context.
    pub(super) fn dispose(st: &State, realm: &Rc<Realm>) {
        st.timers.borrow_mut().clear_realm(realm.id);
        realm.world.borrow_mut().take();
        realm.last_controller.borrow_mut().take();
        st.realms
            .borrow_mut()
            .remove(&(realm.context.as_raw().as_ptr() as usize));
    }
}

/// Puts the lazy globals on a new context's global object: an accessor
/// each, whose getter and setter are QuickJS C functions told apart by
/// their `magic` (an index into [`GLOBALS`], then [`TYPED`], then
/// `signal`). Closures made by rquickjs would cost twice as much per
/// context, and take the prototype of another realm (see `Helper::new`).
fn install(ctx: &Ctx<'_>) -> rquickjs::Result<()> {
    let raw = ctx.as_raw().as_ptr();
    let count = GLOBALS.len() + TYPED.len() + 1;
    for magic in 0..count {
        let name = name_of(magic);
        // SAFETY: `raw` is the live context of `ctx`; the getter and setter
        // have the signatures QuickJS calls a `getter_magic` and a
        // `setter_magic` with (it stores every C function as the generic
        // pointer type); each value made is handed to the property, which
        // owns it; the atom is freed after use.
        unsafe {
            let getter = qjs::JS_NewCFunction2(
                raw,
                Some(std::mem::transmute::<GetterMagic, GenericCFunction>(
                    lazy_get,
                )),
                c"get".as_ptr(),
                0,
                qjs::JSCFunctionEnum_JS_CFUNC_getter_magic,
                magic as i32,
            );
            let setter = if magic < GLOBALS.len() + TYPED.len() {
                qjs::JS_NewCFunction2(
                    raw,
                    Some(std::mem::transmute::<SetterMagic, GenericCFunction>(
                        lazy_set,
                    )),
                    c"set".as_ptr(),
                    1,
                    qjs::JSCFunctionEnum_JS_CFUNC_setter_magic,
                    magic as i32,
                )
            } else {
                qjs::JS_UNDEFINED
            };
            let atom = qjs::JS_NewAtomLen(raw, name.as_ptr().cast(), name.len() as _);
            let global = qjs::JS_GetGlobalObject(raw);
            let defined = qjs::JS_DefinePropertyGetSet(
                raw,
                global,
                atom,
                getter,
                setter,
                qjs::JS_PROP_CONFIGURABLE as i32,
            );
            qjs::JS_FreeValue(raw, global);
            qjs::JS_FreeAtom(raw, atom);
            if defined < 0 {
                return Err(rquickjs::Error::Exception);
            }
        }
    }
    Ok(())
}

type GenericCFunction =
    unsafe extern "C" fn(*mut qjs::JSContext, qjs::JSValue, i32, *mut qjs::JSValue) -> qjs::JSValue;
type GetterMagic = unsafe extern "C" fn(*mut qjs::JSContext, qjs::JSValue, i32) -> qjs::JSValue;
type SetterMagic =
    unsafe extern "C" fn(*mut qjs::JSContext, qjs::JSValue, qjs::JSValue, i32) -> qjs::JSValue;

/// The lazy global with index `magic`.
fn name_of(magic: usize) -> &'static str {
    GLOBALS
        .get(magic)
        .or_else(|| TYPED.get(magic - GLOBALS.len()))
        .copied()
        .unwrap_or("signal")
}

/// What lazy global `name` is, made now (then a plain property).
fn lazy_value<'js>(ctx: &Ctx<'js>, magic: usize) -> rquickjs::Result<Value<'js>> {
    let name = name_of(magic);
    if magic < GLOBALS.len() {
        let value = global_value(ctx, name)?;
        define(ctx, name, value.clone())?;
        Ok(value)
    } else if magic < GLOBALS.len() + TYPED.len() {
        typed_arrays(ctx)?;
        ctx.globals().get(name)
    } else {
        super::world::signal(ctx)
    }
}

/// Turns the outcome of a host function into what QuickJS expects back.
///
/// # Safety
/// `ctx` must be the live context the C function was called in.
unsafe fn to_raw(
    ctx: &Ctx<'_>,
    outcome: std::thread::Result<rquickjs::Result<Value<'_>>>,
) -> qjs::JSValue {
    match outcome {
        // SAFETY: a new reference for the caller, who owns what it gets.
        Ok(Ok(value)) => unsafe { qjs::JS_DupValue(ctx.as_raw().as_ptr(), value.as_raw()) },
        // The exception is pending in the context already.
        Ok(Err(rquickjs::Error::Exception)) => qjs::JS_EXCEPTION,
        Ok(Err(error)) => {
            let _ = Exception::throw_internal(ctx, &error.to_string());
            qjs::JS_EXCEPTION
        }
        Err(_) => {
            let _ = Exception::throw_internal(ctx, "the engine failed making a global");
            qjs::JS_EXCEPTION
        }
    }
}

unsafe extern "C" fn lazy_get(
    ctx: *mut qjs::JSContext,
    _this: qjs::JSValue,
    magic: i32,
) -> qjs::JSValue {
    // SAFETY: QuickJS calls getters with the live context they run in.
    let ctx = unsafe { Ctx::from_raw(std::ptr::NonNull::new_unchecked(ctx)) };
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        lazy_value(&ctx, magic as usize)
    }));
    // SAFETY: as above.
    unsafe { to_raw(&ctx, outcome) }
}

unsafe extern "C" fn lazy_set(
    ctx: *mut qjs::JSContext,
    _this: qjs::JSValue,
    value: qjs::JSValue,
    magic: i32,
) -> qjs::JSValue {
    // SAFETY: QuickJS calls setters with the live context they run in and a
    // value it lends for the call (duplicated here to be owned).
    let ctx = unsafe { Ctx::from_raw(std::ptr::NonNull::new_unchecked(ctx)) };
    let value =
        unsafe { Value::from_raw(ctx.clone(), qjs::JS_DupValue(ctx.as_raw().as_ptr(), value)) };
    let magic = magic as usize;
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        if magic >= GLOBALS.len() {
            typed_arrays(&ctx)?;
        }
        define(&ctx, name_of(magic), value)?;
        Ok(Value::new_undefined(ctx.clone()))
    }));
    // SAFETY: as above.
    unsafe { to_raw(&ctx, outcome) }
}

/// Adds the typed-array intrinsic to the realm of `ctx`, once: it defines
/// its globals as plain properties, over the accessors that stood for them.
pub(super) fn typed_arrays(ctx: &Ctx<'_>) -> rquickjs::Result<()> {
    let st = state();
    let Some(realm) = st.realm_of(ctx) else {
        return Ok(());
    };
    if realm.typed.replace(true) {
        return Ok(());
    }
    // SAFETY: the live context of `ctx`, whose runtime this thread holds.
    let failed = unsafe { rquickjs::qjs::JS_AddIntrinsicTypedArrays(ctx.as_raw().as_ptr()) } != 0;
    if failed {
        realm.typed.set(false);
        return Err(rquickjs::Error::Exception);
    }
    Ok(())
}

/// Replaces a lazy global with its value, as a plain property.
fn define<'js>(ctx: &Ctx<'js>, name: &str, value: Value<'js>) -> rquickjs::Result<()> {
    use rquickjs::object::Property;
    ctx.globals()
        .prop(name, Property::from(value).writable().configurable())
}

/// What lazy global `name` stands for in the realm of `ctx`.
fn global_value<'js>(ctx: &Ctx<'js>, name: &str) -> rquickjs::Result<Value<'js>> {
    let st = state();
    let Some(realm) = st.realm_of(ctx) else {
        return Err(Exception::throw_internal(ctx, "this realm has ended"));
    };
    let world = realm.world(ctx)?;
    let global: rquickjs::Function = world.get("global")?;
    global.call((name,))
}

/// Prepares a spare realm for plain runs while the thread is idle; false
/// when there are enough.
pub(super) fn prepare_spare(st: &State, rt: &Runtime) -> bool {
    let wanted = {
        let config = st.config.borrow();
        if config.isolation != "run" {
            return false;
        }
        config.spare_contexts
    };
    if st.spares.borrow().len() >= wanted {
        return false;
    }
    match Realm::new(st, rt, None) {
        Ok(realm) => {
            st.spares.borrow_mut().push_back(realm);
            true
        }
        Err(error) => {
            tracing::debug!(%error, "could not prepare a spare context");
            false
        }
    }
}

/// A realm for a plain run: a spare one, a new one, or under
/// `Isolation::Worker` the shared one. `fresh`: it goes when the run ends.
pub(super) fn for_plain_run(st: &State, rt: &Runtime) -> rquickjs::Result<(Rc<Realm>, bool)> {
    if st.config.borrow().isolation == "worker" {
        if let Some(realm) = st.shared_realm.borrow().clone() {
            return Ok((realm, false));
        }
        let realm = Realm::new(st, rt, None)?;
        *st.shared_realm.borrow_mut() = Some(realm.clone());
        return Ok((realm, false));
    }
    if let Some(realm) = st.spares.borrow_mut().pop_front() {
        return Ok((realm, true));
    }
    Ok((Realm::new(st, rt, None)?, true))
}

/// Sets the run's globals (the members of an object parsed in `ctx`).
pub(super) fn set_globals<'js>(ctx: &Ctx<'js>, value: Value<'js>) -> rquickjs::Result<()> {
    let Some(object) = value.as_object() else {
        return Ok(());
    };
    let globals = ctx.globals();
    for entry in object.props::<rquickjs::Atom, Value>() {
        let (key, value) = entry?;
        globals.set(key, value)?;
    }
    Ok(())
}

/// Resolves imports: registered modules by their exact name, nothing else.
pub(super) struct Resolver;

impl rquickjs::loader::Resolver for Resolver {
    fn resolve<'js>(
        &mut self,
        ctx: &Ctx<'js>,
        base: &str,
        name: &str,
        _attributes: Option<ImportAttributes<'js>>,
    ) -> rquickjs::Result<String> {
        if state().config.borrow().modules.contains_key(name) {
            return Ok(name.to_owned());
        }
        let reason = if name.starts_with("node:") || is_node_builtin(name) {
            "the QuickJS engine has no Node.js built-in modules (Engine::Node has them)"
        } else if name.starts_with('.') || name.starts_with('/') || name.contains("://") {
            "the QuickJS engine imports no files (only modules registered with PoolBuilder::module; Engine::Node resolves files)"
        } else {
            "the QuickJS engine has no npm packages, only modules registered with PoolBuilder::module (Engine::Node resolves packages)"
        };
        let message = format!("cannot import \"{name}\" from {base}: {reason}");
        let error = Exception::from_message(ctx.clone(), &message)?;
        let object = error.as_object();
        object.set("code", "ERR_OUTRIGGER_IMPORT")?;
        object.set("specifier", name)?;
        object.set("referrer", base)?;
        Err(ctx.throw(error.into_value()))
    }
}

/// Loads what [`Resolver`] resolved: a registered module's source.
pub(super) struct Loader;

impl rquickjs::loader::Loader for Loader {
    fn load<'js>(
        &mut self,
        ctx: &Ctx<'js>,
        name: &str,
        _attributes: Option<ImportAttributes<'js>>,
    ) -> rquickjs::Result<Module<'js, rquickjs::module::Declared>> {
        let st = state();
        let code = st
            .config
            .borrow()
            .modules
            .get(name)
            .map(|m| m.code.clone())
            .ok_or_else(|| rquickjs::Error::new_loading(name))?;
        st.counters.borrow_mut().module_compiles += 1;
        Module::declare(ctx.clone(), name, code)
    }
}

/// Node's built-in module names a script may write without `node:`.
fn is_node_builtin(name: &str) -> bool {
    const BUILTINS: [&str; 38] = [
        "assert",
        "async_hooks",
        "buffer",
        "child_process",
        "cluster",
        "console",
        "constants",
        "crypto",
        "dgram",
        "diagnostics_channel",
        "dns",
        "events",
        "fs",
        "fs/promises",
        "http",
        "http2",
        "https",
        "inspector",
        "module",
        "net",
        "os",
        "path",
        "perf_hooks",
        "process",
        "punycode",
        "querystring",
        "readline",
        "repl",
        "stream",
        "string_decoder",
        "timers",
        "tls",
        "tty",
        "url",
        "util",
        "v8",
        "vm",
        "zlib",
    ];
    let root = name.split('/').next().unwrap_or(name);
    BUILTINS.contains(&name) || BUILTINS.contains(&root) || name == "worker_threads"
}
