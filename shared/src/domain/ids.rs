//! Identifiers and addresses, parsed once: [`QueueKey`], [`TicketKey`],
//! [`EmailAddress`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A value that does not have the shape its type requires.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} {value:?} is not valid: {reason}")]
pub struct ParseError {
    /// Which kind of value was parsed.
    pub what: &'static str,
    /// The offending input.
    pub value: String,
    /// Why it was refused.
    pub reason: &'static str,
}

fn refuse(what: &'static str, value: &str, reason: &'static str) -> ParseError {
    ParseError {
        what,
        value: value.to_owned(),
        reason,
    }
}

/// A queue's key, such as `SUP`: an upper-case letter followed by up to
/// nine upper-case letters or digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueueKey(String);

impl QueueKey {
    /// Parses a queue key.
    pub fn parse(value: &str) -> Result<Self, ParseError> {
        let mut chars = value.chars();
        match chars.next() {
            Some(first) if first.is_ascii_uppercase() => {}
            _ => return Err(refuse("queue key", value, "must start with A-Z")),
        }
        if value.len() > 10 {
            return Err(refuse("queue key", value, "is longer than 10 characters"));
        }
        if !chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()) {
            return Err(refuse("queue key", value, "may hold only A-Z and 0-9"));
        }
        Ok(Self(value.to_owned()))
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A ticket's key: its queue and a number allocated per queue, shown as
/// `SUP-17`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TicketKey {
    queue: QueueKey,
    number: u64,
}

impl TicketKey {
    /// The key of ticket `number` in `queue`.
    pub fn new(queue: QueueKey, number: u64) -> Self {
        Self { queue, number }
    }

    /// Parses `SUP-17`.
    pub fn parse(value: &str) -> Result<Self, ParseError> {
        let (queue, number) = value
            .rsplit_once('-')
            .ok_or_else(|| refuse("ticket key", value, "must look like SUP-17"))?;
        let queue = QueueKey::parse(queue)
            .map_err(|_| refuse("ticket key", value, "must start with a queue key"))?;
        if number.is_empty()
            || !number.bytes().all(|b| b.is_ascii_digit())
            || number.starts_with('0')
        {
            return Err(refuse(
                "ticket key",
                value,
                "must end with a positive number",
            ));
        }
        let number = number
            .parse()
            .map_err(|_| refuse("ticket key", value, "number is too large"))?;
        Ok(Self { queue, number })
    }

    /// The queue the ticket belongs to.
    pub fn queue(&self) -> &QueueKey {
        &self.queue
    }

    /// The ticket's number within its queue.
    pub fn number(&self) -> u64 {
        self.number
    }
}

/// A normalised email address: trimmed, lower-cased, with one `@`, a
/// non-empty local part and a domain of one or more labels (an intranet
/// host such as `user@redacted` is an address mail comes from; where people
/// type an address, [`EmailAddress::is_public`] asks for a dotted domain).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EmailAddress(String);

impl EmailAddress {
    /// Parses and normalises an address such as `Anna@Example.com`.
    pub fn parse(value: &str) -> Result<Self, ParseError> {
        let trimmed = value.trim();
        if trimmed.len() > 254 {
            return Err(refuse(
                "email address",
                value,
                "is longer than 254 characters",
            ));
        }
        let (local, domain) = trimmed
            .split_once('@')
            .ok_or_else(|| refuse("email address", value, "has no @"))?;
        if local.is_empty() || domain.contains('@') {
            return Err(refuse("email address", value, "must be local@domain"));
        }
        let labels_ok = domain
            .split('.')
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_alphanumeric() || c == '-'));
        if !labels_ok {
            return Err(refuse("email address", value, "has no valid domain"));
        }
        if trimmed
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>,;\"()[]\\".contains(c))
        {
            return Err(refuse(
                "email address",
                value,
                "contains characters not allowed in an address",
            ));
        }
        Ok(Self(trimmed.to_lowercase()))
    }

    /// The address as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the domain has a dot, as any address on the internet has (a
    /// single label is an intranet host, or a typing slip in a form).
    pub fn is_public(&self) -> bool {
        self.domain().contains('.')
    }

    /// The part after the `@`.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, d)| d)
    }
}

macro_rules! text_newtype_traits {
    ($ty:ident) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $ty {
            type Err = ParseError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                Self::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

text_newtype_traits!(QueueKey);
text_newtype_traits!(EmailAddress);

impl fmt::Display for TicketKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.queue, self.number)
    }
}

impl FromStr for TicketKey {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for TicketKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TicketKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticket_keys_round_trip_through_text() {
        let key = TicketKey::parse("SUP-17").unwrap();
        assert_eq!(key.queue().as_str(), "SUP");
        assert_eq!(key.number(), 17);
        assert_eq!(key.to_string(), "SUP-17");
    }

    #[test]
    fn malformed_ticket_keys_are_refused() {
        for bad in [
            "SUP",
            "sup-1",
            "SUP-",
            "SUP-0",
            "SUP-01",
            "SUP-1a",
            "-1",
            "TOOLONGQUEUE-1",
        ] {
            assert!(TicketKey::parse(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn email_addresses_are_normalised_to_lower_case() {
        let email = EmailAddress::parse("  Anna.Smith@Example.COM ").unwrap();
        assert_eq!(email.as_str(), "anna.smith@example.com");
        assert_eq!(email.domain(), "example.com");
    }

    #[test]
    fn malformed_email_addresses_are_refused() {
        for bad in [
            "",
            "anna",
            "@example.com",
            "anna@",
            "a b@example.com",
            "a@b@example.com",
            "anna@exa mple.com",
            "x@example..com",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn an_intranet_address_is_an_address_but_not_a_public_one() {
        let intranet = EmailAddress::parse("User@Redacted").unwrap();
        assert_eq!(intranet.as_str(), "user@redacted");
        assert!(!intranet.is_public());
        assert!(EmailAddress::parse("anna@example.com").unwrap().is_public());
    }
}
