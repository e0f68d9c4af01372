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

use rquickjs::loader::ImportAttributes;
use rquickjs::object::Accessor;
use rquickjs::{Context, Ctx, Exception, Module, Object, Persistent, Runtime, Value};

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
}

impl Realm {
    /// A new realm, registered with the engine. When memory is short, what
    /// ended runs left is collected first.
    pub(super) fn new(
        st: &State,
        rt: &Runtime,
        session: Option<u64>,
    ) -> rquickjs::Result<Rc<Realm>> {
        let context = match Context::full(rt) {
            Ok(context) => context,
            Err(_) => {
                rt.run_gc();
                Context::full(rt)?
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

/// Puts the lazy globals on a new context's global object.
fn install<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<()> {
    let globals = ctx.globals();
    for name in GLOBALS {
        let get = move |ctx: Ctx<'js>| -> rquickjs::Result<Value<'js>> {
            let value = global_value(&ctx, name)?;
            define(&ctx, name, value.clone())?;
            Ok(value)
        };
        let set = move |ctx: Ctx<'js>, value: Value<'js>| -> rquickjs::Result<()> {
            define(&ctx, name, value)
        };
        globals.prop(name, Accessor::new(get, set).configurable())?;
    }
    let signal = |ctx: Ctx<'js>| -> rquickjs::Result<Value<'js>> { super::world::signal(&ctx) };
    globals.prop("signal", Accessor::new_get(signal).configurable())?;
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

/// Sets the run's globals (a JSON object's members) in `ctx`.
pub(super) fn set_globals<'js>(ctx: &Ctx<'js>, json: &str) -> rquickjs::Result<()> {
    let value = ctx.json_parse(json)?;
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
