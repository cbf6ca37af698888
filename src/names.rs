//! Validated names: the only forms of client input the rest of the crate accepts.
//!
//! Each newtype borrows the request's text and can only be built through its
//! `parse` function, so a value of the type is proof that the check ran.

use crate::error::Refusal;

/// Longest socket id accepted: two runs of at most 20 ASCII digits and a dot.
const MAX_SOCKET_ID_LEN: usize = 41;
/// Longest channel name Pusher accepts.
pub const MAX_CHANNEL_NAME_LEN: usize = 164;

/// A Pusher socket id: `^[0-9]+\.[0-9]+$`, ASCII digits only, bounded length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketId<'a>(&'a str);

impl<'a> SocketId<'a> {
    /// Validates a socket id.
    pub fn parse(raw: &'a str) -> Result<Self, Refusal> {
        let (left, right) = raw.split_once('.').ok_or(Refusal::InvalidSocketId)?;
        let digits = |s: &str| !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit());
        if raw.len() <= MAX_SOCKET_ID_LEN && digits(left) && digits(right) {
            Ok(Self(raw))
        } else {
            Err(Refusal::InvalidSocketId)
        }
    }

    /// The socket id as text.
    pub fn as_str(&self) -> &'a str {
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
    /// Short name used in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Private => "private",
            Self::Presence => "presence",
            Self::Encrypted => "encrypted",
        }
    }
}

/// True for the characters Pusher allows in channel names: `[A-Za-z0-9_\-=@,.;]`.
pub fn is_channel_char(b: u8) -> bool {
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
        let kind = if raw.starts_with("private-encrypted-") {
            ChannelKind::Encrypted
        } else if raw.starts_with("private-") {
            ChannelKind::Private
        } else if raw.starts_with("presence-") {
            ChannelKind::Presence
        } else {
            return Err(Refusal::PublicChannel);
        };
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
pub struct JsonpCallback<'a>(&'a str);

impl<'a> JsonpCallback<'a> {
    /// Validates a callback name against `^Pusher\.auth_callbacks\['[0-9]{1,9}'\]$`.
    pub fn parse(raw: &'a str) -> Result<Self, Refusal> {
        const HEAD: &str = "Pusher.auth_callbacks['";
        const TAIL: &str = "']";
        let digits = raw.strip_prefix(HEAD).and_then(|rest| rest.strip_suffix(TAIL)).ok_or(Refusal::InvalidCallback)?;
        if (1..=9).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(raw))
        } else {
            Err(Refusal::InvalidCallback)
        }
    }

    /// The callback expression as text.
    pub fn as_str(&self) -> &'a str {
        self.0
    }
}
