//! The TypeScript generator: JSON Schemas of callbacks in, `.d.ts` out,
//! snapshotted and checked by the real TypeScript compiler.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::process::Command;

use schemars::generate::SchemaSettings;
use schemars::{schema_for, JsonSchema};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use outrigger::typescript::{generate, CallbackDecl, TsError, TsErrorKind};

mod common;

// ---- fixtures ----------------------------------------------------------------------------

/// A user record.
#[derive(JsonSchema, Serialize, Deserialize)]
struct User {
    /// The user id.
    id: u64,
    name: String,
    email: Option<String>,
}

#[derive(JsonSchema, Serialize, Deserialize)]
struct LookupUserParams {
    /// The user id.
    id: u64,
}

#[derive(JsonSchema, Serialize, Deserialize)]
struct NoParams {}

#[derive(JsonSchema, Serialize, Deserialize)]
struct KvGetParams {
    key: String,
}

#[derive(JsonSchema, Serialize, Deserialize)]
struct KvSetParams {
    key: String,
    value: String,
}

#[derive(JsonSchema, Serialize, Deserialize)]
struct Primitives {
    text: String,
    flag: bool,
    nothing: (),
    small: i32,
    big: u64,
    signed: i64,
    ratio: f64,
    letter: char,
}

#[derive(JsonSchema, Serialize, Deserialize)]
struct Optionals {
    maybe_text: Option<String>,
    maybe_user: Option<User>,
    #[serde(default)]
    defaulted: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    skipped: Option<bool>,
    double: Option<Option<i32>>,
}

/// Settings as the Rust side sends them.
#[derive(JsonSchema, Serialize, Deserialize)]
struct Settings {
    theme: Option<String>,
    #[serde(default)]
    retries: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    proxy: Option<String>,
}

#[derive(JsonSchema, Serialize, Deserialize)]
struct Collections {
    list: Vec<String>,
    nested: Vec<Vec<i32>>,
    sparse: Vec<Option<u8>>,
    optional_list: Option<Vec<User>>,
    pair: (u8, String),
    triple: [u16; 3],
    digest: [u8; 32],
    set: HashSet<String>,
    ordered: BTreeSet<i64>,
}

#[derive(JsonSchema, Serialize, Deserialize)]
struct Maps {
    scores: HashMap<String, f64>,
    users: BTreeMap<String, User>,
    optional_values: BTreeMap<String, Option<String>>,
}

/// Named fields plus arbitrary string labels.
#[derive(JsonSchema, Serialize, Deserialize)]
struct Labelled {
    name: String,
    priority: Option<u8>,
    #[serde(flatten)]
    labels: BTreeMap<String, String>,
}

/// A colour.
#[derive(JsonSchema, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Color {
    Red,
    DarkGreen,
}

/// A shape (externally tagged).
#[derive(JsonSchema, Serialize, Deserialize)]
enum Shape {
    /// A single point.
    Point,
    Circle(f64),
    Rect {
        width: f64,
        height: f64,
    },
    Line(f64, f64),
    Group(Vec<Shape>),
}

#[derive(JsonSchema, Serialize, Deserialize)]
struct PaintParams {
    color: Color,
    shape: Shape,
}

/// Something that happened (internally tagged).
#[derive(JsonSchema, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
enum JobEvent {
    Started,
    /// Work is under way.
    Progress {
        percent: u8,
    },
    Finished(User),
}

/// A message (adjacently tagged).
#[derive(JsonSchema, Serialize, Deserialize)]
#[serde(tag = "kind", content = "data")]
enum Message {
    Ping,
    Text(String),
    Move { x: i32, y: i32 },
    Pair(u8, u8),
}

/// Anything goes (untagged).
#[derive(JsonSchema, Serialize, Deserialize)]
#[serde(untagged)]
enum Loose {
    Nothing,
    Number(f64),
    Words(Vec<String>),
    Named { name: String },
}

/// An event with an id next to it.
#[derive(JsonSchema, Serialize, Deserialize)]
struct Envelope {
    id: u64,
    #[serde(flatten)]
    event: JobEvent,
}

/// A tree of labelled nodes.
#[derive(JsonSchema, Serialize, Deserialize)]
struct Tree {
    label: String,
    children: Vec<Tree>,
}

