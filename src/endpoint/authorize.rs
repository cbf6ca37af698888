//! The use case: who is asking, which channels they may join, and the
//! signatures (one channel or a batch).

use std::borrow::Cow;
use std::sync::Arc;

use crate::config::{AppView, ConfigError};
use crate::error::Refusal;
use crate::identity::user::User;
use crate::identity::user_info::{presence_channel_data, signin_user_data};
use crate::identity::validators::Credentials;
use crate::membership::{merge_user_info, Item, MembershipStore};
use crate::policy::Grant;
use crate::pusher::names::{ChannelKind, ChannelName, SocketId};
use crate::secrets::AppSecrets;
use crate::web::params::AuthParams;
use crate::web::request::Route;
use crate::web::response::AuthBody;

use super::Endpoint;

/// What became of one name of a batch.
enum Decision {
    /// Not a valid channel name: left out of the answer, logged as `-`.
    Invalid(Refusal),
    /// Named again: answered once, for its first mention.
    Repeated,
    /// Granted by the policy, not yet signed (no decision is left so).
    Granted(Grant),
    /// Signed, or refused for this channel alone.
    Answered(Result<AuthBody, Refusal>),
}

/// One channel of a batch's answer: `{"status":200,"data":{…}}` or `{"status":<refusal status>}`.
#[derive(serde::Serialize)]
struct BatchEntry<'a> {
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a AuthBody>,
}

impl<'a> From<&'a Result<AuthBody, Refusal>> for BatchEntry<'a> {
    fn from(signed: &'a Result<AuthBody, Refusal>) -> Self {
        match signed {
            Ok(body) => Self { status: 200, data: Some(body) },
            Err(refusal) => Self { status: refusal.status(), data: None },
        }
    }
}

/// A batch's answer: an object keyed by channel name, in the order asked.
struct Batch<'a>(Vec<(&'a str, BatchEntry<'a>)>);

impl serde::Serialize for Batch<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(channel, entry)| (channel, entry)))
    }
}

/// An authorization's outcome, with what the log line records of it.
pub(super) struct Authorized {
    /// The JSON answer: one authorization, or a batch's object.
    pub(super) answer: Result<String, Refusal>,
    /// The channel of a one-channel request, once its name is valid.
    pub(super) channel: Option<String>,
    /// A batch's decisions (see [`batch_log`]).
    pub(super) batch: Option<String>,
}

impl From<Result<String, Refusal>> for Authorized {
    fn from(answer: Result<String, Refusal>) -> Self {
        Self { answer, channel: None, batch: None }
    }
}

impl Endpoint {
    /// The endpoint, reading the membership table of `?member` rules from
    /// `store` (`main` passes the DynamoDB client, `None` when the AWS
    /// variables are not set, which a `?member` rule refuses).
    pub fn with_membership_store(mut self, store: Option<Arc<dyn MembershipStore>>) -> Result<Self, ConfigError> {
        if self.policy.has_member_rules() && store.is_none() {
            return Err(ConfigError::new(
                "MEMBERSHIP_TABLE",
                "needs AWS_REGION, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (Lambda sets them)",
            ));
        }
        self.membership.store = store;
        Ok(self)
    }

    /// Shared by JSONP and AJAX: the socket id, then the route's user,
    /// decision and signature.
    pub(super) async fn authorize(
        &self,
        route: Route,
        app: AppView<'_>,
        params: &AuthParams<'_>,
        credentials: Credentials<'_>,
    ) -> Authorized {
        let socket_id = match params.socket_id.as_deref().ok_or(Refusal::MissingSocketId).and_then(SocketId::parse) {
            Ok(socket_id) => socket_id,
            Err(refusal) => return Err(refusal).into(),
        };
        match route {
            Route::ChannelAuth if !params.batch.is_empty() => {
                if params.channel_name.is_some() {
                    return Err(Refusal::DuplicateParameter).into();
                }
                match self.authorize_batch(app, socket_id, &params.batch, credentials).await {
                    Ok((json, log)) => Authorized { answer: Ok(json), channel: None, batch: Some(log) },
                    Err(refusal) => Err(refusal).into(),
                }
            }
            Route::ChannelAuth => {
                let name = params.channel_name.as_deref().ok_or(Refusal::MissingChannelName);
                match name.and_then(ChannelName::parse) {
                    Ok(channel) => Authorized {
                        answer: self
                            .authorize_channel(app, socket_id, channel, credentials)
                            .await
                            .map(|body| body.to_json()),
                        channel: Some(channel.as_str().to_owned()),
                        batch: None,
                    },
                    Err(refusal) => Err(refusal).into(),
                }
            }
            Route::UserAuth => {
                self.authorize_signin(app, socket_id, credentials).await.map(|body| body.to_json()).into()
            }
        }
    }

