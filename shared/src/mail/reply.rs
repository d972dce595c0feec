//! The reply without quoted history and signature: what a ticket comment
//! shows for an incoming mail (the full message stays on the timeline).
//!
//! The quote removal is a port of the plain-text algorithm of mailgun's
//! talon (`talon.quotations.extract_from_plain`): every line is marked as
//! empty (`e`), quoted (`m`, starts with `>`), a quote header / splitter
//! (`s`, such as "On <date>, <person> wrote:" or an Outlook
//! "From: … Sent: …" block), forwarded-message marker (`f`) or text (`t`),
//! and the marker string decides what to cut:
//!
//! - a forward at the very top keeps everything;
//! - text interleaved with quotes (inline answers) keeps everything;
//! - a splitter followed by unquoted text (Outlook style) cuts from the splitter on;
//! - otherwise the span from the first splitter (or a run of quoted lines)
//!   to the last quoted line is cut.
//!
//! talon's splitter regular expressions are matched here by hand (the crate
//! has no regex dependency), in several languages including Russian and
//! German. On top of talon, [`extract`] also drops a trailing `>`-quoted block
//! and the signature (after a `-- ` line, and "Sent from my iPhone" style
//! lines at the end).

/// How many lines a quote header may span (talon's `SPLITTER_MAX_LINES` is 6;
/// attribution lines wrapped by clients rarely take more than three).
const ATTRIBUTION_MAX_LINES: usize = 3;

/// The longest attribution line we believe in (joined over its lines).
const ATTRIBUTION_MAX_CHARS: usize = 400;

/// Words that start an "On <date>, <person> wrote:" line.
const ON_WORDS: &[&str] = &[
    "on", "le", "w dniu", "op", "am", "em", "på", "den", "vào", "el", "il", "dne", "в",
];

/// Words that end it ("wrote" in several languages).
const WROTE_WORDS: &[&str] = &[
    "wrote",
    "a écrit",
    "napisał",
    "schreef",
    "verzond",
    "geschreven",
    "schrieb",
    "escreveu",
    "skrev",
    "đã viết",
    "escribió",
    "ha scritto",
    "kirjoitti",
    "írta",
    "yazdı",
    "napsal",
    "написал(а)",
    "написала",
    "написал",
    "пишет",
    "писал",
    "написав",
];

/// "-----Original Message-----" and its translations (between dashes).
const ORIGINAL_MESSAGE: &[&str] = &[
    "original message",
    "reply message",
    "ursprüngliche nachricht",
    "antwort nachricht",
    "oprindelig meddelelse",
    "исходное сообщение",
    "message d'origine",
    "mensaje original",
    "messaggio originale",
    "oorspronkelijk bericht",
    "originalmeddelande",
];

/// "---------- Forwarded message ----------" and its translations.
const FORWARDED_MESSAGE: &[&str] = &[
    "forwarded message",
    "weitergeleitete nachricht",
    "message transféré",
    "mensaje reenviado",
    "messaggio inoltrato",
    "doorgestuurd bericht",
    "пересылаемое сообщение",
    "пересланное сообщение",
];

/// Header names in an Outlook-style quote header block, by role.
const FROM_KEYS: &[&str] = &[
    "from",
    "von",
    "de",
    "van",
    "fra",
    "från",
    "od",
    "от",
    "da",
    "kimden",
    "lähettäjä",
    "feladó",
];
const DATE_KEYS: &[&str] = &[
    "date",
    "sent",
    "datum",
    "gesendet",
    "envoyé",
    "envoyé le",
    "enviado",
    "enviada",
    "skickat",
    "sendt",
    "wysłane",
    "verzonden",
    "inviato",
    "data",
    "fecha",
    "отправлено",
    "дата",
];
const OTHER_KEYS: &[&str] = &[
    "to",
    "an",
    "à",
    "a",
    "para",
    "aan",
    "til",
    "till",
    "do",
    "per",
    "кому",
    "cc",
    "копия",
    "kopie",
    "subject",
    "betreff",
    "objet",
    "asunto",
    "oggetto",
    "onderwerp",
    "emne",
    "ämne",
    "temat",
    "assunto",
    "тема",
    "importance",
    "wichtigkeit",
];

