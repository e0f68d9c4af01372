//! Callbacks that wait for a person's approval: the run pauses its clock
//! while it waits, a denial rejects the call in the script, pending
//! approvals are visible on the run's handle and end with it.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use outrigger::{Approval, ApprovalRequest, CallbackError, Error, Script};
use serde_json::json;

#[derive(Default)]
struct Mail {
    sent: Mutex<Vec<String>>,
}

#[outrigger::callbacks]
impl Mail {
    /// Sends an email; a person must approve each one.
    #[outrigger(approval)]
    async fn send_email(&self, to: String) -> Result<String, CallbackError> {
        self.sent.lock().unwrap().push(to.clone());
        Ok(format!("sent to {to}"))
    }

    /// Reads the outbox; no approval needed.
    async fn outbox(&self) -> Vec<String> {
        self.sent.lock().unwrap().clone()
    }
}

const SEND: &str = "const sent = await host.sendEmail({ to: 'ada@example.com' });\nexport default [sent, await host.outbox()];";

#[tokio::test]
async fn an_approved_call_runs_and_a_denied_one_rejects_with_its_reason() {
    let asked = Arc::new(Mutex::new(Vec::<ApprovalRequest>::new()));
    let seen = asked.clone();
    let pool = common::builder()
        .callbacks(Mail::default())
        .approver(move |request: ApprovalRequest| {
            let seen = seen.clone();
            async move {
                let deny = request.params["to"] == "eve@example.com";
                seen.lock().unwrap().push(request);
                if deny {
                    Approval::Deny("not to Eve".into())
                } else {
                    Approval::Approve
                }
            }
        })
        .build()
        .await
        .unwrap();
    let out = pool.run(Script::module(SEND)).await.unwrap();
    assert_eq!(
        out.value,
        json!(["sent to ada@example.com", ["ada@example.com"]])
    );
    let request = asked.lock().unwrap()[0].clone();
    assert_eq!(request.callback, "sendEmail");
    assert_eq!(request.params, json!({ "to": "ada@example.com" }));
    if common::bun() {
        eprintln!("not checked on Bun: the call's position (Bun's captured call sites carry no places, docs/ENGINES.md)");
    } else {
        let position = request.position.expect("the call's position");
        // V8 places a call after its callee's name, QuickJS at its last dot.
        assert_eq!(
            (position.line, position.column),
            (1, common::either(25, 24))
        );
    }

    let denied = "try { await host.sendEmail({ to: 'eve@example.com' }); } catch (e) { globalThis.caught = [e.code, e.message]; }\nexport default [caught, await host.outbox()];";
    let out = pool.run(Script::module(denied)).await.unwrap();
    assert_eq!(
        out.value,
        json!([
            [
                "APPROVAL_DENIED",
                "`sendEmail` was not approved: not to Eve"
            ],
            ["ada@example.com"]
        ])
    );
    // Uncaught, the denial is the script's error, at the call.
    let error = pool
        .run(Script::module(
            "\nawait host.sendEmail({ to: 'eve@example.com' });",
        ))
        .await
        .unwrap_err();
    match error {
        Error::Script { message, line, .. } => {
            assert!(message.contains("not to Eve"), "{message}");
            // Placed at the call, which Bun's captured call sites cannot say.
            if !common::bun() {
                assert_eq!(line, Some(2));
            }
        }
        other => panic!("expected a script error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_long_approval_pauses_the_clock_and_is_reported() {
    let pool = common::builder()
        .callbacks(Mail::default())
        .approver(|_| async {
            tokio::time::sleep(Duration::from_secs(2)).await;
            Approval::Approve
        })
        .build()
        .await
        .unwrap();
    // A 1 s timeout, a 2 s approval, and a timer that keeps going meanwhile.
    let script = Script::module(
        "let ticks = 0;\nconst timer = setInterval(() => ticks++, 100);\nconst sent = await host.sendEmail({ to: 'ada@example.com' });\nclearInterval(timer);\nexport default [sent, ticks > 10];",
    )
    .timeout(Duration::from_secs(1));
    let out = pool.run(script).await.unwrap();
    assert_eq!(out.value, json!(["sent to ada@example.com", true]));
    assert!(
        out.approval_wait >= Duration::from_millis(1900),
        "{:?}",
        out.approval_wait
    );
    // Without an approval, the same wait is past the timeout.
    let error = pool
        .run(
            Script::module("await new Promise((r) => setTimeout(r, 2000));")
                .timeout(Duration::from_secs(1)),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Timeout { .. }), "{error:?}");
}

/// Counts how many approval futures were dropped before deciding.
struct Abandoned(Arc<AtomicUsize>);

impl Drop for Abandoned {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn pending_approvals_show_on_the_handle_and_end_with_a_cancelled_run() {
    let abandoned = Arc::new(AtomicUsize::new(0));
    let counter = abandoned.clone();
    let pool = common::builder()
        .callbacks(Mail::default())
        .approver(move |_| {
            let guard = Abandoned(counter.clone());
            async move {
                std::future::pending::<()>().await;
                drop(guard);
                Approval::Approve
            }
        })
        .build()
        .await
        .unwrap();
    let mut handle = pool.start(Script::module(SEND)).await.unwrap();
    let id = handle.id();
    let pending = loop {
        // Poll the run for a moment, so its replies are read, then look.
        let _ = tokio::time::timeout(Duration::from_millis(50), handle.next_event()).await;
        let pending = handle.pending_approvals();
        if !pending.is_empty() {
            break pending;
        }
    };
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].run, id);
    assert_eq!(pending[0].callback, "sendEmail");
    drop(handle);
    assert!(
        common::eventually(Duration::from_secs(5), || abandoned.load(Ordering::SeqCst)
            == 1)
        .await,
        "the approver's future was not dropped with the run"
    );
    assert_eq!(pool.eval::<i64>("1 + 1").await.unwrap(), 2);
}

