//! The grid of positions of sequence and image inputs, and the maps of a
//! position-pair table through convolutions, pooling and flattening (exact,
//! as `tests/data/structured_public.txt`'s format states them).

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

/// Five |S| × |S| tables and two variance vectors for |S| = `positions`
/// (`usize::MAX` if that overflows): the workspace of the sequence and
/// image routines.
pub(super) const fn workspace_words(positions: usize) -> usize {
    match positions.checked_mul(positions) {
        Some(p2) => match p2.checked_mul(5) {
            Some(t) => match t.checked_add(2 * positions) {
                Some(v) => v,
                None => usize::MAX,
            },
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
        Layer::Rnn { .. } | Layer::Last => {
            return Err(invalid(
                "rnn: only as `rnn(...) last|gap dense(...)`, computed by the recurrent routines",
            ))
        }
        _ => g,
    })
}

/// `out[s, t] = Σ_δ m[s+δ, t+δ]` over the filter offsets δ (the same on both
/// positions), dropping the terms outside the grid (zero padding) or
/// wrapping them (circular).
pub(super) fn shifted_sum<T: Real>(m: &[T], out: &mut [T], g: Grid, q: usize, circular: bool) {
    let p = g.positions();
    let r = (q / 2) as isize;
    let rh = if g.planar { r } else { 0 };
    let shift = |x: usize, d: isize, n: usize| -> Option<usize> {
        let y = x as isize + d;
        if circular {
            Some(y.rem_euclid(n as isize) as usize)
        } else if y >= 0 && (y as usize) < n {
            Some(y as usize)
        } else {
            None
        }
    };
    for s in 0..p {
        let (sh, sw) = (s / g.w, s % g.w);
        for t in 0..p {
            let (th, tw) = (t / g.w, t % g.w);
            let mut acc = T::ZERO;
            for dh in -rh..=rh {
                let (Some(ah), Some(bh)) = (shift(sh, dh, g.h), shift(th, dh, g.h)) else {
                    continue;
                };
                for dw in -r..=r {
                    let (Some(aw), Some(bw)) = (shift(sw, dw, g.w), shift(tw, dw, g.w)) else {
                        continue;
                    };
                    acc += m[(ah * g.w + aw) * p + bh * g.w + bw];
                }
            }
            out[s * p + t] = acc;
        }
    }
}

/// The table of `m` (on grid `g`) after the pooling or flattening `layer`,
/// on grid `next`, into the first `next.positions()²` entries of `out`.
pub(super) fn reduce<T: Real>(layer: &Layer<T>, m: &[T], out: &mut [T], g: Grid, next: Grid) {
    let p = g.positions();
    match *layer {
        Layer::Flatten => {
            let mut acc = T::ZERO;
            for s in 0..p {
                acc += m[s * p + s];
            }
            out[0] = acc / T::from_usize(p);
        }
        Layer::GlobalAvgPool => {
            let mut acc = T::ZERO;
            for v in &m[..p * p] {
                acc += *v;
            }
            let pf = T::from_usize(p);
            out[0] = acc / (pf * pf);
        }
        _ => {
            // Average pooling: window (h, w) sizes of the output grid.
            let (fh, fw) = (g.h / next.h, g.w / next.w);
            let np = next.positions();
            let count = T::from_usize(fh * fw);
            let scale = T::ONE / (count * count);
            for a in 0..np {
                let (ah, aw) = (a / next.w, a % next.w);
                for b in 0..np {
                    let (bh, bw) = (b / next.w, b % next.w);
                    let mut acc = T::ZERO;
                    for i in 0..fh {
                        for j in 0..fw {
                            let s = (ah * fh + i) * g.w + aw * fw + j;
                            for k in 0..fh {
                                let row = &m[s * p..(s + 1) * p];
                                let t0 = (bh * fh + k) * g.w + bw * fw;
                                for v in &row[t0..t0 + fw] {
                                    acc += *v;
                                }
                            }
                        }
                    }
                    out[a * np + b] = acc * scale;
                }
            }
        }
    }
}
