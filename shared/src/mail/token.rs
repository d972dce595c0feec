//! Reply-To tokens: outbound mail says `Reply-To: support+<token>@example.com`,
//! and a reply to that address names its ticket without trusting the subject.
//!
//! A token is the ticket key in lower case followed by a signature, for
//! example `sup-17-k3v9q2xw7a`: the signature is the first 50 bits of
//! HMAC-SHA256(secret, `"reply:" + "SUP-17"`), written as 10 characters of
//! lower-case base32 (RFC 4648 alphabet `a-z2-7`). Everything is lower case
//! because mail systems may fold the local part; verification accepts any
//! case. Without the secret a token cannot be made, and the comparison is
//! constant time, so tokens cannot be guessed or probed byte by byte.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::domain::{EmailAddress, TicketKey};

/// How many base32 characters of the HMAC a token carries (5 bits each).
const SIGNATURE_CHARS: usize = 10;

/// RFC 4648 base32, lower case.
const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// The signature part of a token: the first 50 bits of the HMAC in base32.
/// `None` only if the HMAC refused the key, which HMAC-SHA256 never does
/// (keys of any length are allowed).
fn signature(secret: &[u8], canonical_key: &str) -> Option<[u8; SIGNATURE_CHARS]> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).ok()?;
    mac.update(b"reply:");
    mac.update(canonical_key.as_bytes());
    let digest = mac.finalize().into_bytes();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    let bits = u64::from_be_bytes(first);
    let mut out = [0u8; SIGNATURE_CHARS];
    for (i, slot) in out.iter_mut().enumerate() {
        // Character i takes bits 63-5i .. 59-5i (the top 50 bits in total).
        let index = (bits >> (59 - 5 * i)) & 0x1f;
        *slot = BASE32[index as usize];
    }
    Some(out)
}

/// The Reply-To token for `ticket`, such as `sup-17-k3v9q2xw7a`.
pub fn reply_token(secret: &[u8], ticket: &TicketKey) -> String {
    let key = ticket.to_string();
    let mut token = key.to_ascii_lowercase();
    token.push('-');
    // Without a signature (never, see `signature`) the token ends in `-`
    // and is refused by `verify_reply_token`: it fails closed.
    if let Some(sig) = signature(secret, &key) {
        token.extend(sig.iter().map(|&b| char::from(b)));
    }
    token
}

/// The ticket a token names, when its signature is right for `secret`.
///
/// Case does not matter. Anything malformed, forged, or signed with another
/// secret gives `None`.
pub fn verify_reply_token(secret: &[u8], token: &str) -> Option<TicketKey> {
    let token = token.trim();
    if !token.is_ascii() {
        return None;
    }
    let (key, sig) = token.rsplit_once('-')?;
    if sig.len() != SIGNATURE_CHARS {
        return None;
    }
    let ticket = TicketKey::parse(&key.to_ascii_uppercase()).ok()?;
    let expected = signature(secret, &ticket.to_string())?;
    let given = sig.to_ascii_lowercase();
    if bool::from(expected.as_slice().ct_eq(given.as_bytes())) {
        Some(ticket)
    } else {
        None
    }
}

/// The sub-address carrying `token`: `support@example.com` and
/// `sup-17-k3v9q2xw7a` give `support+sup-17-k3v9q2xw7a@example.com`.
pub fn plus_address(base: &EmailAddress, token: &str) -> String {
    let address = base.as_str();
    match address.rsplit_once('@') {
        Some((local, domain)) => format!("{local}+{token}@{domain}"),
        // An `EmailAddress` always has an `@`; keep the address unchanged otherwise.
        None => address.to_owned(),
    }
}

