//! The shared core every loop builds on: shared watches with owner indexes ([`informers`]), the
//! identities loops write as ([`credentials`]), expectations, per-object error backoff, status
//! updates ([`status`]), API error classes, and the common controller shapes.
//! Parsing of quantities (`1.5Gi`, `100m`), Go durations and label-selector matching lives in the
//! `skiff_machinery` crate (machinery/), shared with the apiserver: use it, do not write another.

pub mod api_errors;
pub mod backoff;
pub mod credentials;
pub mod expectations;
pub mod informers;
pub mod leader;
pub mod object_loop;
pub mod outcomes;
pub mod owners;
pub mod status;
