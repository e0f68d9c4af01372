//! The typed model of a callback set, built from the impl block and checked.
//!
//! Every item keeps the span code generation and error messages point at.
//! Building the model is where user mistakes are found: each becomes a
//! spanned `syn::Error`, and all of them are reported together.

use std::collections::HashSet;

use heck::ToLowerCamelCase;
use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{
    Attribute, Error, Expr, ExprLit, FnArg, GenericArgument, Ident, ImplItem, ImplItemFn, ItemImpl,
    Lit, Meta, Pat, PathArguments, Result, ReturnType, Type,
};

use crate::parse::{self, combine, Named, SetArgs};

/// One `#[outrigger::callbacks]` impl block.
pub(crate) struct Set {
    /// The type the impl block is for.
    pub(crate) self_ty: Type,
    /// `namespace = ".."`, if given.
    pub(crate) namespace: Option<Named>,
    /// The callbacks, in the order of the impl block.
    pub(crate) callbacks: Vec<Callback>,
}

/// One callback method.
pub(crate) struct Callback {
    /// The method's name.
    pub(crate) rust_name: Ident,
    /// The name scripts call it by (camelCase, or `rename`), spanned at the
    /// `rename` literal or else the method's name.
    pub(crate) js_name: Named,
    /// The doc comment, lines joined with `\n` and trimmed.
    pub(crate) doc: Option<String>,
    /// `#[cfg(..)]` attributes of the method, repeated on everything
    /// generated for it.
    pub(crate) cfgs: Vec<Attribute>,
    /// The arguments scripts pass, in order, without `&self` and the context.
    pub(crate) args: Vec<Arg>,
    /// Where the `CallContext` argument sits among the method's arguments
    /// (not counting `&self`), if it takes one.
    pub(crate) context: Option<usize>,
    /// What the method returns.
    pub(crate) ret: Return,
    /// The method's name: where a future that is not `Send` is reported.
    pub(crate) span: Span,
    /// Whether each call waits for the pool's approver (`#[outrigger(approval)]`).
    pub(crate) approval: bool,
}

/// One argument scripts pass, a property of the params object.
pub(crate) struct Arg {
    /// The Rust name, also the field name of the params struct.
    pub(crate) name: Ident,
    /// The property name in JavaScript (camelCase).
    pub(crate) js_name: String,
    /// The argument's type.
    pub(crate) ty: Type,
    /// The argument's type, where a missing `Deserialize`/`JsonSchema` is reported.
    pub(crate) span: Span,
}

/// The return type of a callback.
pub(crate) enum Return {
    /// No return type: the script gets `null`.
    Unit,
    /// A plain `T`.
    Plain(Type),
    /// `Result<T, E>` (or an alias `Result<T>`): `T` is the value, `E` becomes a `CallbackError`.
    Result {
        /// `T`.
        ok: Type,
        /// `E`, where `E: Into<CallbackError>` is reported; `None` for an alias.
        err: Option<Box<Type>>,
    },
}

impl Return {
    /// The type of the value scripts get, and where errors about it point.
    pub(crate) fn value_type(&self) -> Option<&Type> {
        match self {
            Return::Unit => None,
            Return::Plain(ty) | Return::Result { ok: ty, .. } => Some(ty),
        }
    }
}

const NOT_ASYNC: &str =
    "callback methods must be `async fn` (or mark helpers with #[outrigger(skip)])";
const RECEIVER: &str = "callbacks take `&self`";

impl Set {
    /// Checks the impl block and builds the model, removing the
    /// `#[outrigger(..)]` attributes from its methods.
    pub(crate) fn from_impl(args: SetArgs, item: &mut ItemImpl) -> Result<Set> {
        let mut result = Ok(());
        if let Some((_, path, _)) = &item.trait_ {
            combine(
                &mut result,
                Error::new_spanned(
                    path,
                    "#[outrigger::callbacks] goes on an inherent impl block (`impl Tools { .. }`), not on a trait impl",
                ),
            );
        }
        if !item.generics.params.is_empty() {
            combine(
                &mut result,
                Error::new_spanned(&item.generics, "callback sets cannot be generic"),
            );
        }

        let mut callbacks: Vec<Callback> = Vec::new();
        let mut names = HashSet::new();
        for impl_item in &mut item.items {
            let ImplItem::Fn(method) = impl_item else {
                continue;
            };
            let method_args = match parse::take_method_args(&mut method.attrs) {
                Ok(method_args) => method_args,
                Err(error) => {
                    combine(&mut result, error);
                    continue;
                }
            };
            if method_args.skip.is_some() {
                continue;
            }
            match Callback::from_method(method, method_args.rename) {
                Ok(mut callback) => {
                    callback.approval = method_args.approval.is_some();
                    if !names.insert(callback.js_name.value.clone()) {
                        let message =
                            format!("duplicate callback name `{}`", callback.js_name.value);
                        combine(&mut result, Error::new(callback.js_name.span, message));
                    }
                    callbacks.push(callback);
                }
                Err(error) => combine(&mut result, error),
            }
        }
        result?;
        Ok(Set {
            self_ty: (*item.self_ty).clone(),
            namespace: args.namespace,
            callbacks,
        })
    }
}

