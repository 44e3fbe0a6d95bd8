// The 15-point Gauss–Kronrod rule on [−1, 1] and its embedded 7-point Gauss
// rule, from QUADPACK's `qk15` (Piessens, de Doncker-Kapenga, Überhuber and
// Kahaner, 1983; tabulated there to 33 digits) rounded to f64. Checked by the
// polynomial tests of `quadrature.rs`.

/// Nodes 1 > x₀ > … > x₆ > x₇ = 0 of the 15-point Kronrod rule (with their
/// negatives); x₁, x₃, x₅, x₇ are the nodes of the 7-point Gauss rule.
#[rustfmt::skip]
const KRONROD_NODES: [f64; 8] = [
    0.9914553711208126,
    0.9491079123427585,
    0.8648644233597691,
    0.7415311855993945,
    0.5860872354676911,
    0.4058451513773972,
    0.20778495500789848,
    0.0,
];

/// Weights of the 15-point Kronrod rule at ±x₀ … ±x₆ and x₇ = 0.
#[rustfmt::skip]
const KRONROD_WEIGHTS: [f64; 8] = [
    0.022935322010529224,
    0.06309209262997856,
    0.10479001032225019,
    0.14065325971552592,
    0.1690047266392679,
    0.19035057806478542,
    0.20443294007529889,
    0.20948214108472782,
];

/// Weights of the 7-point Gauss rule at ±x₁, ±x₃, ±x₅ and x₇ = 0 (0 at
/// the Kronrod-only nodes).
#[rustfmt::skip]
const GAUSS_WEIGHTS: [f64; 8] = [
    0.0,
    0.1294849661688697,
    0.0,
    0.27970539148927664,
    0.0,
    0.3818300505051189,
    0.0,
    0.4179591836734694,
];
