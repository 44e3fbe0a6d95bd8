//! The error policy, as a catalogue: each bad input tried against each public
//! fallible function, with the exact error it gets and what it leaves in the
//! output; then the inputs that look bad but are valid (−0.0, zero vectors,
//! duplicate points, tiny and huge finite values), with the results they
//! must give. Each module's table is in its own tests (`tests/MODULE/errors.rs`,
//! `tests/train.rs`); this file holds what they share.
//!
//! # What the library promises
//!
//! - Nothing panics on any input, and no `Ok` result holds NaN or ±∞.
//! - The error says what went wrong: [`Error::BufferTooSmall`] (a short
//!   buffer, `needed` and `given` in elements), [`Error::InvalidArgument`]
//!   (a scalar outside its domain, a buffer too long), [`Error::NonFinite`]
//!   (`what` names the argument: `"inputs"`, `"network parameters"`,
//!   `"matrix"`, `"targets"`, …), [`Error::Parse`] (kind, byte position and
//!   token), [`Error::NotPositiveDefinite`] (the failing pivot),
//!   [`Error::NoConvergence`] (the cap reached) and [`Error::Overflow`] (a NaN
//!   or ∞ arising from finite data). Size errors are reported first, even
//!   when the data are bad too.
//! - No output is left half-written. What a failed call leaves depends on
//!   the module, as documented there:
//!   - the empirical NTK (`empirical`) **zeroes** its output on every
//!     error;
//!   - the infinite-width kernels (`analytic`) **zero** both outputs on
//!     every error, argument errors included;
//!   - `linalg`, `predict` and `train::outputs` **zero** every output on
//!     every error;
//!   - `train::step` leaves the network as it was on every error: a bad
//!     learning rate is rejected first, and a step that would diverge
//!     (`Overflow`) is checked before it is made.
//! - A network's non-finite numbers are every parameter, σw, σb and a leaky
//!   ReLU's slope; NaN propagates through every activation, so an overflow
//!   inside the forward pass is reported, never hidden.
//! - −0.0, zero vectors, duplicate points, tiny (1e-300) and large but
//!   representable values are valid inputs with finite, correct results:
//!   duplicate points give bitwise identical rows.

use ntk::nn::{Dense, LeakyRelu};
use ntk::{Error, Real};

/// NaN, the bad value of most rows.
pub const NAN: f64 = f64::NAN;
/// +∞.
pub const INF: f64 = f64::INFINITY;

// ---------------------------------------------------------------------------
// The network every empirical (and `train`) case starts from: 2 → 3 → 2, a leaky ReLU (so
// that its slope can be corrupted), five training inputs (one batch of four
// and one more: both code paths) and two test inputs.
// ---------------------------------------------------------------------------

pub type Net<T> = (Dense<T, 2, 3>, LeakyRelu<T>, Dense<T, 3, 2>);
pub const N: usize = 5;
pub const M: usize = 2;
pub const K: usize = 2;
/// Parameters of [`Net`]: 2·3 + 3 + 3·2 + 2.
pub const P: usize = 17;

/// The network, its parameters fixed.
pub fn net<T: Real>() -> Net<T> {
    let c = T::from_f64;
    let mut l0 = Dense::<T, 2, 3>::zeros(c(1.5), c(0.1), ntk::nn::Parameterization::Ntk);
    l0.weight = [[c(1.0), c(-0.5)], [c(0.25), c(1.0)], [c(-1.0), c(0.5)]];
    l0.bias = [c(0.1), c(-0.2), c(0.3)];
    let mut l2 = Dense::<T, 3, 2>::zeros(c(1.0), c(0.5), ntk::nn::Parameterization::Ntk);
    l2.weight = [[c(0.5), c(-1.0), c(0.75)], [c(1.0), c(0.5), c(-0.25)]];
    l2.bias = [c(0.2), c(-0.1)];
    (l0, LeakyRelu { alpha: c(0.1) }, l2)
}

/// The training inputs.
pub fn train<T: Real>() -> [[T; 2]; N] {
    [[1.0, 0.0], [0.0, 1.0], [0.6, 0.8], [-1.0, 2.0], [0.3, -0.7]].map(|r| r.map(T::from_f64))
}

/// The test inputs.
pub fn test<T: Real>() -> [[T; 2]; M] {
    [[0.5, -0.5], [2.0, 1.0]].map(|r| r.map(T::from_f64))
}

/// Written into outputs before a call.
pub const SENTINEL: f64 = 7.0;

// ---------------------------------------------------------------------------
// The tables of the other modules: each row runs one call on one bad (or
// valid-looking) input and returns its result and its outputs (filled with
// SENTINEL before the call).
// ---------------------------------------------------------------------------

/// What a row's call left in its outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Out {
    /// Every output finite (rows of calls without outputs use this).
    Finite,
    /// The outputs are all 0.
    Zeroed,
}

/// One row of a catalogue.
pub type Call = fn() -> (Result<(), Error>, Vec<f64>);

/// Runs every row; fails with the list of rows whose result or outputs
/// differ from the expected ones.
pub fn judge_rows(rows: &[(&str, Call, Result<(), Error>, Out)]) {
    let mut failures = Vec::new();
    for (name, call, expect, out) in rows {
        let (r, o) = call();
        let left = match out {
            Out::Finite => o.iter().all(|v| v.is_finite()),
            Out::Zeroed => o.iter().all(|&v| v == 0.0),
        };
        if r != *expect || !left {
            failures.push(format!(
                "{name}: expected {expect:?} with {out:?} outputs, got {r:?} and {o:?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

/// A matrix's entries, row-major.
pub fn flat<const C: usize>(m: &[[f64; C]]) -> Vec<f64> {
    m.as_flattened().to_vec()
}

/// [`SENTINEL`], short for the tables.
pub const S: f64 = SENTINEL;
/// The error of a non-finite input.
pub const INPUTS_E: Error = Error::NonFinite { what: "inputs" };
