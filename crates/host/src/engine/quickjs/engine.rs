//! The engine thread: one QuickJS runtime, and the loop that serves the
//! host's requests on it. Each turn of the loop takes what the host queued,
//! polls the host calls whose futures were woken, fires due timers, runs
//! QuickJS's pending jobs, answers the runs that have settled and ends the
//! ones past their deadline; with nothing to do it prepares a spare
//! context, or parks until the next timer or deadline.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::num::NonZeroUsize;
use std::panic::AssertUnwindSafe;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rquickjs::Runtime;
use serde::Deserialize;
use tokio::sync::oneshot;

use super::channel::{Command, Shared};
use super::host_calls::HostCall;
use super::memory::{Bounded, Budget};
use super::realm::Realm;
use super::run::{self, Run};
use super::values::Helper;
use super::world::Timers;
use crate::callbacks::{EventSink, Registry};
use crate::wire::{codes, RpcError};

/// What the host gives a new engine thread.
pub(crate) struct Settings {
    pub(crate) shared: Arc<Shared>,
    pub(crate) registry: Arc<Registry>,
    pub(crate) memory_mb: u64,
    /// The host's tokio runtime: callbacks are polled inside it.
    pub(crate) handle: tokio::runtime::Handle,
}

/// The pool's settings the thread was given with `init`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Config {
    #[serde(default)]
    pub(super) modules: HashMap<String, RegisteredModule>,
    #[serde(default = "default_cache")]
    pub(super) script_cache_size: usize,
    #[serde(default)]
    pub(super) max_message_bytes: usize,
    #[serde(default)]
    pub(super) spare_contexts: usize,
    #[serde(default)]
    pub(super) callbacks: Vec<CallbackPathIn>,
    /// Frames of the script's stack a callback call keeps.
    #[serde(default = "one_frame")]
    pub(super) call_site_frames: u32,
    #[serde(default)]
    pub(super) isolation: String,
    pub(super) sandbox: SandboxIn,
    #[serde(default)]
    pub(super) preloads: Vec<PreloadIn>,
}

fn default_cache() -> usize {
    256
}

fn one_frame() -> u32 {
    1
}

#[derive(Debug, Deserialize)]
pub(super) struct RegisteredModule {
    pub(super) code: String,
}

/// A callback as `init` names it (its wire name and place on `host`).
#[derive(Debug, Deserialize, serde::Serialize)]
pub(super) struct CallbackPathIn {
    pub(super) name: String,
    pub(super) path: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SandboxIn {
    #[serde(default)]
    pub(super) fetch_allow: Vec<String>,
    #[serde(default)]
    pub(super) max_console_bytes: usize,
}

#[derive(Debug, Deserialize)]
pub(super) struct PreloadIn {
    pub(super) name: String,
    pub(super) specifier: String,
}

/// Counters for `stats`.
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) script_compiles: u64,
    pub(super) script_hits: u64,
    pub(super) module_compiles: u64,
    pub(super) module_cache_hits: u64,
}

