//! Who may use the dashboard and how writes are protected.
//!
//! Without an authentication setting the dashboard serves localhost only (the
//! server refuses a non-loopback `--bind`). With `PIPETRACK_DASHBOARD_TOKEN`
//! every request needs the token (an `Authorization: Bearer` header, or the
//! cookie that `/login` sets); with `PIPETRACK_DASHBOARD_USER` and
//! `PIPETRACK_DASHBOARD_PASSWORD` it needs HTTP basic credentials. Secrets are
//! compared in constant time and never logged.
//!
//! Every write (marking an error group resolved) also needs a CSRF token, even
//! on localhost: a random per-browser value kept in an `HttpOnly`,
//! `SameSite=Strict` cookie and repeated in the form (or the `X-CSRF-Token`
//! header): the double-submit pattern. API clients that send a bearer token need
//! no CSRF token, since browsers never add that header on their own.

use std::fmt::Write as _;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;

use crate::error::WebError;
use crate::server::AppState;

/// Cookie holding the CSRF token.
pub(crate) const CSRF_COOKIE: &str = "pipetrack_csrf";
/// Cookie holding the dashboard token after `/login`.
pub(crate) const TOKEN_COOKIE: &str = "pipetrack_token";
/// Header an API client repeats the CSRF token in.
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";
const MIN_TOKEN_LEN: usize = 16;

/// The dashboard's authentication setting.
#[derive(Clone, Default)]
pub struct Auth {
    token: Option<String>,
    basic: Option<(String, String)>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("user", &self.basic.as_ref().map(|(user, _)| user))
            .finish()
    }
}

impl Auth {
    /// No authentication: the dashboard may then only listen on a loopback address.
    pub fn none() -> Self {
        Self::default()
    }

    /// A shared token (at least 16 characters).
    pub fn token(token: impl Into<String>) -> Result<Self, WebError> {
        let token = token.into();
        if token.trim().len() < MIN_TOKEN_LEN {
            return Err(WebError::AuthSetting(format!(
                "PIPETRACK_DASHBOARD_TOKEN must be at least {MIN_TOKEN_LEN} characters (e.g. `openssl rand -hex 16`)"
            )));
        }
        Ok(Self { token: Some(token.trim().to_owned()), basic: None })
    }

    /// A user name and password (HTTP basic authentication).
    pub fn basic(user: impl Into<String>, password: impl Into<String>) -> Result<Self, WebError> {
        let (user, password) = (user.into(), password.into());
        if user.is_empty() || user.contains(':') {
            return Err(WebError::AuthSetting(
                "PIPETRACK_DASHBOARD_USER must be a non-empty name without ':'".into(),
            ));
        }
        if password.len() < 8 {
            return Err(WebError::AuthSetting(
                "PIPETRACK_DASHBOARD_PASSWORD must be at least 8 characters".into(),
            ));
        }
        Ok(Self { token: None, basic: Some((user, password)) })
    }

    /// Reads `PIPETRACK_DASHBOARD_TOKEN`, else `PIPETRACK_DASHBOARD_USER` and
    /// `PIPETRACK_DASHBOARD_PASSWORD` (both needed), else no authentication.
    pub fn from_env() -> Result<Self, WebError> {
        let var = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
        let token = var("PIPETRACK_DASHBOARD_TOKEN");
        let user = var("PIPETRACK_DASHBOARD_USER");
        let password = var("PIPETRACK_DASHBOARD_PASSWORD");
        match (token, user, password) {
            (Some(_), Some(_), _) => Err(WebError::AuthSetting(
                "set either PIPETRACK_DASHBOARD_TOKEN or PIPETRACK_DASHBOARD_USER/PASSWORD, not both".into(),
            )),
            (Some(token), None, _) => Self::token(token),
            (None, Some(user), Some(password)) => Self::basic(user, password),
            (None, Some(_), None) => Err(WebError::AuthSetting(
                "PIPETRACK_DASHBOARD_USER is set without PIPETRACK_DASHBOARD_PASSWORD".into(),
            )),
            (None, None, Some(_)) => Err(WebError::AuthSetting(
                "PIPETRACK_DASHBOARD_PASSWORD is set without PIPETRACK_DASHBOARD_USER".into(),
            )),
            (None, None, None) => Ok(Self::none()),
        }
    }

