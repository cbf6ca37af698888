//! Every case of the official libraries' vectors (npm `pusher`, cross-checked
//! with PyPI `pusher`), through the crate's signer and identity encoders.

use crate::helpers::vectors;
use pusher_auth_lambda::testing::User;
use pusher_auth_lambda::testing::{presence_channel_data, UserInfoClaims};
use pusher_auth_lambda::testing::{AppSecret, MasterKey};
use pusher_auth_lambda::testing::{ChannelName, SocketId};
use serde_json::Value;

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("{key} missing"))
}

#[test]
fn fixture_copy_matches_shared_vectors_when_present() {
    let shared = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/vectors/pusher-auth-vectors.json");
    if let Ok(text) = std::fs::read_to_string(shared) {
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), vectors(), "tests/fixtures copy is stale");
    }
}

#[test]
fn every_vector_case_passes() {
    let v = vectors();
    let app = &v["app"];
    let key = s(app, "key");
    let secret = AppSecret::new(s(app, "secret").as_bytes());
    let master = MasterKey::from_base64(s(app, "encryption_master_key_base64")).unwrap();
    let cases = v["cases"].as_array().unwrap();
    let mut counts = std::collections::BTreeMap::new();
    for case in cases {
        let kind = s(case, "kind");
        *counts.entry(kind).or_insert(0) += 1;
        let socket = SocketId::parse(s(case, "socket_id")).unwrap();
        let expect = &case["expect"];
        match kind {
            "private" => {
                let channel = ChannelName::parse(s(case, "channel_name")).unwrap();
                assert_eq!(secret.channel_auth(key, socket, channel), s(expect, "auth"), "{case}");
            }
            "encrypted" => {
                let channel = ChannelName::parse(s(case, "channel_name")).unwrap();
                assert_eq!(secret.channel_auth(key, socket, channel), s(expect, "auth"), "{case}");
                assert_eq!(master.shared_secret(channel), s(expect, "shared_secret"), "{case}");
            }
            "presence" => {
                let channel = ChannelName::parse(s(case, "channel_name")).unwrap();
                let data = &case["presence_data"];
                let info = data["user_info"].as_object().unwrap();
                let user = User { id: s(data, "user_id").into(), claims: info.clone() };
                let names: Vec<&str> = info.keys().map(String::as_str).collect();
                let channel_data = presence_channel_data(&user, &UserInfoClaims::parse(&names.join(","))).unwrap();
                assert_eq!(channel_data, s(expect, "channel_data"), "{case}");
                assert_eq!(secret.presence_auth(key, socket, channel, &channel_data), s(expect, "auth"), "{case}");
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
