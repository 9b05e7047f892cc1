//! Rust errors -> the exception classes of `pipetrack._errors`, kind by kind.
//!
//! The classes are defined in Python (InvalidInputError is both a TrackerError
//! and a ValueError, which `create_exception!` cannot express) and looked up
//! once.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;
use tracker_client::ClientError;

const MODULE: &str = "pipetrack._errors";

/// Which exception class of `pipetrack._errors`.
#[derive(Clone, Copy)]
pub(crate) enum Class {
    InvalidInput,
    State,
    Configuration,
    Store,
    TrackingWarning,
}

static CLASSES: [PyOnceLock<Py<PyType>>; 5] =
    [PyOnceLock::new(), PyOnceLock::new(), PyOnceLock::new(), PyOnceLock::new(), PyOnceLock::new()];

impl Class {
    fn name(self) -> &'static str {
        match self {
            Class::InvalidInput => "InvalidInputError",
            Class::State => "StateError",
            Class::Configuration => "ConfigurationError",
            Class::Store => "StoreError",
            Class::TrackingWarning => "TrackingWarning",
        }
    }

    /// The Python class.
    pub(crate) fn get(self, py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
        CLASSES[self as usize].import(py, MODULE, self.name())
    }

    /// An exception of this class with `message` and the stable `kind` name.
    pub(crate) fn err(self, py: Python<'_>, message: String, kind: &str) -> PyErr {
        match self.get(py) {
            Ok(class) => PyErr::from_type(class.clone(), (message, kind.to_owned())),
            Err(err) => err,
        }
    }
}

/// API misuse reported by tracker-client: bad arguments are InvalidInputError,
/// calls in the wrong order StateError; `kind` keeps the precise reason.
pub(crate) fn client_error(py: Python<'_>, err: &ClientError) -> PyErr {
    let class =
        if matches!(err, ClientError::InvalidArgument(_)) { Class::InvalidInput } else { Class::State };
    class.err(py, err.to_string(), err.kind())
}

/// An invalid argument detected while converting it (not by the Rust crates).
pub(crate) fn invalid(py: Python<'_>, message: String) -> PyErr {
    Class::InvalidInput.err(py, message, "invalid_argument")
}

/// A store failure of a query or migration: configuration mistakes are
/// ConfigurationError, everything else StoreError.
pub(crate) fn db_error(py: Python<'_>, err: &tracker_db::DbError) -> PyErr {
    match err {
        tracker_db::DbError::Config(config) => config_error(py, config),
        other => Class::Store.err(py, other.to_string(), "store"),
    }
}

/// A wrong store setting.
pub(crate) fn config_error(py: Python<'_>, err: &tracker_db::ConfigError) -> PyErr {
    Class::Configuration.err(py, err.to_string(), "configuration")
}

/// A failed query: the store's errors as [`db_error`], bad arguments and
/// unknown ids as InvalidInputError.
pub(crate) fn query_error(py: Python<'_>, err: &monitor_queries::QueryError) -> PyErr {
    use monitor_queries::QueryError;
    match err {
        QueryError::Store(db) => db_error(py, db),
        QueryError::RunNotFound { .. } => Class::InvalidInput.err(py, err.to_string(), "run_not_found"),
        other => invalid(py, other.to_string()),
    }
}
