//! The AWS SDK configuration every AWS client of the helpdesk is built from
//! (DynamoDB, S3, SES, EventBridge): [`load`].
//!
//! It is `aws_config`'s default chain (region, credentials, endpoint
//! overrides such as `AWS_ENDPOINT_URL`) with one difference: which root
//! certificates HTTPS connections to AWS trust.
//!
//! - By default, the Mozilla root program's certificates compiled into the
//!   binary ([`webpki_root_certs`]; the Amazon Trust Services roots that AWS
//!   endpoints chain to are among them). The SDK's own default reads the
//!   host's certificate store while the first client is built, which is a
//!   cold start cost that depends on the image: on Debian, `/etc/ssl/certs`
//!   is a bundle and some 290 files, read one by one (about 4 ms of
//!   `mail-intake`'s start, measured with `scripts/coldstart`).
//! - When `SSL_CERT_FILE` or `SSL_CERT_DIR` is set, the store named there
//!   instead (read as `rustls-native-certs` reads it): for a host whose
//!   traffic passes a TLS-inspecting proxy, or an endpoint with a private CA.
//!
//! Webhooks (arbitrary operator endpoints, [`crate::automation::webhook`])
//! keep the host's store.
//!
//! The trust store is turned into TLS settings when the first request
//! needs a connection ([`ConnectOnFirstRequest`]), not each time a client
//! is constructed: the SDK's HTTPS client builds a connector (every root
//! certificate decoded and parsed, some 5 million instructions) at every
//! client construction only to drop it, and again at the first request.
//! `aws_config`'s default chain alone constructs an STS client, so a
//! function paid that twice or more before its first event (callgrind,
//! mail-intake: 23.1 million instructions from exec to its answer, 14.0
//! million of them in those connectors; 4.2 million in all with this
//! module's client, `scripts/coldstart --instructions`). A function now
//! builds one connector, at its first AWS request.

use std::sync::{Arc, OnceLock};

use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use base64::Engine as _;

/// Whether the host's certificate store was asked for (`SSL_CERT_FILE` or
/// `SSL_CERT_DIR` set and not empty).
fn host_store_requested() -> bool {
    ["SSL_CERT_FILE", "SSL_CERT_DIR"]
        .iter()
        .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()))
}

/// The compiled-in Mozilla roots as one PEM bundle (the form the SDK's
/// trust store takes).
fn compiled_in_roots_pem() -> String {
    let mut pem = String::with_capacity(webpki_root_certs::TLS_SERVER_ROOT_CERTS.len() * 2048);
    for cert in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
        let body = base64::engine::general_purpose::STANDARD.encode(cert.as_ref());
        pem.push_str("-----BEGIN CERTIFICATE-----\n");
        // Lines of 64 characters; base64 is ASCII, so any index is a boundary.
        for start in (0..body.len()).step_by(64) {
            pem.push_str(&body[start..body.len().min(start + 64)]);
            pem.push('\n');
        }
        pem.push_str("-----END CERTIFICATE-----\n");
    }
    pem
}

/// The trust store for HTTPS connections to AWS (see the module docs).
pub fn trust_store() -> TrustStore {
    if host_store_requested() {
        TrustStore::default()
    } else {
        TrustStore::empty()
            .with_native_roots(false)
            .with_pem_certificate(compiled_in_roots_pem())
    }
}

/// The SDK's HTTPS client, connecting (and so reading its trust store) at
/// the first request that needs a connection, and never at a client's
/// construction.
///
/// The SDK's client builds a connector in `validate_base_client_config`,
/// which runs whenever a client is constructed, and throws it away; its
/// requests then build (once per distinct connector settings, cached in the
/// client) the connector they use. This wrapper leaves that check out and
/// passes everything else through, so the connectors built are exactly the
/// ones requests use; it also makes the SDK's client itself (and with it the
/// PEM bundle of the compiled-in roots) only when a request first needs it.
#[derive(Debug, Clone)]
pub struct ConnectOnFirstRequest {
    /// The SDK's client, made by `make` when a request first needs it.
    inner: Arc<OnceLock<SharedHttpClient>>,
    make: fn() -> SharedHttpClient,
}

