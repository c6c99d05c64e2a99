//! The catalogue of served resources and the one generic store path every resource goes through.

pub mod resource;
pub mod strategy;

pub use resource::{Resource, Subresource};
pub use strategy::{Column, DefaultStrategy, FieldError, FieldErrorKind, PrinterColumn, ScalePaths, Strategy};
pub mod admission;
pub mod catalogue;
mod conversions;
pub mod definitions;
pub mod fields;
pub mod index;
pub mod kinds;
pub mod pods;
pub mod selector;
pub mod store;
pub mod tables;

pub use index::{ResourceIndex, Resources};
pub use store::Store;
