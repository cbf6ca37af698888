//! The use case: who is asking, which channels they may join, and the
//! signatures (one channel or a batch).

use std::borrow::Cow;

use serde::Serializer as _;

use crate::config::AppView;
use crate::error::Refusal;
use crate::identity::user::User;
use crate::identity::user_info::{presence_channel_data, signin_user_data};
use crate::identity::validators::Credentials;
use crate::membership::{merge_user_info, Item};
use crate::policy::Grant;
use crate::pusher::names::{ChannelKind, ChannelName, SocketId};
use crate::secrets::AppSecrets;
use crate::web::params::AuthParams;
use crate::web::request::Route;
use crate::web::response::AuthBody;

use super::{Endpoint, Logged};

/// One channel of a batch's answer: `{"status":200,"data":{…}}` or `{"status":<refusal status>}`.
#[derive(serde::Serialize)]
struct BatchEntry<'a> {
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a AuthBody>,
}

impl Endpoint {
    /// Shared by JSONP and AJAX (the token parameter joins the transport's
    /// `credentials`): the socket id, then the route's user,
    /// decision and signature; the JSON answer (one authorization, or a
    /// batch's object) and what the log line records of it.
    pub(super) async fn authorize(
        &self,
        route: Route,
        app: AppView<'_>,
        params: &AuthParams<'_>,
        credentials: Credentials<'_>,
    ) -> (Result<String, Refusal>, Logged) {
        let credentials = Credentials { token: params.token.as_deref(), ..credentials };
        let socket_id = match params.socket_id.as_deref().ok_or(Refusal::MissingSocketId).and_then(SocketId::parse) {
            Ok(socket_id) => socket_id,
            Err(refusal) => return (Err(refusal), Logged::default()),
        };
        match route {
            Route::UserAuth => (self.authorize_signin(app, socket_id, credentials).await, Logged::default()),
            Route::ChannelAuth if params.batch.is_empty() => {
                let name = params.channel_name.as_deref().ok_or(Refusal::MissingChannelName);
                match name.and_then(ChannelName::parse) {
                    Ok(channel) => {
                        let logged = Logged { channel: Some(channel.as_str().to_owned()), batch: None };
                        (self.authorize_channel(app, socket_id, channel, credentials).await, logged)
                    }
                    Err(refusal) => (Err(refusal), Logged::default()),
                }
            }
            Route::ChannelAuth if params.channel_name.is_some() => {
                (Err(Refusal::DuplicateParameter), Logged::default())
            }
            Route::ChannelAuth => match self.authorize_batch(app, socket_id, &params.batch, credentials).await {
                Ok((json, log)) => (Ok(json), Logged { channel: None, batch: Some(log) }),
                Err(refusal) => (Err(refusal), Logged::default()),
            },
        }
    }

    /// One channel: the master key an encrypted channel needs (before any
    /// user check), the user, then decided and signed as a batch of one.
    async fn authorize_channel(
        &self,
        app: AppView<'_>,
        socket_id: SocketId<'_>,
        channel: ChannelName<'_>,
        credentials: Credentials<'_>,
    ) -> Result<String, Refusal> {
        self.encryption_available(channel, app.secret_id)?;
        let user = self.validator.validate(credentials).await?;
        let mut answers = self.sign_channels(app, socket_id, &user, &[channel]).await?;
        answers.pop().expect("one answer per channel").map(|body| body.to_json())
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
    ) -> Result<String, Refusal> {
        let user = self.validator.validate(credentials).await?;
        let user_data = signin_user_data(&user, &self.user_info_claims, self.watchlist_claim.as_deref())?;
        let keys = self.secrets.get(app.secret_id).await?;
        let auth = keys.secret.user_auth(app.key, socket_id, &user_data);
        Ok(AuthBody { auth, user_data: Some(user_data), ..AuthBody::default() }.to_json())
    }

