//! What scripts may reach: the [`Sandbox`] setting of a pool, turned into
//! engine flags (Node's permission model, the heap size), the environment
//! workers see, and the limits the worker enforces (fetch allowlist, console
//! output per run). See SECURITY.md for the threat model.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::protocol::{codes, RpcError};
use crate::worker::Reply;

/// What scripts may reach, and how much they may take. Strict by default:
/// no network, no files, no child processes, worker threads, native addons,
/// WASI or inspector, no environment variables of the host.
///
/// ```
/// use outrigger_host::Sandbox;
/// let sandbox = Sandbox::strict()
///     .allow_fetch("https://api.example.com")       // an origin
///     .allow_fetch("https://*.example.org/v1/")     // subdomains, a path prefix
///     .allow_read("/srv/data")
///     .env_passthrough(["TZ"])
///     .max_heap_mb(512)
///     .max_console_bytes(1024 * 1024);
/// # let _ = sandbox;
/// ```
#[derive(Debug, Clone)]
pub struct Sandbox {
    permission_model: bool,
    fetch: Vec<String>,
    read: Vec<PathBuf>,
    write: Vec<PathBuf>,
    env_passthrough: Vec<String>,
    max_heap_mb: Option<u64>,
    max_console_bytes: usize,
}

impl Default for Sandbox {
    fn default() -> Self {
        Sandbox {
            permission_model: true,
            fetch: Vec::new(),
            read: Vec::new(),
            write: Vec::new(),
            env_passthrough: Vec::new(),
            max_heap_mb: None,
            max_console_bytes: 8 * 1024 * 1024,
        }
    }
}

impl Sandbox {
    /// The default: nothing reachable beyond the script's own world.
    pub fn strict() -> Self {
        Sandbox::default()
    }

    /// Lets `fetch` reach URLs matching `pattern`: an origin
    /// (`https://api.example.com`, any path), an origin with a path prefix
    /// (`https://api.example.com/v1/`), or a wildcard host
    /// (`https://*.example.com`, its subdomains). Scheme and port must match.
    /// Nothing is allowed by default, loopback addresses (`localhost`,
    /// `127.0.0.1`, `[::1]`) included; redirects are followed only to allowed
    /// URLs. A refused request rejects with an error naming the URL and this
    /// setting. A pattern that is not a URL makes `build()` fail.
    pub fn allow_fetch(mut self, pattern: impl Into<String>) -> Self {
        self.fetch.push(pattern.into());
        self
    }

    /// Lets workers read a file or directory (and everything under it),
    /// through Node's permission model. The project directory, when one is
    /// set, is readable without this.
    pub fn allow_read(mut self, path: impl Into<PathBuf>) -> Self {
        self.read.push(path.into());
        self
    }

    /// Lets workers write a file or directory (and everything under it).
    pub fn allow_write(mut self, path: impl Into<PathBuf>) -> Self {
        self.write.push(path.into());
        self
    }

