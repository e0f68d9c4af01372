//! Paths as workers need them: absolute, with symbolic links resolved, and
//! module files read with the path their relative imports resolve against.
//!
//! Resolution and loading happen in the worker (Node's own resolver, see
//! ARCHITECTURE.md, "Module resolution"); the host only says where.

use std::path::Path;

use crate::error::{Error, Result};

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

/// An ES module read from a file: its name (the path as given), its source
/// and its absolute path.
#[derive(Debug)]
pub(crate) struct ModuleFile {
    pub(crate) name: String,
    pub(crate) code: String,
    pub(crate) file: String,
}

/// Reads an ES module file.
pub(crate) async fn read_module_file(path: &Path) -> Result<ModuleFile> {
    let code = tokio::fs::read_to_string(path)
        .await
        .map_err(|source| Error::ReadScript {
            path: path.to_path_buf(),
            source,
        })?;
    let name = path.display().to_string();
    let code = if crate::strip::is_typescript(&name) {
        crate::strip::strip(&code).map_err(|e| crate::strip::script_error(e, &name))?
    } else {
        code
    };
    Ok(ModuleFile {
        name,
        code,
        file: absolute_file(path),
    })
}
