//! Kubernetes' cross-cutting value formats, in one place for the apiserver and every control loop
//! (upstream's apimachinery): resource quantities ([`quantity`]), Go durations ([`duration`]) and
//! label selector matching ([`labels`]) ResourceQuota usage ([`quota`]), CronJob schedules ([`cron`]) and
//! ServiceAccount tokens ([`serviceaccount`]). Nothing here knows HTTP, storage or a client.

pub mod cron;
pub mod duration;
pub mod labels;
pub mod quantity;
pub mod quota;
pub mod serviceaccount;