/// Last lines that phone and web clients append on their own.
const CLIENT_SIGNATURES: &[&str] = &[
    "sent from my ",
    "sent from mobile",
    "sent from mail for windows",
    "sent from outlook",
    "sent from yahoo mail",
    "sent from samsung",
    "sent from mailbox",
    "sent via ",
    "sent with ",
    "get outlook for ",
    "отправлено с ",
    "отправлено из ",
    "gesendet von meinem ",
    "von meinem iphone gesendet",
    "envoyé de mon ",
    "enviado desde mi ",
    "enviado do meu ",
    "inviato da ",
    "verstuurd vanaf mijn ",
];

/// Subject prefixes that mark a forward, in the languages mail clients
/// write them (`Fwd:`, German `WG:`, French `TR:`, Spanish `RV:`, ...).
const FORWARD_PREFIXES: &[&str] = &[
    "fw", "fwd", "wg", "tr", "rv", "enc", "vb", "vl", "doorst", "i", "pd", "tov", "přep",
];

/// Whether a mail is a forward: its subject starts with a forward prefix
/// (after any `[tags]`), or its text has a forwarded-message marker. A
/// forward's quoted part is the request, so it is kept whole.
pub fn is_forward(subject: &str, text: &str) -> bool {
    let mut rest = subject.trim_start();
    while let Some(tagged) = rest.strip_prefix('[') {
        rest = tagged
            .split_once(']')
            .map_or("", |(_, after)| after.trim_start());
    }
    let prefix = rest
        .split_once(':')
        .map(|(word, _)| word.trim().to_lowercase());
    if prefix.is_some_and(|word| FORWARD_PREFIXES.contains(&word.as_str())) {
        return true;
    }
    text.lines().any(is_forward_marker)
}

/// The reply text of a plain-text mail body: quoted history, the signature
/// and "Sent from my iPhone" lines removed.
///
/// Never empty when `text` has content: when cutting would leave nothing,
/// the trimmed original comes back.
pub fn extract(text: &str) -> String {
    let reply = strip_quotes(text);
    let without_signature = strip_signature(&reply);
    if without_signature.is_empty() {
        reply
    } else {
        without_signature
    }
}

/// Removes the quoted history only (talon's `extract_from_plain`, plus a
/// trailing `>`-quoted block): signatures stay. Falls back to the trimmed
/// original when nothing would be left.
pub fn strip_quotes(text: &str) -> String {
    let normalized = text.replace("\r\n", "\n");
    let lines: Vec<&str> = normalized.split('\n').collect();
    let markers = mark_lines(&lines);
    let mut kept = process_marked_lines(&lines, &markers);
    drop_trailing_quote_block(&mut kept);
    drop_orphan_footnotes(&mut kept);
    let reply = kept.join("\n").trim().to_owned();
    if reply.is_empty() {
        normalized.trim().to_owned()
    } else {
        reply
    }
}

/// Removes a signature: everything from the last `-- ` line on, and
/// client-added lines such as "Sent from my iPhone" at the end. Returns the
/// trimmed text, which is empty when the text was only a signature.
pub fn strip_signature(text: &str) -> String {
    let normalized = text.replace("\r\n", "\n");
    let mut lines: Vec<&str> = normalized.split('\n').collect();
    if let Some(delimiter) = lines.iter().rposition(|line| line.trim_end() == "--")
        && lines[..delimiter]
            .iter()
            .any(|line| !line.trim().is_empty())
    {
        lines.truncate(delimiter);
    }
    loop {
        while lines.last().is_some_and(|line| line.trim().is_empty()) {
            lines.pop();
        }
        match lines.last() {
            Some(line) if is_client_signature(line) => {
                lines.pop();
            }
            _ => break,
        }
    }
    lines.join("\n").trim().to_owned()
}

fn is_client_signature(line: &str) -> bool {
    let line = line.trim();
    if line.chars().count() > 100 {
        return false;
    }
    let lower = line.to_lowercase();
    CLIENT_SIGNATURES
        .iter()
        .any(|prefix| lower.starts_with(prefix))
}

