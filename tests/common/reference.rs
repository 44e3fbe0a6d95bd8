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

/// Every case of `tests/data/structured_public.txt`, family by family
/// (12 each): the convolutional cases above and those with layer norm,
/// attention or residual blocks.
pub const STRUCTURED: [[&str; 12]; 4] = [
    [
        "conv1d_00",
        "conv1d_01",
        "conv1d_02",
        "conv1d_03",
        "conv1d_04",
        "conv1d_05",
        "conv1d_06",
        "conv1d_07",
        "conv1d_08",
        "conv1d_09",
        "conv1d_10",
        "conv1d_11",
    ],
    [
        "conv2d_00",
        "conv2d_01",
        "conv2d_02",
        "conv2d_03",
        "conv2d_04",
        "conv2d_05",
        "conv2d_06",
        "conv2d_07",
        "conv2d_08",
        "conv2d_09",
        "conv2d_10",
        "conv2d_11",
    ],
    [
        "attn_00", "attn_01", "attn_02", "attn_03", "attn_04", "attn_05", "attn_06", "attn_07",
        "attn_08", "attn_09", "attn_10", "attn_11",
    ],
    [
        "resmlp_00",
        "resmlp_01",
        "resmlp_02",
        "resmlp_03",
        "resmlp_04",
        "resmlp_05",
        "resmlp_06",
        "resmlp_07",
        "resmlp_08",
        "resmlp_09",
        "resmlp_10",
        "resmlp_11",
    ],
];

/// The cases of the same file whose f32 kernels the rounding-error bound
/// (feature `error-bounds`) refuses with `Error::PrecisionLoss`: attention
/// averages positions whose covariances cancel, so the variances after it
/// are known to fewer digits than their scale, and the kink of a ReLU-type
/// activation after it (or after layer norm) turns that into a bound of
/// 1.5e-2 to 1.4 of the NTK, beyond the limit of 1e-2. Without the bound
/// they are computed, within 3e-6 of the reference.
pub const F32_REFUSED: [&str; 7] = [
    "conv2d_05",
    "attn_01",
    "attn_04",
    "attn_06",
    "attn_07",
    "attn_08",
    "attn_10",
];
