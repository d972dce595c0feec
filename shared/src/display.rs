//! Text from customers, made safe to show to people: every C0 and C1
//! control character and every bidirectional override or isolate becomes
//! visible instead of acting on the terminal or the page. A mail body's
//! `ESC ]0;…BEL` would retitle an agent's terminal and `ESC [2J` clear it;
//! a right-to-left override (U+202E) in `invoice<U+202E>fdp.exe` shows
//! an `.exe` as a `.pdf`. Stored data keeps what the customer sent (the raw mail is never
//! changed); only what is shown passes through here.
//!
//! - Control characters become their Unicode control pictures (`␛` for
//!   ESC, `␇` for BEL, `␍` for a carriage return that does not end a
//!   line), and C1 controls and DEL a `\u{..}` escape.
//! - Bidirectional formatting characters (embeddings, overrides, isolates,
//!   marks) become `<U+202E>` and the like.
//! - [`text`] keeps line feeds and tabs (a body stays readable);
//!   [`line`] shows them too (a name, a subject, a table cell).

use std::borrow::Cow;
use std::fmt::Write as _;

/// Multi-line text for people: line breaks (`\n`, `\r\n`) and tabs kept,
/// every other control and bidi formatting character made visible.
pub fn text(s: &str) -> Cow<'_, str> {
    render(s, true)
}

/// One line for people (a name, a subject, a cell): every control
/// character, line breaks and tabs included, and every bidi formatting
/// character made visible.
pub fn line(s: &str) -> Cow<'_, str> {
    render(s, false)
}

/// Whether `c` is a bidirectional formatting character: embeddings and
/// overrides (U+202A..U+202E), isolates (U+2066..U+2069), and the marks
/// (LRM, RLM, ALM).
pub fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}'
    )
}

fn needs_care(c: char) -> bool {
    c.is_control() || is_bidi_control(c)
}

fn render(s: &str, multiline: bool) -> Cow<'_, str> {
    if !s.chars().any(needs_care) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' | '\t' if multiline => out.push(c),
            '\r' if multiline && chars.peek() == Some(&'\n') => {}
            c if is_bidi_control(c) => {
                let _ = write!(out, "<U+{:04X}>", u32::from(c));
            }
            // C0 controls: their control pictures, U+2400 + the code.
            c if u32::from(c) < 0x20 => {
                out.push(char::from_u32(0x2400 + u32::from(c)).unwrap_or('\u{FFFD}'));
            }
            '\u{7F}' => out.push('\u{2421}'),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_escapes_in_a_body_are_shown_not_obeyed() {
        let body = "Hello\x1b]0;owned\x07 and \x1b[2J\r\nsecond line\tend\rover";
        let shown = text(body);
        assert!(
            !shown.contains('\x1b') && !shown.contains('\x07'),
            "{shown}"
        );
        assert_eq!(shown, "Hello␛]0;owned␇ and ␛[2J\nsecond line\tend␍over");
    }

    #[test]
    fn a_right_to_left_override_cannot_disguise_an_extension() {
        let name = "invoice\u{202E}fdp.exe";
        assert_eq!(line(name), "invoice<U+202E>fdp.exe");
        assert_eq!(line("a\u{2067}b\u{2069}"), "a<U+2067>b<U+2069>");
    }

    #[test]
    fn one_line_shows_its_breaks_and_c1_controls_and_plain_text_is_not_copied() {
        assert_eq!(line("a\nb\tc\u{85}d\u{7f}"), "a␊b␉c\\u{85}d␡");
        assert!(matches!(text("Привет, 世界"), Cow::Borrowed(_)));
    }
}
