//! The architecture text parser and the infinite-width NNGP/NTK on arbitrary
//! text, layers and inputs.
//!
//! Properties:
//!
//! - parsing arbitrary text never panics; an error names a position inside
//!   the text and a token taken from it; on `Ok` the canonical form
//!   (`Display`) parses back to an equal architecture and is a fixed point;
//!   a capacity of 3 fails exactly when the text is bad or holds more than 3
//!   layers (`TooManyLayers`); an `f32` architecture parses only if the `f64`
//!   one does;
//! - arbitrary layers: `from_layers` fails exactly when a layer is invalid
//!   (`NonFinite { what: "layer parameters" }`, `InvalidArgument`), and
//!   otherwise round-trips through its text bit for bit;
//! - the Gram matrices of arbitrary inputs: `NonFinite { what: "inputs" }`
//!   (outputs zeroed) for a non-finite input, `Overflow { what: "kernel" }`
//!   (outputs zeroed) when a result is not finite, `PrecisionLoss` (outputs
//!   zeroed) when the error bound passes its limit, and
//!   otherwise finite, bitwise symmetric, with a non-negative diagonal and
//!   positive semidefinite within tolerance (1e-4 relative in `f64`, 3e-2
//!   in `f32`: for nearly equal inputs the arc-cosine maps turn a rounding
//!   error ε of the correlation into √ε); moderate architectures on
//!   moderate inputs always succeed; the cross kernel agrees with the pair
//!   kernel and with the Gram matrix; the flat forms report their size
//!   errors exactly;
//! - every quadrature layer (tanh; the first two of an architecture), at
//!   whatever variance reaches it, agrees with an independent adaptive
//!   quadrature ([`GaussOracle`]) on the state its prefix gives for the
//!   first two inputs: Σ′ᵢᵢ, Σ′₁₂ within the tolerance of the diagonal scale,
//!   Θ′₁₂ = Θ₁₂·E[φ′φ′] within the tolerance of |Θ₁₂|·√(E[φ′(u)²]E[φ′(v)²]);
//! - convolutional architectures (conv, conv_circ, avg_pool, gap, flatten,
//!   dense and the piecewise-linear and erf activations in any order, then
//!   mostly a readout and a dense head) on 3
//!   short sequences or small images: the workspace length is refused
//!   (`InvalidArgument`) exactly when the independent oracle of
//!   `ntk_fuzz::cntk` finds that the architecture does not fit the shape;
//!   otherwise `gram_spatial` and `cross_spatial` fail only with
//!   `NonFinite { what: "inputs" }` (for a non-finite input),
//!   `Overflow { what: "kernel" }` or `PrecisionLoss { what: "kernel" }`,
//!   with zeroed outputs, and never refuse moderate architectures on
//!   moderate inputs (no entry above 100 or, but for zeros, below 10⁻¹⁰⁰);
//!   an `Ok` Gram matrix is
//!   bitwise symmetric, and for moderate architectures and inputs every
//!   entry agrees with the oracle within 10⁻⁶ of the diagonal scale
//!   √K(x, x)·√K(x′, x′) + |K(x, x′)| (against the reference kernels the two
//!   agree to 10⁻⁸);
//! - the structured arm (`Input::structured`, when `conv` is `None`):
//!   architectures of format version 2 written as text by
//!   `ntk_fuzz::structured` (self-attention `attn`/`attn_id`, `layernorm`,
//!   nested residual blocks `[ … ]`, convolutions, pooling, dense layers
//!   and activations, valid by the format's Gaussianity rules, well-scaled
//!   numbers) on up to 3 sequences (L ≤ 6), images (≤ 3×3) or flat
//!   vectors (D ≤ 4): the library's parser accepts them, `gram_spatial`,
//!   `cross_spatial` (and `gram_flat` on flat inputs) fail only with
//!   `PrecisionLoss` (zeroed outputs) and only where the oracle's
//!   perturbations show ill conditioning, and agree with the oracle within
//!   10⁻⁶ of the diagonal scale when well conditioned, else within the
//!   precision limit. While the library's parser does not know a family of
//!   layers ([`library_supports`]), the architectures that use it are
//!   skipped, and only those;
//! - architectures with sequence layers (conv, pooling, `rnn … last|gap
//!   dense`) on the inputs read as N sequences of 3 steps × 1 channel: the
//!   same error rules (typed, outputs zeroed) through `gram_spatial`, which
//!   hands recurrent architectures to `gram_recurrent`; otherwise bitwise
//!   symmetric, non-negative diagonal, PSD within tolerance; for `rnn …
//!   last`, a `RecurrentStream` fed step by step gives the same bits.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use ntk::analytic::{Architecture, Layer, RecurrentStream, Shape};
use ntk::error::ParseErrorKind;
use ntk::{Error, Real};
use ntk_fuzz::structured::{Case, StructuredInput};
use ntk_fuzz::{cntk, eigenvalues_jacobi, max_abs, Cuts, GaussOracle, Num};
use std::sync::OnceLock;

const N: usize = 4;
const M: usize = 2;
const D: usize = 3;

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Spec {
    Dense(Num, Num),
    DenseStd(Num, Num, u8),
    Relu,
    LeakyRelu(Num),
    Abs,
    AbRelu(Num, Num),
    Erf,
    Gelu,
    Sin,
    Identity,
    Tanh,
}

#[derive(Arbitrary, Debug)]
struct Input {
    text: String,
    /// Use the parsed text (when it parses) instead of `layers`.
    use_text: bool,
    layers: Vec<Spec>,
    x: [[Num; D]; N],
    xt: [[Num; D]; M],
    single: bool,
    flat_d: u8,
    flat_len: u8,
    /// The convolutional arm instead of the flat checks (last, so that the
    /// seeds written before it decode as they did).
    conv: Option<ConvInput>,
    /// The structured arm (attention, layer norm, residual blocks) when
    /// `conv` is `None`; last for the same reason.
    structured: Option<StructuredInput>,
}

