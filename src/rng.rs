//! A small deterministic generator for initialisation and sampling.

use crate::real::Real;

/// xoshiro256++ seeded by SplitMix64: fast, small, reproducible on every
/// target, with standard normal samples by Marsaglia's polar method.
///
/// # Examples
///
/// ```
/// use ntk::Rng;
/// let mut a = Rng::new(7);
/// let mut b = Rng::new(7);
/// assert_eq!(a.next_u64(), b.next_u64());
/// let z: f64 = a.normal();
/// assert!(z.is_finite());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Rng {
    s: [u64; 4],
    /// The second sample of the last accepted pair, kept for the next call:
    /// its bit pattern and the mantissa digits of its type.
    spare: Option<(u64, u32)>,
}

impl Rng {
    /// A generator from a seed; equal seeds give equal streams.
    pub fn new(seed: u64) -> Self {
        let mut z = seed;
        let mut s = [0u64; 4];
        for v in s.iter_mut() {
            z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut x = z;
            x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            *v = x ^ (x >> 31);
        }
        Self { s, spare: None }
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1) with the type's full mantissa of random bits.
    pub fn uniform<T: Real>(&mut self) -> T {
        T::from_random_bits(self.next_u64())
    }

    /// A standard normal sample, by Marsaglia's polar method (no sine or
    /// cosine: cheap on firmware). Each accepted pair gives two samples; the
    /// second is kept for the next call of the same type (a call for the
    /// other float type discards it), so that `f32` never works in `f64`.
    pub fn normal<T: Real>(&mut self) -> T {
        if let Some((bits, digits)) = self.spare.take() {
            if digits == T::MANTISSA_DIGITS {
                return T::from_bits_u64(bits);
            }
        }
        // A pair is accepted with probability π/4: 64 tries fail with
        // probability below 10⁻⁴³.
        for _ in 0..64 {
            let u = T::TWO * self.uniform::<T>() - T::ONE;
            let v = T::TWO * self.uniform::<T>() - T::ONE;
            let s = u * u + v * v;
            if s > T::ZERO && s < T::ONE {
                let f = (-T::TWO * s.ln() / s).sqrt();
                self.spare = Some(((v * f).to_bits_u64(), T::MANTISSA_DIGITS));
                return u * f;
            }
        }
        T::ZERO
    }

    /// Fills `out` with standard normal samples.
    pub fn fill_normal<T: Real>(&mut self, out: &mut [T]) {
        for v in out.iter_mut() {
            *v = self.normal();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spare_is_kept_per_type() {
        let mut r = Rng::new(9);
        let _: f32 = r.normal();
        let spare = r.spare;
        let second: f32 = r.normal();
        assert_eq!(spare, Some((second.to_bits() as u64, 24)));
        assert_eq!(r.spare, None);

        // An f32 spare is dropped by an f64 call, which then draws its own pair.
        let mut a = Rng::new(11);
        let _: f32 = a.normal();
        let mut b = a.clone();
        b.spare = None;
        let (p, q): (f64, f64) = (a.normal(), a.normal());
        let (p2, q2): (f64, f64) = (b.normal(), b.normal());
        assert_eq!((p.to_bits(), q.to_bits()), (p2.to_bits(), q2.to_bits()));
    }

    #[test]
    fn normal_moments() {
        let mut r = Rng::new(1);
        let n = 200_000;
        let (mut s1, mut s2) = (0.0, 0.0);
        for _ in 0..n {
            let z: f64 = r.normal();
            s1 += z;
            s2 += z * z;
        }
        let mean = s1 / n as f64;
        let var = s2 / n as f64 - mean * mean;
        assert!(mean.abs() < 0.01, "{mean}");
        assert!((var - 1.0).abs() < 0.01, "{var}");
    }
}
