//! TypeScript in, JavaScript out, by erasing the types: every type
//! annotation, type-only declaration and TypeScript modifier is replaced by
//! blanks, so the JavaScript left keeps every line and column of the
//! TypeScript the user wrote (errors and stacks point into their code, with
//! no source map). What has no erasure (enums, namespaces with values,
//! parameter properties, `import x = require()`, `export =`) is refused
//! with a `SyntaxError` saying it needs a transform. Parsing is `oxc`'s.

use oxc_allocator::Allocator;
use oxc_ast::ast::*;
use oxc_ast_visit::{walk, Visit};
use oxc_span::{GetSpan, SourceType, Span};
use oxc_syntax::scope::ScopeFlags;

/// TypeScript that cannot be turned into JavaScript by erasing types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StripError {
    pub(crate) message: String,
    /// 1-based.
    pub(crate) line: u32,
    /// 1-based, in UTF-16 units (as engines count).
    pub(crate) column: u32,
}

/// A `StripError` as the error of the script named `script`.
pub(crate) fn script_error(error: StripError, script: &str) -> crate::error::Error {
    crate::error::Error::Script {
        name: "SyntaxError".into(),
        message: error.message,
        stack: None,
        script: script.to_owned(),
        line: Some(error.line),
        column: Some(error.column),
    }
}

/// Whether a file name says TypeScript: `.ts`, `.mts` or `.cts`.
pub(crate) fn is_typescript(name: &str) -> bool {
    [".ts", ".mts", ".cts"]
        .iter()
        .any(|ext| name.ends_with(ext))
        && !name.ends_with(".d.ts")
}

/// `source` (an ES module in TypeScript) with its types erased.
pub(crate) fn strip(source: &str) -> Result<String, StripError> {
    let allocator = Allocator::default();
    let parsed =
        oxc_parser::Parser::new(&allocator, source, SourceType::ts().with_module(true)).parse();
    if let Some(error) = parsed.diagnostics.first() {
        let at = error
            .labels
            .as_ref()
            .first()
            .map_or(0, |label| label.offset());
        return Err(error_at(source, at as usize, error.message.to_string()));
    }
    let mut eraser = Eraser {
        source,
        erase: Vec::new(),
        error: None,
    };
    eraser.visit_program(&parsed.program);
    if let Some((at, message)) = eraser.error {
        return Err(error_at(source, at, message));
    }
    Ok(apply(source, eraser.erase))
}

/// A position in `source` as a `StripError`.
fn error_at(source: &str, offset: usize, message: String) -> StripError {
    let before = &source[..offset.min(source.len())];
    let line = before.matches('\n').count() as u32 + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].encode_utf16().count() as u32 + 1;
    StripError {
        message,
        line,
        column,
    }
}

/// What to do with a range of the source.
#[derive(Debug, Clone, Copy)]
enum Erase {
    /// Blank it.
    Blank(u32, u32),
    /// Blank it, but for a `;` in its place, so that the code after it is
    /// never read as part of the statement before (a whole statement gone).
    Statement(u32, u32),
}

/// `source` with each range blanked: every character becomes a space (two
/// for one outside the BMP, as engines count columns in UTF-16 units), line
/// breaks stay.
fn apply(source: &str, mut erase: Vec<Erase>) -> String {
    let range = |e: &Erase| match *e {
        Erase::Blank(start, end) | Erase::Statement(start, end) => (start as usize, end as usize),
    };
    erase.sort_by_key(|e| range(e).0);
    let mut out = String::with_capacity(source.len());
    let mut at = 0;
    for e in &erase {
        let (start, end) = range(e);
        if end <= at {
            continue;
        }
        let start = start.max(at);
        out.push_str(&source[at..start]);
        let mut first = matches!(e, Erase::Statement(..));
        for c in source[start..end].chars() {
            match c {
                '\n' | '\r' | '\u{2028}' | '\u{2029}' => out.push(c),
                _ if first => {
                    out.push(';');
                    if c.len_utf16() == 2 {
                        out.push(' ');
                    }
                    first = false;
                }
                _ => {
                    for _ in 0..c.len_utf16() {
                        out.push(' ');
                    }
                }
            }
        }
        at = end;
    }
    out.push_str(&source[at..]);
    out
}