#[derive(JsonSchema, Serialize, Deserialize)]
struct Forest {
    trees: Vec<Tree>,
    largest: Option<Box<Tree>>,
}

/// A linked list used directly as params.
#[derive(JsonSchema, Serialize, Deserialize)]
struct Chain {
    value: i32,
    next: Option<Box<Chain>>,
}

#[derive(JsonSchema, Serialize, Deserialize)]
struct Anything {
    payload: serde_json::Value,
    extra: Option<serde_json::Value>,
}

#[derive(JsonSchema, Serialize, Deserialize)]
struct Headers {
    #[serde(rename = "content-type")]
    content_type: String,
    #[serde(rename = "2fa")]
    two_factor: bool,
    #[serde(rename = "$meta")]
    meta: Option<String>,
    #[serde(rename = "class")]
    class_name: u8,
    #[serde(rename = "with space")]
    with_space: Option<u8>,
}

/// First line of the summary.
///
/// Second paragraph, mentioning a `*/` sequence that must not end the comment.
#[derive(JsonSchema, Serialize, Deserialize)]
struct Documented {
    /// A field documented
    /// over two lines.
    field: String,
    /// Ends with a comment closer */
    tricky: bool,
}

mod other {
    use schemars::JsonSchema;
    use serde::{Deserialize, Serialize};

    /// A different type that is also called `User`.
    #[derive(JsonSchema, Serialize, Deserialize)]
    pub struct User {
        pub handle: String,
    }
}

// ---- helpers -----------------------------------------------------------------------------

fn decl<P: JsonSchema, R: JsonSchema>(js_name: &str) -> CallbackDecl {
    CallbackDecl {
        js_name: js_name.to_owned(),
        namespace: None,
        description: None,
        params: schema_for!(P).to_value(),
        result: schema_for!(R).to_value(),
        approval: false,
    }
}

fn raw(js_name: &str, params: Value, result: Value) -> CallbackDecl {
    CallbackDecl {
        js_name: js_name.to_owned(),
        namespace: None,
        description: None,
        params,
        result,
        approval: false,
    }
}

fn in_namespace(mut callback: CallbackDecl, namespace: &str) -> CallbackDecl {
    callback.namespace = Some(namespace.to_owned());
    callback
}

fn with_doc(mut callback: CallbackDecl, doc: &str) -> CallbackDecl {
    callback.description = Some(doc.to_owned());
    callback
}

fn generate_ok(callbacks: &[CallbackDecl]) -> String {
    generate(callbacks).unwrap_or_else(|error| panic!("generate failed: {error}"))
}

/// The TypeScript type generated for a result schema returned by a callback `f`.
fn result_type(result: Value) -> String {
    let out = generate_ok(&[raw("f", json!({"type": "object"}), result)]);
    let start = "  f(params?: {}): Promise<";
    let from = out.find(start).expect("method line") + start.len();
    let to = out.find(">;\n  /** Send a one-way").expect("end of method");
    out[from..to].to_owned()
}

fn generate_err(callbacks: &[CallbackDecl]) -> TsError {
    match generate(callbacks) {
        Ok(out) => panic!("expected an error, got:\n{out}"),
        Err(error) => error,
    }
}

/// Every callback of the fixtures, used for the compiler checks.
fn all_callbacks() -> Vec<CallbackDecl> {
    vec![
        with_doc(
            decl::<LookupUserParams, User>("lookupUser"),
            "Look up a user by id.",
        ),
        in_namespace(decl::<KvGetParams, Option<String>>("get"), "kv"),
        in_namespace(decl::<KvSetParams, ()>("set"), "kv"),
        decl::<NoParams, Vec<User>>("listUsers"),
        decl::<Primitives, Primitives>("echoPrimitives"),
        decl::<Optionals, Optionals>("echoOptionals"),
        decl::<Collections, Collections>("echoCollections"),
        decl::<Maps, Labelled>("mapLabels"),
        decl::<PaintParams, Shape>("paint"),
        decl::<NoParams, JobEvent>("nextEvent"),
        decl::<NoParams, Message>("nextMessage"),
        decl::<NoParams, Loose>("anything"),
        decl::<NoParams, Envelope>("nextEnvelope"),
        decl::<Chain, Tree>("growTree"),
        decl::<NoParams, Forest>("forest"),
        decl::<Anything, serde_json::Value>("passThrough"),
        decl::<Headers, Documented>("headers"),
    ]
}

