//! The console's two static files, compiled into the binary: no CDN, no
//! build step, nothing to fetch at run time.

use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};

/// The style sheet.
const CSS: &str = include_str!("../assets/console.css");
/// The script: live updates, loading older entries, small conveniences.
const JS: &str = include_str!("../assets/console.js");

/// `GET /assets/{name}`.
pub async fn serve(Path(name): Path<String>) -> Response {
    let (body, content_type) = match name.as_str() {
        "console.css" => (CSS, "text/css; charset=utf-8"),
        "console.js" => (JS, "text/javascript; charset=utf-8"),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=600"),
        ],
        body,
    )
        .into_response()
}
