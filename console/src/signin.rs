//! Signing in and out: `GET /signin` (the form), `POST /signin` (a
//! password checked by `helpdesk::auth`, then a new session), `POST
//! /signout` (the session ended, the cookie cleared).

use axum::Form;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use helpdesk::auth::{self, AuthError, Principal, Via};
use http::{HeaderMap, StatusCode, header};
use serde::Deserialize;
use serde_json::json;

use crate::cognito::CognitoSignInError;
use crate::session::{self, SignedIn};
use crate::{Console, render};

/// `GET /signin` parameters.
#[derive(Debug, Default, Deserialize)]
pub struct Shown {
    next: Option<String>,
    signed_out: Option<String>,
}

/// `GET /signin`: the sign-in form.
pub async fn page(State(console): State<Console>, Query(shown): Query<Shown>) -> Response {
    let notice = shown.signed_out.is_some().then_some("You are signed out.");
    form(
        &console,
        StatusCode::OK,
        "",
        &next_of(shown.next.as_deref()),
        None,
        notice,
    )
}

fn form(
    console: &Console,
    status: StatusCode,
    login: &str,
    next: &str,
    problem: Option<&str>,
    notice: Option<&str>,
) -> Response {
    render::page_with_status(
        status,
        "signin.html",
        json!({
            "desk": desk_name(console),
            "login": login,
            "next": next,
            "problem": problem,
            "notice": notice,
        }),
    )
}

/// The desk's name, for page titles.
pub fn desk_name(console: &Console) -> String {
    console
        .services
        .config
        .desk
        .name
        .clone()
        .unwrap_or_else(|| "Helpdesk".to_owned())
}

/// Where to go after signing in: a path of this desk only (never another
/// site: `//host` and `\\host` are refused).
fn next_of(next: Option<&str>) -> String {
    match next {
        Some(next)
            if next.starts_with('/')
                && !next.starts_with("//")
                && !next.contains('\\')
                && !next.starts_with("/signin") =>
        {
            next.to_owned()
        }
        _ => "/tickets?view=mine".to_owned(),
    }
}

/// `POST /signin` body.
#[derive(Debug, Deserialize)]
pub struct Credentials {
    login: String,
    password: String,
    #[serde(default)]
    next: Option<String>,
}

/// `POST /signin`: checks the password and opens a session: back to the
/// page asked for with the session's cookie, or the form again saying why
/// not.
pub async fn submit(
    State(console): State<Console>,
    headers: HeaderMap,
    Form(credentials): Form<Credentials>,
) -> Response {
    if let Err(refused) = session::check_form(&headers, None, "") {
        return refused.into_response();
    }
    let next = next_of(credentials.next.as_deref());
    let login = credentials.login.trim();
    match sign_in(&console, login, &credentials.password).await {
        Ok(opened) => {
            let mut response = Redirect::to(&next).into_response();
            response.headers_mut().insert(
                header::SET_COOKIE,
                session::session_cookie(&opened.secret, console.secure_cookies),
            );
            response
        }
        Err(refused) => {
            let (status, text) = refused.said(login);
            form(&console, status, login, &next, Some(text), None)
        }
    }
}

/// Why a sign-in did not succeed.
enum Refused {
    /// Too many attempts for this login in the window.
    TooMany,
    /// Wrong login or password (or not an agent of the desk).
    Wrong,
    /// The password must be changed first.
    NewPassword,
    /// The check itself failed.
    Unavailable(String),
}

impl Refused {
    /// The answer's status and what the page says (what went wrong is
    /// logged here, once).
    fn said(self, login: &str) -> (StatusCode, &'static str) {
        match self {
            Self::TooMany => {
                tracing::warn!(login, "console sign-in attempts over the limit");
                (
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many sign-in attempts for this login. Wait a quarter of an hour and try again.",
                )
            }
            Self::Wrong => {
                tracing::info!(login, "console sign-in refused");
                (StatusCode::UNAUTHORIZED, "Wrong login or password.")
            }
            Self::NewPassword => (
                StatusCode::UNAUTHORIZED,
                "Your password must be changed before you can sign in; ask an administrator of the desk to set a new one.",
            ),
            Self::Unavailable(reason) => {
                tracing::error!(%reason, "cannot check a console sign-in");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The desk cannot check passwords right now. Try again in a moment.",
                )
            }
        }
    }
}

/// Signs `login` in: counts the attempt, checks the password, opens a
/// session.
async fn sign_in(
    console: &Console,
    login: &str,
    password: &str,
) -> Result<auth::OpenedSession, Refused> {
    let services = &console.services;
    let store = services.store.as_ref();
    let allowed = auth::sign_in_allowed(store, login, services.clock.now())
        .await
        .map_err(|e| Refused::Unavailable(e.to_string()))?;
    if !allowed {
        return Err(Refused::TooMany);
    }
    let principal = verify_credentials(console, login, password).await?;
    auth::open_session(store, principal, services.clock.now())
        .await
        .map_err(|e| Refused::Unavailable(e.to_string()))
}

/// The agent `login` and `password` sign in: the desk's own password, or
/// the user pool's when the desk signs in with Cognito.
async fn verify_credentials(
    console: &Console,
    login: &str,
    password: &str,
) -> Result<Principal, Refused> {
    let services = &console.services;
    let Some(cognito) = &console.cognito else {
        return match auth::authenticate_password(
            &services.config,
            services.store.as_ref(),
            login,
            password,
        )
        .await
        {
            Ok(principal) => Ok(principal),
            Err(AuthError::Store(e)) => Err(Refused::Unavailable(e.to_string())),
            Err(_) => Err(Refused::Wrong),
        };
    };
    match cognito.sign_in(login, password, services.clock.now()).await {
        Ok(user) => Principal::of(&services.config, &user, Via::Session).ok_or_else(|| {
            tracing::info!(%user, "a user of the pool who is not an agent of the configuration");
            Refused::Wrong
        }),
        Err(CognitoSignInError::Refused) => Err(Refused::Wrong),
        Err(CognitoSignInError::NewPasswordRequired) => Err(Refused::NewPassword),
        Err(CognitoSignInError::Unavailable(reason)) => Err(Refused::Unavailable(reason)),
    }
}

/// `POST /signout` body.
#[derive(Debug, Deserialize)]
pub struct SignOut {
    #[serde(default)]
    csrf: String,
}

/// `POST /signout`: ends the session and clears the cookie.
pub async fn sign_out(
    State(console): State<Console>,
    SignedIn(current): SignedIn,
    headers: HeaderMap,
    Form(form): Form<SignOut>,
) -> Response {
    if let Err(refused) = session::check_form(&headers, Some(&current), &form.csrf) {
        return refused.into_response();
    }
    if let Some(presented) = session::cookie(&headers, session::COOKIE)
        && let Err(e) = auth::close_session(console.services.store.as_ref(), presented).await
    {
        tracing::error!(error = %e, "cannot end a console session");
        return render::error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Not signed out",
            "The desk could not end your session. Try again in a moment.",
        );
    }
    let mut response = Redirect::to("/signin?signed_out=1").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        session::cleared_cookie(console.secure_cookies),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_sign_in_only_a_path_of_the_desk_is_followed() {
        assert_eq!(next_of(Some("/tickets/SUP-1")), "/tickets/SUP-1");
        for elsewhere in [
            "//evil.example/",
            "https://evil.example/",
            "/\\evil",
            "/signin?next=/x",
        ] {
            assert_eq!(
                next_of(Some(elsewhere)),
                "/tickets?view=mine",
                "{elsewhere}"
            );
        }
        assert_eq!(next_of(None), "/tickets?view=mine");
    }
}
