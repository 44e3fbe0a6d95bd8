//! The grid of positions of sequence and image inputs, and how a layer
//! changes it.

use super::arch::Shape;
use super::layer::Layer;
use crate::{Error, Real};

/// The current grid of positions: `h × w` (`h = 1` for sequences), `planar`
/// for images (filters and windows are then square), `flat` once a `gap` or
/// `flatten` layer (or a flat input) has removed the positions.
#[derive(Clone, Copy, Debug)]
pub(super) struct Grid {
    pub(super) h: usize,
    pub(super) w: usize,
    pub(super) planar: bool,
    pub(super) flat: bool,
}

impl Grid {
    pub(super) fn positions(&self) -> usize {
        self.h * self.w
    }
}

pub(super) fn invalid(what: &'static str) -> Error {
    Error::InvalidArgument { what }
}

/// Five |S| × |S| tables and twelve vectors for |S| = `positions`
/// (`usize::MAX` if that overflows): the largest workspace of the sequence
/// and image routines.
pub(super) const fn workspace_words(positions: usize) -> usize {
    match positions.checked_mul(positions) {
        Some(p2) => match p2.checked_mul(5) {
            Some(t) => match t.checked_add(12 * positions) {
                Some(v) => v,
                None => usize::MAX,
            },
            None => usize::MAX,
        },
        None => usize::MAX,
    }
}

/// An upper bound of the workspace of the sequence and image routines for
/// |S| = `positions` and residual blocks nested up to `depth` deep:
/// (8 + 4·depth)·|S|² + (12 + 4·depth)·|S| + 3·depth (five tables, twelve
/// vectors, three attention matrices and one saved state of four tables,
/// four vectors and three bounds per level; `usize::MAX` if that
/// overflows).
pub(super) const fn bound_words(positions: usize, depth: usize) -> usize {
    let (Some(p2), Some(d4)) = (positions.checked_mul(positions), depth.checked_mul(4)) else {
        return usize::MAX;
    };
    let (Some(a), Some(b)) = (d4.checked_add(8), d4.checked_add(12)) else {
        return usize::MAX;
    };
    let (Some(x), Some(y), Some(z)) = (
        a.checked_mul(p2),
        b.checked_mul(positions),
        depth.checked_mul(3),
    ) else {
        return usize::MAX;
    };
    match x.checked_add(y) {
        Some(v) => match v.checked_add(z) {
            Some(v) => v,
            None => usize::MAX,
        },
        None => usize::MAX,
    }
}

/// The grid of an input of `shape`, checked.
pub(super) fn input_grid(shape: Shape) -> Result<(Grid, usize), Error> {
    let (grid, channels) = match shape {
        Shape::Flat { dim } => (
            Grid {
                h: 1,
                w: 1,
                planar: false,
                flat: true,
            },
            dim,
        ),
        Shape::Sequence { length, channels } => (
            Grid {
                h: 1,
                w: length,
                planar: false,
                flat: false,
            },
            channels,
        ),
        Shape::Image {
            height,
            width,
            channels,
        } => (
            Grid {
                h: height,
                w: width,
                planar: true,
                flat: false,
            },
            channels,
        ),
    };
    if grid.h == 0 || grid.w == 0 || channels == 0 {
        return Err(invalid("every size of the input shape must be at least 1"));
    }
    if grid.h.checked_mul(grid.w).is_none()
        || grid.positions().checked_mul(channels).is_none()
        || workspace_words(grid.positions()) == usize::MAX
    {
        return Err(invalid("the input shape is too large"));
    }
    Ok((grid, channels))
}

/// The grid after `layer`, or the error of a layer that does not fit it.
pub(super) fn next_grid<T: Real>(layer: &Layer<T>, g: Grid) -> Result<Grid, Error> {
    let spatial = || {
        if g.flat {
            Err(invalid(
                "a convolution, pooling or flatten layer needs positions (sequence or image inputs, before gap or flatten)",
            ))
        } else {
            Ok(())
        }
    };
    Ok(match *layer {
        #[cfg(feature = "attention")]
        Layer::Attention { .. } => {
            if g.flat {
                return Err(invalid(
                    "attention needs positions (sequence or image inputs, before gap or flatten)",
                ));
            }
            g
        }
        Layer::Conv { size, .. } => {
            spatial()?;
            if size % 2 == 0 {
                return Err(invalid("conv: the filter size must be odd"));
            }
            g
        }
        Layer::AvgPool { size } => {
            spatial()?;
            let p = size as usize;
            if p == 0 || !g.w.is_multiple_of(p) || (g.planar && !g.h.is_multiple_of(p)) {
                return Err(invalid(
                    "avg_pool: the window must divide every size of the grid",
                ));
            }
            Grid {
                h: if g.planar { g.h / p } else { g.h },
                w: g.w / p,
                ..g
            }
        }
        Layer::GlobalAvgPool | Layer::Flatten => {
            spatial()?;
            Grid {
                h: 1,
                w: 1,
                planar: false,
                flat: true,
            }
        }
        Layer::Rnn { .. } | Layer::RnnWith { .. } | Layer::Last => {
            return Err(invalid(
                "rnn: only as `rnn(...) last|gap dense(...)`, computed by the recurrent routines",
            ))
        }
        _ => g,
    })
}
