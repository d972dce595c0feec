//! The rating page, `/csat/{token}` on the desk's public URL: `GET` shows
//! the ticket's survey with the score the link chose (or the rating as it
//! stands) and a comment box; `POST` (`score`, `comment`) records the
//! rating. A second answer replaces the first (one rating per ticket, its
//! history on the timeline). Served by `helpdesk serve` and, on AWS, by
//! the form intake function; the page never lets the token leave it
//! (`Referrer-Policy: no-referrer`), is not cached, and takes no script.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{Method, Response, StatusCode, header};

use super::link::{self, LinkError};
use crate::config::Csat;
use crate::domain::bounds::RATING_COMMENT;
use crate::domain::{Actor, Rating, Score, Ticket, TicketKey, TimelineEvent};
use crate::services::Services;
use crate::store::StoreError;
use crate::tickets;

/// A request for the page.
#[derive(Debug, Clone)]
pub struct PageRequest {
    /// `GET`, `HEAD` or `POST`.
    pub method: Method,
    /// The `{token}` of the path.
    pub token: String,
    /// The query string, if any (`score=good`).
    pub query: Option<String>,
    /// The body of a `POST` (`application/x-www-form-urlencoded`).
    pub body: Bytes,
}

/// What the page's form sends, and the link's query.
#[derive(Debug, Default, serde::Deserialize)]
struct Answer {
    #[serde(default)]
    score: Option<String>,
    #[serde(default)]
    comment: Option<String>,
}

/// Why the page could not answer (worth trying again).
#[derive(Debug, thiserror::Error)]
enum PageError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Secrets(#[from] crate::secrets::SecretsError),
}

/// Answers one request for the page.
pub async fn serve_rating_page(services: &Services, request: PageRequest) -> Response<Bytes> {
    match rating_answer(services, request).await {
        Ok(page) => page,
        Err(e) => {
            tracing::error!(error = %e, "the rating page could not be served");
            rating_html(
                StatusCode::SERVICE_UNAVAILABLE,
                "Please try again",
                "<p>Your answer could not be saved right now. Please try again in a minute.</p>",
            )
        }
    }
}

async fn rating_answer(
    services: &Services,
    request: PageRequest,
) -> Result<Response<Bytes>, PageError> {
    if !matches!(request.method, Method::GET | Method::HEAD | Method::POST) {
        let mut refused = rating_html(
            StatusCode::METHOD_NOT_ALLOWED,
            "Not here",
            "<p>This page is opened from the link in our mail.</p>",
        );
        refused.headers_mut().insert(
            header::ALLOW,
            http::HeaderValue::from_static("GET, HEAD, POST"),
        );
        return Ok(refused);
    }
    let now = tickets::store_precision(services.clock.now());
    let (ticket, csat) = match rating_link_opened(services, &request.token, now).await? {
        Ok(found) => found,
        Err(refused) => return Ok(refused),
    };
    if request.method != Method::POST {
        let asked: Answer =
            serde_urlencoded::from_str(request.query.as_deref().unwrap_or("")).unwrap_or_default();
        let chosen = asked
            .score
            .as_deref()
            .and_then(|s| Score::on(csat.scale, s));
        let standing = ticket.satisfaction.rating.as_ref();
        let chosen = chosen.or(standing.map(|r| r.score));
        let comment = standing.and_then(|r| r.comment.as_deref()).unwrap_or("");
        return Ok(rating_form(
            StatusCode::OK,
            &ticket,
            csat,
            chosen,
            comment,
            None,
        ));
    }
    let given: Answer = serde_urlencoded::from_bytes(&request.body).unwrap_or_default();
    let comment = given.comment.as_deref().map(str::trim).unwrap_or("");
    let Some(score) = given
        .score
        .as_deref()
        .and_then(|s| Score::on(csat.scale, s))
    else {
        let why = "Please choose one of the answers.";
        let page = rating_form(
            StatusCode::UNPROCESSABLE_ENTITY,
            &ticket,
            csat,
            None,
            comment,
            Some(why),
        );
        return Ok(page);
    };
    if comment.len() > RATING_COMMENT {
        let why = format!(
            "Your comment is {} characters long; please keep it under {}.",
            comment.chars().count(),
            RATING_COMMENT / 2
        );
        let page = rating_form(
            StatusCode::UNPROCESSABLE_ENTITY,
            &ticket,
            csat,
            Some(score),
            comment,
            Some(&why),
        );
        return Ok(page);
    }
    let comment = (!comment.is_empty()).then(|| comment.to_owned());
    record_rating(services, &ticket, score, comment, now).await?;
    Ok(rating_thanks(&ticket, score))
}

