//! Warnings raised anywhere while one request is served (upstream's `warning.AddWarning` on the
//! request context): code deep in the registry adds them, the HTTP layer sends them as
//! `Warning: 299` headers. Outside a request they are dropped.

use std::cell::RefCell;
use std::future::Future;

tokio::task_local! {
    static RAISED: RefCell<Vec<String>>;
}

/// Raise a warning for the request being served; one already raised is not repeated (as
/// upstream's recorder does: a write retried after a conflict raises its warnings again).
pub fn add(text: String) {
    let _ = RAISED.try_with(|raised| {
        let mut raised = raised.borrow_mut();
        if !text.is_empty() && !raised.contains(&text) {
            raised.push(text);
        }
    });
}

/// Run `serve`, returning its output and the warnings raised while it ran.
pub async fn collect<F: Future>(serve: F) -> (F::Output, Vec<String>) {
    RAISED
        .scope(RefCell::new(Vec::new()), async {
            let output = serve.await;
            let raised = RAISED.with(RefCell::take);
            (output, raised)
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn warnings_are_collected_per_request_and_dropped_outside() {
        add("nobody listens".into());
        let ((), raised) = collect(async {
            add("first".into());
            tokio::task::yield_now().await;
            add("second".into());
            add("first".into());
        })
        .await;
        assert_eq!(raised, ["first", "second"]);
    }
}