/// A layer of a convolutional architecture.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum ConvSpec {
    /// Filter width 2·(q mod 3) + 1, σw, σb, circular padding.
    Conv(u8, Num, Num, bool),
    Dense(Num, Num),
    /// Window (p mod 3) + 1.
    AvgPool(u8),
    Gap,
    Flatten,
    Relu,
    LeakyRelu(Num),
    Abs,
    Identity,
    Erf,
}

/// How a convolutional architecture ends.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Readout {
    Gap,
    Flatten,
    /// Not flat: refused unless the body ends flat.
    Neither,
}

/// Inputs of the convolutional arm.
#[derive(Arbitrary, Debug)]
struct ConvInput {
    /// Up to 4 layers.
    body: Vec<ConvSpec>,
    readout: Readout,
    /// A dense layer after the readout, then an activation.
    head: Option<(Num, Num, ConvSpec)>,
    /// An image (rows, columns ≤ 3, channels ≤ 2) instead of a sequence
    /// (length ≤ 8, channels ≤ 3).
    image: bool,
    rows: u8,
    cols: u8,
    channels: u8,
    x: [Num; CONV_N * 24],
}

/// Inputs of the convolutional arm.
const CONV_N: usize = 3;

fn layer<T: Real>(s: Spec) -> Layer<T> {
    let c = |n: Num| T::from_f64(n.get());
    match s {
        Spec::Dense(w, b) => Layer::dense(c(w), c(b)),
        Spec::DenseStd(w, b, n) => Layer::dense_standard(c(w), c(b), u32::from(n)),
        Spec::Relu => Layer::Relu,
        Spec::LeakyRelu(a) => Layer::LeakyRelu { alpha: c(a) },
        Spec::Abs => Layer::Abs,
        Spec::AbRelu(a, b) => Layer::AbRelu { a: c(a), b: c(b) },
        Spec::Erf => Layer::Erf,
        Spec::Gelu => Layer::Gelu,
        Spec::Sin => Layer::Sin,
        Spec::Identity => Layer::Identity,
        Spec::Tanh => Layer::Tanh,
    }
}

/// The numbers of a layer, for the validity rules.
fn numbers<T: Real>(l: &Layer<T>) -> (Vec<T>, bool, bool) {
    // (numbers, has standard deviations, fan-in ok)
    match *l {
        Layer::Dense {
            weight_std: w,
            bias_std: b,
        } => (vec![w, b], true, true),
        Layer::DenseStandard {
            weight_std: w,
            bias_std: b,
            fan_in,
        } => (vec![w, b], true, fan_in > 0),
        Layer::LeakyRelu { alpha } => (vec![alpha], false, true),
        Layer::AbRelu { a, b } => (vec![a, b], false, true),
        _ => (vec![], false, true),
    }
}

fn check_parse(text: &str) -> Option<Architecture<f64>> {
    let full = Architecture::<f64>::parse(text);
    let small = Architecture::<f64, 3>::parse(text);
    let single = Architecture::<f32>::parse(text);
    if single.is_ok() {
        assert!(full.is_ok(), "f32 parses, f64 does not: {full:?}");
    }
    match &full {
        Ok(a) => {
            assert!(!a.is_empty());
            let canon = a.to_string();
            let back = Architecture::<f64>::parse(&canon).expect("the canonical form parses");
            assert_eq!(&back, a, "{canon}");
            assert_eq!(
                back.to_string(),
                canon,
                "the canonical form is not a fixed point"
            );
            match &small {
                Ok(s) => {
                    assert!(a.len() <= 3);
                    assert_eq!(s.layers(), a.layers());
                }
                Err(e) => {
                    assert!(a.len() > 3);
                    assert_eq!(e.kind, ParseErrorKind::TooManyLayers);
                }
            }
        }
        Err(e) => {
            assert!(small.is_err());
            assert!(e.position <= text.len(), "{e:?}");
            if e.kind != ParseErrorKind::Empty {
                assert!(
                    text.contains(e.token()),
                    "{e:?} names a token not in the text"
                );
            }
            let shown = format!("{}", Error::from(*e));
            assert!(shown.starts_with("parse error"));
        }
    }
    full.ok()
}

fn check_layers<T: Real>(specs: &[Spec]) -> Option<Architecture<T>> {
    let layers: Vec<Layer<T>> = specs.iter().take(8).map(|s| layer(*s)).collect();
    let r = Architecture::<T>::from_layers(&layers);
    let mut expect = Ok(());
    for l in &layers {
        let (nums, std, fan) = numbers(l);
        if !nums.iter().all(|v| v.is_finite()) {
            expect = Err(Error::NonFinite {
                what: "layer parameters",
            });
            break;
        }
        if std && nums.iter().any(|v| *v < T::ZERO) || !fan {
            expect = Err(Error::InvalidArgument { what: "" });
            break;
        }
    }
    match (&r, expect) {
        (Ok(a), Ok(())) if a.is_empty() => {
            // The empty architecture (the identity) has no text form: the
            // parser rejects empty text.
            assert_eq!(a.to_string(), "");
            Some(a.clone())
        }
        (Ok(a), Ok(())) => {
            let text = a.to_string();
            let back = Architecture::<T>::parse(&text).expect("a valid architecture's text parses");
            assert_eq!(back.to_string(), text);
            for (x, y) in back.layers().iter().zip(a.layers()) {
                let (p, _, _) = numbers(x);
                let (q, _, _) = numbers(y);
                assert!(
                    p.iter()
                        .zip(&q)
                        .all(|(u, v)| u.to_f64().to_bits() == v.to_f64().to_bits()),
                    "{text}: numbers do not round-trip bit for bit"
                );
            }
            Some(a.clone())
        }
        (Err(e), Err(Error::InvalidArgument { .. })) => {
            assert!(matches!(e, Error::InvalidArgument { .. }), "{e:?}");
            None
        }
        (Err(e), Err(want)) => {
            assert_eq!(*e, want);
            None
        }
        (r, want) => panic!("from_layers: {r:?}, expected {want:?}"),
    }
}

