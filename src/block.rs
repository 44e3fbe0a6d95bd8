//! The checks shared by the block routines, which compute rows `a..b` ×
//! columns `c..d` of a Gram matrix (see [`analytic`](crate::analytic) and
//! [`empirical`](crate::empirical)).

use core::ops::Range;

use crate::Error;

/// The number of rows of a block, `rows.end − rows.start`:
/// [`Error::InvalidArgument`] unless `rows.start ≤ rows.end ≤ count`.
pub(crate) fn rows_of(rows: &Range<usize>, count: usize) -> Result<usize, Error> {
    extent(
        rows,
        count,
        "block rows a..b need a <= b <= the number of row inputs",
    )
}

/// The number of columns of a block, as [`rows_of`] for the column inputs.
pub(crate) fn cols_of(cols: &Range<usize>, count: usize) -> Result<usize, Error> {
    extent(
        cols,
        count,
        "block columns c..d need c <= d <= the number of column inputs",
    )
}

fn extent(r: &Range<usize>, count: usize, what: &'static str) -> Result<usize, Error> {
    if r.start > r.end || r.end > count {
        return Err(Error::InvalidArgument { what });
    }
    Ok(r.end - r.start)
}

/// [`Error::BufferTooSmall`] unless `given ≥ rows·cols·cell` (and that
/// product fits in `usize`).
pub(crate) fn holds(given: usize, rows: usize, cols: usize, cell: usize) -> Result<(), Error> {
    let needed = rows
        .checked_mul(cols)
        .and_then(|e| e.checked_mul(cell))
        .unwrap_or(usize::MAX);
    if given < needed {
        return Err(Error::BufferTooSmall { needed, given });
    }
    Ok(())
}
