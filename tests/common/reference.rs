//! Which cases of the reference files the routines of the crate cover.

/// The pure one-dimensional convolutional cases of
/// `tests/data/structured_public.txt` (conv, conv_circ, avg_pool, gap,
/// flatten, dense and activations). The file's other cases use layer norm,
/// attention or residual blocks.
pub const CONV1D: [&str; 8] = [
    "conv1d_00",
    "conv1d_01",
    "conv1d_02",
    "conv1d_03",
    "conv1d_06",
    "conv1d_08",
    "conv1d_09",
    "conv1d_11",
];

/// The pure two-dimensional convolutional cases of the same file.
pub const CONV2D: [&str; 6] = [
    "conv2d_00",
    "conv2d_04",
    "conv2d_06",
    "conv2d_08",
    "conv2d_09",
    "conv2d_11",
];