// ---- snapshots of schemars-derived types -------------------------------------------------

#[test]
fn brief_example() {
    let out = generate_ok(&[
        with_doc(
            decl::<LookupUserParams, User>("lookupUser"),
            "Look up a user by id.",
        ),
        in_namespace(decl::<KvGetParams, Option<String>>("get"), "kv"),
        decl::<NoParams, Vec<User>>("listUsers"),
    ]);
    insta::assert_snapshot!(out);
}

#[test]
fn primitives() {
    insta::assert_snapshot!(generate_ok(&[decl::<Primitives, bool>("primitives")]));
}

#[test]
fn options_and_optional_fields() {
    // Params are deserialized by Rust, results serialized: with the serialize contract,
    // `Option` and `#[serde(default)]` fields are required unless skipped when `None`.
    let serialize = SchemaSettings::default().for_serialize().into_generator();
    let mut callback = decl::<Optionals, ()>("options");
    callback.result = serialize.into_root_schema_for::<Settings>().to_value();
    insta::assert_snapshot!(generate_ok(&[callback]));
}

#[test]
fn arrays_tuples_and_sets() {
    insta::assert_snapshot!(generate_ok(&[decl::<Collections, Vec<(u8, bool)>>(
        "collections"
    )]));
}

#[test]
fn maps_and_objects_with_extra_properties() {
    insta::assert_snapshot!(generate_ok(&[decl::<Maps, Labelled>("maps")]));
}

#[test]
fn unit_only_and_externally_tagged_enums() {
    insta::assert_snapshot!(generate_ok(&[decl::<PaintParams, Shape>("paint")]));
}

#[test]
fn internally_tagged_enum() {
    insta::assert_snapshot!(generate_ok(&[decl::<NoParams, JobEvent>("nextEvent")]));
}

#[test]
fn adjacently_tagged_enum() {
    insta::assert_snapshot!(generate_ok(&[decl::<NoParams, Message>("nextMessage")]));
}

#[test]
fn untagged_enum() {
    insta::assert_snapshot!(generate_ok(&[decl::<NoParams, Loose>("anything")]));
}

#[test]
fn flattened_enum_shares_properties() {
    insta::assert_snapshot!(generate_ok(&[decl::<NoParams, Envelope>("nextEnvelope")]));
}

#[test]
fn recursive_types() {
    insta::assert_snapshot!(generate_ok(&[
        decl::<Chain, Tree>("growTree"),
        decl::<NoParams, Forest>("forest"),
    ]));
}

#[test]
fn any_values() {
    insta::assert_snapshot!(generate_ok(&[decl::<Anything, serde_json::Value>(
        "passThrough"
    )]));
}

#[test]
fn non_identifier_names_are_quoted() {
    let callback = in_namespace(decl::<Headers, ()>("set-headers"), "http client");
    insta::assert_snapshot!(generate_ok(&[callback]));
}

#[test]
fn descriptions_become_jsdoc() {
    let callback = with_doc(
        decl::<NoParams, Documented>("describe"),
        "Explains itself.\n\nSee the */ escaping rules.",
    );
    insta::assert_snapshot!(generate_ok(&[callback]));
}

// ---- focused checks on hand-written schemas ----------------------------------------------

#[test]
fn primitive_types_and_type_arrays() {
    let cases = [
        (json!({"type": "string"}), "string"),
        (json!({"type": "boolean"}), "boolean"),
        (json!({"type": "null"}), "null"),
        (json!({"type": "integer", "format": "int32"}), "number"),
        (json!({"type": "number", "format": "double"}), "number"),
        (json!({"type": ["string", "null"]}), "string | null"),
        (
            json!({"type": ["integer", "boolean", "null"]}),
            "number | boolean | null",
        ),
        (json!({"type": ["integer", "number"]}), "number"),
    ];
    for (schema, expected) in cases {
        assert_eq!(result_type(schema.clone()), expected, "for {schema}");
    }
}

