//! # ntk — Neural Tangent Kernels without a heap
//!
//! The NTK of a network f(x; θ) is `Θ(x, x') = ∇θ f(x) · ∇θ f(x')`: it tells
//! how the network's predictions move under gradient descent. At infinite
//! width it is constant, the network at initialisation is a Gaussian process
//! (the NNGP), and training is kernel regression with Θ. This crate computes
//! the empirical NTK of small networks whose shapes are const generics, and
//! the infinite-width kernels in closed form, with no standard library and no
//! allocation: every output goes into a buffer the caller owns.
//!
//! ```
//! use ntk::empirical::{jacobian, structured};
//! use ntk::nn::{Dense, Relu};
//! use ntk::Rng;
//!
//! type Net = (Dense<f64, 2, 16>, Relu, Dense<f64, 16, 1>);
//! let mut rng = Rng::new(0);
//! let net: Net = (Dense::ntk(1.5, 0.1, &mut rng), Relu, Dense::ntk(1.5, 0.1, &mut rng));
//! let xs = [[1.0, 0.0], [0.0, 1.0], [0.6, 0.8], [-1.0, 0.2]];
//!
//! // Factored per-layer method: O(N²·Σ widths).
//! let mut ws = [0.0; structured::workspace_len::<f64, Net>(4, 1)];
//! let mut theta = [[0.0; 4]; 4];
//! structured::ntk(&net, &xs, &mut ws, &mut theta)?;
//!
//! // Plain Jacobian contraction, the reference: O(N²·parameters).
//! let mut wj = [0.0; jacobian::workspace_len::<f64, [f64; 2], Net>(4)];
//! let mut reference = [[0.0; 4]; 4];
//! jacobian::ntk(&net, &xs, &mut wj, &mut reference)?;
//!
//! for i in 0..4 {
//!     for j in 0..4 {
//!         assert!((theta[i][j] - reference[i][j]).abs() <= 1e-12 * theta[i][i]);
//!         assert_eq!(theta[i][j].to_bits(), theta[j][i].to_bits());
//!     }
//! }
//! # Ok::<(), ntk::Error>(())
//! ```
//!
//! ## Modules
//!
//! | module | what |
//! |---|---|
//! | [`nn`] | layers with const-generic shapes ([`nn::Dense`], [`nn::Conv1d`] over sequences `[[T; C]; L]`, pooling, activations, [`nn::Rnn`], [`nn::SelfAttention`], [`nn::LayerNorm`], [`nn::Residual`] and [`nn::Sum`] blocks), tuples compose them; forward with a cache, backward into a gradient of the network's own type |
//! | [`empirical`] | the empirical NTK by the structured (factored) method and by Jacobian contraction, train×train and test×train, trace or full K×K blocks; the matrix-free product Θ·v ([`empirical::matvec`]); Monte Carlo averages over random initialisations, their per-entry variances and covariances, and the fit of the 1/width correction |
//! | [`analytic`] | the infinite-width NNGP and NTK in closed form, the architecture text format, and the finite-width corrections known in closed form |
//! | [`linalg`] | Cholesky factorisation, triangular solves and O(N²) updates, symmetric eigensolvers (tridiagonal + QL, Jacobi), matrix functions, the owned decompositions [`linalg::Cholesky`] and [`linalg::Spectrum`], and matrix-free Krylov solvers on any linear operator ([`linalg::krylov`]: conjugate gradients, Lanczos) |
//! | [`predict`] | what the kernel predicts: gradient-descent and gradient-flow dynamics, the NNGP posterior, the infinite ensemble, online GP regression over a sliding window ([`predict::OnlineWindow`]) |
//! | [`train`] | full-batch gradient descent of a finite network on the MSE loss, and how far its empirical NTK moves while it trains |
//! | [`real`], [`simd`], [`rng`] | the scalar trait and math backend, vectorisable kernels, the generator |
//! | `boxed` | with the `alloc` feature: large values allocated zeroed and filled in place |
//!
//! ## Features
//!
//! | feature | default | what it does |
//! |---|---|---|
//! | `libm` | yes | math backend from the `libm` crate: portable and accurate on every target |
//! | `error-bounds` | yes | infinite-width kernels carry a bound on their rounding error and are refused ([`Error::PrecisionLoss`]) past [`analytic::PRECISION_LIMIT`]; without it they are unchecked |
//! | `quadrature` | yes | infinite-width kernels by quadrature: `tanh` and user `analytic::CustomActivation`s; without it only the closed forms are compiled in (about 9 KiB less flash on a Cortex-M4F) |
//! | `micromath` | no | fast `f32` approximations for firmware; takes precedence for `f32` (`f64` needs `libm` or `std`) |
//! | `std` | no | links `std`: its float functions back the math when `libm` is off; `Error` implements `std::error::Error` |
//! | `defmt` | no | derives `defmt::Format` on the public data types |
//! | `alloc` | no | links `alloc` for the `boxed` module: networks, spectra, factors and online GPs of any size on the heap, never built on the stack |
//! | `rayon` | no | multi-core Gram matrices on a host (implies `std`): the `_parallel` variants of the structured NTK and of the analytic Gram routines, the single-thread results bit for bit, on rayon's current pool (the global pool, or `rayon::ThreadPool::install`) |
//!
//! Features are additive; at least one of `libm`, `micromath`, `std` is needed.
//!
//! ## Large shapes
//!
//! A network, a Gram matrix or a [`linalg::Spectrum`] is a plain value whose
//! size is in its type: a 2-1024-1024-1 `f64` network is 8.4 MiB, an
//! N = 512 `f64` Gram matrix 2 MiB. Built by value (`let net: Net = (Dense::ntk(..), ..)`,
//! or `Box::new(..)`, which builds on the stack first) they need that much
//! stack, more than a 2 MiB test thread or an 8 MiB main thread has in a dev
//! build. Every such type has a constant zero, [`nn::Zeroed::ZEROED`], and is
//! filled in place, so it never has to be on the stack:
//!
//! - in a `static` (zero-initialised `.bss`), filled by
//!   [`nn::Params::init_ntk`] (networks), [`predict::OnlineGp::set_noise`] or
//!   the entry point that writes it — the firmware way, no allocator;
//! - on the heap with the `alloc` feature: `boxed::ntk`, `boxed::zeroed`,
//!   `boxed::online_gp`, `boxed::online_window` allocate zeroed memory and fill it in place.
//!
//! The entry points themselves need far less: a few `[T; N]` rows, or the
//! caches of a forward pass over a few inputs (340 KiB for the structured NTK
//! of a 2-1024-1024-1 `f64` network in a release build); the README's "Large
//! shapes" section tabulates what each needs.
//!
//! ```
//! use ntk::nn::{Dense, Module, Params, Relu, Zeroed};
//! use ntk::Rng;
//! use std::sync::Mutex;
//!
//! type Net = (Dense<f64, 2, 1024>, Relu, Dense<f64, 1024, 1024>, Relu, Dense<f64, 1024, 1>);
//! static NET: Mutex<Net> = Mutex::new(Net::ZEROED); // 8.4 MiB of .bss
//! static NNGP: Mutex<[[f64; 512]; 512]> = Mutex::new([[0.0; 512]; 512]); // 2 MiB
//! static THETA: Mutex<[[f64; 512]; 512]> = Mutex::new([[0.0; 512]; 512]);
//!
//! let mut net = NET.lock().unwrap();
//! net.init_ntk(1.5, 0.1, &mut Rng::new(0));
//! assert!(net.eval(&[0.6, 0.8])[0].is_finite());
//!
//! let arch: ntk::analytic::Architecture<f64> = "dense(1.5,0.1) relu dense(1.5,0.1)".parse()?;
//! let x: [[f64; 2]; 512] = core::array::from_fn(|i| [(i as f64).cos(), (i as f64).sin()]);
//! let (mut nngp, mut theta) = (NNGP.lock().unwrap(), THETA.lock().unwrap());
//! arch.gram(&x, &mut nngp, &mut theta)?;
//! assert_eq!(nngp[3][100].to_bits(), nngp[100][3].to_bits());
//! # Ok::<(), ntk::Error>(())
//! ```
//!
//! ## Conventions
//!
//! Matrices are row-major nested arrays: `[[T; N]; M]` has M rows of N
//! columns. Shape errors are compile errors; numerical failure is an
//! [`Error`]. No public function panics on any input, and no result is
//! returned with non-finite entries as if it were valid.
//!
//! - **Argument order**: inputs first (the object's `&self`, then data,
//!   kernels, options, closures), then the caller's workspace buffers, then
//!   the outputs, last: `empirical::structured::ntk(&net, &xs, &mut ws, &mut theta)`,
//!   [`linalg::matrix_function`]`(a, opts, g, b, work, rotations, out)`,
//!   [`predict::covariance_posterior`]`(factor, k_test_train, k_test_test, work, out)`.
//!   The functions that took an output before a workspace of the same type
//!   were renamed, so that old calls fail to compile rather than swap two
//!   buffers; their former names are deprecated wrappers with the former
//!   order for one release (`eigenvalues` → [`linalg::eigvalsh`],
//!   `eigh_jacobi` → [`linalg::jacobi_eigh`], `apply_matrix_function` →
//!   [`linalg::matrix_function`], `posterior_covariance` →
//!   [`predict::covariance_posterior`], `Ensemble::nngp_covariance` /
//!   `ntk_covariance` → [`predict::Ensemble::covariance_nngp`] /
//!   [`covariance_ntk`](predict::Ensemble::covariance_ntk),
//!   `GradientDescentMse::test_outputs_direct` →
//!   [`predict::GradientDescentMse::direct_test_outputs`]).
//! - **Names**: the scales σw and σb of a layer are `weight_std` and
//!   `bias_std` everywhere (fields, constructors and parameters).
//!   "Activation" means the [`nn::Activation`] trait of the finite layers; a
//!   user-defined nonlinearity of the infinite-width kernels is an
//!   `analytic::CustomActivation` (with the `quadrature` feature).
//! - **Errors**: on any `Err`,
//!   - every output buffer is filled with zeros, so no half-written result
//!     survives a failure;
//!   - state updated in place through `&mut self` or a `&mut` factor is left
//!     exactly as it was: [`predict::OnlineGp::push`],
//!     [`predict::OnlineWindow::push`], [`predict::OnlineGp::set_noise`],
//!     [`linalg::cholesky_append`] on an existing factor (its leading block;
//!     the row it would have written is zero), [`train::step`] (the network);
//!   - except where the whole object is rebuilt, which zeroes it
//!     ([`linalg::Spectrum::compute`], [`linalg::Cholesky::compute`]), and
//!     where an update cannot be undone: [`linalg::cholesky_remove_first`]
//!     and [`predict::OnlineGp::pop_oldest`] (so the eviction of
//!     [`predict::OnlineWindow::push`]) zero or empty their factor if the
//!     rotation overflows, which a valid factor does not do, and
//!     [`train::train`] keeps the steps that succeeded before the failing
//!     one.
//!
//!   Workspace buffers hold unspecified values after any call.
#![no_std]
#![deny(unsafe_code)]
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

#[cfg(feature = "alloc")]
extern crate alloc;

pub mod analytic;
mod block;
#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub mod boxed;
pub mod empirical;
pub mod error;
pub mod linalg;
pub mod nn;
mod outputs;
pub mod predict;
pub mod real;
pub mod rng;
pub mod simd;
pub mod train;

pub use error::Error;
pub use real::Real;
pub use rng::Rng;

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
