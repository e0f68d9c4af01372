//! Starting engine processes: finding the program, handing it its channel,
//! and making sure it cannot outlive the host.

use std::ffi::{CString, OsString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
#[cfg(not(target_os = "linux"))]
use std::process::Stdio;
use std::sync::{mpsc, Arc, Mutex, OnceLock};

use crate::error::{Error, Result};

/// The file descriptor the worker finds its channel on.
pub(crate) const CHANNEL_FD: i32 = 3;

/// Finds `program` the way a shell would: as a path when it has a slash,
/// otherwise in the host's `PATH`. `hint` says how to get one.
pub(crate) fn resolve_program(program: &Path, hint: &str) -> Result<PathBuf> {
    if program.components().count() > 1 {
        return if program.is_file() {
            Ok(program.to_path_buf())
        } else {
            Err(Error::Spawn {
                program: program.display().to_string(),
                message: "no such file".into(),
            })
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join(program);
        if is_executable(&candidate) {
            return Ok(candidate);
        }
    }
    Err(Error::Spawn {
        program: program.display().to_string(),
        message: format!("not found in PATH ({}); {hint}", path.to_string_lossy()),
    })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// How to start one engine process.
#[derive(Debug, Clone)]
pub(crate) struct EngineCommand {
    pub(crate) program: PathBuf,
    pub(crate) args: Vec<OsString>,
    pub(crate) env: Vec<(OsString, OsString)>,
    /// What the process reads on its stdin (the runtime's program: one
    /// command-line argument may hold at most 128 KiB), else nothing.
    pub(crate) stdin: Option<Arc<str>>,
}

struct SpawnRequest {
    command: EngineCommand,
    channel: OwnedFd,
    files: Option<OwnedFd>,
    runtime: tokio::runtime::Handle,
    reply: tokio::sync::oneshot::Sender<std::io::Result<Process>>,
}

/// Starts an engine with `channel` as its fd 3 (and `files`, the channel to
/// the host's file stores, as its fd 4 when there is one).
///
/// Every process is started from one long-lived thread, because on Linux the
/// parent-death signal the child asks for fires when the *thread* that
/// started it ends, and runtime threads come and go.
pub(crate) async fn spawn(
    command: EngineCommand,
    channel: OwnedFd,
    files: Option<OwnedFd>,
) -> Result<Process> {
    let (reply, answer) = tokio::sync::oneshot::channel();
    let program = command.program.display().to_string();
    let request = SpawnRequest {
        command,
        channel,
        files,
        runtime: tokio::runtime::Handle::current(),
        reply,
    };
    spawner().send(request).map_err(|_| Error::Spawn {
        program: program.clone(),
        message: "the spawner thread is gone".into(),
    })?;
    match answer.await {
        Ok(Ok(child)) => Ok(child),
        Ok(Err(e)) => Err(Error::Spawn {
            program,
            message: e.to_string(),
        }),
        Err(_) => Err(Error::Spawn {
            program,
            message: "the spawner thread dropped the request".into(),
        }),
    }
}

fn spawner() -> &'static mpsc::Sender<SpawnRequest> {
    static SPAWNER: OnceLock<mpsc::Sender<SpawnRequest>> = OnceLock::new();
    SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("outrigger-spawner".into())
            .spawn(move || {
                for request in rx {
                    let _guard = request.runtime.enter();
                    let files = request.files.as_ref().map(AsRawFd::as_raw_fd);
                    let result = start_child(&request.command, request.channel.as_raw_fd(), files)
                        .and_then(|(pid, stderr)| Process::watch(pid, stderr));
                    drop(request.channel);
                    drop(request.files);
                    let _ = request.reply.send(result);
                }
            })
            .expect("cannot start the outrigger spawner thread");
        tx
    })
}

/// A started engine process: its id, its stderr, and its exit. Dropping it
/// kills the process.
#[derive(Debug)]
pub(crate) struct Process {
    pid: u32,
    /// The read end of the process's stderr.
    pub(crate) stderr: Option<tokio::net::unix::pipe::Receiver>,
    exit: tokio::sync::oneshot::Receiver<std::io::Result<ExitStatus>>,
    status: Option<ExitStatus>,
    liveness: Liveness,
}

