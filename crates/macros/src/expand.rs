//! Code generation: the impl block as written, then a `const _: () = { .. };`
//! with a params struct per callback and the `CallbackSet` impl.
//!
//! Everything generated calls into `::outrigger::__private`, so the user's
//! crate needs no dependency but `outrigger`. Checks the compiler does best
//! (params `Deserialize + JsonSchema`, result `Serialize + JsonSchema`,
//! `E: Into<CallbackError>`, future `Send`) are left to it, with the
//! generated code spanned at the user's tokens so the errors point there.

use heck::ToUpperCamelCase;
use proc_macro2::{Group, Span, TokenStream, TokenTree};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::ext::IdentExt;
use syn::{Error, Ident, Item, ItemImpl, Result, Type};

use crate::model::{Callback, Return, Set};
use crate::parse::{self, combine};

/// Expands `#[outrigger::callbacks(attr)] item`.
pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> Result<TokenStream> {
    let mut result = Ok(());
    let args = parse::set_args(attr).unwrap_or_else(|error| {
        combine(&mut result, error);
        Default::default()
    });
    let mut item = match syn::parse2::<Item>(item)? {
        Item::Impl(item) => item,
        item => {
            let message =
                "#[outrigger::callbacks] goes on an impl block: `impl Tools { async fn .. }`";
            return Err(Error::new_spanned(item, message));
        }
    };
    let set = Set::from_impl(args, &mut item);
    let set = match (result, set) {
        (Ok(()), set) => set?,
        (Err(mut error), Err(more)) => {
            error.combine(more);
            return Err(error);
        }
        (Err(error), Ok(_)) => return Err(error),
    };
    let generated = generate(&set);
    Ok(quote! {
        #item
        #generated
    })
}

/// The item without its `#[outrigger(..)]` attributes, emitted next to the
/// errors so that code using the type does not fail as well.
pub(crate) fn fallback(item: TokenStream) -> TokenStream {
    match syn::parse2::<ItemImpl>(item.clone()) {
        Ok(mut item) => {
            for impl_item in &mut item.items {
                if let syn::ImplItem::Fn(method) = impl_item {
                    method
                        .attrs
                        .retain(|attr| !attr.path().is_ident(parse::METHOD_ATTR));
                }
            }
            item.into_token_stream()
        }
        Err(_) => item,
    }
}

/// The path everything generated calls into.
fn private() -> TokenStream {
    quote!(::outrigger::__private)
}

fn generate(set: &Set) -> TokenStream {
    let private = private();
    let self_ty = &set.self_ty;
    let namespace = match &set.namespace {
        Some(namespace) => {
            let value = &namespace.value;
            quote!(#private::Option::Some(#private::String::from(#value)))
        }
        None => quote!(#private::Option::None),
    };

    let mut structs = Vec::new();
    let mut decls = Vec::new();
    let mut handlers = Vec::new();
    let mut used_names = Vec::new();
    for callback in &set.callbacks {
        let params = params_ident(callback, &mut used_names);
        structs.push(params_struct(set, callback, &params));
        decls.push(declaration(callback, &params, &namespace));
        handlers.push(handler(set, callback, &params));
    }

    quote! {
        const _: () = {
            #(#structs)*

            impl #private::CallbackSet for #self_ty {
                fn declarations() -> #private::Vec<#private::CallbackDecl> {
                    let mut declarations = #private::Vec::new();
                    #(#decls)*
                    declarations
                }

                fn handlers(
                    self: #private::Arc<Self>,
                ) -> #private::Vec<(#private::String, #private::Handler)> {
                    let mut handlers = #private::Vec::new();
                    #(#handlers)*
                    handlers
                }
            }
        };
    }
}

