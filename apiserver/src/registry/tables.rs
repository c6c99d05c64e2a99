//! Server-side printing columns (meta.k8s.io/v1 Table) of the built-in kinds, as upstream prints them.

use super::Column;

/// Upstream's columns for a built-in kind; `None` for kinds that print Name/Age only.
pub fn columns_for(_group: &str, _kind: &str) -> Option<&'static [Column]> {
    None
}
