//! The range check both methods share, so that they agree or refuse together.
//!
//! The two methods round differently: the structured method forms
//! `(ws·a)·(ws·a')` and `δ·δ'` of each dense layer, the Jacobian method the
//! products of the Jacobian entries `ws·aᵢ·δⱼ`. Inside the normal
//! floating-point range both are accurate to a few ulps of the kernel's
//! scale `√(Θ(x,x)·Θ(x',x'))`; outside it one of them overflows where the
//! other does not, or both lose their digits to subnormal arithmetic, and
//! they would return different kernels. So both check, per input and
//! output k, the same two conditions before anything is contracted:
//!
//! - every layer's factors `‖ws·a‖² + bs²` and `‖δ_k‖²`, and the diagonal,
//!   are at most `MAX·2⁻²⁶` (otherwise the structured products overflow):
//!   [`Error::Overflow`];
//! - the diagonal `Θ_kk(x, x)` (from the factors, or `‖J_k(x)‖²`) is zero or
//!   at least `MIN_POSITIVE/ε` (otherwise the kernel is made of subnormal
//!   products whose rounding is absolute, not relative):
//!   [`Error::PrecisionLoss`].

use crate::nn::{ConvFactors, RnnFactors};
use crate::{Error, Real};

/// The smallest nonzero diagonal accepted: subnormal rounding of the
/// products (absolute, up to `MIN_POSITIVE·ε` each) stays below ε² of it.
fn low<T: Real>() -> T {
    T::MIN_POSITIVE / T::EPSILON
}

/// The largest factor or diagonal accepted, `MAX·2⁻²⁶`: room for sums of up
/// to 2²⁶ such terms. Every product either method forms is bounded by it
/// (Cauchy–Schwarz on the layer factors).
fn high<T: Real>() -> T {
    T::MAX / T::from_f64(67_108_864.0)
}

/// Above `MAX·2⁻²⁶`, or NaN.
fn out_of_range<T: Real>(v: T) -> bool {
    v.is_nan() || v > high()
}

/// `Σ vᵢ²`: on a wide target in four independent vector accumulators, so
/// that the sum of a long gradient is not one chain of dependent
/// multiply-adds; elsewhere [`simd::dot`](crate::simd::dot).
fn sum_squares<T: Real>(v: &[T]) -> T {
    use crate::simd::{dot, LANES, WIDE};
    if !WIDE {
        return dot(v, v);
    }
    let (chunks, rest) = v.as_chunks::<LANES>();
    let (quads, single) = chunks.as_chunks::<4>();
    let z = [T::ZERO; LANES];
    let (mut s0, mut s1, mut s2, mut s3) = (z, z, z, z);
    for [x0, x1, x2, x3] in quads {
        for l in 0..LANES {
            s0[l] = x0[l].mul_add(x0[l], s0[l]);
            s1[l] = x1[l].mul_add(x1[l], s1[l]);
            s2[l] = x2[l].mul_add(x2[l], s2[l]);
            s3[l] = x3[l].mul_add(x3[l], s3[l]);
        }
    }
    for x in single {
        for l in 0..LANES {
            s0[l] = x[l].mul_add(x[l], s0[l]);
        }
    }
    for l in 0..LANES {
        s0[l] += s1[l] + (s2[l] + s3[l]);
    }
    s0.iter().fold(dot(rest, rest), |s, &x| s + x)
}

/// `‖c·v‖ = (|c|·max|vᵢ|)·‖v/max|vᵢ|‖`: no square underflows or overflows,
/// and `c·max|vᵢ|` is formed first so that `c` may pull a vector of huge
/// entries back into range; NaN if an entry is NaN.
fn norm<T: Real>(c: T, v: &[T]) -> T {
    // The plain sum of squares where it is finite and well inside the normal
    // range (squares that underflow then cost at most n·MIN_POSITIVE·ε of
    // it); the scaled form otherwise, and for NaN.
    // the common case in one vectorised pass
    let s = sum_squares(v);
    if s.is_finite() && s >= low() {
        return c.abs() * s.sqrt();
    }
    let mut m = T::ZERO;
    for &x in v {
        if x.is_nan() {
            return x;
        }
        m = m.max(x.abs());
    }
    if m == T::ZERO || !m.is_finite() {
        return c.abs() * m;
    }
    let s = v.iter().fold(T::ZERO, |s, &x| {
        let y = x / m;
        s + y * y
    });
    (c.abs() * m) * s.sqrt()
}

/// The diagonal `Θ_kk(x, x)` of one input and output, accumulated layer by
/// layer or from a Jacobian row, with the verdict on its range.
///
/// Each term is formed from norms (`(|ws|·‖a‖·‖δ‖)² + (|bs|·‖δ‖)²`, or
/// `‖J_k‖²`), so the sum underflows only where the true diagonal is below
/// the smallest subnormal; a sum that is nonzero in exact arithmetic but
/// below `MIN_POSITIVE/ε` is refused even if it rounded to 0.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Diagonal<T> {
    sum: T,
    nonzero: bool,
    over: bool,
}

impl<T: Real> Diagonal<T> {
    pub(crate) fn new() -> Self {
        Self {
            sum: T::ZERO,
            nonzero: false,
            over: false,
        }
    }

