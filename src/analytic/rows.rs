//! Row views of the input and output matrices of the Gram engine: arrays of
//! rows (`[[T; D]]`) and row-major flat slices behind one interface.

use crate::Real;

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

/// Writes zeros over the leading `rows × cols` block of both outputs (as much
/// of it as each holds), so that a failed computation leaves no partial
/// kernel behind (the crate's policy for every output).
pub(crate) fn zero_outputs<T, M>(nngp: &mut M, ntk: &mut M, (rows, cols): (usize, usize))
where
    T: Real,
    M: RowsMut<T> + ?Sized,
{
    for m in [nngp, ntk] {
        for i in 0..rows {
            for v in m.row_mut(i).iter_mut().take(cols) {
                *v = T::ZERO;
            }
        }
    }
}
