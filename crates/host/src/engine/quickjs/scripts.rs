//! The scripts an engine thread has run, by key: what a run the host sends
//! by key alone (without source, kind or name) runs.

use std::rc::Rc;

use super::engine::{error, State};
use crate::wire::{codes, RpcError};

/// A script the engine has run, kept under its key.
#[derive(Clone)]
pub(super) struct KnownScript {
    pub(super) code: Rc<str>,
    pub(super) module: bool,
    pub(super) name: Rc<str>,
}

/// The script a `run` names: the one it brings (kept for later runs by
/// key), or the one kept under its key. Counted as a compile or a hit.
pub(super) fn script_for(
    st: &State,
    key: &str,
    code: Option<&str>,
    kind: Option<&str>,
    name: Option<&str>,
) -> Result<KnownScript, RpcError> {
    let Some(code) = code else {
        let known = st.scripts.borrow_mut().get(key).cloned().ok_or_else(|| {
            error(
                codes::UNKNOWN_SCRIPT,
                "the engine does not hold this script",
            )
        })?;
        let mut counters = st.counters.borrow_mut();
        *if known.module {
            &mut counters.module_cache_hits
        } else {
            &mut counters.script_hits
        } += 1;
        return Ok(known);
    };
    let (Some(kind), Some(name)) = (kind, name) else {
        return Err(error(
            codes::INVALID_PARAMS,
            "params of \"run\" with its code need kind, name",
        ));
    };
    let known = KnownScript {
        code: code.into(),
        module: kind == "module",
        name: name.into(),
    };
    st.scripts.borrow_mut().put(key.to_owned(), known.clone());
    let mut counters = st.counters.borrow_mut();
    *if known.module {
        &mut counters.module_compiles
    } else {
        &mut counters.script_compiles
    } += 1;
    Ok(known)
}
