//! Row views of the input and output matrices of the Gram engine (arrays of
//! rows `[[T; D]]` and row-major flat slices behind one interface), and the
//! checks of their shapes.

use crate::{Error, Real};

/// Read access to the rows of an input matrix.
pub(crate) trait Rows<T> {
    fn count(&self) -> usize;
    /// Row `i` (empty past the end).
    fn row(&self, i: usize) -> &[T];
}

/// Write access to the rows of an output matrix.
pub(crate) trait RowsMut<T> {
    fn count(&self) -> usize;
    /// Row `i` (empty past the end).
    fn row_mut(&mut self, i: usize) -> &mut [T];
    /// Row `i`, read only (empty past the end).
    fn row_ref(&self, i: usize) -> &[T];
}

impl<T, const D: usize> Rows<T> for [[T; D]] {
    fn count(&self) -> usize {
        self.len()
    }
    fn row(&self, i: usize) -> &[T] {
        self.get(i).map_or(&[], |r| r.as_slice())
    }
}

impl<T, const D: usize> RowsMut<T> for [[T; D]] {
    fn count(&self) -> usize {
        self.len()
    }
    fn row_mut(&mut self, i: usize) -> &mut [T] {
        self.get_mut(i).map_or(&mut [], |r| r.as_mut_slice())
    }
    fn row_ref(&self, i: usize) -> &[T] {
        self.get(i).map_or(&[], |r| r.as_slice())
    }
}

/// A row-major matrix in a flat slice.
pub(crate) struct Flat<'a, T> {
    pub data: &'a [T],
    pub width: usize,
}

impl<T> Rows<T> for Flat<'_, T> {
    fn count(&self) -> usize {
        self.data.len().checked_div(self.width).unwrap_or(0)
    }
    fn row(&self, i: usize) -> &[T] {
        let start = i.saturating_mul(self.width);
        self.data
            .get(start..start.saturating_add(self.width))
            .unwrap_or(&[])
    }
}

/// A mutable row-major matrix in a flat slice.
pub(crate) struct FlatMut<'a, T> {
    pub data: &'a mut [T],
    pub width: usize,
}

impl<T> RowsMut<T> for FlatMut<'_, T> {
    fn count(&self) -> usize {
        self.data.len().checked_div(self.width).unwrap_or(0)
    }
    fn row_mut(&mut self, i: usize) -> &mut [T] {
        let start = i.saturating_mul(self.width);
        self.data
            .get_mut(start..start.saturating_add(self.width))
            .unwrap_or(&mut [])
    }
    fn row_ref(&self, i: usize) -> &[T] {
        let start = i.saturating_mul(self.width);
        self.data
            .get(start..start.saturating_add(self.width))
            .unwrap_or(&[])
    }
}

/// Checks that all `x.count()` rows have the same nonzero length and finite
/// entries; returns that length.
pub(crate) fn check_inputs<T: Real, X: Rows<T> + ?Sized>(
    x: &X,
    d: Option<usize>,
) -> Result<usize, Error> {
    let d = match d {
        Some(d) => d,
        None => x.row(0).len(),
    };
    if d == 0 && x.count() > 0 {
        return Err(Error::InvalidArgument {
            what: "inputs must have at least one feature",
        });
    }
    for i in 0..x.count() {
        let r = x.row(i);
        if r.len() != d {
            return Err(Error::InvalidArgument {
                what: "all inputs must have the same length",
            });
        }
        crate::simd::check_finite(r, "inputs")?;
    }
    Ok(d)
}

/// Checks that `m` has at least `rows` rows of at least `cols` entries.
pub(crate) fn check_output<T, M: RowsMut<T> + ?Sized>(
    m: &mut M,
    rows: usize,
    cols: usize,
) -> Result<(), Error> {
    if rows == 0 || cols == 0 {
        return Ok(());
    }
    if m.count() < rows {
        return Err(Error::BufferTooSmall {
            needed: rows,
            given: m.count(),
        });
    }
    for i in 0..rows {
        let len = m.row_mut(i).len();
        if len < cols {
            return Err(Error::BufferTooSmall {
                needed: cols,
                given: len,
            });
        }
    }
    Ok(())
}
