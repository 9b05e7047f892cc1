//! Errors of the dashboard and how they become responses: a clear banner on
//! pages, `{"error": ...}` in the API, never a stack trace.

use axum::http::StatusCode;
use monitor_queries::QueryError;

/// What went wrong while serving a request or starting the server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebError {
    /// A query parameter or form field is invalid; the message says which and what is accepted.
    #[error("{0}")]
    BadRequest(String),
    /// The read model failed (store unreachable, bad cursor, unknown run ...).
    #[error(transparent)]
    Query(#[from] QueryError),
    /// Nothing here.
    #[error("{0}")]
    NotFound(String),
    /// A write without a valid CSRF token, or a request without valid credentials.
    #[error("{0}")]
    Forbidden(String),
    /// `--bind` to a non-loopback address without an authentication setting.
    #[error(
        "refusing to serve on {addr} without authentication: set PIPETRACK_DASHBOARD_TOKEN, or \
         PIPETRACK_DASHBOARD_USER and PIPETRACK_DASHBOARD_PASSWORD, or bind to 127.0.0.1"
    )]
    UnprotectedBind {
        /// The address asked for.
        addr: std::net::SocketAddr,
    },
    /// An authentication setting is incomplete or empty.
    #[error("invalid dashboard authentication setting: {0}")]
    AuthSetting(String),
    /// The listening socket could not be opened.
    #[error("cannot listen on {addr}: {source}; choose another address with --bind")]
    Bind {
        /// The address asked for.
        addr: std::net::SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The server stopped with an I/O error.
    #[error("the dashboard server failed: {0}")]
    Serve(#[source] std::io::Error),
    /// A template failed to render (a bug: please report it).
    #[error("a page failed to render: {0}")]
    Render(#[from] askama::Error),
    /// A chart failed to draw.
    #[error(transparent)]
    Chart(#[from] crate::charts::ChartError),
}

impl WebError {
    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            WebError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WebError::NotFound(_) => StatusCode::NOT_FOUND,
            WebError::Forbidden(_) => StatusCode::FORBIDDEN,
            WebError::Query(err) => match err {
                QueryError::BadCursor { .. } | QueryError::InvalidArgument { .. } => StatusCode::BAD_REQUEST,
                QueryError::RunNotFound { .. } | QueryError::UnknownFingerprint { .. } => {
                    StatusCode::NOT_FOUND
                }
                _ => StatusCode::SERVICE_UNAVAILABLE,
            },
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Whether the store (not the request) is at fault: pages show a banner and keep retrying.
    pub fn is_store_failure(&self) -> bool {
        self.status() == StatusCode::SERVICE_UNAVAILABLE
    }
}

pub(crate) fn bad_request(message: impl Into<String>) -> WebError {
    WebError::BadRequest(message.into())
}
