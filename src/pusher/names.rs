//! Validated names: the only forms of client input the rest of the crate accepts.
//!
//! Each newtype borrows the request's text and can only be built through its
//! `parse` function, so a value of the type is proof that the check ran.

use crate::error::Refusal;

/// Longest socket id accepted: two runs of at most 20 ASCII digits and a dot.
const MAX_SOCKET_ID_LEN: usize = 41;
/// Longest channel name Pusher accepts.
pub(crate) const MAX_CHANNEL_NAME_LEN: usize = 164;

/// A Pusher socket id: `^[0-9]+\.[0-9]+$`, ASCII digits only, bounded length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SocketId<'a>(&'a str);

impl<'a> SocketId<'a> {
    /// Validates a socket id.
    pub(crate) fn parse(raw: &'a str) -> Result<Self, Refusal> {
        let digits = |s: &str| !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit());
        let valid = raw.split_once('.').is_some_and(|(left, right)| digits(left) && digits(right));
        (valid && raw.len() <= MAX_SOCKET_ID_LEN).then_some(Self(raw)).ok_or(Refusal::InvalidSocketId)
    }

    /// The socket id as text.
    pub(crate) fn as_str(&self) -> &'a str {
        self.0
    }
}

/// What kind of authenticated channel a name denotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelKind {
    /// `private-…`: signature only.
    Private,
    /// `presence-…`: signature over the channel data.
    Presence,
    /// `private-encrypted-…`: signature plus a per-channel shared secret.
    Encrypted,
}

impl ChannelKind {
    /// The kind a name (or a name's start) denotes by its prefix, if any.
    pub fn of(name: &str) -> Option<Self> {
        let kinds =
            [("private-encrypted-", Self::Encrypted), ("private-", Self::Private), ("presence-", Self::Presence)];
        kinds.into_iter().find_map(|(prefix, kind)| name.starts_with(prefix).then_some(kind))
    }
}

/// True for the characters Pusher allows in channel names: `[A-Za-z0-9_\-=@,.;]`.
pub(crate) fn is_channel_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'=' | b'@' | b',' | b'.' | b';')
}

/// A channel name that needs authorization: valid characters, 1–164 long, and a
/// `private-`, `private-encrypted-` or `presence-` prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelName<'a> {
    name: &'a str,
    kind: ChannelKind,
}

impl<'a> ChannelName<'a> {
    /// Validates a channel name. Public channels are refused: they need no auth.
    pub fn parse(raw: &'a str) -> Result<Self, Refusal> {
        if raw.is_empty() || raw.len() > MAX_CHANNEL_NAME_LEN || !raw.bytes().all(is_channel_char) {
            return Err(Refusal::InvalidChannelName);
        }
        let kind = ChannelKind::of(raw).ok_or(Refusal::PublicChannel)?;
        Ok(Self { name: raw, kind })
    }

    /// The channel name as text.
    pub fn as_str(&self) -> &'a str {
        self.name
    }

    /// The kind of channel.
    pub fn kind(&self) -> ChannelKind {
        self.kind
    }
}

/// The JSONP callback pusher-js sends: exactly `Pusher.auth_callbacks['N']` with
/// 1–9 ASCII digits. Nothing else is ever written into a script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct JsonpCallback<'a>(&'a str);

impl<'a> JsonpCallback<'a> {
    /// Validates a callback name against `^Pusher\.auth_callbacks\['[0-9]{1,9}'\]$`.
    pub(crate) fn parse(raw: &'a str) -> Result<Self, Refusal> {
        let digits = raw.strip_prefix("Pusher.auth_callbacks['").and_then(|rest| rest.strip_suffix("']"));
        let valid = digits.is_some_and(|d| (1..=9).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()));
        valid.then_some(Self(raw)).ok_or(Refusal::InvalidCallback)
    }

    /// The callback expression as text.
    pub(crate) fn as_str(&self) -> &'a str {
        self.0
    }

    /// The callback's number `N` (1–9 ASCII digits), its key in `Pusher.auth_callbacks`.
    pub(crate) fn id(&self) -> &'a str {
        &self.0["Pusher.auth_callbacks['".len()..self.0.len() - 2]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_ids() {
        assert_eq!(SocketId::parse("123.456").unwrap().as_str(), "123.456");
        for bad in ["", ".", "1.", ".1", "1.2.3", "a.1", "1.2<script>", "1 .2", "١٢.٣", "１.２", "-1.2", "1,2"] {
            assert_eq!(SocketId::parse(bad), Err(Refusal::InvalidSocketId), "{bad:?}");
        }
        let longest = format!("{}.{}", "9".repeat(20), "9".repeat(20));
        assert!(SocketId::parse(&longest).is_ok());
        assert!(SocketId::parse(&format!("{}.1", "9".repeat(21))).is_err());
    }

    #[test]
    fn channel_names_and_kinds() {
        assert_eq!(ChannelName::parse("private-a").unwrap().kind(), ChannelKind::Private);
        assert_eq!(ChannelName::parse("presence-a").unwrap().kind(), ChannelKind::Presence);
        assert_eq!(ChannelName::parse("private-encrypted-a").unwrap().kind(), ChannelKind::Encrypted);
        assert_eq!(ChannelName::parse("private-a_-=@,.;Z9").unwrap().as_str(), "private-a_-=@,.;Z9");
        assert_eq!(ChannelName::parse("my-channel"), Err(Refusal::PublicChannel));
        assert_eq!(ChannelName::parse("Private-a"), Err(Refusal::PublicChannel));
        for bad in ["", "private-a b", "private-a\"", "private-é", "private-a/b", "private-<", "presence-a'"] {
            assert_eq!(ChannelName::parse(bad), Err(Refusal::InvalidChannelName), "{bad:?}");
        }
        let max = format!("private-{}", "a".repeat(MAX_CHANNEL_NAME_LEN - 8));
        assert!(ChannelName::parse(&max).is_ok());
        assert_eq!(ChannelName::parse(&format!("{max}a")), Err(Refusal::InvalidChannelName));
    }

    #[test]
    fn callbacks() {
        assert!(JsonpCallback::parse("Pusher.auth_callbacks['1']").is_ok());
        assert!(JsonpCallback::parse("Pusher.auth_callbacks['123456789']").is_ok());
        assert_eq!(JsonpCallback::parse("Pusher.auth_callbacks['123456789']").unwrap().id(), "123456789");
        assert_eq!(JsonpCallback::parse("Pusher.auth_callbacks['0']").unwrap().id(), "0");
        for bad in [
            "",
            "Pusher.auth_callbacks['']",
            "Pusher.auth_callbacks['1234567890']",
            "Pusher.auth_callbacks[\"1\"]",
            "Pusher.auth_callbacks['1'];alert(1)//']",
            "Pusher.auth_callbacks['a']",
            "pusher.auth_callbacks['1']",
            "alert(document.cookie)",
            " Pusher.auth_callbacks['1']",
            "Pusher.auth_callbacks['1'] ",
            "Pusher.auth_callbacks['١']",
        ] {
            assert_eq!(JsonpCallback::parse(bad), Err(Refusal::InvalidCallback), "{bad:?}");
        }
    }
}
