//! Starting engine processes: finding the program, handing it its channel,
//! and making sure it cannot outlive the host.

use std::ffi::OsString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::mpsc;
use std::sync::OnceLock;

use tokio::process::{Child, Command};

use crate::error::{Error, Result};

/// The file descriptor the worker finds its channel on.
pub(crate) const CHANNEL_FD: i32 = 3;

/// Finds `program` the way a shell would: as a path when it has a slash,
/// otherwise in the host's `PATH`.
pub(crate) fn resolve_program(program: &Path) -> Result<PathBuf> {
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
        message: format!(
            "not found in PATH ({}); install Node.js 20 or newer, or set the engine path with PoolBuilder::node",
            path.to_string_lossy()
        ),
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
}

struct SpawnRequest {
    command: EngineCommand,
    channel: OwnedFd,
    runtime: tokio::runtime::Handle,
    reply: tokio::sync::oneshot::Sender<std::io::Result<Child>>,
}

/// Starts an engine with `channel` as its fd 3.
///
/// Every process is forked from one long-lived thread, because on Linux the
/// parent-death signal the child asks for fires when the *thread* that forked
/// it ends, and runtime threads come and go.
pub(crate) async fn spawn(command: EngineCommand, channel: OwnedFd) -> Result<Child> {
    let (reply, answer) = tokio::sync::oneshot::channel();
    let program = command.program.display().to_string();
    let request = SpawnRequest {
        command,
        channel,
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
                    let result = start(&request.command, &request.channel);
                    drop(request.channel);
                    let _ = request.reply.send(result);
                }
            })
            .expect("cannot start the outrigger spawner thread");
        tx
    })
}

fn start(command: &EngineCommand, channel: &OwnedFd) -> std::io::Result<Child> {
    let mut cmd = Command::new(&command.program);
    cmd.args(&command.args)
        .env_clear()
        .envs(command.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let fd = channel.as_raw_fd();
    // SAFETY: between fork and exec only async-signal-safe calls are made
    // (prctl, dup2, fcntl), on a descriptor that stays open until
    // the spawn returns.
    unsafe {
        cmd.pre_exec(move || {
            #[cfg(target_os = "linux")]
            {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            if fd == CHANNEL_FD {
                let flags = libc::fcntl(fd, libc::F_GETFD);
                if flags < 0 || libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            } else if libc::dup2(fd, CHANNEL_FD) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.spawn()
}
