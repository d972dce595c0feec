//! How much of what a customer sends a ticket or a timeline entry keeps
//! inline. Every store item stays small (DynamoDB holds at most 400 KB per
//! item): text beyond these bounds is kept whole in the blob store and the
//! item keeps a bounded excerpt with a [`BlobRef`] to the rest; lists that
//! grow with the input keep their first items and count the others.

use serde::{Deserialize, Serialize};

/// The most bytes of a text (a description, a mail's text, a comment) kept
/// inline.
pub const TEXT_INLINE: usize = 64 * 1024;

/// The most bytes of a mail's sanitized HTML kept inline; longer HTML is
/// kept only in the blob store (a cut would not be HTML any more).
pub const HTML_INLINE: usize = 96 * 1024;

/// The most bytes of a mail's subject kept inline.
pub const SUBJECT_INLINE: usize = 2 * 1024;

/// The most bytes of one form answer (and of its question id) kept inline.
pub const ANSWER_INLINE: usize = 4 * 1024;

/// The most bytes of all a form's answers kept inline together.
pub const ANSWERS_INLINE: usize = 64 * 1024;

/// The most bytes of a custom field's text value on a ticket.
pub const FIELD_INLINE: usize = 4 * 1024;

/// The most bytes of one short note from outside (a reason a part was left
/// out, a header value that marks mail as automatic).
pub const NOTE_INLINE: usize = 512;

/// The most reasons for left-out mail parts listed on an entry.
pub const SKIPPED_LISTED: usize = 20;

/// The most bytes of the comment kept with a satisfaction rating.
pub const RATING_COMMENT: usize = 2 * 1024;

/// The most participants a ticket has.
pub const PARTICIPANTS_MAX: usize = 50;

/// Where the whole of a text cut to an excerpt is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobRef {
    /// Its key in the blob store (an S3 key or a relative path).
    pub blob_key: String,
    /// Its whole size in bytes.
    pub size: u64,
}

/// The longest prefix of `text` of at most `max` bytes that ends on a
/// character boundary.
pub fn excerpt(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Cuts `text` in place to at most `max` bytes, on a character boundary.
pub fn cut(text: &mut String, max: usize) {
    let end = excerpt(text, max).len();
    text.truncate(end);
}

/// Whether `text` fits inline within `max` bytes.
pub fn fits(text: &str, max: usize) -> bool {
    text.len() <= max
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_excerpt_never_splits_a_character() {
        assert_eq!(excerpt("héllo", 2), "h");
        assert_eq!(excerpt("héllo", 3), "hé");
        assert_eq!(excerpt("日本", 4), "日");
        assert_eq!(excerpt("short", 64), "short");
    }
}
