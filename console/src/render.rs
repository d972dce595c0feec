//! Pages from templates: one minijinja environment, built at the first
//! page, with every template compiled into the binary. Templates are
//! `.html`, so every value they print is HTML-escaped; the one exception,
//! customer mail's HTML, is marked safe only after [`crate::show`] has
//! sanitised it.

use std::sync::OnceLock;

use axum::response::{Html, IntoResponse, Response};
use http::StatusCode;
use minijinja::Environment;
use serde::Serialize;

/// The templates, by name.
const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../templates/base.html")),
    ("signin.html", include_str!("../templates/signin.html")),
    ("list.html", include_str!("../templates/list.html")),
    ("ticket.html", include_str!("../templates/ticket.html")),
    ("entries.html", include_str!("../templates/entries.html")),
    ("new.html", include_str!("../templates/new.html")),
    ("reports.html", include_str!("../templates/reports.html")),
    (
        "report_table.html",
        include_str!("../templates/report_table.html"),
    ),
    ("error.html", include_str!("../templates/error.html")),
];

fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            if let Err(e) = env.add_template(name, source) {
                tracing::error!(template = name, error = %e, "a console template does not compile");
            }
        }
        env
    })
}

/// `template` rendered with `context`, as a string.
pub fn to_string(template: &str, context: impl Serialize) -> Result<String, minijinja::Error> {
    environment().get_template(template)?.render(context)
}

/// `template` rendered with `context` as an HTML answer; a plain 500 page
/// when it cannot be rendered (a defect, logged).
pub fn page(template: &str, context: impl Serialize) -> Response {
    page_with_status(StatusCode::OK, template, context)
}

/// As [`page`], with `status`.
pub fn page_with_status(status: StatusCode, template: &str, context: impl Serialize) -> Response {
    match to_string(template, context) {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(template, error = %e, "a console page cannot be rendered");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html("<!doctype html><title>Error</title><p>This page cannot be shown."),
            )
                .into_response()
        }
    }
}

/// An error page: `title` and what to do about it.
pub fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    page_with_status(
        status,
        "error.html",
        serde_json::json!({ "title": title, "message": message }),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]

    use super::*;

    #[test]
    fn every_template_compiles() {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn values_are_escaped_in_every_page() {
        let html = to_string(
            "error.html",
            serde_json::json!({ "title": "<script>alert(1)</script>", "message": "a \"quote\" & <b>" }),
        )
        .unwrap();
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(html.contains("&lt;b&gt;"), "{html}");
    }
}
