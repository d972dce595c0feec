//! Bounds on HTML structure before an HTML parser sees it. Parsers and the
//! renderers after them spend time that grows faster than the input with
//! nesting depth (10,000 nested `<div>`s took seconds, 100,000 minutes), so
//! a mail body is flattened first: tags that would open an element deeper
//! than [`MAX_DEPTH`], and every tag after the first [`MAX_TAGS`], are
//! dropped, with their text kept. Legitimate mail nests a few dozen levels
//! at most (quoted replies included) and has a few thousand tags; the raw
//! message is kept as it came in any case.
//!
//! This is a scanner, not a parser: it finds tags (`<name ...>`,
//! `</name>`), skips comments and doctypes, honours quoted attribute
//! values, and within `<script>`, `<style>`, `<textarea>` and the like
//! (which a parser may read as text or as markup) counts opening tags but
//! lets no closing tag close anything. It keeps the stack of elements the kept tags opened:
//! a closing tag that ends none of them is dropped, so stray closing tags
//! make no room for deeper nesting. It over-counts depth for elements HTML
//! closes implicitly (an unclosed `<p>`), which can only flatten more,
//! never let more through.

use std::borrow::Cow;

/// Elements nested deeper than this are flattened.
pub const MAX_DEPTH: usize = 128;

/// Opening tags after this many are dropped (with the tags that close
/// them).
pub const MAX_TAGS: usize = 20_000;

/// Elements that never have content (no closing tag).
const VOID: [&str; 14] = [
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr",
];

/// Elements whose content may be raw text up to their closing tag
/// (whether it is depends on the parser's state: inside `<svg>` a `<style>`
/// is markup, after a `<div>` breaks out of the `<svg>` it is text again).
/// Within one, closing tags are dropped and close nothing, while opening
/// tags count as ever: whichever way a parser reads the content, the
/// bound can only be stricter than the parser's own depth, never looser.
const RAW_TEXT: [&str; 9] = [
    "script", "style", "textarea", "title", "xmp", "noscript", "iframe", "noembed", "noframes",
];

/// `html` with its structure bounded (see the module docs); borrowed when
/// nothing had to go.
pub fn bounded(html: &str) -> Cow<'_, str> {
    let mut out: Option<String> = None;
    let mut open = OpenElements::default();
    let mut tags = 0_usize;
    let mut copied = 0_usize;
    let bytes = html.as_bytes();
    let mut i = 0;
    // Inside a possibly raw text element: its closing tag's position.
    let mut raw_until: Option<usize> = None;
    while let Some(offset) = memchr_lt(&bytes[i..]) {
        let start = i + offset;
        // The tag that ends a possibly raw text element closes it,
        // whatever a parser made of its content.
        let ends_raw = raw_until == Some(start);
        if raw_until.is_some_and(|end| start >= end) {
            raw_until = None;
        }
        let tag = match scan_tag(html, start) {
            // A tag inside raw text ends before the raw text does.
            Scan::Tag(tag) if raw_until.is_some_and(|end| tag.end > end) => {
                i = start + 1;
                continue;
            }
            Scan::Tag(tag) => tag,
            Scan::Text => {
                i = start + 1;
                continue;
            }
            // No `>` ends it, nor any later tag: the rest is text.
            Scan::Unterminated => break,
        };
        // At the tag count, every open element is closed, so that the text
        // after it (kept, its tags dropped) is plain text of the body, not
        // text a parser must move out of a table.
        let mut closing = String::new();
        let keep = match &tag.kind {
            Kind::Other => true,
            Kind::Open { void, name } => {
                tags += 1;
                if tags == MAX_TAGS + 1 {
                    closing = open.close_all();
                }
                if tags > MAX_TAGS {
                    open.dropped += usize::from(!*void);
                    false
                } else {
                    *void || open.open(name)
                }
            }
            Kind::Close { .. } if raw_until.is_some() => false,
            Kind::Close { name } if ends_raw => open.close_raw(name),
            Kind::Close { name } => open.close(name),
        };
        if !keep {
            // A space where the tag was: text on both sides can never join
            // into a new tag (`<` + `a>`).
            let buffer = out.get_or_insert_with(|| String::with_capacity(html.len()));
            buffer.push_str(&html[copied..start]);
            buffer.push_str(&closing);
            buffer.push(' ');
            copied = tag.end;
        }
        i = tag.end;
        if let (Some(name), None) = (tag.raw_text, raw_until) {
            raw_until = Some(raw_text_end(html, i, name));
        }
    }
    match out {
        None => Cow::Borrowed(html),
        Some(mut buffer) => {
            buffer.push_str(&html[copied..]);
            Cow::Owned(buffer)
        }
    }
}

