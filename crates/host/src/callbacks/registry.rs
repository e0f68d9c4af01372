//! Every callback a pool offers, by wire name.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use super::{wire_name, Approver, CallbackDecl, CallbackSet, Handler};
use crate::wire::methods::CallbackPath;

/// Every callback a pool offers, by wire name.
#[derive(Default, Clone)]
pub(crate) struct Registry {
    entries: BTreeMap<String, Entry>,
    /// Who decides on calls that need approval, unless a run has its own.
    approver: Option<Approver>,
}

#[derive(Clone)]
struct Entry {
    decl: CallbackDecl,
    handler: Handler,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.entries.keys()).finish()
    }
}

impl Registry {
    /// Adds a set; a name that is already taken is an error.
    pub(crate) fn add<S: CallbackSet>(&mut self, set: S) -> Result<(), String> {
        let mut handlers: BTreeMap<String, Handler> =
            Arc::new(set).handlers().into_iter().collect();
        for decl in S::declarations() {
            let name = wire_name(&decl);
            let handler = handlers
                .remove(&name)
                .ok_or_else(|| format!("callback `{name}` is declared but has no handler"))?;
            self.insert(decl, handler)?;
        }
        Ok(())
    }

    /// Adds one callback (a tool registered at run time); a name that is
    /// already taken is an error.
    pub(crate) fn insert(&mut self, decl: CallbackDecl, handler: Handler) -> Result<(), String> {
        let name = wire_name(&decl);
        if name == "emit" {
            return Err("a callback cannot be named `emit`: `host.emit` sends events".into());
        }
        if self.entries.contains_key(&name) {
            return Err(format!("two callbacks are named `{name}`"));
        }
        if self
            .entries
            .contains_key(decl.namespace.as_deref().unwrap_or_default())
        {
            return Err(format!(
                "`{}` is both a callback and a namespace",
                decl.namespace.unwrap_or_default()
            ));
        }
        if decl.namespace.is_none()
            && self
                .entries
                .keys()
                .any(|k| k.starts_with(&format!("{name}.")))
        {
            return Err(format!("`{name}` is both a callback and a namespace"));
        }
        self.entries.insert(name, Entry { decl, handler });
        Ok(())
    }

    /// Adds a callback of the pool's own (tool discovery); its name must be free.
    pub(crate) fn add_builtin(
        &mut self,
        decl: CallbackDecl,
        handler: Handler,
    ) -> Result<(), String> {
        let name = wire_name(&decl);
        if self.entries.contains_key(&name)
            || self
                .entries
                .keys()
                .any(|k| decl.namespace.as_deref().is_some_and(|ns| k == ns))
        {
            return Err(format!(
                "`{name}` is the pool's own; rename the callback that takes it"
            ));
        }
        self.entries.insert(name, Entry { decl, handler });
        Ok(())
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Handler> {
        self.entries.get(name).map(|e| &e.handler)
    }

    /// Whether calls of `name` wait for an approver's decision.
    pub(crate) fn needs_approval(&self, name: &str) -> bool {
        self.entries.get(name).is_some_and(|e| e.decl.approval)
    }

    /// Checks params of `name` against its declared schema, for calls an
    /// approver is asked about: params the callback would refuse are
    /// refused before anyone is asked.
    pub(crate) fn check_params(
        &self,
        name: &str,
        params: &serde_json::Value,
    ) -> Result<(), super::CallbackError> {
        let Some(entry) = self.entries.get(name) else {
            return Ok(());
        };
        super::validate::validate(&entry.decl.params, params)
            .map_err(|invalid| super::validate::params_error(name, invalid))
    }

    /// Makes calls of `name` wait for an approver's decision.
    pub(crate) fn require_approval(&mut self, name: &str) -> Result<(), String> {
        match self.entries.get_mut(name) {
            Some(entry) => {
                entry.decl.approval = true;
                Ok(())
            }
            None => Err(format!(
                "require_approval(\"{name}\"): no callback has that name (callbacks: {})",
                self.names()
            )),
        }
    }

    pub(crate) fn set_approver(&mut self, approver: Approver) {
        self.approver = Some(approver);
    }

    /// The pool's approver, if one is set.
    pub(crate) fn approver(&self) -> Option<&Approver> {
        self.approver.as_ref()
    }

    /// The names, for an error message.
    pub(crate) fn names(&self) -> String {
        if self.entries.is_empty() {
            "none are registered".into()
        } else {
            self.entries.keys().cloned().collect::<Vec<_>>().join(", ")
        }
    }

    /// What the worker needs to build `host`: wire names and JS paths.
    pub(crate) fn paths(&self) -> Vec<CallbackPath> {
        self.entries
            .iter()
            .map(|(name, entry)| CallbackPath {
                name: name.clone(),
                path: entry
                    .decl
                    .namespace
                    .iter()
                    .chain(std::iter::once(&entry.decl.js_name))
                    .cloned()
                    .collect(),
                approval: entry.decl.approval,
            })
            .collect()
    }

    pub(crate) fn declarations(&self) -> Vec<CallbackDecl> {
        self.entries.values().map(|e| e.decl.clone()).collect()
    }
}