impl Callback {
    fn from_method(method: &ImplItemFn, rename: Option<Named>) -> Result<Callback> {
        let sig = &method.sig;
        let mut result = Ok(());
        if sig.asyncness.is_none() {
            let fn_token = sig.fn_token;
            let ident = &sig.ident;
            combine(
                &mut result,
                Error::new_spanned(quote::quote!(#fn_token #ident), NOT_ASYNC),
            );
        }
        if let Some(unsafety) = sig.unsafety {
            combine(
                &mut result,
                Error::new(unsafety.span, "callbacks cannot be `unsafe fn`"),
            );
        }
        if !sig.generics.params.is_empty() {
            combine(
                &mut result,
                Error::new_spanned(&sig.generics, "callbacks cannot be generic"),
            );
        }
        match sig.inputs.first() {
            Some(FnArg::Receiver(receiver)) => {
                if receiver.reference.is_none()
                    || receiver.mutability.is_some()
                    || receiver.colon_token.is_some()
                {
                    combine(&mut result, Error::new_spanned(receiver, RECEIVER));
                }
            }
            _ => combine(
                &mut result,
                Error::new(sig.paren_token.span.join(), RECEIVER),
            ),
        }

        let mut args = Vec::new();
        let mut context = None;
        let mut arg_names = HashSet::new();
        let typed = sig.inputs.iter().filter_map(|input| match input {
            FnArg::Typed(typed) => Some(typed),
            FnArg::Receiver(_) => None,
        });
        for (position, typed) in typed.enumerate() {
            match context_kind(&typed.ty) {
                Some(ContextKind::ByValue) => {
                    if context.is_some() {
                        let message = "a callback takes at most one `CallContext` argument";
                        combine(&mut result, Error::new_spanned(typed, message));
                    }
                    context = Some(position);
                    continue;
                }
                Some(ContextKind::ByReference) => {
                    let message =
                        "take the context by value (`ctx: CallContext`); it is cheap to clone";
                    combine(&mut result, Error::new_spanned(&typed.ty, message));
                    continue;
                }
                None => {}
            }
            let name = match &*typed.pat {
                Pat::Ident(pat) if pat.by_ref.is_none() && pat.subpat.is_none() => {
                    pat.ident.clone()
                }
                pat => {
                    let message = "callback arguments must be plain names (`name: Type`): \
                                   the name is the property scripts pass";
                    combine(&mut result, Error::new_spanned(pat, message));
                    continue;
                }
            };
            if let Err(error) = check_type(&typed.ty, Position::Argument) {
                combine(&mut result, error);
                continue;
            }
            let js_name = name.unraw().to_string().to_lower_camel_case();
            if !arg_names.insert(js_name.clone()) {
                combine(
                    &mut result,
                    Error::new(name.span(), format!("duplicate argument name `{js_name}`")),
                );
            }
            args.push(Arg {
                name,
                js_name,
                ty: (*typed.ty).clone(),
                span: typed.ty.span(),
            });
        }

        let ret = match &sig.output {
            ReturnType::Default => Return::Unit,
            ReturnType::Type(_, ty) => {
                if let Err(error) = check_type(ty, Position::Result) {
                    combine(&mut result, error);
                }
                match result_types(ty) {
                    Some((ok, err)) => Return::Result {
                        ok: ok.clone(),
                        err: err.map(|err| Box::new(err.clone())),
                    },
                    None => Return::Plain((**ty).clone()),
                }
            }
        };

        let js_name = match rename {
            Some(rename) => rename,
            None => {
                let value = sig.ident.unraw().to_string().to_lower_camel_case();
                if let Err(message) = parse::check_js_identifier(&value, "callback name") {
                    let message = format!("{message}; name it with #[outrigger(rename = \"..\")]");
                    combine(&mut result, Error::new(sig.ident.span(), message));
                }
                Named {
                    value,
                    span: sig.ident.span(),
                }
            }
        };

        result?;
        Ok(Callback {
            rust_name: sig.ident.clone(),
            js_name,
            doc: doc_string(&method.attrs),
            cfgs: method
                .attrs
                .iter()
                .filter(|a| a.path().is_ident("cfg"))
                .cloned()
                .collect(),
            args,
            context,
            ret,
            span: sig.ident.span(),
            approval: false,
        })
    }
}

enum ContextKind {
    ByValue,
    ByReference,
}

/// Whether `ty` is the call context: a path whose last segment is `CallContext`.
fn context_kind(ty: &Type) -> Option<ContextKind> {
    match ty {
        Type::Path(path) if path.qself.is_none() => {
            let last = path.path.segments.last()?;
            (last.ident == "CallContext" && last.arguments.is_empty())
                .then_some(ContextKind::ByValue)
        }
        Type::Reference(reference) => {
            context_kind(&reference.elem).map(|_| ContextKind::ByReference)
        }
        Type::Group(group) => context_kind(&group.elem),
        Type::Paren(paren) => context_kind(&paren.elem),
        _ => None,
    }
}

/// `T` and `E` of `Result<T, E>`, or `T` of an alias `Result<T>`.
fn result_types(ty: &Type) -> Option<(&Type, Option<&Type>)> {
    let Type::Path(path) = ty else { return None };
    if path.qself.is_some() {
        return None;
    }
    let last = path.path.segments.last()?;
    if last.ident != "Result" {
        return None;
    }
    let PathArguments::AngleBracketed(arguments) = &last.arguments else {
        return None;
    };
    let mut types = arguments.args.iter().filter_map(|argument| match argument {
        GenericArgument::Type(ty) => Some(ty),
        _ => None,
    });
    let ok = types.next()?;
    Some((ok, types.next()))
}

#[derive(Clone, Copy)]
enum Position {
    Argument,
    Result,
}

/// Rejects what cannot cross as JSON: `impl Trait`, and borrowed types
/// (references, lifetimes other than `'static`) anywhere inside `ty`.
fn check_type(ty: &Type, position: Position) -> Result<()> {
    let borrowed = || {
        let message = match position {
            Position::Argument => "callback arguments must be owned types (`String`, not `&str`): they are parsed from JSON",
            Position::Result => "callback results must be owned types (`String`, not `&str`)",
        };
        Error::new_spanned(ty, message)
    };
    match ty {
        Type::ImplTrait(_) => {
            let message = match position {
                Position::Argument => {
                    "callback arguments cannot be `impl Trait`: use a concrete type"
                }
                Position::Result => "callback results cannot be `impl Trait`: use a concrete type",
            };
            Err(Error::new_spanned(ty, message))
        }
        Type::Reference(_) => Err(borrowed()),
        Type::Path(path) => {
            if let Some(qself) = &path.qself {
                check_type(&qself.ty, position)?;
            }
            for segment in &path.path.segments {
                let PathArguments::AngleBracketed(arguments) = &segment.arguments else {
                    continue;
                };
                for argument in &arguments.args {
                    match argument {
                        GenericArgument::Type(ty) => check_type(ty, position)?,
                        GenericArgument::AssocType(assoc) => check_type(&assoc.ty, position)?,
                        GenericArgument::Lifetime(lifetime) if lifetime.ident != "static" => {
                            return Err(borrowed());
                        }
                        _ => {}
                    }
                }
            }
            Ok(())
        }
        Type::Array(array) => check_type(&array.elem, position),
        Type::Slice(slice) => check_type(&slice.elem, position),
        Type::Group(group) => check_type(&group.elem, position),
        Type::Paren(paren) => check_type(&paren.elem, position),
        Type::Ptr(ptr) => check_type(&ptr.elem, position),
        Type::Tuple(tuple) => tuple
            .elems
            .iter()
            .try_for_each(|elem| check_type(elem, position)),
        _ => Ok(()),
    }
}

/// The doc comment: one leading space removed from each line, lines joined
/// with `\n`, the whole trimmed; `None` when there is none.
fn doc_string(attrs: &[Attribute]) -> Option<String> {
    let mut lines = Vec::new();
    for attr in attrs {
        if !attr.path().is_ident("doc") {
            continue;
        }
        if let Meta::NameValue(meta) = &attr.meta {
            if let Expr::Lit(ExprLit {
                lit: Lit::Str(text),
                ..
            }) = &meta.value
            {
                let text = text.value();
                for line in text.split('\n') {
                    lines.push(line.strip_prefix(' ').unwrap_or(line).trim_end().to_owned());
                }
            }
        }
    }
    let doc = lines.join("\n");
    let doc = doc.trim();
    (!doc.is_empty()).then(|| doc.to_owned())
}
