//! The bound model of the convolutional arm of the `empirical` target: the
//! two networks it fuzzes, an a-priori bound on every quantity the range
//! check of the empirical NTK looks at (so that moderate data must be
//! accepted), and the rounding bound between two evaluations of a kernel
//! from the same per-input gradients.

use crate::gamma;
use ntk::nn::{Conv1d, Dense, Erf, GlobalAvgPool, Relu, Unflatten};

/// Positions and channels of the sequence network's inputs.
pub const SEQ_L: usize = 5;
/// Input channels of the sequence network.
pub const SEQ_C: usize = 2;
/// Flat input length of the sequence network.
pub const SEQ_D: usize = SEQ_L * SEQ_C;
/// Outputs of the sequence network.
pub const SEQ_K: usize = 2;
/// A sequence network whose convolutions contribute through their gradients.
pub type SeqNet<T> = (
    Unflatten<SEQ_C, SEQ_L>,
    Conv1d<T, SEQ_C, 3, 3, SEQ_L>,
    Relu,
    Conv1d<T, 3, 2, 3, SEQ_L>,
    Erf,
    GlobalAvgPool,
    Dense<T, 2, SEQ_K>,
);

/// Positions of the factored network's inputs.
pub const WIDE_L: usize = 2;
/// Input channels of the factored network.
pub const WIDE_C: usize = 4;
/// Flat input length of the factored network.
pub const WIDE_D: usize = WIDE_L * WIDE_C;
/// A short sequence of many channels: its convolution takes the factored
/// form.
pub type WideNet<T> = (
    Unflatten<WIDE_C, WIDE_L>,
    Conv1d<T, WIDE_C, 6, 3, WIDE_L>,
    Relu,
    GlobalAvgPool,
    Dense<T, 6, 1>,
);

/// Training inputs per case.
pub const CN: usize = 4;
/// Test inputs per case.
pub const CM: usize = 2;
/// Parameters of the larger network (the other one reads a prefix).
pub const CP: usize = 85;

/// One layer as the bound sees it: shapes, scales and the largest |weight|
/// and |bias|.
#[derive(Clone, Copy, Debug)]
pub enum Layer {
    /// `Conv1d`: `c_in`, `c_out`, width `q`, positions `l`.
    Conv {
        c_in: usize,
        c_out: usize,
        q: usize,
        l: usize,
        ws: f64,
        bs: f64,
        w: f64,
        b: f64,
    },
    /// An activation with |φ(z)| ≤ min(l0·|z|, cap) and |φ′| ≤ l0.
    Act { l0: f64, cap: f64 },
    /// The mean over `l` positions.
    Gap { l: usize },
    /// `Dense`.
    Dense {
        n_in: usize,
        n_out: usize,
        ws: f64,
        bs: f64,
        w: f64,
        b: f64,
    },
}