fn memchr_lt(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'<')
}

/// The elements a kept tag opened and no kept tag closed yet, innermost
/// last, and how many opening tags were dropped for depth.
#[derive(Default)]
struct OpenElements {
    stack: Vec<String>,
    dropped: usize,
    /// Formatting elements kept so far (a parser re-opens those a block
    /// closed, so they count for the whole body, not per nesting).
    formatting: usize,
}

/// Formatting elements: a parser keeps a list of them and re-creates those
/// a block closed, nested, wherever text follows.
const FORMATTING: [&str; 14] = [
    "a", "b", "big", "code", "em", "font", "i", "nobr", "s", "small", "strike", "strong", "tt", "u",
];

/// Formatting elements kept in one body, at most.
const MAX_FORMATTING: usize = 2_000;

/// Elements in whose scope a closing tag does not look past (it ends
/// nothing outside them).
const SCOPE_BOUNDARIES: [&str; 20] = [
    "applet",
    "caption",
    "html",
    "table",
    "td",
    "th",
    "marquee",
    "object",
    "template",
    "svg",
    "math",
    "foreignobject",
    "desc",
    "title",
    "mi",
    "mo",
    "mn",
    "ms",
    "mtext",
    "annotation-xml",
];

/// Elements a closing tag of an ordinary (inline) element does not close
/// implicitly.
const SPECIAL: [&str; 38] = [
    "address",
    "article",
    "aside",
    "blockquote",
    "body",
    "center",
    "dd",
    "details",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "li",
    "main",
    "menu",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "select",
    "summary",
    "tbody",
    "tfoot",
    "thead",
    "tr",
    "ul",
];

/// The elements a parser creates around `name` when the current element
/// is `top`: a table cell gets its row and body, a row its body.
fn implied_parents(name: &str, top: Option<&str>) -> &'static [&'static str] {
    match (name, top) {
        ("td" | "th", Some("tr")) => &[],
        ("td" | "th", Some("tbody" | "thead" | "tfoot")) => &["tr"],
        ("td" | "th", _) => &["tbody", "tr"],
        ("tr", Some("tbody" | "thead" | "tfoot")) => &[],
        ("tr", _) => &["tbody"],
        _ => &[],
    }
}

impl OpenElements {
    /// Closing tags for every open element but the document's own, innermost
    /// first; none stays open.
    fn close_all(&mut self) -> String {
        let mut closing = String::new();
        for name in self.stack.drain(..).rev() {
            if !matches!(name.as_str(), "html" | "body" | "head") {
                closing.push_str("</");
                closing.push_str(&name);
                closing.push('>');
            }
        }
        closing
    }

    /// An element opens: kept (and pushed) within the depth bound, else
    /// dropped and counted.
    fn open(&mut self, name: &str) -> bool {
        let implied = implied_parents(name, self.stack.last().map(String::as_str));
        let formatting = FORMATTING.contains(&name);
        if self.stack.len() + implied.len() < MAX_DEPTH
            && (!formatting || self.formatting < MAX_FORMATTING)
        {
            self.stack.extend(implied.iter().map(|p| (*p).to_owned()));
            self.stack.push(name.to_owned());
            self.formatting += usize::from(formatting);
            true
        } else {
            self.dropped += 1;
            false
        }
    }

