//! The signed-in agent of a console request, and the checks every
//! state-changing form passes.
//!
//! The session lives in the store (`helpdesk::auth::open_session`); the
//! browser holds only its random key, in the `hd_session` cookie
//! (HttpOnly, SameSite=Lax, Secure over HTTPS, Path=/). A request without
//! a live session is sent to the sign-in page, or answered 401 when the
//! console's own script asked (`X-Requested-With: console`).

use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Redirect, Response};
use helpdesk::auth::{self, AuthError, Session};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, StatusCode, header};

use crate::Console;
use crate::render;

/// The session cookie's name.
pub const COOKIE: &str = "hd_session";

/// The header the console's script sends, so a lost session answers 401
/// instead of a sign-in page.
const SCRIPT_HEADER: &str = "x-requested-with";

/// The signed-in agent's session.
#[derive(Debug, Clone)]
pub struct SignedIn(pub Session);

impl FromRequestParts<Console> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, console: &Console) -> Result<Self, Response> {
        let services = &console.services;
        let Some(presented) = cookie(&parts.headers, COOKIE) else {
            return Err(to_sign_in(parts));
        };
        match auth::session(
            &services.config,
            services.store.as_ref(),
            presented,
            services.clock.now(),
        )
        .await
        {
            Ok(session) => Ok(Self(session)),
            Err(AuthError::Store(e)) => {
                tracing::error!(error = %e, "cannot read a console session");
                Err(render::error_page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The desk cannot be reached",
                    "The ticket store did not answer. Try again in a moment.",
                ))
            }
            Err(_) => Err(to_sign_in(parts)),
        }
    }
}

/// Where a request without a session goes: the sign-in page, coming back
/// to the page asked for; 401 for the console's own script.
fn to_sign_in(parts: &Parts) -> Response {
    if parts.headers.contains_key(SCRIPT_HEADER) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let here = parts
        .uri
        .path_and_query()
        .map_or("/", http::uri::PathAndQuery::as_str);
    let next = if parts.method == http::Method::GET {
        here
    } else {
        "/"
    };
    let query = serde_urlencoded::to_string([("next", next)]).unwrap_or_default();
    Redirect::to(&format!("/signin?{query}")).into_response()
}

/// The value of cookie `name`, if sent.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// The `Set-Cookie` of a new session.
pub fn session_cookie(secret: &str, secure: bool) -> HeaderValue {
    let max_age = auth::SESSION_HOURS * 3600;
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE}={secret}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("hd_session=; Path=/; Max-Age=0"))
}

/// The `Set-Cookie` that removes the session cookie.
pub fn cleared_cookie(secure: bool) -> HeaderValue {
    if secure {
        HeaderValue::from_static("hd_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0; Secure")
    } else {
        HeaderValue::from_static("hd_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0")
    }
}

/// A form refused by [`check_form`]: answered with a 403 page.
#[derive(Debug)]
pub struct Refused;

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        render::error_page(
            StatusCode::FORBIDDEN,
            "This form has expired",
            "The form was not sent from a page of this desk, or your session changed since the page was loaded. Go back, reload the page and try again.",
        )
    }
}

/// Whether a state-changing request may go on: it came from a page of the
/// desk (no cross-site `Sec-Fetch-Site`, an `Origin`, when sent, of this
/// host) and carries the session's CSRF token.
pub fn check_form(
    headers: &HeaderMap,
    session: Option<&Session>,
    token: &str,
) -> Result<(), Refused> {
    if !same_site(headers) {
        return Err(Refused);
    }
    match session {
        Some(session) if auth::same_token(token, &session.csrf) => Ok(()),
        Some(_) => Err(Refused),
        None => Ok(()),
    }
}

/// Whether the request came from this site (the browser says so with
/// `Sec-Fetch-Site` and `Origin`; a client that sends neither is not a
/// browser another site could drive).
pub fn same_site(headers: &HeaderMap) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if header("sec-fetch-site").is_some_and(|site| site == "cross-site" || site == "same-site") {
        return false;
    }
    match (header("origin"), header("host")) {
        (Some(origin), Some(host)) => origin.split_once("://").map(|(_, rest)| rest) == Some(host),
        (Some(_), None) => false,
        (None, _) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let h = headers(&[("cookie", "a=1; hd_session=hs_abc; b=2")]);
        assert_eq!(cookie(&h, COOKIE), Some("hs_abc"));
        assert_eq!(
            cookie(&headers(&[("cookie", "hd_sessionx=1")]), COOKIE),
            None
        );
    }

    #[test]
    fn a_post_from_another_site_is_refused_and_one_from_the_desk_is_not() {
        assert!(same_site(&headers(&[
            ("host", "desk:8080"),
            ("origin", "http://desk:8080")
        ])));
        assert!(!same_site(&headers(&[
            ("host", "desk:8080"),
            ("origin", "https://evil.example")
        ])));
        assert!(!same_site(&headers(&[("sec-fetch-site", "cross-site")])));
        assert!(same_site(&headers(&[("sec-fetch-site", "same-origin")])));
    }

    #[test]
    fn session_cookies_are_http_only_and_secure_when_asked() {
        let plain = session_cookie("hs_x", false);
        let plain = plain.to_str().unwrap_or_default();
        assert!(plain.contains("HttpOnly") && plain.contains("SameSite=Lax"));
        assert!(!plain.contains("Secure"));
        let secure = session_cookie("hs_x", true);
        assert!(secure.to_str().unwrap_or_default().ends_with("; Secure"));
    }
}
