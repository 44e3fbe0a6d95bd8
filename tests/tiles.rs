//! Gram matrices in blocks: a matrix assembled from uneven blocks (rows
//! a..b × columns c..d, on both sides of the diagonal and across it)
//! equals the matrix of one run bit for bit, for the infinite-width
//! kernels (flat, convolutional, attention, residual, recurrent) and the
//! empirical NTK (structured and Jacobian), in f32 and f64; bad ranges and
//! short buffers are typed errors with zeroed outputs.

use core::ops::Range;

use ntk::analytic::{Architecture, Shape};
use ntk::empirical::{jacobian, structured};
use ntk::nn::{Conv1d, Dense, Gelu, GlobalAvgPool, Padding, Parameterization, Params, Relu};
use ntk::nn::{Tanh, Unflatten, Zeroed};
use ntk::{Error, Real, Rng};

/// `count` inputs of `len` numbers, with input 3 repeating input 1 (when
/// there are enough), so that the repeated-pair paths are in the blocks.
fn inputs<T: Real>(seed: u64, count: usize, len: usize) -> Vec<T> {
    let mut rng = Rng::new(seed);
    let mut x: Vec<T> = (0..count * len).map(|_| rng.normal::<T>()).collect();
    if count > 3 {
        let (head, tail) = x.split_at_mut(3 * len);
        tail[..len].copy_from_slice(&head[len..2 * len]);
    }
    x
}

/// Uneven cuts of `0..n`: a single row, a band wider than a tile, the rest.
fn cuts(n: usize) -> Vec<usize> {
    let mut c = vec![0, n / 5, n / 5 + 1, (n * 3) / 5 + 2, n];
    c.retain(|&v| v <= n);
    c.dedup();
    c
}

/// Every block of the partition by `row_cuts` × `col_cuts`, assembled into
/// an `m × n` matrix (each entry written exactly once, checked).
fn assemble<T: Real>(
    (m, n): (usize, usize),
    (row_cuts, col_cuts): (&[usize], &[usize]),
    mut block: impl FnMut(Range<usize>, Range<usize>, &mut [T], &mut [T]) -> Result<(), Error>,
) -> (Vec<T>, Vec<T>) {
    let (mut k, mut t) = (vec![T::NAN; m * n], vec![T::NAN; m * n]);
    let mut seen = vec![0u8; m * n];
    for r in row_cuts.windows(2) {
        for c in col_cuts.windows(2) {
            let (rows, cols) = (r[0]..r[1], c[0]..c[1]);
            let (h, w) = (rows.len(), cols.len());
            let (mut kb, mut tb) = (vec![T::NAN; h * w], vec![T::NAN; h * w]);
            block(rows.clone(), cols.clone(), &mut kb, &mut tb).unwrap();
            for (li, i) in rows.clone().enumerate() {
                for (lj, j) in cols.clone().enumerate() {
                    k[i * n + j] = kb[li * w + lj];
                    t[i * n + j] = tb[li * w + lj];
                    seen[i * n + j] += 1;
                }
            }
        }
    }
    assert!(seen.iter().all(|&s| s == 1));
    (k, t)
}

fn bits<T: Real>(v: &[T]) -> Vec<u64> {
    v.iter().map(|x| x.to_f64().to_bits()).collect()
}

fn assert_bitwise<T: Real>(got: &[T], want: &[T], what: &str) {
    assert_eq!(got.len(), want.len());
    for (e, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(
            g.to_f64().to_bits(),
            w.to_f64().to_bits(),
            "{what}: entry {e}: {g:?} vs {w:?}"
        );
    }
}

