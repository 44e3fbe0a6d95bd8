//! Infinite-width NNGP and NTK of fully connected, convolutional and
//! attention networks, in closed form.
//!
//! An [`Architecture`] is a sequence of [`Layer`]s, read from text such as
//! `dense(1.5,0.1) relu dense(1.5,0.1)`. Its kernels follow the recursions of
//! neural-tangents (`stax`, NTK parameterization) and agree with it to about
//! 10⁻⁸ relative:
//!
//! - inputs: Σ⁰(x, x′) = x·x′/D, Θ⁰ = 0;
//! - dense: Σ ← σw²Σ + σb², then Θ ← Σ + σw²Θ;
//! - nonlinearity φ: Σ ← E[φ(u)φ(v)], Θ ← Θ·E[φ′(u)φ′(v)] with
//!   (u, v) ~ N(0, [[Σ₁₁, Σ₁₂], [Σ₁₂, Σ₂₂]]).
//!
//! The expectations have closed forms for ReLU, leaky ReLU, abs and the
//! general ABReLU (arc-cosine kernels), erf, GELU, sin and the identity; tanh
//! and user activations (`CustomActivation`) use the quadrature described in
//! [`quadrature`](self#quadrature), which the `quadrature` feature (on by
//! default) compiles in.
//!
//! # Examples
//!
//! ```
//! use ntk::analytic::Architecture;
//! let arch: Architecture<f64> = "dense(1.5,0.1) relu dense(1.5,0.1)".parse()?;
//! let x = [[1.0, 0.0, 0.0], [0.6, 0.8, 0.0], [0.0, 0.0, 0.0]];
//! let mut nngp = [[0.0; 3]; 3];
//! let mut ntk = [[0.0; 3]; 3];
//! arch.gram(&x, &mut nngp, &mut ntk)?;
//! // Σ¹ = 1.5²·x·x′/3 + 0.1²; ReLU halves the variance exactly.
//! let q = 2.25 / 3.0 + 0.01;
//! assert!((nngp[0][0] - (2.25 * q / 2.0 + 0.01)).abs() < 1e-15);
//! assert_eq!(nngp[0][1], nngp[1][0]);
//! assert!(ntk[0][1] > nngp[0][1]);
//! # Ok::<(), ntk::Error>(())
//! ```
//!
//! An `Architecture` holds its layers at run time, so [`Architecture::gram`]
//! links the closed form of every nonlinearity. Firmware whose network is
//! of the ReLU family (ReLU, leaky ReLU, abs, ABReLU) can call
//! [`Architecture::gram_piecewise_linear`] instead: the same matrices bit for
//! bit, with only those closed forms linked (1.8 KiB less flash on a
//! Cortex-M4F).
//!
//! # Numerics
//!
//! The correlation ρ = Σ₁₂/√(Σ₁₁Σ₂₂) is clamped to [−1, 1], values within
//! 8 ulp of ±1 (indistinguishable from ±1 after rounding) are taken as ±1,
//! and √(1 − ρ²) is computed as √((1 − ρ)(1 + ρ)): repeated inputs and
//! cos θ = ±1 give no NaN, and with the closed forms a repeated input gives
//! exactly the entries of the original (its row of a Gram matrix is a bitwise
//! copy). A zero-variance input is handled exactly (with the angle π/2
//! convention of neural-tangents for the derivative kernel). The diagonal of
//! a Gram matrix uses the exact diagonal maps (ReLU: q ↦ q/2), and the pair
//! maps of the closed forms are symmetric bit for bit in their two inputs.
//!
//! Non-finite inputs are [`Error::NonFinite`](crate::Error::NonFinite); a
//! non-finite result (a huge σw, a very deep network) is
//! [`Error::Overflow`](crate::Error::Overflow). On every error, argument
//! errors included, the kernel routines zero both outputs.
//! The closed forms stay finite as long as the variances do, except GELU's, which overflows beyond variances of about 10⁷⁷ (10⁹ in
//! f32).
//!
//! Against the neural-tangents reference kernels of `tests/data` the largest
//! relative difference is 1.4·10⁻⁸ in f64 (from the rounding of ρ near 1,
//! where the arc-cosine is ill-conditioned, on either side).
//!
//! # Precision
//!
//! The recursion can lose every digit without overflowing: a correlation
//! near ±1 behind a nonlinearity of huge variance, or a chaotic network that
//! separates nearby correlations exponentially with depth, turns rounding
//! into large errors (in f32, on inputs that hold two nearly equal ones:
//! erf behind σw = 10⁴ is off by 0.78, sin behind σw = 100 by 6·10⁻²).
//! With the `error-bounds` feature (on by default) every kernel routine
//! carries a first-order bound on its rounding error through the layers and
//! returns [`Error::PrecisionLoss`](crate::Error::PrecisionLoss), with zeroed
//! outputs, when the bound passes [`PRECISION_LIMIT`] (10⁻² of the diagonal
//! scale):
//!
//! - each pair's correlation error is carried through the layers: by Price's
//!   theorem a nonlinearity multiplies it by E[φ′(u)φ′(v)] (scaled) and moves
//!   the NTK's derivative factor by E[φ″(u)φ″(v)] (closed form for erf and
//!   sin, bounded for GELU and quadrature layers); the arc-cosine kink moves
//!   it by the change of the angle;
//! - repeated inputs are exact; pairs of different inputs whose correlation
//!   rounds to ±1 are followed as collinear, at the distance from collinear
//!   computed without cancellation from the inputs and from the bend of
//!   biased layers.
//!
//! A property test checks the promise in f32 against f64 over random
//! architectures of up to six nonlinear layers with σw up to 300 and inputs
//! with nearly equal and repeated pairs: every accepted kernel was within
//! half the limit in 300 000 cases. The reference cases and the random
//! architectures of the kernel tests (σw ≤ 2, up to four nonlinear layers)
//! are all accepted, within 10⁻³ of f64. The bound assumes elementary
//! functions within an ulp or so (`libm`, `std`), and smooth custom
//! activations. Without the feature the kernels are returned unchecked; the
//! bound adds about 25 % to the time of a ReLU Gram matrix.
//!
//! # Quadrature
//!
//! For tanh and `CustomActivation`s, E[f(u)g(v)] is computed in polar
//! coordinates of the standard normal pair behind (u, v): the lines u = 0 and
//! v = 0 cut the plane into four sectors, so that no panel straddles a kink
//! at 0 (the ABReLU family is integrated to rounding error, and activations
//! that are analytic on each side of 0 converge exponentially). Panels in
//! angle and radius are graded geometrically from the scale where the
//! activation varies, 1/√variance, to that of the Gaussian, each integrated
//! by a 15-point Gauss–Kronrod rule; diagonal entries use the same radial
//! panels on each side of 0. Measured against adaptive quadrature in u and
//! v for tanh and softplus at variances 10⁻⁸ … 10¹² and correlations up to
//! 0.999: errors below 10⁻⁹ of the diagonal scale.
//!
//! The Gauss rules embedded in the Kronrod rules give an error estimate of
//! every quadrature value, to which each pair adds the effect of the
//! rounding of its correlation (a few ulp, and the snap to ±1): behind a
//! layer of large variance E[φ′(u)φ′(v)] moves by about the variance times
//! that rounding, relative to its scale, when the inputs are nearly equal,
//! so that in `f32` such pairs are refused. With `error-bounds` it joins the error bound
//! (relative to the diagonal scale); without, each layer's estimate is held
//! against [`PRECISION_LIMIT`] alone. Either way a kernel whose estimate
//! passes the limit is [`Error::PrecisionLoss`](crate::Error::PrecisionLoss)
//! (an activation that never settles, such as sin at a huge variance, and
//! any quadrature layer whose input variance passes 10²⁰, beyond which the
//! rule stops refining).
//!
//! A pair costs from about 9 000 evaluations each of φ and φ′ at both
//! arguments (small variances) through 18 000 (variance 1) to 234 000
//! (variance 10¹²); a diagonal entry 150 to 420.
//!
//! # Sequences and images
//!
//! [`Architecture::gram_spatial`] and [`Architecture::cross_spatial`] (and
//! the array forms [`Architecture::gram_sequence`],
//! [`Architecture::gram_image`]) compute the kernels of convolutional
//! architectures (`conv`, `conv_circ`, `avg_pool`, `gap`, `flatten`, with
//! dense layers and nonlinearities acting per position) over the full
//! position-pair state Σᵢⱼ[s, s′], Θᵢⱼ[s, s′], in a workspace the caller
//! provides ([`Architecture::workspace_len`], or the constant
//! [`Architecture::workspace_bound`]). They agree with the neural-tangents
//! reference kernels of `tests/data/structured_public.txt` (format version
//! 2) to about 10⁻⁸ relative. Only the band of position offsets that the
//! readout reads is computed (offset 0 for `flatten`, widened by pooling,
//! all for `gap`), so that a flatten readout costs O(|S|) per pair.
//!
//! The rounding-error bound of the [precision](self#precision) section is
//! carried through them too, in units of per-position scales that dominate
//! the variances (averaging layers keep a correlation error, by
//! Cauchy–Schwarz; pooling can amplify it where the pooled variance cancels;
//! each table entry of a nonlinearity moves it as a flat pair would, and
//! with the quadrature's error estimate of every entry), and each kernel is
//! held against its own diagonal scale: a kernel past
//! [`PRECISION_LIMIT`] is [`Error::PrecisionLoss`](crate::Error::PrecisionLoss)
//! with zeroed outputs. Entries whose correlation rounds to ±1 are taken at
//! the worst distance from collinear (the flat routines follow the
//! distance), so the bound is looser there: in `f32`, near-collinear
//! inputs behind several nonlinearities of huge variance are refused where
//! the flat routines may still accept the same network on flat inputs.
//!
//! # Attention, layer norm and residual blocks
//!
//! The same routines compute self-attention (`attn(WQ,WK,WV,WO)` with
//! softmax weights, `attn_id(WQ,WK,WV,WO)` with raw ones: neural-tangents'
//! `GlobalSelfAttention` with `linear_scaling=True`), layer norm over the
//! channels (`layernorm`) and residual blocks `[ L1 L2 … ]` (x + B(x),
//! nested as deep as wanted), with the maps of `reference/FORMAT.md`
//! (version 2):
//!
//! - attention: Gᵢ\[s, s′\] = softmax over s′ of WQ·WK·Σᵢᵢ\[s, s′\] (or
//!   Gᵢ = WQ·WK·Σᵢᵢ), Σ′ᵢⱼ = (WV·WO)²·Gᵢ Σᵢⱼ Gⱼᵀ,
//!   Θ′ᵢⱼ = (WV·WO)²·Gᵢ Θᵢⱼ Gⱼᵀ + 2Σ′ᵢⱼ, over all positions of a sequence
//!   or an image; it reads every table whole (two |S|³ products per table
//!   and pair), and the tables after it keep the offsets their readout
//!   reads;
//! - layer norm: Σ′ᵢⱼ\[s, s′\] = Σᵢⱼ\[s, s′\]/√((qᵢ\[s\] + ε)(qⱼ\[s′\] + ε)), Θ
//!   divided by the same, ε = 10⁻¹²;
//! - residual block: Σ ← Σ + Σ_B, Θ ← Θ + Θ_B; the state at `[` is kept in
//!   the workspace, one saved state per level of nesting.
//!
//! Architectures with these layers follow neural-tangents' Gaussianity
//! rules, checked by the parser and by [`Architecture::workspace_len`]
//! ([`Architecture::parse`] lists them). Layer norm and residual blocks
//! also act on flat data: [`Architecture::gram_spatial`] with
//! [`Shape::Flat`] computes them on a grid of one position, while the flat
//! routines ([`Architecture::gram`], [`Architecture::kernel`], …) refuse them
//! with [`Error::InvalidArgument`](crate::Error::InvalidArgument); attention
//! needs positions. All 48 cases of `structured_public.txt` agree with
//! neural-tangents to 4·10⁻⁹ relative in f64 and 3·10⁻⁶ in f32.
//!
//! The error bound carries through them: layer norm divides the scales as
//! the variances and adds the relative error of its divisor; softmax
//! weights are probability weights, so by Cauchy–Schwarz the scales map as
//! for averaging (raw weights with their absolute row sums), plus the error
//! of the weights from that of Σᵢᵢ; a residual block adds the scales and
//! keeps the worse bound. Attention averages positions whose covariances
//! may cancel, so the variances after it are known to fewer digits than
//! its scales: in `f32`, a ReLU-type activation after attention and layer
//! norm can push the bound past the limit (7 of the 48 reference cases are
//! refused in `f32`, all accepted in f64).
//! Layer norm, attention and residual blocks are not built yet.
//!
//! # Recurrent networks
//!
//! `rnn(W,U,B,ACT) last dense(V,BV)` and `rnn(W,U,B,ACT) gap dense(V,BV)`
//! are Elman RNNs (h_t = φ(W·h_{t−1}·σw/√H + U·x_t·σu/√D + σb·b), read
//! out at the last step or averaged over time) whose infinite-width
//! kernels follow `reference/RNN.md`:
//! [`Architecture::gram_recurrent`] and [`Architecture::cross_recurrent`]
//! (which the sequence routines hand over to), with relu, erf, tanh,
//! identity and gelu ([`RnnActivation`]; the five of RNN.md) and, as an
//! extension, every other activation of the fully connected layers: abs and
//! sin ([`RnnActivation`]), `leaky_relu(A)`, `abrelu(A,B)` and custom
//! activations ([`RnnNonlinearity`], on [`Layer::RnnWith`]), written in
//! `rnn(W,U,B,ACT)` with their fully connected tokens, by the same dual
//! maps (closed forms, the quadrature for tanh and custom ones), with the
//! rounding-error bound of the flat routines. [`RecurrentStream`] advances the `last` kernels of N
//! sequences one time step at a time, in O(N²) per step.
//!
//! # Text form
//!
//! See [`Architecture::parse`] for the tokens, and [`text`] for the file
//! format of reference kernels (what `examples/kernel.rs` reads and writes).
//!
//! # Finite networks
//!
//! `empirical::MonteCarlo` averages the NNGP and the empirical NTK of a finite
//! network of [`nn`](crate::nn) layers over random initialisations, to
//! compare with these limits (`examples/width_convergence.rs` shows the
//! 1/√width convergence of the NTK).

