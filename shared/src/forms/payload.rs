//! Decoding an HTTP request body into a [`RawSubmission`]: named answers and
//! uploaded files, before any form configuration is applied.
//!
//! Three media types are understood:
//!
//! - `application/json`: a Typeform or Tally delivery (recognised by shape and
//!   handed to [`crate::forms::providers`]), or else a flat object of fields;
//! - `application/x-www-form-urlencoded`: a plain HTML form;
//! - `multipart/form-data`: a plain HTML form with file uploads, or a Jotform
//!   delivery (recognised by its `rawRequest`, `formID` and `submissionID`
//!   fields).
//!
//! Field names are kept as sent; a name ending in `[]` (the PHP convention for
//! checkbox groups) is also answered under the name without the brackets.

use std::collections::HashMap;
use std::fmt;

use bytes::Bytes;
use futures::stream;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::forms::providers;

/// A file uploaded in a `multipart/form-data` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadedFile {
    /// The name of the form field the file was sent in.
    pub field: String,
    /// The file name the client gave, reduced to its last path segment.
    pub file_name: String,
    /// The part's content type (`application/octet-stream` when the client
    /// gave none).
    pub content_type: String,
    /// The file's contents.
    pub bytes: Bytes,
}

/// The value of one answer: a single text or a list (checkbox groups,
/// multi-selects, repeated field names, upload URLs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnswerValue {
    /// A single value.
    Text(String),
    /// Several values, in the order they were sent.
    List(Vec<String>),
}

impl AnswerValue {
    /// The value as one text: a list is joined by `", "`.
    pub fn as_text(&self) -> String {
        match self {
            Self::Text(text) => text.clone(),
            Self::List(items) => items.join(", "),
        }
    }

    /// The value as a list: a text is a list of one item (none when empty).
    pub fn to_list(&self) -> Vec<String> {
        match self {
            Self::Text(text) if text.is_empty() => Vec::new(),
            Self::Text(text) => vec![text.clone()],
            Self::List(items) => items.clone(),
        }
    }

    /// Whether the value carries nothing (an empty text, or a list of empty
    /// items).
    pub fn is_empty(&self) -> bool {
        match self {
            Self::Text(text) => text.trim().is_empty(),
            Self::List(items) => items.iter().all(|item| item.trim().is_empty()),
        }
    }
}

/// One named answer of a submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The primary name: the field name, Typeform field `ref`, Tally field
    /// `key`, or Jotform short name (`studentsName` for `q3_studentsName`).
    pub id: String,
    /// Other names a form configuration may use for the same answer: the
    /// Typeform field id and title, the Tally label, the Jotform full name
    /// (`q3_studentsName`) and its label.
    pub aliases: Vec<String>,
    /// The answer's value.
    pub value: AnswerValue,
}

impl Answer {
    /// An answer with no aliases.
    pub fn new(id: impl Into<String>, value: AnswerValue) -> Self {
        Self {
            id: id.into(),
            aliases: Vec::new(),
            value,
        }
    }

    /// Whether `name` is this answer's id or one of its aliases (exact
    /// match).
    pub fn is_named(&self, name: &str) -> bool {
        self.id == name || self.aliases.iter().any(|alias| alias == name)
    }
}

/// Who produced the submission's body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    /// A plain HTML form or a JSON object of fields.
    Plain,
    /// A Typeform webhook delivery.
    Typeform,
    /// A Tally webhook delivery.
    Tally,
    /// A Jotform webhook delivery.
    Jotform,
}

impl Provider {
    /// The lowercase name (`plain`, `typeform`, `tally`, `jotform`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Plain => "plain",
            Self::Typeform => "typeform",
            Self::Tally => "tally",
            Self::Jotform => "jotform",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A decoded submission: answers by name and uploaded files, not yet mapped
/// to ticket fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawSubmission {
    /// Who produced the body.
    pub provider: Provider,
    /// The provider's id of this submission, when it has one (used to make
    /// redelivered webhooks idempotent).
    pub submission_id: Option<String>,
    /// The answers, in the order they were found.
    pub answers: Vec<Answer>,
    /// Uploaded files (multipart bodies only).
    pub files: Vec<UploadedFile>,
}

