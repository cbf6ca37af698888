//! The validators: [`AuthMode::validate`] turns what a request carries (a
//! token parameter, the `Authorization` header, the identity API Gateway
//! already verified) into a [`User`] or a refusal. Answers never take identity
//! from client parameters.

use std::sync::{Arc, LazyLock};

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use jsonwebtoken::DecodingKey;

use crate::error::{AuthFailure, Refusal};
use crate::identity::authorizer::user_from_authorizer;
use crate::identity::jwks::KeySource;
use crate::identity::jwt::{self, ClaimRules};
use crate::identity::token_cache::{self, TokenCache, CAPACITY};
use crate::identity::user::User;

/// What a request offers to prove who is asking. All fields borrow the request.
#[derive(Debug, Default, Clone, Copy)]
pub struct Credentials<'a> {
    /// The token query (JSONP) or form (AJAX) parameter.
    pub token: Option<&'a str>,
    /// The `Authorization` header (AJAX only; JSONP cannot send headers).
    pub authorization: Option<&'a str>,
    /// `requestContext.authorizer` as API Gateway sent it, unparsed.
    pub authorizer: Option<&'a RawValue>,
}

/// `jwt`: a JSON Web Token checked against `JWT_*` (see [`crate::identity::jwt`]),
/// with verified tokens remembered (see [`crate::identity::token_cache`]).
#[derive(Debug)]
pub(crate) struct JwtValidator {
    /// Algorithms, issuer, audience, leeway.
    pub(crate) rules: ClaimRules,
    /// `JWT_SECRET`, for HMAC algorithms.
    pub(crate) secret: Option<DecodingKey>,
    /// RSA/EC keys.
    pub keys: KeySource,
    /// Tokens verified in this execution environment.
    pub cache: TokenCache,
}

impl JwtValidator {
    /// A validator with an empty token cache.
    pub(crate) fn new(rules: ClaimRules, secret: Option<DecodingKey>, keys: KeySource) -> Self {
        crate::identity::ring_provider::install();
        Self { rules, secret, keys, cache: TokenCache::with_capacity(CAPACITY) }
    }

    /// Turns the credentials of one request into a user, or refuses.
    pub(crate) async fn validate(&self, credentials: Credentials<'_>) -> Result<Arc<User>, Refusal> {
        let refuse = Refusal::Unauthenticated;
        let token =
            jwt::token_of(credentials.token, credentials.authorization).ok_or(refuse(AuthFailure::TokenMissing))?;
        // The JWKS in force, fetched again first when older than its lifetime.
        let keys = self.keys.current().await;
        let now = jsonwebtoken::get_current_timestamp();
        let digest = token_cache::digest(token);
        if let Some(user) = self.cache.lookup(&digest, now, &self.rules, keys.as_deref().map(Vec::as_slice))? {
            return Ok(user);
        }
        let head = jwt::check_head(token, &self.rules)?;
        let (verified, verified_with) = if jwt::is_hmac(head.alg) {
            let secret = self.secret.as_ref().ok_or(refuse(AuthFailure::TokenAlgorithmNotAllowed))?;
            (jwt::verify(token, &head, secret, &self.rules, now)?, None)
        } else {
            let key = self.keys.key_for(&head).await?;
            (jwt::verify(token, &head, &key.key, &self.rules, now)?, Some(key.id))
        };
        Ok(self.cache.insert(digest, now, verified, verified_with))
    }
}

/// `AUTH_MODE` with the mode's options: one type for the configuration and
/// the validator. `J` is what `jwt` needs: its options as the configuration
/// reads them, or the [`JwtValidator`] built from them (with its key source
/// and verified-token cache).
#[derive(Debug)]
pub(crate) enum AuthMode<J> {
    /// `demo`: every request is the same fixed demo user, for local runs only.
    Demo,
    /// `jwt` (the default): a JSON Web Token.
    Jwt(Box<J>),
    /// `authorizer`: the identity API Gateway verified (see [`crate::identity::authorizer`]).
    Authorizer {
        /// `USER_ID_CLAIM` (default `sub`).
        user_id_claim: String,
        /// `JWT_AUDIENCE`: when set, the claims must name it.
        audience: Option<String>,
    },
}

/// The demo user's id.
const DEMO_USER_ID: &str = "demo-user";

/// The demo user, made once.
static DEMO_USER: LazyLock<Arc<User>> = LazyLock::new(|| {
    let claims = [("sub", DEMO_USER_ID), ("name", "Demo User")].map(|(name, value)| (name.into(), Value::from(value)));
    Arc::new(User { id: DEMO_USER_ID.into(), claims: Map::from_iter(claims) })
});

impl AuthMode<JwtValidator> {
    /// Turns the credentials of one request into a user, or refuses.
    pub(crate) async fn validate(&self, credentials: Credentials<'_>) -> Result<Arc<User>, Refusal> {
        match self {
            Self::Demo => Ok(DEMO_USER.clone()),
            Self::Jwt(jwt) => jwt.validate(credentials).await,
            Self::Authorizer { user_id_claim, audience } => {
                user_from_authorizer(credentials.authorizer, user_id_claim, audience.as_deref()).map(Arc::new)
            }
        }
    }
}