/// `__OutriggerLookupUserParams`, unique within the set.
fn params_ident(callback: &Callback, used: &mut Vec<String>) -> Ident {
    let base = format!(
        "__Outrigger{}Params",
        callback.rust_name.unraw().to_string().to_upper_camel_case()
    );
    let mut name = base.clone();
    let mut n = 2;
    while used.contains(&name) {
        name = format!("{base}{n}");
        n += 1;
    }
    used.push(name.clone());
    format_ident!("{}", name)
}

/// The struct the params object is parsed into: one field per argument.
fn params_struct(set: &Set, callback: &Callback, ident: &Ident) -> TokenStream {
    let private = private();
    let cfgs = &callback.cfgs;
    // The schema's title: what the TypeScript generator calls the params type.
    let mut title = set
        .namespace
        .as_ref()
        .map(|namespace| namespace.value.to_upper_camel_case())
        .unwrap_or_default();
    title.push_str(&callback.js_name.value.to_upper_camel_case());
    title.push_str("Params");
    let fields = callback.args.iter().map(|arg| {
        let name = &arg.name;
        let js_name = &arg.js_name;
        let ty = replace_self(arg.ty.to_token_stream(), &set.self_ty);
        quote_spanned! {arg.span=>
            #[serde(rename = #js_name)]
            #name: #ty
        }
    });
    quote! {
        #(#cfgs)*
        #[derive(#private::serde::Deserialize, #private::schemars::JsonSchema)]
        #[serde(crate = "::outrigger::__private::serde", deny_unknown_fields, expecting = "a params object")]
        #[schemars(crate = "::outrigger::__private::schemars", rename = #title)]
        struct #ident {
            #(#fields,)*
        }
    }
}