/// Marks each line with one of `e`, `m`, `s`, `f`, `t` (see the module docs).
fn mark_lines(lines: &[&str]) -> Vec<u8> {
    let mut markers = vec![b'e'; lines.len()];
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if line.trim().is_empty() {
            markers[i] = b'e';
        } else if is_quoted(line) {
            markers[i] = b'm';
        } else if is_forward_marker(line) {
            markers[i] = b'f';
        } else if let Some(count) = splitter_lines(lines, i) {
            let end = (i + count).min(lines.len());
            for marker in &mut markers[i..end] {
                *marker = b's';
            }
            i = end;
            continue;
        } else {
            markers[i] = b't';
        }
        i += 1;
    }
    markers
}

/// talon's `process_marked_lines`: decides which lines are the reply.
fn process_marked_lines<'a>(lines: &[&'a str], markers: &[u8]) -> Vec<&'a str> {
    let mut markers = markers.to_vec();
    // Without a splitter, fewer than three quoted lines in a row are text.
    if !markers.contains(&b's') && !has_quote_run(&markers, 3) {
        for marker in &mut markers {
            if *marker == b'm' {
                *marker = b't';
            }
        }
    }
    // A forward at the top: the whole message is the content.
    if let Some(first) = markers.iter().position(|m| *m != b't' && *m != b'e')
        && markers[first] == b'f'
    {
        return lines.to_vec();
    }
    // Inline answers between quotes: keep everything.
    if has_inline_reply(&markers) {
        return lines.to_vec();
    }
    // A splitter followed by unquoted text (Outlook): cut from the splitter.
    if let Some(start) = splitter_before_text(&markers) {
        return lines[..start].to_vec();
    }
    // A quotation block that ends with quoted lines, text only after it.
    if let Some((start, end)) = quotation_span(&markers).or_else(|| empty_quotation(&markers)) {
        let mut kept = lines[..start].to_vec();
        kept.extend_from_slice(&lines[end..]);
        return kept;
    }
    lines.to_vec()
}

/// `(me*){n}`: `n` quoted lines with only empty lines between them.
fn has_quote_run(markers: &[u8], n: usize) -> bool {
    let mut run = 0;
    for marker in markers {
        match marker {
            b'm' => {
                run += 1;
                if run >= n {
                    return true;
                }
            }
            b'e' => {}
            _ => run = 0,
        }
    }
    false
}

/// `(?<=m)e*(t[te]*)m`: text between two quoted lines.
fn has_inline_reply(markers: &[u8]) -> bool {
    let mut seen_quote = false;
    let mut text_after_quote = false;
    for marker in markers {
        match marker {
            b'm' => {
                if text_after_quote {
                    return true;
                }
                seen_quote = true;
            }
            b't' if seen_quote => text_after_quote = true,
            b'e' => {}
            _ => {
                seen_quote = false;
                text_after_quote = false;
            }
        }
    }
    false
}

/// `(se*)+((t|f)+e*)+`: the first splitter after which, past more splitter
/// and empty lines, comes text.
fn splitter_before_text(markers: &[u8]) -> Option<usize> {
    // Walking backwards, remember what comes after the current run of
    // splitter and empty lines; the earliest splitter followed by text wins.
    let mut next_after_run = None;
    let mut found = None;
    for (at, marker) in markers.iter().enumerate().rev() {
        match marker {
            b's' => {
                if matches!(next_after_run, Some(b't' | b'f')) {
                    found = Some(at);
                }
            }
            b'e' => {}
            other => next_after_run = Some(*other),
        }
    }
    found
}

/// `((?:s|(?:me*){2,}).*me*)[te]*$`: from the first splitter or quoted run
/// to the last quoted line (and the empty lines after it), when only text
/// follows. Returns the span to cut.
fn quotation_span(markers: &[u8]) -> Option<(usize, usize)> {
    let last = markers.iter().rposition(|m| *m != b't' && *m != b'e')?;
    if markers[last] != b'm' {
        return None;
    }
    let start = (0..last).find(|&p| match markers[p] {
        b's' => true,
        b'm' => next_non_empty(markers, p + 1).is_some_and(|q| q < last && markers[q] == b'm'),
        _ => false,
    })?;
    let mut end = last + 1;
    while end < markers.len() && markers[end] == b'e' {
        end += 1;
    }
    Some((start, end))
}

