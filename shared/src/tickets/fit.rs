//! Fitting a ticket and its timeline entries into store items (the bounds
//! are in [`crate::domain::bounds`]): a text over its bound is written whole
//! to the blob store, and the item keeps an excerpt and a [`BlobRef`] to it.
//! Every channel's text passes here before it is written: a form's
//! description and answers, a mail's subject, text and HTML, a reply, an
//! agent's comment.
//!
//! A blob's name is `attachments/<ticket>/text-<digest>-<what>`, beside the
//! ticket's files (under the prefix the functions may write; a file's name
//! starts with its number or `mail-`, never `text-`), from a digest of its
//! content, so writing a ticket's text again (a retried reply) writes the
//! same blob instead of another. Fitting what already fits changes
//! nothing.

use std::collections::BTreeMap;

use bytes::Bytes;
use sha2::{Digest, Sha256};

use crate::blobs::{BlobError, BlobStore};
use crate::domain::bounds::{self, BlobRef};
use crate::domain::{Ticket, TicketKey, TimelineEvent};

/// Cuts the ticket's description to its bound (the whole kept as a blob),
/// its custom text fields to theirs, its participants to their most.
pub async fn fit_ticket(blobs: &dyn BlobStore, ticket: &mut Ticket) -> Result<(), BlobError> {
    let spill = Spill {
        blobs,
        ticket: &ticket.key,
    };
    let description = std::mem::take(&mut ticket.description);
    let (description, blob) = spill
        .text_cut(description, bounds::TEXT_INLINE, "description.txt")
        .await?;
    ticket.description = description;
    if blob.is_some() {
        ticket.description_blob = blob;
    }
    for value in ticket.custom_fields.values_mut() {
        if let serde_json::Value::String(text) = value
            && !bounds::fits(text, bounds::FIELD_INLINE)
        {
            *text = bounds::excerpt(text, bounds::FIELD_INLINE).to_owned();
        }
    }
    ticket.participants.truncate(bounds::PARTICIPANTS_MAX);
    Ok(())
}

/// [`fit_event`] for each of `events`, in order.
pub async fn fit_events(
    blobs: &dyn BlobStore,
    ticket: &TicketKey,
    events: Vec<TimelineEvent>,
) -> Result<Vec<TimelineEvent>, BlobError> {
    let mut fitted = Vec::with_capacity(events.len());
    for event in events {
        fitted.push(fit_event(blobs, ticket, event).await?);
    }
    Ok(fitted)
}

/// One timeline event of `ticket`, its long texts cut to their bounds and
/// kept whole as blobs.
pub async fn fit_event(
    blobs: &dyn BlobStore,
    ticket: &TicketKey,
    event: TimelineEvent,
) -> Result<TimelineEvent, BlobError> {
    let spill = Spill { blobs, ticket };
    Ok(match event {
        TimelineEvent::EmailIn { .. } => spill.email_in_cut(event).await?,
        TimelineEvent::Comment {
            public,
            body,
            body_blob,
        } => {
            let (body, blob) = spill
                .text_cut(body, bounds::TEXT_INLINE, "comment.txt")
                .await?;
            TimelineEvent::Comment {
                public,
                body,
                body_blob: blob.or(body_blob),
            }
        }
        TimelineEvent::FormSubmitted {
            form,
            submission_id,
            answers,
            answers_blob,
            routing_rules,
            unmatched,
        } => {
            let (answers, blob) = spill.answers_cut(answers).await?;
            TimelineEvent::FormSubmitted {
                form,
                submission_id,
                answers,
                answers_blob: blob.or(answers_blob),
                routing_rules,
                unmatched,
            }
        }
        other => other,
    })
}

/// Where one ticket's long texts go.
struct Spill<'a> {
    blobs: &'a dyn BlobStore,
    ticket: &'a TicketKey,
}

