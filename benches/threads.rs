//! Threads or processes (BENCHMARKS.md, "Threads or processes"): the worker
//! runtime in N `worker_threads` of one Node.js process, a channel each
//! (`threads/launcher.mjs`), against N processes, side by side in one run.
//!
//! One small client drives both topologies, balancing runs across the
//! channels by least work in flight as the pool's dispatcher does, so the
//! topology is all that differs; the pool itself runs beside them as the
//! reference for what that client measures. The engine's command line, its
//! environment, the runtime program and `init` are the pool's own, read
//! from a pool started on a recorder in place of `node`.
//!
//! Run it with `cargo bench --bench threads` (`--quick`: fewer iterations).

use std::collections::HashMap;
use std::ffi::OsString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use outrigger::protocol::codes;
use outrigger::{Isolation, Pool, Sandbox};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::sync::{mpsc, oneshot};

const LAUNCHER: &str = include_str!("threads/launcher.mjs");

/// How many iterations each row runs.
struct Plan {
    sequential: usize,
    throughput: usize,
    startups: usize,
    rounds: usize,
}

impl Plan {
    fn full() -> Self {
        Plan {
            sequential: 2_000,
            throughput: 20_000,
            startups: 10,
            rounds: 5,
        }
    }

    fn quick() -> Self {
        Plan {
            sequential: 200,
            throughput: 2_000,
            startups: 2,
            rounds: 2,
        }
    }
}

// ---------------------------------------------------------------------------
// What the pool starts a worker with, recorded.

/// The pool's way of starting a Node.js worker: its arguments, environment,
/// runtime program and `init` message.
#[derive(Clone)]
struct Recorded {
    node: PathBuf,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    program: String,
    init: Value,
}

impl Recorded {
    /// Each isolate's old-space limit, as the command line sets it.
    fn heap_mb(&self) -> u64 {
        self.args
            .iter()
            .filter_map(|arg| {
                arg.to_str()?
                    .strip_prefix("--max-old-space-size=")?
                    .parse()
                    .ok()
            })
            .next_back()
            .unwrap_or(0)
    }
}

/// Starts a one-worker pool from `builder` on a recorder that keeps what
/// the pool gave it (and then exits, so the pool's start fails).
async fn record(builder: outrigger::PoolBuilder, dir: &Path) -> Recorded {
    let node = which("node");
    std::fs::create_dir_all(dir).unwrap();
    let recorder = dir.join("node");
    let out = dir.display();
    std::fs::write(
        &recorder,
        format!(
            "#!/bin/sh\n\
             if [ \"$1\" = --version ]; then exec {node} --version; fi\n\
             printf '%s\\0' \"$@\" > {out}/args\n\
             cat /proc/$$/environ > {out}/env\n\
             cat > {out}/program.mjs\n\
             head -n 1 <&3 > {out}/init.json\n\
             exit 1\n",
            node = node.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&recorder, std::fs::Permissions::from_mode(0o755)).unwrap();
    let started = builder
        .workers(1)
        .engine_path(&recorder)
        .startup_timeout(Duration::from_secs(5))
        .build()
        .await;
    assert!(started.is_err(), "the recorder cannot serve");
    let split = |bytes: Vec<u8>| -> Vec<OsString> {
        bytes
            .split(|b| *b == 0)
            .filter(|part| !part.is_empty())
            .map(|part| OsString::from_vec(part.to_vec()))
            .collect()
    };
    let args = split(std::fs::read(dir.join("args")).unwrap());
    let env = split(std::fs::read(dir.join("env")).unwrap())
        .into_iter()
        .filter_map(|pair| {
            let pair = pair.into_vec();
            let eq = pair.iter().position(|b| *b == b'=')?;
            Some((
                OsString::from_vec(pair[..eq].to_vec()),
                OsString::from_vec(pair[eq + 1..].to_vec()),
            ))
        })
        .collect();
    let program = std::fs::read_to_string(dir.join("program.mjs")).unwrap();
    let init = serde_json::from_str(&std::fs::read_to_string(dir.join("init.json")).unwrap())
        .expect("the pool sent init");
    Recorded {
        node,
        args,
        env,
        program,
        init,
    }
}

fn which(program: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| panic!("{program} is not on PATH"))
}

// ---------------------------------------------------------------------------
// Starting workers in either topology.

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Topology {
    /// One process per worker, as the pool runs them.
    Processes,
    /// One process, one worker thread per worker.
    Threads,
}

