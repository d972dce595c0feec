//! What [`mail_parser`] leaves wrong in real-world mail, put right after it
//! parsed a message:
//!
//! - **8-bit header bytes** that no RFC 2047 word declares (a Latin-1 `ä` in
//!   a subject, a display name or a file name) are read in the part's
//!   charset, else the message's, else Windows-1252 (what mail clients
//!   assume), never as U+FFFD; the header is then parsed again from that
//!   text, so its encoded words and parameters still decode.
//! - **An attached message** (`message/rfc822` sent as is) is its own bytes,
//!   not the whole outer message's.
//! - **uuencoded parts** (`Content-Transfer-Encoding: x-uuencode`) are
//!   decoded.
//! - **base64 without padding, or wrapped badly**, is decoded to its last
//!   byte.
//!
//! Pure functions over a parsed message and its raw bytes.

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use encoding_rs::{Encoding, UTF_8, WINDOWS_1252};
use mail_parser::{
    Addr, Address, Encoding as TransferEncoding, HeaderValue, Message, MessageParser, MessagePart,
    MimeHeaders, PartType,
};

/// The text of header bytes: UTF-8 when they are, else decoded in
/// `charset` (a label encoding_rs knows, not UTF-8), else in Windows-1252.
pub fn header_text<'a>(bytes: &'a [u8], charset: Option<&str>) -> Cow<'a, str> {
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Cow::Borrowed(text);
    }
    let encoding = charset
        .and_then(|label| Encoding::for_label(label.trim().as_bytes()))
        .filter(|encoding| *encoding != UTF_8)
        .unwrap_or(WINDOWS_1252);
    let (text, _, _) = encoding.decode(bytes);
    text
}

/// Parses again, from their text in the right charset, the headers of every
/// part of `message` whose bytes are not UTF-8.
pub fn eight_bit_headers(message: &mut Message<'_>) {
    let raw = message.raw_message.clone();
    let root_charset = message
        .parts
        .first()
        .and_then(|root| root.content_type())
        .and_then(|ct| ct.attribute("charset"))
        .map(str::to_owned);
    for part in &mut message.parts {
        let charset = part
            .content_type()
            .and_then(|ct| ct.attribute("charset"))
            .map(str::to_owned)
            .or_else(|| root_charset.clone());
        for header in &mut part.headers {
            let value = raw
                .get(header.offset_start as usize..header.offset_end as usize)
                .unwrap_or_default();
            // Bytes inside an encoded word are read in the word's charset
            // already; only a value mail-parser could not read is redone.
            if std::str::from_utf8(value).is_ok() || !garbled(&header.value) {
                continue;
            }
            let name = raw
                .get(header.offset_field as usize..header.offset_start as usize)
                .unwrap_or_default();
            if let Some(reparsed) = reparse(name, &header_text(value, charset.as_deref())) {
                header.value = reparsed;
            }
        }
    }
}

/// Whether a header's text came out with replacement characters.
fn garbled(value: &HeaderValue<'_>) -> bool {
    let bad = |text: &str| text.contains('\u{fffd}');
    let addr_bad = |addr: &Addr<'_>| {
        addr.name.as_deref().is_some_and(bad) || addr.address.as_deref().is_some_and(bad)
    };
    match value {
        HeaderValue::Text(text) => bad(text),
        HeaderValue::TextList(list) => list.iter().any(|text| bad(text)),
        HeaderValue::Address(Address::List(list)) => list.iter().any(addr_bad),
        HeaderValue::Address(Address::Group(groups)) => groups.iter().any(|group| {
            group.name.as_deref().is_some_and(bad) || group.addresses.iter().any(addr_bad)
        }),
        HeaderValue::ContentType(ct) => ct
            .attributes()
            .is_some_and(|attributes| attributes.iter().any(|a| bad(&a.value))),
        _ => false,
    }
}

/// The value of the header `name` (its bytes up to the colon) with `value`,
/// as mail-parser reads it.
fn reparse(name: &[u8], value: &str) -> Option<HeaderValue<'static>> {
    let mut mini = Vec::with_capacity(name.len() + value.len() + 4);
    mini.extend_from_slice(name);
    mini.extend_from_slice(value.as_bytes());
    mini.extend_from_slice(b"\r\n\r\n");
    let parsed = MessageParser::default().parse_headers(&mini)?;
    let header = parsed
        .parts
        .into_iter()
        .next()?
        .headers
        .into_iter()
        .next()?;
    Some(header.value.into_owned())
}

