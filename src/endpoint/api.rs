//! The core's questions without a request: who a credential or a set of
//! verified claims is, and what the function decides for a user and a
//! channel. `pusher-auth explain` and the policy tests use only this, so
//! their verdicts are the function's own.

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::error::{AuthFailure, Refusal};
use crate::identity::authorizer::user_from_authorizer;
use crate::identity::jwt::{self, ClaimRules};
use crate::identity::user::User;
use crate::identity::user_info::{presence_channel_data, signin_user_data};
use crate::identity::validators::{AuthMode, Credentials};
use crate::policy::{Grant, Miss};
use crate::pusher::names::{ChannelKind, ChannelName};

use super::Endpoint;

/// What the function decides for one user and one channel.
#[derive(Debug)]
pub struct Decision<'a> {
    /// Each rule of `CHANNEL_RULES`: `None` for a rule of another kind of
    /// channel, else `Ok` when it matched or the first step that failed.
    pub rules: Vec<(&'a str, Option<Result<(), Miss<'a>>>)>,
    /// Only a `?member` rule matched: signed only when the membership
    /// table holds an item for (channel, user id), see [`Endpoint::member`].
    pub needs_item: bool,
    /// The verdict: what would be signed beside the signature (a presence
    /// channel's `channel_data`), or the refusal a request gets.
    pub signed: Result<Option<String>, Refusal>,
}

impl Endpoint {
    /// The user `credentials` prove, as a request's are checked.
    pub async fn user(&self, credentials: Credentials<'_>) -> Result<User, Refusal> {
        self.validator.validate(credentials).await.map(Arc::unwrap_or_clone)
    }

    /// The user whose claims these are, once verified: a token's (`jwt`), or
    /// what API Gateway's authorizer passes, as it passes them (`authorizer`:
    /// list claims arrive flattened, see docs/users.md); the demo user in `demo`.
    pub async fn user_from_claims(&self, claims: Map<String, Value>) -> Result<User, Refusal> {
        match &self.validator {
            AuthMode::Jwt(jwt) => jwt::user_from_claims(claims, &jwt.rules.user_id_claim),
            AuthMode::Authorizer { user_id_claim, audience } => {
                let context = serde_json::value::to_raw_value(&serde_json::json!({ "claims": claims }))
                    .map_err(|_| Refusal::Unauthenticated(AuthFailure::NoAuthorizerContext))?;
                user_from_authorizer(Some(&context), user_id_claim, audience.as_deref())
            }
            AuthMode::Demo => self.user(Credentials::default()).await,
        }
    }

    /// The token rules in force (`AUTH_MODE=jwt`).
    pub fn token_rules(&self) -> Option<&ClaimRules> {
        match &self.validator {
            AuthMode::Jwt(jwt) => Some(&jwt.rules),
            _ => None,
        }
    }

    /// Whether `user` gets `channel` signed, with each rule's outcome, in the
    /// request's order: an encrypted channel's master key (when the secret
    /// is fixed: a stored secret's is known only once read), the policy, then
    /// what signing needs (a presence `channel_data`).
    pub fn decide<'a>(&'a self, user: &User, channel: &'a ChannelName<'a>) -> Decision<'a> {
        let granted = self.encryption_available(*channel, None).and_then(|()| self.policy.decide(user, *channel));
        let signed = granted.and_then(|_| match channel.kind() {
            ChannelKind::Presence => presence_channel_data(user, &self.user_info_claims).map(Some),
            _ => Ok(None),
        });
        Decision { rules: self.policy.explain(user, channel), needs_item: granted == Ok(Grant::Member), signed }
    }

    /// Whether the membership table (`MEMBERSHIP_TABLE`) holds an item for
    /// (`channel`, `user`), read as a request reads it:
    /// [`Refusal::NotAMember`] when not, or the table's outage.
    pub async fn member(&self, user: &User, channel: ChannelName<'_>) -> Result<(), Refusal> {
        let mut found =
            self.membership.check(self.app.membership_table.as_deref(), &user.id, &[channel.as_str()]).await;
        found.pop().expect("one answer per channel").map(|_| ())
    }

    /// The `user_data` a signin would sign for `user`, or the refusal.
    pub fn signin(&self, user: &User) -> Result<String, Refusal> {
        signin_user_data(user, &self.user_info_claims, self.watchlist_claim.as_deref())
    }
}
