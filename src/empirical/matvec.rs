//! The empirical NTK as a linear operator: `Θ·v` without forming `Θ`.
//!
//! For N inputs and K outputs the block kernel is the (N·K)×(N·K) matrix
//! `Θ[(i,k),(j,k')] = ∇θ f_k(x_i)·∇θ f_k'(x_j)` (the entries of
//! [`structured::ntk_blocks`](super::structured::ntk_blocks), vectors
//! indexed `i·K + k`). Its product with `v` is `J·(Jᵀ·v)`, `J` the
//! (N·K)×P Jacobian, in two passes over the inputs:
//!
//! 1. `g = Σ_j Σ_k' v[j·K + k']·∇θ f_k'(x_j)`: one forward and one backward
//!    pass per input with the cotangent `v_j`, accumulated into a gradient
//!    of P parameters ([`Params`] order) in the caller's workspace;
//! 2. `(Θ·v)[i·K + k] = ∇θ f_k(x_i)·g`: one forward pass and K backward
//!    passes per input, each layer's gradient factors contracted with `g`
//!    as the backward pass hands them over, so no gradient is formed.
//!
//! Memory O(P + N·K) (the workspace and the vectors), work O(N·P) per
//! product, and nothing of size N²: the kernel regression of 100 000
//! points runs in the memory of the data ([`NtkOperator`] with the solvers
//! of [`linalg::krylov`](crate::linalg::krylov)). Inputs go four at a time
//! through the batched passes of [`Module`], each weight row loaded once per
//! batch. Every network of the crate works (dense, convolutional,
//! recurrent, attention blocks): the passes use only the [`Module`]
//! contract.
//!
//! # Examples
//!
//! `Θ·v` agrees with the dense kernel times `v`:
//!
//! ```
//! use ntk::empirical::{matvec::NtkOperator, structured};
//! use ntk::linalg::krylov::LinearOperator;
//! use ntk::nn::{Dense, Params, Relu};
//! use ntk::Rng;
//! type Net = (Dense<f64, 2, 16>, Relu, Dense<f64, 16, 1>);
//! let mut rng = Rng::new(4);
//! let net: Net = (Dense::ntk(1.5, 0.1, &mut rng), Relu, Dense::ntk(1.5, 0.1, &mut rng));
//! let xs = [[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]];
//! let v = [1.0, -2.0, 0.5];
//!
//! let mut g = [0.0; Net::NUM_PARAMS];
//! let mut op = NtkOperator::new(&net, &xs, &mut g)?;
//! let mut tv = [0.0; 3];
//! op.apply(&v, &mut tv)?;
//!
//! let mut ws = [0.0; structured::workspace_len::<f64, Net>(3, 1)];
//! let mut theta = [[0.0; 3]; 3];
//! structured::ntk(&net, &xs, &mut ws, &mut theta)?;
//! for i in 0..3 {
//!     let want: f64 = (0..3).map(|j| theta[i][j] * v[j]).sum();
//!     assert!((tv[i] - want).abs() < 1e-12 * want.abs().max(1.0));
//! }
//! # Ok::<(), ntk::Error>(())
//! ```
//!
//! Kernel regression at `t = ∞` by conjugate gradients, then the test
//! outputs `Θ(x*, X)·w`:
//!
//! ```
//! use ntk::empirical::matvec::NtkOperator;
//! use ntk::linalg::krylov::{cg_workspace_len, conjugate_gradient, KrylovOptions};
//! use ntk::nn::{Dense, Params, Relu};
//! use ntk::Rng;
//! type Net = (Dense<f64, 1, 32>, Relu, Dense<f64, 32, 1>);
//! let mut rng = Rng::new(1);
//! let net: Net = (Dense::ntk(1.5, 0.1, &mut rng), Relu, Dense::ntk(1.5, 0.1, &mut rng));
//! let xs = [[-1.0], [-0.3], [0.4], [1.0]];
//! let y = [0.5, -0.2, 0.1, 0.7];
//!
//! let mut g = [0.0; Net::NUM_PARAMS];
//! let mut op = NtkOperator::new(&net, &xs, &mut g)?;
//! let eps = 1e-3 * op.mean_diagonal()?;
//! let (mut work, mut w) = ([0.0; cg_workspace_len(4)], [0.0; 4]);
//! let opts = KrylovOptions { tolerance: 1e-10, max_iterations: 50 };
//! let report = conjugate_gradient(&mut op, eps, &y, opts, &mut work, &mut w)?;
//! assert!(report.residual <= 1e-10);
//! // At the training inputs the prediction is y − ε·w.
//! let mut f = [0.0; 4];
//! op.apply_cross(&xs, &w, &mut f)?;
//! for i in 0..4 {
//!     assert!((f[i] + eps * w[i] - y[i]).abs() < 1e-8);
//! }
//! # Ok::<(), ntk::Error>(())
//! ```

