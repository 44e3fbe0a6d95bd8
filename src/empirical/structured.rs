//! The factored (structured) empirical NTK of networks built from this
//! crate's layers.
//!
//! A dense layer `y = ws·W·a + bs·b` contributes
//! `Θ_layer(x, x') = (δ(x)·δ(x')) · (ws²·a(x)·a(x') + bs²)` with `δ = ∂f/∂y`.
//! Per input the workspace holds one record: for every dense layer the scaled
//! input `[ws·a, bs]`, then for every output `k` the cotangents `δ_k` of every
//! dense layer. The Gram matrix is then a sum over layers of Hadamard
//! products of two Gram matrices, computed without ever forming a parameter
//! gradient: O(N²·Σ widths) instead of O(N²·parameters).
//!
//! A convolution contributes either through its position-summed gradient
//! (as two dense factors of input width 0) or, where that costs less,
//! factored over positions, `Σ_{p,p'} (δ_p·δ'_{p'})·(ā_p·ā'_{p'})` (see
//! [`Conv1d`](crate::nn::Conv1d)). A recurrent layer does the same over
//! time steps, `Σ_{t,t'} (δ_t·δ'_{t'})·(ā_t·ā'_{t'})` with weights shared
//! across time (see [`Rnn`](crate::nn::Rnn)).
//!
//! Workspace: [`workspace_len`] elements for the inputs involved (N for
//! [`ntk`], M + N for [`ntk_cross`]).

use super::gram::{self, Layout, Mode, Segment};
use super::range::{note, Diagonal};
use crate::nn::{ConvFactors, GradSink, Module, Params, RnnFactors, WeightGradBuffer, Zeroed};
use crate::outputs::zero_on_error;
use crate::simd::{check_finite, check_result};
use crate::{Error, Real};

/// Elements of one input's record for a network with `outputs` outputs.
const fn record_len<T: Real, Net: Params<T>>(outputs: usize) -> usize {
    Net::DENSE_IN + Net::DENSE_LAYERS + outputs * Net::DENSE_OUT
}

/// Workspace elements the structured method needs for `inputs` inputs (the
/// sum over both sets for a cross matrix) of a network with `outputs` outputs.
///
/// # Examples
///
/// ```
/// use ntk::empirical::structured::workspace_len;
/// use ntk::nn::{Dense, Relu};
/// type Net = (Dense<f32, 16, 128>, Relu, Dense<f32, 128, 1>);
/// // per input: (16 + 1) + (128 + 1) activations, 128 + 1 cotangents
/// assert_eq!(workspace_len::<f32, Net>(10, 1), 10 * (17 + 129 + 129));
/// ```
pub const fn workspace_len<T: Real, Net: Params<T>>(inputs: usize, outputs: usize) -> usize {
    inputs * record_len::<T, Net>(outputs)
}

/// Writes the factors of one dense layer at a time into a record, from the
/// end (backward passes visit the last layer first).
struct FactorSink<'a, T> {
    rec: &'a mut [T],
    a_end: usize,
    d_base: usize,
    d_end: usize,
    write_acts: bool,
    bad: bool,
    diag: Diagonal<T>,
    /// The weight gradient length lent to the convolution whose `conv`
    /// call is due.
    lent: Option<usize>,
}