/// Everything the engine thread keeps, reachable from host functions
/// through [`state`].
pub(super) struct State {
    pub(super) shared: Arc<Shared>,
    pub(super) registry: Arc<Registry>,
    pub(super) sink: Arc<dyn EventSink>,
    pub(super) config: RefCell<Config>,
    pub(super) helper: Helper,
    /// Live realms by context pointer.
    pub(super) realms: RefCell<HashMap<usize, Rc<Realm>>>,
    pub(super) sessions: RefCell<HashMap<u64, Rc<Realm>>>,
    /// The one context of plain runs under `Isolation::Worker`.
    pub(super) shared_realm: RefCell<Option<Rc<Realm>>>,
    pub(super) spares: RefCell<VecDeque<Rc<Realm>>>,
    /// Modules loaded by handle: their realm and namespace.
    pub(super) modules: RefCell<HashMap<u64, run::LoadedModule>>,
    /// The scripts run here, by key: what a run sent by key alone runs.
    pub(super) scripts: RefCell<lru::LruCache<String, super::scripts::KnownScript>>,
    pub(super) runs: RefCell<HashMap<u64, Run>>,
    pub(super) timers: RefCell<Timers>,
    pub(super) calls: RefCell<HashMap<u64, HostCall>>,
    /// Signals of runs that ended early, to abort outside any realm's lock.
    pub(super) aborts: RefCell<Vec<run::Abort>>,
    /// The run whose code runs now, when the engine knows it.
    pub(super) current: Cell<Option<u64>>,
    /// When the synchronous slice running now must stop.
    pub(super) slice_deadline: Cell<Option<Instant>>,
    pub(super) next_id: Cell<u64>,
    pub(super) counters: RefCell<Counters>,
    pub(super) memory_mb: u64,
    /// What the runtime's allocator counts.
    pub(super) budget: Rc<Budget>,
    pub(super) started: Instant,
    /// A collection is due (a run that met the memory bound ended).
    pub(super) collect: Cell<bool>,
    stopping: Cell<bool>,
}

thread_local! {
    static STATE: RefCell<Option<Rc<State>>> = const { RefCell::new(None) };
}

/// The engine thread's state (host functions reach it through this).
pub(super) fn state() -> Rc<State> {
    STATE.with(|s| s.borrow().clone().expect("called on an engine thread"))
}

/// The engine thread's state, if this is an engine thread still running.
pub(super) fn try_state() -> Option<Rc<State>> {
    STATE.try_with(|s| s.borrow().clone()).ok().flatten()
}

impl State {
    pub(super) fn fresh_id(&self) -> u64 {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        id
    }

    /// The realm a host function was called from.
    pub(super) fn realm_of(&self, ctx: &rquickjs::Ctx<'_>) -> Option<Rc<Realm>> {
        let key = ctx.as_raw().as_ptr() as usize;
        self.realms.borrow().get(&key).cloned()
    }

    /// The run code in `realm` belongs to: the one running now if it is
    /// this realm's, else the latest run in flight there.
    pub(super) fn run_in(&self, realm: &Realm) -> Option<u64> {
        if let Some(current) = self.current.get() {
            if realm.runs.borrow().contains(&current) {
                return Some(current);
            }
        }
        realm.runs.borrow().last().copied()
    }

    /// Marks that code of `run` (if known) is about to run: the interrupt
    /// handler stops it past the earliest deadline of the runs in flight.
    pub(super) fn enter(&self, run: Option<u64>) -> Entered<'_> {
        let before = self.current.replace(run);
        let deadline = self.runs.borrow().values().map(|r| r.deadline).min();
        self.slice_deadline.set(deadline);
        Entered {
            state: self,
            before,
        }
    }

    pub(super) fn callback_paths(&self) -> String {
        serde_json::to_string(&self.config.borrow().callbacks).unwrap_or_else(|_| "[]".into())
    }

    pub(super) fn call_site_frames(&self) -> u32 {
        self.config.borrow().call_site_frames
    }

    pub(super) fn max_message_bytes(&self) -> usize {
        self.config.borrow().max_message_bytes.max(1024)
    }
}

/// Restores what ran before when dropped.
pub(super) struct Entered<'a> {
    state: &'a State,
    before: Option<u64>,
}

impl Drop for Entered<'_> {
    fn drop(&mut self) {
        self.state.current.set(self.before);
        if self.before.is_none() {
            self.state.slice_deadline.set(None);
        }
    }
}

