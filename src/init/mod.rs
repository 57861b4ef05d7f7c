//! Seeding: the initial code book.
//!
//! The random numbers are the caller's: these functions take the draws (an index and
//! uniforms, or standard normals) and do the arithmetic over the data, so that a front-end
//! drawing from the same numpy stream as SciPy or scikit-learn picks their centroids.

mod gaussian;
mod greedy;
mod plusplus;
mod screen;

pub use gaussian::{gaussian_init, gaussian_init_1d};
pub(crate) use greedy::{greedy, lower_by, Points};
pub use greedy::{greedy_plusplus, weighted_picks, Greedy};
pub use plusplus::{kmeans_plusplus, PlusPlus};