/// `((?:s|(?:me*){2,}))e*`: a lone splitter, or a run of quoted lines.
fn empty_quotation(markers: &[u8]) -> Option<(usize, usize)> {
    for p in 0..markers.len() {
        match markers[p] {
            b's' => {
                let mut end = p + 1;
                while end < markers.len() && markers[end] == b'e' {
                    end += 1;
                }
                return Some((p, end));
            }
            b'm' if next_non_empty(markers, p + 1).is_some_and(|q| markers[q] == b'm') => {
                let mut end = p;
                while end < markers.len() && matches!(markers[end], b'm' | b'e') {
                    end += 1;
                }
                return Some((p, end));
            }
            _ => {}
        }
    }
    None
}

fn next_non_empty(markers: &[u8], from: usize) -> Option<usize> {
    (from..markers.len()).find(|&i| markers[i] != b'e')
}

/// Drops `>`-quoted lines (and empty lines among them) at the end, when
/// unquoted text stays before them.
fn drop_trailing_quote_block(lines: &mut Vec<&str>) {
    let mut cut = lines.len();
    while cut > 0 && (lines[cut - 1].trim().is_empty() || is_quoted(lines[cut - 1])) {
        cut -= 1;
    }
    let has_quote = lines[cut..].iter().any(|line| is_quoted(line));
    if has_quote && cut > 0 {
        lines.truncate(cut);
    }
}

/// Drops trailing link footnotes (`[3]: https://…`, as HTML-to-text
/// conversion writes them) whose `[3]` marker is no longer in the text:
/// links of the quoted history that was cut.
fn drop_orphan_footnotes(lines: &mut Vec<&str>) {
    let mut end = lines.len();
    let mut orphans = Vec::new();
    while end > 0 {
        let line = lines[end - 1].trim();
        if line.is_empty() {
            end -= 1;
            continue;
        }
        let Some(marker) = footnote_marker(line) else {
            break;
        };
        orphans.push((end - 1, marker));
        end -= 1;
    }
    if orphans.is_empty() {
        return;
    }
    // Every `[n]` the text above still has, found in one pass.
    let referenced: std::collections::HashSet<&str> = lines[..end]
        .iter()
        .flat_map(|line| markers_in(line))
        .collect();
    let orphaned: std::collections::HashSet<usize> = orphans
        .into_iter()
        .filter(|(_, marker)| !referenced.contains(marker))
        .map(|(index, _)| index)
        .collect();
    let mut index = 0;
    lines.retain(|_| {
        let keep = !orphaned.contains(&index);
        index += 1;
        keep
    });
}