/// σw, σb of every dense layer at most 4, slopes at most 4, at most 6 layers.
fn moderate<T: Real>(a: &Architecture<T>) -> bool {
    a.len() <= 6
        && a.layers().iter().all(|l| {
            let (nums, _, _) = numbers(l);
            nums.iter().all(|v| v.abs().to_f64() <= 4.0)
        })
}

fn tanh(x: f64) -> f64 {
    x.tanh()
}

fn sech2(x: f64) -> f64 {
    let c = x.abs().min(400.0).cosh();
    1.0 / (c * c)
}

/// The quadrature layers (the first two) against the oracle, on the state
/// that the prefix before each gives for the first two inputs.
fn check_quadrature<T: Real>(a: &Architecture<T>, input: &Input, tol: f64) {
    let x: [[T; D]; N] = input.x.map(|r| r.map(|v| T::from_f64(v.get())));
    if !x[..2].iter().flatten().all(|v| v.is_finite()) {
        return;
    }
    let floor = T::MIN_POSITIVE.to_f64() * 1e8;
    let oracle = GaussOracle::new(16, 20_000_000, Cuts::Fixed);
    for (i, l) in a
        .layers()
        .iter()
        .enumerate()
        .filter(|(_, l)| l.uses_quadrature())
        .take(2)
    {
        assert!(matches!(l, Layer::Tanh));
        let prefix = Architecture::<T>::from_layers(&a.layers()[..i]).expect("valid prefix");
        let Ok(s) = prefix.kernel(&x[0], &x[1]) else {
            continue;
        };
        let out = l.apply(s);
        // The correlation as the library forms it: Σ₁₂·r₁·r₂, the smaller
        // reciprocal root first, snapped to ±1 within 8 ulp.
        let pos = |q: T| if q < T::ZERO { T::ZERO } else { q };
        let (q1, q2) = (pos(s.sigma11), pos(s.sigma22));
        let recip = |q: T| {
            if q > T::ZERO {
                T::ONE / q.sqrt()
            } else {
                T::ZERO
            }
        };
        let (r1, r2) = (recip(q1), recip(q2));
        let (lo, hi) = if r1 <= r2 { (r1, r2) } else { (r2, r1) };
        let c = (s.sigma12 * lo) * hi;
        let edge = T::ONE - T::from_f64(8.0) * T::EPSILON;
        let rho = if c >= edge {
            1.0
        } else if c <= -edge {
            -1.0
        } else {
            c.to_f64()
        };
        let (q1, q2, t) = (q1.to_f64(), q2.to_f64(), s.theta12.to_f64());
        // Beyond a variance of 1e20 the rule is documented not to resolve
        // (its kernels are refused).
        if !(q1 <= 1e20 && q2 <= 1e20 && rho.is_finite() && t.is_finite()) {
            continue;
        }
        let want = (|| {
            Some((
                (oracle.diag(tanh, q1)?, oracle.diag(tanh, q2)?),
                oracle.pair(tanh, tanh, q1, q2, rho)?,
                (oracle.diag(sech2, q1)?, oracle.diag(sech2, q2)?),
                oracle.pair(sech2, sech2, q1, q2, rho)?,
            ))
        })();
        let Some(((k1, k2), k12, (d1, d2), d12)) = want else {
            continue;
        };
        let what = format!("layer {i} of {a} at Σ = ({q1:e}, {rho}, {q2:e})");
        let close =
            |got: T, want: f64, scale: f64| (got.to_f64() - want).abs() <= tol * scale + floor;
        assert!(
            close(out.sigma11, k1, k1),
            "{what}: Σ′₁₁ {:e} vs {k1:e}",
            out.sigma11
        );
        assert!(
            close(out.sigma22, k2, k2),
            "{what}: Σ′₂₂ {:e} vs {k2:e}",
            out.sigma22
        );
        assert!(
            close(out.sigma12, k12, k1.sqrt() * k2.sqrt()),
            "{what}: Σ′₁₂ {:e} vs {k12:e}",
            out.sigma12
        );
        assert!(
            close(out.theta12, t * d12, t.abs() * d1.sqrt() * d2.sqrt()),
            "{what}: Θ′₁₂ {:e} vs {:e}",
            out.theta12,
            t * d12
        );
    }
}

