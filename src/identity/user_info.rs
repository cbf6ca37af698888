//! The identity written into answers: presence `channel_data` and signin
//! `user_data`, with the configured `user_info` claims and the watchlist.

use serde::ser::{Serialize, Serializer};
use serde::Serialize as DeriveSerialize;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::error::Refusal;
use crate::identity::user::{check_user_id, is_unverified, User};

/// Which claims become `user_info`, in order (`USER_INFO_CLAIMS`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct UserInfoClaims(Vec<String>);

impl UserInfoClaims {
    /// Parses a comma-separated list of claim names; blanks are skipped.
    pub(crate) fn parse(list: &str) -> Self {
        Self(list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect())
    }
}

/// The selected claims, serialized as an object in the configured order.
struct UserInfo<'a>(Vec<(&'a String, &'a Value)>);

impl Serialize for UserInfo<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().copied())
    }
}

/// Largest `user_info` Pusher accepts, in bytes of JSON.
pub(crate) const MAX_USER_INFO_BYTES: usize = 1024;

/// Most user ids a watchlist may hold (Pusher's default limit).
pub(crate) const MAX_WATCHLIST: usize = 100;

/// The user's watchlist (`WATCHLIST_CLAIM`): absent or null means none; a
/// list of at most [`MAX_WATCHLIST`] strings that are each a valid user id
/// (see [`crate::identity::user::check_user_id`]); anything else is refused rather than
/// signed for the server to reject.
fn watchlist<'u>(user: &'u User, claim: Option<&str>) -> Result<Option<&'u [Value]>, Refusal> {
    match claim.and_then(|claim| user.claims.get(claim)) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(list))
            if list.len() <= MAX_WATCHLIST
                && list.iter().all(|v| v.as_str().is_some_and(|id| check_user_id(id, [(), ()]).is_ok())) =>
        {
            Ok(Some(list))
        }
        Some(_) => Err(Refusal::InvalidWatchlist),
    }
}

/// What is signed for the user: `{"user_id"|"id":…[,"user_info":{…}][,"watchlist":[…]]}`.
#[derive(DeriveSerialize)]
struct Identity<'a> {
    #[serde(rename = "user_id", skip_serializing_if = "Option::is_none")]
    user_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_info: Option<Box<RawValue>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    watchlist: Option<&'a [Value]>,
}

/// The configured claims the user has as `user_info`, in the configured
/// order: `email` and `phone_number` only once their `*_verified` flag is
/// true (a user can set them to anything); left out when none is present,
/// refused above 1 KB.
fn user_info(user: &User, info: &UserInfoClaims) -> Result<Option<Box<RawValue>>, Refusal> {
    let verified = info.0.iter().filter(|name| !is_unverified(&user.claims, name));
    let selected: Vec<_> = verified.filter_map(|name| Some((name, user.claims.get(name)?))).collect();
    if selected.is_empty() {
        return Ok(None);
    }
    let json = serde_json::value::to_raw_value(&UserInfo(selected)).expect("claims are JSON values");
    if json.get().len() > MAX_USER_INFO_BYTES {
        return Err(Refusal::UserInfoTooLarge);
    }
    Ok(Some(json))
}

/// Presence `channel_data`: `{"user_id":…,"user_info":{…}}`.
pub(crate) fn presence_channel_data(user: &User, info: &UserInfoClaims) -> Result<String, Refusal> {
    let identity = Identity { user_id: Some(&user.id), id: None, user_info: user_info(user, info)?, watchlist: None };
    Ok(serde_json::to_string(&identity).expect("JSON values serialize"))
}

/// User authentication `user_data`: `{"id":…,"user_info":{…},"watchlist":[…]}`
/// (`watchlist` from `WATCHLIST_CLAIM`, when configured and present).
pub(crate) fn signin_user_data(
    user: &User,
    info: &UserInfoClaims,
    watchlist_claim: Option<&str>,
) -> Result<String, Refusal> {
    let user_info = user_info(user, info)?;
    let identity =
        Identity { user_id: None, id: Some(&user.id), user_info, watchlist: watchlist(user, watchlist_claim)? };
    Ok(serde_json::to_string(&identity).expect("JSON values serialize"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_info_of_exactly_one_kilobyte_is_signed_one_byte_more_refused() {
        let user = |name_len: usize| {
            let claims = serde_json::json!({"sub": "u", "name": "n".repeat(name_len)});
            User { id: "u".into(), claims: claims.as_object().unwrap().clone() }
        };
        let info = UserInfoClaims::parse("name");
        // `{"name":""}` is 11 bytes.
        let at_limit = user_info(&user(MAX_USER_INFO_BYTES - 11), &info).unwrap().unwrap();
        assert_eq!(at_limit.get().len(), MAX_USER_INFO_BYTES);
        assert_eq!(user_info(&user(MAX_USER_INFO_BYTES - 10), &info).unwrap_err(), Refusal::UserInfoTooLarge);
    }

    /// Every presence case of the official libraries' vectors
    /// (`tests/fixtures/pusher-auth-vectors.json`): the `channel_data` the
    /// signature covers (the signatures: `pusher::signer`'s tests).
    #[test]
    fn presence_vectors() {
        let vectors: Value =
            serde_json::from_str(include_str!("../../tests/fixtures/pusher-auth-vectors.json")).unwrap();
        let cases = vectors["cases"].as_array().unwrap().iter().filter(|c| c["kind"] == "presence");
        let mut count = 0;
        for case in cases {
            let data = &case["presence_data"];
            let info = data["user_info"].as_object().unwrap();
            let user = User { id: data["user_id"].as_str().unwrap().into(), claims: info.clone() };
            let names: Vec<&str> = info.keys().map(String::as_str).collect();
            let channel_data = presence_channel_data(&user, &UserInfoClaims::parse(&names.join(","))).unwrap();
            assert_eq!(channel_data, case["expect"]["channel_data"].as_str().unwrap(), "{case}");
            count += 1;
        }
        assert!(count > 0);
    }
}