/// An upper bound, for inputs of largest magnitude `x`, on every entry of
/// the kernel and on every squared factor norm the range check of
/// `ntk::empirical` compares against its limits (the sum of squared
/// gradient entries, the squared norms of scaled activations and of
/// cotangents, and a factored convolution's position sums), and on the
/// partial products of a layer's sums, whichever order it forms them in:
/// `W·a` and `Wᵀ·δ` before the scale, or `ws·a` and `ws·δ` first (a huge
/// weight behind a zero scale, or a huge scale in front of a subnormal
/// weight, overflows there). Crude: each layer
/// multiplies by its fan-in times its largest weight.
pub fn range_bound(layers: &[Layer], x: f64) -> f64 {
    // forward: the largest |activation| entering each layer
    let mut a = x;
    let mut inputs = [0.0; 16];
    // unscaled sums: a layer forms W·a (and Wᵀ·δ) before it applies its scale
    let mut worst = 0.0_f64;
    for (i, layer) in layers.iter().enumerate() {
        match *layer {
            Layer::Conv { c_in, q, w, ws, .. } => {
                worst = worst.max((q * c_in) as f64 * w * a).max(ws.abs() * a)
            }
            Layer::Dense { n_in, w, ws, .. } => {
                worst = worst.max(n_in as f64 * w * a).max(ws.abs() * a)
            }
            _ => {}
        }
        inputs[i] = a;
        a = match *layer {
            Layer::Conv {
                c_in,
                q,
                ws,
                bs,
                w,
                b,
                ..
            } => ws.abs() * (q * c_in) as f64 * w * a + bs.abs() * b,
            Layer::Act { l0, cap } => (l0 * a).min(cap),
            Layer::Gap { .. } => a,
            Layer::Dense {
                n_in, ws, bs, w, b, ..
            } => ws.abs() * n_in as f64 * w * a + bs.abs() * b,
        };
    }
    // backward from one output's unit cotangent
    let mut d = 1.0_f64;
    let mut grad2 = 0.0_f64;
    for (i, layer) in layers.iter().enumerate().rev() {
        let a = inputs[i];
        match *layer {
            Layer::Conv {
                c_in,
                c_out,
                q,
                l,
                ws,
                bs,
                w,
                ..
            } => {
                let (ws, bs) = (ws.abs(), bs.abs());
                let m = (q * c_in) as f64;
                let g = l as f64 * d * (ws * a).max(bs);
                grad2 += c_out as f64 * (m + 1.0) * g * g;
                let act2 = m * (ws * a).powi(2) + bs * bs;
                let d2 = c_out as f64 * d * d;
                // factored position sums: Σ_p |ā_p|², Σ_p |δ_p|², (Σ_p |ā_p||δ_p|)²
                let (sa, sd) = (l as f64 * act2, l as f64 * d2);
                worst = worst.max(sa).max(sd).max(sa * sd);
                worst = worst.max((q * c_out) as f64 * w * d).max(ws * d);
                d *= ws * (q * c_out) as f64 * w;
            }
            Layer::Act { l0, .. } => d *= l0,
            Layer::Gap { l } => d /= l.max(1) as f64,
            Layer::Dense {
                n_in,
                n_out,
                ws,
                bs,
                w,
                ..
            } => {
                let (ws, bs) = (ws.abs(), bs.abs());
                let g = d * (ws * a).max(bs);
                grad2 += n_out as f64 * (n_in as f64 + 1.0) * g * g;
                let act2 = n_in as f64 * (ws * a).powi(2) + bs * bs;
                worst = worst.max(act2).max(n_out as f64 * d * d);
                worst = worst.max(n_out as f64 * w * d).max(ws * d);
                d *= ws * n_out as f64 * w;
            }
        }
    }
    worst.max(grad2)
}

/// The largest finite value the range check accepts in a precision of
/// largest finite value `max` (`MAX / 2²⁶`), with a margin of 10³ for the
/// rounding of the forward and backward passes.
pub fn accepted(max: f64) -> f64 {
    max / 67_108_864.0 / 1e3
}

/// A bound on |computed − exact| for a kernel entry `Θ(x_i, x_j)`
/// evaluated from the same per-input gradients by any summation order,
/// given the computed diagonal entries `tii`, `tjj`: by Cauchy–Schwarz
/// Σ|g_i||g_j| ≤ √(Θ_ii·Θ_jj) (the mean over outputs included), each of the
/// `terms` products rounded a few times (`extra` roundings), plus the
/// absolute error of products in the subnormal range (`eta`).
pub fn pair_tolerance(tii: f64, tjj: f64, terms: usize, extra: usize, u: f64, eta: f64) -> f64 {
    let g = gamma(terms + extra, u);
    // the roots first: the product of two tiny diagonals underflows
    g * tii.abs().sqrt() * tjj.abs().sqrt() * (1.0 + 2.0 * g) / (1.0 - g) + 4.0 * terms as f64 * eta
}

/// An [`Rnn`](ntk::nn::Rnn) layer as [`rnn_range_bound`] sees it: shapes,
/// the absolute scales `ws`, `us`, `bs`, the largest |W|, |U|, |b|, and the
/// activation (|φ(z)| ≤ min(l0·|z|, cap), |φ′| ≤ l0).
#[derive(Clone, Copy, Debug)]
pub struct RnnLayer {
    /// Input channels `D`.
    pub d: usize,
    /// Hidden width `H`.
    pub h: usize,
    /// Time steps `L`.
    pub l: usize,
    /// `true` if the layer takes the factored form.
    pub factored: bool,
    /// Recurrent scale.
    pub ws: f64,
    /// Input scale.
    pub us: f64,
    /// Bias scale.
    pub bs: f64,
    /// Largest |W|.
    pub w: f64,
    /// Largest |U|.
    pub u: f64,
    /// Largest |b|.
    pub b: f64,
    /// The activation's slope bound.
    pub l0: f64,
    /// The activation's value cap.
    pub cap: f64,
}

