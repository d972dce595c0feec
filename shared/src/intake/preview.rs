//! A dry run of a form delivery (`helpdesk forms test`): what each answer
//! is called and which field takes it, which answers no field takes, and
//! the ticket it would open or why it would be refused. Nothing is stored,
//! no signature or rate limit is checked.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};

use super::{FormDraft, FormRequest, Problem, answers, decode_body, fill_ticket, honeypot_filled};
use crate::config::Config;

/// One answer as delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewAnswer {
    /// Its name (Typeform field `ref`, Tally `key`, the field name).
    pub name: String,
    /// The other names a mapping may use (Typeform id and title, Tally
    /// label, Jotform full name and label).
    pub aliases: Vec<String>,
    /// Its value as text.
    pub value: String,
    /// The configured field that takes it, if any.
    pub field: Option<String>,
}

/// What a delivery would do.
#[derive(Debug)]
pub struct Preview {
    /// Every answer, in the delivery's order.
    pub answers: Vec<PreviewAnswer>,
    /// The honeypot was filled: a real delivery would be dropped.
    pub honeypot: bool,
    /// The ticket it would open, or why it would be refused.
    pub outcome: Result<FormDraft, Problem>,
}

/// Reads `body` (of `content_type`) as form `form_id` would.
pub async fn preview(
    config: &Config,
    form_id: &str,
    content_type: &str,
    body: Bytes,
) -> Result<Preview, Problem> {
    let form = config.forms.get(form_id).ok_or_else(|| {
        Problem::new(
            StatusCode::NOT_FOUND,
            "unknown-form",
            "No such form",
            format!("there is no form {form_id:?}"),
        )
    })?;
    let mut headers = HeaderMap::new();
    let value = HeaderValue::from_str(content_type).map_err(|e| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "malformed",
            "Bad content type",
            e.to_string(),
        )
    })?;
    headers.insert(header::CONTENT_TYPE, value);
    let request = FormRequest {
        method: Method::POST,
        form_id: form_id.to_owned(),
        headers,
        body,
        client: None,
    };
    let submission = decode_body(form, &request).await?;
    let answers = answers::answer_fields(form, &submission)
        .into_iter()
        .map(|(answer, field)| PreviewAnswer {
            name: answer.id.clone(),
            aliases: answer.aliases.clone(),
            value: answer.value.as_text(),
            field: field.map(str::to_owned),
        })
        .collect();
    Ok(Preview {
        answers,
        honeypot: honeypot_filled(form, &submission),
        outcome: fill_ticket(form, form_id, &submission),
    })
}
