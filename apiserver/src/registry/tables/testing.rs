//! Helpers shared by the printers' unit tests.

use super::Column;
use serde_json::Value;

/// The cells `columns` print for `obj`.
pub fn row(columns: &[Column], obj: &Value) -> Vec<Value> {
    columns.iter().map(|c| (c.cell)(obj)).collect()
}

/// An RFC 3339 timestamp `seconds` before now.
pub fn ago(seconds: i64) -> String {
    (jiff::Timestamp::now() - jiff::SignedDuration::from_secs(seconds)).to_string()
}