impl Topology {
    fn name(self) -> &'static str {
        match self {
            Topology::Processes => "processes",
            Topology::Threads => "threads",
        }
    }
}

/// Workers started in one topology, with their channels.
struct Group {
    children: Vec<tokio::process::Child>,
    client: Arc<Client>,
}

impl Group {
    /// Starts `workers` workers and waits for each to answer `init`.
    async fn start(topology: Topology, workers: usize, recorded: &Recorded) -> Group {
        let mut hosts = Vec::new();
        let mut ends = Vec::new();
        for _ in 0..workers {
            let (host, worker) = std::os::unix::net::UnixStream::pair().unwrap();
            host.set_nonblocking(true).unwrap();
            hosts.push(UnixStream::from_std(host).unwrap());
            ends.push(high_fd(worker.as_raw_fd()));
        }
        // Both topologies run the same program with the same flags.
        let mut args: Vec<OsString> = vec!["--expose-gc".into()];
        let program = runtime_with_gc(&recorded.program);
        let children = match topology {
            Topology::Processes => {
                args.extend(recorded.args.iter().cloned());
                ends.iter()
                    .map(|end| spawn(recorded, &args, &program, &[end.as_raw_fd()]))
                    .collect()
            }
            Topology::Threads => {
                // Starting worker threads under the permission model needs
                // `--allow-worker`, for the whole process.
                for arg in &recorded.args {
                    args.push(arg.clone());
                    if arg == "--permission" || arg == "--experimental-permission" {
                        args.push("--allow-worker".into());
                    }
                }
                let launcher = format!(
                    "const RUNTIME = {};\nconst WORKERS = {workers};\nconst HEAP_MB = {};\n{LAUNCHER}",
                    serde_json::to_string(&program).unwrap(),
                    recorded.heap_mb()
                );
                let fds: Vec<RawFd> = ends.iter().map(AsRawFd::as_raw_fd).collect();
                vec![spawn(recorded, &args, &launcher, &fds)]
            }
        };
        drop(ends);
        let client = Arc::new(Client::new(hosts));
        for channel in &client.channels {
            let mut init = recorded.init.clone();
            init["id"] = client.next_id().into();
            init["params"]["clock"] = monotonic_micros().into();
            let answer = channel.ask(init).await;
            assert!(
                matches!(answer, Answer::Result(_)),
                "init failed: {answer:?}"
            );
        }
        Group { children, client }
    }

    fn pids(&self) -> Vec<u32> {
        self.children.iter().filter_map(|c| c.id()).collect()
    }

    /// How many of its processes are still running.
    fn processes_alive(&mut self) -> usize {
        self.children
            .iter_mut()
            .map(|c| c.try_wait())
            .filter(|status| matches!(status, Ok(None)))
            .count()
    }
}

/// The runtime as both topologies run it. The runtime takes the engine's
/// collector by turning `--expose-gc` on and off around one new context, a
/// flag of the whole process: threads starting together race on it. So the
/// engine starts with the flag on and the runtime leaves it on, in both
/// topologies alike: every context then has a `gc`, which lets the bench
/// collect each worker's garbage before it reads memory.
fn runtime_with_gc(program: &str) -> String {
    let toggle = "v8.setFlagsFromString('--no-expose-gc')";
    assert!(
        program.contains(toggle),
        "the runtime no longer turns --expose-gc off"
    );
    program.replace(toggle, "undefined")
}

