//! The shared core every loop builds on: shared watches with owner indexes ([`informers`]),
//! expectations, per-object error backoff, API error classes, and the common controller shapes.

pub mod api_errors;
pub mod backoff;
pub mod expectations;
pub mod informers;
pub mod leader;
pub mod object_loop;
pub mod outcomes;
pub mod owners;