/// Sequence architectures on the inputs read as N sequences of D steps of
/// one channel.
fn check_sequences<T: Real>(a: &Architecture<T>, input: &Input, tol: f64) {
    let x: [[T; D]; N] = input.x.map(|r| r.map(|v| T::from_f64(v.get())));
    let flat = x.as_flattened();
    let shape = Shape::Sequence {
        length: D,
        channels: 1,
    };
    let s = T::from_f64(7.0);
    let (mut k, mut t) = ([[s; N]; N], [[s; N]; N]);
    let mut ws = vec![T::ZERO; a.workspace_len(shape).unwrap_or(0)];
    let r = a.gram_spatial(
        flat,
        shape,
        &mut ws,
        k.as_flattened_mut(),
        t.as_flattened_mut(),
    );
    let zeroed = || {
        k.as_flattened()
            .iter()
            .chain(t.as_flattened())
            .all(|v| *v == T::ZERO)
    };
    match r {
        Err(e) => {
            assert!(zeroed(), "{e:?}: not zeroed");
            if !flat.iter().all(|v| v.is_finite()) {
                assert!(
                    matches!(e, Error::NonFinite { .. } | Error::InvalidArgument { .. }),
                    "{e:?}"
                );
            } else {
                assert!(
                    matches!(
                        e,
                        Error::InvalidArgument { .. }
                            | Error::Overflow { .. }
                            | Error::PrecisionLoss { .. }
                    ),
                    "{e:?}"
                );
            }
            return;
        }
        Ok(()) => assert!(flat.iter().all(|v| v.is_finite())),
    }
    let kf = k.map(|r| r.map(|v| v.to_f64()));
    let tf = t.map(|r| r.map(|v| v.to_f64()));
    // The convolutional routines carry no error bound: PSD is promised for
    // moderate ones, and for every recurrent one that passed its bound.
    let psd = a.is_recurrent() || moderate(a) && flat.iter().all(|v| v.abs().to_f64() <= 100.0);
    for m in [&kf, &tf] {
        for i in 0..N {
            assert!(m[i][i] >= 0.0, "negative diagonal {}", m[i][i]);
            for j in 0..N {
                assert_eq!(m[i][j].to_bits(), m[j][i].to_bits());
            }
        }
        if psd {
            let scale = max_abs(m.as_flattened());
            let low = eigenvalues_jacobi(m)
                .into_iter()
                .fold(f64::INFINITY, f64::min);
            assert!(low >= -tol * scale, "λ_min {low:e} of scale {scale:e}");
        }
    }
    if let Ok(mut stream) = RecurrentStream::<T, N>::new(a) {
        for step in 0..D {
            let column: [[T; 1]; N] = core::array::from_fn(|i| [x[i][step]]);
            stream.push(&column).expect("finite inputs");
        }
        let (mut ks, mut ts) = ([[T::ZERO; N]; N], [[T::ZERO; N]; N]);
        stream.gram(&mut ks, &mut ts).expect("as the batch routine");
        let bits = |m: &[T]| m.iter().map(|v| v.to_f64().to_bits()).collect::<Vec<_>>();
        assert_eq!(
            bits(ks.as_flattened()),
            bits(k.as_flattened()),
            "stream NNGP"
        );
        assert_eq!(
            bits(ts.as_flattened()),
            bits(t.as_flattened()),
            "stream NTK"
        );
    }
}