/// Whether a process may still be acted on by its pid: set to ended once it
/// has exited, before it is reaped. Until then its pid cannot name another
/// process, so signalling it, limiting it or reading its `/proc` entry is safe.
#[derive(Debug, Clone, Default)]
pub(crate) struct Liveness {
    exited: Arc<Mutex<bool>>,
}

impl Liveness {
    /// Runs `act` unless the process has exited; it cannot be reaped meanwhile.
    pub(crate) fn while_alive<T>(&self, act: impl FnOnce() -> T) -> Option<T> {
        let exited = self.exited.lock().unwrap_or_else(|e| e.into_inner());
        (!*exited).then(act)
    }
}

impl Process {
    /// Watches `pid` from a small thread of its own that waits for its exit.
    fn watch(pid: u32, stderr: OwnedFd) -> std::io::Result<Process> {
        let (tx, exit) = tokio::sync::oneshot::channel();
        let liveness = Liveness::default();
        let exited = liveness.exited.clone();
        let mut process = Process {
            pid,
            stderr: None,
            exit,
            status: None,
            liveness,
        };
        // From here on a failure drops `process`, which kills the child.
        process.stderr = Some(tokio::net::unix::pipe::Receiver::from_owned_fd(stderr)?);
        std::thread::Builder::new()
            .name("outrigger-reaper".into())
            .stack_size(64 * 1024)
            .spawn(move || {
                let _ = tx.send(wait_for(pid, &exited));
            })?;
        Ok(process)
    }

    pub(crate) fn id(&self) -> u32 {
        self.pid
    }

    /// A guard for acting on the process by its pid.
    pub(crate) fn liveness(&self) -> Liveness {
        self.liveness.clone()
    }

    /// Waits for the process to exit.
    pub(crate) async fn wait(&mut self) -> std::io::Result<ExitStatus> {
        if let Some(status) = self.status {
            return Ok(status);
        }
        let status = (&mut self.exit).await.unwrap_or_else(|_| {
            Err(std::io::Error::other(
                "the thread waiting for the process is gone",
            ))
        })?;
        self.status = Some(status);
        Ok(status)
    }

    /// Sends SIGKILL, unless the process has already exited.
    pub(crate) fn start_kill(&self) {
        self.liveness.while_alive(|| {
            // SAFETY: kill has no memory-safety preconditions; the pid is
            // still this process's (it has not been reaped).
            unsafe {
                libc::kill(self.pid as libc::pid_t, libc::SIGKILL);
            }
        });
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.start_kill();
    }
}

/// Blocks until `pid` exits, marks it exited, then reaps it.
fn wait_for(pid: u32, exited: &Mutex<bool>) -> std::io::Result<ExitStatus> {
    use std::os::unix::process::ExitStatusExt;
    let pid = pid as libc::pid_t;
    loop {
        // SAFETY: `info` is a valid out-parameter; WNOWAIT leaves the child
        // unreaped.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let r = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        if r == 0 {
            break;
        }
        let error = std::io::Error::last_os_error();
        if error.kind() != std::io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
    let mut exited = exited.lock().unwrap_or_else(|e| e.into_inner());
    *exited = true;
    let mut status = 0;
    loop {
        // SAFETY: `status` is a valid out-parameter.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            return Ok(ExitStatus::from_raw(status));
        }
        let error = std::io::Error::last_os_error();
        if error.kind() != std::io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}

/// A descriptor duplicated to 10 or above, close-on-exec: a source the
/// child maps onto 0-3 can then never be one of 0-3 itself.
fn high_fd(fd: RawFd) -> std::io::Result<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC returns a new descriptor we then own.
    let new = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 10) };
    if new < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `new` is a fresh descriptor owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