/// Every `[n]` in `line` (n digits).
fn markers_in(line: &str) -> impl Iterator<Item = &str> {
    line.match_indices('[').filter_map(move |(open, _)| {
        let rest = &line[open + 1..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        (digits > 0 && rest.as_bytes().get(digits) == Some(&b']'))
            .then(|| &line[open..open + digits + 2])
    })
}

/// `[12]` for a footnote line `[12]: url`.
fn footnote_marker(line: &str) -> Option<&str> {
    let close = line.find("]: ")?;
    let marker = &line[..=close];
    let number = marker.strip_prefix('[')?.strip_suffix(']')?;
    (!number.is_empty() && number.chars().all(|c| c.is_ascii_digit())).then_some(marker)
}

fn is_quoted(line: &str) -> bool {
    line.trim_start().starts_with('>')
}

fn is_forward_marker(line: &str) -> bool {
    let trimmed = line.trim();
    let lower = trimmed.to_lowercase();
    if lower.starts_with("begin forwarded message") {
        return true;
    }
    trimmed.starts_with('-') && FORWARDED_MESSAGE.contains(&between_dashes(&lower))
}

/// The text of a `----- Text -----` line.
fn between_dashes(line: &str) -> &str {
    line.trim_matches(|c: char| c == '-' || c.is_whitespace())
}

/// How many lines starting at `i` form a quote header, if they do.
fn splitter_lines(lines: &[&str], i: usize) -> Option<usize> {
    let line = lines[i].trim();
    if is_original_message(line) || is_underscore_separator(line) {
        return Some(1);
    }
    if is_rule(line) && next_starts_header_block(lines, i + 1) {
        return Some(1);
    }
    if let Some(count) = header_block(lines, i) {
        return Some(count);
    }
    attribution(lines, i)
}

fn is_original_message(line: &str) -> bool {
    line.starts_with('-')
        && line.ends_with('-')
        && ORIGINAL_MESSAGE.contains(&between_dashes(&line.to_lowercase()))
}

/// Outlook's `________________________________` line.
fn is_underscore_separator(line: &str) -> bool {
    line.len() >= 20 && line.chars().all(|c| c == '_')
}

/// A horizontal rule as text (`-----`, or html2text's `───`).
fn is_rule(line: &str) -> bool {
    line.chars().count() >= 10 && line.chars().all(|c| matches!(c, '-' | '─' | '━' | '='))
}

fn next_starts_header_block(lines: &[&str], from: usize) -> bool {
    (from..lines.len().min(from + 3))
        .find(|&j| !lines[j].trim().is_empty())
        .is_some_and(|j| header_block(lines, j).is_some())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum HeaderKey {
    From,
    Date,
    Other,
}

/// `From: x` (also `*From:* x`, `De : x`, `**От:** x`) as a quote header line.
fn header_key(line: &str) -> Option<HeaderKey> {
    let line = line.trim_start_matches(|c: char| c == '*' || c.is_whitespace());
    let colon = line.find(':')?;
    if colon > 30 {
        return None;
    }
    let key = line[..colon]
        .trim_matches(|c: char| c == '*' || c.is_whitespace())
        .to_lowercase();
    if FROM_KEYS.contains(&key.as_str()) {
        Some(HeaderKey::From)
    } else if DATE_KEYS.contains(&key.as_str()) {
        Some(HeaderKey::Date)
    } else if OTHER_KEYS.contains(&key.as_str()) {
        Some(HeaderKey::Other)
    } else {
        None
    }
}

/// An Outlook-style block of quoted headers: it starts with a From or
/// Date/Sent line and has a From line plus a Date/Sent line (or To and
/// Subject lines); one wrapped continuation line between header lines is
/// allowed. Returns the number of lines up to the last header line.
fn header_block(lines: &[&str], i: usize) -> Option<usize> {
    let first = header_key(lines[i])?;
    if first == HeaderKey::Other {
        return None;
    }
    let (mut from, mut date, mut others) = (false, false, 0);
    let mut last = i;
    let mut j = i;
    while j < lines.len() && j < i + 12 {
        let line = lines[j];
        if line.trim().is_empty() || is_quoted(line) {
            break;
        }
        match header_key(line) {
            Some(key) => {
                match key {
                    HeaderKey::From => from = true,
                    // A Date/Sent line counts only when it carries a date.
                    HeaderKey::Date => date |= line.chars().any(|c| c.is_ascii_digit()),
                    HeaderKey::Other => others += 1,
                }
                last = j;
            }
            None if j > last + 1 => break,
            None => {}
        }
        j += 1;
    }
    (from && (date || others >= 2)).then_some(last - i + 1)
}

/// "On <date>, <person> wrote:" and the date-first variants
/// ("02.04.2012 14:20 пользователь <a@b> написал:", "26.06.2014, 14:41,
/// "Name" <a@b>:"), possibly wrapped over up to three lines.
fn attribution(lines: &[&str], i: usize) -> Option<usize> {
    let first = lines[i].trim();
    let lower_first = first.to_lowercase();
    let without_dashes = lower_first.trim_start_matches('-').trim_start();
    let starts_with_on = ON_WORDS.iter().any(|word| {
        without_dashes
            .strip_prefix(word)
            .is_some_and(|rest| rest.starts_with(' '))
    });
    let starts_with_date = starts_like_date(&lower_first);
    let mut joined = String::new();
    for k in 0..ATTRIBUTION_MAX_LINES {
        let Some(line) = lines.get(i + k) else {
            break;
        };
        if k > 0 && (line.trim().is_empty() || is_quoted(line)) {
            break;
        }
        if !joined.is_empty() {
            joined.push(' ');
        }
        joined.push_str(line.trim());
        if joined.chars().count() > ATTRIBUTION_MAX_CHARS {
            break;
        }
        let shape = Shape::of(&joined);
        let matched = (starts_with_on && shape.on_wrote())
            || (starts_with_date && shape.dated_colon())
            || (k == 0 && shape.plain_wrote());
        if matched {
            return Some(k + 1);
        }
    }
    None
}

/// A line that opens with a date or a short weekday: "02.04.2012 …",
/// "2014-10-17 …", "Thu, 26 Jun …", "пн, 2 апр. …".
fn starts_like_date(lower: &str) -> bool {
    if lower.starts_with(|c: char| c.is_ascii_digit()) {
        return true;
    }
    let token = lower.split_whitespace().next().unwrap_or_default();
    let Some(word) = token.strip_suffix(',') else {
        return false;
    };
    let word = word.trim_end_matches('.');
    let letters = word.chars().count();
    (2..=4).contains(&letters) && word.chars().all(char::is_alphabetic)
}

/// Features of a candidate attribution line.
struct Shape {
    ends_with_colon: bool,
    wrote_at_end: bool,
    has_wrote: bool,
    has_digit: bool,
    has_comma: bool,
    has_email: bool,
    has_time: bool,
}

impl Shape {
    fn of(text: &str) -> Self {
        let lower = text.to_lowercase();
        let trimmed = lower.trim_end_matches(|c: char| c == '-' || c.is_whitespace());
        let ends_with_colon = trimmed.ends_with(':');
        let body = trimmed.trim_end_matches(':').trim_end();
        Shape {
            ends_with_colon,
            wrote_at_end: WROTE_WORDS.iter().any(|word| ends_with_word(body, word)),
            has_wrote: WROTE_WORDS.iter().any(|word| contains_word(body, word)),
            has_digit: body.chars().any(|c| c.is_ascii_digit()),
            has_comma: body.contains(','),
            has_email: has_email(body),
            has_time: has_time(body),
        }
    }

    /// "On …, … wrote:" and "Am … schrieb Name <a@b>:".
    fn on_wrote(&self) -> bool {
        (self.wrote_at_end || (self.ends_with_colon && self.has_wrote))
            && (self.has_digit || self.has_comma)
    }

    /// "26.06.2014, 14:41, "Name" <a@b>:" and "… пользователь <a@b> написал:".
    fn dated_colon(&self) -> bool {
        self.ends_with_colon && self.has_time && (self.has_email || self.has_wrote)
    }

    /// "Name <a@b> wrote:" on one line.
    fn plain_wrote(&self) -> bool {
        self.ends_with_colon && self.wrote_at_end && (self.has_email || self.has_digit)
    }
}

fn is_word_boundary(c: Option<char>) -> bool {
    c.is_none_or(|c| !c.is_alphanumeric())
}

fn ends_with_word(text: &str, word: &str) -> bool {
    text.strip_suffix(word)
        .is_some_and(|before| is_word_boundary(before.chars().next_back()))
}

fn contains_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(at, _)| {
        is_word_boundary(text[..at].chars().next_back())
            && is_word_boundary(text[at + word.len()..].chars().next())
    })
}

