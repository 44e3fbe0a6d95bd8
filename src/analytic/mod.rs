//! Infinite-width NNGP and NTK in closed form.