use core::cell::RefCell;

use super::range::Diagonal;
use crate::linalg::krylov::LinearOperator;
use crate::nn::{ConvFactors, GradSink, Module, Params, RnnFactors, Zeroed};
use crate::outputs::zero_on_error;
use crate::simd::{axpy, check_finite, check_result, dot};
use crate::{Error, Real};

/// Inputs per batched forward/backward pass.
const BATCH: usize = 4;

/// Workspace elements [`NtkOperator::new`] needs: one gradient, P =
/// [`Params::NUM_PARAMS`] elements.
///
/// ```
/// use ntk::nn::{Dense, Relu};
/// type Net = (Dense<f32, 16, 256>, Relu, Dense<f32, 256, 256>, Relu, Dense<f32, 256, 1>);
/// assert_eq!(ntk::empirical::matvec::workspace_len::<f32, Net>(), 70_401);
/// ```
pub const fn workspace_len<T: Real, Net: Params<T>>() -> usize {
    Net::NUM_PARAMS
}

/// The empirical NTK of `net` on the training inputs `xs` as a
/// [`LinearOperator`] of dimension N·K, for the solvers of
/// [`linalg::krylov`](crate::linalg::krylov).
///
/// It borrows the network, the inputs and a workspace of
/// [`workspace_len`] elements (the accumulated gradient `Jᵀ·v`), and
/// allocates nothing.
#[derive(Debug)]
pub struct NtkOperator<'a, T, Net, const D: usize, const K: usize> {
    net: &'a Net,
    xs: &'a [[T; D]],
    grad: &'a mut [T],
}