/// The bytes of an attachment part, put right (see the module docs), or
/// `None` when mail-parser's are right. `raw` is the message the part's
/// offsets point into.
pub fn part_bytes(part: &MessagePart<'_>, raw: &[u8]) -> Option<Vec<u8>> {
    let body = raw.get(part.offset_body as usize..part.offset_end as usize)?;
    match &part.body {
        PartType::Message(_) if part.encoding == TransferEncoding::None => Some(body.to_vec()),
        PartType::Message(_) => None,
        _ if is_uuencoded(part) => uudecode(body),
        _ if part.encoding == TransferEncoding::Base64 => {
            let theirs = part.contents();
            if theirs.len() >= base64_length(body) {
                return None;
            }
            let ours = lenient_base64(body)?;
            (ours.len() > theirs.len() && ours.starts_with(theirs)).then_some(ours)
        }
        _ => None,
    }
}

/// The name of an attached message: its subject, as `Subject.eml`.
pub fn message_name(part: &MessagePart<'_>) -> Option<String> {
    let PartType::Message(message) = &part.body else {
        return None;
    };
    let subject: String = message
        .subject()?
        .chars()
        .map(|c| {
            if c == '/' || c == '\\' || c.is_control() {
                ' '
            } else {
                c
            }
        })
        .collect();
    let subject = subject.split_whitespace().collect::<Vec<_>>().join(" ");
    (!subject.is_empty()).then(|| format!("{subject}.eml"))
}

/// Whether the part says it is uuencoded.
fn is_uuencoded(part: &MessagePart<'_>) -> bool {
    part.content_transfer_encoding().is_some_and(|cte| {
        matches!(
            cte.trim().to_ascii_lowercase().as_str(),
            "x-uuencode" | "uuencode" | "x-uue" | "uue"
        )
    })
}

/// Decodes the first `begin … end` block of uuencoded `body`.
fn uudecode(body: &[u8]) -> Option<Vec<u8>> {
    let text = String::from_utf8_lossy(body);
    let mut lines = text.lines().skip_while(|line| !line.starts_with("begin "));
    lines.next()?;
    let mut out = Vec::new();
    for line in lines {
        let line = line.trim_end_matches(['\r', '\n']);
        if line == "end" {
            break;
        }
        let bytes = line.as_bytes();
        let Some(&first) = bytes.first() else {
            continue;
        };
        let length = usize::from(first.wrapping_sub(b' ') & 0x3f);
        if length == 0 {
            continue;
        }
        let values: Vec<u8> = bytes[1..]
            .iter()
            .map(|b| b.wrapping_sub(b' ') & 0x3f)
            .collect();
        let mut decoded = Vec::with_capacity(length + 2);
        for group in values.chunks(4) {
            let v = |i: usize| u32::from(group.get(i).copied().unwrap_or(0));
            let n = (v(0) << 18) | (v(1) << 12) | (v(2) << 6) | v(3);
            decoded.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8]);
        }
        decoded.truncate(length);
        out.extend_from_slice(&decoded);
    }
    Some(out)
}

/// Whether a byte is a symbol of the base64 alphabet.
fn is_base64_symbol(byte: &u8) -> bool {
    byte.is_ascii_alphanumeric() || *byte == b'+' || *byte == b'/'
}

/// How many bytes the base64 symbols of `body` stand for.
fn base64_length(body: &[u8]) -> usize {
    let symbols = body.iter().filter(|b| is_base64_symbol(b)).count();
    symbols / 4 * 3
        + match symbols % 4 {
            2 => 1,
            3 => 2,
            _ => 0,
        }
}

/// base64 decoded whatever its padding and wrapping: every character of the
/// alphabet counts, everything else (line breaks, spaces, `=`) does not.
fn lenient_base64(body: &[u8]) -> Option<Vec<u8>> {
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::RequireNone)
            .with_decode_allow_trailing_bits(true),
    );
    let mut symbols: Vec<u8> = body.iter().copied().filter(is_base64_symbol).collect();
    if symbols.len() % 4 == 1 {
        symbols.pop();
    }
    LENIENT.decode(&symbols).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_bytes_are_read_in_their_charset_or_windows_1252() {
        assert_eq!(header_text(b"Gr\xfc\xdfe", Some("iso-8859-1")), "Grüße");
        assert_eq!(header_text(b"100 \x80", None), "100 €");
        assert_eq!(header_text(b"100 \x80", Some("utf-8")), "100 €");
        assert_eq!(header_text("été".as_bytes(), Some("iso-8859-1")), "été");
    }

    #[test]
    fn uuencode_decodes_to_the_bytes() {
        assert_eq!(
            uudecode(b"begin 644 a.txt\r\n%2&5L;&\\ \r\n`\r\nend\r\n").as_deref(),
            Some(&b"Hello"[..])
        );
    }

    #[test]
    fn base64_decodes_without_padding_and_across_bad_wrapping() {
        assert_eq!(
            lenient_base64(b"SGVsbG8gV29ybGQ").as_deref(),
            Some(&b"Hello World"[..])
        );
        assert_eq!(
            lenient_base64(b"SGVsb\r\nG8gV29y bGQ\r\nhIQ==").as_deref(),
            Some(&b"Hello World!!"[..])
        );
    }
}
