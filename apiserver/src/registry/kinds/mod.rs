//! Per-kind strategies of the built-in kinds: upstream's defaulting and validation.

use super::{DefaultStrategy, Strategy};
use std::sync::Arc;

/// The strategy for a built-in kind.
pub fn strategy_for(_group: &str, _kind: &str) -> Arc<dyn Strategy> {
    Arc::new(DefaultStrategy)
}