/// As [`range_bound`], for `Unflatten → Rnn → Last | GlobalAvgPool →
/// readout` (the readout a [`Layer::Dense`]) and inputs of largest
/// magnitude `x`: bounds every intermediate either method forms, through
/// all `L` steps forward (`W·h_{t−1}` and `U·x_t` before their scales, the
/// scaled `ws·h_{t−1}`, `us·x_t`, the pre-activations) and backward (`ws·δ`,
/// `Wᵀ·δ` unscaled and scaled, `us·δ`, `bs·δ`, the input cotangent `Uᵀ·δ`),
/// the squared gradient norm (summed over time) and, factored, the factor
/// sums over steps. Crude: each step multiplies by the fan-in times the
/// largest weight. A NaN of the model itself (∞·0) only follows an ∞ that
/// is already in the bound.
pub fn rnn_range_bound(r: &RnnLayer, readout: &Layer, x: f64) -> f64 {
    let (ws, us, bs) = (r.ws.abs(), r.us.abs(), r.bs.abs());
    let (hf, df, lf) = (r.h as f64, r.d as f64, r.l as f64);
    let mut worst = 0.0_f64;
    // forward through time: the largest |h_{t−1}|
    let mut hp = 0.0_f64;
    let mut hmax = 0.0_f64;
    for _ in 0..r.l {
        let rec = hf * r.w * hp;
        let inp = df * r.u * x;
        let g = ws * rec + us * inp + bs * r.b;
        for v in [rec, inp, ws * hp, us * x, bs * r.b, ws * rec, us * inp, g] {
            worst = worst.max(v);
        }
        hp = (r.l0 * g).min(r.cap);
        hmax = hmax.max(hp);
    }
    let Layer::Dense {
        n_in,
        n_out,
        ws: ows,
        bs: obs,
        w: ow,
        b: ob,
    } = *readout
    else {
        return f64::INFINITY;
    };
    let (ows, obs) = (ows.abs(), obs.abs());
    let a = hmax;
    let (ni, no) = (n_in as f64, n_out as f64);
    worst = worst
        .max(ni * ow * a)
        .max(ows * a)
        .max(ows * ni * ow * a + obs * ob);
    // backward from one output's unit cotangent
    let gr = (ows * a).max(obs);
    let mut grad2 = no * (ni + 1.0) * gr * gr;
    worst = worst
        .max(ni * (ows * a).powi(2) + obs * obs)
        .max(no)
        .max(no * ow)
        .max(ows);
    // the cotangent of every state (the mean over time only shrinks it)
    let dy = ows * no * ow;
    let mut next = 0.0_f64;
    let mut dmax = 0.0_f64;
    for _ in 0..r.l {
        let carry = hf * ws * r.w * next;
        let s = dy + carry;
        let d = r.l0 * s;
        for v in [ws * next, hf * r.w * next, carry, s, d] {
            worst = worst.max(v);
        }
        next = d;
        dmax = dmax.max(d);
    }
    for v in [
        ws * dmax,
        us * dmax,
        bs * dmax,
        hf * us * dmax * r.u,
        hf * r.u * dmax,
    ] {
        worst = worst.max(v);
    }
    let (gw, gu, gb) = (lf * ws * dmax * hmax, lf * us * dmax * x, lf * bs * dmax);
    grad2 += hf * hf * gw * gw + hf * df * gu * gu + hf * gb * gb;
    if r.factored {
        let sa = lf * (hf * (ws * hmax).powi(2) + df * (us * x).powi(2) + bs * bs);
        let sd = lf * hf * dmax * dmax;
        worst = worst.max(sa).max(sd).max(sa * sd);
    }
    worst.max(grad2)
}