/// Starts `node` with `program` on its stdin and `fds` as its fd 3 onwards.
fn spawn(
    recorded: &Recorded,
    args: &[OsString],
    program: &str,
    fds: &[RawFd],
) -> tokio::process::Child {
    let mut command = tokio::process::Command::new(&recorded.node);
    command
        .args(args)
        .env_clear()
        .envs(recorded.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(if std::env::var_os("THREADS_BENCH_STDERR").is_some() {
            Stdio::inherit()
        } else {
            Stdio::null()
        })
        .kill_on_drop(true);
    let fds = fds.to_vec();
    // SAFETY: between fork and exec the closure only calls dup2, which is
    // async-signal-safe; every source is 10 or above and every target below
    // 10, so no source is overwritten before it is copied, and dup2 leaves
    // the copy without close-on-exec.
    unsafe {
        command.pre_exec(move || {
            for (i, fd) in fds.iter().enumerate() {
                if libc::dup2(*fd, 3 + i as i32) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let mut child = command.spawn().expect("node starts");
    let mut stdin = child.stdin.take().unwrap();
    let program = program.to_owned();
    tokio::spawn(async move {
        let _ = stdin.write_all(program.as_bytes()).await;
    });
    child
}

/// A close-on-exec copy of `fd` numbered 10 or above.
fn high_fd(fd: RawFd) -> OwnedFd {
    // SAFETY: F_DUPFD_CLOEXEC returns a new descriptor owned by nobody else.
    let new = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 10) };
    assert!(new >= 0, "{}", std::io::Error::last_os_error());
    // SAFETY: `new` was just created and is owned here.
    unsafe { OwnedFd::from_raw_fd(new) }
}

fn monotonic_micros() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid out-parameter.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    now.tv_sec as u64 * 1_000_000 + now.tv_nsec as u64 / 1_000
}

// ---------------------------------------------------------------------------
// The client: one channel per worker, least work in flight first.

#[derive(Debug)]
enum Answer {
    Result(#[allow(dead_code)] Value),
    Error(#[allow(dead_code)] Value),
    /// The channel closed before the answer came.
    Lost,
}

struct Channel {
    outbox: mpsc::UnboundedSender<String>,
    pending: Mutex<HashMap<u64, oneshot::Sender<Answer>>>,
    in_flight: AtomicUsize,
    open: AtomicBool,
    /// The keys of scripts this worker has been sent the code of.
    compiled: Mutex<Vec<String>>,
}

impl Channel {
    fn new(stream: UnixStream) -> Arc<Channel> {
        let (read, mut write) = stream.into_split();
        let (outbox, mut queue) = mpsc::unbounded_channel::<String>();
        let channel = Arc::new(Channel {
            outbox,
            pending: Mutex::new(HashMap::new()),
            in_flight: AtomicUsize::new(0),
            open: AtomicBool::new(true),
            compiled: Mutex::new(Vec::new()),
        });
        // What is queued goes out together, as the pool's outbox sends it.
        tokio::spawn(async move {
            while let Some(first) = queue.recv().await {
                let mut data = first;
                data.push('\n');
                while let Ok(more) = queue.try_recv() {
                    data.push_str(&more);
                    data.push('\n');
                }
                if write.write_all(data.as_bytes()).await.is_err() {
                    return;
                }
            }
        });
        let reader = channel.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(read).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let Ok(message) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                if message.get("method").is_some() {
                    continue;
                }
                let Some(id) = message.get("id").and_then(Value::as_u64) else {
                    continue;
                };
                let waiting = reader.pending.lock().unwrap().remove(&id);
                if let Some(waiting) = waiting {
                    let answer = match message.get("result") {
                        Some(result) => Answer::Result(result.clone()),
                        None => Answer::Error(message["error"].clone()),
                    };
                    let _ = waiting.send(answer);
                }
            }
            reader.open.store(false, Ordering::SeqCst);
            reader.pending.lock().unwrap().clear();
        });
        channel
    }

    /// Sends a request (with its id) and waits for its answer.
    async fn ask(&self, request: Value) -> Answer {
        let id = request["id"].as_u64().unwrap();
        let (tx, rx) = oneshot::channel();
        self.pending.lock().unwrap().insert(id, tx);
        if !self.open.load(Ordering::SeqCst) {
            self.pending.lock().unwrap().remove(&id);
            return Answer::Lost;
        }
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        let _ = self.outbox.send(request.to_string());
        let answer = rx.await.unwrap_or(Answer::Lost);
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        answer
    }
}

struct Client {
    channels: Vec<Arc<Channel>>,
    ids: AtomicU64,
}

impl Client {
    fn new(streams: Vec<UnixStream>) -> Client {
        Client {
            channels: streams.into_iter().map(Channel::new).collect(),
            ids: AtomicU64::new(1),
        }
    }

    fn next_id(&self) -> u64 {
        self.ids.fetch_add(1, Ordering::Relaxed)
    }

    /// The open channel with the least in flight (the first of equals).
    fn pick(&self) -> Option<&Arc<Channel>> {
        self.channels
            .iter()
            .filter(|c| c.open.load(Ordering::SeqCst))
            .min_by_key(|c| c.in_flight.load(Ordering::SeqCst))
    }

    /// Runs an expression on the least busy worker.
    async fn eval(&self, code: &str) -> Answer {
        match self.pick() {
            Some(channel) => self.run_on(channel, "expression", code).await,
            None => Answer::Lost,
        }
    }

    /// Runs a script on `channel`, by key alone once the worker has been
    /// sent its code; with its code again when the worker does not hold it
    /// (yet), as the pool does.
    async fn run_on(&self, channel: &Channel, kind: &str, code: &str) -> Answer {
        let key = format!("{:016x}", fxhash(kind, code));
        let sent = {
            let mut compiled = channel.compiled.lock().unwrap();
            let sent = compiled.contains(&key);
            if !sent {
                compiled.push(key.clone());
            }
            sent
        };
        let answer = self
            .send_run(channel, kind, &key, (!sent).then_some(code))
            .await;
        match answer {
            Answer::Error(ref error) if error["code"] == codes::UNKNOWN_SCRIPT => {
                self.send_run(channel, kind, &key, Some(code)).await
            }
            answer => answer,
        }
    }

    async fn send_run(
        &self,
        channel: &Channel,
        kind: &str,
        key: &str,
        code: Option<&str>,
    ) -> Answer {
        let mut params = serde_json::json!({
            "kind": kind,
            "name": "bench",
            "key": key,
            "timeout": 30_000,
            "maxCallbacks": 10_000,
        });
        if let Some(code) = code {
            params["code"] = code.into();
        }
        let request = serde_json::json!({
            "jsonrpc": "2.0",
            "id": self.next_id(),
            "method": "run",
            "params": params,
        });
        channel.ask(request).await
    }

    fn open_channels(&self) -> usize {
        self.channels
            .iter()
            .filter(|c| c.open.load(Ordering::SeqCst))
            .count()
    }
}

fn fxhash(kind: &str, code: &str) -> u64 {
    kind.bytes()
        .chain([0])
        .chain(code.bytes())
        .fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        })
}

