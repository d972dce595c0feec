//! Turns a Lambda HTTP event into a [`FormRequest`] and the use case's
//! answer back into a Lambda response.

use helpdesk::app::Services;
use helpdesk::intake::{self, FormRequest, form_id_from_path};
use lambda_http::{Body, Error, Request, RequestExt, Response};

/// Handles one HTTP API v2 or Function URL event.
pub async fn handle(services: &Services, event: Request) -> Result<Response<Body>, Error> {
    let form_id = event
        .path_parameters_ref()
        .and_then(|params| params.first("form_id"))
        .map(str::to_owned)
        .or_else(|| form_id_from_path(event.uri().path()).map(str::to_owned))
        .unwrap_or_default();
    let client = client_address(&event);
    let (parts, body) = event.into_parts();
    let body = match body {
        Body::Empty => bytes::Bytes::new(),
        Body::Text(text) => bytes::Bytes::from(text),
        Body::Binary(data) => bytes::Bytes::from(data),
        _ => bytes::Bytes::new(),
    };
    let request = FormRequest {
        method: parts.method,
        form_id,
        headers: parts.headers,
        body,
        client,
    };
    let response = intake::handle(services, request).await;
    let (parts, body) = response.into_parts();
    let body = if body.is_empty() {
        Body::Empty
    } else {
        match String::from_utf8(body.to_vec()) {
            Ok(text) => Body::Text(text),
            Err(e) => Body::Binary(e.into_bytes()),
        }
    };
    Ok(Response::from_parts(parts, body))
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