impl<T: Real> GradSink<T> for FactorSink<'_, T> {
    fn dense(&mut self, a: &[T], ws: T, dy: &[T], bs: T) {
        self.diag.dense(a, ws, dy, bs);
        let na = a.len() + 1;
        if na > self.a_end || dy.len() > self.d_end {
            self.bad = true;
            return;
        }
        self.a_end -= na;
        if self.write_acts {
            let dst = &mut self.rec[self.a_end..self.a_end + na];
            for (d, &v) in dst.iter_mut().zip(a) {
                *d = ws * v;
            }
            dst[na - 1] = bs;
        }
        self.d_end -= dy.len();
        let at = self.d_base + self.d_end;
        self.rec[at..at + dy.len()].copy_from_slice(dy);
    }

    /// A convolution with its position-summed gradient writes its weight
    /// gradient straight into the record, where [`GradSink::dense`] would
    /// copy it; a factored one keeps its own (the range check reads it).
    fn conv_weight_grad(
        &mut self,
        weight_len: usize,
        bias_len: usize,
        factored: bool,
    ) -> WeightGradBuffer<'_, T> {
        if factored || self.a_end < 2 || bias_len + weight_len > self.d_end {
            return WeightGradBuffer::Own;
        }
        let at = self.d_base + self.d_end - bias_len - weight_len;
        self.lent = Some(weight_len);
        WeightGradBuffer::Lent(&mut self.rec[at..at + weight_len])
    }

    /// Inlined, so that the layer's constant `factored` leaves one of the
    /// two paths in the program.
    #[inline(always)]
    fn conv(&mut self, f: &ConvFactors<'_, T>) {
        if f.factored {
            self.conv_factored(f);
        } else {
            self.conv_summed(f);
        }
    }

    fn rnn(&mut self, f: &RnnFactors<'_, T>) {
        if !f.factored {
            self.dense(&[], T::ONE, f.b_grad, T::ONE);
            self.dense(&[], T::ONE, f.u_grad, T::ONE);
            self.dense(&[], T::ONE, f.w_grad, T::ONE);
            return;
        }
        self.diag.rnn(f);
        let m = f.width() + f.channels() + 1;
        let na = f.steps() * m;
        if na > self.a_end || f.delta.len() > self.d_end {
            self.bad = true;
            return;
        }
        self.a_end -= na;
        if self.write_acts {
            let dst = &mut self.rec[self.a_end..self.a_end + na];
            for (t, patch) in dst.chunks_exact_mut(m).enumerate() {
                f.patch(t, patch);
            }
        }
        self.d_end -= f.delta.len();
        let at = self.d_base + self.d_end;
        self.rec[at..at + f.delta.len()].copy_from_slice(f.delta);
    }
}

impl<T: Real> FactorSink<'_, T> {
    /// A convolution by its position-summed gradient: two dense factors.
    fn conv_summed(&mut self, f: &ConvFactors<'_, T>) {
        self.dense(&[], T::ONE, f.bias_grad, T::ONE);
        match self.lent.take() {
            // what `dense(&[], 1, weight_grad, 1)` does, the cotangent
            // being in place already
            Some(n) if !self.bad && self.a_end >= 1 && n <= self.d_end => {
                self.d_end -= n;
                let at = self.d_base + self.d_end;
                self.diag.dense(&[], T::ONE, &self.rec[at..at + n], T::ONE);
                self.a_end -= 1;
                if self.write_acts {
                    self.rec[self.a_end] = T::ONE;
                }
            }
            Some(_) => self.bad = true,
            None => self.dense(&[], T::ONE, f.weight_grad, T::ONE),
        }
    }

    /// A convolution factored over positions: its patches and cotangents.
    fn conv_factored(&mut self, f: &ConvFactors<'_, T>) {
        self.diag.conv(f);
        let l = f.positions();
        let m = f.width * f.c_in + 1;
        let na = l * m;
        if na > self.a_end || f.dy.len() > self.d_end {
            self.bad = true;
            return;
        }
        self.a_end -= na;
        if self.write_acts {
            let dst = &mut self.rec[self.a_end..self.a_end + na];
            for (p, patch) in dst.chunks_exact_mut(m).enumerate() {
                f.patch(p, patch);
            }
        }
        self.d_end -= f.dy.len();
        let at = self.d_base + self.d_end;
        self.rec[at..at + f.dy.len()].copy_from_slice(f.dy);
    }
}

#[cfg(feature = "rayon")]
mod parallel;
#[cfg(feature = "rayon")]
#[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
pub use parallel::{
    ntk_blocks_cross_parallel, ntk_blocks_parallel, ntk_cross_parallel, ntk_parallel,
};

/// Inputs per forward/backward batch: each weight row is loaded once per
/// batch.
const BATCH: usize = 4;

fn sink_for<T: Real, Net: Params<T>>(rec: &mut [T], k: usize) -> FactorSink<'_, T> {
    let acts = Net::DENSE_IN + Net::DENSE_LAYERS;
    FactorSink {
        rec,
        a_end: acts,
        d_base: acts + k * Net::DENSE_OUT,
        d_end: Net::DENSE_OUT,
        write_acts: k == 0,
        bad: false,
        diag: Diagonal::new(),
        lent: None,
    }
}

