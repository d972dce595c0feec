//! Form providers' webhook shapes (Typeform, Tally, Jotform) turned into a
//! [`RawSubmission`].
//!
//! Each provider names its answers differently; every answer keeps its
//! provider's primary name as `id` and the other names a form configuration
//! may use as `aliases`:
//!
//! | provider | id | aliases |
//! |---|---|---|
//! | Typeform | field `ref` | field `id`, field title from `definition` |
//! | Tally | field `key` | field `label` |
//! | Jotform | `studentsName` (from `q3_studentsName`) | `q3_studentsName`, the label in `pretty` |
//!
//! Providers are trusted less than they are documented: unknown answer types
//! are kept (as text) rather than rejected, so a new question type never loses
//! a ticket. Only a body that lacks the provider's skeleton is malformed.

use serde_json::{Map, Value};

use crate::forms::payload::{
    Answer, AnswerValue, OrderedJson, PayloadError, Provider, RawSubmission, UploadedFile,
    percent_decode,
};

/// Whether a JSON object looks like a Typeform delivery: a `form_response`
/// object holding an `answers` array.
pub fn is_typeform(object: &Map<String, Value>) -> bool {
    object
        .get("form_response")
        .and_then(|response| response.get("answers"))
        .is_some_and(Value::is_array)
}

/// Whether a JSON object looks like a Tally delivery: an `eventType` and a
/// `data` object holding a `fields` array.
pub fn is_tally(object: &Map<String, Value>) -> bool {
    object.contains_key("eventType")
        && object
            .get("data")
            .and_then(|data| data.get("fields"))
            .is_some_and(Value::is_array)
}

fn malformed(message: impl Into<String>) -> PayloadError {
    PayloadError::Malformed(message.into())
}

fn str_at<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value
        .get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|text| !text.is_empty())
}

fn push_alias(aliases: &mut Vec<String>, id: &str, alias: &str) {
    let alias = alias.trim();
    if !alias.is_empty() && alias != id && !aliases.iter().any(|known| known == alias) {
        aliases.push(alias.to_owned());
    }
}

/// The text of a JSON scalar; arrays and objects as compact JSON.
fn json_text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        Value::Bool(_) | Value::Number(_) | Value::Array(_) | Value::Object(_) => value.to_string(),
    }
}

// ---------------------------------------------------------------------------
// Typeform

/// Reads a Typeform `form_response` delivery.
///
/// `submission_id` is `form_response.token` (else `event_id`). Each answer's
/// value comes from the key its `type` names (`text`, `email`, `number`,
/// `choice.label`, `choices.labels`, `file_url`, ...). Hidden fields
/// (`form_response.hidden`) are answers too, named by their keys.
///
/// # Errors
///
/// [`PayloadError::Malformed`] when `form_response.answers` is missing, or an
/// answer has neither a field `ref` nor a field `id`.
pub fn typeform(delivery: &Value) -> Result<RawSubmission, PayloadError> {
    let response = delivery
        .get("form_response")
        .filter(|response| response.is_object())
        .ok_or_else(|| malformed("Typeform delivery without a `form_response` object"))?;
    let answers = response
        .get("answers")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed("Typeform delivery without `form_response.answers`"))?;
    let mut definitions: Vec<&Value> = Vec::new();
    if let Some(definition) = response.get("definition") {
        collect_typeform_fields(definition, &mut definitions);
    }

    let submission_id = str_at(response, "token")
        .or_else(|| str_at(delivery, "event_id"))
        .map(str::to_owned);

    let mut out = Vec::with_capacity(answers.len());
    for (index, answer) in answers.iter().enumerate() {
        out.push(typeform_answer(index, answer, &definitions)?);
    }

    if let Some(hidden) = response.get("hidden").and_then(Value::as_object) {
        for (key, value) in hidden {
            out.push(Answer::new(
                key.clone(),
                AnswerValue::Text(json_text(value)),
            ));
        }
    }

    Ok(RawSubmission {
        provider: Provider::Typeform,
        submission_id,
        answers: out,
        files: Vec::new(),
    })
}