fn check_kernels<T: Real>(a: &Architecture<T>, input: &Input, tol: f64) {
    if a.layers().iter().any(Layer::is_spatial) {
        check_sequences(a, input, tol);
        return;
    }
    check_quadrature(a, input, tol);
    // Entries near the subnormal range carry absolute errors of that size.
    let floor = T::MIN_POSITIVE.to_f64() * 1e8;
    let x: [[T; D]; N] = input.x.map(|r| r.map(|v| T::from_f64(v.get())));
    let xt: [[T; D]; M] = input.xt.map(|r| r.map(|v| T::from_f64(v.get())));
    let finite = |v: &[T]| v.iter().all(|x| x.is_finite());
    let s = T::from_f64(7.0);
    let (mut k, mut t) = ([[s; N]; N], [[s; N]; N]);
    let r = a.gram(&x, &mut k, &mut t);
    let all = |m: &[[T; N]; N], f: &dyn Fn(T) -> bool| m.as_flattened().iter().all(|v| f(*v));
    let small_inputs = x.as_flattened().iter().all(|v| v.abs().to_f64() <= 100.0);
    match r {
        Err(e) if !finite(x.as_flattened()) => {
            assert_eq!(e, Error::NonFinite { what: "inputs" });
            assert!(
                all(&k, &|v| v == T::ZERO) && all(&t, &|v| v == T::ZERO),
                "not zeroed"
            );
            return;
        }
        Err(e @ (Error::Overflow { what: "kernel" } | Error::PrecisionLoss { what: "kernel" })) => {
            assert!(
                all(&k, &|v| v == T::ZERO) && all(&t, &|v| v == T::ZERO),
                "not zeroed"
            );
            assert!(
                !(matches!(e, Error::Overflow { .. }) && moderate(a) && small_inputs),
                "a moderate architecture overflowed on moderate inputs"
            );
            return;
        }
        Err(e) => panic!("gram: unexpected {e:?}"),
        Ok(()) => assert!(finite(x.as_flattened())),
    }
    let kf = k.map(|r| r.map(|v| v.to_f64()));
    let tf = t.map(|r| r.map(|v| v.to_f64()));
    for (name, m) in [("NNGP", &kf), ("NTK", &tf)] {
        for i in 0..N {
            assert!(m[i][i] >= 0.0, "{name}: negative diagonal {}", m[i][i]);
            for j in 0..N {
                assert!(m[i][j].is_finite());
                assert_eq!(
                    m[i][j].to_bits(),
                    m[j][i].to_bits(),
                    "{name}: not bitwise symmetric"
                );
            }
        }
        let scale = max_abs(m.as_flattened());
        if scale > floor && scale.is_finite() {
            let ev = eigenvalues_jacobi(&m.map(|r| r.map(|v| v / scale)));
            let lmin = ev.iter().fold(f64::INFINITY, |a, &b| a.min(b));
            assert!(
                lmin >= -tol.min(f64::MAX) * N as f64,
                "{name}: λmin/‖K‖ = {lmin:e}"
            );
        }
    }
    // Pair kernels and the cross kernel.
    if !finite(xt.as_flattened()) {
        let (mut kc, mut tc) = ([[s; N]; M], [[s; N]; M]);
        let rc = a.cross(&xt, &x, &mut kc, &mut tc);
        assert_eq!(rc, Err(Error::NonFinite { what: "inputs" }));
        return;
    }
    let (mut kc, mut tc) = ([[s; N]; M], [[s; N]; M]);
    if a.cross(&xt, &x, &mut kc, &mut tc).is_ok() {
        let kscale = max_abs(
            kc.as_flattened()
                .iter()
                .map(|v| v.to_f64())
                .collect::<Vec<_>>()
                .as_slice(),
        );
        let tscale = max_abs(
            tc.as_flattened()
                .iter()
                .map(|v| v.to_f64())
                .collect::<Vec<_>>()
                .as_slice(),
        );
        for i in 0..M {
            for j in 0..N {
                if let Ok(p) = a.kernel(&xt[i], &x[j]) {
                    let (dk, dt) = (
                        (p.sigma12.to_f64() - kc[i][j].to_f64()).abs(),
                        (p.theta12.to_f64() - tc[i][j].to_f64()).abs(),
                    );
                    assert!(
                        dk <= tol.min(f64::MAX) * kscale + floor,
                        "cross NNGP {:e} vs pair {:e}",
                        kc[i][j],
                        p.sigma12
                    );
                    assert!(
                        dt <= tol.min(f64::MAX) * tscale + floor,
                        "cross NTK {:e} vs pair {:e}",
                        tc[i][j],
                        p.theta12
                    );
                }
            }
        }
    }
    let (mut ks, mut ts) = ([[s; N]; N], [[s; N]; N]);
    if a.cross(&x, &x, &mut ks, &mut ts).is_ok() {
        let (ksc, tsc) = (max_abs(kf.as_flattened()), max_abs(tf.as_flattened()));
        for i in 0..N {
            for j in 0..N {
                assert!(
                    (ks[i][j].to_f64() - kf[i][j]).abs() <= tol.min(f64::MAX) * ksc + floor,
                    "cross(x, x) ≠ gram(x) (NNGP) at ({i}, {j}): {:e} vs {:e}, scale {ksc:e}, tol {tol:e}, floor {floor:e}, arch {a}",
                    ks[i][j].to_f64(),
                    kf[i][j]
                );
                assert!(
                    (ts[i][j].to_f64() - tf[i][j]).abs() <= tol.min(f64::MAX) * tsc + floor,
                    "cross(x, x) ≠ gram(x) (NTK) at ({i}, {j}): {:e} vs {:e}, scale {tsc:e}, tol {tol:e}, floor {floor:e}, arch {a}",
                    ts[i][j].to_f64(),
                    tf[i][j]
                );
            }
        }
    }
    // The flat forms: sizes.
    let d = usize::from(input.flat_d % 5);
    let len = usize::from(input.flat_len % 16);
    let flat: Vec<T> = x.as_flattened().iter().copied().cycle().take(len).collect();
    let (mut fk, mut ft) = (vec![s; 9], vec![s; 9]);
    let rf = a.gram_flat(&flat, d, &mut fk, &mut ft);
    if d == 0 || len % d != 0 {
        assert!(matches!(rf, Err(Error::InvalidArgument { .. })), "{rf:?}");
    } else if (len / d) * (len / d) > 9 {
        assert_eq!(
            rf,
            Err(Error::BufferTooSmall {
                needed: (len / d) * (len / d),
                given: 9
            })
        );
    }
    if matches!(
        rf,
        Err(Error::InvalidArgument { .. } | Error::BufferTooSmall { .. })
    ) {
        assert!(
            fk.iter().chain(&ft).all(|v| *v == T::ZERO),
            "size errors left the outputs as they were"
        );
    }
}

/// A layer of the convolutional arm; standard deviations are |value| (the
/// rules for invalid ones are pinned by `check_layers`).
fn conv_layer(s: ConvSpec) -> Layer<f64> {
    match s {
        ConvSpec::Conv(q, w, b, circular) => Layer::Conv {
            size: 2 * u32::from(q % 3) + 1,
            weight_std: w.get().abs(),
            bias_std: b.get().abs(),
            circular,
        },
        ConvSpec::Dense(w, b) => Layer::dense(w.get().abs(), b.get().abs()),
        ConvSpec::AvgPool(p) => Layer::AvgPool {
            size: u32::from(p % 3) + 1,
        },
        ConvSpec::Gap => Layer::GlobalAvgPool,
        ConvSpec::Flatten => Layer::Flatten,
        ConvSpec::Relu => Layer::Relu,
        ConvSpec::LeakyRelu(a) => Layer::LeakyRelu { alpha: a.get() },
        ConvSpec::Abs => Layer::Abs,
        ConvSpec::Identity => Layer::Identity,
        ConvSpec::Erf => Layer::Erf,
    }
}

/// The numbers of a convolutional layer (σw, σb, slopes).
fn conv_numbers(l: &Layer<f64>) -> Vec<f64> {
    match *l {
        Layer::Conv {
            weight_std,
            bias_std,
            ..
        } => vec![weight_std, bias_std],
        _ => numbers(l).0,
    }
}

