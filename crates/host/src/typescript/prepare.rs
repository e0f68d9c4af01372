//! Schema preparation: every callback's params and result become named types or inline
//! schemas, with their definitions collected into one registry and every `$ref` resolved and
//! rewritten to the canonical `#/$defs/<TypeName>`.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::host::{Method, Params};
use super::names::{pascal_case, type_name, CANONICAL_REF_PREFIX};
use super::ty::{is_empty_object, schema_to_ty, Ty};
use super::{CallbackDecl, TsError, TsErrorKind};

/// Top-level keywords that describe a schema document rather than the type itself.
const DOCUMENT_KEYWORDS: [&str; 5] = ["$schema", "$id", "title", "$defs", "definitions"];
/// Keywords whose values are plain JSON data, not subschemas.
const DATA_KEYWORDS: [&str; 4] = ["const", "enum", "default", "examples"];
/// Keywords whose values map names to subschemas.
const SCHEMA_MAP_KEYWORDS: [&str; 5] = [
    "properties",
    "patternProperties",
    "dependentSchemas",
    "$defs",
    "definitions",
];

/// A named type waiting to be emitted.
struct NamedType {
    /// The schema with every `$ref` rewritten to canonical form and document keywords removed.
    schema: Value,
    /// Where the definition came from, for error messages.
    origin: String,
}

/// All named types of the file, keyed (and therefore sorted) by TypeScript name.
#[derive(Default)]
pub(super) struct TypeRegistry {
    types: BTreeMap<String, NamedType>,
}

impl TypeRegistry {
    /// The named types, sorted by name, with their prepared schemas.
    pub(super) fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.types
            .iter()
            .map(|(name, named)| (name.as_str(), &named.schema))
    }

    /// Adds a named type; the same name may only be registered again with an identical schema.
    fn insert(&mut self, name: String, schema: Value, origin: String) -> Result<(), TsError> {
        match self.types.get(&name) {
            Some(existing) if existing.schema == schema => Ok(()),
            Some(existing) => Err(TsError::new(
                TsErrorKind::ConflictingType,
                format!(
                    "type name `{name}` has two different definitions: {} and {} \
                     (rename one of the Rust types; note that serialize and deserialize \
                     schemas of the same type can differ)",
                    existing.origin, origin
                ),
            )),
            None => {
                self.types.insert(name, NamedType { schema, origin });
                Ok(())
            }
        }
    }
}

/// Converts one callback: registers the types its schemas define and returns its signature.
pub(super) fn prepare_method(
    callback: &CallbackDecl,
    types: &mut TypeRegistry,
) -> Result<Method, TsError> {
    let namespace = callback.namespace.as_deref();
    let display = match namespace {
        Some(namespace) => format!("{namespace}.{}", callback.js_name),
        None => callback.js_name.clone(),
    };
    let stem = pascal_case(namespace.into_iter().chain([callback.js_name.as_str()]));
    let params = prepare_params(&callback.params, &stem, &display, types)?;
    let result = prepare_result(&callback.result, &stem, &display, types)?;
    Ok(Method {
        js_name: callback.js_name.clone(),
        description: callback.description.clone(),
        params,
        result,
    })
}

/// Registers the params schema as `<Stem>Params`, unless it is an object without properties.
fn prepare_params(
    schema: &Value,
    stem: &str,
    display: &str,
    types: &mut TypeRegistry,
) -> Result<Params, TsError> {
    let name = type_name(&format!("{stem}Params"));
    let label = format!("the params schema of `{display}`");
    let body = prepare_document(schema, Some(&name), &label, types)?;
    if !refers_to_root(schema) && is_empty_object(&schema_to_ty(&body)) {
        return Ok(Params::Empty);
    }
    types.insert(name.clone(), body, label)?;
    Ok(Params::Named(name))
}

/// Registers the result schema as a named type when it has one, otherwise converts it inline.
fn prepare_result(
    schema: &Value,
    stem: &str,
    display: &str,
    types: &mut TypeRegistry,
) -> Result<Ty, TsError> {
    let label = format!("the result schema of `{display}`");
    let name = hoisted_name(schema)
        .or_else(|| refers_to_root(schema).then(|| type_name(&format!("{stem}Result"))));
    let body = prepare_document(schema, name.as_deref(), &label, types)?;
    match name {
        Some(name) => {
            types.insert(name.clone(), body, label)?;
            Ok(Ty::Ref(name))
        }
        None => Ok(schema_to_ty(&body)),
    }
}

/// Registers every definition of a schema document and returns its root, ready to render.
///
/// `root_name` is the type name that `"$ref": "#"` resolves to.
fn prepare_document(
    document: &Value,
    root_name: Option<&str>,
    label: &str,
    types: &mut TypeRegistry,
) -> Result<Value, TsError> {
    let resolver = RefResolver::new(document, root_name, label);
    for (section, key, definition) in definitions(document) {
        let name = type_name(key);
        let body = rewrite_refs(&strip_document_keywords(definition), &resolver)?;
        types.insert(name, body, format!("`{section}/{key}` in {label}"))?;
    }
    rewrite_refs(&strip_document_keywords(document), &resolver)
}

/// Iterates over `(section, name, schema)` for the `$defs` and `definitions` of a document.
fn definitions(document: &Value) -> impl Iterator<Item = (&'static str, &String, &Value)> {
    ["$defs", "definitions"]
        .into_iter()
        .flat_map(move |section| {
            document
                .get(section)
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .map(move |(key, schema)| (section, key, schema))
        })
}

