//! Who is asking: the validated [`User`] and the rules every user id follows.

use serde_json::{Map, Value};

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
/// only for the server to reject it.
pub(crate) fn check_user_id(id: &str) -> Result<(), &'static str> {
    if id.is_empty() {
        return Err("empty");
    }
    if id.chars().count() > MAX_USER_ID_CHARS {
        return Err("too_long");
    }
    if id.chars().any(char::is_control) {
        return Err("control_character");
    }
    Ok(())
}