    /// A batch (the pusher-js-auth format): one user check for the batch,
    /// then its channels decided and signed each on its own (see
    /// [`Endpoint::sign_channels`]), so one refused channel refuses only
    /// itself; a channel named again is answered once, for its first mention.
    /// The answer is one JSON object keyed by channel name (see
    /// [`BatchEntry`]); a name that is not a valid channel name is left out of
    /// it (never echoed). Only a failure of the whole batch (user, secret)
    /// refuses it. Returns the answer and its log: `<channel>:<reason>` for
    /// each name asked, in order, separated by spaces; an invalid name is `-`,
    /// a repeated one's reason `repeated`.
    async fn authorize_batch(
        &self,
        app: AppView<'_>,
        socket_id: SocketId<'_>,
        batch: &[(u8, Cow<'_, str>)],
        credentials: Credentials<'_>,
    ) -> Result<(String, String), Refusal> {
        let user = self.validator.validate(credentials).await?;
        let mut names: Vec<(u8, Result<ChannelName<'_>, Refusal>)> =
            batch.iter().map(|(index, name)| (*index, ChannelName::parse(name))).collect();
        names.sort_by_key(|(index, _)| *index);
        let repeated = |k: usize| names[..k].iter().any(|(_, earlier)| *earlier == names[k].1);
        let channels: Vec<ChannelName<'_>> =
            (0..names.len()).filter(|k| !repeated(*k)).filter_map(|k| names[k].1.ok()).collect();
        let answers = self.sign_channels(app, socket_id, &user, &channels).await?;
        let entries = channels.iter().zip(&answers).map(|(channel, answer)| {
            let status = answer.as_ref().map_or_else(|refusal| refusal.status(), |_| 200);
            (channel.as_str(), BatchEntry { status, data: answer.as_ref().ok() })
        });
        let mut json = Vec::new();
        serde_json::Serializer::new(&mut json).collect_map(entries).expect("strings and numbers serialize");
        let mut answered = answers.iter();
        let log = |k: usize| {
            let reason = match names[k].1 {
                Err(refusal) => refusal.log_reason(),
                Ok(_) if repeated(k) => "repeated",
                Ok(_) => {
                    answered.next().expect("one answer per channel").as_ref().err().map_or("ok", |r| r.log_reason())
                }
            };
            format!("{}:{reason}", names[k].1.as_ref().map_or("-", |channel| channel.as_str()))
        };
        let log: Vec<String> = (0..names.len()).map(log).collect();
        Ok((String::from_utf8(json).expect("JSON is UTF-8"), log.join(" ")))
    }

    /// Decides and signs each of `channels` for `user` on its own: the
    /// policy, one membership lookup for the channels only `?member` rules
    /// grant, then the secret (read once, for the first channel to sign) and
    /// the signatures. Only the secret's failure refuses them all.
    async fn sign_channels(
        &self,
        app: AppView<'_>,
        socket_id: SocketId<'_>,
        user: &User,
        channels: &[ChannelName<'_>],
    ) -> Result<Vec<Result<AuthBody, Refusal>>, Refusal> {
        let grants: Vec<Result<Grant, Refusal>> = channels.iter().map(|c| self.policy.decide(user, *c)).collect();
        let members: Vec<&str> =
            channels.iter().zip(&grants).filter(|(_, g)| **g == Ok(Grant::Member)).map(|(c, _)| c.as_str()).collect();
        let mut items = self.membership.check(app.membership_table, &user.id, &members).await.into_iter();
        let mut keys = None;
        let mut answers = Vec::with_capacity(channels.len());
        for (channel, grant) in channels.iter().zip(grants) {
            let item = grant.and_then(|grant| match grant {
                Grant::Open => Ok(None),
                Grant::Member => items.next().expect("one answer per member channel").map(Some),
            });
            answers.push(match item {
                Ok(item) => {
                    if keys.is_none() {
                        keys = Some(self.secrets.get(app.secret_id).await?);
                    }
                    let keys = keys.as_deref().expect("read above");
                    self.sign_channel(app, socket_id, *channel, user, keys, item.as_deref())
                }
                Err(refusal) => Err(refusal),
            });
        }
        Ok(answers)
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
}