fn shapes_disagree() -> Error {
    Error::InvalidArgument {
        what: "the network's dense shapes disagree with its backward pass",
    }
}

fn write_records<T, Net, const D: usize, const K: usize>(
    net: &Net,
    xs: &[[T; D]],
    recs: &mut [T],
    refusal: &mut Option<Error>,
) -> Result<(), Error>
where
    T: Real,
    Net: Module<T, [T; D], Output = [T; K]> + Params<T>,
{
    let rec = record_len::<T, Net>(K);
    if rec == 0 {
        return Ok(());
    }
    // Batches pay off where weight rows are long vectors; on targets without
    // vector registers every input takes the single path (less code).
    let batched = if crate::simd::WIDE {
        xs.len() / BATCH * BATCH
    } else {
        0
    };
    let (batches, rest) = xs.split_at(batched);
    let (batches, _) = batches.as_chunks::<BATCH>();
    let (recs_b, recs_rest) = recs.split_at_mut(batches.len() * BATCH * rec);
    // One cache for every batch: a forward pass overwrites what it stores.
    let mut cache = Net::BatchCache::<BATCH>::zeroed();
    for (xb, rb) in batches.iter().zip(recs_b.chunks_exact_mut(BATCH * rec)) {
        net.forward_batch(xb, &mut cache);
        for k in 0..K {
            let mut dy = [T::ZERO; K];
            dy[k] = T::ONE;
            let mut parts = rb.chunks_exact_mut(rec);
            let mut sinks: [FactorSink<'_, T>; BATCH] =
                core::array::from_fn(|_| sink_for::<T, Net>(parts.next().unwrap_or_default(), k));
            net.backward_params_batch(&cache, &[dy; BATCH], &mut sinks);
            if sinks.iter().any(|s| s.bad || s.a_end != 0 || s.d_end != 0) {
                return Err(shapes_disagree());
            }
            for s in &sinks {
                note(refusal, s.diag.verdict());
            }
        }
    }
    let mut cache = Net::Cache::zeroed();
    for (x, r) in rest.iter().zip(recs_rest.chunks_exact_mut(rec)) {
        net.forward(x, &mut cache);
        for k in 0..K {
            let mut dy = [T::ZERO; K];
            dy[k] = T::ONE;
            let mut sink = sink_for::<T, Net>(r, k);
            net.backward_params(&cache, &dy, &mut sink);
            if sink.bad || sink.a_end != 0 || sink.d_end != 0 {
                return Err(shapes_disagree());
            }
            note(refusal, sink.diag.verdict());
        }
    }
    Ok(())
}

/// The kernel into `out`, zeroed on any error.
fn run<T, Net, const D: usize, const K: usize>(
    net: &Net,
    x1: &[[T; D]],
    x2: Option<&[[T; D]]>,
    workspace: &mut [T],
    out: &mut [T],
    mode: Mode,
) -> Result<(), Error>
where
    T: Real,
    Net: Module<T, [T; D], Output = [T; K]> + Params<T>,
{
    let pass = Passes {
        write: write_records::<T, Net, D, K>,
        accumulate: accumulate::<T, Net>,
    };
    run_with(net, x1, x2, workspace, out, mode, pass)
}

/// How the records are written and the Gram matrix accumulated: on one
/// thread, or (feature `rayon`) on several.
struct Passes<W, A> {
    write: W,
    accumulate: A,
}

/// The record sets and shape of one Gram matrix.
struct Gram<'a, T> {
    r1: &'a [T],
    m: usize,
    r2: &'a [T],
    n: usize,
    lay: Layout,
    symmetric: bool,
    mode: Mode,
}

/// Adds every segment of `Net` to the zeroed output (only `j ≤ i` when
/// symmetric).
fn accumulate<T: Real, Net: Params<T>>(g: &Gram<'_, T>, out: &mut [T]) {
    let Gram {
        r1,
        m,
        r2,
        n,
        lay,
        symmetric,
        mode,
    } = *g;
    let lay = &lay;
    let (mut a_off, mut d_off) = (0, 0);
    Net::factor_shapes(&mut |positions, a_len, d_len| {
        let seg = Segment {
            a_off,
            a_len,
            d_off,
            d_len,
        };
        if positions == 1 {
            gram::accumulate(r1, m, r2, n, lay, &seg, symmetric, mode, out);
        } else {
            gram::accumulate_positions(r1, m, r2, n, lay, &seg, positions, symmetric, mode, out);
        }
        a_off += positions * a_len;
        d_off += positions * d_len;
    });
}