impl RawSubmission {
    /// The first answer whose id or alias is `name`; ids win over aliases.
    pub fn answer(&self, name: &str) -> Option<&Answer> {
        self.answers
            .iter()
            .find(|answer| answer.id == name)
            .or_else(|| self.answers.iter().find(|answer| answer.is_named(name)))
    }
}

/// Limits on uploaded files in a multipart body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest single file, in bytes.
    pub max_file_bytes: usize,
    /// The largest total of all files, in bytes.
    pub max_total_bytes: usize,
    /// The most files in one submission.
    pub max_files: usize,
}

impl Default for Limits {
    /// 10 MiB a file, 25 MiB in all, 10 files.
    fn default() -> Self {
        Self {
            max_file_bytes: 10 * 1024 * 1024,
            max_total_bytes: 25 * 1024 * 1024,
            max_files: 10,
        }
    }
}

/// Why a body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// The content type is missing or not one of the three understood.
    #[error(
        "unsupported media type `{0}`: expected application/json, \
         application/x-www-form-urlencoded or multipart/form-data"
    )]
    UnsupportedMediaType(String),
    /// An upload limit was exceeded.
    #[error("{what} exceeds the limit of {limit}")]
    TooLarge {
        /// What was too large, e.g. "size in bytes of file `a.png` (field `attachment`)".
        what: String,
        /// The limit that was exceeded.
        limit: usize,
    },
    /// The body does not have the shape its content type promises.
    #[error("malformed payload: {0}")]
    Malformed(String),
}

/// The content type named in errors when the request had none.
const NO_CONTENT_TYPE: &str = "(none)";

/// Decodes a request body by its `Content-Type` header value.
///
/// # Errors
///
/// [`PayloadError::UnsupportedMediaType`] for a missing or unknown content
/// type, [`PayloadError::TooLarge`] when uploads exceed `limits`, and
/// [`PayloadError::Malformed`] for a body that does not parse (naming the
/// field where there is one).
pub async fn decode(
    content_type: Option<&str>,
    body: Bytes,
    limits: &Limits,
) -> Result<RawSubmission, PayloadError> {
    let raw_type = content_type.map(str::trim).unwrap_or_default();
    if raw_type.is_empty() {
        return Err(PayloadError::UnsupportedMediaType(NO_CONTENT_TYPE.into()));
    }
    let mime: mime::Mime = raw_type
        .parse()
        .map_err(|_| PayloadError::UnsupportedMediaType(raw_type.to_owned()))?;
    match (mime.type_(), mime.subtype()) {
        (mime::APPLICATION, mime::JSON) => decode_json(&body),
        (mime::APPLICATION, mime::WWW_FORM_URLENCODED) => decode_urlencoded(&body),
        (mime::MULTIPART, mime::FORM_DATA) => {
            let boundary = mime.get_param(mime::BOUNDARY).ok_or_else(|| {
                PayloadError::Malformed("multipart/form-data without a boundary".into())
            })?;
            decode_multipart(boundary.as_str(), body, limits).await
        }
        _ => Err(PayloadError::UnsupportedMediaType(
            mime.essence_str().to_owned(),
        )),
    }
}

// ---------------------------------------------------------------------------
// JSON

fn decode_json(body: &[u8]) -> Result<RawSubmission, PayloadError> {
    // Some senders prefix a byte order mark, which JSON does not allow.
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|err| PayloadError::Malformed(format!("invalid JSON: {err}")))?;
    let Some(object) = value.as_object() else {
        return Err(PayloadError::Malformed(format!(
            "expected a JSON object of fields, found {}",
            json_kind(&value)
        )));
    };
    if providers::is_typeform(object) {
        return providers::typeform(&value);
    }
    if providers::is_tally(object) {
        return providers::tally(&value);
    }
    // Parse again keeping the fields in the order they were sent.
    let ordered: OrderedJson = serde_json::from_slice(body)
        .map_err(|err| PayloadError::Malformed(format!("invalid JSON: {err}")))?;
    let OrderedJson::Object(fields) = ordered else {
        return Err(PayloadError::Malformed(
            "expected a JSON object of fields".into(),
        ));
    };
    let mut answers = Vec::with_capacity(fields.len());
    for (name, value) in fields {
        let value = plain_json_value(&name, value)?;
        answers.push(named_answer(name, value));
    }
    Ok(RawSubmission {
        provider: Provider::Plain,
        submission_id: None,
        answers,
        files: Vec::new(),
    })
}

