//! Turns a Lambda HTTP event into a [`FormRequest`] (or, under `/csat/`, a
//! rating page request) and the use case's answer back into a Lambda
//! response.

use helpdesk::app::Services;
use helpdesk::csat::page::{self, PageRequest};
use helpdesk::intake::{self, FormRequest, form_id_from_path};
use lambda_http::{Body, Error, Request, RequestExt, Response};

/// Handles one HTTP API v2 or Function URL event.
pub async fn handle(services: &Services, event: Request) -> Result<Response<Body>, Error> {
    if let Some(token) = event.uri().path().strip_prefix("/csat/") {
        let request = PageRequest {
            method: event.method().clone(),
            token: token.to_owned(),
            query: event.uri().query().map(str::to_owned),
            body: body_bytes(event.body()),
        };
        let response = page::serve_rating_page(services, request).await;
        log_server_error("csat", response.status());
        return Ok(lambda_response(response));
    }
    let form_id = event
        .path_parameters_ref()
        .and_then(|params| params.first("form_id"))
        .map(str::to_owned)
        .or_else(|| form_id_from_path(event.uri().path()).map(str::to_owned))
        .unwrap_or_default();
    let client = client_address(&event);
    let (parts, body) = event.into_parts();
    let body = body_bytes(&body);
    let request = FormRequest {
        method: parts.method,
        form_id,
        headers: parts.headers,
        body,
        client,
    };
    let form = request.form_id.clone();
    let response = intake::handle(services, request).await;
    log_server_error(&form, response.status());
    Ok(lambda_response(response))
}

/// An event's body as bytes.
fn body_bytes(body: &Body) -> bytes::Bytes {
    match body {
        Body::Text(text) => bytes::Bytes::from(text.clone()),
        Body::Binary(data) => bytes::Bytes::from(data.clone()),
        _ => bytes::Bytes::new(),
    }
}

/// A use case's answer as a Lambda response (text when it is UTF-8).
fn lambda_response(response: http::Response<bytes::Bytes>) -> Response<Body> {
    let (parts, body) = response.into_parts();
    let body = if body.is_empty() {
        Body::Empty
    } else {
        match String::from_utf8(body.to_vec()) {
            Ok(text) => Body::Text(text),
            Err(e) => Body::Binary(e.into_bytes()),
        }
    };
    Response::from_parts(parts, body)
}

/// One error line for every 5xx answer, with `status` among its fields:
/// the invocation itself succeeded, so Lambda's Errors metric never counts
/// it; the template's log metric filter `FormIntakeServerErrors` does.
fn log_server_error(form: &str, status: http::StatusCode) {
    if status.is_server_error() {
        tracing::error!(
            form,
            status = status.as_u16(),
            "form post answered with a server error"
        );
    }
}

/// The client's address as API Gateway or the function URL saw it (the
/// TCP peer; a client cannot set it by a header).
fn client_address(event: &Request) -> Option<std::net::IpAddr> {
    use lambda_http::request::RequestContext;
    match event.request_context_ref()? {
        RequestContext::ApiGatewayV2(context) => context.http.source_ip.as_deref()?.parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

    use super::*;

    /// The lines `log_server_error` prints in the functions' JSON format.
    fn logged(status: u16) -> Vec<serde_json::Value> {
        let capture = helpdesk::telemetry::JsonCapture::start();
        log_server_error("support", http::StatusCode::from_u16(status).unwrap());
        capture
            .lines()
            .iter()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    /// The template's metric filter, `{ $.fields.status >= N }`, as N.
    fn filter_threshold() -> u64 {
        let template = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../infra/template.yaml"
        ))
        .unwrap();
        let pattern = template
            .lines()
            .find_map(|line| {
                line.trim()
                    .strip_prefix("FilterPattern: \"{ $.fields.status >= ")
            })
            .expect("the template has the form intake's 5xx metric filter");
        pattern.trim_end_matches(" }\"").parse().unwrap()
    }

    #[test]
    fn a_5xx_answer_is_one_log_line_the_template_s_metric_filter_counts_and_a_4xx_is_none() {
        let threshold = filter_threshold();
        let lines = logged(503);
        assert_eq!(lines.len(), 1, "{lines:?}");
        let status = lines[0]["fields"]["status"].as_u64().unwrap();
        assert!(status >= threshold, "{status} < {threshold}");
        assert_eq!(lines[0]["level"], "ERROR");
        assert!(logged(422).is_empty());
    }
}
