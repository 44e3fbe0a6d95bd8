//! # ntk — Neural Tangent Kernels without a heap
//!
//! (Crate documentation is completed with the public API.)
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(
    clippy::float_cmp_const,
    clippy::dbg_macro,
    clippy::unwrap_used,
    clippy::expect_used
)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(any(test, feature = "std"))]
extern crate std;

pub mod analytic;
pub mod empirical;
pub mod error;
pub mod linalg;
pub mod nn;
pub mod predict;
pub mod real;
pub mod rng;
pub mod simd;

pub use error::Error;
pub use real::Real;
pub use rng::Rng;

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