/// Returns a copy of `schema` without the keywords that only describe the document.
fn strip_document_keywords(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(key, _)| !DOCUMENT_KEYWORDS.contains(&key.as_str()))
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The name a result root is published under, if it looks like a named Rust type.
fn hoisted_name(root: &Value) -> Option<String> {
    let schema = root.as_object()?;
    let title = schema.get("title")?.as_str()?;
    has_named_shape(schema).then(|| type_name(title))
}

/// Whether a root schema has the shape of a struct or enum (as opposed to `Option`, `Vec`,
/// maps, tuples and primitives, which schemars also gives a title).
fn has_named_shape(schema: &Map<String, Value>) -> bool {
    let has_properties = schema
        .get("properties")
        .and_then(Value::as_object)
        .is_some_and(|properties| !properties.is_empty());
    let is_union = schema
        .get("anyOf")
        .and_then(Value::as_array)
        .is_some_and(|arms| !is_nullable_pair(arms));
    has_properties
        || is_union
        || ["oneOf", "allOf", "enum"]
            .iter()
            .any(|key| schema.contains_key(*key))
}

/// Whether `anyOf` arms are the `[T, {"type": "null"}]` pair schemars emits for `Option<T>`.
fn is_nullable_pair(arms: &[Value]) -> bool {
    arms.len() == 2
        && arms
            .iter()
            .any(|arm| arm.get("type").and_then(Value::as_str) == Some("null"))
}

/// Whether any `$ref` in the document points at the document root (`"#"`).
fn refers_to_root(value: &Value) -> bool {
    match value {
        Value::Object(map) => {
            map.get("$ref").and_then(Value::as_str) == Some("#") || map.values().any(refers_to_root)
        }
        Value::Array(items) => items.iter().any(refers_to_root),
        _ => false,
    }
}

/// Maps the references of one schema document to type names.
struct RefResolver<'a> {
    root_name: Option<&'a str>,
    /// `(section, key)` of every definition → its type name.
    names: BTreeMap<(&'static str, String), String>,
    label: &'a str,
}

impl<'a> RefResolver<'a> {
    fn new(document: &Value, root_name: Option<&'a str>, label: &'a str) -> Self {
        let names = definitions(document)
            .map(|(section, key, _)| ((section, key.clone()), type_name(key)))
            .collect();
        Self {
            root_name,
            names,
            label,
        }
    }

    /// Returns the canonical form (`#/$defs/<TypeName>`) of a reference.
    fn resolve(&self, reference: &str) -> Result<String, TsError> {
        let name = if reference == "#" {
            self.root_name
        } else {
            self.definition_name(reference)
        };
        match name {
            Some(name) => Ok(format!("{CANONICAL_REF_PREFIX}{name}")),
            None => Err(TsError::new(
                TsErrorKind::UnresolvableRef,
                format!(
                    "cannot resolve `$ref` \"{reference}\" in {}: only `#`, `#/$defs/<name>` \
                     and `#/definitions/<name>` pointing at definitions of the same schema \
                     are supported",
                    self.label
                ),
            )),
        }
    }

    fn definition_name(&self, reference: &str) -> Option<&str> {
        let pointer = percent_decode(reference.strip_prefix("#/")?);
        let (section, key) = pointer.split_once('/')?;
        let section = ["$defs", "definitions"]
            .into_iter()
            .find(|candidate| *candidate == section)?;
        if key.contains('/') {
            return None;
        }
        let key = key.replace("~1", "/").replace("~0", "~");
        self.names.get(&(section, key)).map(String::as_str)
    }
}

/// Decodes `%XX` escapes of a URI fragment; malformed escapes are kept as they are.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let escaped = (bytes[index] == b'%')
            .then(|| text.get(index + 1..index + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                decoded.push(byte);
                index += 3;
            }
            None => {
                decoded.push(bytes[index]);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

/// Returns a copy of `schema` with every `$ref` replaced by its canonical form.
fn rewrite_refs(schema: &Value, resolver: &RefResolver<'_>) -> Result<Value, TsError> {
    let Value::Object(map) = schema else {
        return Ok(schema.clone());
    };
    let mut rewritten = Map::new();
    for (key, value) in map {
        let value = match (key.as_str(), value) {
            ("$ref", Value::String(reference)) => Value::String(resolver.resolve(reference)?),
            (key, value) if DATA_KEYWORDS.contains(&key) => value.clone(),
            (key, Value::Object(schemas)) if SCHEMA_MAP_KEYWORDS.contains(&key) => {
                rewrite_schema_map(schemas, resolver)?
            }
            (_, Value::Array(items)) => Value::Array(
                items
                    .iter()
                    .map(|item| rewrite_refs(item, resolver))
                    .collect::<Result<_, _>>()?,
            ),
            (_, value) => rewrite_refs(value, resolver)?,
        };
        rewritten.insert(key.clone(), value);
    }
    Ok(Value::Object(rewritten))
}

/// Rewrites the subschemas of a keyword like `properties`, leaving its keys alone.
fn rewrite_schema_map(
    schemas: &Map<String, Value>,
    resolver: &RefResolver<'_>,
) -> Result<Value, TsError> {
    schemas
        .iter()
        .map(|(name, schema)| Ok((name.clone(), rewrite_refs(schema, resolver)?)))
        .collect::<Result<Map<_, _>, _>>()
        .map(Value::Object)
}
