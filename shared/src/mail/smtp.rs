//! The SMTP relay transport: a desk on one machine mails its customers
//! through a relay (its provider's submission server, a local Postfix).
//!
//! [`SmtpUrl`] is the setting, parsed once: `smtps://[user@]host[:port]`
//! (TLS from the start, port 465 by default), or
//! `smtp://[user@]host[:port][?tls=required]` (STARTTLS required; give the
//! port, 587 for submission; without `tls=required` the connection is not
//! encrypted, which is refused with a user unless the relay is on this
//! host). The password never goes in the URL (it would end up in process
//! lists and logs): it comes from `HELPDESK_SMTP_PASSWORD`.
//!
//! [`SmtpRelay`] hands the bytes it is given to the relay unchanged, with
//! the envelope sender and recipients, through lettre. A 4xx reply, a
//! timeout or a broken connection is [`TransportError::Temporary`] (the
//! caller's once-only claim lets a retry send it); a 5xx reply is
//! [`TransportError::Permanent`].

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::transport::{MailTransport, TransportError, check_envelope};

/// The variable the relay's password is read from.
pub const PASSWORD_ENV: &str = "HELPDESK_SMTP_PASSWORD";

/// How long one step of a conversation with the relay may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// An SMTP relay setting: `smtp://` or `smtps://`, with an optional user
/// and no password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpUrl {
    url: String,
    user: Option<String>,
}

impl SmtpUrl {
    /// The URL as written (it holds no password).
    pub fn as_str(&self) -> &str {
        &self.url
    }
}

impl FromStr for SmtpUrl {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let value = value.trim();
        let (rest, implicit_tls) = match value.strip_prefix("smtps://") {
            Some(rest) => (rest, true),
            None => (
                value
                    .strip_prefix("smtp://")
                    .ok_or_else(|| "an SMTP relay is smtp://host or smtps://host".to_owned())?,
                false,
            ),
        };
        // The user part ends at the last `@` (a password may hold `/`, `?`).
        let (userinfo, after) = match rest.rsplit_once('@') {
            Some((userinfo, after)) => (Some(userinfo), after),
            None => (None, rest),
        };
        let (after, query) = after.split_once('?').unwrap_or((after, ""));
        if userinfo.is_some_and(|info| info.contains(':')) {
            return Err(format!(
                "put the SMTP password in {PASSWORD_ENV}, not in the URL"
            ));
        }
        let host = after.split('/').next().unwrap_or_default();
        let name = host.rsplit_once(':').map_or(host, |(name, _)| name);
        if name.is_empty() {
            return Err("the SMTP relay URL names no host".to_owned());
        }
        let user = userinfo.filter(|user| !user.is_empty()).map(str::to_owned);
        let tls = implicit_tls || query.split('&').any(|p| p == "tls=required");
        let local = matches!(name, "localhost" | "127.0.0.1" | "[::1]");
        if user.is_some() && !tls && !local {
            return Err(
                "a password would cross the network unencrypted: use smtps:// or ?tls=required"
                    .to_owned(),
            );
        }
        Ok(Self {
            url: value.to_owned(),
            user,
        })
    }
}

/// Mail through an SMTP relay (see the module docs).
pub struct SmtpRelay {
    mailer: AsyncSmtpTransport<Tokio1Executor>,
}

impl SmtpRelay {
    /// A relay at `url`, logging in as its user with `password` when the
    /// URL names a user.
    pub fn new(url: &SmtpUrl, password: Option<String>) -> Result<Self, TransportError> {
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.as_str())
            .map_err(|e| TransportError::Permanent(format!("SMTP relay setting: {e}")))?
            .timeout(Some(TIMEOUT));
        if let Some(user) = &url.user {
            let password = password.ok_or_else(|| {
                TransportError::Permanent(format!(
                    "the SMTP relay names user {user}, but {PASSWORD_ENV} is not set"
                ))
            })?;
            builder = builder.credentials(Credentials::new(user.clone(), password));
        }
        Ok(Self {
            mailer: builder.build(),
        })
    }
}

#[async_trait]
impl MailTransport for SmtpRelay {
    async fn send(
        &self,
        envelope_from: &str,
        recipients: &[String],
        raw: &[u8],
    ) -> Result<String, TransportError> {
        check_envelope(envelope_from, recipients)?;
        let envelope = envelope(envelope_from, recipients)?;
        let response = self.mailer.send_raw(&envelope, raw).await.map_err(|e| {
            let what = format!("SMTP relay: {e}");
            if e.is_permanent() {
                TransportError::Permanent(what)
            } else {
                TransportError::Temporary(what)
            }
        })?;
        Ok(response.message().collect::<Vec<_>>().join(" "))
    }
}

/// The SMTP envelope: the null sender for an empty `from`.
fn envelope(from: &str, recipients: &[String]) -> Result<Envelope, TransportError> {
    let address = |text: &str| {
        Address::from_str(text)
            .map_err(|e| TransportError::Permanent(format!("address {text:?}: {e}")))
    };
    let from = (!from.is_empty()).then(|| address(from)).transpose()?;
    let to = recipients
        .iter()
        .map(|recipient| address(recipient))
        .collect::<Result<Vec<_>, _>>()?;
    Envelope::new(from, to).map_err(|e| TransportError::Permanent(format!("envelope: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_urls_name_the_host_and_user_and_never_a_password() {
        let url: SmtpUrl = "smtps://desk@mail.example.com"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(url.user.as_deref(), Some("desk"));
        let local: SmtpUrl = "smtp://127.0.0.1:2525"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(local.user, None);
        let refused = "smtp://desk:secret@mail.example.com".parse::<SmtpUrl>();
        assert!(refused.is_err_and(|e| e.contains(PASSWORD_ENV) && !e.contains("secret")));
        let slash = "smtps://desk:se/cr?et@mail.example.com".parse::<SmtpUrl>();
        assert!(slash.is_err_and(|e| e.contains(PASSWORD_ENV) && !e.contains("se/cr")));
        let plain = "smtp://desk@mail.example.com:587".parse::<SmtpUrl>();
        assert!(plain.is_err_and(|e| e.contains("unencrypted")));
        assert!(
            "smtp://desk@mail.example.com:587?tls=required"
                .parse::<SmtpUrl>()
                .is_ok()
        );
        assert!("smtp://desk@127.0.0.1:25".parse::<SmtpUrl>().is_ok());
        assert!("smtp://".parse::<SmtpUrl>().is_err());
        assert!("http://mail.example.com".parse::<SmtpUrl>().is_err());
    }

    #[test]
    fn a_user_without_a_password_is_a_setting_error() {
        let url: SmtpUrl = "smtp://desk@127.0.0.1:2525"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            SmtpRelay::new(&url, None),
            Err(TransportError::Permanent(message)) if message.contains(PASSWORD_ENV)
        ));
    }
}