/// A pipe for the child's stderr: (read end, write end), both close-on-exec.
#[cfg(target_os = "linux")]
fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and are owned here.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// The read end of a pipe that holds `payload` and then ends. The pipe is
/// made large enough to take it all at once, so nothing waits for the child
/// to read; where it cannot be, a thread writes the rest as the child reads.
#[cfg(target_os = "linux")]
fn stdin_pipe(payload: &Arc<str>) -> std::io::Result<OwnedFd> {
    use std::io::Write;
    let (read, write) = pipe()?;
    // SAFETY: F_SETPIPE_SZ on a pipe we own; failure leaves its size as it was.
    unsafe {
        libc::fcntl(
            write.as_raw_fd(),
            libc::F_SETPIPE_SZ,
            payload.len() as libc::c_int,
        )
    };
    let mut file = std::fs::File::from(write);
    let payload = payload.clone();
    // SAFETY: F_SETFL on a descriptor we own.
    unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
    let bytes = payload.as_bytes();
    let written = match file.write(bytes) {
        Ok(n) => n,
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => 0,
        Err(e) => return Err(e),
    };
    if written < bytes.len() {
        // SAFETY: F_SETFL on a descriptor we own.
        unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETFL, 0) };
        std::thread::Builder::new()
            .name("outrigger-stdin".into())
            .spawn(move || {
                let _ = file.write_all(&payload.as_bytes()[written..]);
            })?;
    }
    Ok(read)
}

#[cfg(target_os = "linux")]
fn c_string(bytes: &[u8]) -> std::io::Result<CString> {
    CString::new(bytes).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "an engine argument or environment variable holds a NUL byte",
        )
    })
}

/// What the child needs between clone and exec, prepared beforehand: the
/// child shares the host's memory and must not allocate.
#[cfg(target_os = "linux")]
struct ChildPlan {
    program: *const libc::c_char,
    argv: *const *const libc::c_char,
    envp: *const *const libc::c_char,
    null: RawFd,
    stdin: RawFd,
    stderr: RawFd,
    channel: RawFd,
    /// The file channel, or -1.
    files: RawFd,
    parent: libc::pid_t,
    mask: libc::sigset_t,
    /// The errno of the step that failed, written by the child.
    errno: libc::c_int,
}

