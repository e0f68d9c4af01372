//! The builder's settings for code mode: tools known at run time, and who
//! approves the calls that need it.

use super::builder::PoolBuilder;

impl PoolBuilder {
    /// Registers a tool known only at run time (from a plugin manifest, an
    /// MCP server, a configuration file): `name` as scripts call it
    /// (`sendEmail`, or `mail.send` in a namespace), a description, the JSON
    /// Schemas of its input (the params object) and output, and an async
    /// handler of JSON. It behaves as a callback of `#[outrigger::callbacks]`
    /// does: callable as `host.name(params)`, declared in
    /// [`Pool::typescript`](crate::Pool::typescript) and the tool
    /// definitions, its params checked against `input_schema` (a mismatch
    /// rejects the call saying which field is wrong and why, as for typed
    /// callbacks; the keywords checked are listed in the docs), its result
    /// against `output_schema`; [`require_approval`](Self::require_approval)
    /// applies. A bad name or a name taken makes [`build`](Self::build) fail.
    /// A tool speaks JSON: a `Uint8Array` a script passes reaches it as an
    /// array of numbers.
    ///
    /// ```no_run
    /// # async fn demo() -> outrigger_host::Result<()> {
    /// use serde_json::{json, Value};
    /// let pool = outrigger_host::Pool::builder()
    ///     .tool(
    ///         "weather.today",
    ///         "Today's weather in a city.",
    ///         json!({ "type": "object", "properties": { "city": { "type": "string" } }, "required": ["city"] }),
    ///         json!({ "type": "object", "properties": { "celsius": { "type": "number" } } }),
    ///         |params: Value| async move { Ok(json!({ "celsius": 21.5, "city": params["city"] })) },
    ///     )
    ///     .build()
    ///     .await?;
    /// let celsius: f64 = pool.eval("host.weather.today({ city: 'Oslo' }).then((w) => w.celsius)").await?;
    /// # Ok(()) }
    /// ```
    pub fn tool<F, Fut>(
        mut self,
        name: impl Into<String>,
        description: impl Into<String>,
        input_schema: serde_json::Value,
        output_schema: serde_json::Value,
        handler: F,
    ) -> Self
    where
        F: Fn(serde_json::Value) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<
                Output = std::result::Result<serde_json::Value, crate::CallbackError>,
            > + Send
            + 'static,
    {
        let added = crate::callbacks::tool(
            &name.into(),
            &description.into(),
            input_schema,
            output_schema,
            handler,
        )
        .and_then(|(decl, handler)| self.registry.insert(decl, handler));
        if let Err(error) = added {
            self.registration_errors.push(error);
        }
        self
    }

    /// Who decides on calls of callbacks that need approval
    /// (`#[outrigger(approval)]`, [`require_approval`](Self::require_approval)):
    /// an async function of an [`ApprovalRequest`](crate::ApprovalRequest)
    /// (the run, the callback, its params, where the script called it)
    /// returning [`Approval`](crate::Approval). While a call waits, its run's
    /// timeout clock is paused and its other work goes on; a denial rejects
    /// the call in the script with an `Error` whose `code` is
    /// `"APPROVAL_DENIED"`. Without an approver, such calls are denied.
    /// [`Script::approver`](crate::Script::approver) sets one for a run.
    pub fn approver<F, Fut>(mut self, decide: F) -> Self
    where
        F: Fn(crate::ApprovalRequest) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = crate::Approval> + Send + 'static,
    {
        self.registry.set_approver(crate::Approver::new(decide));
        self
    }

    /// Makes calls of the callback `name` (its wire name: `sendEmail`,
    /// `mail.send`) wait for the [`approver`](Self::approver), as
    /// `#[outrigger(approval)]` does for a method; for callbacks registered
    /// without the attribute, or tools added with [`tool`](Self::tool). A
    /// name no callback has makes [`build`](Self::build) fail.
    pub fn require_approval(mut self, name: impl Into<String>) -> Self {
        self.approvals.push(name.into());
        self
    }
}