/// The `index`th Typeform `answer`, named by its field `ref` (else `id`),
/// with the field `id` and its title from `definitions` as aliases;
/// malformed when the field has neither.
fn typeform_answer(
    index: usize,
    answer: &Value,
    definitions: &[&Value],
) -> Result<Answer, PayloadError> {
    let field = answer.get("field").unwrap_or(&Value::Null);
    let field_id = str_at(field, "id");
    let field_ref = str_at(field, "ref");
    let Some(id) = field_ref.or(field_id) else {
        return Err(malformed(format!(
            "Typeform answer #{} has no field `ref` or `id`",
            index + 1
        )));
    };
    let mut aliases = Vec::new();
    if let Some(field_id) = field_id {
        push_alias(&mut aliases, id, field_id);
    }
    let title = definitions.iter().find_map(|definition| {
        let same_id = field_id.is_some() && str_at(definition, "id") == field_id;
        let same_ref = field_ref.is_some() && str_at(definition, "ref") == field_ref;
        if same_id || same_ref {
            str_at(definition, "title")
        } else {
            None
        }
    });
    if let Some(title) = title {
        push_alias(&mut aliases, id, title);
    }
    Ok(Answer {
        id: id.to_owned(),
        aliases,
        value: typeform_value(answer),
    })
}

/// The field definitions under `definition.fields`, including those nested
/// in question groups (`properties.fields`).
fn collect_typeform_fields<'a>(parent: &'a Value, out: &mut Vec<&'a Value>) {
    let Some(fields) = parent.get("fields").and_then(Value::as_array) else {
        return;
    };
    for field in fields {
        out.push(field);
        if let Some(properties) = field.get("properties") {
            collect_typeform_fields(properties, out);
        }
    }
}

fn typeform_value(answer: &Value) -> AnswerValue {
    let kind = answer.get("type").and_then(Value::as_str).unwrap_or("");
    let Some(value) = answer.get(kind) else {
        return AnswerValue::Text(String::new());
    };
    match kind {
        "choice" => AnswerValue::Text(
            str_at(value, "label")
                .or_else(|| str_at(value, "other"))
                .unwrap_or("")
                .to_owned(),
        ),
        "choices" => {
            let mut labels: Vec<String> = value
                .get("labels")
                .and_then(Value::as_array)
                .map(|labels| labels.iter().map(json_text).collect())
                .unwrap_or_default();
            if let Some(other) = str_at(value, "other") {
                labels.push(other.to_owned());
            }
            AnswerValue::List(labels)
        }
        "payment" => AnswerValue::Text(value.get("amount").map(json_text).unwrap_or_default()),
        _ => match value {
            Value::Array(items) => AnswerValue::List(items.iter().map(json_text).collect()),
            other => AnswerValue::Text(json_text(other)),
        },
    }
}

// ---------------------------------------------------------------------------
// Tally

/// Reads a Tally `FORM_RESPONSE` delivery.
///
/// `submission_id` is `data.responseId` (else `data.submissionId`, else
/// `eventId`). Each field is answered by its `key` with its `label` as alias;
/// option ids of choice fields are replaced by the option texts when
/// `options` is given; uploaded files are answered by their URLs.
///
/// # Errors
///
/// [`PayloadError::Malformed`] when `data.fields` is missing or a field has no
/// `key`.
pub fn tally(delivery: &Value) -> Result<RawSubmission, PayloadError> {
    let data = delivery
        .get("data")
        .filter(|data| data.is_object())
        .ok_or_else(|| malformed("Tally delivery without a `data` object"))?;
    let fields = data
        .get("fields")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed("Tally delivery without `data.fields`"))?;
    let submission_id = str_at(data, "responseId")
        .or_else(|| str_at(data, "submissionId"))
        .or_else(|| str_at(delivery, "eventId"))
        .map(str::to_owned);

    let mut answers = Vec::with_capacity(fields.len());
    for (index, field) in fields.iter().enumerate() {
        let Some(key) = str_at(field, "key") else {
            return Err(malformed(format!(
                "Tally field #{} has no `key`",
                index + 1
            )));
        };
        let mut aliases = Vec::new();
        if let Some(label) = str_at(field, "label") {
            push_alias(&mut aliases, key, label);
        }
        let options: &[Value] = field
            .get("options")
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice);
        let value = match field.get("value").unwrap_or(&Value::Null) {
            Value::Array(items) => {
                AnswerValue::List(items.iter().map(|item| tally_item(item, options)).collect())
            }
            Value::String(text) => AnswerValue::Text(option_text(text, options)),
            other => AnswerValue::Text(json_text(other)),
        };
        answers.push(Answer {
            id: key.to_owned(),
            aliases,
            value,
        });
    }

    Ok(RawSubmission {
        provider: Provider::Tally,
        submission_id,
        answers,
        files: Vec::new(),
    })
}