/// The convolutional arm: the library's sequence and image kernels against
/// the independent oracle.
fn check_conv(input: &ConvInput) {
    let mut layers: Vec<Layer<f64>> = input.body.iter().take(4).map(|s| conv_layer(*s)).collect();
    match input.readout {
        Readout::Gap => layers.push(Layer::GlobalAvgPool),
        Readout::Flatten => layers.push(Layer::Flatten),
        Readout::Neither => {}
    }
    if let Some((w, b, act)) = input.head {
        layers.push(conv_layer(ConvSpec::Dense(w, b)));
        layers.push(conv_layer(act));
    }
    let arch = match Architecture::<f64>::from_layers(&layers) {
        Ok(a) => a,
        Err(e) => {
            // Non-finite parameters: `check_layers` pins those rules for
            // the flat layers.
            assert!(
                e == Error::NonFinite {
                    what: "layer parameters"
                } || matches!(e, Error::InvalidArgument { .. }),
                "{e:?}"
            );
            assert!(layers
                .iter()
                .any(|l| conv_numbers(l).iter().any(|v| !v.is_finite())));
            return;
        }
    };
    let shape = if input.image {
        Shape::Image {
            height: usize::from(input.rows % 3) + 1,
            width: usize::from(input.cols % 3) + 1,
            channels: usize::from(input.channels % 2) + 1,
        }
    } else {
        Shape::Sequence {
            length: usize::from(input.cols % 8) + 1,
            channels: usize::from(input.channels % 3) + 1,
        }
    };
    let d = shape.len();
    let x: Vec<f64> = input.x[..CONV_N * d].iter().map(|v| v.get()).collect();
    let ops = cntk::ops(arch.layers()).expect("the oracle covers every generated layer");
    // Whether the architecture fits the shape, by the oracle, on zeros.
    let fits = cntk::kernel(&ops, shape, &vec![0.0; d], &vec![0.0; d]).is_some();
    let len = match arch.workspace_len(shape) {
        Ok(len) => {
            assert!(fits, "{arch} on {shape:?}: accepted, the oracle refuses");
            len
        }
        Err(e) => {
            assert!(matches!(e, Error::InvalidArgument { .. }), "{e:?}");
            assert!(
                !fits,
                "{arch} on {shape:?}: refused ({e:?}), the oracle computes it"
            );
            return;
        }
    };
    let mut ws = vec![0.0; len];
    let (mut k, mut t) = (vec![7.0; CONV_N * CONV_N], vec![7.0; CONV_N * CONV_N]);
    let r = arch.gram_spatial(&x, shape, &mut ws, &mut k, &mut t);
    let (mut kc, mut tc) = (vec![7.0; CONV_N], vec![7.0; CONV_N]);
    let rc = arch.cross_spatial(&x[..d], &x, shape, &mut ws, &mut kc, &mut tc);
    let finite = x.iter().all(|v| v.is_finite());
    // Moderate: no entry so small that its square underflows (a position
    // whose variance underflows is refused, as flat inputs are).
    let moderate_inputs = x
        .iter()
        .all(|v| *v == 0.0 || (1e-100..=100.0).contains(&v.abs()));
    let moderate_arch = layers
        .iter()
        .all(|l| conv_numbers(l).iter().all(|v| v.abs() <= 4.0));
    // Well scaled: no scale so small that a variance underflows through the
    // layers (a tiny nonzero σb² alone is subnormal and rightly refused).
    let scaled_arch = layers.iter().all(|l| {
        conv_numbers(l)
            .iter()
            .all(|v| *v == 0.0 || (0.0625..=4.0).contains(&v.abs()))
    });
    for (r, outs) in [(r, [&k, &t]), (rc, [&kc, &tc])] {
        match r {
            Ok(()) => assert!(finite),
            Err(e) => {
                if finite {
                    assert!(
                        matches!(
                            e,
                            Error::Overflow { what: "kernel" }
                                | Error::PrecisionLoss { what: "kernel" }
                        ),
                        "{arch}: {e:?}"
                    );
                    let underflow = matches!(e, Error::PrecisionLoss { .. });
                    assert!(
                        !(moderate_arch && moderate_inputs && (scaled_arch || !underflow)),
                        "{arch}: a moderate architecture was refused on moderate inputs ({e:?})"
                    );
                } else {
                    assert_eq!(e, Error::NonFinite { what: "inputs" });
                }
                assert!(
                    outs.iter().all(|m| m.iter().all(|v| *v == 0.0)),
                    "not zeroed"
                );
                return;
            }
        }
    }
    for m in [&k, &t] {
        for i in 0..CONV_N {
            for j in 0..CONV_N {
                assert!(m[i * CONV_N + j].is_finite());
                assert_eq!(
                    m[i * CONV_N + j].to_bits(),
                    m[j * CONV_N + i].to_bits(),
                    "not bitwise symmetric"
                );
            }
        }
    }
    if !(moderate_arch && moderate_inputs) {
        return;
    }
    let (ko, to) = cntk::cross(&ops, shape, &x, &x).expect("the oracle computes what fits");
    let floor = f64::MIN_POSITIVE * 1e8;
    for (name, got, want) in [("NNGP", &k, &ko), ("NTK", &t, &to)] {
        for i in 0..CONV_N {
            for j in 0..CONV_N {
                let (g, w) = (got[i * CONV_N + j], want[i * CONV_N + j]);
                // √k₁·√k₂ (the product can underflow), or the entry itself
                // where an input's variance underflowed to 0 and its
                // covariance with another did not.
                let scale =
                    want[i * CONV_N + i].abs().sqrt() * want[j * CONV_N + j].abs().sqrt() + w.abs();
                assert!(
                    (g - w).abs() <= 1e-6 * scale + floor,
                    "{arch} on {shape:?}: {name}[{i}][{j}] = {g:e}, oracle {w:e}"
                );
            }
        }
        let cross = if name == "NNGP" { &kc } else { &tc };
        for j in 0..CONV_N {
            let scale = want[0].abs().sqrt() * want[j * CONV_N + j].abs().sqrt() + want[j].abs();
            assert!(
                (cross[j] - want[j]).abs() <= 1e-6 * scale + floor,
                "{arch} on {shape:?}: cross {name}[0][{j}] = {:e}, oracle {:e}",
                cross[j],
                want[j]
            );
        }
    }
}