impl ConnectOnFirstRequest {
    /// The client `make` returns, made (trust store and all) when the first
    /// request needs a connector.
    pub fn new(make: fn() -> SharedHttpClient) -> Self {
        Self {
            inner: Arc::new(OnceLock::new()),
            make,
        }
    }

    fn client(&self) -> &SharedHttpClient {
        self.inner.get_or_init(self.make)
    }
}

impl HttpClient for ConnectOnFirstRequest {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.client().http_connector(settings, components)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.client().connector_metadata()
    }
}

/// The HTTPS client for AWS clients: the SDK's own (hyper, rustls with
/// aws-lc), trusting [`trust_store`], connecting on first use
/// ([`ConnectOnFirstRequest`]). Share it: every AWS client built from one
/// [`SdkConfig`] uses the connectors it caches.
pub fn https_client() -> SharedHttpClient {
    SharedHttpClient::new(ConnectOnFirstRequest::new(sdk_https_client))
}

/// The SDK's HTTPS client trusting [`trust_store`].
fn sdk_https_client() -> SharedHttpClient {
    let builder = aws_smithy_http_client::Builder::new().tls_provider(tls::Provider::Rustls(
        tls::rustls_provider::CryptoMode::AwsLc,
    ));
    match TlsContext::builder()
        .with_trust_store(trust_store())
        .build()
    {
        Ok(context) => builder.tls_context(context).build_https(),
        // Building the context cannot fail today; should it ever, the host's
        // store (the SDK's default) is the safe fallback.
        Err(error) => {
            tracing::warn!(%error, "TLS context not built, trusting the host's certificate store");
            builder.build_https()
        }
    }
}

/// Where [`load`] takes AWS credentials from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CredentialsSource {
    /// `AWS_ACCESS_KEY_ID` and a secret key in the environment, as Lambda
    /// sets them for the function's execution role.
    Environment,
    /// `aws_config`'s default chain (environment, shared profile files,
    /// web identity token, ECS, EC2 instance metadata).
    DefaultChain,
}

/// Which credentials source the environment `var` calls for: the
/// environment's own keys when they are there (the default chain would
/// take exactly those, as its first link: the same test, with blank values
/// counting as unset), the default chain otherwise.
///
/// The difference is what gets built: the default chain constructs every
/// link at start, the web identity link an STS client with it (the
/// endpoint partitions parsed, some 530,000 instructions, about an eighth
/// of `mail-intake`'s start; `scripts/coldstart --instructions`), where a
/// Lambda function only ever uses the first.
fn credentials_source(var: impl Fn(&str) -> Option<String>) -> CredentialsSource {
    let set = |name: &str| var(name).is_some_and(|value| !value.trim().is_empty());
    if set("AWS_ACCESS_KEY_ID") && (set("AWS_SECRET_ACCESS_KEY") || set("SECRET_ACCESS_KEY")) {
        CredentialsSource::Environment
    } else {
        CredentialsSource::DefaultChain
    }
}

