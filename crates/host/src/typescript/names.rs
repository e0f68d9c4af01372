//! Names: TypeScript type names made from any text, and property keys quoted when needed.

use serde_json::Value;

/// Prefix of the canonical form every resolved `$ref` is rewritten to: the
/// name a named type is referred to by.
pub(super) const CANONICAL_REF_PREFIX: &str = "#/$defs/";

/// Words that cannot name a type or interface (checked against `tsc`), separated by spaces.
const RESERVED_TYPE_NAMES: &str = "any bigint boolean never null number object string symbol \
    undefined unknown void this true false break case catch class const continue debugger \
    default delete do else enum export extends finally for function if import in instanceof \
    new return super switch throw try typeof var while with";

/// Whether `text` can be written as a property name without quotes.
fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_' || first == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

/// A property or member name, quoted when it is not an identifier.
pub(super) fn property_key(name: &str) -> String {
    if is_identifier(name) {
        name.to_owned()
    } else {
        Value::String(name.to_owned()).to_string()
    }
}

/// Turns any text into a usable type name.
pub(super) fn type_name(raw: &str) -> String {
    let mut name: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '$' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert(0, '_');
    }
    if RESERVED_TYPE_NAMES
        .split_whitespace()
        .any(|word| word == name)
    {
        name.push('_');
    }
    name
}

/// `["kv", "get_value"]` → `KvGetValue`.
pub(super) fn pascal_case<'a>(parts: impl IntoIterator<Item = &'a str>) -> String {
    parts
        .into_iter()
        .flat_map(|part| part.split(|c: char| !c.is_ascii_alphanumeric()))
        .flat_map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase())
                .into_iter()
                .chain(chars)
        })
        .collect()
}
