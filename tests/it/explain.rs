//! `pusher-auth explain`: the real binary, its verdicts beside the handler's,
//! its report, and the policy tests it checks before a deploy.

use std::process::Command;

use crate::helpers::{fixture, token, tokens};
use serde_json::{json, Value};

const RULES: &str = "private-user-{sub} presence-room-* private-org-{org}-* private-inbox-{email}";

/// The jwt configuration of the identity tests, as environment variables.
fn env() -> Vec<(String, String)> {
    let t = tokens();
    [
        ("PUSHER_KEY", "3e294278b9dd9a0ab486".to_owned()),
        ("PUSHER_SECRET", "5b31d8b6ca557775afc4".to_owned()),
        ("AUTH_MODE", "jwt".to_owned()),
        ("JWT_ALGORITHMS", "RS256,ES256".to_owned()),
        ("JWT_JWKS", t["jwks"].to_string()),
        ("JWT_ISSUER", t["issuer"].as_str().unwrap().to_owned()),
        ("JWT_AUDIENCE", t["audience"].as_str().unwrap().to_owned()),
        ("USER_INFO_CLAIMS", "name,org".to_owned()),
        ("CHANNEL_RULES", RULES.to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// Runs `pusher-auth explain ARGS` with `vars`; exit code and standard output.
fn explain(vars: &[(String, String)], args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_pusher-auth"))
        .env_clear()
        .envs(vars.iter().map(|(k, v)| (k, v)))
        .arg("explain")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    (out.status.code().unwrap(), stdout + &String::from_utf8(out.stderr).unwrap())
}

/// Whether the handler signs `channel` for `token` over JSONP.
fn handler_signs(vars: &[(String, String)], token: &str, channel: &str) -> bool {
    let endpoint = crate::helpers::endpoint_from(vars);
    let mut event = fixture("apigw-v2-jsonp-private");
    event["rawQueryString"] = Value::from(format!(
        "callback=Pusher.auth_callbacks%5B%271%27%5D&socket_id=1.2&channel_name={channel}&token={token}"
    ));
    let (out, _) =
        crate::helpers::handle_logged(&endpoint, &serde_json::to_vec(&event).unwrap(), tracing::Level::ERROR);
    out.unwrap().contains("\\\"auth\\\"")
}

#[test]
fn explain_decides_as_the_handler_does() {
    let vars = env();
    let names = ["valid_rs256", "valid_es256", "expired", "wrong_audience", "org_acme_corp", "no_sub", "bad_signature"];
    let channels = [
        "private-user-user-1",
        "private-user-user-2",
        "presence-room-lobby",
        "private-org-acme-x",
        "private-org-acme-corp-x",
        "private-encrypted-org-acme-x",
        "private-inbox-ada@example.com",
    ];
    for name in names {
        for channel in channels {
            let (code, report) = explain(&vars, &["--token", &token(name), "--channel", channel]);
            let signs = handler_signs(&vars, &token(name), channel);
            assert_eq!(code == 0, signs, "{name} {channel}: {report}");
            assert_eq!(code, if signs { 0 } else { 1 }, "{report}");
            // Never the token, a signature or the secret.
            for part in token(name).split('.').filter(|p| p.len() >= 8) {
                assert!(!report.contains(part), "{report}");
            }
            assert!(!report.contains("5b31d8b6ca557775afc4") && !report.contains("3e294278b9dd9a0ab486:"), "{report}");
        }
    }
}

#[test]
fn the_report_says_why() {
    let vars = env();
    let (code, report) = explain(&vars, &["--token", &token("valid_rs256"), "--channel", "private-user-user-2"]);
    assert_eq!(code, 1);
    assert!(
        report.contains(
            r#"rule private-user-{sub}: no match: {sub} read "user-2" from the name; the user's sub is "user-1""#
        ),
        "{report}"
    );
    assert!(report.contains("rule presence-room-*: another kind of channel"), "{report}");
    assert!(report.contains("refused: channel_not_allowed (403 forbidden)"), "{report}");
    let (code, report) = explain(&vars, &["--token", &token("expired"), "--channel", "private-user-user-1"]);
    assert_eq!(code, 1);
    assert!(report.contains("token: refused: token_expired (expired ") && report.contains("leeway 30 s"), "{report}");
    let (_, report) = explain(&vars, &["--token", &token("wrong_audience"), "--channel", "private-user-user-1"]);
    let audience = tokens()["audience"].as_str().unwrap().to_owned();
    assert!(report.contains(&format!("token_wrong_audience (expected aud {audience:?}")), "{report}");
    // Presence: the channel_data that would be signed; a delimiter that stops a placeholder.
    let (code, report) = explain(&vars, &["--token", &token("valid_rs256"), "--channel", "presence-room-1"]);
    assert_eq!(code, 0);
    assert!(report.contains(r#"channel_data that would be signed: {"user_id":"user-1","user_info":{"name":"Ada Lovelace","org":"acme"}}"#), "{report}");
    let (_, report) = explain(&vars, &["--claims", r#"{"sub":"u","org":"acme"}"#, "--channel", "private-org-acme"]);
    assert!(
        report.contains(
            r#"rule private-org-{org}-*: no match: {org} ends at a '-', and the name has none after byte 12"#
        ),
        "{report}"
    );
    // An unverified e-mail.
    let claims = json!({"sub": "u", "email": "ada@example.com"}).to_string();
    let (code, report) = explain(&vars, &["--claims", &claims, "--channel", "private-inbox-ada@example.com"]);
    assert_eq!(code, 1);
    assert!(
        report.contains("not verified (email_verified is not true)") && report.contains("channel_claim_unverified"),
        "{report}"
    );
    // Signin, and bad input.
    let (code, report) = explain(&vars, &["--claims", r#"{"sub":"u","name":"N"}"#, "--signin"]);
    assert_eq!(
        (code, report.contains(r#"user_data that would be signed: {"id":"u","user_info":{"name":"N"}}"#)),
        (0, true),
        "{report}"
    );
    assert_eq!(explain(&vars, &["--claims", "[1]", "--signin"]).0, 2);
    assert_eq!(explain(&vars, &["--claims", "{}", "--channel", "not a channel"]).0, 2);
    assert_eq!(explain(&vars, &["--channel", "private-a"]).0, 2);
    assert_eq!(explain(&[], &["--token", "a.b.c", "--signin"]).0, 2, "no configuration: PUSHER_KEY is not set");
    // With claims, only the policy settings are read: an app key or a URL may still be a placeholder.
    let placeholders =
        [("PUSHER_KEY", "<app-key>"), ("CHANNEL_RULES", "private-user-{sub}"), ("JWT_ISSUER", "<issuer>")]
            .map(|(k, v)| (k.to_owned(), v.to_owned()));
    assert_eq!(explain(&placeholders, &["--claims", r#"{"sub":"u"}"#, "--channel", "private-user-u"]).0, 0);
    assert_eq!(explain(&placeholders, &["--token", "a.b.c", "--channel", "private-user-u"]).0, 2);
}

#[test]
fn policy_tests_run_against_every_samconfig_environment() {
    // The repository's own: every case holds in staging and production.
    let (code, report) = explain(&[], &["--check", "policy-tests.toml"]);
    assert_eq!(code, 0, "{report}");
    let cases = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/policy-tests.toml"))
        .unwrap()
        .lines()
        .filter(|l| *l == "[[case]]")
        .count();
    assert_eq!(report.trim_end().lines().last().unwrap(), format!("policy tests: {} passed, 0 failed", 2 * cases));
    // A case that does not hold names the environment, the case and why.
    let dir = std::env::temp_dir().join(format!("explain-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let failing = dir.join("policy-tests.toml");
    std::fs::write(
        &failing,
        "[[case]]\nclaims = { sub = \"u\" }\nchannel = \"private-user-u\"\nallowed = true\n\n\
         [[case]]\nclaims = { sub = \"u\" }\nchannel = \"presence-lobby\"\nallowed = true\nenvironments = [\"production\"]\n",
    )
    .unwrap();
    let (code, report) = explain(&[], &["--check", failing.to_str().unwrap()]);
    assert_eq!(code, 1, "{report}");
    assert!(report.contains("FAIL production case 2 (presence-lobby): expected allowed, got refused"), "{report}");
    assert!(!report.contains("FAIL staging"), "{report}");
    assert!(report.contains("policy tests: 2 passed, 1 failed"), "{report}");
    std::fs::write(&failing, "[[case]]\nchannel = \"private-user-u\"\n").unwrap();
    assert_eq!(explain(&[], &["--check", failing.to_str().unwrap()]).0, 2);
    std::fs::remove_dir_all(&dir).unwrap();
}
