//! The empirical NTK by plain Jacobian contraction: the reference method,
//! for any [`JacobianModel`].
//!
//! Per input the workspace holds the K×P Jacobian (row-major); the kernel is
//! `Θ_kk'(x, x') = J_k(x)·J_k'(x')`, contracted in blocks of
//! [`CHUNK`] parameters so that one block of every row stays in cache.
//!
//! Workspace: [`workspace_len`] elements for the inputs involved (N for
//! [`ntk`], M + N for [`ntk_cross`]).

use super::gram::{self, Layout, Mode, Segment};
use super::range::{note, Diagonal};
use super::JacobianModel;
use crate::outputs::zero_on_error;
use crate::simd::check_result;
use crate::{Error, Real};

/// Parameters per contraction block.
pub const CHUNK: usize = 1024;

/// Workspace elements the Jacobian method needs for `inputs` inputs of a
/// model `M`: `inputs · (OUTPUTS · PARAMS + PAD)`, where the [`PAD`] elements
/// between records keep records whose size is a multiple of a large power of
/// two from mapping onto the same cache sets.
///
/// # Examples
///
/// ```
/// use ntk::empirical::jacobian::workspace_len;
/// use ntk::nn::{Dense, Relu};
/// type Net = (Dense<f64, 2, 4>, Relu, Dense<f64, 4, 1>);
/// assert_eq!(workspace_len::<f64, [f64; 2], Net>(3), 3 * (12 + 5 + 16));
/// ```
///
/// A size that does not fit in `usize` gives `usize::MAX`, which no
/// workspace can reach: the kernel functions then report
/// [`Error::BufferTooSmall`].
pub const fn workspace_len<T: Real, X, M: JacobianModel<T, X>>(inputs: usize) -> usize {
    match needed_len(inputs, M::OUTPUTS, M::PARAMS) {
        Some(n) => n,
        None => usize::MAX,
    }
}

/// `inputs · (outputs · params + PAD)` (no padding for empty records), or
/// `None` if it overflows.
const fn needed_len(inputs: usize, outputs: usize, params: usize) -> Option<usize> {
    let Some(len) = outputs.checked_mul(params) else {
        return None;
    };
    let stride = if len == 0 {
        0
    } else {
        match len.checked_add(PAD) {
            Some(s) => s,
            None => return None,
        }
    };
    inputs.checked_mul(stride)
}

/// Padding between Jacobian records, in elements.
pub const PAD: usize = 16;

/// The kernel into `out`, zeroed on any error.
fn run<T: Real, X, Mdl: JacobianModel<T, X>>(
    model: &Mdl,
    x1: &[X],
    x2: Option<&[X]>,
    workspace: &mut [T],
    out: &mut [T],
    mode: Mode,
) -> Result<(), Error> {
    zero_on_error(out, |out| {
        let (k, p) = (Mdl::OUTPUTS, Mdl::PARAMS);
        if k == 0 {
            return Err(Error::InvalidArgument {
                what: "a model needs at least one output",
            });
        }
        let m = x1.len();
        let n = x2.map_or(m, <[_]>::len);
        // Sizes that overflow `usize` (a model declaring absurd counts) cannot
        // be held by any workspace.
        let too_large = Error::BufferTooSmall {
            needed: usize::MAX,
            given: workspace.len(),
        };
        let inputs = m.checked_add(x2.map_or(0, <[_]>::len)).ok_or(too_large)?;
        let needed = needed_len(inputs, k, p).ok_or(too_large)?;
        let rec = needed_len(1, k, p).ok_or(too_large)?;
        if workspace.len() < needed {
            return Err(Error::BufferTooSmall {
                needed,
                given: workspace.len(),
            });
        }
        let (r1, rest) = workspace[..needed].split_at_mut(m * rec);
        if rec > 0 {
            // A numerical refusal of one input waits until every input was
            // seen, so that argument errors (a non-finite input further on) are
            // reported first, and the worst refusal is reported, as the
            // structured method reports them.
            let mut refusal = None;
            let rows = x1.iter().zip(r1.chunks_exact_mut(rec));
            let rows = rows.chain(x2.unwrap_or(&[]).iter().zip(rest.chunks_exact_mut(rec)));
            for (x, r) in rows {
                match model.jacobian(x, &mut r[..k * p]) {
                    Err(e)
                        if !matches!(e, Error::Overflow { .. } | Error::PrecisionLoss { .. }) =>
                    {
                        return Err(e)
                    }
                    r => note(&mut refusal, r),
                }
            }
            if let Some(e) = refusal {
                return Err(e);
            }
        }
        let (r1, rest) = (&*r1, &*rest);
        // The padding between records is the caller's and is never read.
        for r in r1
            .chunks_exact(rec.max(1))
            .chain(rest.chunks_exact(rec.max(1)))
        {
            check_result(&r[..k * p], "per-input Jacobians")?;
        }
        // The range check on Θ_kk(x, x) = ‖J_k(x)‖², for models that do not
        // check their layer factors themselves.
        for r in r1
            .chunks_exact(rec.max(1))
            .chain(rest.chunks_exact(rec.max(1)))
            .filter(|_| !Mdl::CHECKS_RANGE)
        {
            for row in r[..k * p].chunks_exact(p.max(1)) {
                let mut diag = Diagonal::new();
                diag.row(row);
                diag.verdict()?;
            }
        }

        let symmetric = x2.is_none();
        let r2 = if symmetric { r1 } else { rest };
        let lay = Layout {
            rec,
            delta_base: 0,
            delta_stride: p,
            k,
        };
        out.fill(T::ZERO);
        let mut off = 0;
        while off < p {
            let seg = Segment {
                a_off: 0,
                a_len: 0,
                d_off: off,
                d_len: CHUNK.min(p - off),
            };
            gram::accumulate(r1, m, r2, n, &lay, &seg, symmetric, mode, out);
            off += CHUNK;
        }
        gram::finish(out, m, n, k, symmetric, mode)
    })
}

