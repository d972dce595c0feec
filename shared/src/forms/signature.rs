//! Webhook signatures: HMAC-SHA256 of the raw request body under a shared
//! secret, in the header format of each sender.
//!
//! | scheme | header | value |
//! |---|---|---|
//! | Typeform | `Typeform-Signature` | `sha256=<base64 HMAC(secret, body)>` |
//! | Tally | `Tally-Signature` | `<base64 HMAC(secret, body)>` |
//! | Generic | `X-Signature-256` | `t=<unix seconds>,v1=<hex HMAC(secret, "<t>." + body)>` |
//!
//! Digests are compared in constant time. The generic scheme also bounds the
//! timestamp to [`TOLERANCE_SECS`] either side of now, so a captured request
//! cannot be replayed later; it may carry several `v1=` values (one per
//! secret while a secret is being rotated).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The header a Typeform signature is sent in.
pub const TYPEFORM_HEADER: &str = "Typeform-Signature";
/// The header a Tally signature is sent in.
pub const TALLY_HEADER: &str = "Tally-Signature";
/// The header a generic signature is sent in.
pub const GENERIC_HEADER: &str = "X-Signature-256";
/// How far (in seconds) a generic signature's timestamp may lie from now,
/// either way; a timestamp exactly this far off is still accepted.
pub const TOLERANCE_SECS: i64 = 300;

/// Which sender's signature format to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// `Typeform-Signature: sha256=<base64>`.
    Typeform,
    /// `Tally-Signature: <base64>`.
    Tally,
    /// `X-Signature-256: t=<unix seconds>,v1=<hex>`, over `"<t>." + body`.
    Generic,
}

impl Scheme {
    /// The header this scheme's signature is sent in.
    pub fn header_name(self) -> &'static str {
        match self {
            Self::Typeform => TYPEFORM_HEADER,
            Self::Tally => TALLY_HEADER,
            Self::Generic => GENERIC_HEADER,
        }
    }
}

/// Why a signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The signature header is absent.
    #[error("missing signature header `{0}`")]
    Missing(&'static str),
    /// The signature header is present but not in the scheme's format.
    #[error("malformed signature header: {0}")]
    Malformed(String),
    /// The signature does not match the body under the configured secret.
    #[error("signature does not match the request body")]
    Mismatch,
    /// The generic signature's timestamp is too old.
    #[error("signature timestamp is {age_secs} s old (at most {TOLERANCE_SECS} s allowed)")]
    Expired {
        /// How many seconds before now the timestamp lies.
        age_secs: i64,
    },
    /// The generic signature's timestamp is too far in the future.
    #[error(
        "signature timestamp is {skew_secs} s in the future (at most {TOLERANCE_SECS} s allowed)"
    )]
    FromFuture {
        /// How many seconds after now the timestamp lies.
        skew_secs: i64,
    },
}

/// Checks a request's signature header against its raw body.
///
/// `now` is only used by the generic scheme, whose timestamp must lie within
/// [`TOLERANCE_SECS`] of it. The timestamp is checked after the digest, so
/// [`SignatureError::Expired`] and [`SignatureError::FromFuture`] are only
/// reported for authentic requests (replays and skewed clocks).
///
/// # Errors
///
/// [`SignatureError::Missing`] without the header,
/// [`SignatureError::Malformed`] when it is not in the scheme's format,
/// [`SignatureError::Mismatch`] when the digest is wrong, and
/// [`SignatureError::Expired`] / [`SignatureError::FromFuture`] for a generic
/// timestamp out of bounds.
pub fn verify(
    scheme: Scheme,
    secret: &[u8],
    headers: &http::HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), SignatureError> {
    let header_name = scheme.header_name();
    let value = headers
        .get(header_name)
        .ok_or(SignatureError::Missing(header_name))?
        .to_str()
        .map_err(|_| SignatureError::Malformed(format!("`{header_name}` is not ASCII text")))?
        .trim();
    match scheme {
        Scheme::Typeform => {
            let encoded = value.strip_prefix("sha256=").ok_or_else(|| {
                SignatureError::Malformed(format!("`{header_name}` must start with `sha256=`"))
            })?;
            verify_base64(header_name, secret, body, encoded)
        }
        Scheme::Tally => verify_base64(header_name, secret, body, value),
        Scheme::Generic => verify_generic(secret, body, value, now),
    }
}

/// The `X-Signature-256` header value for `body` signed at `timestamp` (unix
/// seconds): `t=<timestamp>,v1=<hex digest>`.
pub fn sign_generic(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let digest = generic_mac(secret, timestamp, body).finalize().into_bytes();
    format!("t={timestamp},v1={}", hex::encode(digest))
}