fn flat_case<T: Real>(arch: &str, n: usize, d: usize) {
    let a: Architecture<T> = arch.parse().unwrap();
    let x = inputs::<T>(7, n, d);
    let (mut k, mut t) = (vec![T::ZERO; n * n], vec![T::ZERO; n * n]);
    a.gram_flat(&x, d, &mut k, &mut t).unwrap();
    let (rc, cc) = (cuts(n), vec![0, 1, n / 2 - 3, n / 2 + 40, n]);
    let cc: Vec<usize> = cc.into_iter().map(|v| v.min(n)).collect();
    let (kb, tb) = assemble((n, n), (&rc, &cc), |r, c, kb, tb| {
        a.gram_block_flat(&x, d, r, c, kb, tb)
    });
    assert_bitwise(&kb, &k, arch);
    assert_bitwise(&tb, &t, arch);
    // The lower triangle is the mirror image, bit for bit.
    assert!((0..n).all(|i| (0..i).all(|j| kb[i * n + j] == kb[j * n + i])));

    // Test × train.
    let m = 37;
    let xt = inputs::<T>(8, m, d);
    let (mut k, mut t) = (vec![T::ZERO; m * n], vec![T::ZERO; m * n]);
    a.cross_flat(&xt, &x, d, &mut k, &mut t).unwrap();
    let (kb, tb) = assemble((m, n), (&cuts(m), &cuts(n)), |r, c, kb, tb| {
        a.cross_block_flat(&xt, &x, d, r, c, kb, tb)
    });
    assert_bitwise(&kb, &k, arch);
    assert_bitwise(&tb, &t, arch);
}

#[test]
fn flat_blocks_assemble_into_the_gram_matrix() {
    // More inputs than two tiles, so that blocks cut tiles and strips.
    for arch in [
        "dense(1.5,0.1) relu dense(1.2,0.05) erf dense(1,0)",
        "dense(1,0.2) gelu dense(1.3,0) abs dense(1,0.1) sin dense(1,0)",
        "dense(1.4,0.1) leaky_relu(0.2) dense(1,0) identity",
    ] {
        flat_case::<f64>(arch, 70, 5);
        flat_case::<f32>(arch, 70, 5);
    }
    #[cfg(feature = "quadrature")]
    {
        flat_case::<f64>("dense(1.2,0.1) tanh dense(1,0)", 40, 3);
        flat_case::<f32>("dense(1.2,0.1) tanh dense(1,0)", 40, 3);
    }
}

/// A structured case: the blocks with the smallest workspace and with the
/// kept state of the block's inputs, against `gram_spatial`; test × train
/// against `cross_spatial`.
fn spatial_case<T: Real>(arch: &str, shape: Shape, n: usize) {
    let a: Architecture<T> = arch.parse().unwrap();
    let len = shape.len();
    let x = inputs::<T>(3, n, len);
    let mut ws = vec![T::ZERO; a.gram_workspace_len(shape, 2 * n + 1).unwrap()];
    let (mut k, mut t) = (vec![T::ZERO; n * n], vec![T::ZERO; n * n]);
    a.gram_spatial(&x, shape, &mut ws, &mut k, &mut t)
        .unwrap_or_else(|e| panic!("{arch} in {}: {e}", core::any::type_name::<T>()));
    let rc = [0, 2, 3, n - 1, n];
    let cc = [0, 4, n];
    for small in [false, true] {
        let mut ws = if small {
            vec![T::ZERO; a.workspace_len(shape).unwrap()]
        } else {
            ws.clone()
        };
        let (kb, tb) = assemble((n, n), (&rc, &cc), |r, c, kb, tb| {
            a.gram_block_spatial(&x, shape, r, c, &mut ws, kb, tb)
        });
        assert_bitwise(&kb, &k, arch);
        assert_bitwise(&tb, &t, arch);
    }
    let m = 4;
    let xt = inputs::<T>(4, m, len);
    let (mut k, mut t) = (vec![T::ZERO; m * n], vec![T::ZERO; m * n]);
    a.cross_spatial(&xt, &x, shape, &mut ws, &mut k, &mut t)
        .unwrap();
    let (kb, tb) = assemble((m, n), (&[0, 1, 4], &[0, 5, 6, n]), |r, c, kb, tb| {
        a.cross_block_spatial(&xt, &x, shape, r, c, &mut ws, kb, tb)
    });
    assert_bitwise(&kb, &k, arch);
    assert_bitwise(&tb, &t, arch);
}

