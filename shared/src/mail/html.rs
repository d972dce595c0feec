//! HTML mail bodies: sanitizing them for display and turning them into text.
//!
//! Sanitizing uses [`ammonia`] with its default allow-list of formatting tags
//! (no scripts, no styles, no event handlers, no forms, no iframes), plus
//! these decisions:
//!
//! - links get `rel="noopener noreferrer"`;
//! - relative URLs are dropped (they would resolve against the helpdesk's own
//!   origin when the HTML is shown there);
//! - images are kept only when they load nothing from the network: `cid:`
//!   (an inline part of the same message) and `data:image/...` sources.
//!   A remote `src` is removed, so opening a ticket never tells a sender
//!   (or a tracker) that the mail was read;
//! - `data:` URLs are allowed on images only, never on links.
//!
//! Text conversion uses [`html2text`] at 80 columns, with link targets as
//! numbered footnotes so URLs survive. Tables are read as a single column,
//! one cell after another (html2text's raw mode): mail tables are layout
//! (newsletters nest them four deep), and drawn as grids they turned a
//! 290 KB newsletter into millions of box-drawing characters on lines
//! thousands of columns wide.
//!
//! [`read`] does all of it for one body: the structure is bounded once
//! ([`super::nesting::bounded`]: no element deeper than 128, no more than
//! 20,000 tags, so no body however deeply nested takes long), the bounded
//! HTML is parsed once for the text (rendered at 80 columns and unwrapped
//! from the same parse), and once by the sanitizer, which has its own parser.

use std::borrow::Cow;
use std::sync::LazyLock;

use super::nesting;

/// The column width [`to_text`] wraps at.
pub const TEXT_WIDTH: usize = 80;

/// Deeply nested quotes never squeeze the text narrower than this.
const MIN_WRAP_WIDTH: usize = 40;

static SANITIZER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut builder = ammonia::Builder::default();
    builder
        .link_rel(Some("noopener noreferrer"))
        .url_relative(ammonia::UrlRelative::Deny)
        .add_url_schemes(["cid", "data"])
        .attribute_filter(filter_attribute);
    builder
});

/// Keeps image sources that load nothing remote and links that are not `data:`.
fn filter_attribute<'u>(element: &str, attribute: &str, value: &'u str) -> Option<Cow<'u, str>> {
    let lower = value.trim_start().to_ascii_lowercase();
    match (element, attribute) {
        ("img", "src") => (lower.starts_with("cid:") || lower.starts_with("data:image/"))
            .then_some(Cow::Borrowed(value)),
        (_, "src" | "href" | "cite") if lower.starts_with("data:") || lower.starts_with("cid:") => {
            None
        }
        _ => Some(Cow::Borrowed(value)),
    }
}

/// One HTML body read for display and for text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HtmlRead {
    /// The body sanitized for display (see [`sanitize`]).
    pub sanitized: String,
    /// The text, wrapped at [`TEXT_WIDTH`] (see [`to_text`]).
    pub text: String,
    /// The text unwrapped (see [`to_text_unwrapped`]).
    pub unwrapped: String,
}

/// Reads an HTML mail body: bounds it once, sanitizes it, and renders its
/// text wrapped and unwrapped from one parse.
pub fn read(html: &str) -> HtmlRead {
    let bounded = nesting::bounded(html);
    let (text, unwrapped) = texts(&bounded);
    HtmlRead {
        sanitized: SANITIZER.clean(&bounded).to_string(),
        text,
        unwrapped,
    }
}

/// The start of `html` within `max` bytes, ending after the last tag that
/// ends within them (on a character boundary when none does), so that no
/// tag is cut in two. The parsers close what is still open at the end.
pub fn head(html: &str, max: usize) -> &str {
    if html.len() <= max {
        return html;
    }
    let head = crate::domain::bounds::excerpt(html, max);
    match head.rfind('>') {
        Some(end) => &head[..=end],
        None => head,
    }
}

