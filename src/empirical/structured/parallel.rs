//! The multi-core structured method (feature `rayon`): the per-input forward
//! and backward passes in groups of whole batches, and the Gram matrix in
//! bands of rows, on rayon's threads.
//!
//! The records are written by the same batched and single passes as in the
//! single-thread method (every group but the last is a whole number of
//! batches, so the same inputs go batched), and each band of rows runs the
//! same segments, chunks and micro-kernels in the same order: the kernel is
//! the same bit for bit. Neither phase needs memory beyond the caller's
//! workspace and output, which are split with `split_at_mut`.

use super::super::gram::parallel::{accumulate_positions_rows, accumulate_rows, BAND};
use super::super::gram::{Mode, Segment};
use super::super::range::note;
use super::{record_len, run_with, write_records, Gram, Passes, BATCH};
use crate::nn::{Module, Params};
use crate::{Error, Real};

/// Inputs per group of passes below which a group is not split further.
const GROUP: usize = 4 * BATCH;

/// [`write_records`] with the inputs split in groups of whole batches over
/// the threads; the refusal kept is the one the single pass keeps (the
/// worst, the first of its kind in input order).
fn write_records_parallel<T, Net, const D: usize, const K: usize>(
    net: &Net,
    xs: &[[T; D]],
    recs: &mut [T],
    refusal: &mut Option<Error>,
) -> Result<(), Error>
where
    T: Real + Send + Sync,
    Net: Module<T, [T; D], Output = [T; K]> + Params<T> + Sync,
{
    let rec = record_len::<T, Net>(K);
    let half = xs.len() / 2 / BATCH * BATCH;
    if rec == 0 || xs.len() <= GROUP || half == 0 {
        return write_records(net, xs, recs, refusal);
    }
    let (x1, x2) = xs.split_at(half);
    let (r1, r2) = recs.split_at_mut((half * rec).min(recs.len()));
    let mut second = None;
    let (a, b) = rayon::join(
        || write_records_parallel(net, x1, r1, refusal),
        || write_records_parallel(net, x2, r2, &mut second),
    );
    a?;
    b?;
    if let Some(e) = second {
        note(refusal, Err(e));
    }
    Ok(())
}