/// The engine thread's body: serves until told to end, and says how it
/// ended on `ended`. A panic ends the thread, never the host; the runtime
/// of a thread that panicked is leaked rather than freed half-way.
pub(super) fn thread_main(
    settings: Settings,
    tid: oneshot::Sender<u32>,
    ended: oneshot::Sender<String>,
) {
    // SAFETY: gettid has no preconditions.
    let own = unsafe { libc::gettid() } as u32;
    settings.shared.attach();
    let _ = tid.send(own);
    let _runtime = settings.handle.enter();
    let mut engine = std::mem::ManuallyDrop::new(None::<Engine>);
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
        *engine = Some(Engine::new(&settings)?);
        Ok::<_, String>(engine.as_ref().map(Engine::serve).unwrap_or_default())
    }));
    let how = match outcome {
        Ok(Ok(how)) => {
            if let Some(engine) = std::mem::ManuallyDrop::into_inner(engine) {
                engine.close();
            }
            how
        }
        Ok(Err(why)) => why,
        Err(panic) => {
            let what = super::super::answer::panic_message(&*panic);
            tracing::error!(panic = %what, "the engine thread panicked");
            format!("the engine thread panicked: {what}")
        }
    };
    let _ = ended.send(how);
}

struct Engine {
    st: Rc<State>,
    rt: Runtime,
}

impl Engine {
    fn new(settings: &Settings) -> Result<Engine, String> {
        let budget = Rc::new(Budget::default());
        let limit =
            usize::try_from(settings.memory_mb.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX);
        let rt = Runtime::new_with_alloc(Bounded::new(budget.clone(), limit))
            .map_err(|e| format!("cannot create a QuickJS runtime: {e}"))?;
        // The thread has 16 MiB of native stack; QuickJS stops well short.
        rt.set_max_stack_size(8 * 1024 * 1024);
        rt.set_loader(super::realm::Resolver, super::realm::Loader);
        let helper = Helper::new(&rt).map_err(|e| format!("cannot set up the engine: {e}"))?;
        let shared = settings.shared.clone();
        let sink: Arc<dyn EventSink> = shared.clone();
        let st = Rc::new(State {
            shared: shared.clone(),
            registry: settings.registry.clone(),
            sink,
            config: RefCell::new(Config::default()),
            helper,
            realms: RefCell::new(HashMap::new()),
            sessions: RefCell::new(HashMap::new()),
            shared_realm: RefCell::new(None),
            spares: RefCell::new(VecDeque::new()),
            modules: RefCell::new(HashMap::new()),
            scripts: RefCell::new(lru::LruCache::new(NonZeroUsize::new(256).unwrap())),
            runs: RefCell::new(HashMap::new()),
            timers: RefCell::new(Timers::default()),
            calls: RefCell::new(HashMap::new()),
            aborts: RefCell::new(Vec::new()),
            current: Cell::new(None),
            slice_deadline: Cell::new(None),
            next_id: Cell::new(1),
            counters: RefCell::new(Counters::default()),
            memory_mb: settings.memory_mb,
            budget,
            started: Instant::now(),
            collect: Cell::new(false),
            stopping: Cell::new(false),
        });
        STATE.with(|s| *s.borrow_mut() = Some(st.clone()));
        let handler_state = Rc::downgrade(&st);
        rt.set_interrupt_handler(Some(Box::new(move || {
            let Some(st) = handler_state.upgrade() else {
                return true;
            };
            if st.slice_deadline.get().is_some_and(|d| Instant::now() >= d) {
                return true;
            }
            if st.shared.needs_attention() {
                if st.shared.is_killed() {
                    return true;
                }
                if let Some(run) = st.current.get() {
                    return st.shared.is_cancelled(run);
                }
            }
            false
        })));
        Ok(Engine { st, rt })
    }