struct Eraser<'s> {
    source: &'s str,
    erase: Vec<Erase>,
    /// The first thing that cannot be erased: where, and why.
    error: Option<(usize, String)>,
}

const TRANSFORM: &str =
    "(erasing types cannot turn it into JavaScript; outrigger runs TypeScript without a transform)";

impl Eraser<'_> {
    fn blank(&mut self, span: Span) {
        self.erase.push(Erase::Blank(span.start, span.end));
    }

    fn blank_range(&mut self, start: u32, end: u32) {
        if start < end {
            self.erase.push(Erase::Blank(start, end));
        }
    }

    fn blank_statement(&mut self, span: Span) {
        self.erase.push(Erase::Statement(span.start, span.end));
    }

    fn refuse(&mut self, at: u32, what: &str, instead: &str) {
        if self.error.is_none() {
            self.error = Some((at as usize, format!("{what} {TRANSFORM}: {instead}")));
        }
    }

    /// Blanks `span` and a `,` right after it (a list item that goes).
    fn blank_item(&mut self, span: Span) {
        let rest = &self.source[span.end as usize..];
        let skipped = rest.len() - rest.trim_start().len();
        let end = if rest.trim_start().starts_with(',') {
            span.end + skipped as u32 + 1
        } else {
            span.end
        };
        self.blank_range(span.start, end);
    }

    /// Blanks the TypeScript-only modifier keywords between `start` and `end`.
    fn blank_modifiers(&mut self, start: u32, end: u32) {
        const MODIFIERS: [&str; 7] = [
            "public",
            "private",
            "protected",
            "readonly",
            "override",
            "abstract",
            "declare",
        ];
        let text = &self.source[start as usize..end as usize];
        let mut offset = 0;
        for word in text.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$')) {
            if MODIFIERS.contains(&word) {
                let at = start + offset as u32;
                self.blank_range(at, at + word.len() as u32);
            }
            offset += word.len() + 1;
        }
    }

    /// Blanks the first `mark` (`?` or `!`) between `start` and `end`.
    fn blank_mark(&mut self, start: u32, end: u32, mark: char) {
        if let Some(i) = self.source[start as usize..end as usize].find(mark) {
            let at = start + i as u32;
            self.blank_range(at, at + 1);
        }
    }

    /// A declaration that is only types: blanked whole; `false` if it has values.
    fn erase_declaration(&mut self, declaration: &Declaration, whole: Span) -> bool {
        match declaration {
            Declaration::TSTypeAliasDeclaration(_) | Declaration::TSInterfaceDeclaration(_) => {}
            Declaration::TSEnumDeclaration(e) if e.declare => {}
            Declaration::TSEnumDeclaration(e) => {
                self.refuse(
                    e.span.start,
                    "a TypeScript `enum`",
                    "use an object `as const`, or a union of string literals",
                );
                return true;
            }
            Declaration::TSExternalModuleDeclaration(_) | Declaration::TSGlobalDeclaration(_) => {}
            Declaration::TSNamespaceDeclaration(n) if n.declare => {}
            Declaration::TSNamespaceDeclaration(n) => {
                self.refuse(
                    n.span.start,
                    "a TypeScript `namespace` with values",
                    "use an ES module or an object",
                );
                return true;
            }
            Declaration::TSImportEqualsDeclaration(i) if i.import_kind.is_type() => {}
            Declaration::TSImportEqualsDeclaration(i) => {
                self.refuse(
                    i.span.start,
                    "`import x = require(...)`",
                    "use `import x from '...'`",
                );
                return true;
            }
            Declaration::VariableDeclaration(v) if v.declare => {}
            Declaration::FunctionDeclaration(f) if f.declare || f.body.is_none() => {}
            Declaration::ClassDeclaration(c) if c.declare => {}
            _ => return false,
        }
        self.blank_statement(whole);
        true
    }

    fn class_member_modifiers(&mut self, start: u32, decorators: &[Decorator], key: &PropertyKey) {
        let from = decorators.last().map_or(start, |d| d.span.end);
        self.blank_modifiers(from, key.span().start);
    }
}

