//! The crate's one rule for caller buffers on error: a call that returns
//! `Err` leaves every output buffer filled with zeros, so no half-written
//! result survives a failure.

use crate::{Error, Real};

/// A caller-owned output that an `Err` resets to zeros.
pub(crate) trait Output {
    /// Fills the output with zeros.
    fn zero(&mut self);
}

impl<T: Real> Output for [T] {
    fn zero(&mut self) {
        self.fill(T::ZERO);
    }
}

impl<T: Real, const N: usize> Output for [T; N] {
    fn zero(&mut self) {
        self.fill(T::ZERO);
    }
}

impl<T: Real, const C: usize> Output for [[T; C]] {
    fn zero(&mut self) {
        for row in self.iter_mut() {
            row.fill(T::ZERO);
        }
    }
}

impl<T: Real, const C: usize, const N: usize> Output for [[T; C]; N] {
    fn zero(&mut self) {
        self[..].zero();
    }
}

/// Two outputs of one call, zeroed together.
impl<A: Output + ?Sized, B: Output + ?Sized> Output for (&mut A, &mut B) {
    fn zero(&mut self) {
        self.0.zero();
        self.1.zero();
    }
}

/// Runs `f` on `out`; if it fails, zeroes `out` and passes the error on.
pub(crate) fn zero_on_error<O: Output + ?Sized, R>(
    out: &mut O,
    f: impl FnOnce(&mut O) -> Result<R, Error>,
) -> Result<R, Error> {
    let r = f(out);
    if r.is_err() {
        out.zero();
    }
    r
}