// The files import only from files earlier in this list:
// pair → quadrature → dual → step → activation → layer → arch → syntax → layout → case → report
// → text → collinear → precision → rows → tile → gram → grid → band → table → spatial
// → recurrent → recurrent_gram → stream → finite_width.
mod activation;
mod arch;
mod band;
mod block;
mod case;
mod collinear;
mod dual;
pub mod finite_width;
mod gram;
mod grid;
mod layer;
mod layout;
mod pair;
mod precision;
#[cfg(feature = "quadrature")]
mod quadrature;
mod recurrent;
mod recurrent_gram;
mod report;
mod report_block;
mod rows;
mod spatial;
mod step;
mod stream;
mod syntax;
mod table;
pub mod text;
mod tile;

pub use arch::{Architecture, Shape, DEFAULT_CAPACITY};

/// The largest error bound a kernel routine of this module accepts, relative
/// to the diagonal scale: |δK(x, x′)| ≤ 10⁻²·√(K(x, x)·K(x′, x′)), and the
/// same for Θ.
///
/// Every kernel routine ([`Architecture::gram`], [`Architecture::cross`],
/// [`Architecture::kernel`], their flat forms, and the sequence and image
/// routines [`Architecture::gram_spatial`], [`Architecture::cross_spatial`])
/// carries a first-order bound on its rounding error through the recursion
/// (see the
/// [precision](self#precision) section) and returns
/// [`Error::PrecisionLoss`](crate::Error::PrecisionLoss), with zeroed
/// outputs, when the bound passes this limit.
///
/// # Examples
///
/// ```
/// use ntk::analytic::Architecture;
/// use ntk::Error;
/// // erf behind σw = 10⁴ in f32: the correlation of nearby inputs is lost.
/// let a: Architecture<f32> = "dense(1e4,0) erf dense(1e4,0) erf dense(1,0)".parse()?;
/// let x = [[1.0, 0.0, 0.5], [1.0, 0.0, 0.5001]];
/// let (mut k, mut t) = ([[0.0; 2]; 2], [[0.0; 2]; 2]);
/// let r = a.gram(&x, &mut k, &mut t);
/// if cfg!(feature = "error-bounds") {
///     assert_eq!(r, Err(Error::PrecisionLoss { what: "kernel" }));
///     assert_eq!(k, [[0.0; 2]; 2]);
/// }
/// // f64 carries the same network comfortably.
/// let a: Architecture<f64> = "dense(1e4,0) erf dense(1e4,0) erf dense(1,0)".parse()?;
/// let x = [[1.0, 0.0, 0.5], [1.0, 0.0, 0.5001]];
/// let (mut k, mut t) = ([[0.0; 2]; 2], [[0.0; 2]; 2]);
/// a.gram(&x, &mut k, &mut t)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub const PRECISION_LIMIT: f64 = 1e-2;
#[cfg(feature = "quadrature")]
#[cfg_attr(docsrs, doc(cfg(feature = "quadrature")))]
pub use layer::CustomActivation;
/// The former name of [`CustomActivation`], kept for one release.
#[cfg(feature = "quadrature")]
#[cfg_attr(docsrs, doc(cfg(feature = "quadrature")))]
#[deprecated(note = "renamed `CustomActivation`, apart from the `nn::Activation` trait")]
pub type Activation<T> = CustomActivation<T>;
pub use activation::RnnActivation;
pub use layer::Layer;
pub use layer::RnnNonlinearity;
pub use pair::PairState;
pub use stream::RecurrentStream;