fn plain_json_value(name: &str, value: OrderedJson) -> Result<AnswerValue, PayloadError> {
    match value {
        OrderedJson::Array(items) => {
            let mut list = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    OrderedJson::Null => {}
                    OrderedJson::Array(_) | OrderedJson::Object(_) => {
                        return Err(PayloadError::Malformed(format!(
                            "field `{name}`: a list may hold only strings, numbers and booleans"
                        )));
                    }
                    scalar => list.push(scalar.scalar_text().unwrap_or_default()),
                }
            }
            Ok(AnswerValue::List(list))
        }
        OrderedJson::Object(_) => Err(PayloadError::Malformed(format!(
            "field `{name}`: nested objects are not allowed; send a string, number, boolean or list"
        ))),
        scalar => Ok(AnswerValue::Text(scalar.scalar_text().unwrap_or_default())),
    }
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// A JSON value whose objects keep their keys in document order
/// (`serde_json::Value` sorts them unless a crate feature says otherwise).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum OrderedJson {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as written by serde_json.
    Number(serde_json::Number),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<OrderedJson>),
    /// An object, keys in document order.
    Object(Vec<(String, OrderedJson)>),
}

impl OrderedJson {
    /// The text of a string, number or boolean (`null` is empty); `None` for
    /// arrays and objects.
    pub(crate) fn scalar_text(&self) -> Option<String> {
        match self {
            Self::Null => Some(String::new()),
            Self::Bool(value) => Some(value.to_string()),
            Self::Number(value) => Some(value.to_string()),
            Self::String(value) => Some(value.clone()),
            Self::Array(_) | Self::Object(_) => None,
        }
    }
}

impl<'de> serde::Deserialize<'de> for OrderedJson {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(OrderedJsonVisitor)
    }
}

struct OrderedJsonVisitor;

