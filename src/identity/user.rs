//! Who is asking: the validated [`User`] and the rules every user id follows.

use serde_json::{Map, Value};

use crate::error::{AuthFailure, Refusal};

/// A validated user: an id (the token's subject) and the claims that came with it.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    /// The user id written into `channel_data.user_id` and `user_data.id`.
    pub id: String,
    /// Claims, used for `user_info` and by the channel policy.
    pub claims: Map<String, Value>,
}

/// Longest user id (`sub`) accepted.
pub(crate) const MAX_USER_ID_CHARS: usize = 128;

/// The rules for a user id (presence `user_id`, signin `id`, watchlist
/// entries): not empty, at most [`MAX_USER_ID_CHARS`] characters, no control
/// characters. Pusher identifies users by these strings in its HTTP API
/// (`/users/<id>/…`) and events; a value outside these rules would be signed
/// only for the server to reject it. The error is the caller's `too_long`
/// (over [`MAX_USER_ID_CHARS`] characters) or `invalid` (empty, or with a
/// control character).
pub(crate) fn check_user_id<E>(id: &str, [too_long, invalid]: [E; 2]) -> Result<(), E> {
    if id.chars().count() > MAX_USER_ID_CHARS {
        Err(too_long)
    } else if id.is_empty() || id.chars().any(char::is_control) {
        Err(invalid)
    } else {
        Ok(())
    }
}

/// The user `claims` name: the id is the first of `names` that holds a
/// non-empty string, and must follow the user-id rules and (when `names[0]`
/// is an e-mail or phone number) be verified. `refusals` are a source's
/// reasons for an id that is missing, too long, otherwise invalid, or unverified.
pub(crate) fn user_from(
    claims: Map<String, Value>,
    names: &[&str],
    [missing, too_long, invalid, unverified]: [AuthFailure; 4],
) -> Result<User, Refusal> {
    let refuse = Refusal::Unauthenticated;
    let id = names.iter().find_map(|name| claims.get(*name)?.as_str().filter(|id| !id.is_empty()));
    let id = id.ok_or(refuse(missing))?;
    check_user_id(id, [too_long, invalid]).map_err(refuse)?;
    // An e-mail address or phone number is an identity only once the
    // provider verified it: anyone may put a victim's address in their profile.
    if is_unverified(&claims, names[0]) {
        return Err(refuse(unverified));
    }
    Ok(User { id: id.to_owned(), claims })
}

/// Whether `claim` names a contact the user typed in themselves and the
/// provider has not verified: `email` without `email_verified` true, or
/// `phone_number` without `phone_number_verified` true (OpenID Connect Core
/// §5.1; `true` or the string `"true"`, which Cognito's API Gateway
/// authorizers pass). Such a value is never an identity: a user may set a
/// victim's address as their own.
pub(crate) fn is_unverified(claims: &Map<String, Value>, claim: &str) -> bool {
    let flag = match claim {
        "email" => "email_verified",
        "phone_number" => "phone_number_verified",
        _ => return false,
    };
    !claims.get(flag).is_some_and(|verified| *verified == true || verified == "true")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_are_checked_at_their_edges() {
        let check = |id: &str| check_user_id(id, ["too long", "invalid"]);
        assert_eq!(check(&"é".repeat(MAX_USER_ID_CHARS)), Ok(()), "128 characters (256 bytes)");
        assert_eq!(check(&"a".repeat(MAX_USER_ID_CHARS + 1)), Err("too long"));
        assert_eq!(check(""), Err("invalid"));
        assert_eq!(check("a\u{7f}b"), Err("invalid"));
        assert_eq!(check("a b-c@d"), Ok(()));
    }

    #[test]
    fn contacts_count_only_once_verified() {
        let claims = |json: Value| json.as_object().unwrap().clone();
        use serde_json::json;
        assert!(is_unverified(&claims(json!({"email": "a@b"})), "email"));
        assert!(!is_unverified(&claims(json!({"email_verified": true})), "email"));
        assert!(!is_unverified(&claims(json!({"email_verified": "true"})), "email"));
        assert!(is_unverified(&claims(json!({"email_verified": "True"})), "email"));
        assert!(is_unverified(&claims(json!({"phone_number_verified": false})), "phone_number"));
        assert!(!is_unverified(&claims(json!({"phone_number_verified": true})), "phone_number"));
        assert!(!is_unverified(&claims(json!({})), "sub"), "other claims need no flag");
    }
}