/// The token in a sub-address: the part of the local part after its last
/// `+`. Accepts surrounding whitespace and angle brackets
/// (`<support+sup-17-k3v9q2xw7a@example.com>`); `None` when there is no
/// `@`, no `+`, or nothing after the `+`.
pub fn token_from_address(address: &str) -> Option<&str> {
    let address = address.trim();
    let address = address
        .strip_prefix('<')
        .and_then(|a| a.strip_suffix('>'))
        .unwrap_or(address);
    let (local, _domain) = address.rsplit_once('@')?;
    let (_base, token) = local.rsplit_once('+')?;
    (!token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"a secret of the deployment";

    fn key(text: &str) -> TicketKey {
        TicketKey::parse(text).unwrap()
    }

    #[test]
    fn a_token_names_its_ticket_and_nothing_else() {
        let token = reply_token(SECRET, &key("SUP-17"));
        assert!(token.starts_with("sup-17-"), "{token}");
        assert_eq!(token.len(), "sup-17-".len() + 10);
        assert!(
            token
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        );
        assert_eq!(verify_reply_token(SECRET, &token), Some(key("SUP-17")));
    }

    #[test]
    fn tokens_are_deterministic_and_differ_per_ticket() {
        assert_eq!(
            reply_token(SECRET, &key("SUP-17")),
            reply_token(SECRET, &key("SUP-17"))
        );
        let a = reply_token(SECRET, &key("SUP-17"));
        let b = reply_token(SECRET, &key("SUP-18"));
        assert_ne!(a.rsplit_once('-'), b.rsplit_once('-'));
    }

    #[test]
    fn a_tampered_token_is_refused() {
        let token = reply_token(SECRET, &key("SUP-17"));
        // Another ticket with the same signature.
        let (_, sig) = token.rsplit_once('-').unwrap();
        assert_eq!(verify_reply_token(SECRET, &format!("sup-18-{sig}")), None);
        // One character of the signature changed.
        let mut chars: Vec<char> = token.chars().collect();
        let last = chars.len() - 1;
        chars[last] = if chars[last] == 'a' { 'b' } else { 'a' };
        let changed: String = chars.into_iter().collect();
        assert_eq!(verify_reply_token(SECRET, &changed), None);
        // Shortened or lengthened signatures.
        assert_eq!(verify_reply_token(SECRET, &token[..token.len() - 1]), None);
        assert_eq!(verify_reply_token(SECRET, &format!("{token}a")), None);
    }

    #[test]
    fn an_upper_cased_token_is_accepted() {
        let token = reply_token(SECRET, &key("SUP-17"));
        assert_eq!(
            verify_reply_token(SECRET, &token.to_ascii_uppercase()),
            Some(key("SUP-17"))
        );
    }

    #[test]
    fn a_token_made_with_another_secret_is_refused() {
        let token = reply_token(b"someone else's secret", &key("SUP-17"));
        assert_eq!(verify_reply_token(SECRET, &token), None);
    }

    #[test]
    fn malformed_tokens_are_refused() {
        for bad in [
            "",
            "-",
            "sup-17",
            "sup-17-",
            "sup-abcdefghij",
            "17-abcdefghij",
            "sup-0-abcdefghij",
            "süp-17-abcdefghij",
            "sup-17-abcdéfghij",
        ] {
            assert_eq!(verify_reply_token(SECRET, bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_token_rides_in_the_local_part_and_comes_back_out() {
        let base = EmailAddress::parse("support@example.com").unwrap();
        let token = reply_token(SECRET, &key("SUP-17"));
        let address = plus_address(&base, &token);
        assert_eq!(address, format!("support+{token}@example.com"));
        assert_eq!(token_from_address(&address), Some(token.as_str()));
        let folded = address.to_ascii_uppercase();
        let from_folded = token_from_address(&folded).unwrap();
        assert_eq!(verify_reply_token(SECRET, from_folded), Some(key("SUP-17")));
        assert_eq!(
            token_from_address(&format!(" <{address}> ")),
            Some(token.as_str())
        );
    }

    #[test]
    fn addresses_without_a_token_give_none() {
        for address in [
            "support@example.com",
            "support+@example.com",
            "support+sup-17",
            "",
        ] {
            assert_eq!(token_from_address(address), None, "{address:?}");
        }
        assert_eq!(token_from_address("support+x+tok@example.com"), Some("tok"));
    }
}