/// Adds every segment of `Net` to the output rows `0..m` (only `j ≤ i`
/// when symmetric), in bands of rows over the threads.
fn accumulate_parallel<T, Net>(g: &Gram<'_, T>, out: &mut [T])
where
    T: Real + Send + Sync,
    Net: Params<T>,
{
    let cell = if g.mode == Mode::Blocks {
        g.lay.k * g.lay.k
    } else {
        1
    };
    let row = g.n * cell;
    let out = out.get_mut(..g.m * row).unwrap_or_default();
    bands::<T, Net>(g, (0, g.m), row, out);
}

/// Rows `i0..i1` into `out` (those rows), split in two bands of about equal
/// work while more than one band of [`BAND`] rows is left.
fn bands<T, Net>(g: &Gram<'_, T>, (i0, i1): (usize, usize), row: usize, out: &mut [T])
where
    T: Real + Send + Sync,
    Net: Params<T>,
{
    if i1 - i0 <= BAND {
        band::<T, Net>(g, (i0, i1), out);
        return;
    }
    // Row i of a symmetric matrix costs i + 1 entries: split where the
    // two trapezia of the triangle hold about as many.
    let mid = if g.symmetric {
        ((i0 * i0 + i1 * i1) / 2).isqrt()
    } else {
        (i0 + i1) / 2
    };
    let mid = (mid / BAND * BAND).max(i0 + BAND);
    if mid >= i1 {
        band::<T, Net>(g, (i0, i1), out);
        return;
    }
    let (a, b) = out.split_at_mut((mid - i0) * row);
    rayon::join(
        || bands::<T, Net>(g, (i0, mid), row, a),
        || bands::<T, Net>(g, (mid, i1), row, b),
    );
}

/// Every segment on rows `i0..i1`, in the order of the single-thread method.
fn band<T, Net>(g: &Gram<'_, T>, rows: (usize, usize), out: &mut [T])
where
    T: Real,
    Net: Params<T>,
{
    let (mut a_off, mut d_off) = (0, 0);
    Net::factor_shapes(&mut |positions, a_len, d_len| {
        let seg = Segment {
            a_off,
            a_len,
            d_off,
            d_len,
        };
        let (lay, sym, mode) = (&g.lay, g.symmetric, g.mode);
        if positions == 1 {
            accumulate_rows(g.r1, g.m, g.r2, g.n, lay, &seg, sym, mode, rows, out);
        } else {
            accumulate_positions_rows(g.r1, g.r2, g.n, lay, &seg, positions, sym, mode, rows, out);
        }
        a_off += positions * a_len;
        d_off += positions * d_len;
    });
}

/// [`run`](super::run) on rayon's threads.
fn run_parallel<T, Net, const D: usize, const K: usize>(
    net: &Net,
    x1: &[[T; D]],
    x2: Option<&[[T; D]]>,
    workspace: &mut [T],
    out: &mut [T],
    mode: Mode,
) -> Result<(), Error>
where
    T: Real + Send + Sync,
    Net: Module<T, [T; D], Output = [T; K]> + Params<T> + Sync,
{
    let pass = Passes {
        write: write_records_parallel::<T, Net, D, K>,
        accumulate: accumulate_parallel::<T, Net>,
    };
    run_with(net, x1, x2, workspace, out, mode, pass)
}

/// [`ntk`](super::ntk) on several cores: the same kernel bit for bit, the
/// same errors, the same workspace.
///
/// The per-input forward and backward passes go in groups of whole
/// batches, and the Gram matrix in bands of rows, to the threads of
/// rayon's current pool: the global pool (as many threads as cores, or
/// `RAYON_NUM_THREADS`) or the pool of an enclosing
/// `rayon::ThreadPool::install`. Each band runs the single-thread
/// micro-kernels in their order, so the result does not depend on the
/// number of threads. No memory is allocated beyond what rayon's threads
/// need; the workspace and the output are split between the threads.
///
/// # Examples
///
/// ```
/// use ntk::empirical::structured;
/// use ntk::nn::{Dense, Relu};
/// use ntk::Rng;
/// type Net = (Dense<f64, 2, 16>, Relu, Dense<f64, 16, 1>);
/// let mut rng = Rng::new(0);
/// let net: Net = (Dense::ntk(1.5, 0.1, &mut rng), Relu, Dense::ntk(1.5, 0.1, &mut rng));
/// let xs: [[f64; 2]; 40] = core::array::from_fn(|i| [(i as f64).sin(), (i as f64).cos()]);
/// let mut ws = vec![0.0; structured::workspace_len::<f64, Net>(40, 1)];
/// let (mut one, mut many) = ([[0.0; 40]; 40], [[0.0; 40]; 40]);
/// structured::ntk(&net, &xs, &mut ws, &mut one)?;
/// // Two threads of a pool of our own; the global pool by default.
/// let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
/// pool.install(|| structured::ntk_parallel(&net, &xs, &mut ws, &mut many))?;
/// assert_eq!(one, many);
/// # Ok::<(), ntk::Error>(())
/// ```
///
/// # Errors
///
/// As [`ntk`](super::ntk).
pub fn ntk_parallel<T, Net, const D: usize, const K: usize, const N: usize>(
    net: &Net,
    xs: &[[T; D]; N],
    workspace: &mut [T],
    out: &mut [[T; N]; N],
) -> Result<(), Error>
where
    T: Real + Send + Sync,
    Net: Module<T, [T; D], Output = [T; K]> + Params<T> + Sync,
{
    run_parallel(
        net,
        xs,
        None,
        workspace,
        out.as_flattened_mut(),
        Mode::Trace,
    )
}

/// [`ntk_cross`](super::ntk_cross) on several cores, as
/// [`ntk_parallel`]: the same kernel bit for bit.
///
/// # Errors
///
/// As [`ntk_cross`](super::ntk_cross).
pub fn ntk_cross_parallel<T, Net, const D: usize, const K: usize, const M: usize, const N: usize>(
    net: &Net,
    x1: &[[T; D]; M],
    x2: &[[T; D]; N],
    workspace: &mut [T],
    out: &mut [[T; N]; M],
) -> Result<(), Error>
where
    T: Real + Send + Sync,
    Net: Module<T, [T; D], Output = [T; K]> + Params<T> + Sync,
{
    run_parallel(
        net,
        x1,
        Some(x2),
        workspace,
        out.as_flattened_mut(),
        Mode::Trace,
    )
}

/// [`ntk_blocks`](super::ntk_blocks) on several cores, as
/// [`ntk_parallel`]: the same kernel bit for bit.
///
/// # Errors
///
/// As [`ntk_blocks`](super::ntk_blocks).
pub fn ntk_blocks_parallel<T, Net, const D: usize, const K: usize, const N: usize>(
    net: &Net,
    xs: &[[T; D]; N],
    workspace: &mut [T],
    out: &mut [[[[T; K]; K]; N]; N],
) -> Result<(), Error>
where
    T: Real + Send + Sync,
    Net: Module<T, [T; D], Output = [T; K]> + Params<T> + Sync,
{
    let flat = out.as_flattened_mut().as_flattened_mut().as_flattened_mut();
    run_parallel(net, xs, None, workspace, flat, Mode::Blocks)
}

/// [`ntk_blocks_cross`](super::ntk_blocks_cross) on several cores, as
/// [`ntk_parallel`]: the same kernel bit for bit.
///
/// # Errors
///
/// As [`ntk_blocks_cross`](super::ntk_blocks_cross).
pub fn ntk_blocks_cross_parallel<
    T,
    Net,
    const D: usize,
    const K: usize,
    const M: usize,
    const N: usize,
>(
    net: &Net,
    x1: &[[T; D]; M],
    x2: &[[T; D]; N],
    workspace: &mut [T],
    out: &mut [[[[T; K]; K]; N]; M],
) -> Result<(), Error>
where
    T: Real + Send + Sync,
    Net: Module<T, [T; D], Output = [T; K]> + Params<T> + Sync,
{
    let flat = out.as_flattened_mut().as_flattened_mut().as_flattened_mut();
    run_parallel(net, x1, Some(x2), workspace, flat, Mode::Blocks)
}