fn has_email(text: &str) -> bool {
    text.split(|c: char| c.is_whitespace() || "<>()[]\"',;".contains(c))
        .any(|token| {
            token
                .split_once('@')
                .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        })
}

/// `h:mm` or `hh:mm` somewhere in the text.
fn has_time(text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    chars.iter().enumerate().any(|(at, c)| {
        *c == ':'
            && at > 0
            && chars[at - 1].is_ascii_digit()
            && chars.get(at + 1).is_some_and(char::is_ascii_digit)
            && chars.get(at + 2).is_some_and(char::is_ascii_digit)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_at_on_date_wrote() {
        let text = "Thanks, it works now.\n\nOn Mon, Apr 2, 2012 at 6:26 PM, Anna <anna@example.com> wrote:\n> Did it help?\n> Anna\n";
        assert_eq!(extract(text), "Thanks, it works now.");
    }

    #[test]
    fn cuts_wrapped_attribution() {
        let text = "Yes\n\nOn Mon, Apr 2, 2012 at 6:26 PM, Anna Longname <anna@example.com>\nwrote:\n\n> Did it help?\n";
        assert_eq!(extract(text), "Yes");
    }

    #[test]
    fn cuts_russian_attribution() {
        let text = "Спасибо!\n\n02.04.2012 14:20 пользователь \"Анна\" <anna@example.com> написал:\n> Помогло?\n";
        assert_eq!(extract(text), "Спасибо!");
        let text = "Да\n\nпн, 2 апр. 2012 г. в 18:22, Анна <anna@example.com>:\n> Помогло?\n";
        assert_eq!(extract(text), "Да");
        let text = "Готово\n\n2 апреля 2012, 18:22, Анна пишет:\n> Помогло?\n";
        assert_eq!(extract(text), "Готово");
    }

    #[test]
    fn cuts_german_and_french_attribution() {
        let text =
            "Danke\n\nAm 02.04.2012 um 14:20 schrieb Max Muster <max@example.de>:\n> Hallo\n";
        assert_eq!(extract(text), "Danke");
        let text =
            "Merci\n\nLe lun. 2 avr. 2012 à 18:22, Jean <jean@example.fr> a écrit :\n> Bonjour\n";
        assert_eq!(extract(text), "Merci");
    }

    #[test]
    fn cuts_outlook_header_block_and_everything_after() {
        let text = "Done.\n\n________________________________\nFrom: Support <support@example.com>\nSent: Monday, April 2, 2012 5:44 PM\nTo: Bob\nSubject: Re: printer\n\nPlease restart it.\n";
        assert_eq!(extract(text), "Done.");
        let text = "Done.\n\nFrom: Support [mailto:support@example.com]\nSent: Monday, April 2, 2012 5:44 PM\nTo: Bob\nSubject: Re: printer\n\nPlease restart it.\n";
        assert_eq!(extract(text), "Done.");
        let text = "Done.\n\n-----Original Message-----\nFrom: Support\nPlease restart it.\n";
        assert_eq!(extract(text), "Done.");
    }

    #[test]
    fn drops_signature_and_phone_lines() {
        assert_eq!(extract("Hello\n\n-- \nBob Smith\nACME Inc."), "Hello");
        assert_eq!(extract("Hello\n\nSent from my iPhone"), "Hello");
        assert_eq!(extract("Привет\n\nОтправлено с iPhone"), "Привет");
    }

    #[test]
    fn strip_quotes_keeps_signature() {
        assert_eq!(
            strip_quotes(
                "Hello\n\nSent from my iPhone\n\nOn Apr 3, 2012, at 4:19 PM, bob <bob@example.com> wrote:\n\n> Hi"
            ),
            "Hello\n\nSent from my iPhone"
        );
    }

    #[test]
    fn drops_trailing_quote_block() {
        assert_eq!(extract("Fine, thanks\n\n> How are you?"), "Fine, thanks");
    }

    #[test]
    fn drops_footnotes_of_links_that_were_cut() {
        let text = "See [the page][1].\n\nOn Mon, Apr 2, 2012, Anna <a@example.com> wrote:\n> [old link][2]\n> Anna\n> x\n\n[1]: https://example.com/new\n[2]: https://example.com/old";
        assert_eq!(
            extract(text),
            "See [the page][1].\n\n[1]: https://example.com/new"
        );
    }

    #[test]
    fn keeps_inline_answers() {
        let text = "> Which printer?\nThe one on floor 2.\n> Since when?\nYesterday.";
        assert_eq!(extract(text), text);
    }

    #[test]
    fn keeps_forwarded_mail_whole() {
        let text = "---------- Forwarded message ----------\nFrom: Anna <anna@example.com>\nDate: Mon, 2 Apr 2012\n\nThe printer is broken.";
        assert_eq!(extract(text), text);
    }

    #[test]
    fn never_returns_empty_for_content() {
        assert_eq!(
            extract("On Mon, Apr 2, 2012, Anna wrote:\n> Hi"),
            "On Mon, Apr 2, 2012, Anna wrote:\n> Hi"
        );
        assert_eq!(extract("-- \nBob"), "-- \nBob");
        assert_eq!(extract("> only a quote"), "> only a quote");
        assert_eq!(extract(""), "");
    }

    #[test]
    fn ordinary_text_is_not_cut() {
        let text = "On Monday the printer stopped.\nFrom: the logs I see an error.\nDate: unknown\n\nPlease help, my email is bob@example.com, call at 10:30.";
        assert_eq!(extract(text), text);
    }
}
