//! placeholder
pub mod catalog;
mod diag;
mod suggest;
mod yaml;
pub use diag::*;