/// Starts the engine and returns its pid and the read end of its stderr.
///
/// On Linux the child is created with `clone(CLONE_VM | CLONE_VFORK)`, as
/// `posix_spawn` does: it borrows the host's memory until `exec` instead of
/// copying its page tables, so starting a worker costs the same whether the
/// host uses 10 MiB or 10 GiB (a `fork` of a 1 GiB host took ~40 ms here,
/// and made the host's writes fault until the child's `exec`). `posix_spawn`
/// itself cannot ask for the parent-death signal.
#[cfg(target_os = "linux")]
fn start_child(
    command: &EngineCommand,
    channel: RawFd,
    files: Option<RawFd>,
) -> std::io::Result<(u32, OwnedFd)> {
    use std::os::unix::ffi::OsStrExt;
    let program = c_string(command.program.as_os_str().as_bytes())?;
    let mut args = vec![program.clone()];
    for arg in &command.args {
        args.push(c_string(arg.as_bytes())?);
    }
    let mut env = Vec::with_capacity(command.env.len());
    for (key, value) in &command.env {
        let mut pair = key.as_bytes().to_vec();
        pair.push(b'=');
        pair.extend_from_slice(value.as_bytes());
        env.push(c_string(&pair)?);
    }
    let argv: Vec<*const libc::c_char> = args
        .iter()
        .map(|a| a.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    let envp: Vec<*const libc::c_char> = env
        .iter()
        .map(|e| e.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    let (stderr_read, stderr_write) = pipe()?;
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    let null = high_fd(null.as_raw_fd())?;
    let stdin = match &command.stdin {
        Some(payload) => high_fd(stdin_pipe(payload)?.as_raw_fd())?,
        None => high_fd(null.as_raw_fd())?,
    };
    let stderr_write = high_fd(stderr_write.as_raw_fd())?;
    let channel = high_fd(channel)?;
    let files = files.map(high_fd).transpose()?;
    // SAFETY: plain syscalls on valid out-parameters. Every signal is blocked
    // around the clone so that no handler of the host runs in the child,
    // which shares its memory; the child resets the handlers, then restores
    // the mask, before exec.
    unsafe {
        let mut plan = ChildPlan {
            program: program.as_ptr(),
            argv: argv.as_ptr(),
            envp: envp.as_ptr(),
            null: null.as_raw_fd(),
            stdin: stdin.as_raw_fd(),
            stderr: stderr_write.as_raw_fd(),
            channel: channel.as_raw_fd(),
            files: files.as_ref().map_or(-1, AsRawFd::as_raw_fd),
            parent: libc::getpid(),
            mask: std::mem::zeroed(),
            errno: 0,
        };
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut plan.mask);
        let mut stack = vec![0u8; CHILD_STACK];
        let top = stack.as_mut_ptr().add(CHILD_STACK) as usize & !15;
        let pid = libc::clone(
            child_main,
            top as *mut libc::c_void,
            libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
            (&raw mut plan).cast(),
        );
        let clone_error = std::io::Error::last_os_error();
        libc::pthread_sigmask(libc::SIG_SETMASK, &plan.mask, std::ptr::null_mut());
        drop(stack);
        if pid < 0 {
            return Err(clone_error);
        }
        // The child has exec'd, or failed and exited: reap it then.
        if plan.errno != 0 {
            let mut status = 0;
            libc::waitpid(pid, &mut status, 0);
            return Err(std::io::Error::from_raw_os_error(plan.errno));
        }
        Ok((pid as u32, stderr_read))
    }
}

/// The child's stack until exec: a few syscalls deep.
#[cfg(target_os = "linux")]
const CHILD_STACK: usize = 128 * 1024;

/// The child between clone and exec: only syscalls, on prepared data.
#[cfg(target_os = "linux")]
extern "C" fn child_main(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` is the ChildPlan the parent keeps alive (it is suspended
    // until this exec's or exits); everything called is async-signal-safe.
    unsafe {
        let plan = &mut *arg.cast::<ChildPlan>();
        let fail = |plan: &mut ChildPlan| -> ! {
            plan.errno = *libc::__errno_location();
            if plan.errno == 0 {
                plan.errno = libc::ECHILD;
            }
            libc::_exit(127)
        };
        let mut default: libc::sigaction = std::mem::zeroed();
        default.sa_sigaction = libc::SIG_DFL;
        for signal in 1..=64 {
            if signal != libc::SIGKILL && signal != libc::SIGSTOP {
                libc::sigaction(signal, &default, std::ptr::null_mut());
            }
        }
        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
            fail(plan);
        }
        // The host died before the signal was asked for: nobody would send it.
        if libc::getppid() != plan.parent {
            libc::_exit(127);
        }
        for (from, to) in [
            (plan.stdin, 0),
            (plan.null, 1),
            (plan.stderr, 2),
            (plan.channel, CHANNEL_FD),
        ] {
            if libc::dup2(from, to) < 0 {
                fail(plan);
            }
        }
        if plan.files >= 0 && libc::dup2(plan.files, super::mounts::FILES_FD) < 0 {
            fail(plan);
        }
        libc::pthread_sigmask(libc::SIG_SETMASK, &plan.mask, std::ptr::null_mut());
        libc::execve(plan.program, plan.argv, plan.envp);
        fail(plan)
    }
}

/// Elsewhere: a fork through `std::process::Command`.
#[cfg(not(target_os = "linux"))]
fn start_child(
    command: &EngineCommand,
    channel: RawFd,
    files: Option<RawFd>,
) -> std::io::Result<(u32, OwnedFd)> {
    use std::os::unix::process::CommandExt;
    let mut cmd = std::process::Command::new(&command.program);
    cmd.args(&command.args)
        .env_clear()
        .envs(command.env.iter().map(|(k, v)| (k, v)))
        .stdin(if command.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let channel = high_fd(channel)?;
    let fd = channel.as_raw_fd();
    let files = files.map(high_fd).transpose()?;
    let files_fd = files.as_ref().map(AsRawFd::as_raw_fd);
    // SAFETY: between fork and exec only dup2, async-signal-safe, on
    // descriptors that stay open until the spawn returns.
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(fd, CHANNEL_FD) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            if let Some(files_fd) = files_fd {
                if libc::dup2(files_fd, super::mounts::FILES_FD) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn()?;
    if let (Some(payload), Some(mut stdin)) = (command.stdin.clone(), child.stdin.take()) {
        std::thread::spawn(move || {
            use std::io::Write;
            let _ = stdin.write_all(payload.as_bytes());
        });
    }
    let stderr = child.stderr.take().expect("stderr is piped");
    Ok((child.id(), OwnedFd::from(stderr)))
}