impl Spill<'_> {
    /// `text` cut to `max` bytes, and the blob of the whole when it was cut.
    async fn text_cut(
        &self,
        text: String,
        max: usize,
        what: &str,
    ) -> Result<(String, Option<BlobRef>), BlobError> {
        if bounds::fits(&text, max) {
            return Ok((text, None));
        }
        let excerpt = bounds::excerpt(&text, max).to_owned();
        let blob = self
            .keep_whole(what, "text/plain; charset=utf-8", Bytes::from(text))
            .await?;
        Ok((excerpt, Some(blob)))
    }

    /// A mail's subject, text and HTML cut to their bounds, its list of
    /// left-out parts to its most (counting the rest).
    async fn email_in_cut(&self, event: TimelineEvent) -> Result<TimelineEvent, BlobError> {
        let TimelineEvent::EmailIn {
            message_id,
            from,
            subject,
            subject_blob,
            raw_key,
            text,
            text_blob,
            html,
            html_blob,
            mut skipped,
            mut skipped_unlisted,
            participants_left_out,
            mut automatic,
            authentication,
        } = event
        else {
            return Ok(event);
        };
        let (subject, new_subject_blob) = self
            .text_cut(subject, bounds::SUBJECT_INLINE, "subject.txt")
            .await?;
        let (text, new_text_blob) = match text {
            Some(text) => {
                let (text, blob) = self.text_cut(text, bounds::TEXT_INLINE, "text.txt").await?;
                (Some(text), blob)
            }
            None => (None, None),
        };
        let (html, new_html_blob) = match html {
            Some(html) if !bounds::fits(&html, bounds::HTML_INLINE) => {
                let blob = self
                    .keep_whole("body.html", "text/html; charset=utf-8", Bytes::from(html))
                    .await?;
                (None, Some(blob))
            }
            html => (html, None),
        };
        if skipped.len() > bounds::SKIPPED_LISTED {
            skipped_unlisted += (skipped.len() - bounds::SKIPPED_LISTED) as u64;
            skipped.truncate(bounds::SKIPPED_LISTED);
        }
        for note in skipped.iter_mut().chain(automatic.iter_mut()) {
            bounds::cut(note, bounds::NOTE_INLINE);
        }
        Ok(TimelineEvent::EmailIn {
            message_id,
            from,
            subject,
            subject_blob: new_subject_blob.or(subject_blob),
            raw_key,
            text,
            text_blob: new_text_blob.or(text_blob),
            html,
            html_blob: new_html_blob.or(html_blob),
            skipped,
            skipped_unlisted,
            participants_left_out,
            automatic,
            authentication,
        })
    }

    /// A form's answers as kept inline, and the blob of all of them (a JSON
    /// object) when some had to be cut or left out.
    async fn answers_cut(
        &self,
        answers: BTreeMap<String, String>,
    ) -> Result<(BTreeMap<String, String>, Option<BlobRef>), BlobError> {
        let Some(inline) = answers_inline(&answers) else {
            return Ok((answers, None));
        };
        let whole = serde_json::to_vec(&answers).map_err(|e| BlobError::Backend {
            key: format!("attachments/{}/text-answers.json", self.ticket),
            reason: format!("cannot encode the answers: {e}"),
        })?;
        let blob = self
            .keep_whole("answers.json", "application/json", Bytes::from(whole))
            .await?;
        Ok((inline, Some(blob)))
    }

    /// Writes `bytes` as the blob of `what` and answers where it is.
    async fn keep_whole(
        &self,
        what: &str,
        content_type: &str,
        bytes: Bytes,
    ) -> Result<BlobRef, BlobError> {
        let digest = hex::encode(&Sha256::digest(&bytes)[..8]);
        let blob_key = format!("attachments/{}/text-{digest}-{what}", self.ticket);
        let size = bytes.len() as u64;
        self.blobs.put(&blob_key, content_type, bytes).await?;
        Ok(BlobRef { blob_key, size })
    }
}

/// The answers as kept inline when they do not all fit as they are: each
/// question id and answer cut to [`bounds::ANSWER_INLINE`] bytes, in order,
/// until [`bounds::ANSWERS_INLINE`] bytes in all. `None` when all fit.
fn answers_inline(answers: &BTreeMap<String, String>) -> Option<BTreeMap<String, String>> {
    let mut inline = BTreeMap::new();
    let mut total = 0;
    let mut cut = false;
    for (question, answer) in answers {
        let question_cut = bounds::excerpt(question, bounds::ANSWER_INLINE);
        let answer_cut = bounds::excerpt(answer, bounds::ANSWER_INLINE);
        cut |= question_cut.len() < question.len() || answer_cut.len() < answer.len();
        total += question_cut.len() + answer_cut.len();
        if total > bounds::ANSWERS_INLINE {
            return Some(inline);
        }
        inline.insert(question_cut.to_owned(), answer_cut.to_owned());
    }
    cut.then_some(inline)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_that_fit_are_kept_as_they_are() {
        let answers = BTreeMap::from([("a".to_owned(), "short".to_owned())]);
        assert_eq!(answers_inline(&answers), None);
    }

    #[test]
    fn a_long_answer_is_cut_and_many_answers_stop_at_the_budget() {
        let long = BTreeMap::from([("a".to_owned(), "x".repeat(500_000))]);
        let inline = answers_inline(&long).unwrap_or_default();
        assert_eq!(inline["a"].len(), bounds::ANSWER_INLINE);

        let many: BTreeMap<String, String> = (0..20_000)
            .map(|i| (format!("q{i:05}"), "y".repeat(100)))
            .collect();
        let inline = answers_inline(&many).unwrap_or_default();
        let size: usize = inline.iter().map(|(q, a)| q.len() + a.len()).sum();
        assert!(size <= bounds::ANSWERS_INLINE, "{size}");
        assert!(inline.len() > 100, "{}", inline.len());
    }
}