#[test]
fn position_pair_blocks_assemble_into_the_gram_matrix() {
    let seq = Shape::Sequence {
        length: 6,
        channels: 2,
    };
    let image = Shape::Image {
        height: 3,
        width: 4,
        channels: 1,
    };
    for (arch, shape) in [
        ("conv(3,1.5,0.1) relu gap dense(1,0)", seq),
        (
            "conv_circ(3,1.2,0) erf conv(3,1,0.1) relu flatten dense(1,0)",
            seq,
        ),
        ("conv(3,1.3,0.1) relu avg_pool(2) flatten dense(1,0)", seq),
        (
            "conv(3,1.2,0.1) gelu gap dense(1.1,0) relu dense(1,0)",
            image,
        ),
        ("rnn(1.2,1,0.1,relu) gap dense(1,0)", seq),
        ("rnn(1.1,0.9,0.2,erf) last dense(1,0.1)", seq),
    ] {
        spatial_case::<f64>(arch, shape, 11);
        spatial_case::<f32>(arch, shape, 11);
    }
    #[cfg(feature = "attention")]
    for (arch, shape) in [
        ("conv(3,1,0.1) attn(0.5,0.5,1,1) gap dense(1,0)", seq),
        ("dense(1,0.1) attn_id(0.5,0.5,1,1) flatten dense(1,0)", seq),
        (
            "dense(1,0.1) [ relu dense(1,0) ] layernorm dense(1,0)",
            Shape::Flat { dim: 3 },
        ),
        (
            "conv(3,1,0.1) [ relu conv(3,1,0) ] layernorm gap dense(1,0)",
            seq,
        ),
    ] {
        spatial_case::<f64>(arch, shape, 11);
        spatial_case::<f32>(arch, shape, 11);
    }
}

