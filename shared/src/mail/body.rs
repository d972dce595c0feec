//! A message's body, in two steps, so that the raw message can go before
//! the expensive part:
//!
//! 1. [`Bodies::collect`] copies the text and HTML parts of the body out of
//!    the parsed message, each up to its limit ([`MailLimits`]): longer
//!    parts are read only in part, with a note, and stay whole in the raw
//!    message. After this the message and the raw bytes can be dropped.
//! 2. [`Bodies::read`] turns them into the message's text, the text to take
//!    the reply from, and the sanitized HTML; each HTML part is read once
//!    ([`html::read`]).
//!
//! A 5 MB message thus never holds its raw bytes, its decoded parts and an
//! HTML parser's tree at once.

use std::collections::BTreeMap;

use mail_parser::{Message, PartType};

use super::html;
use super::parse::MailLimits;

/// One part of the body, read up to its limit.
#[derive(Debug)]
enum Body {
    Text(String),
    Html(String),
}

/// The text and HTML parts of a message's body, copied out of it.
#[derive(Debug, Default)]
pub struct Bodies {
    /// By part id.
    parts: BTreeMap<u32, Body>,
    /// The parts of the text body (text, or HTML when a message has only
    /// HTML), in order.
    text_body: Vec<u32>,
    /// The parts of the HTML body, in order.
    html_body: Vec<u32>,
}

/// What the body says.
#[derive(Debug, Default)]
pub struct BodyRead {
    /// The text (text parts as they are, HTML converted at
    /// [`html::TEXT_WIDTH`] columns).
    pub text: String,
    /// The same, except that HTML is converted without wrapping (see
    /// [`html::to_text_unwrapped`]): what the reply is taken from. None
    /// when it is the text itself (a body without HTML).
    pub reply_source: Option<String>,
    /// The sanitized HTML body, when there is one.
    pub html: Option<String>,
}

impl Bodies {
    /// Copies the body's parts out of `message`, each up to its limit;
    /// `note` gets a sentence for each part read only in part.
    pub fn collect(
        message: &Message<'_>,
        limits: &MailLimits,
        mut note: impl FnMut(String),
    ) -> Self {
        let mut bodies = Bodies {
            text_body: message.text_body.clone(),
            html_body: message.html_body.clone(),
            ..Bodies::default()
        };
        for id in message.text_body.iter().chain(&message.html_body) {
            if bodies.parts.contains_key(id) {
                continue;
            }
            let body = match message.parts.get(*id as usize).map(|part| &part.body) {
                Some(PartType::Text(text)) => {
                    let head = text_head(text, limits.max_text_read);
                    if head.len() < text.len() {
                        note(read_only("the text body", text.len(), limits.max_text_read));
                    }
                    Body::Text(head.trim_end().to_owned())
                }
                Some(PartType::Html(markup)) => {
                    let head = html::head(markup, limits.max_html_read);
                    if head.len() < markup.len() {
                        note(read_only(
                            "the HTML body",
                            markup.len(),
                            limits.max_html_read,
                        ));
                    }
                    Body::Html(head.to_owned())
                }
                _ => continue,
            };
            bodies.parts.insert(*id, body);
        }
        bodies
    }

    /// The text, the reply's source and the sanitized HTML (see
    /// [`BodyRead`]).
    pub fn read(self) -> BodyRead {
        let Bodies {
            mut parts,
            text_body,
            html_body,
        } = self;
        let mut htmls: BTreeMap<u32, html::HtmlRead> = BTreeMap::new();
        for (id, body) in &mut parts {
            if let Body::Html(markup) = body {
                let markup = std::mem::take(markup);
                htmls.insert(*id, html::read(&markup));
            }
        }
        let (text, reply_source) = texts(&parts, &htmls, &text_body, &html_body);
        let sanitized: Vec<&str> = html_body
            .iter()
            .filter_map(|id| htmls.get(id))
            .map(|read| read.sanitized.as_str())
            .collect();
        let html = (!sanitized.is_empty()).then(|| sanitized.join("\n"));
        BodyRead {
            text,
            reply_source,
            html,
        }
    }
}

/// The text and the reply's source of the text body; the HTML body's when
/// the text body is empty (an empty text/plain next to a real HTML part).
fn texts(
    parts: &BTreeMap<u32, Body>,
    htmls: &BTreeMap<u32, html::HtmlRead>,
    text_body: &[u32],
    html_body: &[u32],
) -> (String, Option<String>) {
    let join = |parts: Vec<&str>| {
        let joined = parts.join("\n\n");
        let trimmed = joined.trim_matches('\n');
        if trimmed.len() == joined.len() {
            joined
        } else {
            trimmed.to_owned()
        }
    };
    let of = |ids: &[u32], wrapped: bool| -> Vec<&str> {
        ids.iter()
            .filter_map(|id| match (parts.get(id), htmls.get(id)) {
                (Some(Body::Text(text)), _) => Some(text.as_str()),
                (_, Some(read)) if wrapped => Some(read.text.as_str()),
                (_, Some(read)) => Some(read.unwrapped.as_str()),
                _ => None,
            })
            .collect()
    };
    let text = join(of(text_body, true));
    if text.trim().is_empty() {
        let html_only: Vec<u32> = html_body
            .iter()
            .copied()
            .filter(|id| htmls.contains_key(id))
            .collect();
        if !html_only.is_empty() {
            return (
                join(of(&html_only, true)),
                Some(join(of(&html_only, false))),
            );
        }
    }
    let has_html = text_body.iter().any(|id| htmls.contains_key(id));
    let reply_source = has_html.then(|| join(of(text_body, false)));
    (text, reply_source)
}

/// The first lines of `text` within `max` bytes: cut after the last line
/// break within them, or on a character boundary when a line is longer
/// than half of them.
fn text_head(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let head = crate::domain::bounds::excerpt(text, max);
    match head.rfind('\n') {
        Some(end) if end >= max / 2 => &head[..=end],
        _ => head,
    }
}

/// The note for a body part read only in part.
fn read_only(what: &str, size: usize, read: usize) -> String {
    format!(
        "{what} ({}) was read only up to its first {}; the whole part is in the raw message",
        super::parse::human_size(size),
        super::parse::human_size(read)
    )
}