/// [`run`] with the record and Gram passes of `pass`.
fn run_with<T, Net, W, A, const D: usize, const K: usize>(
    net: &Net,
    x1: &[[T; D]],
    x2: Option<&[[T; D]]>,
    workspace: &mut [T],
    out: &mut [T],
    mode: Mode,
    pass: Passes<W, A>,
) -> Result<(), Error>
where
    T: Real,
    Net: Module<T, [T; D], Output = [T; K]> + Params<T>,
    W: Fn(&Net, &[[T; D]], &mut [T], &mut Option<Error>) -> Result<(), Error>,
    A: FnOnce(&Gram<'_, T>, &mut [T]),
{
    zero_on_error(out, |out| {
        const { assert!(K > 0, "a network needs at least one output") };
        let m = x1.len();
        let n = x2.map_or(m, <[_]>::len);
        let rec = record_len::<T, Net>(K);
        let needed = m
            .checked_add(x2.map_or(0, <[_]>::len))
            .and_then(|inputs| inputs.checked_mul(rec))
            .ok_or(Error::BufferTooSmall {
                needed: usize::MAX,
                given: workspace.len(),
            })?;
        if workspace.len() < needed {
            return Err(Error::BufferTooSmall {
                needed,
                given: workspace.len(),
            });
        }
        check_finite(x1.as_flattened(), "inputs")?;
        if let Some(x2) = x2 {
            check_finite(x2.as_flattened(), "inputs")?;
        }
        if !net.is_finite() {
            return Err(Error::NonFinite {
                what: "network parameters",
            });
        }
        let (r1, rest) = workspace[..needed].split_at_mut(m * rec);
        // Range refusals are reported once every record is written (the worst
        // of them), as the Jacobian method reports them.
        let mut refusal = None;
        (pass.write)(net, x1, r1, &mut refusal)?;
        if let Some(x2) = x2 {
            (pass.write)(net, x2, rest, &mut refusal)?;
        }
        if let Some(e) = refusal {
            return Err(e);
        }
        let (r1, rest) = (&*r1, &*rest);
        check_result(r1, "per-input activations and cotangents")?;
        check_result(rest, "per-input activations and cotangents")?;

        let symmetric = x2.is_none();
        let r2 = if symmetric { r1 } else { rest };
        let lay = Layout {
            rec,
            delta_base: Net::DENSE_IN + Net::DENSE_LAYERS,
            delta_stride: Net::DENSE_OUT,
            k: K,
        };
        out.fill(T::ZERO);
        let g = Gram {
            r1,
            m,
            r2,
            n,
            lay,
            symmetric,
            mode,
        };
        (pass.accumulate)(&g, out);
        gram::finish(out, m, n, K, symmetric, mode)
    })
}

/// The N×N empirical NTK of `net` on `xs` (trace convention: mean over the
/// K outputs), bitwise symmetric.
///
/// # Examples
///
/// ```
/// use ntk::empirical::structured;
/// use ntk::nn::{Dense, Tanh};
/// use ntk::Rng;
/// let mut rng = Rng::new(5);
/// let net: (Dense<f32, 3, 32>, Tanh, Dense<f32, 32, 2>) =
///     (Dense::ntk(1.0, 0.0, &mut rng), Tanh, Dense::ntk(1.0, 0.0, &mut rng));
/// let xs = [[1.0, 2.0, 3.0], [0.5, -1.0, 0.0]];
/// let mut ws = [0.0; 2 * (4 + 33 + 2 * 34)];
/// let mut theta = [[0.0; 2]; 2];
/// structured::ntk(&net, &xs, &mut ws, &mut theta)?;
/// assert!(theta[0][0] > 0.0 && theta[0][1] == theta[1][0]);
/// # Ok::<(), ntk::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::BufferTooSmall`] if `workspace` holds fewer than
/// [`workspace_len`]`(N, K)` elements; [`Error::NonFinite`] for non-finite
/// inputs or parameters; [`Error::Overflow`] if the kernel
/// overflows or an input's layer factors leave the range where their
/// products are representable, [`Error::PrecisionLoss`] if an input's
/// diagonal `Θ_kk(x, x)` is nonzero but below `MIN_POSITIVE/ε`. On every
/// error `out` is zeroed. The Jacobian method applies the same range check, so
/// that the two methods agree or refuse together.
pub fn ntk<T, Net, const D: usize, const K: usize, const N: usize>(
    net: &Net,
    xs: &[[T; D]; N],
    workspace: &mut [T],
    out: &mut [[T; N]; N],
) -> Result<(), Error>
where
    T: Real,
    Net: Module<T, [T; D], Output = [T; K]> + Params<T>,
{
    run(
        net,
        xs,
        None,
        workspace,
        out.as_flattened_mut(),
        Mode::Trace,
    )
}

/// The M×N empirical NTK between test inputs `x1` and training inputs `x2`
/// (trace convention): `out[i][j] = Θ(x1[i], x2[j])`.
///
/// # Errors
///
/// As [`ntk`], with a workspace of [`workspace_len`]`(M + N, K)` elements.
pub fn ntk_cross<T, Net, const D: usize, const K: usize, const M: usize, const N: usize>(
    net: &Net,
    x1: &[[T; D]; M],
    x2: &[[T; D]; N],
    workspace: &mut [T],
    out: &mut [[T; N]; M],
) -> Result<(), Error>
where
    T: Real,
    Net: Module<T, [T; D], Output = [T; K]> + Params<T>,
{
    run(
        net,
        x1,
        Some(x2),
        workspace,
        out.as_flattened_mut(),
        Mode::Trace,
    )
}

/// The full K×K-block empirical NTK on `xs`:
/// `out[i][j][k][k'] = ∇θ f_k(x_i) · ∇θ f_k'(x_j)`, with
/// `out[i][j][k][k'] == out[j][i][k'][k]` bitwise.
///
/// # Errors
///
/// As [`ntk`].
pub fn ntk_blocks<T, Net, const D: usize, const K: usize, const N: usize>(
    net: &Net,
    xs: &[[T; D]; N],
    workspace: &mut [T],
    out: &mut [[[[T; K]; K]; N]; N],
) -> Result<(), Error>
where
    T: Real,
    Net: Module<T, [T; D], Output = [T; K]> + Params<T>,
{
    let flat = out.as_flattened_mut().as_flattened_mut().as_flattened_mut();
    run(net, xs, None, workspace, flat, Mode::Blocks)
}

/// The full K×K-block empirical NTK between `x1` and `x2`:
/// `out[i][j][k][k'] = ∇θ f_k(x1_i) · ∇θ f_k'(x2_j)`.
///
/// # Errors
///
/// As [`ntk_cross`].
pub fn ntk_blocks_cross<T, Net, const D: usize, const K: usize, const M: usize, const N: usize>(
    net: &Net,
    x1: &[[T; D]; M],
    x2: &[[T; D]; N],
    workspace: &mut [T],
    out: &mut [[[[T; K]; K]; N]; M],
) -> Result<(), Error>
where
    T: Real,
    Net: Module<T, [T; D], Output = [T; K]> + Params<T>,
{
    let flat = out.as_flattened_mut().as_flattened_mut().as_flattened_mut();
    run(net, x1, Some(x2), workspace, flat, Mode::Blocks)
}

/// Rows `rows` × columns `cols` of the N×N empirical NTK of [`ntk`] on
/// `xs` (trace convention), bitwise equal to the same entries of the whole
/// matrix, into the leading `h × w` entries of `out` (row-major,
/// `h = rows.len()`, `w = cols.len()`), with a workspace of
/// [`workspace_len`]`(h + w, K)` elements.
///
/// Every entry of the whole matrix is a sum of products of the two inputs'
/// factors in a fixed order, the same for (x, x′) and (x′, x) bit for bit:
/// the block computes its entries from the factors of its row and column
/// inputs alone. The blocks of a partition of the N×N matrix, computed
/// anywhere (a job array, each task one block), assemble into the matrix
/// of [`ntk`].
///
/// # Errors
///
/// [`Error::InvalidArgument`] unless `rows.start ≤ rows.end ≤ N` and
/// `cols.start ≤ cols.end ≤ N`; [`Error::BufferTooSmall`] if `out` holds
/// fewer than `h·w` elements or the workspace fewer than
/// [`workspace_len`]`(h + w, K)`; [`Error::NonFinite`] for a non-finite
/// input (any of `xs`) or parameter; the range refusals of [`ntk`] for the
/// block's inputs. On every error `out` is zeroed.
///
/// # Examples
///
/// ```
/// use ntk::empirical::structured;
/// use ntk::nn::{Dense, Tanh};
/// use ntk::Rng;
/// let mut rng = Rng::new(5);
/// type Net = (Dense<f64, 2, 16>, Tanh, Dense<f64, 16, 1>);
/// let net: Net = (Dense::ntk(1.0, 0.1, &mut rng), Tanh, Dense::ntk(1.0, 0.1, &mut rng));
/// let xs = [[1.0, 2.0], [0.5, -1.0], [0.0, 0.3]];
/// let mut ws = [0.0; structured::workspace_len::<f64, Net>(5, 1)];
/// let mut theta = [[0.0; 3]; 3];
/// structured::ntk(&net, &xs, &mut ws, &mut theta)?;
/// let mut block = [0.0; 2 * 3];
/// structured::ntk_block(&net, &xs, 1..3, 0..3, &mut ws, &mut block)?;
/// assert_eq!(block, [theta[1], theta[2]].concat()[..]);
/// # Ok::<(), ntk::Error>(())
/// ```
pub fn ntk_block<T, Net, const D: usize, const K: usize>(
    net: &Net,
    xs: &[[T; D]],
    rows: core::ops::Range<usize>,
    cols: core::ops::Range<usize>,
    workspace: &mut [T],
    out: &mut [T],
) -> Result<(), Error>
where
    T: Real,
    Net: Module<T, [T; D], Output = [T; K]> + Params<T>,
{
    ntk_cross_block(net, xs, xs, rows, cols, workspace, out)
}

/// Rows `rows` × columns `cols` of the M×N empirical NTK of [`ntk_cross`]
/// between `x1` and `x2` (trace convention), bitwise equal to the same
/// entries of the whole matrix, into the leading `h × w` entries of `out`
/// (row-major), with a workspace of [`workspace_len`]`(h + w, K)`
/// elements.
///
/// # Errors
///
/// As [`ntk_block`], with `rows.end ≤ M` and `cols.end ≤ N`.
///
/// # Examples
///
/// ```
/// use ntk::empirical::structured;
/// use ntk::nn::{Dense, Relu};
/// use ntk::Rng;
/// let mut rng = Rng::new(2);
/// type Net = (Dense<f32, 2, 8>, Relu, Dense<f32, 8, 2>);
/// let net: Net = (Dense::ntk(1.5, 0.1, &mut rng), Relu, Dense::ntk(1.0, 0.0, &mut rng));
/// let (test, train) = ([[1.0, 0.5]], [[0.0, 1.0], [2.0, -1.0], [0.5, 0.5]]);
/// let mut ws = [0.0; structured::workspace_len::<f32, Net>(4, 2)];
/// let mut theta = [[0.0; 3]; 1];
/// structured::ntk_cross(&net, &test, &train, &mut ws, &mut theta)?;
/// let mut block = [0.0; 2];
/// structured::ntk_cross_block(&net, &test, &train, 0..1, 1..3, &mut ws, &mut block)?;
/// assert_eq!(block, theta[0][1..]);
/// # Ok::<(), ntk::Error>(())
/// ```
pub fn ntk_cross_block<T, Net, const D: usize, const K: usize>(
    net: &Net,
    x1: &[[T; D]],
    x2: &[[T; D]],
    rows: core::ops::Range<usize>,
    cols: core::ops::Range<usize>,
    workspace: &mut [T],
    out: &mut [T],
) -> Result<(), Error>
where
    T: Real,
    Net: Module<T, [T; D], Output = [T; K]> + Params<T>,
{
    zero_on_error(out, |out| {
        let h = crate::block::rows_of(&rows, x1.len())?;
        let w = crate::block::cols_of(&cols, x2.len())?;
        crate::block::holds(out.len(), h, w, 1)?;
        check_finite(x1.as_flattened(), "inputs")?;
        check_finite(x2.as_flattened(), "inputs")?;
        let (x1, x2) = (&x1[rows], &x2[cols]);
        run(net, x1, Some(x2), workspace, &mut out[..h * w], Mode::Trace)
    })
}