/// The N×N empirical NTK of `model` on `xs` by Jacobian contraction (trace
/// convention: mean over outputs), bitwise symmetric.
///
/// # Examples
///
/// ```
/// use ntk::empirical::jacobian;
/// use ntk::nn::Dense;
/// use ntk::Rng;
/// // A linear model's NTK is ws²·x·x' + bs² exactly.
/// let net: Dense<f64, 2, 1> = Dense::ntk(2.0, 0.5, &mut Rng::new(0));
/// let xs = [[1.0, 2.0], [3.0, -1.0]];
/// let mut ws = [0.0; jacobian::workspace_len::<f64, [f64; 2], Dense<f64, 2, 1>>(2)];
/// let mut theta = [[0.0; 2]; 2];
/// jacobian::ntk(&net, &xs, &mut ws, &mut theta)?;
/// assert!((theta[0][1] - (2.0 * (3.0 - 2.0) + 0.25)).abs() < 1e-14);
/// # Ok::<(), ntk::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::BufferTooSmall`] for a workspace under [`workspace_len`]`(N)`;
/// whatever [`JacobianModel::jacobian`] reports (for this crate's networks
/// [`Error::NonFinite`] naming `"inputs"` or `"network parameters"`,
/// whichever the inputs in order meet first);
/// [`Error::Overflow`] if a Jacobian or the kernel is not finite; the range
/// check the structured method applies, on `Θ_kk(x, x) = ‖J_k(x)‖²` for any
/// model and on the layer factors for this crate's networks:
/// [`Error::Overflow`] or [`Error::PrecisionLoss`] (see
/// [`structured::ntk`](super::structured::ntk)). On every error `out` is
/// zeroed.
pub fn ntk<T: Real, X, Mdl: JacobianModel<T, X>, const N: usize>(
    model: &Mdl,
    xs: &[X; N],
    workspace: &mut [T],
    out: &mut [[T; N]; N],
) -> Result<(), Error> {
    run(
        model,
        xs,
        None,
        workspace,
        out.as_flattened_mut(),
        Mode::Trace,
    )
}

/// The M×N empirical NTK between `x1` and `x2` by Jacobian contraction
/// (trace convention).
///
/// # Errors
///
/// As [`ntk`], with a workspace of [`workspace_len`]`(M + N)` elements.
pub fn ntk_cross<T: Real, X, Mdl: JacobianModel<T, X>, const M: usize, const N: usize>(
    model: &Mdl,
    x1: &[X; M],
    x2: &[X; N],
    workspace: &mut [T],
    out: &mut [[T; N]; M],
) -> Result<(), Error> {
    run(
        model,
        x1,
        Some(x2),
        workspace,
        out.as_flattened_mut(),
        Mode::Trace,
    )
}

/// The full K×K-block empirical NTK on `xs` by Jacobian contraction,
/// `out[i][j][k][k']`; `K` must equal the model's output count.
///
/// # Errors
///
/// As [`ntk`].
pub fn ntk_blocks<T: Real, X, Mdl: JacobianModel<T, X>, const K: usize, const N: usize>(
    model: &Mdl,
    xs: &[X; N],
    workspace: &mut [T],
    out: &mut [[[[T; K]; K]; N]; N],
) -> Result<(), Error> {
    const {
        assert!(
            K == Mdl::OUTPUTS,
            "the block size must equal the model's output count"
        )
    };
    let flat = out.as_flattened_mut().as_flattened_mut().as_flattened_mut();
    run(model, xs, None, workspace, flat, Mode::Blocks)
}

/// The full K×K-block empirical NTK between `x1` and `x2` by Jacobian
/// contraction, `out[i][j][k][k']`.
///
/// # Errors
///
/// As [`ntk_cross`].
pub fn ntk_blocks_cross<
    T: Real,
    X,
    Mdl: JacobianModel<T, X>,
    const K: usize,
    const M: usize,
    const N: usize,