impl<'a, T, Net, const D: usize, const K: usize> NtkOperator<'a, T, Net, D, K>
where
    T: Real,
    Net: Module<T, [T; D], Output = [T; K]> + Params<T>,
{
    /// The operator of `net` on `xs`, with `workspace` of at least
    /// [`workspace_len`] elements (the first of them are used).
    ///
    /// # Errors
    ///
    /// [`Error::BufferTooSmall`] for a short workspace; [`Error::NonFinite`]
    /// for NaN/∞ inputs or parameters; [`Error::Overflow`] if N·K overflows
    /// `usize`.
    pub fn new(net: &'a Net, xs: &'a [[T; D]], workspace: &'a mut [T]) -> Result<Self, Error> {
        const { assert!(K > 0, "a network needs at least one output") };
        let p = Net::NUM_PARAMS;
        if workspace.len() < p {
            return Err(Error::BufferTooSmall {
                needed: p,
                given: workspace.len(),
            });
        }
        xs.len().checked_mul(K).ok_or(Error::Overflow {
            what: "operator dimension N·K",
        })?;
        check_finite(xs.as_flattened(), "inputs")?;
        if !net.is_finite() {
            return Err(Error::NonFinite {
                what: "network parameters",
            });
        }
        Ok(Self {
            net,
            xs,
            grad: &mut workspace[..p],
        })
    }

    /// The training inputs.
    pub fn inputs(&self) -> &'a [[T; D]] {
        self.xs
    }

    /// `out = Θ(x1, X)·v`: the (M·K)×(N·K) block kernel between the inputs
    /// `x1` (any M of them, the training inputs too) and the training
    /// inputs, times `v` (N·K elements, `v[j·K + k']`). With `v` the
    /// weights of kernel regression ([`conjugate_gradient`] on this
    /// operator) this is the prediction at `x1`.
    ///
    /// [`conjugate_gradient`]: crate::linalg::krylov::conjugate_gradient
    ///
    /// # Errors
    ///
    /// [`Error::BufferTooSmall`] / [`Error::InvalidArgument`] for `v` or
    /// `out` shorter / longer than N·K or M·K; [`Error::NonFinite`] for
    /// NaN/∞ in `v` or `x1`; [`Error::Overflow`] for a non-finite gradient
    /// or result; [`Error::InvalidArgument`] if the network's backward pass
    /// disagrees with its parameter count. On error `out` is zeroed.
    pub fn apply_cross(&mut self, x1: &[[T; D]], v: &[T], out: &mut [T]) -> Result<(), Error> {
        zero_on_error(out, |out| {
            let n = self.xs.len() * K;
            check_len(v.len(), n, "vector longer than N·K")?;
            let m = x1.len().checked_mul(K).ok_or(Error::Overflow {
                what: "output length M·K",
            })?;
            check_len(out.len(), m, "output longer than M·K")?;
            check_finite(v, "vector")?;
            check_finite(x1.as_flattened(), "inputs")?;
            self.accumulate(v)?;
            self.contract(x1, out)
        })
    }

    /// The mean diagonal `trace(Θ)/(N·K) = Σ_{i,k} ‖∇θ f_k(x_i)‖² / (N·K)`,
    /// in one pass over the inputs from the layers' factors (no gradient
    /// formed): the scale of a relative regulariser (neural-tangents'
    /// `diag_reg`). 0 for no inputs.
    ///
    /// # Errors
    ///
    /// [`Error::Overflow`] / [`Error::PrecisionLoss`] where the structured
    /// kernel refuses an input's layer factors (the same range check);
    /// [`Error::Overflow`] for a non-finite sum.
    pub fn mean_diagonal(&self) -> Result<T, Error> {
        let mut sum = T::ZERO;
        let mut cache = Net::Cache::zeroed();
        for x in self.xs {
            self.net.forward(x, &mut cache);
            for k in 0..K {
                let mut sink = DiagonalSink(Diagonal::new());
                self.net
                    .backward_params(&cache, &unit::<T, K>(k), &mut sink);
                sink.0.verdict()?;
                sum += sink.0.sum();
            }
        }
        if self.xs.is_empty() {
            return Ok(T::ZERO);
        }
        let mean = sum / T::from_usize(self.xs.len() * K);
        check_result(&[mean], "kernel diagonal")?;
        Ok(mean)
    }

    /// `grad = Σ_j Jᵀ_j·v_j`: one backward pass per input with the
    /// cotangent `v_j`.
    fn accumulate(&mut self, v: &[T]) -> Result<(), Error> {
        self.grad.fill(T::ZERO);
        let p = self.grad.len();
        let net = self.net;
        let (batched, rest) = split_batches(self.xs);
        let (v_b, v_rest) = v.split_at(batched.len() * BATCH * K);
        let shared = RefCell::new(&mut *self.grad);
        let mut bad = false;
        if !batched.is_empty() {
            let mut cache = Net::BatchCache::<BATCH>::zeroed();
            for (xb, vb) in batched.iter().zip(v_b.chunks_exact(BATCH * K)) {
                net.forward_batch(xb, &mut cache);
                let dys: [[T; K]; BATCH] = core::array::from_fn(|b| row::<T, K>(vb, b));
                let mut sinks: [AddSink<'_, '_, T>; BATCH] =
                    core::array::from_fn(|_| AddSink::new(&shared, p));
                net.backward_with_batch(&cache, &dys, &mut sinks);
                bad |= sinks.iter().any(AddSink::incomplete);
            }
        }
        let mut cache = Net::Cache::zeroed();
        for (j, x) in rest.iter().enumerate() {
            net.forward(x, &mut cache);
            let mut sink = AddSink::new(&shared, p);
            net.backward_params(&cache, &row::<T, K>(v_rest, j), &mut sink);
            bad |= sink.incomplete();
        }
        if bad {
            return Err(shapes_disagree());
        }
        check_result(self.grad, "gradient Jᵀ·v")
    }

    /// `out[i·K + k] = ∇θ f_k(x1_i)·grad`.
    fn contract(&self, x1: &[[T; D]], out: &mut [T]) -> Result<(), Error> {
        let net = self.net;
        let g = &*self.grad;
        let (batched, rest) = split_batches(x1);
        let (out_b, out_rest) = out.split_at_mut(batched.len() * BATCH * K);
        let mut bad = false;
        if !batched.is_empty() {
            let mut cache = Net::BatchCache::<BATCH>::zeroed();
            for (xb, ob) in batched.iter().zip(out_b.chunks_exact_mut(BATCH * K)) {
                net.forward_batch(xb, &mut cache);
                for k in 0..K {
                    let mut sinks: [DotSink<'_, T>; BATCH] =
                        core::array::from_fn(|_| DotSink::new(g));
                    net.backward_with_batch(&cache, &[unit::<T, K>(k); BATCH], &mut sinks);
                    for (b, s) in sinks.iter().enumerate() {
                        bad |= s.incomplete();
                        ob[b * K + k] = s.acc;
                    }
                }
            }
        }
        let mut cache = Net::Cache::zeroed();
        for (x, o) in rest.iter().zip(out_rest.chunks_exact_mut(K)) {
            net.forward(x, &mut cache);
            for (k, ok) in o.iter_mut().enumerate() {
                let mut sink = DotSink::new(g);
                net.backward_params(&cache, &unit::<T, K>(k), &mut sink);
                bad |= sink.incomplete();
                *ok = sink.acc;
            }
        }
        if bad {
            return Err(shapes_disagree());
        }
        check_result(out, "kernel-vector product")
    }
}