#[tokio::test]
async fn without_an_approver_marked_calls_are_denied_saying_so() {
    let pool = common::builder()
        .callbacks(Mail::default())
        .build()
        .await
        .unwrap();
    let out = pool
        .run(Script::module(
            "try { await host.sendEmail({ to: 'x@example.com' }); } catch (e) { globalThis.c = [e.code, e.message]; }\nexport default [c, await host.outbox()];",
        ))
        .await
        .unwrap();
    assert_eq!(out.value[0][0], "APPROVAL_DENIED");
    assert!(
        out.value[0][1]
            .as_str()
            .unwrap()
            .contains("no approver is set (PoolBuilder::approver or Script::approver)"),
        "{}",
        out.value
    );
    assert_eq!(out.value[1], json!([]));
}

#[tokio::test]
async fn a_run_brings_its_own_approver_and_any_callback_can_need_approval() {
    let pool = common::builder()
        .callbacks(Mail::default())
        .require_approval("outbox")
        .approver(|_| async { Approval::Deny("the pool says no".into()) })
        .build()
        .await
        .unwrap();
    let out = pool
        .run(
            Script::module(SEND).approver(|request: ApprovalRequest| async move {
                assert!(request.callback == "sendEmail" || request.callback == "outbox");
                Approval::Approve
            }),
        )
        .await
        .unwrap();
    assert_eq!(
        out.value,
        json!(["sent to ada@example.com", ["ada@example.com"]])
    );
    let error = pool.run(Script::module(SEND)).await.unwrap_err();
    assert!(error.to_string().contains("the pool says no"), "{error}");
    let unknown = common::builder()
        .callbacks(Mail::default())
        .require_approval("sendMail")
        .build()
        .await
        .unwrap_err();
    match unknown {
        Error::Registration(message) => {
            assert!(message.contains("sendMail"), "{message}");
            assert!(message.contains("sendEmail"), "{message}");
        }
        other => panic!("expected a registration error, got {other:?}"),
    }
}
