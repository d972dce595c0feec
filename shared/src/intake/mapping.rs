//! Turning checked answers into ticket fields by the form's mapping: a
//! mapping value names a field, or is a minijinja template over the answers.

use std::collections::BTreeMap;

use crate::config::{Form, Spanned};

use super::answers::Answers;

/// The mapped ticket fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapped {
    /// Summary line (never empty).
    pub summary: String,
    /// Description.
    pub description: String,
    /// The requester's address as answered (checked by the caller).
    pub requester_email: Option<String>,
    /// The requester's name.
    pub requester_name: Option<String>,
    /// Custom fields.
    pub custom_fields: BTreeMap<String, serde_json::Value>,
    /// Components named by an answer.
    pub components: Vec<String>,
    /// Priority named by an answer.
    pub priority: Option<String>,
}

/// Why a mapping failed (a template that fails to render).
#[derive(Debug, thiserror::Error)]
#[error("mapping {what} failed: {reason}")]
pub struct MappingError {
    /// Which mapping.
    pub what: String,
    /// Why.
    pub reason: String,
}

fn render(source: &Spanned<String>, answers: &Answers, what: &str) -> Result<String, MappingError> {
    let text = &source.value;
    if !text.contains("{{") {
        return Ok(answers.get(text).cloned().unwrap_or_default());
    }
    let env = minijinja::Environment::new();
    env.render_str(text, answers)
        .map(|s| s.trim().to_owned())
        .map_err(|e| MappingError {
            what: what.to_owned(),
            reason: e.to_string(),
        })
}

/// Applies the form's mapping to the answers.
pub fn map_answers(form: &Form, form_id: &str, answers: &Answers) -> Result<Mapped, MappingError> {
    let map = &form.map;
    let summary = crate::tickets::summary_line(&render(&map.summary, answers, "summary")?);
    let summary = if summary.is_empty() {
        format!("{} submission", form.title.as_deref().unwrap_or(form_id))
    } else {
        summary
    };
    let description = match &map.description {
        Some(source) => render(source, answers, "description")?,
        None => labelled_answers(form, answers),
    };
    let optional =
        |source: &Option<Spanned<String>>, what: &str| -> Result<Option<String>, MappingError> {
            source
                .as_ref()
                .map(|s| render(s, answers, what))
                .transpose()
                .map(|v| v.filter(|s| !s.is_empty()))
        };
    let mut custom_fields = BTreeMap::new();
    for (name, source) in &map.custom_fields {
        let value = render(source, answers, name)?;
        if !value.is_empty() {
            custom_fields.insert(name.clone(), serde_json::Value::String(value));
        }
    }
    let components = optional(&map.components, "components")?
        .map(|s| {
            s.split(',')
                .map(|c| c.trim().to_owned())
                .filter(|c| !c.is_empty())
                .collect()
        })
        .unwrap_or_default();
    Ok(Mapped {
        summary,
        description,
        requester_email: optional(&map.requester_email, "requester_email")?,
        requester_name: optional(&map.requester_name, "requester_name")?,
        custom_fields,
        components,
        priority: optional(&map.priority, "priority")?,
    })
}

/// "Label: answer" lines in the form's field order.
pub fn labelled_answers(form: &Form, answers: &Answers) -> String {
    form.fields
        .iter()
        .filter_map(|(id, field)| {
            answers
                .get(id)
                .map(|value| format!("{}: {value}", field.label.as_deref().unwrap_or(id)))
        })
        .collect::<Vec<_>>()
        .join("\n")
}