/// The text of an option id, or the id itself when no option has it.
fn option_text(id: &str, options: &[Value]) -> String {
    options
        .iter()
        .find(|option| option.get("id").and_then(Value::as_str) == Some(id))
        .and_then(|option| option.get("text").and_then(Value::as_str))
        .unwrap_or(id)
        .to_owned()
}

/// One item of a Tally list value: an option id (mapped to its text), an
/// uploaded file (its `url`), or any other value as text.
fn tally_item(item: &Value, options: &[Value]) -> String {
    match item {
        Value::String(text) => option_text(text, options),
        Value::Object(object) => ["url", "text", "name"]
            .iter()
            .find_map(|key| object.get(*key).and_then(Value::as_str))
            .map_or_else(|| item.to_string(), str::to_owned),
        other => json_text(other),
    }
}

// ---------------------------------------------------------------------------
// Jotform

/// Keys of a Jotform `rawRequest` object part that carry no answer.
const JOTFORM_META_PARTS: [&str; 2] = ["colIds", "rowIds"];

/// Reads a Jotform delivery from its multipart text fields (`formID`,
/// `submissionID`, `formTitle`, `pretty`, `rawRequest`, ...), last value per
/// name.
///
/// Answers come from `rawRequest`: `q<N>_<name>` keys are answered as
/// `<name>` with `q<N>_<name>` as alias; arrays of upload URLs under other
/// keys are answered by that key; Jotform's bookkeeping keys are ignored.
/// Labels are taken from `pretty` where an answer's value can be found in it
/// (best effort: a label that cannot be told for sure is left out). The form
/// title is answered as `formTitle`. Files uploaded in the same body are
/// kept.
///
/// # Errors
///
/// [`PayloadError::Malformed`] when `rawRequest` is missing or is not a JSON
/// object.
pub fn jotform(
    fields: &[(String, String)],
    files: Vec<UploadedFile>,
) -> Result<RawSubmission, PayloadError> {
    let field = |name: &str| {
        fields
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    let entries = jotform_request(field("rawRequest"))?;
    let (mut answers, renderings) = jotform_answers(&entries);
    if let Some(pretty) = field("pretty") {
        add_pretty_labels(&mut answers, pretty, &renderings);
    }
    if let Some(title) = field("formTitle") {
        answers.push(Answer::new(
            "formTitle",
            AnswerValue::Text(title.trim().to_owned()),
        ));
    }

    Ok(RawSubmission {
        provider: Provider::Jotform,
        submission_id: field("submissionID")
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .map(str::to_owned),
        answers,
        files,
    })
}

/// The entries of the `rawRequest` object, in document order; malformed
/// when it is missing or not a JSON object.
fn jotform_request(raw_request: Option<&str>) -> Result<Vec<(String, OrderedJson)>, PayloadError> {
    let raw_request =
        raw_request.ok_or_else(|| malformed("Jotform delivery without `rawRequest`"))?;
    let request: OrderedJson = serde_json::from_str(raw_request)
        .map_err(|err| malformed(format!("Jotform `rawRequest` is not JSON: {err}")))?;
    let OrderedJson::Object(entries) = request else {
        return Err(malformed("Jotform `rawRequest` is not a JSON object"));
    };
    Ok(entries)
}

/// The answers in the `rawRequest` `entries`, and for each the renderings
/// of its value that `pretty` may show: question keys answered by their
/// short name, upload URL lists by their key; other keys are skipped.
fn jotform_answers(entries: &[(String, OrderedJson)]) -> (Vec<Answer>, Vec<Vec<String>>) {
    let upload_keys = jotform_upload_keys(entries);
    let mut answers: Vec<Answer> = Vec::new();
    let mut renderings: Vec<Vec<String>> = Vec::new();
    for (key, value) in entries {
        if let Some(name) = jotform_question_name(key) {
            let answer_value = jotform_value(value);
            renderings.push(pretty_renderings(&answer_value));
            answers.push(Answer {
                id: name.to_owned(),
                aliases: vec![key.clone()],
                value: answer_value,
            });
        } else if let Some(urls) = url_list(value) {
            let names: Vec<String> = urls.iter().map(|url| url_file_name(url)).collect();
            renderings.push(vec![names.join(" "), names.join(", ")]);
            answers.push(jotform_upload_answer(key, urls, &upload_keys));
        }
    }
    (answers, renderings)
}

/// The question keys of the upload fields, which `temp_upload` names
/// (`q5_identityProof`).
fn jotform_upload_keys(entries: &[(String, OrderedJson)]) -> Vec<&str> {
    entries
        .iter()
        .find(|(key, _)| key == "temp_upload")
        .and_then(|(_, value)| match value {
            OrderedJson::Object(uploads) => Some(uploads),
            _ => None,
        })
        .map(|uploads| uploads.iter().map(|(key, _)| key.as_str()).collect())
        .unwrap_or_default()
}

/// The answer of the upload `urls` under `key`, with its question key from
/// `upload_keys` as alias when there is one.
fn jotform_upload_answer(key: &str, urls: Vec<String>, upload_keys: &[&str]) -> Answer {
    let mut aliases = Vec::new();
    if let Some(full) = upload_keys
        .iter()
        .find(|full| jotform_question_name(full) == Some(key))
    {
        push_alias(&mut aliases, key, full);
    }
    Answer {
        id: key.to_owned(),
        aliases,
        value: AnswerValue::List(urls),
    }
}

/// Adds to each answer its label in `pretty`, where that can be told for
/// sure from the answer's `renderings`.
fn add_pretty_labels(answers: &mut [Answer], pretty: &str, renderings: &[Vec<String>]) {
    for (answer, label) in answers.iter_mut().zip(pretty_labels(pretty, renderings)) {
        if let Some(label) = label {
            let id = answer.id.clone();
            push_alias(&mut answer.aliases, &id, &label);
        }
    }
}

/// `studentsName` for `q3_studentsName`; `None` for keys not shaped
/// `q<digits>_<name>`.
fn jotform_question_name(key: &str) -> Option<&str> {
    let rest = key.strip_prefix('q')?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let name = rest[digits..].strip_prefix('_')?;
    (!name.is_empty()).then_some(name)
}

fn jotform_value(value: &OrderedJson) -> AnswerValue {
    match value {
        OrderedJson::Array(items) => {
            AnswerValue::List(items.iter().map(jotform_item_text).collect())
        }
        other => AnswerValue::Text(jotform_item_text(other)),
    }
}

/// A Jotform value as one text. Compound answers (names, addresses, dates)
/// are objects whose non-empty parts are joined by a space, in the order
/// sent. An appointment answers its booked `date` (and time zone), or nothing
/// when no slot was booked; a matrix's row and column ids are not answers.
fn jotform_item_text(value: &OrderedJson) -> String {
    match value {
        OrderedJson::Object(parts) => {
            let part = |name: &str| {
                parts
                    .iter()
                    .find(|(key, _)| key == name)
                    .map(|(_, value)| jotform_item_text(value))
            };
            if let (Some(_), Some(date)) = (part("implementation"), part("date")) {
                let date = date.trim();
                if date.is_empty() {
                    return String::new();
                }
                return match part("timezone").filter(|zone| !zone.trim().is_empty()) {
                    Some(zone) => format!("{date} {}", zone.trim()),
                    None => date.to_owned(),
                };
            }
            join_non_empty(
                parts
                    .iter()
                    .filter(|(key, _)| !JOTFORM_META_PARTS.contains(&key.as_str()))
                    .map(|(_, value)| jotform_item_text(value)),
            )
        }
        OrderedJson::Array(items) => join_non_empty(items.iter().map(jotform_item_text)),
        scalar => scalar.scalar_text().unwrap_or_default(),
    }
}

fn join_non_empty(parts: impl Iterator<Item = String>) -> String {
    parts
        .map(|part| part.trim().to_owned())
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The URLs of a non-empty array holding only `http(s)://` strings.
fn url_list(value: &OrderedJson) -> Option<Vec<String>> {
    let OrderedJson::Array(items) = value else {
        return None;
    };
    if items.is_empty() {
        return None;
    }
    items
        .iter()
        .map(|item| match item {
            OrderedJson::String(url)
                if url.starts_with("https://") || url.starts_with("http://") =>
            {
                Some(url.clone())
            }
            _ => None,
        })
        .collect()
}

/// The decoded last path segment of a URL (`Report%20Card.pdf` ->
/// `Report Card.pdf`).
fn url_file_name(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let segment = path.rsplit('/').next().unwrap_or(path);
    String::from_utf8_lossy(&percent_decode(segment.as_bytes(), false)).into_owned()
}

fn pretty_renderings(value: &AnswerValue) -> Vec<String> {
    match value {
        AnswerValue::Text(text) => vec![text.trim().to_owned()],
        AnswerValue::List(items) => vec![items.join(" "), items.join(", ")],
    }
}

/// Labels for answers from Jotform's `pretty` text, `"Label:Value, Label:Value"`
/// in question order.
///
/// Answers are walked in `rawRequest` order (which follows the form's
/// question order, unlike the numbers in `q<N>_`); for each answer with a
/// non-empty value the first `":<value>"` after the previous match that ends
/// the text or is followed by `", "` is taken, and the label is the text
/// before it back to the previous `", "`. A label that is empty or holds a
/// `:` is not trusted. Answers whose values do not appear get no label.
fn pretty_labels(pretty: &str, renderings: &[Vec<String>]) -> Vec<Option<String>> {
    let mut labels = Vec::with_capacity(renderings.len());
    let mut cursor = 0;
    for candidates in renderings {
        let rest = &pretty[cursor..];
        let found = candidates
            .iter()
            .filter(|candidate| !candidate.is_empty())
            .filter_map(|candidate| {
                find_pretty_value(rest, candidate).map(|at| (at, candidate.len()))
            })
            .min_by_key(|(at, _)| *at);
        let Some((at, len)) = found else {
            labels.push(None);
            continue;
        };
        let before = &rest[..at];
        let label = before
            .rsplit(", ")
            .next()
            .unwrap_or(before)
            .trim()
            .to_owned();
        let trusted = !label.is_empty() && !label.contains(':');
        labels.push(trusted.then_some(label));
        // Past the ':' and the value.
        cursor += at + 1 + len;
    }
    labels
}

/// The position of the `:` before `value` in `text`, where the value is
/// followed by `", "` or ends the text.
fn find_pretty_value(text: &str, value: &str) -> Option<usize> {
    let needle = format!(":{value}");
    let mut from = 0;
    while let Some(found) = text[from..].find(&needle) {
        let at = from + found;
        let after = &text[at + needle.len()..];
        if after.is_empty() || after.starts_with(", ") {
            return Some(at);
        }
        // `:` is one byte, so `at + 1` is a char boundary.
        from = at + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::path::PathBuf;

    use bytes::Bytes;

    use super::*;
    use crate::forms::payload::{Limits, decode};

    const TYPEFORM_FIXTURE: &str =
        include_str!("../../tests/fixtures/forms/typeform_form_response.json");
    const TALLY_FIXTURE: &str = include_str!("../../tests/fixtures/forms/tally_form_response.json");

    fn text(value: &str) -> AnswerValue {
        AnswerValue::Text(value.into())
    }

    fn list(values: &[&str]) -> AnswerValue {
        AnswerValue::List(values.iter().map(|v| (*v).to_owned()).collect())
    }

    async fn decode_json(body: &str) -> RawSubmission {
        decode(
            Some("application/json"),
            Bytes::from(body.to_owned()),
            &Limits::default(),
        )
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn typeform_delivery_is_recognised_and_answers_are_named_by_ref() {
        let submission = decode_json(TYPEFORM_FIXTURE).await;
        assert_eq!(submission.provider, Provider::Typeform);
        assert_eq!(
            submission.submission_id.as_deref(),
            Some("a3a12ec67a1365927098a606107fac15")
        );

        let email = submission.answer("customer_email").unwrap();
        assert_eq!(email.value, text("laura@example.com"));
        assert_eq!(email.aliases, ["SMEUb7VJz92Q", "Your email address"]);

        assert_eq!(submission.answer("Your name").unwrap().value, text("Laura"));
        assert_eq!(submission.answer("topic").unwrap().value, text("Billing"));
        assert_eq!(
            submission.answer("components").unwrap().value,
            list(&["Invoices", "Refunds", "Something else"])
        );
        assert_eq!(submission.answer("seats").unwrap().value, text("42"));
        assert_eq!(submission.answer("urgent").unwrap().value, text("true"));
        assert_eq!(submission.answer("when").unwrap().value, text("2024-05-17"));
        assert_eq!(
            submission.answer("phone").unwrap().value,
            text("+15555550123")
        );
        assert_eq!(
            submission.answer("site").unwrap().value,
            text("https://example.com")
        );
        assert_eq!(
            submission.answer("screenshot").unwrap().value,
            text("https://api.typeform.com/responses/files/abc/screen.png")
        );
        assert_eq!(
            submission.answer("plan_other").unwrap().value,
            text("Enterprise trial")
        );
        assert_eq!(submission.answer("paid").unwrap().value, text("4.50"));
        // Questions inside a group find their titles too.
        let order = submission.answer("Order number").unwrap();
        assert_eq!(order.id, "order_number");
        assert_eq!(order.value, text("A-1001"));
        // Hidden fields are answers too.
        assert_eq!(
            submission.answer("customer_id").unwrap().value,
            text("cus_123")
        );
    }

    #[test]
    fn typeform_falls_back_to_event_id_and_field_id() {
        let delivery: Value = serde_json::from_str(
            r#"{"event_id":"EV1","event_type":"form_response","form_response":{
                "answers":[{"type":"text","text":"hi","field":{"id":"F1","type":"short_text"}}]}}"#,
        )
        .unwrap();
        let submission = typeform(&delivery).unwrap();
        assert_eq!(submission.submission_id.as_deref(), Some("EV1"));
        assert_eq!(submission.answers[0].id, "F1");
        assert!(submission.answers[0].aliases.is_empty());
        assert_eq!(submission.answers[0].value, text("hi"));
    }

    #[test]
    fn typeform_answer_without_field_is_malformed() {
        let delivery: Value =
            serde_json::from_str(r#"{"form_response":{"answers":[{"type":"text","text":"hi"}]}}"#)
                .unwrap();
        assert!(matches!(
            typeform(&delivery),
            Err(PayloadError::Malformed(_))
        ));
    }

    #[tokio::test]
    async fn tally_delivery_is_recognised_and_answers_are_named_by_key() {
        let submission = decode_json(TALLY_FIXTURE).await;
        assert_eq!(submission.provider, Provider::Tally);
        assert_eq!(submission.submission_id.as_deref(), Some("2wgx4n"));

        let email = submission.answer("question_3ExXkL").unwrap();
        assert_eq!(email.aliases, ["Email"]);
        assert_eq!(email.value, text("alice@example.com"));
        assert_eq!(submission.answer("Email").unwrap().id, "question_3ExXkL");
        assert_eq!(submission.answer("Seats").unwrap().value, text("3"));
        assert_eq!(
            submission.answer("Topic").unwrap().value,
            list(&["Billing"])
        );
        assert_eq!(
            submission.answer("Components").unwrap().value,
            list(&["Invoices", "Refunds"])
        );
        assert_eq!(submission.answer("Urgent").unwrap().value, text("true"));
        assert_eq!(submission.answer("Phone").unwrap().value, text(""));
        assert_eq!(
            submission.answer("Screenshot").unwrap().value,
            list(&["https://storage.tally.so/private/screen.png"])
        );
    }

    #[test]
    fn tally_falls_back_to_submission_id_then_event_id() {
        let delivery: Value = serde_json::from_str(
            r#"{"eventId":"E1","eventType":"FORM_RESPONSE","data":{"submissionId":"S1","fields":[]}}"#,
        )
        .unwrap();
        assert_eq!(
            tally(&delivery).unwrap().submission_id.as_deref(),
            Some("S1")
        );
        let delivery: Value = serde_json::from_str(
            r#"{"eventId":"E1","eventType":"FORM_RESPONSE","data":{"fields":[]}}"#,
        )
        .unwrap();
        assert_eq!(
            tally(&delivery).unwrap().submission_id.as_deref(),
            Some("E1")
        );
    }

    #[test]
    fn tally_field_without_key_is_malformed() {
        let delivery: Value = serde_json::from_str(
            r#"{"eventType":"FORM_RESPONSE","data":{"fields":[{"label":"x","value":"y"}]}}"#,
        )
        .unwrap();
        assert!(matches!(tally(&delivery), Err(PayloadError::Malformed(_))));
    }

    fn jotform_corpus_file() -> Option<PathBuf> {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/corpus/form_webhooks/jotform/zulip_jotform_response.multipart");
        if path.exists() {
            Some(path)
        } else {
            eprintln!(
                "skipping: the shared corpus is absent ({} not found)",
                path.display()
            );
            None
        }
    }

    #[tokio::test]
    async fn jotform_real_delivery_is_recognised_with_short_names_and_labels() {
        let Some(path) = jotform_corpus_file() else {
            return;
        };
        let body = std::fs::read(&path).unwrap();
        let submission = decode(
            Some("multipart/form-data; boundary=------------------------J1JNT4vbVO4FCC1qLG4HSv"),
            Bytes::from(body),
            &Limits::default(),
        )
        .await
        .unwrap();

        assert_eq!(submission.provider, Provider::Jotform);
        assert_eq!(
            submission.submission_id.as_deref(),
            Some("6084250982513018472")
        );
        assert!(submission.files.is_empty());

        let name = submission.answer("studentsName").unwrap();
        assert_eq!(name.value, text("Niloth P"));
        assert_eq!(name.aliases, ["q3_studentsName", "Student's Name"]);

        let expected = [
            (
                "typeOf",
                "q33_typeOf",
                "Type of Tutoring",
                "Online Tutoring",
            ),
            (
                "subjectFor",
                "q34_subjectFor",
                "Subject for Tutoring",
                "Math",
            ),
            ("grade", "q35_grade", "Grade", "12"),
            (
                "priorTutoring",
                "q27_priorTutoring",
                "Prior Tutoring?",
                "No",
            ),
        ];
        for (id, full, label, value) in expected {
            let answer = submission.answer(id).unwrap();
            assert_eq!(answer.aliases, [full, label], "{id}");
            assert_eq!(answer.value, text(value), "{id}");
            assert_eq!(submission.answer(label).unwrap().id, id);
        }

        // Unanswered questions are present and empty, without labels.
        for (id, full) in [
            ("appointment", "q28_appointment"),
            ("date", "q15_date"),
            ("table", "q19_table"),
            ("description", "q7_description"),
        ] {
            let answer = submission.answer(id).unwrap();
            assert_eq!(answer.aliases, [full], "{id}");
            assert_eq!(answer.value, text(""), "{id}");
        }

        let proof = submission.answer("identityProof").unwrap();
        assert_eq!(proof.aliases, ["q5_identityProof", "Identity Proof"]);
        let AnswerValue::List(urls) = &proof.value else {
            panic!("identityProof should be a list: {:?}", proof.value);
        };
        assert_eq!(urls.len(), 2);
        assert!(urls[1].ends_with("/6111139644845227684/Driving.license.png"));

        let reports = submission.answer("reports").unwrap();
        assert_eq!(reports.aliases, ["q6_reports", "Reports"]);
        assert_eq!(
            reports.value,
            list(&[
                "https://www.jotform.com/uploads/UserNiloth/243231271343446/6111139644845227685/Report%20Card.pdf"
            ])
        );

        assert_eq!(
            submission.answer("formTitle").unwrap().value,
            text("Tutor Appointment Form")
        );

        for bookkeeping in [
            "slug",
            "jsExecutionTracker",
            "submitSource",
            "buildDate",
            "uploadServerUrl",
            "eventObserver",
            "timeToSubmit",
            "temp_upload",
            "file_server",
            "preview",
            "validatedNewRequiredFieldIDs",
            "path",
            "username",
            "ip",
        ] {
            assert!(
                submission.answer(bookkeeping).is_none(),
                "{bookkeeping} should not be an answer"
            );
        }
        assert_eq!(submission.answers.len(), 12);
    }

    #[tokio::test]
    async fn jotform_real_delivery_with_crlf_line_ends_decodes_the_same() {
        let Some(path) = jotform_corpus_file() else {
            return;
        };
        let lf = std::fs::read(&path).unwrap();
        let content_type =
            "multipart/form-data; boundary=------------------------J1JNT4vbVO4FCC1qLG4HSv";
        let crlf: Vec<u8> = String::from_utf8(lf.clone())
            .unwrap()
            .replace('\n', "\r\n")
            .into_bytes();
        let from_lf = decode(Some(content_type), Bytes::from(lf), &Limits::default())
            .await
            .unwrap();
        let from_crlf = decode(Some(content_type), Bytes::from(crlf), &Limits::default())
            .await
            .unwrap();
        assert_eq!(from_lf, from_crlf);
    }

    fn jotform_fields(raw_request: &str, pretty: &str) -> Vec<(String, String)> {
        vec![
            ("formID".into(), "1".into()),
            ("submissionID".into(), "S".into()),
            ("rawRequest".into(), raw_request.into()),
            ("pretty".into(), pretty.into()),
        ]
    }

    #[test]
    fn jotform_compound_answers_keep_part_order_and_skip_empty_parts() {
        let fields = jotform_fields(
            r#"{"q4_fullName":{"prefix":"Dr","first":"Ada","middle":"","last":"Lovelace"},
                "q5_address":{"addr_line1":"1 Main St","addr_line2":"","city":"Springfield"},
                "q6_colors":["Red","Blue"],
                "q7_booking":{"implementation":"new","date":"2024-11-27 10:00","duration":"60","timezone":"Europe/Berlin (GMT+01:00)"}}"#,
            "Full Name:Dr Ada Lovelace, Address:1 Main St Springfield, Colors:Red, Blue",
        );
        let submission = jotform(&fields, Vec::new()).unwrap();
        let name = submission.answer("fullName").unwrap();
        assert_eq!(name.value, text("Dr Ada Lovelace"));
        assert_eq!(name.aliases, ["q4_fullName", "Full Name"]);
        assert_eq!(
            submission.answer("Address").unwrap().value,
            text("1 Main St Springfield")
        );
        assert_eq!(
            submission.answer("Colors").unwrap().value,
            list(&["Red", "Blue"])
        );
        assert_eq!(
            submission.answer("booking").unwrap().value,
            text("2024-11-27 10:00 Europe/Berlin (GMT+01:00)")
        );
        assert!(submission.answers.iter().all(|a| a.id != "formTitle"));
    }

    #[test]
    fn jotform_pretty_labels_are_skipped_when_unsure() {
        // The value "Yes" of q2 never appears after q1's match; a label with a
        // colon is not trusted.
        let fields = jotform_fields(
            r#"{"q1_first":"Yes","q2_second":"Maybe","q3_third":"Later"}"#,
            "First:Yes, Odd: label:Later",
        );
        let submission = jotform(&fields, Vec::new()).unwrap();
        assert_eq!(
            submission.answer("first").unwrap().aliases,
            ["q1_first", "First"]
        );
        assert_eq!(submission.answer("second").unwrap().aliases, ["q2_second"]);
        assert_eq!(submission.answer("third").unwrap().aliases, ["q3_third"]);
    }

    #[test]
    fn jotform_raw_request_that_is_not_an_object_is_malformed() {
        let fields = jotform_fields("[1]", "");
        assert!(matches!(
            jotform(&fields, Vec::new()),
            Err(PayloadError::Malformed(_))
        ));
        let fields = jotform_fields("{oops", "");
        assert!(matches!(
            jotform(&fields, Vec::new()),
            Err(PayloadError::Malformed(_))
        ));
    }

    #[test]
    fn jotform_question_names_need_digits_and_a_name() {
        assert_eq!(
            jotform_question_name("q3_studentsName"),
            Some("studentsName")
        );
        assert_eq!(jotform_question_name("q_name"), None);
        assert_eq!(jotform_question_name("q3_"), None);
        assert_eq!(jotform_question_name("quality"), None);
    }
}
