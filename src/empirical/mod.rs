//! Empirical NTK of finite networks: the factored (structured) method and the
//! plain Jacobian contraction.
//!
//! For a network f(x; θ) with K outputs the empirical NTK is
//! `Θ_kk'(x, x') = ∇θ f_k(x) · ∇θ f_k'(x')`. Two methods compute it:
//!
//! - [`structured`]: for the dense layers of this crate, a layer's share
//!   factorises as `(δ(x)·δ(x')) · (ws²·a(x)·a(x') + bs²)` with `a` the layer's
//!   input and `δ = ∂f/∂y` its output cotangent, so each entry costs
//!   O(widths) instead of O(parameters). Per-input `a` and `δ` are cached in a
//!   caller workspace and the Gram matrix is built segment by segment with
//!   the four-row dot micro-kernel (Novak, Sohl-Dickstein, Schoenholz 2022).
//! - [`jacobian`]: for any [`JacobianModel`] (every network of this crate,
//!   and any model a user can differentiate), the per-input Jacobian rows are
//!   written into the workspace and contracted, blocked along the parameter
//!   axis.
//!
//! Each comes as an N×N train×train matrix (`ntk`, bitwise symmetric, both
//! triangles written), an M×N test×train matrix (`ntk_cross`), and their full
//! K×K-block forms (`ntk_blocks`, `ntk_blocks_cross`, indexed
//! `[i][j][k][k']`). The plain forms use neural-tangents' default trace
//! convention: the mean over outputs of the diagonal blocks.
//!
//! [`matvec`] gives the NTK-vector product `Θ·v = J·(Jᵀ·v)` without forming
//! `Θ` (O(P + N·K) memory, O(N·P) work), the operator behind the
//! matrix-free solvers of [`linalg::krylov`](crate::linalg::krylov) for
//! large N.
//!
//! [`MonteCarlo`] averages the NNGP and the structured NTK of a network over
//! random initialisations, the finite-width estimate of the infinite-width
//! kernels of [`analytic`](crate::analytic). [`Fluctuations`] measures their
//! spread: per-entry means, variances and standard errors, the covariance
//! among chosen entries, and the fit of the 1/width correction
//! ([`fluctuations`]).
//!
//! [`drift`] gives the kernel's exact time derivative under gradient flow
//! at initialisation, and from it the relative change of the kernel a
//! training run will make, predicted before training.
//!
//! ```
//! use ntk::empirical::{jacobian, structured};
//! use ntk::nn::{Dense, Relu};
//! use ntk::Rng;
//! let mut rng = Rng::new(1);
//! type Net = (Dense<f64, 2, 8>, Relu, Dense<f64, 8, 1>);
//! let net: Net = (Dense::ntk(1.5, 0.1, &mut rng), Relu, Dense::ntk(1.5, 0.1, &mut rng));
//! let xs = [[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]];
//!
//! let mut ws = [0.0; structured::workspace_len::<f64, Net>(3, 1)];
//! let mut theta = [[0.0; 3]; 3];
//! structured::ntk(&net, &xs, &mut ws, &mut theta)?;
//!
//! let mut wj = [0.0; jacobian::workspace_len::<f64, [f64; 2], Net>(3)];
//! let mut reference = [[0.0; 3]; 3];
//! jacobian::ntk(&net, &xs, &mut wj, &mut reference)?;
//! for i in 0..3 {
//!     for j in 0..3 {
//!         assert!((theta[i][j] - reference[i][j]).abs() < 1e-12);
//!         assert_eq!(theta[i][j].to_bits(), theta[j][i].to_bits());
//!     }
//! }
//! # Ok::<(), ntk::Error>(())
//! ```

pub mod drift;
pub mod fluctuations;
mod gram;
pub mod jacobian;
pub mod matvec;
pub mod monte_carlo;
mod range;
pub mod structured;

use crate::nn::{FlatGradient, GradSink, Module, Params, Zeroed};
use crate::outputs::zero_on_error;
use crate::simd::check_finite;
use crate::{Error, Real};

pub use fluctuations::Fluctuations;
pub use monte_carlo::MonteCarlo;

