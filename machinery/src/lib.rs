//! Kubernetes' cross-cutting value formats, in one place for the apiserver and every control loop
//! (upstream's apimachinery): resource quantities ([`quantity`]), Go durations ([`duration`]) and
//! label selector matching ([`labels`]) and ResourceQuota usage ([`quota`]). Nothing here knows HTTP, storage or a client.

pub mod duration;
pub mod labels;
pub mod quantity;
pub mod quota;
