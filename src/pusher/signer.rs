//! Signatures exactly as the official Pusher server libraries compute them.
//!
//! `auth = "<key>:<lowercase hex HMAC-SHA256(secret, string_to_sign)>"`, where
//! the string to sign is `socket_id:channel_name` (private, encrypted),
//! `socket_id:channel_name:channel_data` (presence) or
//! `socket_id::user::user_data` (user authentication).

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::pusher::names::{ChannelName, SocketId};

/// The app secret, held as a keyed HMAC state so each signature only hashes
/// the message. Its `Debug` output never shows the key.
///
/// RustCrypto's `hmac`/`sha2`, not ring's HMAC (which rustls links in too):
/// one auth string costs 0.25 µs here against ring's 0.42–0.47 µs (the
/// `warm_path` bench's calibration row, both measured on the same day).
#[derive(Clone)]
pub struct AppSecret {
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for AppSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AppSecret(<redacted>)")
    }
}

impl AppSecret {
    /// Keys the HMAC with the secret's bytes.
    pub fn new(secret: &[u8]) -> Self {
        Self {
            // HMAC accepts keys of any length.
            mac: Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length"),
        }
    }

    /// Lowercase hex HMAC-SHA256 over the concatenation of `parts`.
    fn hex_signature(&self, parts: &[&[u8]]) -> [u8; 64] {
        let mut mac = self.mac.clone();
        for part in parts {
            mac.update(part);
        }
        let mut out = [0u8; 64];
        hex::encode_to_slice(mac.finalize().into_bytes(), &mut out).expect("64 bytes hold 32 hex pairs");
        out
    }

    fn auth(&self, key: &str, parts: &[&[u8]]) -> String {
        let hex = self.hex_signature(parts);
        let mut auth = String::with_capacity(key.len() + 1 + hex.len());
        auth.push_str(key);
        auth.push(':');
        auth.push_str(std::str::from_utf8(&hex).expect("hex is ASCII"));
        auth
    }

    /// `auth` for a private or encrypted channel: signs `socket_id:channel_name`.
    pub fn channel_auth(&self, key: &str, socket_id: SocketId<'_>, channel: ChannelName<'_>) -> String {
        self.auth(key, &[socket_id.as_str().as_bytes(), b":", channel.as_str().as_bytes()])
    }

    /// `auth` for a presence channel: signs `socket_id:channel_name:channel_data`
    /// over exactly the bytes of `channel_data` that are returned to the client.
    pub fn presence_auth(
        &self,
        key: &str,
        socket_id: SocketId<'_>,
        channel: ChannelName<'_>,
        channel_data: &str,
    ) -> String {
        self.auth(
            key,
            &[socket_id.as_str().as_bytes(), b":", channel.as_str().as_bytes(), b":", channel_data.as_bytes()],
        )
    }

    /// `auth` for user authentication: signs `socket_id::user::user_data`.
    pub fn user_auth(&self, key: &str, socket_id: SocketId<'_>, user_data: &str) -> String {
        self.auth(key, &[socket_id.as_str().as_bytes(), b"::user::", user_data.as_bytes()])
    }
}

/// The 32-byte encryption master key for `private-encrypted-` channels.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

impl MasterKey {
    /// Decodes standard padded base64; the result must be exactly 32 bytes.
    pub fn from_base64(encoded: &str) -> Option<Self> {
        let bytes = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
        Some(Self(bytes.try_into().ok()?))
    }

    /// The channel's shared secret: standard padded base64 of
    /// SHA-256(channel name bytes ‖ master key).
    pub fn shared_secret(&self, channel: ChannelName<'_>) -> String {
        let digest = Sha256::new().chain_update(channel.as_str().as_bytes()).chain_update(self.0).finalize();
        base64::engine::general_purpose::STANDARD.encode(digest)
    }
}