impl<T, Net, const D: usize, const K: usize> LinearOperator<T> for NtkOperator<'_, T, Net, D, K>
where
    T: Real,
    Net: Module<T, [T; D], Output = [T; K]> + Params<T>,
{
    /// N·K.
    fn dim(&self) -> usize {
        self.xs.len() * K
    }

    /// `y = Θ(X, X)·x`, as [`NtkOperator::apply_cross`] with the training
    /// inputs.
    fn apply(&mut self, x: &[T], y: &mut [T]) -> Result<(), Error> {
        let xs = self.xs;
        self.apply_cross(xs, x, y)
    }
}

/// The inputs in whole batches (on targets with wide vectors) and the rest.
fn split_batches<T, const D: usize>(xs: &[[T; D]]) -> (&[[[T; D]; BATCH]], &[[T; D]]) {
    let batched = if crate::simd::WIDE {
        xs.len() / BATCH * BATCH
    } else {
        0
    };
    let (b, rest) = xs.split_at(batched);
    (b.as_chunks::<BATCH>().0, rest)
}

/// Row `j` of a row-major N×K slice (the caller checked its length).
fn row<T: Real, const K: usize>(v: &[T], j: usize) -> [T; K] {
    let mut r = [T::ZERO; K];
    if let Some(src) = v.get(j * K..j * K + K) {
        r.copy_from_slice(src);
    }
    r
}

/// The unit cotangent `e_k`.
fn unit<T: Real, const K: usize>(k: usize) -> [T; K] {
    let mut e = [T::ZERO; K];
    e[k] = T::ONE;
    e
}