impl<'a> Visit<'a> for Eraser<'_> {
    fn visit_statement(&mut self, it: &Statement<'a>) {
        match it {
            Statement::TSExportAssignment(e) => {
                self.refuse(e.span.start, "`export =`", "use `export default`");
            }
            Statement::TSNamespaceExportDeclaration(e) => self.blank_statement(e.span),
            Statement::ExportDeclaration(e) => {
                if !self.erase_declaration(&e.declaration, e.span) {
                    walk::walk_statement(self, it);
                }
            }
            Statement::ExportDefaultDeclaration(e) => match &e.declaration {
                ExportDefaultDeclarationKind::TSInterfaceDeclaration(_) => {
                    self.blank_statement(e.span)
                }
                ExportDefaultDeclarationKind::FunctionDeclaration(f) if f.body.is_none() => {
                    self.blank_statement(e.span)
                }
                _ => walk::walk_statement(self, it),
            },
            _ => {
                if let Some(declaration) = it.as_declaration() {
                    if self.erase_declaration(declaration, it.span()) {
                        return;
                    }
                }
                walk::walk_statement(self, it);
            }
        }
    }

    fn visit_import_declaration(&mut self, it: &ImportDeclaration<'a>) {
        if it.import_kind.is_type() {
            return self.blank_statement(it.span);
        }
        let Some(specifiers) = &it.specifiers else {
            return;
        };
        let typed: Vec<Span> = specifiers
            .iter()
            .filter_map(|s| match s {
                ImportDeclarationSpecifier::ImportSpecifier(s) if s.import_kind.is_type() => {
                    Some(s.span)
                }
                _ => None,
            })
            .collect();
        if !typed.is_empty() && typed.len() == specifiers.len() {
            // Only types imported: the import goes, as TypeScript elides it.
            return self.blank_statement(it.span);
        }
        for span in typed {
            self.blank_item(span);
        }
    }

    fn visit_export_named_declaration(&mut self, it: &ExportNamedDeclaration<'a>) {
        let typed: Vec<Span> = it
            .specifiers
            .iter()
            .filter(|s| s.export_kind.is_type())
            .map(|s| s.span)
            .collect();
        if it.export_kind.is_type() || (!typed.is_empty() && typed.len() == it.specifiers.len()) {
            return self.blank_statement(it.span);
        }
        for span in typed {
            self.blank_item(span);
        }
    }

    fn visit_export_from_declaration(&mut self, it: &ExportFromDeclaration<'a>) {
        let typed: Vec<Span> = it
            .specifiers
            .iter()
            .filter(|s| s.export_kind.is_type())
            .map(|s| s.span)
            .collect();
        if it.export_kind.is_type() || (!typed.is_empty() && typed.len() == it.specifiers.len()) {
            return self.blank_statement(it.span);
        }
        for span in typed {
            self.blank_item(span);
        }
    }

    fn visit_export_all_declaration(&mut self, it: &ExportAllDeclaration<'a>) {
        if it.export_kind.is_type() {
            self.blank_statement(it.span);
        }
    }

    fn visit_ts_type_annotation(&mut self, it: &TSTypeAnnotation<'a>) {
        self.blank(it.span);
    }

    fn visit_ts_type_parameter_declaration(&mut self, it: &TSTypeParameterDeclaration<'a>) {
        self.blank(it.span);
    }

    fn visit_ts_type_parameter_instantiation(&mut self, it: &TSTypeParameterInstantiation<'a>) {
        self.blank(it.span);
    }

    fn visit_ts_as_expression(&mut self, it: &TSAsExpression<'a>) {
        self.blank_range(it.expression.span().end, it.span.end);
        self.visit_expression(&it.expression);
    }

    fn visit_ts_satisfies_expression(&mut self, it: &TSSatisfiesExpression<'a>) {
        self.blank_range(it.expression.span().end, it.span.end);
        self.visit_expression(&it.expression);
    }

    fn visit_ts_non_null_expression(&mut self, it: &TSNonNullExpression<'a>) {
        self.blank_range(it.expression.span().end, it.span.end);
        self.visit_expression(&it.expression);
    }

    fn visit_ts_type_assertion(&mut self, it: &TSTypeAssertion<'a>) {
        self.blank_range(it.span.start, it.expression.span().start);
        self.visit_expression(&it.expression);
    }

    fn visit_ts_instantiation_expression(&mut self, it: &TSInstantiationExpression<'a>) {
        self.blank(it.type_arguments.span);
        self.visit_expression(&it.expression);
    }

    fn visit_function(&mut self, it: &Function<'a>, flags: ScopeFlags) {
        if let Some(this) = &it.this_param {
            self.blank_item(this.span);
        }
        walk::walk_function(self, it, flags);
    }

    fn visit_arrow_function_expression(&mut self, it: &ArrowFunctionExpression<'a>) {
        if let Some(returns) = &it.return_type {
            let between = &self.source[it.params.span.end as usize..returns.span.end as usize];
            if between.contains('\n') {
                self.refuse(
                    returns.span.start,
                    "an arrow function whose return type spans lines",
                    "keep `): Type =>` on one line",
                );
            }
        }
        walk::walk_arrow_function_expression(self, it);
    }

    fn visit_formal_parameter(&mut self, it: &FormalParameter<'a>) {
        if it.accessibility.is_some() || it.readonly || it.r#override {
            self.refuse(
                it.span.start,
                "a parameter property (`constructor(private x)`)",
                "declare the field and assign it in the constructor",
            );
        }
        if it.optional {
            let end = it
                .type_annotation
                .as_ref()
                .map_or(it.span.end, |t| t.span.start);
            self.blank_mark(it.pattern.span().end, end, '?');
        }
        walk::walk_formal_parameter(self, it);
    }

    fn visit_variable_declarator(&mut self, it: &VariableDeclarator<'a>) {
        if it.definite {
            let end = it
                .type_annotation
                .as_ref()
                .map_or(it.span.end, |t| t.span.start);
            self.blank_mark(it.id.span().end, end, '!');
        }
        walk::walk_variable_declarator(self, it);
    }

    fn visit_class(&mut self, it: &Class<'a>) {
        let from = it.decorators.last().map_or(it.span.start, |d| d.span.end);
        let keyword = self.source[from as usize..it.span.end as usize]
            .find("class")
            .map_or(from, |i| from + i as u32);
        self.blank_modifiers(from, keyword);
        if let (Some(first), Some(last)) = (it.implements.first(), it.implements.last()) {
            let before = &self.source[..first.span.start as usize];
            let start = before
                .rfind("implements")
                .map_or(first.span.start, |i| i as u32);
            self.blank_range(start, last.span.end);
        }
        walk::walk_class(self, it);
    }

    fn visit_class_element(&mut self, it: &ClassElement<'a>) {
        match it {
            ClassElement::TSIndexSignature(s) => self.blank_statement(s.span),
            ClassElement::MethodDefinition(m) => {
                if m.r#type == MethodDefinitionType::TSAbstractMethodDefinition
                    || m.value.body.is_none()
                {
                    return self.blank_statement(m.span);
                }
                self.class_member_modifiers(m.span.start, &m.decorators, &m.key);
                if m.optional {
                    self.blank_mark(m.key.span().end, m.value.params.span.start, '?');
                }
                walk::walk_class_element(self, it);
            }
            ClassElement::PropertyDefinition(p) => {
                if p.declare || p.r#type == PropertyDefinitionType::TSAbstractPropertyDefinition {
                    return self.blank_statement(p.span);
                }
                self.class_member_modifiers(p.span.start, &p.decorators, &p.key);
                let end = p
                    .type_annotation
                    .as_ref()
                    .map_or(p.span.end, |t| t.span.start);
                if p.optional {
                    self.blank_mark(p.key.span().end, end, '?');
                }
                if p.definite {
                    self.blank_mark(p.key.span().end, end, '!');
                }
                walk::walk_class_element(self, it);
            }
            ClassElement::AccessorProperty(p) => {
                if p.r#type == AccessorPropertyType::TSAbstractAccessorProperty {
                    return self.blank_statement(p.span);
                }
                self.class_member_modifiers(p.span.start, &p.decorators, &p.key);
                walk::walk_class_element(self, it);
            }
            ClassElement::StaticBlock(_) => walk::walk_class_element(self, it),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn js(ts: &str) -> String {
        strip(ts).unwrap_or_else(|e| panic!("{e:?}"))
    }

    #[test]
    fn types_become_blanks_and_positions_stay() {
        let ts = "const x: number = 1;\nfunction f<T>(a: T, b?: string): T { return a as T; }\nexport default f(x)!;";
        let out = js(ts);
        assert_eq!(out.len(), ts.len());
        assert_eq!(out.lines().count(), ts.lines().count());
        assert_eq!(out, "const x         = 1;\nfunction f   (a   , b         )    { return a     ; }\nexport default f(x) ;");
    }

    #[test]
    fn type_only_statements_leave_a_semicolon() {
        let out = js("let a = 1\ntype A = string\n[1, 2].forEach(() => {})\ninterface B { x: number }\nexport type { A };");
        assert_eq!(out.lines().nth(1).unwrap().trim_end(), ";");
        assert!(out.lines().nth(3).unwrap().starts_with(';'));
        assert!(!out.contains("interface"));
    }

    #[test]
    fn classes_lose_their_modifiers_and_keep_their_code() {
        let ts = "abstract class A<T> implements I, J {\n  private readonly x: number = 1;\n  declare y: string;\n  z?: number;\n  w!: string;\n  [key: string]: unknown;\n  abstract m(): void;\n  public static s(): void {}\n  o?(): void;\n}";
        let out = js(ts);
        assert!(
            !out.contains("abstract") && !out.contains("private") && !out.contains("implements"),
            "{out}"
        );
        assert!(out.contains("x"), "{out}");
        assert!(out.contains("static s()"), "{out}");
    }

    #[test]
    fn imports_of_types_go() {
        assert_eq!(
            js("import type { A } from './a';")
                .trim_start_matches(';')
                .trim(),
            ""
        );
        let out = js("import { type A, b } from './a';");
        assert!(
            out.contains("b } from './a'") && !out.contains('A'),
            "{out}"
        );
        assert!(js("import { type A } from './a';").starts_with(';'));
    }

    #[test]
    fn what_needs_a_transform_is_refused_where_it_is() {
        for (ts, what, line) in [
            ("const a = 1;\nenum Color { Red }", "enum", 2),
            (
                "class P {\n  constructor(private x: number) {}\n}",
                "parameter property",
                2,
            ),
            ("namespace N { export const x = 1; }", "namespace", 1),
            ("import fs = require('fs');", "require", 1),
        ] {
            let error = strip(ts).unwrap_err();
            assert!(error.message.contains(what), "{ts}: {}", error.message);
            assert!(error.message.contains("transform"), "{}", error.message);
            assert_eq!(error.line, line, "{ts}");
        }
        assert!(strip("declare enum E { A }\ndeclare namespace N { const x: number }").is_ok());
    }

    #[test]
    fn a_syntax_error_says_where() {
        let error = strip("const a = 1;\nconst b: = 2;").unwrap_err();
        assert_eq!(error.line, 2);
    }
}