impl<'de> Visitor<'de> for OrderedJsonVisitor {
    type Value = OrderedJson;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<OrderedJson, E> {
        Ok(OrderedJson::Bool(value))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<OrderedJson, E> {
        Ok(OrderedJson::Number(value.into()))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<OrderedJson, E> {
        Ok(OrderedJson::Number(value.into()))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<OrderedJson, E> {
        serde_json::Number::from_f64(value)
            .map(OrderedJson::Number)
            .ok_or_else(|| E::custom("a number that is not finite"))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<OrderedJson, E> {
        Ok(OrderedJson::String(value.to_owned()))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<OrderedJson, E> {
        Ok(OrderedJson::String(value))
    }

    fn visit_unit<E: de::Error>(self) -> Result<OrderedJson, E> {
        Ok(OrderedJson::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<OrderedJson, E> {
        Ok(OrderedJson::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<OrderedJson, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(OrderedJson::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OrderedJson, A::Error> {
        let mut entries: Vec<(String, OrderedJson)> = Vec::new();
        let mut positions: HashMap<String, usize> = HashMap::new();
        while let Some((key, value)) = map.next_entry::<String, OrderedJson>()? {
            // Like serde_json: a repeated key keeps its last value.
            if let Some(entry) = positions.get(&key).and_then(|&at| entries.get_mut(at)) {
                entry.1 = value;
            } else {
                positions.insert(key.clone(), entries.len());
                entries.push((key, value));
            }
        }
        Ok(OrderedJson::Object(entries))
    }
}

// ---------------------------------------------------------------------------
// Plain fields (urlencoded and multipart)

/// An answer for a plain field name: `name[]` is answered as `name` with the
/// bracketed name as alias, and its value is always a list.
fn named_answer(name: String, value: AnswerValue) -> Answer {
    match name.strip_suffix("[]") {
        Some(short) if !short.is_empty() => Answer {
            id: short.to_owned(),
            aliases: vec![name.clone()],
            value: AnswerValue::List(value.to_list()),
        },
        _ => Answer::new(name, value),
    }
}

/// Collects `(name, value)` pairs in first-seen order; a repeated name
/// becomes a list.
#[derive(Default)]
struct FieldCollector {
    fields: Vec<(String, Vec<String>)>,
    positions: HashMap<String, usize>,
}

impl FieldCollector {
    fn push(&mut self, name: String, value: String) {
        if let Some((_, values)) = self
            .positions
            .get(&name)
            .and_then(|&at| self.fields.get_mut(at))
        {
            values.push(value);
        } else {
            self.positions.insert(name.clone(), self.fields.len());
            self.fields.push((name, vec![value]));
        }
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.positions
            .get(name)
            .and_then(|&at| self.fields.get(at))
            .and_then(|(_, values)| values.first())
            .map(String::as_str)
    }

    fn into_answers(self) -> Vec<Answer> {
        self.fields
            .into_iter()
            .map(|(name, mut values)| {
                let value = if values.len() == 1 {
                    AnswerValue::Text(values.pop().unwrap_or_default())
                } else {
                    AnswerValue::List(values)
                };
                named_answer(name, value)
            })
            .collect()
    }
}

fn decode_urlencoded(body: &[u8]) -> Result<RawSubmission, PayloadError> {
    let mut fields = FieldCollector::default();
    for pair in body.split(|byte| *byte == b'&') {
        if pair.is_empty() {
            continue;
        }
        let (raw_name, raw_value) = match pair.iter().position(|byte| *byte == b'=') {
            Some(at) => (&pair[..at], &pair[at + 1..]),
            None => (pair, &b""[..]),
        };
        let name = String::from_utf8(percent_decode(raw_name, true)).map_err(|_| {
            PayloadError::Malformed(format!(
                "a field name is not valid UTF-8: `{}`",
                String::from_utf8_lossy(raw_name)
            ))
        })?;
        let value = String::from_utf8(percent_decode(raw_value, true))
            .map_err(|_| PayloadError::Malformed(format!("field `{name}` is not valid UTF-8")))?;
        fields.push(name, value);
    }
    Ok(RawSubmission {
        provider: Provider::Plain,
        submission_id: None,
        answers: fields.into_answers(),
        files: Vec::new(),
    })
}

/// Decodes `%XX` escapes (and `+` as a space when `plus_is_space`); a `%`
/// not followed by two hex digits is kept as is, as browsers do.
pub(crate) fn percent_decode(input: &[u8], plus_is_space: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut at = 0;
    while at < input.len() {
        match input[at] {
            b'+' if plus_is_space => {
                out.push(b' ');
                at += 1;
            }
            b'%' => {
                let high = input.get(at + 1).and_then(|b| (*b as char).to_digit(16));
                let low = input.get(at + 2).and_then(|b| (*b as char).to_digit(16));
                match (high, low) {
                    (Some(high), Some(low)) => {
                        // Both digits are below 16, so the byte fits.
                        out.push(u8::try_from(high * 16 + low).unwrap_or(b'?'));
                        at += 3;
                    }
                    _ => {
                        out.push(b'%');
                        at += 1;
                    }
                }
            }
            byte => {
                out.push(byte);
                at += 1;
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Multipart

/// Decodes a multipart/form-data body: text parts are fields, file parts
/// uploads within `limits`; a Jotform delivery is read as one.
async fn decode_multipart(
    boundary: &str,
    body: Bytes,
    limits: &Limits,
) -> Result<RawSubmission, PayloadError> {
    let body = normalize_bare_lf(boundary, body);
    let source = stream::once(async move { Ok::<Bytes, std::convert::Infallible>(body) });
    let mut multipart = multer::Multipart::new(source, boundary);

    let mut fields = FieldCollector::default();
    let mut files: Vec<UploadedFile> = Vec::new();
    let mut total_bytes: usize = 0;

    while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
        let Some(name) = field.name().map(str::to_owned) else {
            // A part without a name cannot be answered; skip it.
            continue;
        };
        let Some(file_name) = field.file_name().map(|raw| base_name(raw).to_owned()) else {
            let text = text_part(field, &name).await?;
            fields.push(name, text);
            continue;
        };
        let Some(file) = file_part(field, name, file_name, limits, total_bytes).await? else {
            continue;
        };
        if files.len() >= limits.max_files {
            return Err(PayloadError::TooLarge {
                what: "number of uploaded files".into(),
                limit: limits.max_files,
            });
        }
        total_bytes += file.bytes.len();
        files.push(file);
    }
    multipart_submission(fields, files)
}

/// The text of the part `field` named `name`; malformed unless UTF-8.
async fn text_part(field: multer::Field<'_>, name: &str) -> Result<String, PayloadError> {
    let bytes = field.bytes().await.map_err(multipart_error)?;
    String::from_utf8(bytes.to_vec())
        .map_err(|_| PayloadError::Malformed(format!("field `{name}` is not valid UTF-8")))
}

/// The file `file_name` sent in the part `field` named `name`, read within
/// `limits` given `stored` bytes of earlier files; `None` for an empty file
/// input, as browsers send it.
async fn file_part(
    mut field: multer::Field<'_>,
    name: String,
    file_name: String,
    limits: &Limits,
    stored: usize,
) -> Result<Option<UploadedFile>, PayloadError> {
    let content_type = field.content_type().map_or_else(
        || "application/octet-stream".to_owned(),
        ToString::to_string,
    );
    let mut contents: Vec<u8> = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        check_upload_size(
            limits,
            &name,
            &file_name,
            stored,
            contents.len() + chunk.len(),
        )?;
        contents.extend_from_slice(&chunk);
    }
    if file_name.is_empty() && contents.is_empty() {
        return Ok(None);
    }
    Ok(Some(UploadedFile {
        field: name,
        file_name,
        content_type,
        bytes: Bytes::from(contents),
    }))
}

/// A file of `size` bytes (so far) stays within the limit for one file
/// and, with the `stored` bytes of earlier files, within the total limit.
fn check_upload_size(
    limits: &Limits,
    name: &str,
    file_name: &str,
    stored: usize,
    size: usize,
) -> Result<(), PayloadError> {
    if size > limits.max_file_bytes {
        return Err(PayloadError::TooLarge {
            what: format!("size in bytes of file `{file_name}` (field `{name}`)"),
            limit: limits.max_file_bytes,
        });
    }
    if stored + size > limits.max_total_bytes {
        return Err(PayloadError::TooLarge {
            what: "total size in bytes of uploaded files".into(),
            limit: limits.max_total_bytes,
        });
    }
    Ok(())
}

/// The submission of a multipart body's `fields` and `files`: a Jotform
/// delivery when it has Jotform's `rawRequest`, `formID` and
/// `submissionID` fields, plain fields otherwise.
fn multipart_submission(
    fields: FieldCollector,
    files: Vec<UploadedFile>,
) -> Result<RawSubmission, PayloadError> {
    if fields.get("rawRequest").is_some()
        && fields.get("formID").is_some()
        && fields.get("submissionID").is_some()
    {
        let jotform_fields: Vec<(String, String)> = fields
            .fields
            .into_iter()
            .map(|(name, mut values)| (name, values.pop().unwrap_or_default()))
            .collect();
        return providers::jotform(&jotform_fields, files);
    }

    Ok(RawSubmission {
        provider: Provider::Plain,
        submission_id: None,
        answers: fields.into_answers(),
        files,
    })
}

fn multipart_error(err: multer::Error) -> PayloadError {
    match err {
        multer::Error::IncompleteFieldData { field_name } => PayloadError::Malformed(format!(
            "multipart body ends inside field `{}`",
            field_name.unwrap_or_default()
        )),
        other => PayloadError::Malformed(format!("multipart body: {other}")),
    }
}

/// Some senders (and files saved by hand) use bare LF line ends where
/// multipart requires CRLF. When the body holds no CRLF at all but does
/// hold a LF-terminated delimiter line, every LF is widened to CRLF; any
/// other body is left untouched.
fn normalize_bare_lf(boundary: &str, body: Bytes) -> Bytes {
    let has_crlf = body.windows(2).any(|pair| pair == b"\r\n");
    if has_crlf {
        return body;
    }
    let delimiter = format!("--{boundary}\n");
    let has_lf_delimiter = body
        .windows(delimiter.len())
        .any(|window| window == delimiter.as_bytes());
    if !has_lf_delimiter {
        return body;
    }
    let mut widened = Vec::with_capacity(body.len() + body.len() / 32);
    for byte in body.iter() {
        if *byte == b'\n' {
            widened.push(b'\r');
        }
        widened.push(*byte);
    }
    Bytes::from(widened)
}

/// The last path segment of a client-supplied file name (browsers on Windows
/// may send `C:\fakepath\name.png`).
fn base_name(file_name: &str) -> &str {
    file_name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(file_name)
        .trim()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn text(value: &str) -> AnswerValue {
        AnswerValue::Text(value.into())
    }

    fn list(values: &[&str]) -> AnswerValue {
        AnswerValue::List(values.iter().map(|v| (*v).to_owned()).collect())
    }

    async fn decode_str(content_type: &str, body: &str) -> Result<RawSubmission, PayloadError> {
        decode(
            Some(content_type),
            Bytes::from(body.to_owned()),
            &Limits::default(),
        )
        .await
    }

    fn multipart_body(parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
        let mut body = Vec::new();
        for (name, file_name, contents) in parts {
            body.extend_from_slice(b"--XBOUNDARY\r\n");
            match file_name {
                Some(file_name) => {
                    body.extend_from_slice(
                        format!(
                            "Content-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\n\
                             Content-Type: image/png\r\n\r\n"
                        )
                        .as_bytes(),
                    );
                }
                None => body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
                ),
            }
            body.extend_from_slice(contents);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(b"--XBOUNDARY--\r\n");
        body
    }

    const MULTIPART: &str = "multipart/form-data; boundary=XBOUNDARY";

    async fn decode_multipart_parts(
        parts: &[(&str, Option<&str>, &[u8])],
        limits: &Limits,
    ) -> Result<RawSubmission, PayloadError> {
        decode(Some(MULTIPART), Bytes::from(multipart_body(parts)), limits).await
    }

    #[test]
    fn as_text_joins_lists_with_comma_and_space() {
        assert_eq!(list(&["a", "b"]).as_text(), "a, b");
        assert_eq!(text("x").as_text(), "x");
    }

    #[tokio::test]
    async fn plain_json_scalars_become_text_and_arrays_become_lists() {
        let submission = decode_str(
            "application/json; charset=utf-8",
            r#"{"subject":"Printer","count":3,"urgent":true,"ratio":1.5,"none":null,"tags":["a",2,false]}"#,
        )
        .await
        .unwrap();
        assert_eq!(submission.provider, Provider::Plain);
        assert_eq!(submission.submission_id, None);
        let ids: Vec<&str> = submission.answers.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, ["subject", "count", "urgent", "ratio", "none", "tags"]);
        assert_eq!(submission.answer("subject").unwrap().value, text("Printer"));
        assert_eq!(submission.answer("count").unwrap().value, text("3"));
        assert_eq!(submission.answer("urgent").unwrap().value, text("true"));
        assert_eq!(submission.answer("ratio").unwrap().value, text("1.5"));
        assert_eq!(submission.answer("none").unwrap().value, text(""));
        assert_eq!(
            submission.answer("tags").unwrap().value,
            list(&["a", "2", "false"])
        );
    }

    #[tokio::test]
    async fn plain_json_after_a_byte_order_mark_decodes() {
        let submission = decode_str("application/json", "\u{FEFF}{\"a\":\"b\"}")
            .await
            .unwrap();
        assert_eq!(submission.answer("a").unwrap().value, text("b"));
    }

    #[tokio::test]
    async fn plain_json_with_a_nested_object_is_malformed_naming_the_field() {
        let err = decode_str("application/json", r#"{"ok":"1","customer":{"id":7}}"#)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, PayloadError::Malformed(msg) if msg.contains("`customer`")),
            "{err}"
        );
    }

    #[tokio::test]
    async fn plain_json_with_a_list_of_objects_is_malformed_naming_the_field() {
        let err = decode_str("application/json", r#"{"items":[{"id":7}]}"#)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, PayloadError::Malformed(msg) if msg.contains("`items`")),
            "{err}"
        );
    }

    #[tokio::test]
    async fn json_that_is_not_an_object_is_malformed() {
        for body in ["[1,2]", "\"text\"", "42", "null"] {
            let err = decode_str("application/json", body).await.unwrap_err();
            assert!(matches!(err, PayloadError::Malformed(_)), "{body}: {err}");
        }
        let err = decode_str("application/json", "{not json")
            .await
            .unwrap_err();
        assert!(matches!(err, PayloadError::Malformed(_)));
    }

    #[tokio::test]
    async fn urlencoded_fields_decode_and_repeated_names_become_lists() {
        let submission = decode_str(
            "application/x-www-form-urlencoded",
            "email=a%40example.com&subject=Hello+world&topic=billing&topic=access&empty=&flag",
        )
        .await
        .unwrap();
        assert_eq!(submission.provider, Provider::Plain);
        assert_eq!(
            submission.answer("email").unwrap().value,
            text("a@example.com")
        );
        assert_eq!(
            submission.answer("subject").unwrap().value,
            text("Hello world")
        );
        assert_eq!(
            submission.answer("topic").unwrap().value,
            list(&["billing", "access"])
        );
        assert_eq!(submission.answer("empty").unwrap().value, text(""));
        assert_eq!(submission.answer("flag").unwrap().value, text(""));
    }

    #[tokio::test]
    async fn urlencoded_bracketed_names_are_answered_without_brackets_as_lists() {
        let submission = decode_str(
            "application/x-www-form-urlencoded",
            "components%5B%5D=Billing",
        )
        .await
        .unwrap();
        let answer = submission.answer("components").unwrap();
        assert_eq!(answer.aliases, ["components[]"]);
        assert_eq!(answer.value, list(&["Billing"]));
        assert!(submission.answer("components[]").is_some());
    }

    #[tokio::test]
    async fn urlencoded_invalid_utf8_is_malformed_naming_the_field() {
        let err = decode_str("application/x-www-form-urlencoded", "name=%FF%FE")
            .await
            .unwrap_err();
        assert!(
            matches!(&err, PayloadError::Malformed(msg) if msg.contains("`name`")),
            "{err}"
        );
    }

    #[tokio::test]
    async fn unknown_or_missing_content_types_are_unsupported() {
        let err = decode(
            Some("text/plain"),
            Bytes::from_static(b"hi"),
            &Limits::default(),
        )
        .await
        .unwrap_err();
        assert_eq!(err, PayloadError::UnsupportedMediaType("text/plain".into()));
        assert!(err.to_string().contains("text/plain"));
        let err = decode(None, Bytes::new(), &Limits::default())
            .await
            .unwrap_err();
        assert!(matches!(err, PayloadError::UnsupportedMediaType(_)));
        let err = decode(Some("not a type"), Bytes::new(), &Limits::default())
            .await
            .unwrap_err();
        assert_eq!(err, PayloadError::UnsupportedMediaType("not a type".into()));
    }

    #[tokio::test]
    async fn multipart_text_parts_are_fields_and_file_parts_are_files() {
        let submission = decode_multipart_parts(
            &[
                ("subject", None, b"Broken screen"),
                ("topic", None, b"hardware"),
                ("topic", None, b"urgent"),
                (
                    "photo",
                    Some("C:\\fakepath\\screen.png"),
                    b"\x89PNG\r\n\x1a\n",
                ),
            ],
            &Limits::default(),
        )
        .await
        .unwrap();
        assert_eq!(submission.provider, Provider::Plain);
        assert_eq!(
            submission.answer("subject").unwrap().value,
            text("Broken screen")
        );
        assert_eq!(
            submission.answer("topic").unwrap().value,
            list(&["hardware", "urgent"])
        );
        assert_eq!(submission.files.len(), 1);
        let file = &submission.files[0];
        assert_eq!(file.field, "photo");
        assert_eq!(file.file_name, "screen.png");
        assert_eq!(file.content_type, "image/png");
        assert_eq!(&file.bytes[..], b"\x89PNG\r\n\x1a\n");
    }

    #[tokio::test]
    async fn multipart_empty_file_input_is_skipped() {
        let submission = decode_multipart_parts(
            &[("subject", None, b"Hi"), ("photo", Some(""), b"")],
            &Limits::default(),
        )
        .await
        .unwrap();
        assert!(submission.files.is_empty());
        assert!(submission.answer("photo").is_none());
    }

    #[tokio::test]
    async fn multipart_file_over_the_file_limit_is_too_large() {
        let limits = Limits {
            max_file_bytes: 4,
            max_total_bytes: 100,
            max_files: 5,
        };
        let err = decode_multipart_parts(&[("a", Some("a.bin"), b"12345")], &limits)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, PayloadError::TooLarge { what, limit: 4 } if what.contains("a.bin")),
            "{err}"
        );
        // Exactly at the limit is fine.
        let ok = decode_multipart_parts(&[("a", Some("a.bin"), b"1234")], &limits).await;
        assert!(ok.is_ok());
    }

    #[tokio::test]
    async fn multipart_files_over_the_total_limit_are_too_large() {
        let limits = Limits {
            max_file_bytes: 4,
            max_total_bytes: 6,
            max_files: 5,
        };
        let err = decode_multipart_parts(
            &[("a", Some("a.bin"), b"1234"), ("b", Some("b.bin"), b"123")],
            &limits,
        )
        .await
        .unwrap_err();
        assert!(
            matches!(&err, PayloadError::TooLarge { what, limit: 6 } if what.contains("total")),
            "{err}"
        );
    }

    #[tokio::test]
    async fn multipart_with_too_many_files_is_too_large() {
        let limits = Limits {
            max_file_bytes: 10,
            max_total_bytes: 100,
            max_files: 2,
        };
        let parts: [(&str, Option<&str>, &[u8]); 3] = [
            ("a", Some("a.txt"), b"1"),
            ("b", Some("b.txt"), b"2"),
            ("c", Some("c.txt"), b"3"),
        ];
        let err = decode_multipart_parts(&parts, &limits).await.unwrap_err();
        assert!(
            matches!(&err, PayloadError::TooLarge { what, limit: 2 } if what.contains("number")),
            "{err}"
        );
        assert!(
            decode_multipart_parts(&parts[..2], &limits).await.is_ok(),
            "two files are within a limit of two"
        );
    }

    #[tokio::test]
    async fn multipart_invalid_utf8_text_is_malformed_naming_the_field() {
        let err = decode_multipart_parts(&[("comment", None, b"\xff\xfe")], &Limits::default())
            .await
            .unwrap_err();
        assert!(
            matches!(&err, PayloadError::Malformed(msg) if msg.contains("`comment`")),
            "{err}"
        );
    }

    #[tokio::test]
    async fn multipart_without_boundary_or_truncated_is_malformed() {
        let err = decode_str("multipart/form-data", "").await.unwrap_err();
        assert!(matches!(err, PayloadError::Malformed(_)), "{err}");
        let err = decode_str(
            MULTIPART,
            "--XBOUNDARY\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nno end",
        )
        .await
        .unwrap_err();
        assert!(matches!(err, PayloadError::Malformed(_)), "{err}");
    }

    #[tokio::test]
    async fn multipart_with_bare_lf_line_ends_is_accepted() {
        let body = "--XB\nContent-Disposition: form-data; name=\"a\"\n\none\n--XB\n\
                    Content-Disposition: form-data; name=\"b\"\n\ntwo\n--XB--\n";
        let submission = decode_str("multipart/form-data; boundary=XB", body)
            .await
            .unwrap();
        assert_eq!(submission.answer("a").unwrap().value, text("one"));
        assert_eq!(submission.answer("b").unwrap().value, text("two"));
    }

    #[test]
    fn percent_decoding_keeps_stray_percent_signs() {
        assert_eq!(percent_decode(b"100%+sure%2", true), b"100% sure%2");
        assert_eq!(percent_decode(b"a+b%20c", false), b"a+b c");
    }
}