    /// The loop. Returns how it ended.
    fn serve(&self) -> String {
        let st = &self.st;
        loop {
            st.shared.heard();
            if st.shared.is_killed() {
                return "ended on request".into();
            }
            let mut busy = false;
            for (command, start_by) in st.shared.take_commands() {
                busy = true;
                self.handle(command, start_by);
                // A run ended by this command has its signal aborted before
                // the next command runs.
                run::abort_signals(st);
                if st.collect.replace(false) {
                    self.rt.run_gc();
                }
                if st.stopping.get() {
                    return "shut down".into();
                }
            }
            if st.shared.needs_attention() {
                for id in st.shared.take_cancelled() {
                    run::end(st, id, Err(cancelled()));
                }
            }
            busy |= super::host_calls::poll_woken(st);
            busy |= super::world::fire_timers(st);
            busy |= self.run_jobs();
            run::settle(st);
            run::expire(st);
            busy |= run::abort_signals(st);
            if st.collect.replace(false) {
                self.rt.run_gc();
            }
            if busy || st.shared.has_commands() || st.shared.has_woken() || self.rt.is_job_pending()
            {
                continue;
            }
            if super::realm::prepare_spare(st, &self.rt) {
                continue;
            }
            let wait = st
                .timers
                .borrow()
                .next_due()
                .into_iter()
                .chain(st.runs.borrow().values().map(|r| r.deadline))
                .min()
                .map(|due| due.saturating_duration_since(Instant::now()))
                .unwrap_or(Duration::from_secs(1));
            st.shared.set_memory(st.budget.used.get() as u64);
            if !wait.is_zero() {
                st.shared.set_parked(true);
                if !st.shared.has_commands() && !st.shared.has_woken() {
                    std::thread::park_timeout(wait);
                }
                st.shared.set_parked(false);
            }
        }
    }

    /// Runs QuickJS's pending jobs (promise reactions) until there are none.
    fn run_jobs(&self) -> bool {
        let st = &self.st;
        let mut ran = false;
        loop {
            let _entered = st.enter(None);
            match self.rt.execute_pending_job() {
                Ok(true) => ran = true,
                Ok(false) => return ran,
                Err(exception) => {
                    ran = true;
                    let ctx = exception.0;
                    run::job_failed(st, &ctx);
                }
            }
        }
    }

    fn handle(&self, command: Command, start_by: Option<u64>) {
        let st = &self.st;
        match command {
            Command::Request {
                id,
                method,
                params,
                attachment,
                frames,
            } => {
                if start_by.is_some_and(|by| super::super::monotonic_micros() > by) {
                    st.shared.done(
                        id,
                        Err(RpcError {
                            code: codes::NOT_STARTED,
                            message: "the request was read after its start deadline".into(),
                            data: None,
                        }),
                    );
                    return;
                }
                let answer = std::panic::catch_unwind(AssertUnwindSafe(|| {
                    run::request(st, &self.rt, id, method, &params, attachment, &frames)
                }));
                if let Err(panic) = answer {
                    // The request is answered; the thread ends with the panic.
                    st.shared
                        .done(id, Err(internal("the engine thread panicked")));
                    std::panic::resume_unwind(panic);
                }
            }
            Command::Notify { method, params } => {
                run::notification(st, method, &params);
                if method == "shutdown" {
                    st.stopping.set(true);
                }
            }
        }
    }

    /// Frees everything in order: values and contexts, then the runtime.
    fn close(self) {
        let st = &self.st;
        st.calls.borrow_mut().clear();
        st.aborts.borrow_mut().clear();
        *st.timers.borrow_mut() = Timers::default();
        st.runs.borrow_mut().clear();
        st.modules.borrow_mut().clear();
        st.spares.borrow_mut().clear();
        st.sessions.borrow_mut().clear();
        st.shared_realm.borrow_mut().take();
        st.realms.borrow_mut().clear();
        st.scripts.borrow_mut().clear();
        STATE.with(|s| s.borrow_mut().take());
        self.rt.set_interrupt_handler(None);
        let Engine { st, rt } = self;
        drop(st);
        rt.run_gc();
        drop(rt);
    }
}

/// The error of a run cancelled by the host.
pub(super) fn cancelled() -> RpcError {
    RpcError {
        code: codes::CANCELLED,
        message: "the run was cancelled".into(),
        data: None,
    }
}

/// An error answer with `code`.
pub(super) fn error(code: i64, message: impl Into<String>) -> RpcError {
    RpcError {
        code,
        message: message.into(),
        data: None,
    }
}

/// An error of the engine itself.
pub(super) fn internal(message: &str) -> RpcError {
    RpcError {
        code: codes::INTERNAL_ERROR,
        message: message.into(),
        data: None,
    }
}