    /// The element a possibly raw text element's closing tag ends, with
    /// whatever was counted inside it; kept when it ends one.
    fn close_raw(&mut self, name: &str) -> bool {
        match self.stack.iter().rposition(|open| open == name) {
            Some(at) => {
                self.stack.truncate(at);
                true
            }
            None => false,
        }
    }

    /// An element closes: a close while opening tags were dropped is taken
    /// to end one of those (dropped too); otherwise it is kept when it
    /// ends an open element (and the ones inside it, as HTML closes them),
    /// and dropped when it ends none. A close can so never make room for
    /// deeper nesting than the kept tags have.
    fn close(&mut self, name: &str) -> bool {
        if self.dropped > 0 {
            self.dropped -= 1;
            return false;
        }
        // Table structure is special too: `</table>` passes the implied
        // `tbody` and `tr` it ends.
        let special = SPECIAL.contains(&name) || SCOPE_BOUNDARIES.contains(&name);
        let mut at = None;
        for (index, open) in self.stack.iter().enumerate().rev() {
            if open == name {
                at = Some(index);
                break;
            }
            // A scope boundary stops every search; an inline element's
            // close also stops at a block it would have to pass.
            if SCOPE_BOUNDARIES.contains(&open.as_str())
                || (!special && SPECIAL.contains(&open.as_str()))
            {
                break;
            }
        }
        match at {
            // Outside a table a parser ignores the closing tags of table
            // parts (and their opening tags, which this counts anyway as
            // implied elements): only one within a table closes anything.
            Some(at)
                if TABLE_PARTS.contains(&name)
                    && !self.stack[..at].iter().any(|e| e == "table") =>
            {
                false
            }
            Some(at) => {
                self.stack.truncate(at);
                true
            }
            None => false,
        }
    }
}

/// Elements that exist only inside a table.
const TABLE_PARTS: [&str; 8] = [
    "caption", "colgroup", "tbody", "td", "tfoot", "th", "thead", "tr",
];

enum Kind {
    Open {
        void: bool,
        name: String,
    },
    Close {
        name: String,
    },
    /// A comment, doctype or processing instruction: no element.
    Other,
}

enum Scan {
    Tag(Tag),
    /// A `<` that starts no tag.
    Text,
    /// A tag that no `>` ends.
    Unterminated,
}

struct Tag {
    kind: Kind,
    /// Just past the tag's `>`.
    end: usize,
    /// The raw text element it opens, whose content is not markup.
    raw_text: Option<&'static str>,
}

/// What starts at `start` (a `<`).
fn scan_tag(html: &str, start: usize) -> Scan {
    let rest = &html[start..];
    if rest.starts_with("<!--") {
        let end = start + comment_length(rest);
        return Scan::Tag(Tag {
            kind: Kind::Other,
            end,
            raw_text: None,
        });
    }
    if rest.starts_with("<!") || rest.starts_with("<?") {
        let end = rest.find('>').map_or(html.len(), |e| start + e + 1);
        return Scan::Tag(Tag {
            kind: Kind::Other,
            end,
            raw_text: None,
        });
    }
    let (closing, name_start) = match rest.as_bytes().get(1) {
        Some(b'/') if !rest.as_bytes().get(2).is_some_and(u8::is_ascii_alphabetic) => {
            // `</` and no letter: a bogus comment, to the first `>`.
            let end = rest.find('>').map_or(html.len(), |e| start + e + 1);
            return Scan::Tag(Tag {
                kind: Kind::Other,
                end,
                raw_text: None,
            });
        }
        Some(b'/') => (true, 2),
        Some(c) if c.is_ascii_alphabetic() => (false, 1),
        _ => return Scan::Text,
    };
    // As HTML reads it: the name runs to white space, `/` or `>`.
    let name_len = rest[name_start..]
        .bytes()
        .take_while(|b| !b.is_ascii_whitespace() && *b != b'/' && *b != b'>')
        .count();
    if name_len == 0 {
        return Scan::Text;
    }
    let name = rest[name_start..name_start + name_len].to_ascii_lowercase();
    let Some(length) = tag_end(&rest[name_start + name_len..]) else {
        return Scan::Unterminated;
    };
    let end = start + name_start + name_len + length;
    if closing {
        return Scan::Tag(Tag {
            kind: Kind::Close { name },
            end,
            raw_text: None,
        });
    }
    // A trailing `/` makes no HTML element void (`<div/>` opens a div);
    // in SVG it does, which this over-counts: the safe side.
    let void = VOID.contains(&name.as_str());
    let raw_text = RAW_TEXT.iter().find(|raw| **raw == name).copied();
    Scan::Tag(Tag {
        kind: Kind::Open { void, name },
        end,
        raw_text: if void { None } else { raw_text },
    })
}