fn check_len(given: usize, needed: usize, what: &'static str) -> Result<(), Error> {
    if given < needed {
        Err(Error::BufferTooSmall { needed, given })
    } else if given > needed {
        Err(Error::InvalidArgument { what })
    } else {
        Ok(())
    }
}

fn shapes_disagree() -> Error {
    Error::InvalidArgument {
        what: "the network's parameter count disagrees with its backward pass",
    }
}

/// Adds each layer's parameter gradient into a flat gradient in [`Params`]
/// order, walking it from the end as the backward pass visits the layers
/// (last first). The batched pass hands the same layer to several sinks in
/// turn, so they share the gradient through a `RefCell`.
struct AddSink<'a, 'g, T> {
    grad: &'a RefCell<&'g mut [T]>,
    end: usize,
    bad: bool,
}

impl<'a, 'g, T: Real> AddSink<'a, 'g, T> {
    fn new(grad: &'a RefCell<&'g mut [T]>, len: usize) -> Self {
        Self {
            grad,
            end: len,
            bad: false,
        }
    }

    fn incomplete(&self) -> bool {
        self.bad || self.end != 0
    }
}

impl<T: Real> GradSink<T> for AddSink<'_, '_, T> {
    fn dense(&mut self, a: &[T], ws: T, dy: &[T], bs: T) {
        let na = a.len();
        let n = dy.len() * (na + 1);
        let Ok(mut grad) = self.grad.try_borrow_mut() else {
            self.bad = true;
            return;
        };
        if self.bad || n > self.end {
            self.bad = true;
            return;
        }
        let start = self.end - n;
        let (w, b) = grad[start..self.end].split_at_mut(dy.len() * na);
        if na > 0 {
            for (&d, wo) in dy.iter().zip(w.chunks_exact_mut(na)) {
                axpy(d * ws, a, wo);
            }
        }
        for (bo, &d) in b.iter_mut().zip(dy) {
            *bo = d.mul_add(bs, *bo);
        }
        self.end = start;
    }
}

/// Contracts each layer's parameter gradient with a flat gradient `g` in
/// [`Params`] order, walking it from the end: `acc = ∇θ f·g`.
struct DotSink<'a, T> {
    g: &'a [T],
    end: usize,
    acc: T,
    bad: bool,
}

impl<'a, T: Real> DotSink<'a, T> {
    fn new(g: &'a [T]) -> Self {
        Self {
            g,
            end: g.len(),
            acc: T::ZERO,
            bad: false,
        }
    }

    fn incomplete(&self) -> bool {
        self.bad || self.end != 0
    }
}

impl<T: Real> GradSink<T> for DotSink<'_, T> {
    fn dense(&mut self, a: &[T], ws: T, dy: &[T], bs: T) {
        let na = a.len();
        let n = dy.len() * (na + 1);
        if self.bad || n > self.end {
            self.bad = true;
            return;
        }
        let start = self.end - n;
        let (w, b) = self.g[start..self.end].split_at(dy.len() * na);
        // Σ_o dy_o·(ws·(W_o·a) + bs·b_o)
        let mut wa = T::ZERO;
        if na > 0 {
            for (&d, wo) in dy.iter().zip(w.chunks_exact(na)) {
                wa = d.mul_add(dot(wo, a), wa);
            }
        }
        self.acc += ws * wa + bs * dot(dy, b);
        self.end = start;
    }
}

/// The diagonal `‖∇θ f_k(x)‖²` from the layers' factors.
struct DiagonalSink<T>(Diagonal<T>);

impl<T: Real> GradSink<T> for DiagonalSink<T> {
    fn dense(&mut self, a: &[T], ws: T, dy: &[T], bs: T) {
        self.0.dense(a, ws, dy, bs);
    }
    fn conv(&mut self, f: &ConvFactors<'_, T>) {
        self.0.conv(f);
    }
    fn rnn(&mut self, f: &RnnFactors<'_, T>) {
        self.0.rnn(f);
    }
}
