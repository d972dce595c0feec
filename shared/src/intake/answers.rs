//! Matching a submission's answers to the form's configured fields and
//! checking them: required, type, options, length.

use std::collections::BTreeMap;

use crate::config::{FieldType, Form, FormField};
use crate::domain::EmailAddress;
use crate::forms::payload::{Answer, RawSubmission};

/// One answer that cannot be accepted.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    /// The form field's id.
    pub field: String,
    /// What is wrong, for the person filling in the form.
    pub message: String,
}

/// The answers by configured field id, checked.
pub type Answers = BTreeMap<String, String>;

fn matches(answer: &Answer, id: &str, field: &FormField) -> bool {
    answer.is_named(id) || field.aliases.iter().any(|alias| answer.is_named(alias))
}

/// Finds the answer for each configured field and checks it. Every problem
/// is reported, not just the first.
pub fn check_answers(form: &Form, submission: &RawSubmission) -> Result<Answers, Vec<FieldError>> {
    let mut answers = Answers::new();
    let mut errors = Vec::new();
    for (id, field) in &form.fields {
        let value = submission
            .answers
            .iter()
            .find(|answer| matches(answer, id, field))
            .map(|answer| answer.value.as_text().trim().to_owned())
            .unwrap_or_default();
        match check_one(id, field, &value) {
            Ok(()) => {
                if !value.is_empty() {
                    answers.insert(id.clone(), value);
                }
            }
            Err(message) => errors.push(FieldError {
                field: id.clone(),
                message,
            }),
        }
    }
    if errors.is_empty() {
        Ok(answers)
    } else {
        Err(errors)
    }
}

fn check_one(id: &str, field: &FormField, value: &str) -> Result<(), String> {
    if value.is_empty() {
        return if field.required {
            Err(format!("{id} is required"))
        } else {
            Ok(())
        };
    }
    let length = value.chars().count();
    if length > field.max_len() {
        return Err(format!(
            "{id} is {length} characters long; at most {} are allowed",
            field.max_len()
        ));
    }
    match field.field_type {
        FieldType::Email => EmailAddress::parse(value)
            .ok()
            .filter(EmailAddress::is_public)
            .map(|_| ())
            .ok_or_else(|| format!("{id} must be an email address such as name@example.com")),
        FieldType::Choice => {
            if field.options.iter().any(|o| o.eq_ignore_ascii_case(value)) {
                Ok(())
            } else {
                Err(format!("{id} must be one of: {}", field.options.join(", ")))
            }
        }
        FieldType::Number => value
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite())
            .map(|_| ())
            .ok_or_else(|| format!("{id} must be a number")),
        FieldType::Text | FieldType::Textarea => {
            if value
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
            {
                Err(format!("{id} contains control characters"))
            } else {
                Ok(())
            }
        }
    }
}

/// The most unmatched answers named on a ticket.
const UNMATCHED_LISTED: usize = 50;

/// The field each answer went to, in the submission's order: `None` for an
/// answer no configured field (by id or alias) takes.
pub fn answer_fields<'a>(
    form: &'a Form,
    submission: &'a RawSubmission,
) -> Vec<(&'a Answer, Option<&'a str>)> {
    submission
        .answers
        .iter()
        .map(|answer| {
            let field = form
                .fields
                .iter()
                .find(|(id, field)| matches(answer, id, field))
                .map(|(id, _)| id.as_str());
            (answer, field)
        })
        .collect()
}

/// The answers no field of the form takes (by their names as delivered),
/// the honeypot aside; at most 50. A mapping that names none of a
/// provider's answers shows here instead of failing silently.
pub fn unmatched_answers(form: &Form, submission: &RawSubmission) -> Vec<String> {
    answer_fields(form, submission)
        .into_iter()
        .filter(|(answer, field)| {
            field.is_none()
                && form
                    .honeypot
                    .as_deref()
                    .is_none_or(|pot| !answer.is_named(pot))
        })
        .map(|(answer, _)| {
            crate::domain::bounds::excerpt(&answer.id, crate::domain::bounds::NOTE_INLINE)
                .to_owned()
        })
        .take(UNMATCHED_LISTED)
        .collect()
}

/// Every answer as received, by id, for the timeline (nothing is lost, not
/// even answers the form does not configure).
pub fn all_answers(submission: &RawSubmission) -> BTreeMap<String, String> {
    submission
        .answers
        .iter()
        .map(|answer| (answer.id.clone(), answer.value.as_text()))
        .collect()
}