/// The length of the comment `rest` starts with, ended as HTML ends one:
/// at once by `<!-->` or `<!--->`, else at the first `-->` or `--!>`, else
/// at the end of the text.
fn comment_length(rest: &str) -> usize {
    if rest.starts_with("<!-->") {
        return 5;
    }
    if rest.starts_with("<!--->") {
        return 6;
    }
    let body = &rest[4..];
    let mut from = 0;
    while let Some(at) = body[from..].find("--") {
        let dashes = from + at;
        let after = &body[dashes + 2..];
        if after.starts_with('>') {
            return 4 + dashes + 3;
        }
        if after.starts_with("!>") {
            return 4 + dashes + 4;
        }
        from = dashes + 1;
    }
    rest.len()
}

/// Just past the `>` that ends a tag's attributes, counted from
/// `attributes`' start, read as HTML reads them: a quote opens a value only
/// right after `=` (elsewhere it is part of a name), and a quoted value
/// runs to its closing quote, `>` included.
fn tag_end(attributes: &str) -> Option<usize> {
    let bytes = attributes.as_bytes();
    let mut i = 0;
    loop {
        while bytes
            .get(i)
            .is_some_and(|b| b.is_ascii_whitespace() || *b == b'/')
        {
            i += 1;
        }
        match bytes.get(i)? {
            b'>' => return Some(i + 1),
            _ => {
                // An attribute name (its first character may be `=`), then
                // perhaps `=` and a value.
                if bytes.get(i) == Some(&b'=') {
                    i += 1;
                }
                while bytes
                    .get(i)
                    .is_some_and(|b| !b.is_ascii_whitespace() && !matches!(b, b'/' | b'>' | b'='))
                {
                    i += 1;
                }
                while bytes.get(i).is_some_and(u8::is_ascii_whitespace) {
                    i += 1;
                }
                if bytes.get(i) == Some(&b'=') {
                    i += 1;
                    while bytes.get(i).is_some_and(u8::is_ascii_whitespace) {
                        i += 1;
                    }
                    i = value_end(bytes, i)?;
                }
            }
        }
    }
}

/// Just past an attribute value starting at `i`: a quoted one at its
/// closing quote (none: the tag never ends), an unquoted one at white
/// space or `>`.
fn value_end(bytes: &[u8], i: usize) -> Option<usize> {
    match bytes.get(i) {
        Some(quote @ (b'"' | b'\'')) => {
            // A quote that never closes: a parser would read the rest as
            // this value, with no element in it; this scanner reads on at
            // the next `>` instead, which can only count more tags.
            let close = bytes[i + 1..].iter().position(|b| b == quote).or_else(|| {
                bytes[i + 1..]
                    .iter()
                    .position(|b| *b == b'>')
                    .map(|gt| gt.saturating_sub(1))
            })?;
            Some(i + 1 + close + 1)
        }
        _ => {
            let mut end = i;
            while bytes
                .get(end)
                .is_some_and(|b| !b.is_ascii_whitespace() && *b != b'>')
            {
                end += 1;
            }
            Some(end)
        }
    }
}

