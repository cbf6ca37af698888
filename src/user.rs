//! Who is asking: the validator seam and the identity written into answers.
//!
//! A [`UserValidator`] turns what a request carries (a token parameter, the
//! `Authorization` header, the identity API Gateway already verified) into a
//! [`User`] or a refusal. Answers never take identity from client parameters.

use std::future::Future;
use std::sync::Arc;

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use jsonwebtoken::DecodingKey;

use crate::authorizer::user_from_authorizer;
use crate::error::Refusal;
use crate::json_text;
use crate::jwks::KeySource;
use crate::jwt::{self, ClaimRules};
use crate::token_cache::{Lookup, TokenCache};

/// A validated user: an id (the token's subject) and the claims that came with it.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    /// The user id written into `channel_data.user_id` and `user_data.id`.
    pub id: String,
    /// Claims, used for `user_info` and by the channel policy.
    pub claims: Map<String, Value>,
}

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

/// Turns credentials into a user, or refuses.
pub trait UserValidator: Send + Sync {
    /// Validates the credentials of one request.
    fn validate<'a>(
        &'a self,
        credentials: Credentials<'a>,
    ) -> impl Future<Output = Result<Arc<User>, Refusal>> + Send + 'a;
}

/// Local runs only: every request is the same fixed demo user.
#[derive(Debug, Clone)]
pub struct DemoValidator {
    user: Arc<User>,
}

/// The demo user's id.
pub const DEMO_USER_ID: &str = "demo-user";

impl Default for DemoValidator {
    fn default() -> Self {
        let mut claims = Map::new();
        claims.insert("sub".into(), Value::from(DEMO_USER_ID));
        claims.insert("name".into(), Value::from("Demo User"));
        Self { user: Arc::new(User { id: DEMO_USER_ID.into(), claims }) }
    }
}

impl UserValidator for DemoValidator {
    fn validate<'a>(
        &'a self,
        _credentials: Credentials<'a>,
    ) -> impl Future<Output = Result<Arc<User>, Refusal>> + Send + 'a {
        std::future::ready(Ok(self.user.clone()))
    }
}

/// `jwt`: a JSON Web Token checked against `JWT_*` (see [`crate::jwt`]),
/// with verified tokens remembered (see [`crate::token_cache`]).
#[derive(Debug)]
pub struct JwtValidator {
    /// Algorithms, issuer, audience, leeway.
    pub rules: ClaimRules,
    /// `JWT_SECRET`, for HMAC algorithms.
    pub secret: Option<DecodingKey>,
    /// RSA/EC keys.
    pub keys: KeySource,
    /// Tokens verified in this execution environment.
    pub cache: TokenCache,
}

impl JwtValidator {
    /// A validator with an empty token cache.
    pub fn new(rules: ClaimRules, secret: Option<DecodingKey>, keys: KeySource) -> Self {
        crate::ring_provider::install();
        Self { rules, secret, keys, cache: TokenCache::default() }
    }
}

impl UserValidator for JwtValidator {
    async fn validate<'a>(&'a self, credentials: Credentials<'a>) -> Result<Arc<User>, Refusal> {
        let token = jwt::token_of(credentials.token, credentials.authorization)
            .ok_or(Refusal::Unauthenticated("token_missing"))?;
        if token.len() > jwt::MAX_TOKEN_BYTES {
            return Err(Refusal::Unauthenticated("token_too_large"));
        }
        let generation = self.keys.generation();
        match self.cache.lookup(token, generation, jsonwebtoken::get_current_timestamp(), &self.rules) {
            Lookup::Hit(user) => return Ok(user),
            Lookup::Refused(refusal) => return Err(refusal),
            Lookup::Miss => {}
        }
        let head = jwt::check_head(token, &self.rules)?;
        let key = if jwt::is_hmac(head.alg) {
            self.secret.clone().ok_or(Refusal::Unauthenticated("token_algorithm_not_allowed"))?
        } else {
            self.keys.key_for(&head).await?
        };
        let user = Arc::new(jwt::verify(token, &head, &key, &self.rules)?);
        self.cache.insert(token, generation, jsonwebtoken::get_current_timestamp(), user.clone());
        Ok(user)
    }
}

/// `authorizer`: the identity API Gateway verified (see [`crate::authorizer`]).
#[derive(Debug, Clone)]
pub struct AuthorizerValidator {
    /// `USER_ID_CLAIM` (default `sub`).
    pub user_id_claim: String,
}