/// The statement that adds the callback's `CallbackDecl`.
fn declaration(callback: &Callback, params: &Ident, namespace: &TokenStream) -> TokenStream {
    let private = private();
    let cfgs = &callback.cfgs;
    let js_name = &callback.js_name.value;
    let description = match &callback.doc {
        Some(doc) => quote!(#private::Option::Some(#private::String::from(#doc))),
        None => quote!(#private::Option::None),
    };
    let result_schema = match callback.ret.value_type() {
        Some(ty) => quote_spanned!(span_of(ty)=> #private::schema::<#ty>()),
        None => quote!(#private::schema::<()>()),
    };
    let approval = callback.approval;
    quote! {
        #(#cfgs)*
        declarations.push(#private::CallbackDecl {
            js_name: #private::String::from(#js_name),
            namespace: #namespace,
            description: #description,
            params: #private::schema::<#params>(),
            result: #result_schema,
            approval: #approval,
        });
    }
}

/// The statement that adds the callback's handler, bound to a clone of `self`.
fn handler(set: &Set, callback: &Callback, params: &Ident) -> TokenStream {
    let private = private();
    let cfgs = &callback.cfgs;
    let method = &callback.rust_name;
    let wire_name = match &set.namespace {
        Some(namespace) => format!("{}.{}", namespace.value, callback.js_name.value),
        None => callback.js_name.value.clone(),
    };
    let ctx = if callback.context.is_some() {
        quote!(ctx)
    } else {
        quote!(_ctx)
    };
    let params_var = if callback.args.is_empty() {
        quote!(_params)
    } else {
        quote!(params)
    };
    let mut call_args: Vec<TokenStream> = callback
        .args
        .iter()
        .map(|arg| {
            let name = &arg.name;
            quote!(params.#name)
        })
        .collect();
    if let Some(position) = callback.context {
        call_args.insert(position, quote!(ctx));
    }
    let call = quote_spanned! {callback.span=>
        #private::assert_send(Self::#method(&this, #(#call_args),*)).await
    };
    // Types given explicitly, spanned at the user's, so that a missing
    // `Serialize` or `From<E> for CallbackError` is reported there.
    let value = match &callback.ret {
        Return::Result { err: Some(err), .. } => {
            quote_spanned!(span_of(err)=> #private::from_result::<_, #err>(#call))
        }
        Return::Result { err: None, .. } => quote!(#private::from_result(#call)),
        Return::Plain(_) | Return::Unit => quote!(#private::from_value(#call)),
    };
    let handler_fn = match callback.ret.value_type() {
        Some(ty) => quote_spanned!(span_of(ty)=> #private::handler::<#params, _, _, #ty>),
        None => quote!(#private::handler::<#params, _, _, ()>),
    };
    quote! {
        #(#cfgs)*
        {
            let this = #private::Arc::clone(&self);
            handlers.push((
                #private::String::from(#wire_name),
                #handler_fn(move |#ctx: #private::CallContext, #params_var: #params| {
                    let this = #private::Arc::clone(&this);
                    async move { #value }
                }),
            ));
        }
    }
}

/// The span of the first token of `tokens`: where `quote_spanned!` puts
/// generated code that should be reported at a user's type.
fn span_of(tokens: &impl ToTokens) -> Span {
    tokens
        .to_token_stream()
        .into_iter()
        .next()
        .map_or_else(Span::call_site, |token| token.span())
}

/// `Self` in an argument type, which the params struct outside the impl
/// block cannot name, replaced by the impl's type (spanned at `Self`).
fn replace_self(tokens: TokenStream, self_ty: &Type) -> TokenStream {
    tokens
        .into_iter()
        .flat_map(|token| -> TokenStream {
            match token {
                TokenTree::Ident(ident) if ident == "Self" => {
                    respan(self_ty.to_token_stream(), ident.span())
                }
                TokenTree::Group(group) => {
                    let mut replaced =
                        Group::new(group.delimiter(), replace_self(group.stream(), self_ty));
                    replaced.set_span(group.span());
                    TokenTree::Group(replaced).into()
                }
                token => token.into(),
            }
        })
        .collect()
}

fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut token| {
            if let TokenTree::Group(group) = &token {
                let mut respanned = Group::new(group.delimiter(), respan(group.stream(), span));
                respanned.set_span(span);
                token = TokenTree::Group(respanned);
            } else {
                token.set_span(span);
            }
            token
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand_to_string(attr: TokenStream, item: TokenStream) -> String {
        let tokens = expand(attr, item).unwrap();
        prettyplease::unparse(&syn::parse2(tokens).unwrap())
    }

    /// The whole expansion of a small set, for review.
    #[test]
    fn expansion() {
        let expanded = expand_to_string(
            quote!(namespace = "users"),
            quote! {
                impl Tools {
                    /// Look up a user by id.
                    async fn lookup_user(&self, user_id: u64, ctx: CallContext) -> Result<User, ToolError> {
                        todo!()
                    }

                    #[outrigger(rename = "findAll", approval)]
                    async fn list(&self) -> Vec<User> {
                        todo!()
                    }

                    #[outrigger(skip)]
                    fn helper(&self) {}
                }
            },
        );
        insta::assert_snapshot!(expanded);
    }

    #[test]
    fn errors_are_collected_from_every_method() {
        let error = expand(
            quote!(prefix = "x"),
            quote! {
                impl Tools {
                    fn a(&self) {}
                    async fn b(self) {}
                    #[outrigger(bogus)]
                    async fn c(&self) {}
                }
            },
        )
        .unwrap_err();
        let messages: Vec<_> = error.into_iter().map(|e| e.to_string()).collect();
        assert_eq!(
            messages,
            [
                "unknown argument `prefix`, expected one of: `namespace`",
                "callback methods must be `async fn` (or mark helpers with #[outrigger(skip)])",
                "callbacks take `&self`",
                "unknown argument `bogus`, expected one of: `rename`, `skip`, `approval`",
            ]
        );
    }

    #[test]
    fn fallback_strips_method_attributes() {
        let item = quote! {
            impl Tools {
                #[outrigger(skip)]
                #[inline]
                fn helper(&self) {}
            }
        };
        let kept = fallback(item).to_string();
        assert!(
            !kept.contains("outrigger") && kept.contains("inline"),
            "{kept}"
        );
    }
}