/// Where the content of possibly raw text element `name` ends (at its
/// closing tag, any case), or the end of the text.
fn raw_text_end(html: &str, from: usize, name: &str) -> usize {
    let bytes = html.as_bytes();
    let mut at = from;
    while let Some(offset) = html[at..].find("</") {
        let candidate = at + offset;
        let name_at = candidate + 2;
        if bytes
            .get(name_at..name_at + name.len())
            .is_some_and(|n| n.eq_ignore_ascii_case(name.as_bytes()))
        {
            return candidate;
        }
        at = candidate + 2;
    }
    html.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(tag: &str, depth: usize) -> String {
        format!(
            "{}deep{}",
            format!("<{tag}>").repeat(depth),
            format!("</{tag}>").repeat(depth)
        )
    }

    #[test]
    fn ordinary_mail_html_passes_untouched() {
        let html = "<html><body><p class=\"a>b\">Hi <b>there</b><br></p><!-- <div> --><blockquote><p>old</p></blockquote><script>if (a<b) {}</script></body></html>";
        assert!(matches!(bounded(html), Cow::Borrowed(_)));
        assert!(matches!(
            bounded(&nested("div", MAX_DEPTH)),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn nesting_beyond_the_bound_is_flattened_and_the_text_kept() {
        let deep = nested("div", 100_000);
        let flat = bounded(&deep);
        assert!(flat.contains("deep"));
        assert_eq!(flat.matches("<div>").count(), MAX_DEPTH);
        assert_eq!(flat.matches("</div>").count(), MAX_DEPTH);
        let quotes = nested("blockquote", 10_000);
        assert_eq!(bounded(&quotes).matches("<blockquote>").count(), MAX_DEPTH);
    }

    #[test]
    fn comments_end_where_html_ends_them() {
        let attack = format!("<!-->{}<!-- -->", "<div>".repeat(MAX_DEPTH * 2));
        assert_eq!(bounded(&attack).matches("<div>").count(), MAX_DEPTH);
        let attack = format!("<!-- --!>{}-->", "<div>".repeat(MAX_DEPTH * 2));
        assert_eq!(bounded(&attack).matches("<div>").count(), MAX_DEPTH);
        let quoted = format!("<a b='x' c=d'e{}>", "<div>".repeat(3));
        assert!(matches!(bounded(&quoted), Cow::Borrowed(_)));
    }

    #[test]
    fn a_dropped_tag_never_joins_the_text_around_it_into_a_new_tag() {
        let attack = format!("{}<<div>div>", "<div>".repeat(MAX_DEPTH));
        assert_eq!(bounded(&attack).matches("<div>").count(), MAX_DEPTH);
    }

    #[test]
    fn closing_tags_close_only_what_a_parser_closes_and_implied_elements_count() {
        for attack in [
            "<div/>".repeat(1_000),
            "<span><div></span>".repeat(1_000),
            "<div><object></div>".repeat(1_000),
        ] {
            let flat = bounded(&attack);
            let opens = flat.matches("<div").count()
                + flat.matches("<span").count()
                + flat.matches("<object").count();
            assert!(opens <= MAX_DEPTH, "{opens} kept of {}", &attack[..30]);
        }
        let tables = "<table><td>".repeat(100);
        assert!(bounded(&tables).matches("<table>").count() <= MAX_DEPTH / 3 + 1);
        let hidden = format!("<span =\"x>{}\">", "<div>".repeat(1_000));
        assert!(bounded(&hidden).matches("<div>").count() < MAX_DEPTH);
        let bogus = format!("</1 a=\"{}\">", "<div>".repeat(1_000));
        // (one "<div>" is the comment's text)
        assert!(bounded(&bogus).matches("<div>").count() <= MAX_DEPTH + 1);
        let bold = "<p><b>x</b></p>".repeat(MAX_FORMATTING + 10);
        assert_eq!(bounded(&bold).matches("<b>").count(), MAX_FORMATTING);
    }

    #[test]
    fn at_the_tag_count_open_elements_close_and_the_text_after_is_plain() {
        let row = "<tr><td>cell</td></tr>";
        let html = format!("<table>{}</table>", row.repeat(MAX_TAGS));
        let bounded = bounded(&html);
        let cut = bounded
            .find("</tbody></table>")
            .expect("the table is closed");
        assert!(
            !bounded[cut..].contains("<td>"),
            "no cell opens after the count"
        );
        assert_eq!(
            bounded.matches("cell").count(),
            MAX_TAGS,
            "every text is kept"
        );
    }

    #[test]
    fn rows_of_tables_in_tables_pass_untouched() {
        let row = "<tr><td><table border=\"1\"><tr><td><h3>x</h3><p><a href=\"#\">y</a></p></td></tr></table></td></tr>";
        let html = format!(
            "<table><tr><td><table>{}</table></td></tr></table>",
            row.repeat(1_000)
        );
        assert!(matches!(bounded(&html), Cow::Borrowed(_)));
    }

    #[test]
    fn stray_closing_tags_make_no_room_for_deeper_nesting() {
        let attack = format!(
            "{}{}{}",
            "<div>".repeat(MAX_DEPTH),
            "</span>".repeat(1_000),
            "<div>".repeat(1_000)
        );
        let flat = bounded(&attack);
        assert_eq!(flat.matches("<div>").count(), MAX_DEPTH);
        assert_eq!(flat.matches("</span>").count(), 0);
    }

    #[test]
    fn closing_a_table_row_outside_a_table_makes_no_room_for_deeper_nesting() {
        // Found by the fuzz: a parser ignores `<td>` and `</tr>` outside a
        // table, so the divs before and after the `</tr>` all nest.
        let attack = format!(
            "<td class=\"a>b\"></td>{}</tr>{}",
            "<div class=\"a>b\">".repeat(85),
            "<div class=\"a>b\">".repeat(44)
        );
        let flat = bounded(&attack);
        assert!(flat.matches("<div").count() <= MAX_DEPTH);
        assert_eq!(flat.matches("</tr>").count(), 0);
        // Within a table it closes the row and what was opened after the cell.
        let row = format!("<table><td></td>{}</tr></table>", "<div>".repeat(100));
        assert_eq!(bounded(&row).matches("</tr>").count(), 1);
    }

    #[test]
    fn a_tag_without_an_end_is_text_and_raw_text_closes_nothing() {
        // (How long such input takes is measured by the mail_html bench.)
        let html = "<p>fine</p><a title='x".to_owned() + &"<a".repeat(1_000);
        assert!(matches!(bounded(&html), Cow::Borrowed(_)));
        let scripts = "<script>if (a<b) { x = '<div>' }</script>".repeat(200);
        assert!(matches!(bounded(&scripts), Cow::Borrowed(_)));
        // Inside a script, opening tags count (a parser in foreign content
        // would read them as elements) and closing tags close nothing.
        let deep_in_script = format!("<script>{}</script>", "<div>".repeat(MAX_DEPTH * 2));
        assert_eq!(
            bounded(&deep_in_script).matches("<div>").count(),
            MAX_DEPTH - 1
        );
        let closes_in_style = format!(
            "{}<svg><style>{}</style></svg>{}",
            "<div>".repeat(100),
            "</div>".repeat(200),
            "<div>".repeat(200)
        );
        assert_eq!(
            bounded(&closes_in_style).matches("<div>").count(),
            MAX_DEPTH
        );
    }

    #[test]
    fn tags_beyond_the_count_are_dropped_with_their_text_kept() {
        let many = "<span>x</span>".repeat(MAX_TAGS * 2);
        let bounded = bounded(&many);
        assert_eq!(bounded.matches("<span>").count(), MAX_TAGS);
        assert_eq!(bounded.matches("</span>").count(), MAX_TAGS);
        assert_eq!(bounded.matches('x').count(), MAX_TAGS * 2);
    }
}