/// The layer families of format version 2 that the library's text parser
/// gained after the convolutional ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Feature {
    /// `attn(WQ,WK,WV,WO)`.
    Attention,
    /// `attn_id(WQ,WK,WV,WO)`.
    RawAttention,
    /// `layernorm`.
    LayerNorm,
    /// `[` and `]`.
    Residual,
}

impl Feature {
    const ALL: [Feature; 4] = [
        Feature::Attention,
        Feature::RawAttention,
        Feature::LayerNorm,
        Feature::Residual,
    ];

    /// The layer names of the feature, as a parse error names them.
    fn names(self) -> &'static [&'static str] {
        match self {
            Feature::Attention => &["attn"],
            Feature::RawAttention => &["attn_id"],
            Feature::LayerNorm => &["layernorm"],
            Feature::Residual => &["[", "]"],
        }
    }

    /// A valid architecture that uses the feature.
    fn probe(self) -> &'static str {
        match self {
            Feature::Attention => "dense(1,0) attn(1,1,1,1) gap dense(1,0)",
            Feature::RawAttention => "dense(1,0) attn_id(1,1,1,1) gap dense(1,0)",
            Feature::LayerNorm => "dense(1,0) layernorm dense(1,0)",
            Feature::Residual => "dense(1,0) [ relu dense(1,0) ] dense(1,0)",
        }
    }

    /// The feature whose layer a parse error says is unknown.
    fn unknown_in(e: &ntk::error::ParseError) -> Option<Feature> {
        if e.kind != ParseErrorKind::UnknownLayer {
            return None;
        }
        Feature::ALL
            .into_iter()
            .find(|f| f.names().contains(&e.token()))
    }
}

/// Whether the library's `Architecture::parse` knows the layers of
/// `feature`: decided once per process by parsing the feature's probe (a
/// valid architecture). A probe may only fail with `UnknownLayer` naming
/// the feature's own layer; any other refusal panics, so that a library
/// that knows the layers can never switch the structured arm's checks off.
///
/// While this is `false` (the library before its attention, layer norm
/// and residual support), the structured arm skips the architectures whose
/// parse fails on that feature's layer, and only those; once it is `true`
/// for every feature, every generated architecture must parse and is
/// checked in full.
fn library_supports(feature: Feature) -> bool {
    static SUPPORT: OnceLock<[bool; 4]> = OnceLock::new();
    let support = SUPPORT.get_or_init(|| {
        Feature::ALL.map(|f| match Architecture::<f64>::parse(f.probe()) {
            Ok(_) => true,
            Err(e) if Feature::unknown_in(&e) == Some(f) => false,
            Err(e) => panic!("the probe `{}` of {f:?} is refused: {e:?}", f.probe()),
        })
    });
    support[Feature::ALL.iter().position(|&f| f == feature).unwrap_or(0)]
}

/// Relative perturbation of every oracle table entry after every step
/// (about 450 units of roundoff) that estimates how far rounding can move
/// the kernels ([`cntk::sensitivity`]).
const PERTURBATION: f64 = 1e-13;

/// Up to this sensitivity a case is well conditioned: the library must
/// compute it (no `PrecisionLoss`) and agree with the oracle within
/// [`TIGHT`] of the diagonal scale. (A conditioning κ turns the
/// perturbation into κ·10⁻¹³ and rounding into about κ·10⁻¹⁶ per step, far
/// below the library's limit; a kink at a correlation of 1 turns it into
/// its square root, 10⁻⁸ to 10⁻⁶ here, where the library and the oracle
/// still agree to about 10⁻⁸.)
const WELL_CONDITIONED: f64 = 1e-6;

/// Agreement of well-conditioned cases, in units of the diagonal scale
/// √K(x, x)·√K(x′, x′) + |K(x, x′)|; the two agree to about 10⁻⁸ on the
/// reference kernels.
const TIGHT: f64 = 1e-6;

/// Beyond this sensitivity the oracle's own rounding may reach the
/// library's limit: an `Ok` result is not compared.
const ORACLE_RELIABLE: f64 = 1e-3;

/// `true` if every affine and convolutional layer has a bias: then no
/// variance can cancel to 0 behind it. Behind a layer without bias, inputs
/// whose positions cancel (a mean of 0 under `gap`) have variance 0 exactly,
/// and the library's bound, which cannot know that the cancellation was
/// exact, may refuse a case that the oracle's relative perturbations (which
/// leave a 0 at 0) call well conditioned.
fn biased(ops: &[cntk::Op]) -> bool {
    ops.iter().all(|op| match op {
        cntk::Op::Dense { b, .. } | cntk::Op::Conv { b, .. } => *b > 0.0,
        _ => true,
    })
}