    /// Whether requests must authenticate.
    pub fn is_enabled(&self) -> bool {
        self.token.is_some() || self.basic.is_some()
    }

    /// Whether the shared-token scheme (with its `/login` page) is in use.
    pub(crate) fn uses_token(&self) -> bool {
        self.token.is_some()
    }

    /// Who sent the request, or `None` when its credentials are missing or wrong.
    pub(crate) fn identify(&self, headers: &HeaderMap) -> Option<Principal> {
        if !self.is_enabled() {
            return Some(Principal { name: "localhost".into(), bearer: false });
        }
        let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or("");
        if let Some(expected) = &self.token {
            if let Some(given) = authorization.strip_prefix("Bearer ")
                && constant_time_eq(given.trim().as_bytes(), expected.as_bytes())
            {
                return Some(Principal { name: "token".into(), bearer: true });
            }
            if let Some(given) = cookie(headers, TOKEN_COOKIE)
                && constant_time_eq(given.as_bytes(), expected.as_bytes())
            {
                return Some(Principal { name: "token".into(), bearer: false });
            }
        }
        if let Some((user, password)) = &self.basic
            && let Some(encoded) = authorization.strip_prefix("Basic ")
            && let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim())
        {
            let expected = format!("{user}:{password}");
            if constant_time_eq(&decoded, expected.as_bytes()) {
                return Some(Principal { name: user.clone(), bearer: false });
            }
        }
        None
    }

    /// Whether `given` is the configured token (the `/login` form).
    pub(crate) fn token_matches(&self, given: &str) -> bool {
        self.token
            .as_ref()
            .is_some_and(|expected| constant_time_eq(given.trim().as_bytes(), expected.as_bytes()))
    }
}

/// The authenticated sender of a request.
#[derive(Clone, Debug)]
pub(crate) struct Principal {
    /// Recorded as `resolved_by`: the basic-auth user, `token`, or `localhost`.
    pub(crate) name: String,
    /// Authenticated by an `Authorization: Bearer` header (no CSRF token needed).
    pub(crate) bearer: bool,
}

/// The CSRF token of the request's browser.
#[derive(Clone, Debug)]
pub(crate) struct CsrfToken(pub(crate) String);

impl CsrfToken {
    /// Checks a submitted token against this one; a bearer-authenticated client needs none.
    pub(crate) fn verify(&self, principal: &Principal, submitted: Option<&str>) -> Result<(), WebError> {
        if principal.bearer {
            return Ok(());
        }
        match submitted {
            Some(given) if constant_time_eq(given.as_bytes(), self.0.as_bytes()) => Ok(()),
            _ => Err(WebError::Forbidden(
                "this form has expired or did not come from the dashboard (CSRF token missing or wrong): \
                 reload the page and try again; API clients send the pipetrack_csrf cookie's value as \
                 X-CSRF-Token, or authenticate with the bearer token"
                    .into(),
            )),
        }
    }
}

/// Compares two secrets in time that depends only on their lengths.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    std::hint::black_box(a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y))) == 0
}

/// The value of cookie `name`, if the request has it.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// 32 random bytes, hex-encoded.
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    bytes.iter().fold(String::with_capacity(64), |mut hex, b| {
        let _ = write!(hex, "{b:02x}");
        hex
    })
}

fn is_public(path: &str) -> bool {
    path == "/healthz" || path == "/login" || path == "/favicon.ico" || path.starts_with("/assets/")
}

