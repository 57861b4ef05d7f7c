//! SciPy's `scipy.cluster.vq` as configurations of the engine: `vq`, `whiten`, and the
//! Lloyd loops of `kmeans` and `kmeans2` with SciPy's stopping rules and empty-cluster
//! policies. Validation, dtype rules, warnings and random draws are the Python package's
//! (`python/ferrovq/_vq.py`); `docs/compat.md` lists every rule copied from SciPy.

mod kmeans;
mod kmeans2;
mod vq;
mod whiten;

pub use kmeans::{kmeans_single, KmeansRun};
pub use kmeans2::{kmeans2_lloyd, Kmeans2Run, Missing};
pub use vq::vq;
pub use whiten::whiten;
