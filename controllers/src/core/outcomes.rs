//! Draining a controller's result stream into logs: failures are warnings, except a reconcile of an
//! object that has just been deleted, which is routine.

use futures::{Stream, StreamExt};
use kube::runtime::controller::{Action, Error};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::Resource;

/// Consume `outcomes` of the controller called `name` until the stream ends.
pub async fn drain<K, E>(
    name: &'static str,
    outcomes: impl Stream<Item = Result<(ObjectRef<K>, Action), Error<E, watcher::Error>>>,
) where
    K: Resource,
    E: std::error::Error + 'static,
{
    outcomes
        .for_each(|outcome| async move {
            match outcome {
                Ok(_) => {}
                Err(Error::ObjectNotFound(object)) => {
                    tracing::debug!(controller = name, %object, "object deleted before its reconcile")
                }
                Err(e) => tracing::warn!(controller = name, error = %e, "reconcile failed"),
            }
        })
        .await;
}