    /// One channel: user, policy, secret, signature.
    async fn authorize_channel(
        &self,
        app: AppView<'_>,
        socket_id: SocketId<'_>,
        channel: ChannelName<'_>,
        credentials: Credentials<'_>,
    ) -> Result<AuthBody, Refusal> {
        self.encryption_available(channel, app.secret_id)?;
        let user = self.validator.validate(credentials).await?;
        let item = match self.policy.decide(&user, channel)? {
            Grant::Open => None,
            Grant::Member => {
                let mut found = self.membership.check(app.membership_table, &user.id, &[channel.as_str()]).await;
                Some(found.pop().expect("one answer per channel")?)
            }
        };
        let keys = self.secrets.get(app.secret_id).await?;
        self.sign_channel(app, socket_id, channel, &user, &keys, item.as_deref())
    }

    /// A `private-encrypted-` channel with a fixed secret and no master key
    /// is refused, before any user check; a stored secret's key is known only
    /// once read (`secret_id`: the stage's override of the secret).
    pub(super) fn encryption_available(
        &self,
        channel: ChannelName<'_>,
        secret_id: Option<&str>,
    ) -> Result<(), Refusal> {
        let fixed_without_key = self.secrets.fixed_secrets().is_some_and(|s| s.master_key.is_none());
        match channel.kind() {
            ChannelKind::Encrypted if fixed_without_key && secret_id.is_none() => Err(Refusal::EncryptionNotConfigured),
            _ => Ok(()),
        }
    }

    /// User authentication: user, `user_data`, secret, signature.
    async fn authorize_signin(
        &self,
        app: AppView<'_>,
        socket_id: SocketId<'_>,
        credentials: Credentials<'_>,
    ) -> Result<AuthBody, Refusal> {
        let user = self.validator.validate(credentials).await?;
        let user_data = signin_user_data(&user, &self.user_info_claims, self.watchlist_claim.as_deref())?;
        let keys = self.secrets.get(app.secret_id).await?;
        Ok(AuthBody {
            auth: keys.secret.user_auth(app.key, socket_id, &user_data),
            user_data: Some(user_data),
            ..AuthBody::default()
        })
    }

    /// Signs one channel the policy allowed (with its membership item, if
    /// a `?member` rule granted it).
    fn sign_channel(
        &self,
        app: AppView<'_>,
        socket_id: SocketId<'_>,
        channel: ChannelName<'_>,
        user: &User,
        keys: &AppSecrets,
        item: Option<&Item>,
    ) -> Result<AuthBody, Refusal> {
        let (channel_data, shared_secret) = match channel.kind() {
            ChannelKind::Private => (None, None),
            ChannelKind::Encrypted => {
                let master_key = keys.master_key.as_ref().ok_or(Refusal::EncryptionNotConfigured)?;
                (None, Some(master_key.shared_secret(channel)))
            }
            ChannelKind::Presence => {
                let data = presence_channel_data(user, &self.user_info_claims)?;
                (Some(merge_user_info(data, item)?), None)
            }
        };
        let auth = match &channel_data {
            Some(data) => keys.secret.presence_auth(app.key, socket_id, channel, data),
            None => keys.secret.channel_auth(app.key, socket_id, channel),
        };
        Ok(AuthBody { auth, channel_data, shared_secret, user_data: None })
    }

