//! Attribute parsing: `#[outrigger::callbacks(namespace = "..")]` on the impl
//! block and `#[outrigger(rename = "..", skip, approval)]` on its methods.
//!
//! Both go through [`known_keys`], so an unknown or repeated key is reported
//! the same way at both levels, spanned at the key.

use proc_macro2::{Span, TokenStream};
use syn::meta::ParseNestedMeta;
use syn::parse::Parser;
use syn::spanned::Spanned;
use syn::{Attribute, LitStr, Result, Token};

/// The name of the per-method attribute.
pub(crate) const METHOD_ATTR: &str = "outrigger";

/// A name given in an attribute, with the span of its string literal.
#[derive(Clone)]
pub(crate) struct Named {
    pub(crate) value: String,
    pub(crate) span: Span,
}

/// The arguments of `#[outrigger::callbacks(..)]`.
#[derive(Default)]
pub(crate) struct SetArgs {
    pub(crate) namespace: Option<Named>,
}

/// The arguments of every `#[outrigger(..)]` on one method, merged.
#[derive(Default)]
pub(crate) struct MethodArgs {
    pub(crate) rename: Option<Named>,
    pub(crate) skip: Option<Span>,
    /// `approval`: each call waits for the pool's approver.
    pub(crate) approval: Option<Span>,
}

/// Parses the arguments of the impl-level attribute.
pub(crate) fn set_args(attr: TokenStream) -> Result<SetArgs> {
    let mut args = SetArgs::default();
    let mut seen = Vec::new();
    let parser = syn::meta::parser(known_keys(&["namespace"], &mut seen, |_namespace, meta| {
        args.namespace = Some(js_identifier(&meta.value()?.parse()?, "namespace")?);
        Ok(())
    }));
    parser.parse2(attr)?;
    Ok(args)
}

/// Removes every `#[outrigger(..)]` from `attrs` and parses them. All of a
/// method's attributes share one set of keys: `rename` given twice is an
/// error even across two attributes.
pub(crate) fn take_method_args(attrs: &mut Vec<Attribute>) -> Result<MethodArgs> {
    let mut args = MethodArgs::default();
    let mut seen = Vec::new();
    let mut result = Ok(());
    attrs.retain(|attr| {
        if !attr.path().is_ident(METHOD_ATTR) {
            return true;
        }
        let parsed = attr.parse_nested_meta(known_keys(
            &["rename", "skip", "approval"],
            &mut seen,
            |key, meta| {
                if key == "rename" {
                    args.rename = Some(js_identifier(&meta.value()?.parse()?, "callback name")?);
                } else {
                    if meta.input.peek(Token![=]) {
                        return Err(meta.error(format!(
                            "`{key}` takes no value: write `#[outrigger({key})]`"
                        )));
                    }
                    if key == "skip" {
                        args.skip = Some(meta.path.span());
                    } else {
                        args.approval = Some(meta.path.span());
                    }
                }
                Ok(())
            },
        ));
        if let Err(error) = parsed {
            combine(&mut result, error);
        }
        false
    });
    result?;
    if let (Some(skip), Some(_)) = (args.skip, &args.rename) {
        return Err(syn::Error::new(
            skip,
            "a skipped method is not a callback, so it cannot be renamed",
        ));
    }
    if let (Some(skip), Some(_)) = (args.skip, args.approval) {
        return Err(syn::Error::new(
            skip,
            "a skipped method is not a callback, so it cannot need approval",
        ));
    }
    Ok(args)
}

/// A nested-meta parser that accepts only `known` keys, each at most once
/// (`seen` records them, so one record can span several attributes), and
/// hands each to `f`.
fn known_keys<'a>(
    known: &'a [&'a str],
    seen: &'a mut Vec<String>,
    mut f: impl FnMut(&str, ParseNestedMeta) -> Result<()> + 'a,
) -> impl FnMut(ParseNestedMeta) -> Result<()> + 'a {
    move |meta| check_key(known, seen, meta, &mut f)
}

fn check_key(
    known: &[&str],
    seen: &mut Vec<String>,
    meta: ParseNestedMeta,
    f: &mut impl FnMut(&str, ParseNestedMeta) -> Result<()>,
) -> Result<()> {
    let key = meta
        .path
        .segments
        .iter()
        .map(|segment| segment.ident.to_string())
        .collect::<Vec<_>>()
        .join("::");
    if !known.contains(&key.as_str()) {
        let expected = known
            .iter()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ");
        return Err(meta.error(format!(
            "unknown argument `{key}`, expected one of: {expected}"
        )));
    }
    if seen.contains(&key) {
        return Err(meta.error(format!("duplicate argument `{key}`")));
    }
    seen.push(key.clone());
    f(&key, meta)
}

/// Checks that a name can be used from JavaScript as `host.<name>`.
fn js_identifier(lit: &LitStr, what: &str) -> Result<Named> {
    let value = lit.value();
    check_js_identifier(&value, what).map_err(|message| syn::Error::new(lit.span(), message))?;
    Ok(Named {
        value,
        span: lit.span(),
    })
}

/// `Err(message)` unless `name` matches `[A-Za-z_$][A-Za-z0-9_$]*` and is not
/// `emit` (which `host.emit` takes). `what` names the thing in the message.
pub(crate) fn check_js_identifier(name: &str, what: &str) -> std::result::Result<(), String> {
    let mut chars = name.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    if !valid {
        return Err(format!(
            "invalid {what} `{name}`: it must be a JavaScript identifier ([A-Za-z_$][A-Za-z0-9_$]*)"
        ));
    }
    if name == "emit" {
        return Err(format!(
            "invalid {what} `emit`: `host.emit` is reserved for sending events"
        ));
    }
    Ok(())
}

/// Adds `error` to the errors collected so far.
pub(crate) fn combine(result: &mut Result<()>, error: syn::Error) {
    match result {
        Ok(()) => *result = Err(error),
        Err(existing) => existing.combine(error),
    }
}