/// Middleware: authenticates the request (when authentication is configured),
/// hands the principal and the CSRF token to handlers, and sets the CSRF cookie
/// on a browser's first visit.
pub(crate) async fn guard(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let principal = state.auth.identify(request.headers());
    match principal {
        Some(principal) => {
            request.extensions_mut().insert(principal);
        }
        None if is_public(&path) => {}
        None => return unauthorized(&state.auth, &path),
    }
    let existing = cookie(request.headers(), CSRF_COOKIE)
        .filter(|value| value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_owned);
    let fresh = existing.is_none();
    let token = existing.unwrap_or_else(random_token);
    request.extensions_mut().insert(CsrfToken(token.clone()));
    let mut response = next.run(request).await;
    if fresh
        && let Ok(value) =
            HeaderValue::from_str(&format!("{CSRF_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict"))
    {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

fn unauthorized(auth: &Auth, path: &str) -> Response {
    if path.starts_with("/api/") || path.starts_with("/events/") || !auth.uses_token() {
        let mut response = (
            StatusCode::UNAUTHORIZED,
            axum::Json(serde_json::json!({
                "error": "authentication required: send the dashboard token (Authorization: Bearer ...) or the user and password",
                "status": 401,
            })),
        )
            .into_response();
        if !auth.uses_token() {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"pipetrack dashboard\", charset=\"UTF-8\""),
            );
        }
        return response;
    }
    Redirect::to("/login").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(name.clone(), HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn constant_time_eq_compares_contents_and_lengths() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }

    #[test]
    fn token_is_accepted_from_bearer_header_or_login_cookie_only_when_equal() {
        let auth = Auth::token("0123456789abcdef-secret").unwrap();
        let bearer = auth.identify(&headers(&[(header::AUTHORIZATION, "Bearer 0123456789abcdef-secret")]));
        assert!(bearer.unwrap().bearer);
        let cookie =
            auth.identify(&headers(&[(header::COOKIE, "a=b; pipetrack_token=0123456789abcdef-secret")]));
        assert!(!cookie.unwrap().bearer);
        assert!(auth.identify(&headers(&[(header::AUTHORIZATION, "Bearer wrong")])).is_none());
        assert!(auth.identify(&HeaderMap::new()).is_none());
    }

    #[test]
    fn basic_credentials_name_the_principal() {
        let auth = Auth::basic("ops", "correct horse").unwrap();
        let encoded = base64::engine::general_purpose::STANDARD.encode("ops:correct horse");
        let who = auth.identify(&headers(&[(header::AUTHORIZATION, &format!("Basic {encoded}"))])).unwrap();
        assert_eq!(who.name, "ops");
        let wrong = base64::engine::general_purpose::STANDARD.encode("ops:wrong");
        assert!(auth.identify(&headers(&[(header::AUTHORIZATION, &format!("Basic {wrong}"))])).is_none());
    }

    #[test]
    fn weak_settings_are_refused_with_a_message_naming_the_variable() {
        assert!(Auth::token("short").unwrap_err().to_string().contains("PIPETRACK_DASHBOARD_TOKEN"));
        assert!(Auth::basic("", "password1").unwrap_err().to_string().contains("PIPETRACK_DASHBOARD_USER"));
        assert!(Auth::basic("ops", "pw").unwrap_err().to_string().contains("PIPETRACK_DASHBOARD_PASSWORD"));
    }

    #[test]
    fn debug_output_never_shows_secrets() {
        let auth = Auth::token("0123456789abcdef-secret").unwrap();
        assert!(!format!("{auth:?}").contains("secret"));
        let auth = Auth::basic("ops", "correct horse").unwrap();
        assert!(!format!("{auth:?}").contains("horse"));
    }

    #[test]
    fn csrf_needs_the_same_token_unless_bearer() {
        let token = CsrfToken("f".repeat(64));
        let browser = Principal { name: "localhost".into(), bearer: false };
        assert!(token.verify(&browser, Some(&"f".repeat(64))).is_ok());
        assert!(matches!(token.verify(&browser, Some("x")), Err(WebError::Forbidden(_))));
        assert!(token.verify(&browser, None).is_err());
        assert!(token.verify(&Principal { name: "token".into(), bearer: true }, None).is_ok());
    }
}
