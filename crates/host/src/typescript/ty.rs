//! The `Ty` form: a TypeScript type expression, and how a prepared schema becomes one.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::names::CANONICAL_REF_PREFIX;

/// Fixed-length arrays (`minItems == maxItems`) up to this length are written as tuples.
const MAX_TUPLE_EXPANSION: u64 = 16;

/// A TypeScript type expression.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Ty {
    Unknown,
    Never,
    Null,
    Undefined,
    Boolean,
    Number,
    String,
    /// A literal type, already written as TypeScript (`"a"`, `42`, `true`).
    Literal(String),
    /// A named type.
    Ref(String),
    Array(Box<Ty>),
    Tuple {
        elements: Vec<TupleElement>,
        rest: Option<Box<Ty>>,
    },
    Object(ObjectTy),
    Union(Vec<Ty>),
    Intersection(Vec<Ty>),
    /// A union member carrying the description of an enum variant.
    Documented {
        doc: String,
        ty: Box<Ty>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct TupleElement {
    pub(super) ty: Ty,
    pub(super) optional: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct ObjectTy {
    pub(super) properties: Vec<Property>,
    /// Value type of the `[key: string]` index signature, if any.
    pub(super) index: Option<Box<Ty>>,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Property {
    pub(super) name: String,
    pub(super) optional: bool,
    pub(super) ty: Ty,
    pub(super) doc: Option<String>,
}

impl Ty {
    /// The type without its variant documentation.
    pub(super) fn peel(&self) -> &Ty {
        match self {
            Ty::Documented { ty, .. } => ty.peel(),
            other => other,
        }
    }

    /// Builds a flattened, deduplicated union.
    fn union(members: Vec<Ty>) -> Ty {
        let mut flat = Vec::new();
        for member in members {
            match member {
                Ty::Union(inner) => flat.extend(inner),
                other => flat.push(other),
            }
        }
        if flat.iter().any(|member| *member.peel() == Ty::Unknown) {
            return Ty::Unknown;
        }
        flat.retain(|member| *member.peel() != Ty::Never);
        Ty::collapse(dedup(flat), Ty::Never, Ty::Union)
    }

    /// Builds a flattened, deduplicated intersection.
    fn intersection(members: Vec<Ty>) -> Ty {
        let mut flat = Vec::new();
        for member in members {
            match member {
                Ty::Intersection(inner) => flat.extend(inner),
                other => flat.push(other),
            }
        }
        if flat.iter().any(|member| *member.peel() == Ty::Never) {
            return Ty::Never;
        }
        flat.retain(|member| *member.peel() != Ty::Unknown);
        Ty::collapse(dedup(flat), Ty::Unknown, Ty::Intersection)
    }

    /// `empty` for no members, the member itself for one, `build(members)` otherwise.
    fn collapse(mut members: Vec<Ty>, empty: Ty, build: fn(Vec<Ty>) -> Ty) -> Ty {
        match members.len() {
            0 => empty,
            1 => members.pop().unwrap_or(empty),
            _ => build(members),
        }
    }
}

fn dedup(types: Vec<Ty>) -> Vec<Ty> {
    let mut unique: Vec<Ty> = Vec::with_capacity(types.len());
    for ty in types {
        if !unique.contains(&ty) {
            unique.push(ty);
        }
    }
    unique
}

/// Whether a params type is an object that cannot hold any declared property.
pub(super) fn is_empty_object(ty: &Ty) -> bool {
    matches!(ty, Ty::Object(object)
        if object.properties.is_empty()
            && object.index.as_deref().is_none_or(|index| *index == Ty::Unknown))
}

/// Converts a (rewritten) schema into a type.
pub(super) fn schema_to_ty(schema: &Value) -> Ty {
    match schema {
        Value::Bool(true) => Ty::Unknown,
        Value::Bool(false) => Ty::Never,
        Value::Object(map) => object_schema_to_ty(map),
        _ => Ty::Unknown,
    }
}

/// The intersection of everything a schema object says: its own type keywords, `$ref`,
/// `allOf`, and the unions of `oneOf` and `anyOf`.
fn object_schema_to_ty(schema: &Map<String, Value>) -> Ty {
    let mut parts = Vec::new();
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        parts.push(ref_ty(reference));
    }
    parts.extend(subschemas(schema, "allOf").map(schema_to_ty));
    for keyword in ["oneOf", "anyOf"] {
        if schema.get(keyword).is_some_and(Value::is_array) {
            parts.push(Ty::union(
                subschemas(schema, keyword).map(variant_ty).collect(),
            ));
        }
    }
    let combined = !parts.is_empty();
    match base_ty(schema, combined) {
        Some(base) if !(combined && is_empty_object(&base)) => parts.insert(0, base),
        _ => {}
    }
    Ty::intersection(parts)
}

fn subschemas<'a>(
    schema: &'a Map<String, Value>,
    keyword: &str,
) -> impl Iterator<Item = &'a Value> + use<'a> {
    schema
        .get(keyword)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// A `oneOf`/`anyOf` arm, keeping its description for the JSDoc of the variant.
fn variant_ty(schema: &Value) -> Ty {
    let ty = schema_to_ty(schema);
    match doc_comment(schema) {
        Some(doc) => Ty::Documented {
            doc,
            ty: Box::new(ty),
        },
        None => ty,
    }
}

fn ref_ty(reference: &str) -> Ty {
    reference
        .strip_prefix(CANONICAL_REF_PREFIX)
        .map_or(Ty::Unknown, |name| Ty::Ref(name.to_owned()))
}

/// The type described by `const`, `enum` or `type` (with the keywords that go with each type).
fn base_ty(schema: &Map<String, Value>, combined: bool) -> Option<Ty> {
    if let Some(value) = schema.get("const") {
        return Some(literal_ty(value));
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        return Some(Ty::union(values.iter().map(literal_ty).collect()));
    }
    let types = declared_types(schema);
    if types.is_empty() {
        return None;
    }
    let members = types
        .into_iter()
        .map(|name| match name {
            "string" => Ty::String,
            "integer" | "number" => Ty::Number,
            "boolean" => Ty::Boolean,
            "null" => Ty::Null,
            "array" => array_ty(schema),
            "object" => object_ty(schema, combined),
            _ => Ty::Unknown,
        })
        .collect();
    Some(Ty::union(members))
}

/// The JSON types a schema allows: its `type` keyword, or what its other keywords imply.
fn declared_types(schema: &Map<String, Value>) -> Vec<&str> {
    match schema.get("type") {
        Some(Value::String(name)) => vec![name.as_str()],
        Some(Value::Array(names)) => names.iter().filter_map(Value::as_str).collect(),
        Some(_) => Vec::new(),
        None => {
            let has = |keys: &[&str]| keys.iter().any(|key| schema.contains_key(*key));
            if has(&[
                "properties",
                "additionalProperties",
                "patternProperties",
                "unevaluatedProperties",
            ]) {
                vec!["object"]
            } else if has(&["items", "prefixItems"]) {
                vec!["array"]
            } else {
                Vec::new()
            }
        }
    }
}

/// The type of a JSON value used as `const` or `enum` member.
fn literal_ty(value: &Value) -> Ty {
    match value {
        Value::Null => Ty::Null,
        Value::Bool(_) | Value::Number(_) | Value::String(_) => Ty::Literal(value.to_string()),
        Value::Array(items) => Ty::Tuple {
            elements: items
                .iter()
                .map(|item| TupleElement {
                    ty: literal_ty(item),
                    optional: false,
                })
                .collect(),
            rest: None,
        },
        Value::Object(map) => Ty::Object(ObjectTy {
            properties: map
                .iter()
                .map(|(name, value)| Property {
                    name: name.clone(),
                    optional: false,
                    ty: literal_ty(value),
                    doc: None,
                })
                .collect(),
            index: None,
        }),
    }
}

fn array_ty(schema: &Map<String, Value>) -> Ty {
    let min_items = schema.get("minItems").and_then(Value::as_u64);
    let max_items = schema.get("maxItems").and_then(Value::as_u64);
    if let Some(prefix) = schema.get("prefixItems").and_then(Value::as_array) {
        return tuple_ty(prefix, schema.get("items"), min_items, max_items);
    }
    // Draft-07 spelling of a tuple: `items` is an array, the rest is `additionalItems`.
    if let Some(prefix) = schema.get("items").and_then(Value::as_array) {
        return tuple_ty(prefix, schema.get("additionalItems"), min_items, max_items);
    }
    // A sequence of bytes (`Vec<u8>`, `bytes::Bytes`) crosses as a
    // `Uint8Array`; a fixed-size array (`[u8; 32]`, a tuple) as an array.
    let is_u8 = |items: &Map<String, Value>| {
        items.get("type").and_then(Value::as_str) == Some("integer")
            && items.get("format").and_then(Value::as_str) == Some("uint8")
    };
    let items = schema.get("items").and_then(Value::as_object);
    if max_items.is_none() && items.is_some_and(is_u8) {
        return Ty::Ref("Uint8Array".into());
    }
    let element = schema.get("items").map_or(Ty::Unknown, schema_to_ty);
    match (min_items, max_items) {
        (Some(min), Some(max)) if min == max && max <= MAX_TUPLE_EXPANSION => {
            let element = TupleElement {
                ty: element,
                optional: false,
            };
            Ty::Tuple {
                elements: vec![element; usize::try_from(max).unwrap_or_default()],
                rest: None,
            }
        }
        _ => Ty::Array(Box::new(element)),
    }
}

/// `[A, B?, ...R[]]`: elements past `minItems` are optional; the tuple is closed when the rest
/// schema is `false` or `maxItems` allows no more elements.
fn tuple_ty(prefix: &[Value], rest: Option<&Value>, min: Option<u64>, max: Option<u64>) -> Ty {
    let to_usize = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
    let required = min.map_or(0, to_usize);
    let length = max.map_or(prefix.len(), |max| prefix.len().min(to_usize(max)));
    let elements = prefix[..length]
        .iter()
        .enumerate()
        .map(|(position, schema)| TupleElement {
            ty: schema_to_ty(schema),
            optional: position >= required,
        })
        .collect();
    let closed = matches!(rest, Some(Value::Bool(false)))
        || max.is_some_and(|max| to_usize(max) <= prefix.len());
    let rest = (!closed).then(|| Box::new(rest.map_or(Ty::Unknown, schema_to_ty)));
    Ty::Tuple { elements, rest }
}

fn object_ty(schema: &Map<String, Value>, combined: bool) -> Ty {
    let required: BTreeSet<&str> = subschemas(schema, "required")
        .filter_map(Value::as_str)
        .collect();
    let properties: Vec<Property> = schema
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(name, property)| Property {
            name: name.clone(),
            optional: !required.contains(name.as_str()),
            ty: schema_to_ty(property),
            doc: doc_comment(property),
        })
        .collect();
    let index = index_ty(schema, properties.is_empty())
        .map(|index| Box::new(widen_index(index, &properties, combined)));
    Ty::Object(ObjectTy { properties, index })
}

/// The value type of the index signature: from `patternProperties` and `additionalProperties`
/// (or `unevaluatedProperties`, which schemars emits when flattening maps next to enums).
/// Objects that say nothing about extra properties get one only if they have no properties.
fn index_ty(schema: &Map<String, Value>, no_properties: bool) -> Option<Ty> {
    let mut value_types: Vec<Ty> = schema
        .get("patternProperties")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(Map::values)
        .map(schema_to_ty)
        .collect();
    let additional = schema
        .get("additionalProperties")
        .or_else(|| schema.get("unevaluatedProperties"));
    match additional {
        Some(Value::Bool(false)) => {}
        None if !no_properties || !value_types.is_empty() => {}
        None => value_types.push(Ty::Unknown),
        Some(value) => value_types.push(schema_to_ty(value)),
    }
    (!value_types.is_empty()).then(|| Ty::union(value_types))
}

/// TypeScript requires every property to be assignable to the index signature, so the index
/// type also admits the property types (and `undefined` for optional ones). Next to other
/// schemas (`oneOf`, `$ref`, …) their properties are unknown here, so it becomes `unknown`.
fn widen_index(index: Ty, properties: &[Property], combined: bool) -> Ty {
    if combined {
        return Ty::Unknown;
    }
    let mut members = vec![index];
    members.extend(properties.iter().map(|property| property.ty.clone()));
    if properties.iter().any(|property| property.optional) {
        members.push(Ty::Undefined);
    }
    Ty::union(members)
}

/// The JSDoc text of a schema: its `description`, plus `@deprecated` when flagged.
pub(super) fn doc_comment(schema: &Value) -> Option<String> {
    let schema = schema.as_object()?;
    let mut parts = Vec::new();
    if let Some(description) = schema.get("description").and_then(Value::as_str) {
        let description = description.trim();
        if !description.is_empty() {
            parts.push(description.to_owned());
        }
    }
    if schema.get("deprecated") == Some(&Value::Bool(true)) {
        parts.push("@deprecated".to_owned());
    }
    (!parts.is_empty()).then(|| parts.join("\n"))
}