#[test]
fn bad_ranges_and_short_buffers_are_typed_errors_with_zeroed_outputs() {
    let a: Architecture<f64> = "dense(1,0.1) relu dense(1,0)".parse().unwrap();
    let x = inputs::<f64>(1, 5, 2);
    let invalid = |r: Result<(), Error>| matches!(r, Err(Error::InvalidArgument { .. }));
    let short = |r: Result<(), Error>| matches!(r, Err(Error::BufferTooSmall { .. }));
    let (mut k, mut t) = ([7.0; 6], [7.0; 6]);
    #[allow(clippy::reversed_empty_ranges)]
    let backwards = 3..1;
    assert!(invalid(a.gram_block_flat(
        &x,
        2,
        backwards.clone(),
        0..2,
        &mut k,
        &mut t
    )));
    assert_eq!((k, t), ([0.0; 6], [0.0; 6]));
    k = [7.0; 6];
    assert!(invalid(a.gram_block_flat(
        &x,
        2,
        0..1,
        2..6,
        &mut k,
        &mut t
    )));
    assert_eq!(k, [0.0; 6]);
    k = [7.0; 6];
    assert!(short(a.gram_block_flat(
        &x,
        2,
        0..3,
        1..4,
        &mut k[..5],
        &mut t
    )));
    assert_eq!(k[..5], [0.0; 5]);
    assert!(invalid(a.cross_block_flat(
        &x,
        &x,
        2,
        0..6,
        0..1,
        &mut k,
        &mut t
    )));
    assert!(invalid(a.gram_block_flat(
        &x,
        3,
        0..1,
        0..1,
        &mut k,
        &mut t
    )));
    // An empty block is a block: nothing to write.
    assert!(a.gram_block_flat(&x, 2, 2..2, 0..5, &mut k, &mut t).is_ok());

    let shape = Shape::Sequence {
        length: 3,
        channels: 1,
    };
    let s: Architecture<f64> = "conv(3,1,0) relu gap dense(1,0)".parse().unwrap();
    let xs = inputs::<f64>(2, 4, 3);
    let mut ws = vec![0.0; s.workspace_len(shape).unwrap()];
    k = [7.0; 6];
    assert!(invalid(s.gram_block_spatial(
        &xs,
        shape,
        backwards.clone(),
        0..1,
        &mut ws,
        &mut k,
        &mut t
    )));
    assert_eq!(k, [0.0; 6]);
    k = [7.0; 6];
    assert!(short(s.gram_block_spatial(
        &xs,
        shape,
        0..4,
        0..2,
        &mut ws,
        &mut k,
        &mut t
    )));
    assert_eq!(k, [0.0; 6]);
    assert!(short(s.gram_block_spatial(
        &xs,
        shape,
        0..1,
        0..1,
        &mut ws[..1],
        &mut k,
        &mut t
    )));
    assert!(invalid(s.cross_block_spatial(
        &xs,
        &xs,
        shape,
        0..1,
        3..5,
        &mut ws,
        &mut k,
        &mut t
    )));
    let r: Architecture<f64> = "rnn(1,1,0,relu) gap dense(1,0)".parse().unwrap();
    let mut rws = vec![0.0; r.workspace_len(shape).unwrap()];
    k = [7.0; 6];
    assert!(invalid(r.gram_block_spatial(
        &xs,
        shape,
        0..5,
        0..1,
        &mut rws,
        &mut k,
        &mut t
    )));
    assert_eq!(k, [0.0; 6]);

    // Empirical.
    let net: Dense<f64, 2, 1> = Dense::ntk(1.0, 0.1, &mut Rng::new(0));
    let xa: [[f64; 2]; 3] = [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]];
    let mut ws = vec![0.0; structured::workspace_len::<f64, Dense<f64, 2, 1>>(6, 1)];
    let mut out = [7.0; 9];
    assert!(invalid(structured::ntk_block(
        &net,
        &xa,
        backwards.clone(),
        0..1,
        &mut ws,
        &mut out
    )));
    assert_eq!(out, [0.0; 9]);
    out = [7.0; 9];
    assert!(short(structured::ntk_block(
        &net,
        &xa,
        0..3,
        0..3,
        &mut ws,
        &mut out[..8]
    )));
    assert_eq!(out[..8], [0.0; 8]);
    assert!(short(structured::ntk_block(
        &net,
        &xa,
        0..3,
        0..3,
        &mut ws[..5],
        &mut out
    )));
    assert!(invalid(structured::ntk_cross_block(
        &net,
        &xa,
        &xa[..2],
        0..1,
        0..3,
        &mut ws,
        &mut out
    )));
    let mut wj = vec![0.0; jacobian::workspace_len::<f64, [f64; 2], Dense<f64, 2, 1>>(6)];
    out = [7.0; 9];
    assert!(invalid(jacobian::ntk_block(
        &net,
        &xa,
        0..4,
        0..1,
        &mut wj,
        &mut out
    )));
    assert_eq!(out, [0.0; 9]);
    assert!(short(jacobian::ntk_block(
        &net,
        &xa,
        0..2,
        0..3,
        &mut wj,
        &mut out[..5]
    )));
}

type Mlp<T> = (
    Dense<T, 3, 24>,
    Tanh,
    Dense<T, 24, 16>,
    Relu,
    Dense<T, 16, 2>,
);

/// Short sequences of many channels: the convolutions take the form
/// factored over positions.
type Conv<T> = (
    Unflatten<8, 2>,
    Conv1d<T, 8, 8, 3, 2>,
    Relu,
    Conv1d<T, 8, 6, 3, 2>,
    Gelu,
    GlobalAvgPool,
    Dense<T, 6, 2>,
);

