//! A configuration against the parameters of the stack it is deployed
//! with: the template's `MailDomain`, `MailRecipients` and `AllowedOrigins`
//! repeat what the configuration says (the queue addresses, the forms'
//! browser origins), and a difference deploys without complaint and fails
//! only when mail or a browser post arrives. [`mismatches`] names each
//! difference; `helpdesk config check --against-stack PARAMS` and
//! `scripts/build-lambdas` refuse a deploy on any.
//!
//! The parameters are given as SAM's `--parameter-overrides` takes them
//! (and `samconfig.toml` keeps them): `Name=Value` pairs separated by
//! white space, a value optionally in double or single quotes.

use std::collections::BTreeMap;

use super::model::Config;

/// The parameters this check compares.
pub const CHECKED: [&str; 3] = ["MailDomain", "MailRecipients", "AllowedOrigins"];

/// A parameter string that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OverridesError {
    /// A quote that is never closed.
    #[error("an unclosed quote in the parameter overrides")]
    UnclosedQuote,
    /// A word without `=`.
    #[error("{0:?} is not Name=Value")]
    NotAPair(String),
}

/// `Name=Value` pairs as SAM reads `--parameter-overrides`.
pub fn parse_overrides(text: &str) -> Result<BTreeMap<String, String>, OverridesError> {
    let mut pairs = BTreeMap::new();
    for word in words(text)? {
        let (name, value) = word
            .split_once('=')
            .filter(|(name, _)| !name.is_empty())
            .ok_or_else(|| OverridesError::NotAPair(word.clone()))?;
        pairs.insert(name.to_owned(), value.to_owned());
    }
    Ok(pairs)
}

/// The words of `text`: split at white space outside quotes, quotes
/// removed, `\"` inside double quotes kept as `"`.
fn words(text: &str) -> Result<Vec<String>, OverridesError> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => words.extend(word.take()),
            '"' | '\'' => {
                let quote = c;
                let current = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        None => return Err(OverridesError::UnclosedQuote),
                        Some(c) if c == quote => break,
                        Some('\\') if quote == '"' => match chars.next() {
                            Some(escaped) => current.push(escaped),
                            None => return Err(OverridesError::UnclosedQuote),
                        },
                        Some(c) => current.push(c),
                    }
                }
            }
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Ok(words)
}

/// Every difference between `config` and the stack `parameters`, each a
/// sentence naming the value on both sides; empty when they agree.
pub fn mismatches(config: &Config, parameters: &BTreeMap<String, String>) -> Vec<String> {
    let mut found = Vec::new();
    let missing: Vec<&str> = CHECKED
        .into_iter()
        .filter(|name| !parameters.contains_key(*name))
        .collect();
    if !missing.is_empty() {
        found.push(format!(
            "{} not given: the template's defaults are placeholders (example.com); give the values you deploy with",
            missing.join(", ")
        ));
    }
    let list = |name: &str| -> Vec<String> {
        parameters
            .get(name)
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_lowercase())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    };
    let domain = parameters
        .get("MailDomain")
        .map(|d| d.trim().to_lowercase());
    let recipients = list("MailRecipients");
    for (key, queue) in &config.queues {
        for address in &queue.addresses {
            if parameters.contains_key("MailRecipients") && !received(&recipients, address.as_str())
            {
                found.push(format!(
                    "queue {key}: {address} is not among MailRecipients ({}): SES would not take in its mail",
                    recipients.join(",")
                ));
            }
            if let Some(domain) = &domain
                && address.domain() != domain
            {
                found.push(format!(
                    "queue {key}: {address} is outside MailDomain ({domain}): the functions may send only from *@{domain}"
                ));
            }
        }
    }
    if parameters.contains_key("AllowedOrigins") {
        let origins: Vec<String> = list("AllowedOrigins")
            .into_iter()
            .map(|o| o.trim_end_matches('/').to_owned())
            .collect();
        for (id, form) in &config.forms {
            for origin in &form.allowed_origins {
                let origin = origin.trim().trim_end_matches('/').to_lowercase();
                if !origins.iter().any(|o| o == "*" || *o == origin) {
                    found.push(format!(
                        "form {id}: origin {origin} is not among AllowedOrigins ({}): the API's CORS would refuse its browser posts",
                        origins.join(",")
                    ));
                }
            }
        }
    }
    found
}

/// Whether an SES receipt rule with these recipients takes in mail to
/// `address`: an entry is an address, a domain (its addresses), or a
/// domain with a leading dot (the addresses of its subdomains).
fn received(recipients: &[String], address: &str) -> bool {
    let domain = address.rsplit_once('@').map_or("", |(_, d)| d);
    recipients.iter().any(|entry| {
        entry == address
            || (!entry.contains('@') && !entry.starts_with('.') && entry == domain)
            || (entry.starts_with('.') && domain.ends_with(entry.as_str()))
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn config() -> Config {
        crate::config::load(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../config/helpdesk.yaml"
        ))
        .expect("the example configuration loads")
    }

    #[test]
    fn overrides_are_read_as_sam_and_samconfig_write_them() {
        let pairs = parse_overrides(
            r#"MailDomain="example.com" MailRecipients=support@example.com,help@example.com  AllowedOrigins='https://www.example.com' Note="say \"hi\"""#,
        )
        .unwrap();
        assert_eq!(pairs["MailDomain"], "example.com");
        assert_eq!(
            pairs["MailRecipients"],
            "support@example.com,help@example.com"
        );
        assert_eq!(pairs["AllowedOrigins"], "https://www.example.com");
        assert_eq!(pairs["Note"], r#"say "hi""#);
        assert_eq!(
            parse_overrides("A=\"open"),
            Err(OverridesError::UnclosedQuote)
        );
        assert!(matches!(
            parse_overrides("justaword"),
            Err(OverridesError::NotAPair(_))
        ));
    }

    #[test]
    fn the_example_config_matches_the_readme_parameters_and_every_difference_is_named() {
        let config = config();
        let good = parse_overrides(
            "MailDomain=example.com MailRecipients=support@example.com,help@example.com AllowedOrigins=https://www.example.com",
        )
        .unwrap();
        assert_eq!(mismatches(&config, &good), Vec::<String>::new());
        // A whole domain covers its addresses.
        let domain = parse_overrides(
            "MailDomain=example.com MailRecipients=example.com AllowedOrigins=https://www.example.com/",
        )
        .unwrap();
        assert_eq!(mismatches(&config, &domain), Vec::<String>::new());

        let bad = parse_overrides(
            "MailDomain=example.org MailRecipients=support@example.com,.example.com AllowedOrigins=https://example.com",
        )
        .unwrap();
        let found = mismatches(&config, &bad).join("\n");
        assert!(
            found.contains("help@example.com is not among MailRecipients"),
            "{found}"
        );
        assert!(
            !found.contains("support@example.com is not among"),
            "{found}"
        );
        assert!(
            found.contains("outside MailDomain (example.org)"),
            "{found}"
        );
        assert!(
            found.contains("origin https://www.example.com is not among AllowedOrigins"),
            "{found}"
        );

        let none = mismatches(&config, &BTreeMap::new()).join("\n");
        assert!(
            none.contains("MailDomain, MailRecipients, AllowedOrigins not given"),
            "{none}"
        );
    }
}
