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
pub(crate) struct AppSecret {
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for AppSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AppSecret(<redacted>)")
    }
}

impl AppSecret {
    /// Keys the HMAC with the secret's bytes.
    pub(crate) fn new(secret: &[u8]) -> Self {
        Self { mac: Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length") }
    }

    /// `<key>:<lowercase hex HMAC-SHA256 over the concatenation of parts>`,
    /// in one allocation.
    fn auth(&self, key: &str, parts: &[&[u8]]) -> String {
        let mut mac = self.mac.clone();
        parts.iter().for_each(|part| mac.update(part));
        let mut hex = [0u8; 64];
        hex::encode_to_slice(mac.finalize().into_bytes(), &mut hex).expect("64 bytes hold 32 hex pairs");
        [key, ":", std::str::from_utf8(&hex).expect("hex is ASCII")].concat()
    }

    /// `auth` for a private or encrypted channel: signs `socket_id:channel_name`.
    pub(crate) fn channel_auth(&self, key: &str, socket_id: SocketId<'_>, channel: ChannelName<'_>) -> String {
        self.auth(key, &[socket_id.as_str().as_bytes(), b":", channel.as_str().as_bytes()])
    }

    /// `auth` for a presence channel: signs `socket_id:channel_name:channel_data`
    /// over exactly the bytes of `channel_data` that are returned to the client.
    pub(crate) fn presence_auth(
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
    pub(crate) fn user_auth(&self, key: &str, socket_id: SocketId<'_>, user_data: &str) -> String {
        self.auth(key, &[socket_id.as_str().as_bytes(), b"::user::", user_data.as_bytes()])
    }
}

/// The 32-byte encryption master key for `private-encrypted-` channels.
#[derive(Clone)]
pub(crate) struct MasterKey([u8; 32]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

impl MasterKey {
    /// Decodes standard padded base64; the result must be exactly 32 bytes.
    pub(crate) fn from_base64(encoded: &str) -> Option<Self> {
        let bytes = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
        Some(Self(bytes.try_into().ok()?))
    }

    /// The channel's shared secret: standard padded base64 of
    /// SHA-256(channel name bytes ‖ master key).
    pub(crate) fn shared_secret(&self, channel: ChannelName<'_>) -> String {
        let digest = Sha256::new().chain_update(channel.as_str().as_bytes()).chain_update(self.0).finalize();
        base64::engine::general_purpose::STANDARD.encode(digest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "5b31d8b6ca557775afc4";
    const MASTER: &str = "bmsybDV1aHF1b2s0dm16dm91aWR2c3FrcWMxaGU0dnc=";

    #[test]
    fn debug_never_shows_the_secrets() {
        let shown = format!("{:?}", AppSecret::new(SECRET.as_bytes()));
        assert_eq!(shown, "AppSecret(<redacted>)");
        assert!(!shown.contains(SECRET));
        let shown = format!("{:?}", MasterKey::from_base64(MASTER).unwrap());
        assert_eq!(shown, "MasterKey(<redacted>)");
        assert!(!shown.contains(MASTER) && !shown.contains("nk2l5uhquok4vmzvouidvsqkqc1he4vw"));
        // Alternate form too (`{:#?}`, as in a pretty-printed settings dump).
        assert_eq!(format!("{:#?}", Some(AppSecret::new(b"x"))), "Some(\n    AppSecret(<redacted>),\n)");
    }

    #[test]
    fn master_key_is_exactly_32_bytes_of_padded_base64() {
        use base64::engine::general_purpose::STANDARD;
        assert!(MasterKey::from_base64(MASTER).is_some());
        assert!(MasterKey::from_base64(&format!(" {MASTER}\n")).is_some(), "surrounding white space");
        assert!(MasterKey::from_base64(&STANDARD.encode([7u8; 31])).is_none());
        assert!(MasterKey::from_base64(&STANDARD.encode([7u8; 33])).is_none());
        assert!(MasterKey::from_base64(MASTER.trim_end_matches('=')).is_none(), "unpadded");
        assert!(MasterKey::from_base64("").is_none());
        let key = MasterKey::from_base64(&STANDARD.encode([7u8; 32])).unwrap();
        assert_eq!(key.0, [7u8; 32]);
    }

    #[test]
    fn auth_is_the_key_a_colon_and_lowercase_hex_of_exactly_the_message() {
        // The three message shapes, checked against an HMAC computed here from the
        // documented strings to sign.
        let secret = AppSecret::new(SECRET.as_bytes());
        let expect = |message: &str| {
            let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
            mac.update(message.as_bytes());
            format!("key:{}", hex::encode(mac.finalize().into_bytes()))
        };
        let socket = SocketId::parse("123.456").unwrap();
        let channel = ChannelName::parse("presence-a").unwrap();
        assert_eq!(secret.channel_auth("key", socket, channel), expect("123.456:presence-a"));
        assert_eq!(secret.presence_auth("key", socket, channel, "{}"), expect("123.456:presence-a:{}"));
        assert_eq!(secret.user_auth("key", socket, "{\"id\":\"1\"}"), expect("123.456::user::{\"id\":\"1\"}"));
        let auth = secret.channel_auth("key", socket, channel);
        let hex = auth.strip_prefix("key:").unwrap();
        assert_eq!(hex.len(), 64);
        assert!(hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)), "{auth}");
        // The keyed state is not consumed: a second signature over the same message is the same.
        assert_eq!(secret.channel_auth("key", socket, channel), auth);
        assert_ne!(AppSecret::new(b"other").channel_auth("key", socket, channel), auth);
    }

    /// `tests/fixtures/pusher-auth-vectors.json`: the official libraries' vectors (npm `pusher`,
    /// cross-checked with PyPI `pusher`).
    fn vectors() -> serde_json::Value {
        serde_json::from_str(include_str!("../../tests/fixtures/pusher-auth-vectors.json")).unwrap()
    }

    fn s<'a>(v: &'a serde_json::Value, key: &str) -> &'a str {
        v[key].as_str().unwrap_or_else(|| panic!("{key} missing"))
    }

    #[test]
    fn fixture_copy_matches_shared_vectors_when_present() {
        let shared = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/vectors/pusher-auth-vectors.json");
        if let Ok(text) = std::fs::read_to_string(shared) {
            assert_eq!(
                serde_json::from_str::<serde_json::Value>(&text).unwrap(),
                vectors(),
                "tests/fixtures copy is stale"
            );
        }
    }

    /// Every case of the vectors, through the signer.
    #[test]
    fn every_vector_case_passes() {
        let v = vectors();
        let app = &v["app"];
        let key = s(app, "key");
        let secret = AppSecret::new(s(app, "secret").as_bytes());
        let master = MasterKey::from_base64(s(app, "encryption_master_key_base64")).unwrap();
        let mut counts = std::collections::BTreeMap::new();
        for case in v["cases"].as_array().unwrap() {
            let kind = s(case, "kind");
            *counts.entry(kind).or_insert(0) += 1;
            let socket = SocketId::parse(s(case, "socket_id")).unwrap();
            let expect = &case["expect"];
            let channel = || ChannelName::parse(s(case, "channel_name")).unwrap();
            match kind {
                "private" => assert_eq!(secret.channel_auth(key, socket, channel()), s(expect, "auth"), "{case}"),
                "encrypted" => {
                    assert_eq!(secret.channel_auth(key, socket, channel()), s(expect, "auth"), "{case}");
                    assert_eq!(master.shared_secret(channel()), s(expect, "shared_secret"), "{case}");
                }
                "presence" => {
                    // The `channel_data` itself: identity::user_info's tests.
                    let auth = secret.presence_auth(key, socket, channel(), s(expect, "channel_data"));
                    assert_eq!(auth, s(expect, "auth"), "{case}");
                }
                "signin" => {
                    // The vectors carry extra top-level fields in user_data; the
                    // signature must cover exactly the string returned.
                    let user_data = s(expect, "user_data");
                    assert_eq!(serde_json::to_string(&case["user_data"]).unwrap(), user_data, "{case}");
                    assert_eq!(secret.user_auth(key, socket, user_data), s(expect, "auth"), "{case}");
                }
                other => panic!("unknown vector kind {other}"),
            }
        }
        assert_eq!(counts.values().sum::<usize>(), 48);
        assert_eq!(counts.len(), 4, "{counts:?}");
    }
}