    /// Host environment variables the workers see, with the host's values at
    /// `build()` time (a variable the host does not have is left out).
    /// [`PoolBuilder::env`](crate::PoolBuilder::env) sets others explicitly.
    pub fn env_passthrough<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.env_passthrough
            .extend(names.into_iter().map(Into::into));
        self
    }

    /// The JavaScript heap of each worker, in MiB (`--max-old-space-size`;
    /// default: Node's own). A worker that runs out is replaced; its runs end
    /// with [`Error::WorkerExited`](crate::Error::WorkerExited).
    pub fn max_heap_mb(mut self, mib: u64) -> Self {
        self.max_heap_mb = Some(mib);
        self
    }

    /// The console output one run may produce, in bytes of JSON (default
    /// 8 MiB); the run that passes it ends with
    /// [`Error::Limit`](crate::Error::Limit) naming this setting.
    pub fn max_console_bytes(mut self, bytes: usize) -> Self {
        self.max_console_bytes = bytes;
        self
    }

    /// Turns Node's permission model off (default on): scripts that reach a
    /// Node built-in (see [`PoolBuilder::allow_builtin`](crate::PoolBuilder::allow_builtin))
    /// then have the worker process's full rights over files and processes.
    /// For trusted code only.
    pub fn permission_model(mut self, enabled: bool) -> Self {
        self.permission_model = enabled;
        self
    }

    /// The engine flags: the permission model (named for the engine's
    /// version), the paths it grants, the heap size.
    pub(crate) async fn engine_args(
        &self,
        program: &Path,
        project: Option<&Path>,
    ) -> Vec<OsString> {
        let mut args = Vec::new();
        if self.permission_model {
            let flag = match node_major(program).await {
                Some(major) if major < 22 => "--experimental-permission",
                _ => "--permission",
            };
            args.push(flag.into());
            for path in self.read.iter().map(PathBuf::as_path).chain(project) {
                args.push(grant("--allow-fs-read=", path));
            }
            for path in &self.write {
                args.push(grant("--allow-fs-write=", path));
            }
        }
        if let Some(mib) = self.max_heap_mb {
            args.push(format!("--max-old-space-size={mib}").into());
        }
        args
    }

    /// The host variables passed through, with their values now.
    pub(crate) fn env(&self) -> Vec<(OsString, OsString)> {
        self.env_passthrough
            .iter()
            .filter_map(|name| std::env::var_os(name).map(|value| (name.into(), value)))
            .collect()
    }

    /// What the worker enforces itself, for `init`.
    pub(crate) fn init_params(&self) -> serde_json::Value {
        serde_json::json!({
            "fetchAllow": self.fetch,
            "maxConsoleBytes": self.max_console_bytes,
            "permissionModel": self.permission_model,
        })
    }
}

fn grant(flag: &str, path: &Path) -> OsString {
    let mut arg = OsString::from(flag);
    arg.push(crate::project::absolute_file(path));
    arg
}

/// The engine's major version, from `<program> --version` (`v22.3.0`);
/// `None` when it does not answer like Node.js does. Asked once per program
/// file (by path, size and modification time): starting an engine to ask
/// costs tens of milliseconds of pool start-up.
async fn node_major(program: &Path) -> Option<u32> {
    type Key = (std::path::PathBuf, u64, Option<std::time::SystemTime>);
    static KNOWN: std::sync::Mutex<Vec<(Key, Option<u32>)>> = std::sync::Mutex::new(Vec::new());
    let key: Key = match std::fs::metadata(program) {
        Ok(meta) => (program.to_path_buf(), meta.len(), meta.modified().ok()),
        Err(_) => (program.to_path_buf(), 0, None),
    };
    if let Some((_, major)) = KNOWN
        .lock()
        .unwrap()
        .iter()
        .find(|(known, _)| *known == key)
    {
        return *major;
    }
    let major = ask_node_major(program).await;
    KNOWN.lock().unwrap().push((key, major));
    major
}

async fn ask_node_major(program: &Path) -> Option<u32> {
    let output = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::process::Command::new(program)
            .arg("--version")
            .env_clear()
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .ok()?
    .ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    text.trim()
        .strip_prefix('v')?
        .split('.')
        .next()?
        .parse()
        .ok()
}

/// Replies for a request refused before it was sent, or `None` when
/// `params` fits in `max_message_bytes`.
pub(crate) fn refuse_oversized(
    size: usize,
    max_message_bytes: usize,
) -> Option<mpsc::UnboundedReceiver<Reply>> {
    if size <= max_message_bytes {
        return None;
    }
    let (tx, rx) = mpsc::unbounded_channel();
    let _ = tx.send(Reply::Done(Err(RpcError {
        code: codes::LIMIT,
        message: format!(
            "the message to the worker is {} bytes, over the limit of {max_message_bytes} (PoolBuilder::max_message_bytes); nothing was sent",
            size
        ),
        data: None,
    })));
    Some(rx)
}