impl UserValidator for AuthorizerValidator {
    fn validate<'a>(
        &'a self,
        credentials: Credentials<'a>,
    ) -> impl Future<Output = Result<Arc<User>, Refusal>> + Send + 'a {
        std::future::ready(user_from_authorizer(credentials.authorizer, &self.user_id_claim).map(Arc::new))
    }
}

/// The validators the function can be configured with (`AUTH_MODE`).
#[derive(Debug)]
pub enum Validator {
    /// `demo`: a fixed user, for local runs.
    Demo(DemoValidator),
    /// `jwt` (the default).
    Jwt(Box<JwtValidator>),
    /// `authorizer`.
    Authorizer(AuthorizerValidator),
}

impl UserValidator for Validator {
    async fn validate<'a>(&'a self, credentials: Credentials<'a>) -> Result<Arc<User>, Refusal> {
        match self {
            Self::Demo(demo) => demo.validate(credentials).await,
            Self::Jwt(jwt) => jwt.validate(credentials).await,
            Self::Authorizer(authorizer) => authorizer.validate(credentials).await,
        }
    }
}

/// Which claims become `user_info`, in order (`USER_INFO_CLAIMS`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserInfoClaims(Vec<String>);

impl UserInfoClaims {
    /// Parses a comma-separated list of claim names; blanks are skipped.
    pub fn parse(list: &str) -> Self {
        Self(list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect())
    }

    fn select<'u>(&self, user: &'u User) -> UserInfo<'_, 'u> {
        UserInfo(self.0.iter().filter_map(|name| user.claims.get(name).map(|v| (name.as_str(), v))).collect())
    }
}

/// The selected claims, serialized as an object in the configured order.
struct UserInfo<'n, 'u>(Vec<(&'n str, &'u Value)>);

impl Serialize for UserInfo<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

/// Largest `user_info` Pusher accepts, in bytes of JSON.
pub const MAX_USER_INFO_BYTES: usize = 1024;

impl UserInfo<'_, '_> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Most user ids a watchlist may hold (Pusher's default limit).
pub const MAX_WATCHLIST: usize = 100;

/// The user's watchlist (`WATCHLIST_CLAIM`): absent or null means none; a
/// list of at most [`MAX_WATCHLIST`] strings that are each a valid user id
/// (see [`crate::jwt::check_user_id`]); anything else is refused rather than
/// signed for the server to reject.
fn watchlist<'u>(user: &'u User, claim: Option<&str>) -> Result<Option<&'u [Value]>, Refusal> {
    let Some(claim) = claim else { return Ok(None) };
    match user.claims.get(claim) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(list))
            if list.len() <= MAX_WATCHLIST
                && list.iter().all(|v| v.as_str().is_some_and(|id| crate::jwt::check_user_id(id).is_ok())) =>
        {
            Ok(Some(list))
        }
        Some(_) => Err(Refusal::InvalidWatchlist),
    }
}

/// `{"<id_field>":<id>[,"user_info":{…}]}`; `user_info` is left out when no
/// configured claim is present and refused above 1 KB.
fn identity_json(id_field: &str, user: &User, info: &UserInfoClaims) -> Result<String, Refusal> {
    let selected = info.select(user);
    let mut out = String::with_capacity(64);
    out.push_str("{\"");
    out.push_str(id_field);
    out.push_str("\":");
    json_text::push_string(&mut out, &user.id);
    if !selected.is_empty() {
        let info = serde_json::to_string(&selected).expect("claims are JSON values");
        if info.len() > MAX_USER_INFO_BYTES {
            return Err(Refusal::UserInfoTooLarge);
        }
        out.push_str(",\"user_info\":");
        out.push_str(&info);
    }
    out.push('}');
    Ok(out)
}

/// Presence `channel_data`: `{"user_id":…,"user_info":{…}}`.
pub fn presence_channel_data(user: &User, info: &UserInfoClaims) -> Result<String, Refusal> {
    identity_json("user_id", user, info)
}

/// User authentication `user_data`: `{"id":…,"user_info":{…},"watchlist":[…]}`
/// (`watchlist` from `WATCHLIST_CLAIM`, when configured and present).
pub fn signin_user_data(user: &User, info: &UserInfoClaims, watchlist_claim: Option<&str>) -> Result<String, Refusal> {
    let mut out = identity_json("id", user, info)?;
    if let Some(list) = watchlist(user, watchlist_claim)? {
        out.pop(); // the closing brace
        out.push_str(",\"watchlist\":[");
        for (i, id) in list.iter().filter_map(Value::as_str).enumerate() {
            if i > 0 {
                out.push(',');
            }
            json_text::push_string(&mut out, id);
        }
        out.push_str("]}");
    }
    Ok(out)
}
