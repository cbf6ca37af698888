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

use crate::error::Refusal;

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

/// The validators the function can be configured with (`AUTH_MODE`).
#[derive(Debug, Clone)]
pub enum Validator {
    /// `demo`: a fixed user, for local runs.
    Demo(DemoValidator),
}

impl UserValidator for Validator {
    fn validate<'a>(
        &'a self,
        credentials: Credentials<'a>,
    ) -> impl Future<Output = Result<Arc<User>, Refusal>> + Send + 'a {
        match self {
            Self::Demo(demo) => demo.validate(credentials),
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

#[derive(serde::Serialize)]
struct ChannelData<'a, 'n, 'u> {
    user_id: &'a str,
    #[serde(skip_serializing_if = "UserInfo::is_empty")]
    user_info: UserInfo<'n, 'u>,
}

#[derive(serde::Serialize)]
struct UserData<'a, 'n, 'u> {
    id: &'a str,
    #[serde(skip_serializing_if = "UserInfo::is_empty")]
    user_info: UserInfo<'n, 'u>,
}

impl UserInfo<'_, '_> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Presence `channel_data`: `{"user_id":…,"user_info":{…}}`, `user_info` left
/// out when no configured claim is present.
pub fn presence_channel_data(user: &User, info: &UserInfoClaims) -> String {
    serde_json::to_string(&ChannelData { user_id: &user.id, user_info: info.select(user) })
        .expect("claims are JSON values")
}

/// User authentication `user_data`: `{"id":…,"user_info":{…}}`.
pub fn signin_user_data(user: &User, info: &UserInfoClaims) -> String {
    serde_json::to_string(&UserData { id: &user.id, user_info: info.select(user) }).expect("claims are JSON values")
}