/// Sanitizes an HTML mail body for display (see the module docs for what is
/// kept and what is removed).
pub fn sanitize(html: &str) -> String {
    SANITIZER.clean(&nesting::bounded(html)).to_string()
}

/// Converts an HTML mail body to plain text, wrapped at [`TEXT_WIDTH`]
/// columns and trimmed. Quoted blocks (`<blockquote>`) come out with `> `
/// prefixes, so the reply extraction treats them as quotes.
pub fn to_text(html: &str) -> String {
    texts(&nesting::bounded(html)).0
}

/// Converts an HTML mail body to plain text without wrapping lines: each
/// paragraph or `<br>`-separated line stays one line. Reply extraction uses
/// this, since wrapping a literal `&gt; long quoted line` leaves an unquoted
/// continuation line that reads like an inline answer.
pub fn to_text_unwrapped(html: &str) -> String {
    texts(&nesting::bounded(html)).1
}

/// A width no mail paragraph reaches.
const UNWRAPPED_WIDTH: usize = 1 << 20;

/// The text of bounded HTML at [`TEXT_WIDTH`] and unwrapped, both
/// rendered from one parse.
fn texts(bounded: &str) -> (String, String) {
    let html = mark_rules(bounded);
    let config = || {
        html2text::config::plain()
            .allow_width_overflow()
            .min_wrap_width(MIN_WRAP_WIDTH)
            .raw_mode(true)
    };
    // The render tree is built twice from the one parse rather than
    // cloned: rendering consumes it, and two at once would double the
    // largest structure of the conversion.
    let render = |dom: &html2text::RcDom, width: usize| {
        config()
            .dom_to_render_tree(dom)
            .and_then(|tree| config().render_to_string(tree, width))
            .map(|text| trim_lines(&text))
    };
    let rendered = config().parse_html(html.as_bytes()).and_then(|dom| {
        let text = render(&dom, TEXT_WIDTH)?;
        let unwrapped = render(&dom, UNWRAPPED_WIDTH)?;
        Ok((text, unwrapped))
    });
    match rendered {
        Ok(both) => both,
        Err(error) => {
            tracing::debug!(%error, "html2text failed; stripping tags instead");
            let text = strip_tags(&html);
            (text.clone(), text)
        }
    }
}

/// What a `<hr>` becomes in text.
const RULE: &str = "──────────";

/// html2text drops `<hr>` without a trace, gluing the text around it
/// together ("BobFrom: …"); Outlook-style replies separate the quote with
/// one. Each `<hr` tag gets a block with a text rule in front of it.
fn mark_rules(html: &str) -> Cow<'_, str> {
    let bytes = html.as_bytes();
    let is_rule_tag = |at: usize| {
        bytes
            .get(at..at + 3)
            .is_some_and(|tag| tag.eq_ignore_ascii_case(b"<hr"))
            && bytes
                .get(at + 3)
                .is_none_or(|c| c.is_ascii_whitespace() || *c == b'>' || *c == b'/')
    };
    let positions: Vec<usize> = html
        .match_indices('<')
        .map(|(at, _)| at)
        .filter(|at| is_rule_tag(*at))
        .collect();
    if positions.is_empty() {
        return Cow::Borrowed(html);
    }
    let mut marked = String::with_capacity(html.len() + positions.len() * 48);
    let mut from = 0;
    for at in positions {
        marked.push_str(&html[from..at]);
        marked.push_str("<div>");
        marked.push_str(RULE);
        marked.push_str("</div>");
        from = at;
    }
    marked.push_str(&html[from..]);
    Cow::Owned(marked)
}

/// Trims trailing spaces on every line and blank lines around the text.
fn trim_lines(text: &str) -> String {
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    lines.join("\n").trim().to_owned()
}