// ---------------------------------------------------------------------------
// Subjects: either topology through the client, or the pool itself.

enum Subject {
    Group(Group),
    Pool(Pool),
}

impl Subject {
    async fn eval(&self, code: &str) {
        match self {
            Subject::Group(group) => {
                let answer = group.client.eval(code).await;
                assert!(matches!(answer, Answer::Result(_)), "{answer:?}");
            }
            Subject::Pool(pool) => {
                let _: Value = pool.eval(code).await.unwrap();
            }
        }
    }

    /// A full collection in every worker (the pool's workers have no `gc`).
    async fn collect_garbage(&self) {
        if let Subject::Group(group) = self {
            for channel in &group.client.channels {
                let answer = group.client.run_on(channel, "expression", "gc()").await;
                assert!(matches!(answer, Answer::Result(_)), "{answer:?}");
            }
        }
    }

    fn pids(&self) -> Vec<u32> {
        match self {
            Subject::Group(group) => group.pids(),
            Subject::Pool(pool) => pool.worker_pids(),
        }
    }
}

fn pool_builder(isolation: Isolation) -> outrigger::PoolBuilder {
    Pool::builder().isolation(isolation)
}

async fn start_subject(
    which: usize,
    workers: usize,
    isolation: Isolation,
    recorded: &Recorded,
) -> Subject {
    match which {
        0 => Subject::Group(Group::start(Topology::Processes, workers, recorded).await),
        1 => Subject::Group(Group::start(Topology::Threads, workers, recorded).await),
        _ => Subject::Pool(
            pool_builder(isolation)
                .workers(workers)
                .build()
                .await
                .unwrap(),
        ),
    }
}

const SUBJECTS: usize = 3;

// ---------------------------------------------------------------------------
// Memory, from /proc.

#[derive(Default, Clone, Copy)]
struct Memory {
    rss: u64,
    pss: u64,
    private: u64,
}

fn memory_of(pids: &[u32]) -> Memory {
    let mut total = Memory::default();
    for pid in pids {
        let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
        for line in text.lines() {
            let mut parts = line.split_whitespace();
            let (Some(name), Some(kb)) = (parts.next(), parts.next()) else {
                continue;
            };
            let bytes = kb.parse::<u64>().unwrap_or(0) * 1024;
            match name {
                "Rss:" => total.rss += bytes,
                "Pss:" => total.pss += bytes,
                "Private_Clean:" | "Private_Dirty:" => total.private += bytes,
                _ => {}
            }
        }
    }
    total
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() - 1) as f64 * p).round() as usize]
}