/// The ticket and survey a token opens, or the page that says why not.
async fn rating_link_opened<'a>(
    services: &'a Services,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Result<(Ticket, &'a Csat), Response<Bytes>>, PageError> {
    let invalid = || {
        rating_html(
            StatusCode::NOT_FOUND,
            "This link does not work",
            "<p>Please use the link in our mail exactly as it came.</p>",
        )
    };
    let secret_name = &services.config.desk.mail.reply_token_secret_env;
    let Some(secret) = services.secrets.secret(secret_name).await? else {
        return Ok(Err(invalid()));
    };
    let key: TicketKey = match link::verify(secret.as_bytes(), token, now) {
        Ok(key) => key,
        Err(LinkError::Invalid) => return Ok(Err(invalid())),
        Err(LinkError::Expired) => {
            return Ok(Err(rating_html(
                StatusCode::GONE,
                "This link has expired",
                "<p>Thank you all the same. If you still need help, just write to us.</p>",
            )));
        }
    };
    let Some(ticket) = services.store.get_ticket(&key).await? else {
        return Ok(Err(invalid()));
    };
    let csat = services
        .config
        .queues
        .get(&ticket.queue)
        .and_then(|q| q.csat.as_ref());
    match csat {
        Some(csat) => Ok(Ok((ticket, csat))),
        None => Ok(Err(rating_html(
            StatusCode::NOT_FOUND,
            "Ratings are closed",
            "<p>We no longer ask for ratings on this request. Thank you all the same.</p>",
        ))),
    }
}

/// Records `score` (and `comment`) as the ticket's rating, replacing an
/// earlier one; the same answer again writes nothing.
async fn record_rating(
    services: &Services,
    ticket: &Ticket,
    score: Score,
    comment: Option<String>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let standing = ticket.satisfaction.rating.as_ref();
    if standing.is_some_and(|r| r.score == score && r.comment == comment) {
        return Ok(());
    }
    let actor = ticket
        .requester
        .email
        .clone()
        .map_or(Actor::System, |email| Actor::Customer { email });
    tickets::apply(
        services.store.as_ref(),
        &services.config,
        &ticket.key,
        &actor,
        now,
        &[],
        |ticket| {
            let previous = ticket.satisfaction.rating.as_ref().map(|r| r.score);
            ticket.satisfaction.rating = Some(Rating {
                score,
                comment: comment.clone(),
                at: now,
            });
            vec![TimelineEvent::Rated {
                score,
                comment: comment.clone(),
                previous,
            }]
        },
    )
    .await?;
    Ok(())
}

/// Text made safe inside HTML (element content and quoted attributes).
fn escape_html(text: &str) -> String {
    minijinja::HtmlEscape(text).to_string()
}

/// The survey form.
fn rating_form(
    status: StatusCode,
    ticket: &Ticket,
    csat: &Csat,
    chosen: Option<Score>,
    comment: &str,
    problem: Option<&str>,
) -> Response<Bytes> {
    let mut html = format!(
        "<p>Your request <strong>{}</strong> “{}”</p>",
        ticket.key,
        escape_html(&crate::display::line(&ticket.summary))
    );
    if let Some(problem) = problem {
        html.push_str(&format!(
            "<p class=\"problem\" role=\"alert\">{}</p>",
            escape_html(problem)
        ));
    }
    html.push_str("<form method=\"post\"><fieldset><legend>How did we do?</legend>");
    for score in csat.scale.scores() {
        let checked = if chosen == Some(score) {
            " checked"
        } else {
            ""
        };
        html.push_str(&format!(
            "<label><input type=\"radio\" name=\"score\" value=\"{score}\"{checked}> {}</label>",
            escape_html(&score.label())
        ));
    }
    html.push_str(&format!(
        "</fieldset><label for=\"comment\">Anything to add? (optional)</label>\
         <textarea id=\"comment\" name=\"comment\" rows=\"5\">{}</textarea>\
         <button type=\"submit\">Send</button></form>",
        escape_html(comment)
    ));
    rating_html(status, "Rate our help", &html)
}

/// The page after a rating.
fn rating_thanks(ticket: &Ticket, score: Score) -> Response<Bytes> {
    let html = format!(
        "<p>We recorded “{}” for your request <strong>{}</strong>. \
         You can change your answer from the same link.</p>",
        escape_html(&score.label()),
        ticket.key
    );
    rating_html(StatusCode::OK, "Thank you", &html)
}

/// A whole page around `body` (HTML made by this module).
fn rating_html(status: StatusCode, title: &str, body: &str) -> Response<Bytes> {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>{STYLE}</style></head>\
         <body><main><h1>{title}</h1>{body}</main></body></html>"
    );
    let mut response = Response::new(Bytes::from(html));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        (header::CACHE_CONTROL, "no-store"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    ] {
        headers.insert(name, http::HeaderValue::from_static(value));
    }
    response
}

const STYLE: &str = "body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f5f6f8;color:#1d2330}\
main{max-width:34rem;margin:3rem auto;padding:2rem;background:#fff;border-radius:8px}\
h1{font-size:1.4rem;margin-top:0}fieldset{border:0;padding:0;margin:1rem 0}\
legend{font-weight:600;margin-bottom:.5rem}label{display:block;margin:.4rem 0}\
textarea{width:100%;box-sizing:border-box;font:inherit}\
button{margin-top:1rem;padding:.5rem 1.5rem;font:inherit;background:#1f5fbf;color:#fff;border:0;border-radius:4px}\
.problem{color:#a4161a;font-weight:600}";