>(
    model: &Mdl,
    x1: &[X; M],
    x2: &[X; N],
    workspace: &mut [T],
    out: &mut [[[[T; K]; K]; N]; M],
) -> Result<(), Error> {
    const {
        assert!(
            K == Mdl::OUTPUTS,
            "the block size must equal the model's output count"
        )
    };
    let flat = out.as_flattened_mut().as_flattened_mut().as_flattened_mut();
    run(model, x1, Some(x2), workspace, flat, Mode::Blocks)
}

/// Rows `rows` × columns `cols` of the N×N empirical NTK of [`ntk`] on
/// `xs` by Jacobian contraction (trace convention), bitwise equal to the
/// same entries of the whole matrix, into the leading `h × w` entries of
/// `out` (row-major, `h = rows.len()`, `w = cols.len()`), with a workspace
/// of [`workspace_len`]`(h + w)` elements.
///
/// Every entry of the whole matrix is a sum of products of the two inputs'
/// Jacobians in a fixed order, the same for (x, x′) and (x′, x) bit for
/// bit: the block computes its entries from the Jacobians of its row and
/// column inputs alone, and the blocks of a partition of the matrix,
/// computed anywhere, assemble into the matrix of [`ntk`].
///
/// # Errors
///
/// [`Error::InvalidArgument`] unless `rows.start ≤ rows.end ≤ N` and
/// `cols.start ≤ cols.end ≤ N`; [`Error::BufferTooSmall`] if `out` holds
/// fewer than `h·w` elements or the workspace fewer than
/// [`workspace_len`]`(h + w)`; the errors of [`ntk`] for the block's
/// inputs. On every error `out` is zeroed.
///
/// # Examples
///
/// ```
/// use ntk::empirical::jacobian;
/// use ntk::nn::{Dense, Relu};
/// use ntk::Rng;
/// let mut rng = Rng::new(3);
/// type Net = (Dense<f64, 2, 8>, Relu, Dense<f64, 8, 1>);
/// let net: Net = (Dense::ntk(1.5, 0.1, &mut rng), Relu, Dense::ntk(1.0, 0.0, &mut rng));
/// let xs = [[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]];
/// let mut ws = [0.0; jacobian::workspace_len::<f64, [f64; 2], Net>(4)];
/// let mut theta = [[0.0; 3]; 3];
/// jacobian::ntk(&net, &xs, &mut ws, &mut theta)?;
/// let mut block = [0.0; 2];
/// jacobian::ntk_block(&net, &xs, 2..3, 0..2, &mut ws, &mut block)?;
/// assert_eq!(block, theta[2][..2]);
/// # Ok::<(), ntk::Error>(())
/// ```
pub fn ntk_block<T: Real, X, Mdl: JacobianModel<T, X>>(
    model: &Mdl,
    xs: &[X],
    rows: core::ops::Range<usize>,
    cols: core::ops::Range<usize>,
    workspace: &mut [T],
    out: &mut [T],
) -> Result<(), Error> {
    ntk_cross_block(model, xs, xs, rows, cols, workspace, out)
}

/// Rows `rows` × columns `cols` of the M×N empirical NTK of [`ntk_cross`]
/// between `x1` and `x2` by Jacobian contraction (trace convention),
/// bitwise equal to the same entries of the whole matrix, into the leading
/// `h × w` entries of `out` (row-major), with a workspace of
/// [`workspace_len`]`(h + w)` elements.
///
/// # Errors
///
/// As [`ntk_block`], with `rows.end ≤ M` and `cols.end ≤ N`.
///
/// # Examples
///
/// ```
/// use ntk::empirical::jacobian;
/// use ntk::nn::Dense;
/// use ntk::Rng;
/// let net: Dense<f64, 2, 1> = Dense::ntk(2.0, 0.5, &mut Rng::new(0));
/// let (test, train) = ([[1.0, 2.0]], [[3.0, -1.0], [0.0, 1.0]]);
/// let mut ws = [0.0; jacobian::workspace_len::<f64, [f64; 2], Dense<f64, 2, 1>>(2)];
/// let mut block = [0.0; 1];
/// jacobian::ntk_cross_block(&net, &test, &train, 0..1, 1..2, &mut ws, &mut block)?;
/// // ws²·x·x′/D + bs², with x·x′ = 2.
/// assert!((block[0] - (4.0 * 2.0 / 2.0 + 0.25)).abs() < 1e-14);
/// # Ok::<(), ntk::Error>(())
/// ```
pub fn ntk_cross_block<T: Real, X, Mdl: JacobianModel<T, X>>(
    model: &Mdl,
    x1: &[X],
    x2: &[X],
    rows: core::ops::Range<usize>,
    cols: core::ops::Range<usize>,
    workspace: &mut [T],
    out: &mut [T],
) -> Result<(), Error> {
    zero_on_error(out, |out| {
        let h = crate::block::rows_of(&rows, x1.len())?;
        let w = crate::block::cols_of(&cols, x2.len())?;
        crate::block::holds(out.len(), h, w, 1)?;
        let (x1, x2) = (&x1[rows], &x2[cols]);
        run(
            model,
            x1,
            Some(x2),
            workspace,
            &mut out[..h * w],
            Mode::Trace,
        )
    })
}