fn micros(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

// ---------------------------------------------------------------------------
// The measurements.

/// One row of the table: a subject at a size.
#[derive(Default)]
struct Row {
    startup: Vec<Duration>,
    memory: Memory,
    shared_p50: Duration,
    fresh_p50: Duration,
    shared_rate: f64,
    fresh_rate: f64,
}

/// Time from nothing to the first result, alternating subjects.
async fn measure_startup(
    workers: usize,
    recorded: &Recorded,
    plan: &Plan,
    rows: &mut [Row; SUBJECTS],
) {
    for _ in 0..plan.startups {
        for (which, row) in rows.iter_mut().enumerate() {
            let started = Instant::now();
            let subject = start_subject(which, workers, Isolation::Run, recorded).await;
            subject.eval("2 + 2").await;
            row.startup.push(started.elapsed());
            drop(subject);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Sequential p50 and throughput at concurrency 64 for one isolation,
/// rounds alternating between subjects; memory once warm (fresh contexts).
async fn measure_runs(
    workers: usize,
    isolation: Isolation,
    recorded: &Recorded,
    plan: &Plan,
    rows: &mut [Row; SUBJECTS],
) {
    let mut subjects = Vec::new();
    for which in 0..SUBJECTS {
        let subject = start_subject(which, workers, isolation, recorded).await;
        for _ in 0..100 * workers {
            subject.eval("2 + 2").await;
        }
        subjects.push(Arc::new(subject));
    }
    if isolation == Isolation::Run {
        for subject in &subjects {
            subject.collect_garbage().await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        for (subject, row) in subjects.iter().zip(rows.iter_mut()) {
            row.memory = memory_of(&subject.pids());
        }
    }
    let mut sequential: Vec<Vec<Duration>> = vec![Vec::new(); SUBJECTS];
    let mut rate: Vec<(usize, Duration)> = vec![(0, Duration::ZERO); SUBJECTS];
    for _ in 0..plan.rounds {
        for (which, subject) in subjects.iter().enumerate() {
            for _ in 0..plan.sequential / plan.rounds {
                let started = Instant::now();
                subject.eval("2 + 2").await;
                sequential[which].push(started.elapsed());
            }
        }
        for (which, subject) in subjects.iter().enumerate() {
            let total = plan.throughput / plan.rounds;
            let next = Arc::new(AtomicUsize::new(0));
            let started = Instant::now();
            let tasks: Vec<_> = (0..64)
                .map(|_| {
                    let (subject, next) = (subject.clone(), next.clone());
                    tokio::spawn(async move {
                        while next.fetch_add(1, Ordering::Relaxed) < total {
                            subject.eval("2 + 2").await;
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await.unwrap();
            }
            rate[which].0 += total;
            rate[which].1 += started.elapsed();
        }
    }
    for (which, row) in rows.iter_mut().enumerate() {
        let p50 = percentile(&mut sequential[which], 0.5);
        let per_second = rate[which].0 as f64 / rate[which].1.as_secs_f64();
        match isolation {
            Isolation::Worker => {
                row.shared_p50 = p50;
                row.shared_rate = per_second;
            }
            _ => {
                row.fresh_p50 = p50;
                row.fresh_rate = per_second;
            }
        }
    }
}

/// A crash of one worker while every worker has runs in flight.
#[derive(Clone, Copy)]
enum Crash {
    Exit,
    Abort,
    OutOfMemory,
}

impl Crash {
    fn name(self) -> &'static str {
        match self {
            Crash::Exit => "`process.exit(1)`",
            Crash::Abort => "a native abort (SIGABRT)",
            Crash::OutOfMemory => "heap out of memory (64 MiB limit)",
        }
    }

    fn module(self) -> &'static str {
        match self {
            Crash::Exit => "import process from 'node:process';\nprocess.exit(1);\n",
            // What a fatal error in native code does; `process.abort()`
            // itself is not offered to worker threads.
            Crash::Abort => "import process from 'node:process';\nprocess.kill(process.pid, 'SIGABRT');\nawait new Promise(() => {});\n",
            Crash::OutOfMemory => "const kept = [];\nfor (;;) kept.push(new Array(1000).fill(Math.random()));\n",
        }
    }
}

/// What one crash took: (other runs lost, workers lost, processes ended).
async fn crash(topology: Topology, kind: Crash, recorded: &Recorded) -> (usize, usize, usize) {
    const WORKERS: usize = 4;
    const IN_FLIGHT: usize = 8;
    let mut group = Group::start(topology, WORKERS, recorded).await;
    let mut runs = tokio::task::JoinSet::new();
    for worker in 0..WORKERS {
        for _ in 0..IN_FLIGHT {
            let client = group.client.clone();
            runs.spawn(async move {
                let waiting = "new Promise((resolve) => setTimeout(() => resolve(1), 2000))";
                client
                    .run_on(&client.channels[worker], "expression", waiting)
                    .await
            });
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let crashed = group
        .client
        .run_on(&group.client.channels[0], "module", kind.module())
        .await;
    assert!(
        !matches!(crashed, Answer::Result(_)),
        "the crash did not happen: {crashed:?}"
    );
    let mut lost = 0;
    while let Some(answer) = runs.join_next().await {
        if !matches!(answer.unwrap(), Answer::Result(_)) {
            lost += 1;
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let workers_lost = WORKERS - group.client.open_channels();
    let processes = group.children.len();
    let ended = processes - group.processes_alive();
    (lost, workers_lost, ended)
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let plan = if quick { Plan::quick() } else { Plan::full() };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(report(plan));
}

async fn report(plan: Plan) {
    let dir = std::env::temp_dir().join(format!("outrigger-threads-{}", std::process::id()));
    let fresh = record(pool_builder(Isolation::Run), &dir.join("fresh")).await;
    let shared = record(pool_builder(Isolation::Worker), &dir.join("shared")).await;
    let crashing = record(
        pool_builder(Isolation::Run)
            .allow_builtin("node:process")
            .sandbox(Sandbox::default().max_heap_mb(64)),
        &dir.join("crash"),
    )
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    let version = std::process::Command::new(&fresh.node)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let env: Vec<_> = fresh.env.iter().map(|(name, _)| name).collect();
    println!(
        "Node.js {version}; the workers' command line: {:?}; their environment: {env:?}\n",
        fresh.args
    );

    let mut table = Vec::new();
    for workers in [2, 4] {
        let mut rows: [Row; SUBJECTS] = Default::default();
        measure_startup(workers, &fresh, &plan, &mut rows).await;
        measure_runs(workers, Isolation::Worker, &shared, &plan, &mut rows).await;
        measure_runs(workers, Isolation::Run, &fresh, &plan, &mut rows).await;
        table.push((workers, rows));
    }
    println!("| workers | topology | start-up to first result (p50) | RSS total | PSS total | private total | sequential p50 shared / fresh | runs/s at 64 shared / fresh |");
    println!("|---|---|---|---|---|---|---|---|");
    let names = ["processes", "threads", "pool (processes)"];
    for (workers, rows) in &mut table {
        for (which, row) in rows.iter_mut().enumerate() {
            println!(
                "| {workers} | {} | {:.1} ms | {:.1} MiB | {:.1} MiB | {:.1} MiB | {} / {} | {:.0} / {:.0} |",
                names[which],
                percentile(&mut row.startup, 0.5).as_secs_f64() * 1e3,
                mib(row.memory.rss),
                mib(row.memory.pss),
                mib(row.memory.private),
                micros(row.shared_p50),
                micros(row.fresh_p50),
                row.shared_rate,
                row.fresh_rate,
            );
        }
    }
    println!();
    println!("Each extra worker (4 workers against 2), PSS / private:");
    for (which, name) in names.iter().enumerate() {
        let (two, four) = (&table[0].1[which].memory, &table[1].1[which].memory);
        println!(
            "- {name}: {:.1} MiB / {:.1} MiB",
            mib(four.pss.saturating_sub(two.pss)) / 2.0,
            mib(four.private.saturating_sub(two.private)) / 2.0
        );
    }
    println!();
    println!("| one worker of 4 (8 runs in flight on each) | topology | other runs lost | workers lost | processes ended |");
    println!("|---|---|---|---|---|");
    for kind in [Crash::Exit, Crash::Abort, Crash::OutOfMemory] {
        for topology in [Topology::Processes, Topology::Threads] {
            let (lost, workers, ended) = crash(topology, kind, &crashing).await;
            let processes = match topology {
                Topology::Processes => 4,
                Topology::Threads => 1,
            };
            println!(
                "| {} | {} | {lost} of 32 | {workers} of 4 | {ended} of {processes} |",
                kind.name(),
                topology.name()
            );
        }
    }
}