/// The header value `scheme` expects for `body` (`timestamp` is used by the
/// generic scheme only). Pair it with [`Scheme::header_name`].
pub fn sign(scheme: Scheme, secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    match scheme {
        Scheme::Typeform => format!("sha256={}", base64_digest(secret, body)),
        Scheme::Tally => base64_digest(secret, body),
        Scheme::Generic => sign_generic(secret, timestamp, body),
    }
}

fn new_mac(secret: &[u8]) -> HmacSha256 {
    match <HmacSha256 as Mac>::new_from_slice(secret) {
        Ok(mac) => mac,
        // HMAC takes keys of any length (longer ones are hashed first), so
        // `new_from_slice` cannot fail for it.
        Err(_) => unreachable!("HMAC-SHA256 accepts keys of any length"),
    }
}

fn base64_digest(secret: &[u8], body: &[u8]) -> String {
    let mut mac = new_mac(secret);
    mac.update(body);
    BASE64.encode(mac.finalize().into_bytes())
}

fn generic_mac(secret: &[u8], timestamp: i64, body: &[u8]) -> HmacSha256 {
    let mut mac = new_mac(secret);
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

fn verify_base64(
    header_name: &str,
    secret: &[u8],
    body: &[u8],
    encoded: &str,
) -> Result<(), SignatureError> {
    let expected = BASE64.decode(encoded.trim()).map_err(|_| {
        SignatureError::Malformed(format!("`{header_name}` does not hold a base64 digest"))
    })?;
    let mut mac = new_mac(secret);
    mac.update(body);
    mac.verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch)
}

