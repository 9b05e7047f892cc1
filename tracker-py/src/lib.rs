//! `pipetrack._native`: the pyo3 adapter between the `pipetrack` Python package
//! and pipetrack's Rust crates. Every function here is a short adapter: convert
//! the arguments, call `tracker-client` (tracking) or `monitor-queries` /
//! `tracker-db` (queries, migrations), map the error to the package's exception
//! classes. Python-side conveniences (interpolation, context managers, hooks)
//! live in the pure-Python package (`python/pipetrack`).

mod errors;
mod queries;
mod tracking;
mod warnings;

use pyo3::prelude::*;

/// The native module. Its name is the last part of `module-name` in pyproject.toml.
#[pymodule]
#[pyo3(name = "_native")]
fn pipetrack_native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    warnings::install();
    tracking::register(module)?;
    queries::register(module)?;
    Ok(())
}