/// The last resort when html2text gives up: ammonia with no tags allowed,
/// then the few entities it produces turned back into characters.
fn strip_tags(html: &str) -> String {
    let text = ammonia::Builder::empty().clean(html).to_string();
    let text = text
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&");
    trim_lines(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_removes_scripts_and_event_handlers() {
        let clean = sanitize(
            r#"<p onclick="steal()">Hi<script>alert(1)</script><style>p{}</style></p><iframe src="https://x"></iframe>"#,
        );
        assert_eq!(clean, "<p>Hi</p>");
    }

    #[test]
    fn sanitize_marks_links_noopener() {
        let clean = sanitize(r#"<a href="https://example.com/x" target="_blank">x</a>"#);
        assert!(clean.contains(r#"href="https://example.com/x""#), "{clean}");
        assert!(clean.contains(r#"rel="noopener noreferrer""#), "{clean}");
        assert!(!clean.contains("target"), "{clean}");
    }

    #[test]
    fn sanitize_keeps_only_cid_and_data_images() {
        let clean = sanitize(
            r#"<img src="cid:logo@x"><img src="data:image/png;base64,AAAA"><img src="https://tracker.example/p.gif"><img src="/relative.png">"#,
        );
        assert!(clean.contains(r#"src="cid:logo@x""#), "{clean}");
        assert!(
            clean.contains(r#"src="data:image/png;base64,AAAA""#),
            "{clean}"
        );
        assert!(!clean.contains("tracker"), "{clean}");
        assert!(!clean.contains("relative"), "{clean}");
    }

    #[test]
    fn sanitize_drops_data_and_javascript_links() {
        let clean = sanitize(
            r#"<a href="data:text/html,<script>x</script>">a</a><a href="javascript:alert(1)">b</a><a href="/x">c</a>"#,
        );
        assert!(!clean.contains("href"), "{clean}");
    }

    #[test]
    fn to_text_renders_paragraphs_quotes_and_links() {
        let text = to_text(
            r#"<p>Hello <b>there</b></p><p>See <a href="https://example.com">the docs</a>.</p><blockquote>old</blockquote>"#,
        );
        assert!(text.starts_with("Hello"), "{text}");
        assert!(text.contains("https://example.com"), "{text}");
        assert!(text.contains("> old"), "{text}");
    }

    #[test]
    fn to_text_keeps_horizontal_rules_as_lines() {
        assert_eq!(
            to_text("<div>Bob<hr><b>From:</b> x</div>"),
            format!("Bob\n{RULE}\n**From:** x")
        );
        assert_eq!(
            to_text("<p>a</p><HR/><p>b</p><hra>c</hra>"),
            format!("a\n\n{RULE}\n\nb\n\nc")
        );
    }

    #[test]
    fn to_text_unwrapped_keeps_long_lines_whole() {
        let long = "word ".repeat(100);
        let html = format!("<p>{long}</p><p>&gt; {long}</p>");
        let text = to_text_unwrapped(&html);
        assert_eq!(text.lines().count(), 3, "{text}");
        assert!(to_text(&html).lines().count() > 10);
    }

    #[test]
    fn one_read_gives_the_sanitized_html_and_both_texts() {
        let html = r#"<p onclick="x()">Hello <a href="https://example.com">docs</a></p><hr><blockquote>old</blockquote>"#;
        let read = read(html);
        assert_eq!(read.sanitized, sanitize(html));
        assert_eq!(read.text, to_text(html));
        assert_eq!(read.unwrapped, to_text_unwrapped(html));
        assert!(
            read.text.contains(RULE) && read.text.contains("> old"),
            "{read:?}"
        );
    }

    #[test]
    fn the_head_of_html_ends_after_a_whole_tag() {
        let html = "<p>one</p><p>two</p>";
        assert_eq!(head(html, 100), html);
        assert_eq!(head(html, 13), "<p>one</p><p>");
        assert_eq!(head(html, 12), "<p>one</p>");
        assert_eq!(head("ééé", 3), "é");
    }

    #[test]
    fn to_text_survives_deep_nesting() {
        let html = "<blockquote>".repeat(200) + "deep" + &"</blockquote>".repeat(200);
        let text = to_text(&html);
        assert!(
            text.contains("deep"),
            "{:?}",
            &text[text.len().saturating_sub(300)..]
        );
    }
}
