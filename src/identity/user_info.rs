//! The identity written into answers: presence `channel_data` and signin
//! `user_data`, with the configured `user_info` claims and the watchlist.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

use crate::error::Refusal;
use crate::identity::user::{check_user_id, is_unverified, User};
use crate::support::json_text;

/// Which claims become `user_info`, in order (`USER_INFO_CLAIMS`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserInfoClaims(Vec<String>);

impl UserInfoClaims {
    /// Parses a comma-separated list of claim names; blanks are skipped.
    pub fn parse(list: &str) -> Self {
        Self(list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect())
    }

    /// The configured claims the user has; `email` and `phone_number` only
    /// once their `*_verified` flag is true (a user can set them to anything).
    fn select<'u>(&self, user: &'u User) -> UserInfo<'_, 'u> {
        UserInfo(
            self.0
                .iter()
                .filter(|name| !is_unverified(&user.claims, name))
                .filter_map(|name| user.claims.get(name).map(|v| (name.as_str(), v)))
                .collect(),
        )
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
pub(crate) const MAX_USER_INFO_BYTES: usize = 1024;

impl UserInfo<'_, '_> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Most user ids a watchlist may hold (Pusher's default limit).
pub(crate) const MAX_WATCHLIST: usize = 100;

/// The user's watchlist (`WATCHLIST_CLAIM`): absent or null means none; a
/// list of at most [`MAX_WATCHLIST`] strings that are each a valid user id
/// (see [`crate::identity::user::check_user_id`]); anything else is refused rather than
/// signed for the server to reject.
fn watchlist<'u>(user: &'u User, claim: Option<&str>) -> Result<Option<&'u [Value]>, Refusal> {
    let Some(claim) = claim else { return Ok(None) };
    match user.claims.get(claim) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(list))
            if list.len() <= MAX_WATCHLIST
                && list.iter().all(|v| v.as_str().is_some_and(|id| check_user_id(id).is_ok())) =>
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
pub(crate) fn signin_user_data(
    user: &User,
    info: &UserInfoClaims,
    watchlist_claim: Option<&str>,
) -> Result<String, Refusal> {
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