/// Uneven blocks of the structured and Jacobian NTK of `net` on `xs`,
/// assembled, against one run of each.
fn empirical_case<T, Net, const D: usize>(net: &Net, xs: &[[T; D]; 13])
where
    T: Real,
    Net: ntk::nn::Module<T, [T; D], Output = [T; 2]> + Params<T> + jacobian_model::Model<T, D>,
{
    const N: usize = 13;
    let mut ws = vec![T::ZERO; structured::workspace_len::<T, Net>(2 * N, 2)];
    let mut theta = [[T::ZERO; N]; N];
    structured::ntk(net, xs, &mut ws, &mut theta).unwrap();
    let (rc, cc) = ([0, 1, 6, 7, 13], [0, 5, 9, 13]);
    let (kb, _) = assemble((N, N), (&rc, &cc), |r, c, kb, tb| {
        tb.fill(T::ZERO);
        structured::ntk_block(net, &xs[..], r, c, &mut ws, kb)
    });
    assert_bitwise(&kb, theta.as_flattened(), "structured");
    assert_eq!(bits(&kb), bits(theta.as_flattened()));

    let mut wj = vec![T::ZERO; jacobian_model::len::<T, Net, D>(2 * N)];
    jacobian::ntk(net, xs, &mut wj, &mut theta).unwrap();
    let (kb, _) = assemble((N, N), (&cc, &rc), |r, c, kb, tb| {
        tb.fill(T::ZERO);
        jacobian::ntk_block(net, &xs[..], r, c, &mut wj, kb)
    });
    assert_bitwise(&kb, theta.as_flattened(), "jacobian");

    // Test × train.
    let xt = &xs[..5];
    let mut cross = [[T::ZERO; N]; 5];
    let x5: &[[T; D]; 5] = xt.try_into().unwrap();
    structured::ntk_cross(net, x5, xs, &mut ws, &mut cross).unwrap();
    let (kb, _) = assemble((5, N), (&[0, 2, 5], &cc), |r, c, kb, tb| {
        tb.fill(T::ZERO);
        structured::ntk_cross_block(net, xt, &xs[..], r, c, &mut ws, kb)
    });
    assert_bitwise(&kb, cross.as_flattened(), "structured cross");
    jacobian::ntk_cross(net, x5, xs, &mut wj, &mut cross).unwrap();
    let (kb, _) = assemble((5, N), (&[0, 3, 5], &rc), |r, c, kb, tb| {
        tb.fill(T::ZERO);
        jacobian::ntk_cross_block(net, xt, &xs[..], r, c, &mut wj, kb)
    });
    assert_bitwise(&kb, cross.as_flattened(), "jacobian cross");
}

/// The Jacobian workspace of a network of this crate, by its input array.
mod jacobian_model {
    use ntk::empirical::{jacobian, JacobianModel};
    use ntk::Real;

    pub trait Model<T: Real, const D: usize>: JacobianModel<T, [T; D]> + Sized {}
    impl<T: Real, const D: usize, M: JacobianModel<T, [T; D]>> Model<T, D> for M {}

    pub const fn len<T: Real, M: Model<T, D>, const D: usize>(inputs: usize) -> usize {
        jacobian::workspace_len::<T, [T; D], M>(inputs)
    }
}

fn empirical_for<T: Real>() {
    const { assert!(Conv1d::<f64, 8, 8, 3, 2>::FACTORED && Conv1d::<f64, 8, 6, 3, 2>::FACTORED) };
    let mut rng = Rng::new(9);
    let mut mlp = Mlp::<T>::ZEROED;
    mlp.init(
        T::from_f64(1.3),
        T::from_f64(0.2),
        Parameterization::Ntk,
        &mut rng,
    );
    let xs: [[T; 3]; 13] = core::array::from_fn(|_| core::array::from_fn(|_| rng.normal::<T>()));
    let mut xs = xs;
    xs[4] = xs[2];
    empirical_case(&mlp, &xs);

    let mut conv = Conv::<T>::ZEROED;
    conv.init(
        T::from_f64(1.2),
        T::from_f64(0.3),
        Parameterization::Standard,
        &mut rng,
    );
    conv.1.padding = Padding::Circular;
    let xs: [[T; 16]; 13] = core::array::from_fn(|_| core::array::from_fn(|_| rng.normal::<T>()));
    empirical_case(&conv, &xs);
}

#[test]
fn empirical_blocks_assemble_into_the_gram_matrix() {
    empirical_for::<f64>();
    empirical_for::<f32>();
}