    /// One dense layer: input `a`, weight scale `ws`, cotangent `dy`, bias
    /// scale `bs` (as a [`GradSink`](crate::nn::GradSink) sees them).
    pub(crate) fn dense(&mut self, a: &[T], ws: T, dy: &[T], bs: T) {
        let (wa, nd, bs) = (norm(ws, a), norm(T::ONE, dy), bs.abs());
        // The structured method's factors, ‖ws·a‖² + bs² and ‖δ‖², bound
        // every product it forms.
        if out_of_range(wa * wa + bs * bs) || out_of_range(nd * nd) {
            self.over = true;
        }
        let (t1, t2) = (wa * nd, bs * nd);
        self.sum += t1 * t1 + t2 * t2;
        // Nonzero in exact arithmetic: a cotangent, and a bias scale or a
        // weighted input.
        let some = |v: T| v != T::ZERO;
        let weighted = some(ws) && a.iter().any(|&x| some(x));
        if some(nd) && (some(bs) || weighted) {
            self.nonzero = true;
        }
    }

    /// One convolution: its position-summed gradient as two dense factors
    /// (the exact diagonal) and, if it is factored, the bounds of the
    /// factored products: `Σ_p ‖ā_p‖²`, `Σ_p ‖δ_p‖²` and `(Σ_p ‖ā_p‖·‖δ_p‖)²`
    /// (which bounds `Σ_{p,p'} |ā_p·ā'_{p'}|·|δ_p·δ'_{p'}|`) are at most
    /// `MAX·2⁻²⁶`.
    pub(crate) fn conv(&mut self, f: &ConvFactors<'_, T>) {
        self.dense(&[], T::ONE, f.bias_grad, T::ONE);
        self.dense(&[], T::ONE, f.weight_grad, T::ONE);
        if !f.factored {
            return;
        }
        let (c_in, c_out) = (f.c_in, f.dy.len().checked_div(f.positions()).unwrap_or(0));
        let (mut sa, mut sd, mut sad) = (T::ZERO, T::ZERO, T::ZERO);
        for p in 0..f.positions() {
            let mut a2 = f.bs * f.bs;
            for d in 0..f.width {
                if let Some(src) = f.source(p, d) {
                    let n = norm(f.ws, &f.input[src * c_in..src * c_in + c_in]);
                    a2 += n * n;
                }
            }
            let nd = norm(T::ONE, &f.dy[p * c_out..p * c_out + c_out]);
            sa += a2;
            sd += nd * nd;
            sad += a2.sqrt() * nd;
        }
        if out_of_range(sa) || out_of_range(sd) || out_of_range(sad * sad) {
            self.over = true;
        }
    }

    /// One recurrent layer: its time-summed gradient as three dense factors
    /// (the exact diagonal) and, if it is factored, the bounds of the
    /// factored products, as for a convolution: `Σ_t ‖ā_t‖²`, `Σ_t ‖δ_t‖²`
    /// and `(Σ_t ‖ā_t‖·‖δ_t‖)²` are at most `MAX·2⁻²⁶`.
    pub(crate) fn rnn(&mut self, f: &RnnFactors<'_, T>) {
        self.dense(&[], T::ONE, f.b_grad, T::ONE);
        self.dense(&[], T::ONE, f.u_grad, T::ONE);
        self.dense(&[], T::ONE, f.w_grad, T::ONE);
        if !f.factored {
            return;
        }
        let (h, d) = (f.width(), f.channels());
        let (mut sa, mut sd, mut sad) = (T::ZERO, T::ZERO, T::ZERO);
        for t in 0..f.steps() {
            let mut a2 = f.bs * f.bs;
            if let Some(s) = t.checked_sub(1) {
                let n = norm(f.ws, &f.hidden[s * h..s * h + h]);
                a2 += n * n;
            }
            let n = norm(f.us, &f.input[t * d..t * d + d]);
            a2 += n * n;
            let nd = norm(T::ONE, &f.delta[t * h..t * h + h]);
            sa += a2;
            sd += nd * nd;
            sad += a2.sqrt() * nd;
        }
        if out_of_range(sa) || out_of_range(sd) || out_of_range(sad * sad) {
            self.over = true;
        }
    }

    /// The diagonal accumulated so far.
    pub(crate) fn sum(&self) -> T {
        self.sum
    }

    /// One Jacobian row `J_k(x)`.
    pub(crate) fn row(&mut self, j: &[T]) {
        let n = norm(T::ONE, j);
        self.sum += n * n;
        if n != T::ZERO {
            self.nonzero = true;
        }
    }

    /// [`Error::Overflow`] if a factor or the diagonal passes `MAX·2⁻²⁶`,
    /// [`Error::PrecisionLoss`] if the diagonal is nonzero but below
    /// `MIN_POSITIVE/ε`.
    pub(crate) fn verdict(&self) -> Result<(), Error> {
        if self.over || out_of_range(self.sum) {
            Err(Error::Overflow {
                what: "empirical NTK",
            })
        } else if self.nonzero && self.sum < low() {
            Err(Error::PrecisionLoss {
                what: "empirical NTK",
            })
        } else {
            Ok(())
        }
    }
}

/// Keeps the worst numerical refusal seen: the first [`Error::Overflow`],
/// else the first [`Error::PrecisionLoss`].
pub(crate) fn note(refusal: &mut Option<Error>, r: Result<(), Error>) {
    if let Err(e) = r {
        let worse = match refusal {
            None => true,
            Some(Error::Overflow { .. }) => false,
            Some(_) => matches!(e, Error::Overflow { .. }),
        };
        if worse {
            *refusal = Some(e);
        }
    }
}
