//! Signing in with the stack's Cognito user pool (on AWS): the console's
//! sign-in form sends the login and password to Cognito (`InitiateAuth`,
//! `USER_PASSWORD_AUTH`, the app client the API's JWTs are issued to),
//! checks the access token it answers with as the API checks any JWT
//! (`helpdesk_api::cognito`), and opens the desk's own session for the
//! user, who must be an agent of the configuration. The tokens are not
//! kept: the session is the desk's, so sign-out ends it at once.

use std::sync::Arc;

use aws_sdk_cognitoidentityprovider::Client;
use aws_sdk_cognitoidentityprovider::error::SdkError;
use aws_sdk_cognitoidentityprovider::operation::initiate_auth::InitiateAuthError;
use aws_sdk_cognitoidentityprovider::types::AuthFlowType;
use chrono::{DateTime, Utc};
use helpdesk_api::cognito::CognitoVerifier;
use tokio::sync::OnceCell;

/// Why Cognito did not sign someone in.
#[derive(Debug, thiserror::Error)]
pub enum CognitoSignInError {
    /// Wrong login or password, or no such user (Cognito does not say
    /// which, and neither does the page).
    #[error("wrong login or password")]
    Refused,
    /// The user must set a new password first (a temporary password, or
    /// a reset the administrator asked for).
    #[error("the password must be changed first")]
    NewPasswordRequired,
    /// Cognito could not be asked, or answered something unexpected.
    #[error("the user pool cannot be asked: {0}")]
    Unavailable(String),
}

/// Signs agents in with the user pool.
#[derive(Debug)]
pub struct CognitoSignIn {
    verifier: Arc<CognitoVerifier>,
    client: OnceCell<Client>,
}

impl CognitoSignIn {
    /// Sign-in with the pool `verifier` checks tokens of; the Cognito
    /// client is made at the first sign-in.
    pub fn new(verifier: Arc<CognitoVerifier>) -> Self {
        Self {
            verifier,
            client: OnceCell::new(),
        }
    }

    /// The Cognito client: the SDK configuration of the environment, in
    /// the pool's region, at the pool's endpoint when it has its own.
    async fn client(&self) -> &Client {
        self.client
            .get_or_init(|| async {
                let settings = self.verifier.settings();
                let sdk = helpdesk::aws::load().await;
                let mut config = aws_sdk_cognitoidentityprovider::config::Builder::from(&sdk)
                    .region(aws_sdk_cognitoidentityprovider::config::Region::new(
                        settings.region.clone(),
                    ));
                if let Some(endpoint) = &settings.endpoint {
                    config = config.endpoint_url(endpoint);
                }
                Client::from_conf(config.build())
            })
            .await
    }

    /// The user `login` and `password` sign in, as Cognito and the token it
    /// issues say.
    pub async fn sign_in(
        &self,
        login: &str,
        password: &str,
        now: DateTime<Utc>,
    ) -> Result<String, CognitoSignInError> {
        let answer = self
            .client()
            .await
            .initiate_auth()
            .auth_flow(AuthFlowType::UserPasswordAuth)
            .client_id(&self.verifier.settings().client_id)
            .auth_parameters("USERNAME", login)
            .auth_parameters("PASSWORD", password)
            .send()
            .await
            .map_err(refusal)?;
        if answer.challenge_name().is_some() {
            return Err(CognitoSignInError::NewPasswordRequired);
        }
        let token = answer
            .authentication_result()
            .and_then(|r| r.access_token())
            .ok_or_else(|| {
                CognitoSignInError::Unavailable("no access token in the answer".into())
            })?;
        self.verifier.verify(token, now).await.map_err(|e| {
            CognitoSignInError::Unavailable(format!("the pool's token does not check: {e}"))
        })
    }
}

fn refusal(e: SdkError<InitiateAuthError>) -> CognitoSignInError {
    match e.as_service_error() {
        Some(
            InitiateAuthError::NotAuthorizedException(_)
            | InitiateAuthError::UserNotFoundException(_),
        ) => CognitoSignInError::Refused,
        Some(InitiateAuthError::PasswordResetRequiredException(_)) => {
            CognitoSignInError::NewPasswordRequired
        }
        _ => CognitoSignInError::Unavailable(
            aws_sdk_cognitoidentityprovider::error::DisplayErrorContext(&e).to_string(),
        ),
    }
}
