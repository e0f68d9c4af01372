//! The `host` object: its methods, grouped by namespace, and the rule that no two of them
//! share a member.

use std::collections::BTreeMap;

use super::ty::Ty;
use super::{TsError, TsErrorKind};

/// The built-in one-way event member that every `host` object has.
const EMIT_MEMBER: &str = "emit";

/// The params argument of a host method.
pub(super) enum Params {
    /// The params object has no properties: `params?: {}`.
    Empty,
    /// `params: <name>`.
    Named(String),
}

/// One method of the `host` object.
pub(super) struct Method {
    pub(super) js_name: String,
    pub(super) description: Option<String>,
    pub(super) params: Params,
    pub(super) result: Ty,
}

/// A member of the `host` object.
pub(super) enum HostMember {
    Method(Method),
    Namespace(BTreeMap<String, Method>),
}

/// The members of `host`, keyed (and sorted) by name.
#[derive(Default)]
pub(super) struct HostObject {
    members: BTreeMap<String, HostMember>,
}

impl HostObject {
    /// The members, sorted by name.
    pub(super) fn members(&self) -> impl Iterator<Item = (&String, &HostMember)> {
        self.members.iter()
    }

    /// Adds a method at the top level or to its namespace, refusing any second occupant of a
    /// member and the built-in `emit`.
    pub(super) fn insert(
        &mut self,
        namespace: Option<&str>,
        method: Method,
    ) -> Result<(), TsError> {
        let top_level = namespace.unwrap_or(&method.js_name);
        if top_level == EMIT_MEMBER {
            return Err(duplicate_member(format!(
                "`{top_level}` clashes with the built-in `host.{EMIT_MEMBER}`"
            )));
        }
        match namespace {
            None => self.insert_method(method),
            Some(namespace) => self.insert_namespaced(namespace, method),
        }
    }

    fn insert_method(&mut self, method: Method) -> Result<(), TsError> {
        let name = method.js_name.clone();
        match self.members.get(&name) {
            Some(HostMember::Method(_)) => Err(duplicate_member(format!(
                "callback `{name}` is declared more than once"
            ))),
            Some(HostMember::Namespace(_)) => Err(duplicate_member(format!(
                "`{name}` is both a callback and a namespace"
            ))),
            None => {
                self.members.insert(name, HostMember::Method(method));
                Ok(())
            }
        }
    }

    fn insert_namespaced(&mut self, namespace: &str, method: Method) -> Result<(), TsError> {
        let entry = self
            .members
            .entry(namespace.to_owned())
            .or_insert_with(|| HostMember::Namespace(BTreeMap::new()));
        let HostMember::Namespace(methods) = entry else {
            return Err(duplicate_member(format!(
                "`{namespace}` is both a callback and a namespace"
            )));
        };
        if methods.contains_key(&method.js_name) {
            return Err(duplicate_member(format!(
                "callback `{namespace}.{}` is declared more than once",
                method.js_name
            )));
        }
        methods.insert(method.js_name.clone(), method);
        Ok(())
    }
}

fn duplicate_member(message: String) -> TsError {
    TsError::new(TsErrorKind::DuplicateMember, message)
}
