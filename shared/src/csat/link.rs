//! The rating links' tokens: `SUP-17.1767225600.<signature>`, the ticket,
//! when the link expires (Unix seconds) and the first 128 bits of
//! HMAC-SHA256(secret, `"csat:" + ticket + "." + expiry`) in unpadded
//! base64url. The score is not signed: it is the requester's choice on
//! the page. A token names one ticket, cannot be made without the secret
//! or moved to another ticket or expiry, and is compared in constant time.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::domain::TicketKey;

/// Signature bytes a token carries.
const SIGNATURE_BYTES: usize = 16;

/// Why a token does not open the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkError {
    /// Malformed, forged, or signed with another secret.
    Invalid,
    /// Right, but past its expiry.
    Expired,
}

fn signature(secret: &[u8], ticket: &str, expires: i64) -> Option<Vec<u8>> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).ok()?;
    mac.update(b"csat:");
    mac.update(ticket.as_bytes());
    mac.update(b".");
    mac.update(expires.to_string().as_bytes());
    Some(mac.finalize().into_bytes()[..SIGNATURE_BYTES].to_vec())
}

/// The token of the rating links of `ticket`, working until `expires`.
/// Empty (refused by [`verify`]) only if the HMAC refused the key, which
/// HMAC-SHA256 never does.
pub fn token(secret: &[u8], ticket: &TicketKey, expires: DateTime<Utc>) -> String {
    let key = ticket.to_string();
    let expires = expires.timestamp();
    signature(secret, &key, expires).map_or_else(String::new, |sig| {
        format!("{key}.{expires}.{}", URL_SAFE_NO_PAD.encode(sig))
    })
}

/// The ticket `token` names, when it is signed with `secret` and has not
/// expired at `now`.
pub fn verify(secret: &[u8], token: &str, now: DateTime<Utc>) -> Result<TicketKey, LinkError> {
    let mut parts = token.rsplitn(3, '.');
    let (Some(sig), Some(expires), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(LinkError::Invalid);
    };
    let ticket = TicketKey::parse(key).map_err(|_| LinkError::Invalid)?;
    let expires: i64 = expires.parse().map_err(|_| LinkError::Invalid)?;
    let given = URL_SAFE_NO_PAD
        .decode(sig)
        .map_err(|_| LinkError::Invalid)?;
    let wanted = signature(secret, &ticket.to_string(), expires).ok_or(LinkError::Invalid)?;
    // The canonical key must be what was signed (`sup-17` is not `SUP-17`).
    if ticket.to_string() != key || !bool::from(given.ct_eq(&wanted)) {
        return Err(LinkError::Invalid);
    }
    if now.timestamp() >= expires {
        return Err(LinkError::Expired);
    }
    Ok(ticket)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use chrono::TimeZone as _;

    const SECRET: &[u8] = b"a-test-secret-of-at-least-32-characters";

    fn at(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_767_225_600 + s, 0).unwrap()
    }

    #[test]
    fn a_token_names_its_ticket_until_it_expires() {
        let ticket = TicketKey::parse("SUP-17").unwrap();
        let token = token(SECRET, &ticket, at(3600));
        assert_eq!(verify(SECRET, &token, at(0)), Ok(ticket.clone()));
        assert_eq!(verify(SECRET, &token, at(3599)), Ok(ticket));
        assert_eq!(verify(SECRET, &token, at(3600)), Err(LinkError::Expired));
    }

    #[test]
    fn a_token_moved_to_another_ticket_or_expiry_or_made_with_another_secret_is_refused() {
        let ticket = TicketKey::parse("SUP-17").unwrap();
        let good = token(SECRET, &ticket, at(3600));
        let sig = good.rsplit('.').next().unwrap();
        let moved = format!("SUP-18.{}.{sig}", at(3600).timestamp());
        let later = format!("SUP-17.{}.{sig}", at(999_999).timestamp());
        let other = token(b"another-secret-of-at-least-32-chars!!", &ticket, at(3600));
        for bad in [
            moved.as_str(),
            later.as_str(),
            other.as_str(),
            &good.to_ascii_lowercase(),
            "",
            "SUP-17",
            "SUP-17.x.y",
            &good[..good.len() - 2],
        ] {
            assert_eq!(verify(SECRET, bad, at(0)), Err(LinkError::Invalid), "{bad}");
        }
    }
}