#[test]
fn sixty_four_bit_integers_are_numbers() {
    let out = generate_ok(&[decl::<Primitives, (u64, i64, u128)>("big")]);
    assert!(out.contains("  big: number;\n"), "{out}");
    assert!(out.contains("  signed: number;\n"), "{out}");
    assert!(out.contains("Promise<[number, number, number]>"), "{out}");
}

#[test]
fn nullable_forms_of_option() {
    let cases = [
        (
            json!({"type": ["array", "null"], "items": {"type": "string"}}),
            "string[] | null",
        ),
        (
            json!({"anyOf": [{"type": "object", "properties": {"a": {"type": "string"}},
                   "required": ["a"]}, {"type": "null"}]}),
            "{ a: string } | null",
        ),
        (
            json!({"type": "array", "items": {"type": ["string", "null"]}}),
            "(string | null)[]",
        ),
    ];
    for (schema, expected) in cases {
        assert_eq!(result_type(schema.clone()), expected, "for {schema}");
    }
}

#[test]
fn handwritten_tuples_and_arrays() {
    let cases = [
        (
            json!({"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}],
                   "items": false}),
            "[string?, number?]",
        ),
        (
            json!({"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}],
                   "items": false, "minItems": 2}),
            "[string, number]",
        ),
        (
            json!({"type": "array", "prefixItems": [{"type": "string"}],
                   "minItems": 1, "items": {"type": "boolean"}}),
            "[string, ...boolean[]]",
        ),
        (
            json!({"type": "array", "prefixItems": [{"type": "string"}], "minItems": 1}),
            "[string, ...unknown[]]",
        ),
        (
            json!({"type": "array", "items": [{"type": "string"}, {"type": "null"}],
                   "additionalItems": false, "minItems": 2}),
            "[string, null]",
        ),
        (
            json!({"type": "array", "items": {"type": "string"}, "uniqueItems": true}),
            "string[]",
        ),
        (json!({"type": "array"}), "unknown[]"),
        (json!({"type": "array", "maxItems": 0, "minItems": 0}), "[]"),
        (
            json!({"type": "array", "items": {"type": "integer"},
                   "minItems": 17, "maxItems": 17}),
            "number[]",
        ),
    ];
    for (schema, expected) in cases {
        assert_eq!(result_type(schema.clone()), expected, "for {schema}");
    }
}

#[test]
fn handwritten_objects_and_maps() {
    let cases = [
        (
            json!({"type": "object", "additionalProperties": {"type": "integer"}}),
            "{ [key: string]: number }",
        ),
        (json!({"type": "object"}), "{ [key: string]: unknown }"),
        (
            json!({"type": "object", "properties": {"a": {"type": "string"}},
                   "additionalProperties": {"type": "string"}, "required": ["a"]}),
            "{ a: string; [key: string]: string }",
        ),
        (
            json!({"type": "object", "properties": {"a": {"type": "boolean"}},
                   "additionalProperties": {"type": "integer"}}),
            "{ a?: boolean; [key: string]: number | boolean | undefined }",
        ),
        (
            json!({"type": "object", "properties": {"a": {"type": "boolean"}},
                   "additionalProperties": true, "required": ["a"]}),
            "{ a: boolean; [key: string]: unknown }",
        ),
        (
            json!({"type": "object", "patternProperties": {"^x-": {"type": "string"}}}),
            "{ [key: string]: string }",
        ),
        (
            json!({"type": "object", "additionalProperties": false}),
            "{}",
        ),
    ];
    for (schema, expected) in cases {
        assert_eq!(result_type(schema.clone()), expected, "for {schema}");
    }
}

