//! Code that lives in files: project directories, module files, and the
//! paths the worker resolves imports against.
//!
//! Resolution and loading happen in the worker (Node's own resolver, see
//! ARCHITECTURE.md, "Module resolution"); the host only says where: the
//! pool's or a session's project directory, and the absolute path of a
//! script or module read from a file.

use std::path::Path;

use crate::error::{Error, Result};
use crate::module::JsModule;
use crate::pool::Pool;
use crate::session::Session;

/// A directory as the worker needs it: absolute, symbolic links resolved
/// (as Node resolves `node_modules`), or at least absolute if it does not
/// exist (the worker then reports the imports that fail).
pub(crate) fn absolute_dir(dir: &Path) -> String {
    absolute_file(dir)
}

/// A file's absolute path, symbolic links resolved when it exists.
pub(crate) fn absolute_file(path: &Path) -> String {
    std::fs::canonicalize(path)
        .or_else(|_| std::path::absolute(path))
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}

/// Reads an ES module file: its name (the path as given), source and
/// absolute path.
pub(crate) async fn read_module_file(path: &Path) -> Result<(String, String, String)> {
    let code = tokio::fs::read_to_string(path)
        .await
        .map_err(|source| Error::ReadScript {
            path: path.to_path_buf(),
            source,
        })?;
    Ok((path.display().to_string(), code, absolute_file(path)))
}

impl Pool {
    /// Opens a session whose scripts import packages and relative paths
    /// from `dir` (a directory with a `package.json` and `node_modules`)
    /// rather than from the pool's [`project`](crate::PoolBuilder::project).
    /// The pool's preloads and built-in allowlist apply.
    ///
    /// ```no_run
    /// # async fn demo(pool: &outrigger_host::Pool) -> outrigger_host::Result<()> {
    /// let session = pool.session_in("/srv/tenant-a").await?;
    /// let out = session.run(outrigger_host::Script::module(
    ///     "import dayjs from 'dayjs'; export default dayjs('2024-01-02').format('DD/MM');",
    /// )).await?;
    /// # Ok(()) }
    /// ```
    pub async fn session_in(&self, dir: impl AsRef<Path>) -> Result<Session> {
        let dir = dir.as_ref();
        if !dir.is_dir() {
            return Err(Error::InvalidInput(format!(
                "project directory {} does not exist or is not a directory",
                dir.display()
            )));
        }
        Session::open_in(self.clone(), Some(absolute_dir(dir))).await
    }

    /// Loads an ES module file into every worker (a project's entry point,
    /// say) and returns a handle to call its exported functions, as
    /// [`Pool::load_module`] does for a string. The file's relative imports
    /// resolve from its own directory; bare names from the `node_modules`
    /// above it (Node's rules).
    ///
    /// ```no_run
    /// # async fn demo(pool: &outrigger_host::Pool) -> outrigger_host::Result<()> {
    /// let app = pool.load_module_file("project/main.mjs").await?;
    /// let summary: serde_json::Value = app.call("summary", ()).await?;
    /// # Ok(()) }
    /// ```
    pub async fn load_module_file(&self, path: impl AsRef<Path>) -> Result<JsModule> {
        let (name, code, file) = read_module_file(path.as_ref()).await?;
        JsModule::load_into_pool(self.clone(), name, code, Some(file)).await
    }
}
