//! Public behaviour of `ntk::analytic`, the infinite-width NNGP and NTK:
//! properties of the kernels, the architecture text and the reference-file
//! format, accuracy of the quadrature, precision in `f32`, range checks,
//! the error catalogue and the zeroing of outputs on error.
#[path = "../common/mod.rs"]
mod common;

#[cfg(feature = "attention")]
mod attention;
mod errors;
mod kernels;
mod precision;
mod quadrature;
mod range;
mod recurrent;
mod recurrent_activations;
mod recurrent_errors;
mod reference;
mod spatial;
mod spec;
mod structured;
mod text;
mod zeroing;