/// The structured arm: a valid architecture of format version 2 in text
/// (attention, layer norm, residual blocks, convolutions, pooling, dense
/// layers, activations) on small sequences, images or flat inputs, through
/// the library's text parser and `gram_spatial`, `cross_spatial` and (flat
/// inputs) `gram_flat`, against the oracle of `ntk_fuzz::cntk`.
///
/// The library must accept the architecture (`workspace_len` included)
/// and, on finite inputs, fail only with `PrecisionLoss { what: "kernel" }`
/// (outputs zeroed), and that only where the oracle's perturbations show a
/// sensitivity above [`WELL_CONDITIONED`] or a layer without bias ([`biased`]). An `Ok` Gram matrix is bitwise
/// symmetric and agrees with the oracle within [`TIGHT`] of the diagonal
/// scale when well conditioned, else within its error-bound contract
/// ([`PRECISION_LIMIT`](ntk::analytic::PRECISION_LIMIT) of the diagonal
/// scale, plus the oracle's own sensitivity) while the oracle is reliable
/// ([`ORACLE_RELIABLE`]).
fn check_structured(case: &Case) {
    let Case { text, shape, n, x } = case;
    let (shape, n) = (*shape, *n);
    let ops = cntk::parse(text).unwrap_or_else(|e| panic!("{text}: the oracle refuses: {e}"));
    cntk::check(&ops).unwrap_or_else(|e| panic!("{text}: invalid: {e}"));
    let arch = match Architecture::<f64>::parse(text) {
        Ok(a) => a,
        Err(e) => match Feature::unknown_in(&e) {
            Some(f) if !library_supports(f) => return,
            _ => panic!("{text}: the library refuses a valid architecture: {e:?}"),
        },
    };
    let (ko, to) =
        cntk::cross(&ops, shape, x, x).unwrap_or_else(|| panic!("{text}: does not fit {shape:?}"));
    let sensitivity = cntk::sensitivity(&ops, shape, x, PERTURBATION).unwrap_or(f64::INFINITY);
    let len = arch
        .workspace_len(shape)
        .unwrap_or_else(|e| panic!("{text} on {shape:?}: workspace refused: {e:?}"));
    let d = shape.len();
    let mut ws = vec![0.0; len];
    let (mut k, mut t) = (vec![7.0; n * n], vec![7.0; n * n]);
    let r = arch.gram_spatial(x, shape, &mut ws, &mut k, &mut t);
    let (mut kc, mut tc) = (vec![7.0; n], vec![7.0; n]);
    let rc = arch.cross_spatial(&x[..d], x, shape, &mut ws, &mut kc, &mut tc);
    let mut results = vec![
        ("gram_spatial", r, k, t, n),
        ("cross_spatial", rc, kc, tc, 1),
    ];
    if let Shape::Flat { dim } = shape {
        let (mut kf, mut tf) = (vec![7.0; n * n], vec![7.0; n * n]);
        let rf = arch.gram_flat(x, dim, &mut kf, &mut tf);
        if arch.layers().iter().any(Layer::is_structured) {
            // The flat routines leave layer norm and residual blocks to
            // `gram_spatial` with `Shape::Flat`, and say so.
            assert!(
                matches!(rf, Err(Error::InvalidArgument { .. })),
                "gram_flat: {text}: {rf:?}"
            );
            assert!(
                kf.iter().chain(&tf).all(|v| *v == 0.0),
                "gram_flat: {text}: not zeroed"
            );
        } else {
            results.push(("gram_flat", rf, kf, tf, n));
        }
    }
    let oracle_finite = ko.iter().chain(&to).all(|v| v.is_finite());
    let floor = f64::MIN_POSITIVE * 1e8;
    for (routine, r, k, t, rows) in results {
        let what =
            format!("{routine}: {text} on {shape:?}, x = {x:?} (sensitivity {sensitivity:e})");
        if let Err(e) = r {
            assert!(
                k.iter().chain(&t).all(|v| *v == 0.0),
                "{what}: {e:?}, outputs not zeroed"
            );
            match e {
                Error::PrecisionLoss { what: "kernel" } => assert!(
                    sensitivity > WELL_CONDITIONED || !oracle_finite || !biased(&ops),
                    "{what}: a well-conditioned case refused ({e:?})"
                ),
                Error::Overflow { what: "kernel" } if !oracle_finite => {}
                _ => panic!("{what}: unexpected {e:?}"),
            }
            continue;
        }
        if rows == n {
            for m in [&k, &t] {
                for i in 0..n {
                    for j in 0..n {
                        assert!(m[i * n + j].is_finite(), "{what}: not finite");
                        assert_eq!(
                            m[i * n + j].to_bits(),
                            m[j * n + i].to_bits(),
                            "{what}: not bitwise symmetric"
                        );
                    }
                }
            }
        }
        if !oracle_finite || sensitivity > ORACLE_RELIABLE {
            continue;
        }
        let tol = if sensitivity <= WELL_CONDITIONED {
            TIGHT
        } else {
            ntk::analytic::PRECISION_LIMIT + 10.0 * sensitivity
        };
        for (name, got, want) in [("NNGP", &k, &ko), ("NTK", &t, &to)] {
            for i in 0..rows {
                for j in 0..n {
                    let (g, w) = (got[i * n + j], want[i * n + j]);
                    let scale = cntk::diagonal_scale(want, n, i, j);
                    assert!(
                        (g - w).abs() <= tol * scale + floor,
                        "{what}: {name}[{i}][{j}] = {g:e}, oracle {w:e} (tolerance {tol:e} of {scale:e})"
                    );
                }
            }
        }
    }
}

fuzz_target!(|input: Input| {
    // An input exercises the convolutional arm, the structured arm or the
    // flat checks.
    if let Some(conv) = &input.conv {
        check_conv(conv);
        return;
    }
    if let Some(structured) = &input.structured {
        check_structured(&structured.build());
        return;
    }
    let parsed = check_parse(&input.text);
    if input.single {
        let built = check_layers::<f32>(&input.layers);
        let arch = if input.use_text {
            Architecture::<f32>::parse(&input.text).ok()
        } else {
            built
        };
        if let Some(a) = arch {
            check_kernels(&a, &input, 3e-2);
        }
    } else {
        let built = check_layers::<f64>(&input.layers);
        let arch = if input.use_text { parsed } else { built };
        if let Some(a) = arch {
            check_kernels(&a, &input, 1e-4);
        }
    }
});