#[test]
fn const_enum_and_combinators() {
    let cases = [
        (json!({"const": "on"}), r#""on""#),
        (json!({"type": "integer", "enum": [1, 2, -3]}), "1 | 2 | -3"),
        (
            json!({"enum": ["a", null, true, 1.5]}),
            r#""a" | null | true | 1.5"#,
        ),
        (json!({"const": {"k": [1, "x"]}}), r#"{ k: [1, "x"] }"#),
        (json!({"enum": []}), "never"),
        (
            json!({"allOf": [{"type": "object", "properties": {"a": {"type": "string"}},
                   "required": ["a"]},
                  {"type": "object", "properties": {"b": {"type": "string"}},
                   "required": ["b"]}]}),
            "{ a: string } & { b: string }",
        ),
        (
            json!({"oneOf": [{"type": "string"}, {"type": "integer"}],
                   "allOf": [{"type": ["string", "integer", "null"]}]}),
            "(string | number | null) & (string | number)",
        ),
        (
            json!({"type": "array", "items": {"allOf": [
                {"type": "object", "properties": {"a": {"type": "string"}}},
                {"type": "object", "properties": {"b": {"type": "string"}}}]}}),
            "({ a?: string } & { b?: string })[]",
        ),
        (json!({"anyOf": [{"type": "string"}, true]}), "unknown"),
        (json!({"oneOf": [{"type": "string"}, false]}), "string"),
    ];
    for (schema, expected) in cases {
        assert_eq!(result_type(schema.clone()), expected, "for {schema}");
    }
}

#[test]
fn boolean_and_empty_schemas() {
    assert_eq!(result_type(json!(true)), "unknown");
    assert_eq!(result_type(json!({})), "unknown");
    assert_eq!(result_type(json!(false)), "never");
    let out = generate_ok(&[raw(
        "f",
        json!({"type": "object", "properties": {"any": true, "none": false},
               "required": ["any"]}),
        json!(null),
    )]);
    assert!(out.contains("  any: unknown;\n  none?: never;\n"), "{out}");
}

#[test]
fn empty_params_are_optional() {
    for params in [
        json!({"type": "object"}),
        json!({"type": "object", "properties": {}}),
        json!({"type": "object", "additionalProperties": false}),
        schema_for!(NoParams).to_value(),
    ] {
        let out = generate_ok(&[raw("ping", params.clone(), json!({"type": "null"}))]);
        assert!(
            out.contains("  ping(params?: {}): Promise<null>;\n"),
            "{params}: {out}"
        );
        assert!(!out.contains("PingParams"), "{params}: {out}");
    }
}

#[test]
fn property_docs_and_deprecation() {
    let out = generate_ok(&[raw(
        "f",
        json!({
            "type": "object",
            "description": "Params with docs.",
            "properties": {
                "old": {"type": "string", "deprecated": true, "description": "Use `new`."},
                "new": {"type": "string", "description": "Line one.\n\n  indented */ line."}
            }
        }),
        json!({"type": "null"}),
    )]);
    insta::assert_snapshot!(out);
}

#[test]
fn definitions_section_and_escaped_refs() {
    let out = generate_ok(&[raw(
        "f",
        json!({
            "type": "object",
            "properties": {
                "a": {"$ref": "#/definitions/Old"},
                "b": {"$ref": "#/$defs/a~1b"},
                "c": {"$ref": "#/$defs/With%20Space"}
            },
            "required": ["a", "b", "c"],
            "definitions": {"Old": {"type": "string"}},
            "$defs": {"a/b": {"type": "integer"}, "With Space": {"type": "boolean"}}
        }),
        json!({"type": "null"}),
    )]);
    assert!(out.contains("type Old = string;"), "{out}");
    assert!(out.contains("type a_b = number;"), "{out}");
    assert!(out.contains("type With_Space = boolean;"), "{out}");
    assert!(
        out.contains("  a: Old;\n  b: a_b;\n  c: With_Space;\n"),
        "{out}"
    );
}

#[test]
fn full_file() {
    insta::assert_snapshot!(generate_ok(&all_callbacks()));
}

#[test]
fn awkward_definition_names_are_sanitized() {
    let out = generate_ok(&[raw(
        "f",
        json!({
            "type": "object",
            "properties": {
                "a": {"$ref": "#/$defs/string"},
                "b": {"$ref": "#/$defs/3d"},
                "c": {"$ref": "#/$defs/Page<User>"},
                "d": {"$ref": "#/$defs/let"}
            },
            "required": ["a", "b", "c", "d"],
            "$defs": {
                "string": {"type": "string"},
                "3d": {"type": "integer"},
                "Page<User>": {"type": "boolean"},
                "let": {"type": "null"}
            }
        }),
        json!(null),
    )]);
    assert!(
        out.contains("  a: string_;\n  b: _3d;\n  c: Page_User_;\n  d: let;\n"),
        "{out}"
    );
    for declaration in [
        "type string_ = string;",
        "type _3d = number;",
        "type Page_User_ = boolean;",
        "type let = null;",
    ] {
        assert!(out.contains(declaration), "{declaration} in:\n{out}");
    }
}

#[test]
fn identical_definitions_are_emitted_once() {
    let out = generate_ok(&all_callbacks());
    for name in ["interface User ", "interface Tree ", "type JobEvent "] {
        assert_eq!(out.matches(name).count(), 1, "{name} in:\n{out}");
    }
}

#[test]
fn types_are_sorted_and_output_is_deterministic() {
    let callbacks = all_callbacks();
    let mut reversed = all_callbacks();
    reversed.reverse();
    let out = generate_ok(&callbacks);
    assert_eq!(out, generate_ok(&reversed));
    let names: Vec<&str> = out
        .lines()
        .filter_map(|line| {
            line.strip_prefix("interface ")
                .or_else(|| line.strip_prefix("type "))
        })
        .filter_map(|rest| rest.split([' ', '<']).next())
        .collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted);
}

#[test]
fn odd_schemas_do_not_crash() {
    let odd = [
        json!(42),
        json!("string"),
        json!(null),
        json!([1, 2]),
        json!({"type": 42}),
        json!({"type": "nonsense"}),
        json!({"type": "object", "properties": "not a map", "required": "x"}),
        json!({"type": "array", "items": 7, "minItems": -1, "maxItems": "x"}),
        json!({"type": "array", "prefixItems": [true], "minItems": 99, "maxItems": 0}),
        json!({"oneOf": "not an array", "anyOf": {}, "allOf": null}),
        json!({"$ref": 12}),
        json!({"not": {"type": "string"}, "if": true, "then": false}),
        json!({"description": 5, "deprecated": "yes"}),
        json!({"type": "object", "properties": {"": {}, "\"": {}, "a\nb": {}}}),
    ];
    for schema in odd {
        let params = json!({"type": "object", "properties": {"x": schema.clone()}});
        let out = generate(&[raw("odd", params, schema.clone())]);
        assert!(out.is_ok(), "{schema}: {out:?}");
    }
    assert_eq!(result_type(json!({"type": "nonsense"})), "unknown");
    assert_eq!(result_type(json!(42)), "unknown");
}

// ---- errors ------------------------------------------------------------------------------

#[test]
fn conflicting_definitions_are_an_error() {
    let error = generate_err(&[
        decl::<NoParams, Vec<User>>("users"),
        in_namespace(decl::<NoParams, Vec<other::User>>("users"), "other"),
    ]);
    assert_eq!(error.kind(), TsErrorKind::ConflictingType);
    let message = error.to_string();
    assert!(message.contains("`User`"), "{message}");
    assert!(
        message.contains("`$defs/User` in the result schema of `users`"),
        "{message}"
    );
    assert!(
        message.contains("`$defs/User` in the result schema of `other.users`"),
        "{message}"
    );
}

#[test]
fn serialize_and_deserialize_schemas_can_conflict() {
    let mut serialized = decl::<NoParams, Vec<Optionals>>("save");
    serialized.result = SchemaSettings::default()
        .for_serialize()
        .into_generator()
        .into_root_schema_for::<Vec<Optionals>>()
        .to_value();
    let deserialized = decl::<NoParams, Vec<Optionals>>("load");
    let error = generate_err(&[serialized, deserialized]);
    assert_eq!(error.kind(), TsErrorKind::ConflictingType);
    assert!(error.to_string().contains("`Optionals`"), "{error}");
}

#[test]
fn conflicting_params_name_is_an_error() {
    let error = generate_err(&[
        in_namespace(decl::<KvGetParams, ()>("get"), "kv"),
        decl::<KvSetParams, ()>("kvGet"),
    ]);
    assert_eq!(error.kind(), TsErrorKind::ConflictingType);
    assert!(error.to_string().contains("`KvGetParams`"), "{error}");
}

#[test]
fn unresolvable_refs_are_an_error() {
    for reference in [
        "#/$defs/Missing",
        "other.json#/$defs/User",
        "#/properties/a",
        "#/$defs/User/properties/id",
    ] {
        let error = generate_err(&[raw(
            "f",
            json!({"type": "object", "properties": {"a": {"$ref": reference}},
                   "$defs": {"User": {"type": "string"}}}),
            json!(null),
        )]);
        assert_eq!(error.kind(), TsErrorKind::UnresolvableRef, "{reference}");
        let message = error.to_string();
        assert!(message.contains(reference), "{message}");
        assert!(message.contains("the params schema of `f`"), "{message}");
    }
}

#[test]
fn duplicate_members_are_an_error() {
    let cases = [
        vec![decl::<NoParams, ()>("a"), decl::<NoParams, bool>("a")],
        vec![
            in_namespace(decl::<NoParams, ()>("a"), "kv"),
            in_namespace(decl::<NoParams, ()>("a"), "kv"),
        ],
        vec![
            decl::<NoParams, ()>("kv"),
            in_namespace(decl::<NoParams, ()>("a"), "kv"),
        ],
        vec![
            in_namespace(decl::<NoParams, ()>("a"), "kv"),
            decl::<NoParams, ()>("kv"),
        ],
        vec![decl::<NoParams, ()>("emit")],
        vec![in_namespace(decl::<NoParams, ()>("a"), "emit")],
    ];
    for callbacks in cases {
        let error = generate_err(&callbacks);
        assert_eq!(error.kind(), TsErrorKind::DuplicateMember, "{error}");
    }
    // `emit` is only reserved at the top level.
    generate_ok(&[in_namespace(decl::<NoParams, ()>("emit"), "events")]);
}

// ---- the TypeScript compiler -------------------------------------------------------------

/// Writes the generated declarations and `scripts` into a fresh directory and runs
/// `tsc --noEmit --strict` on them. Returns whether it passed and its output.
fn check_with_tsc(test_name: &str, scripts: &[(&str, &str)]) -> (bool, String) {
    let dir = std::env::temp_dir().join(format!(
        "outrigger-tsgen-{}-{test_name}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    std::fs::write(dir.join("host.d.ts"), generate_ok(&all_callbacks())).expect("write host.d.ts");
    for (name, text) in scripts {
        std::fs::write(dir.join(name), text).expect("write script");
    }
    let tsc = common::tsc();
    let output = Command::new(&tsc)
        .args([
            "--noEmit", "--strict", "--target", "es2022", "--pretty", "false",
        ])
        .arg("host.d.ts")
        .args(scripts.iter().map(|(name, _)| name))
        .current_dir(&dir)
        .output()
        .unwrap_or_else(|error| {
            panic!(
                "cannot run the TypeScript compiler {} (set OUTRIGGER_TSC to a working tsc, \
                 or unset it to use js-client/): {error}",
                tsc.display()
            )
        });
    let _ = std::fs::remove_dir_all(&dir);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// Groups tsc output into diagnostics: a line that starts at column 0 begins a new one,
/// indented lines continue it.
fn split_diagnostics(output: &str) -> Vec<String> {
    let mut diagnostics: Vec<String> = Vec::new();
    for line in output.lines() {
        match diagnostics.last_mut() {
            Some(last) if line.starts_with(char::is_whitespace) => {
                last.push('\n');
                last.push_str(line);
            }
            _ => diagnostics.push(line.to_owned()),
        }
    }
    diagnostics
}

const CORRECT_USAGE: &str = r#"
async function main(): Promise<void> {
  const user: User = await host.lookupUser({ id: 7 });
  const id: number = user.id;
  const email: string | null | undefined = user.email;
  const value: string | null = await host.kv.get({ key: "greeting" });
  const nothing: null = await host.kv.set({ key: "greeting", value: "hello" });
  const users: User[] = await host.listUsers();
  await host.listUsers({});

  const primitives = await host.echoPrimitives({
    text: "t", flag: true, nothing: null, small: 1, big: 2, signed: -3, ratio: 0.5, letter: "x",
  });
  const ratio: number = primitives.ratio;

  const options = await host.echoOptionals({ double: null });
  const maybeName: string | undefined = options.maybe_user?.name;

  const collections = await host.echoCollections({
    list: ["a"], nested: [[1]], sparse: [1, null], pair: [1, "one"], triple: [1, 2, 3],
    digest: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5, 6, 7,
             8, 9, 0, 1],
    set: ["x"], ordered: [1, 2],
  });
  const second: string = collections.pair[1];

  const labelled = await host.mapLabels({
    scores: { alice: 1.5 },
    users: { bob: { id: 1, name: "Bob" } },
    optional_values: { a: null, b: "b" },
  });
  const label: string | number | null | undefined = labelled["team"];
  const labelledAgain: Labelled = { name: "n", priority: 3, team: "core" };

  const shape: Shape = await host.paint({
    color: "dark_green",
    shape: { Group: ["Point", { Circle: 1 }, { Rect: { width: 1, height: 2 } }, { Line: [0, 1] }] },
  });

  const event = await host.nextEvent();
  switch (event.type) {
    case "started": break;
    case "progress": { const percent: number = event.percent; break; }
    case "finished": { const name: string = event.name; break; }
    default: { const unreachable: never = event; }
  }

  const message = await host.nextMessage();
  if (message.kind === "Move") { const x: number = message.data.x; }
  if (message.kind === "Pair") { const pair: [number, number] = message.data; }
  const ping: Message = { kind: "Ping" };

  const loose: Loose = await host.anything();
  const looseValues: Loose[] = [null, 1, ["a"], { name: "n" }];

  const envelope = await host.nextEnvelope();
  const envelopeId: number = envelope.id;
  if (envelope.type === "progress") { const percent: number = envelope.percent; }

  const tree: Tree = await host.growTree({ value: 1, next: { value: 2, next: null } });
  const childLabel: string | undefined = tree.children[0]?.children[0]?.label;
  const forest = await host.forest();
  const largest: Tree | null | undefined = forest.largest;

  const passed: unknown = await host.passThrough({ payload: { anything: [1, "two"] } });

  const documented: Documented = await host.headers({
    "content-type": "text/plain", "2fa": true, class: 1,
  });

  host.emit("started");
  host.emit("progress", { percent: 50 });

  // Precision checks: each of these lines must be a type error.
  // @ts-expect-error unknown colour
  await host.paint({ color: "blue", shape: "Point" });
  // @ts-expect-error missing tag content
  const badMessage: Message = { kind: "Text" };
  // @ts-expect-error tuple too short
  await host.echoCollections({ ...collections, triple: [1, 2] });
  // @ts-expect-error extra values must fit the index signature (string, or a field's type)
  const badLabels: Labelled = { name: "n", extra: true };
}
"#;

#[test]
fn tsc_accepts_correct_usage() {
    let (passed, output) = check_with_tsc("correct", &[("use.ts", CORRECT_USAGE)]);
    assert!(passed, "tsc rejected correct usage:\n{output}");
}

#[test]
fn tsc_rejects_incorrect_usage() {
    let scripts = [
        ("wrong_type.ts", "host.lookupUser({ id: \"7\" });\n"),
        ("missing_field.ts", "host.kv.set({ key: \"k\" });\n"),
        ("unknown_callback.ts", "host.lookupUsers({ id: 7 });\n"),
    ];
    let (passed, output) = check_with_tsc("incorrect", &scripts);
    assert!(!passed, "tsc accepted incorrect usage:\n{output}");
    let expectations = [
        (
            "wrong_type.ts",
            "Type 'string' is not assignable to type 'number'",
        ),
        (
            "missing_field.ts",
            "Property 'value' is missing in type '{ key: string; }' but required in type 'KvSetParams'",
        ),
        (
            "unknown_callback.ts",
            "Property 'lookupUsers' does not exist on type",
        ),
    ];
    let diagnostics = split_diagnostics(&output);
    for (file, expected) in expectations {
        let reported = diagnostics.iter().any(|diagnostic| {
            diagnostic.starts_with(&format!("{file}(")) && diagnostic.contains(expected)
        });
        assert!(reported, "no error `{expected}` for {file} in:\n{output}");
    }
    assert!(
        !output.lines().any(|line| line.starts_with("host.d.ts")),
        "errors in the generated file:\n{output}"
    );
}