    /// A batch (the pusher-js-auth format): one user check for the batch,
    /// then each channel validated and policy-checked on its own, one
    /// membership lookup for the channels only `?member` rules grant, and
    /// each signed, so one refused channel refuses only itself. The answer is
    /// one JSON object keyed by channel name (see [`BatchEntry`]); a name that
    /// is not a valid channel name is left out of it (never echoed) and logged
    /// as `-`. Only a failure of the whole batch (user, secret) refuses it.
    /// Returns the answer and its log.
    async fn authorize_batch(
        &self,
        app: AppView<'_>,
        socket_id: SocketId<'_>,
        batch: &[(u8, Cow<'_, str>)],
        credentials: Credentials<'_>,
    ) -> Result<(String, String), Refusal> {
        let user = self.validator.validate(credentials).await?;
        let mut order: Vec<&(u8, Cow<'_, str>)> = batch.iter().collect();
        order.sort_by_key(|(index, _)| *index);
        let mut decisions: Vec<(Option<ChannelName<'_>>, Decision)> = Vec::with_capacity(batch.len());
        for (_, name) in order {
            let decision = match ChannelName::parse(name) {
                Err(refusal) => (None, Decision::Invalid(refusal)),
                Ok(channel) if decisions.iter().any(|(c, _)| *c == Some(channel)) => {
                    (Some(channel), Decision::Repeated)
                }
                Ok(channel) => match self.policy.decide(&user, channel) {
                    Ok(grant) => (Some(channel), Decision::Granted(grant)),
                    Err(refusal) => (Some(channel), Decision::Answered(Err(refusal))),
                },
            };
            decisions.push(decision);
        }
        self.sign_batch(app, socket_id, &user, &mut decisions).await?;
        Ok((batch_json(&decisions), batch_log(&decisions)))
    }

    /// Answers each granted channel of a batch: one membership lookup for
    /// those a `?member` rule granted, then the secret (read once, for the
    /// first channel to sign) and the signatures.
    async fn sign_batch(
        &self,
        app: AppView<'_>,
        socket_id: SocketId<'_>,
        user: &User,
        decisions: &mut [(Option<ChannelName<'_>>, Decision)],
    ) -> Result<(), Refusal> {
        let members: Vec<&str> = decisions
            .iter()
            .filter(|(_, decision)| matches!(decision, Decision::Granted(Grant::Member)))
            .filter_map(|(channel, _)| channel.map(|c| c.as_str()))
            .collect();
        let mut items = self.membership.check(app.membership_table, &user.id, &members).await.into_iter();
        let mut keys = None;
        for (channel, decision) in decisions.iter_mut() {
            let (Some(channel), Decision::Granted(grant)) = (*channel, &*decision) else { continue };
            let item = match grant {
                Grant::Open => None,
                Grant::Member => match items.next().expect("one answer per member channel") {
                    Ok(item) => Some(item),
                    Err(refusal) => {
                        *decision = Decision::Answered(Err(refusal));
                        continue;
                    }
                },
            };
            if keys.is_none() {
                keys = Some(self.secrets.get(app.secret_id).await?);
            }
            let keys = keys.as_deref().expect("fetched");
            *decision = Decision::Answered(self.sign_channel(app, socket_id, channel, user, keys, item.as_deref()));
        }
        Ok(())
    }
}

/// The batch's answer, from its decisions.
fn batch_json(decisions: &[(Option<ChannelName<'_>>, Decision)]) -> String {
    let answered = decisions.iter().filter_map(|(channel, decision)| match (channel, decision) {
        (Some(channel), Decision::Answered(signed)) => Some((channel.as_str(), BatchEntry::from(signed))),
        _ => None,
    });
    serde_json::to_string(&Batch(answered.collect())).expect("strings and numbers serialize")
}

/// The batch's log: `<channel>:<reason>` for each name asked, in order,
/// separated by spaces; an invalid name is `-`.
fn batch_log(decisions: &[(Option<ChannelName<'_>>, Decision)]) -> String {
    let entry = |(channel, decision): &(Option<ChannelName<'_>>, Decision)| {
        let reason = match decision {
            Decision::Invalid(refusal) | Decision::Answered(Err(refusal)) => refusal.log_reason(),
            Decision::Repeated => "repeated",
            Decision::Answered(Ok(_)) | Decision::Granted(_) => "ok",
        };
        format!("{}:{reason}", channel.map_or("-", |c| c.as_str()))
    };
    decisions.iter().map(entry).collect::<Vec<_>>().join(" ")
}
