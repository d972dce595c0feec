//! Whether a message's From can be believed: the SPF, DKIM and DMARC
//! verdicts of the server that received it. On AWS, SES gives them with
//! every receipt (and writes them into the stored message as an
//! `Authentication-Results: amazonses.com; ...` header); locally, the MTA
//! that pipes mail to the mailgate or posts it to `POST /mail` adds an
//! `Authentication-Results` header under its own name, which the desk
//! trusts only when `desk.mail.trusted_authserv_id` names it. Such a header
//! under any other name may have been written by the sender and is ignored.

use serde::{Deserialize, Serialize};

/// One check's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The check passed.
    Pass,
    /// The check failed.
    Fail,
    /// Neither (no record, a temporary error, not checked).
    #[default]
    None,
}

impl Verdict {
    /// SES's status (`PASS`, `FAIL`, `GRAY`, `PROCESSING_FAILED`) or an
    /// `Authentication-Results` result (`pass`, `fail`, `softfail`,
    /// `none`, ...).
    pub fn parse(value: &str) -> Self {
        match value.trim().to_ascii_lowercase().as_str() {
            "pass" => Self::Pass,
            "fail" | "hardfail" => Self::Fail,
            _ => Self::None,
        }
    }
}

/// The verdicts a receiving server gave a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Authentication {
    /// SPF: the sending host may send for the envelope sender's domain.
    pub spf: Verdict,
    /// DKIM: a signature of the message verified.
    pub dkim: Verdict,
    /// DMARC: the From domain's policy is met.
    pub dmarc: Verdict,
}

impl Authentication {
    /// Whether the From is not to be believed: DMARC failed, or SPF and
    /// DKIM both did.
    pub fn failed(&self) -> bool {
        self.dmarc == Verdict::Fail || (self.spf == Verdict::Fail && self.dkim == Verdict::Fail)
    }

    /// The verdicts of the topmost `Authentication-Results` header written
    /// under `authserv_id` (compared without case), if there is one.
    /// Headers come in the order of the message, the newest (topmost)
    /// first.
    pub fn from_headers<'a>(
        headers: impl IntoIterator<Item = (&'a str, &'a str)>,
        authserv_id: &str,
    ) -> Option<Self> {
        headers
            .into_iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case("Authentication-Results"))
            .find_map(|(_, value)| Self::from_results(value, authserv_id))
    }

    /// One `Authentication-Results` value (RFC 8601), when written under
    /// `authserv_id`.
    fn from_results(value: &str, authserv_id: &str) -> Option<Self> {
        let mut parts = value.split(';');
        let id = parts.next()?.split_whitespace().next()?;
        if !id.eq_ignore_ascii_case(authserv_id) {
            return None;
        }
        let mut found = Self::default();
        for part in parts {
            let Some((method, result)) = part.trim().split_once('=') else {
                continue;
            };
            let result = result.split_whitespace().next().unwrap_or("");
            let verdict = Verdict::parse(result);
            match method.trim().to_ascii_lowercase().as_str() {
                "spf" => found.spf = verdict,
                // Several signatures: one that passes is enough.
                "dkim" if found.dkim != Verdict::Pass => found.dkim = verdict,
                "dmarc" => found.dmarc = verdict,
                _ => {}
            }
        }
        Some(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_trusted_servers_results_count() {
        let headers = [
            (
                "Authentication-Results",
                "mx.example.com; spf=fail smtp.mailfrom=customer.org; dkim=fail header.d=customer.org; dmarc=fail header.from=customer.org",
            ),
            (
                "Authentication-Results",
                "mx.example.com; spf=pass; dkim=pass; dmarc=pass",
            ),
        ];
        let trusted = Authentication::from_headers(headers, "MX.example.com").unwrap();
        assert_eq!(trusted.dmarc, Verdict::Fail);
        assert!(trusted.failed());
        assert_eq!(Authentication::from_headers(headers, "other.example"), None);
        let forged = [("Authentication-Results", "evil.example; dmarc=pass")];
        assert_eq!(Authentication::from_headers(forged, "mx.example.com"), None);
    }

    #[test]
    fn spf_and_dkim_must_both_fail_when_dmarc_does_not() {
        let spf_only = Authentication {
            spf: Verdict::Fail,
            dkim: Verdict::Pass,
            dmarc: Verdict::None,
        };
        assert!(!spf_only.failed());
        let both = Authentication {
            dkim: Verdict::Fail,
            ..spf_only
        };
        assert!(both.failed());
        assert_eq!(Verdict::parse("GRAY"), Verdict::None);
        assert_eq!(Verdict::parse("FAIL"), Verdict::Fail);
    }
}