fn verify_generic(
    secret: &[u8],
    body: &[u8],
    value: &str,
    now: DateTime<Utc>,
) -> Result<(), SignatureError> {
    let mut timestamp: Option<i64> = None;
    let mut digests: Vec<Vec<u8>> = Vec::new();
    for item in value.split(',') {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let Some((key, val)) = item.split_once('=') else {
            return Err(SignatureError::Malformed(format!(
                "`{GENERIC_HEADER}` item `{item}` is not `key=value`"
            )));
        };
        match key.trim() {
            "t" => {
                let parsed = val.trim().parse::<i64>().map_err(|_| {
                    SignatureError::Malformed(format!(
                        "`{GENERIC_HEADER}` timestamp `{val}` is not unix seconds"
                    ))
                })?;
                if timestamp.replace(parsed).is_some() {
                    return Err(SignatureError::Malformed(format!(
                        "`{GENERIC_HEADER}` has more than one timestamp"
                    )));
                }
            }
            "v1" => {
                let digest = hex::decode(val.trim()).map_err(|_| {
                    SignatureError::Malformed(format!(
                        "`{GENERIC_HEADER}` v1 value is not a hex digest"
                    ))
                })?;
                digests.push(digest);
            }
            // Other schemes' values (v0, future versions) are ignored.
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or_else(|| {
        SignatureError::Malformed(format!("`{GENERIC_HEADER}` has no `t=` timestamp"))
    })?;
    if digests.is_empty() {
        return Err(SignatureError::Malformed(format!(
            "`{GENERIC_HEADER}` has no `v1=` signature"
        )));
    }

    let mac = generic_mac(secret, timestamp, body);
    let matched = digests
        .iter()
        .any(|digest| mac.clone().verify_slice(digest).is_ok());
    if !matched {
        return Err(SignatureError::Mismatch);
    }

    let age_secs = now.timestamp().saturating_sub(timestamp);
    if age_secs > TOLERANCE_SECS {
        return Err(SignatureError::Expired { age_secs });
    }
    if age_secs < -TOLERANCE_SECS {
        return Err(SignatureError::FromFuture {
            skew_secs: age_secs.saturating_neg(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use chrono::TimeZone;
    use http::{HeaderMap, HeaderValue};

    use super::*;

    const SECRET: &[u8] = b"s3cr3t-shared-with-the-sender";
    const BODY: &[u8] = br#"{"event_id":"E1","form_response":{"answers":[]}}"#;
    const NOW: i64 = 1_715_940_000;

    fn now() -> DateTime<Utc> {
        Utc.timestamp_opt(NOW, 0).unwrap()
    }

    fn headers(name: &'static str, value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(name, HeaderValue::from_str(value).unwrap());
        headers
    }

    fn check(
        scheme: Scheme,
        name: &'static str,
        value: &str,
        body: &[u8],
    ) -> Result<(), SignatureError> {
        verify(scheme, SECRET, &headers(name, value), body, now())
    }

    fn flipped(body: &[u8]) -> Vec<u8> {
        let mut body = body.to_vec();
        body[5] ^= 0x01;
        body
    }

    #[test]
    fn scheme_deserializes_from_lowercase_names() {
        let schemes: Vec<Scheme> =
            serde_json::from_str(r#"["typeform","tally","generic"]"#).unwrap();
        assert_eq!(schemes, [Scheme::Typeform, Scheme::Tally, Scheme::Generic]);
        assert!(serde_json::from_str::<Scheme>(r#""Typeform""#).is_err());
    }

    #[test]
    fn typeform_good_signature_passes() {
        let value = sign(Scheme::Typeform, SECRET, 0, BODY);
        assert!(value.starts_with("sha256="));
        assert_eq!(
            check(Scheme::Typeform, "Typeform-Signature", &value, BODY),
            Ok(())
        );
    }

    #[test]
    fn typeform_header_name_is_case_insensitive() {
        let value = sign(Scheme::Typeform, SECRET, 0, BODY);
        assert_eq!(
            check(Scheme::Typeform, "typeform-signature", &value, BODY),
            Ok(())
        );
    }

    #[test]
    fn typeform_signature_matches_an_independently_computed_digest() {
        // HMAC-SHA256 test case 2 of RFC 4231: key "Jefe".
        let body = b"what do ya want for nothing?";
        let digest =
            hex::decode("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
                .unwrap();
        let value = format!("sha256={}", BASE64.encode(digest));
        assert_eq!(
            verify(
                Scheme::Typeform,
                b"Jefe",
                &headers("Typeform-Signature", &value),
                body,
                now()
            ),
            Ok(())
        );
    }

    #[test]
    fn typeform_one_flipped_body_byte_is_a_mismatch() {
        let value = sign(Scheme::Typeform, SECRET, 0, BODY);
        assert_eq!(
            check(
                Scheme::Typeform,
                "Typeform-Signature",
                &value,
                &flipped(BODY)
            ),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn typeform_wrong_secret_is_a_mismatch() {
        let value = sign(Scheme::Typeform, b"another secret", 0, BODY);
        assert_eq!(
            check(Scheme::Typeform, "Typeform-Signature", &value, BODY),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn typeform_missing_header_is_reported_by_name() {
        let err = verify(Scheme::Typeform, SECRET, &HeaderMap::new(), BODY, now()).unwrap_err();
        assert_eq!(err, SignatureError::Missing("Typeform-Signature"));
        // A Tally header does not satisfy Typeform.
        let value = sign(Scheme::Tally, SECRET, 0, BODY);
        assert_eq!(
            check(Scheme::Typeform, "Tally-Signature", &value, BODY),
            Err(SignatureError::Missing("Typeform-Signature"))
        );
    }

    #[test]
    fn typeform_wrong_prefix_is_malformed() {
        let digest = sign(Scheme::Tally, SECRET, 0, BODY);
        for value in [
            digest.clone(),
            format!("sha1={digest}"),
            format!("SHA256={digest}"),
        ] {
            assert!(
                matches!(
                    check(Scheme::Typeform, "Typeform-Signature", &value, BODY),
                    Err(SignatureError::Malformed(_))
                ),
                "{value}"
            );
        }
    }

    #[test]
    fn typeform_non_base64_digest_is_malformed() {
        assert!(matches!(
            check(
                Scheme::Typeform,
                "Typeform-Signature",
                "sha256=!!not base64!!",
                BODY
            ),
            Err(SignatureError::Malformed(_))
        ));
    }

    #[test]
    fn tally_good_signature_passes() {
        let value = sign(Scheme::Tally, SECRET, 0, BODY);
        assert_eq!(
            check(Scheme::Tally, "Tally-Signature", &value, BODY),
            Ok(())
        );
    }

    #[test]
    fn tally_one_flipped_body_byte_is_a_mismatch() {
        let value = sign(Scheme::Tally, SECRET, 0, BODY);
        assert_eq!(
            check(Scheme::Tally, "Tally-Signature", &value, &flipped(BODY)),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn tally_one_flipped_signature_byte_is_a_mismatch() {
        let mut digest = BASE64.decode(sign(Scheme::Tally, SECRET, 0, BODY)).unwrap();
        digest[0] ^= 0x80;
        assert_eq!(
            check(
                Scheme::Tally,
                "Tally-Signature",
                &BASE64.encode(digest),
                BODY
            ),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn tally_missing_header_is_reported_by_name() {
        let err = verify(Scheme::Tally, SECRET, &HeaderMap::new(), BODY, now()).unwrap_err();
        assert_eq!(err, SignatureError::Missing("Tally-Signature"));
    }

    #[test]
    fn tally_prefixed_value_is_malformed() {
        let value = sign(Scheme::Typeform, SECRET, 0, BODY);
        assert!(matches!(
            check(Scheme::Tally, "Tally-Signature", &value, BODY),
            Err(SignatureError::Malformed(_))
        ));
    }

    #[test]
    fn generic_good_signature_passes() {
        let value = sign_generic(SECRET, NOW, BODY);
        assert!(value.starts_with(&format!("t={NOW},v1=")));
        assert_eq!(
            check(Scheme::Generic, "X-Signature-256", &value, BODY),
            Ok(())
        );
        assert_eq!(sign(Scheme::Generic, SECRET, NOW, BODY), value);
    }

    #[test]
    fn generic_signature_covers_the_timestamp() {
        let value = sign_generic(SECRET, NOW, BODY);
        let digest = value.split_once(",v1=").unwrap().1;
        let moved = format!("t={},v1={digest}", NOW - 1);
        assert_eq!(
            check(Scheme::Generic, "X-Signature-256", &moved, BODY),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn generic_one_flipped_body_byte_is_a_mismatch() {
        let value = sign_generic(SECRET, NOW, BODY);
        assert_eq!(
            check(Scheme::Generic, "X-Signature-256", &value, &flipped(BODY)),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn generic_accepts_any_of_several_v1_values() {
        let old = sign_generic(b"old secret", NOW, BODY);
        let new = sign_generic(SECRET, NOW, BODY);
        let value = format!("{}, v1={}", old, new.split_once(",v1=").unwrap().1);
        assert_eq!(
            check(Scheme::Generic, "X-Signature-256", &value, BODY),
            Ok(())
        );
    }

    #[test]
    fn generic_missing_header_is_reported_by_name() {
        let err = verify(Scheme::Generic, SECRET, &HeaderMap::new(), BODY, now()).unwrap_err();
        assert_eq!(err, SignatureError::Missing("X-Signature-256"));
    }

    #[test]
    fn generic_malformed_values_are_malformed() {
        let good = sign_generic(SECRET, NOW, BODY);
        let digest = good.split_once(",v1=").unwrap().1.to_owned();
        for value in [
            format!("v1={digest}"),
            format!("t={NOW}"),
            format!("t=soon,v1={digest}"),
            format!("t={NOW},v1=zz{digest}"),
            format!("t={NOW},t={NOW},v1={digest}"),
            format!("sha256={digest}"),
            String::from("garbage"),
        ] {
            assert!(
                matches!(
                    check(Scheme::Generic, "X-Signature-256", &value, BODY),
                    Err(SignatureError::Malformed(_))
                ),
                "{value}"
            );
        }
    }

    #[test]
    fn generic_expired_timestamp_is_rejected() {
        let value = sign_generic(SECRET, NOW - 3600, BODY);
        assert_eq!(
            check(Scheme::Generic, "X-Signature-256", &value, BODY),
            Err(SignatureError::Expired { age_secs: 3600 })
        );
    }

    #[test]
    fn generic_future_timestamp_is_rejected() {
        let value = sign_generic(SECRET, NOW + 3600, BODY);
        assert_eq!(
            check(Scheme::Generic, "X-Signature-256", &value, BODY),
            Err(SignatureError::FromFuture { skew_secs: 3600 })
        );
    }

    #[test]
    fn generic_timestamps_exactly_at_the_tolerance_pass_and_one_second_more_fails() {
        for (timestamp, expected) in [
            (NOW - TOLERANCE_SECS, Ok(())),
            (NOW + TOLERANCE_SECS, Ok(())),
            (
                NOW - TOLERANCE_SECS - 1,
                Err(SignatureError::Expired {
                    age_secs: TOLERANCE_SECS + 1,
                }),
            ),
            (
                NOW + TOLERANCE_SECS + 1,
                Err(SignatureError::FromFuture {
                    skew_secs: TOLERANCE_SECS + 1,
                }),
            ),
        ] {
            let value = sign_generic(SECRET, timestamp, BODY);
            assert_eq!(
                check(Scheme::Generic, "X-Signature-256", &value, BODY),
                expected,
                "t={timestamp}"
            );
        }
    }

    #[test]
    fn generic_extreme_timestamps_do_not_overflow() {
        for timestamp in [i64::MIN, i64::MAX] {
            let value = sign_generic(SECRET, timestamp, BODY);
            let result = check(Scheme::Generic, "X-Signature-256", &value, BODY);
            assert!(
                matches!(
                    result,
                    Err(SignatureError::Expired { .. } | SignatureError::FromFuture { .. })
                ),
                "{result:?}"
            );
        }
    }

    #[test]
    fn errors_read_clearly() {
        assert_eq!(
            SignatureError::Missing("Tally-Signature").to_string(),
            "missing signature header `Tally-Signature`"
        );
        assert_eq!(
            SignatureError::Expired { age_secs: 301 }.to_string(),
            "signature timestamp is 301 s old (at most 300 s allowed)"
        );
    }
}