/// Loads the SDK configuration from the environment (`aws_config`'s
/// default chain, with credentials as [`credentials_source`] says), with
/// [`https_client`].
pub async fn load() -> SdkConfig {
    let loader = aws_config::defaults(BehaviorVersion::latest()).http_client(https_client());
    let loader = match credentials_source(|name| std::env::var(name).ok()) {
        CredentialsSource::Environment => loader.credentials_provider(
            aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
        ),
        CredentialsSource::DefaultChain => loader,
    };
    loader.load().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// An HTTP client that counts the SDK's checks of it, and that no
    /// request may reach.
    #[derive(Debug, Default, Clone)]
    struct Counting {
        validations: Arc<AtomicUsize>,
    }

    /// How often [`counting_client`] was called: the wrapped client made.
    static MADE: AtomicUsize = AtomicUsize::new(0);

    fn counting_client() -> SharedHttpClient {
        MADE.fetch_add(1, Ordering::SeqCst);
        SharedHttpClient::new(Counting::default())
    }

    impl HttpClient for Counting {
        fn http_connector(
            &self,
            _: &HttpConnectorSettings,
            _: &RuntimeComponents,
        ) -> SharedHttpConnector {
            panic!("no connector is needed while clients are constructed");
        }

        fn validate_base_client_config(
            &self,
            _: &aws_sdk_s3::config::RuntimeComponentsBuilder,
            _: &aws_sdk_s3::config::ConfigBag,
        ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
            self.validations.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    }

    #[tokio::test]
    async fn constructing_aws_clients_makes_no_https_client_and_builds_no_connector() {
        let client = SharedHttpClient::new(ConnectOnFirstRequest::new(counting_client));
        let config = aws_config::defaults(BehaviorVersion::latest())
            .http_client(client)
            .region(aws_config::Region::new("eu-west-1"))
            .load()
            .await;
        let _s3 = aws_sdk_s3::Client::new(&config);
        let _dynamodb = aws_sdk_dynamodb::Client::new(&config);
        let _sesv2 = aws_sdk_sesv2::Client::new(&config);
        assert_eq!(MADE.load(Ordering::SeqCst), 0, "the HTTPS client was made");
        // Unwrapped, each construction is checked against the client: what
        // builds a connector (every root certificate parsed) in the SDK's.
        let counting = Counting::default();
        let _s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&config)
                .http_client(SharedHttpClient::new(counting.clone()))
                .build(),
        );
        assert!(counting.validations.load(Ordering::SeqCst) > 0);
    }

    fn source_of(vars: &[(&str, &str)]) -> CredentialsSource {
        credentials_source(|name| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        })
    }

    #[test]
    fn keys_in_the_environment_are_used_as_they_are_and_anything_else_goes_to_the_chain() {
        use CredentialsSource::{DefaultChain, Environment};
        // What Lambda sets for the execution role.
        let lambda = [
            ("AWS_ACCESS_KEY_ID", "ASIAEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_SESSION_TOKEN", "token"),
        ];
        assert_eq!(source_of(&lambda), Environment);
        assert_eq!(
            source_of(&[("AWS_ACCESS_KEY_ID", "AKIA"), ("SECRET_ACCESS_KEY", "s")]),
            Environment
        );
        // No keys, half the keys, or blank ones: profiles, SSO, web
        // identity and instance roles stay available.
        assert_eq!(source_of(&[]), DefaultChain);
        assert_eq!(source_of(&[("AWS_PROFILE", "ops")]), DefaultChain);
        assert_eq!(source_of(&[("AWS_ACCESS_KEY_ID", "AKIA")]), DefaultChain);
        assert_eq!(
            source_of(&[("AWS_ACCESS_KEY_ID", " "), ("AWS_SECRET_ACCESS_KEY", "s")]),
            DefaultChain
        );
        assert_eq!(
            source_of(&[("AWS_ACCESS_KEY_ID", "AKIA"), ("AWS_SECRET_ACCESS_KEY", "")]),
            DefaultChain
        );
    }

    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;

    #[test]
    fn the_bundle_holds_every_compiled_in_root_and_an_amazon_one() {
        let pem = compiled_in_roots_pem();
        let parsed = CertificateDer::pem_slice_iter(pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .expect("the bundle is valid PEM");
        assert_eq!(parsed.len(), webpki_root_certs::TLS_SERVER_ROOT_CERTS.len());
        assert!(parsed.len() > 100, "only {} roots", parsed.len());
        assert!(
            parsed
                .iter()
                .zip(webpki_root_certs::TLS_SERVER_ROOT_CERTS)
                .all(|(a, b)| a.as_ref() == b.as_ref()),
            "PEM round trip changed a certificate"
        );
        // The SDK adds each PEM certificate with `RootCertStore::add` and
        // panics on one it cannot take: every compiled-in root must pass.
        let mut roots = rustls::RootCertStore::empty();
        for cert in parsed.iter().cloned() {
            roots
                .add(cert)
                .expect("a compiled-in root the trust store takes");
        }
        assert_eq!(roots.len(), parsed.len());
        // "Amazon Root CA 1" appears in the subject of Amazon's root.
        let amazon = b"Amazon Root CA 1";
        assert!(
            parsed
                .iter()
                .any(|c| c.as_ref().windows(amazon.len()).any(|w| w == amazon)),
            "no Amazon Trust Services root among the compiled-in roots"
        );
    }
}
