//! The binding layer: numpy arrays in and out ([`arrays`]), the GIL released for all heavy
//! work ([`running`]), core errors mapped to Python exceptions in one place ([`errors`]),
//! and one module per front-end of the core. Validation, dtype rules, warnings and random
//! numbers belong to the Python package (`python/ferrovq`), which calls these functions
//! with C-contiguous, native-endian float32/float64 arrays.

mod arrays;
mod blocks;
mod engine;
mod errors;
mod measures;
mod running;
mod scipy;
mod sparse;
mod threads;

use pyo3::prelude::*;

#[pymodule(gil_used = false)]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("ClusterError", m.py().get_type::<errors::ClusterError>())?;
    engine::register(m)?;
    blocks::register(m)?;
    scipy::register(m)?;
    measures::register(m)?;
    sparse::register(m)?;
    Ok(())
}