/// A model whose per-input parameter Jacobian can be written into a flat
/// buffer: what the Jacobian-contraction NTK needs ("NTK for generic
/// nonlinear models").
///
/// Every network of this crate implements it; implement it for your own
/// model to get its empirical NTK from [`jacobian`].
///
/// # Examples
///
/// ```
/// use ntk::empirical::{jacobian, JacobianModel};
/// use ntk::Error;
///
/// /// f(x; a, b) = a·sin(b·x), one output, two parameters.
/// struct Wave { a: f64, b: f64 }
/// impl JacobianModel<f64, f64> for Wave {
///     const OUTPUTS: usize = 1;
///     const PARAMS: usize = 2;
///     fn jacobian(&self, x: &f64, out: &mut [f64]) -> Result<(), Error> {
///         out[0] = (self.b * x).sin();
///         out[1] = self.a * x * (self.b * x).cos();
///         Ok(())
///     }
/// }
///
/// let model = Wave { a: 2.0, b: 0.5 };
/// let xs = [0.3, 1.2];
/// let mut ws = [0.0; jacobian::workspace_len::<f64, f64, Wave>(2)];
/// let mut theta = [[0.0; 2]; 2];
/// jacobian::ntk(&model, &xs, &mut ws, &mut theta)?;
/// let g = |x: f64| [(0.5 * x).sin(), 2.0 * x * (0.5 * x).cos()];
/// let (g0, g1) = (g(0.3), g(1.2));
/// assert!((theta[0][1] - (g0[0] * g1[0] + g0[1] * g1[1])).abs() < 1e-15);
/// # Ok::<(), Error>(())
/// ```
pub trait JacobianModel<T: Real, X> {
    /// Number of outputs K.
    const OUTPUTS: usize;
    /// Number of parameters P.
    const PARAMS: usize;
    /// `true` if [`jacobian`](Self::jacobian) applies the range check of the
    /// structured method to its own layer factors (this crate's networks
    /// do); otherwise [`jacobian::ntk`] checks the range of each row's
    /// `‖J_k(x)‖²`. Leave the default for your own models.
    const CHECKS_RANGE: bool = false;
    /// Writes `∂f_k(x)/∂θ_p` into `out[k·PARAMS + p]`; `out` holds exactly
    /// `OUTPUTS·PARAMS` elements.
    ///
    /// # Errors
    ///
    /// Whatever the model reports; the crate's networks report
    /// [`Error::BufferTooSmall`] for a short `out` and
    /// [`Error::InvalidArgument`] for a longer one (as
    /// [`Params::write_flat`] does), then [`Error::NonFinite`] for a
    /// non-finite input or parameter, and [`Error::Overflow`] when a layer's
    /// factors `‖ws·a‖² + bs²` or `‖δ‖²` pass `MAX·2⁻²⁶`, where the
    /// structured method's products would overflow. On every error the
    /// crate's networks zero `out`; the kernels zero their own output
    /// whatever a model leaves in the workspace.
    fn jacobian(&self, x: &X, out: &mut [T]) -> Result<(), Error>;
}

impl<T: Real, X, M, const K: usize> JacobianModel<T, X> for M
where
    X: AsRef<[T]>,
    M: Module<T, X, Output = [T; K]> + Params<T>,
{
    const OUTPUTS: usize = K;
    const PARAMS: usize = M::NUM_PARAMS;
    const CHECKS_RANGE: bool = true;

    fn jacobian(&self, x: &X, out: &mut [T]) -> Result<(), Error> {
        zero_on_error(out, |out| write_jacobian(self, x, out))
    }
}

/// The rows of [`JacobianModel::jacobian`] for the crate's networks.
fn write_jacobian<T, X, M, const K: usize>(net: &M, x: &X, out: &mut [T]) -> Result<(), Error>
where
    T: Real,
    X: AsRef<[T]>,
    M: Module<T, X, Output = [T; K]> + Params<T>,
{
    let p = M::NUM_PARAMS;
    if out.len() < K * p {
        return Err(Error::BufferTooSmall {
            needed: K * p,
            given: out.len(),
        });
    }
    if out.len() > K * p {
        return Err(Error::InvalidArgument {
            what: "Jacobian buffer longer than OUTPUTS·PARAMS",
        });
    }
    check_finite(x.as_ref(), "inputs")?;
    if !net.is_finite() {
        return Err(Error::NonFinite {
            what: "network parameters",
        });
    }
    let mut cache = M::Cache::zeroed();
    net.forward(x, &mut cache);
    for (k, row) in out.chunks_exact_mut(p.max(1)).enumerate().take(K) {
        let mut dy = [T::ZERO; K];
        dy[k] = T::ONE;
        let mut sink = Checked {
            flat: FlatGradient::new(row),
            diag: range::Diagonal::new(),
        };
        net.backward_params(&cache, &dy, &mut sink);
        if !sink.flat.is_complete() {
            return Err(Error::InvalidArgument {
                what: "the network's parameter count disagrees with its backward pass",
            });
        }
        sink.diag.verdict()?;
    }
    Ok(())
}

/// A Jacobian row's sink that also applies the range check the structured
/// method applies to the same layer factors.
struct Checked<'a, T> {
    flat: FlatGradient<'a, T>,
    diag: range::Diagonal<T>,
}

impl<T: Real> GradSink<T> for Checked<'_, T> {
    fn dense(&mut self, a: &[T], ws: T, dy: &[T], bs: T) {
        self.diag.dense(a, ws, dy, bs);
        self.flat.dense(a, ws, dy, bs);
    }
    fn conv_weight_grad(
        &mut self,
        weight_len: usize,
        bias_len: usize,
        factored: bool,
    ) -> crate::nn::WeightGradBuffer<'_, T> {
        self.flat.conv_weight_grad(weight_len, bias_len, factored)
    }
    fn conv(&mut self, f: &crate::nn::ConvFactors<'_, T>) {
        match self.flat.lent_weight_grad(f.bias_grad.len()) {
            Some(weight_grad) => self
                .diag
                .conv(&crate::nn::ConvFactors { weight_grad, ..*f }),
            None => self.diag.conv(f),
        }
        self.flat.conv(f);
    }
    fn rnn(&mut self, f: &crate::nn::RnnFactors<'_, T>) {
        self.diag.rnn(f);
        self.flat.rnn(f);
    }
}
