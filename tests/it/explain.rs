//! `pusher-auth explain`: the real binary, its verdicts beside the handler's,
//! its report, and the policy tests it checks before a deploy.

use std::process::Command;

use crate::helpers::{fixture, token, tokens};
use serde_json::{json, Value};

const RULES: &str =
    "private-user-{sub} presence-room-* private-org-{org}-* private-inbox-{email} private-encrypted-org-{org}-*";

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
    run(vars, &[&["explain"], args].concat(), "")
}

/// Runs `pusher-auth ARGS` with `vars` and `stdin`; exit code, standard output and standard error.
fn run(vars: &[(String, String)], args: &[&str], stdin: &str) -> (i32, String) {
    use std::io::Write as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_pusher-auth"))
        .env_clear()
        .envs(vars.iter().map(|(k, v)| (k, v)))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    (out.status.code().unwrap(), stdout + &String::from_utf8(out.stderr).unwrap())
}

/// `vars` with `more` set (replaced when already there).
fn with(vars: &[(String, String)], more: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut out: Vec<_> = vars.iter().filter(|(k, _)| !more.iter().any(|(m, _)| m == k)).cloned().collect();
    out.extend(more.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    out
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

#[test]
fn an_encrypted_channel_without_a_master_key_is_refused_as_the_function_refuses_it() {
    let vars = env();
    let channel = "private-encrypted-org-acme-x";
    let (code, report) = explain(&vars, &["--token", &token("valid_rs256"), "--channel", channel]);
    assert_eq!(code, 1, "{report}");
    assert!(report.contains("rule private-encrypted-org-{org}-*: matches"), "{report}");
    assert!(report.contains("refused: encryption_not_configured (403 "), "{report}");
    assert!(!handler_signs(&vars, &token("valid_rs256"), channel));
    let claims = r#"{"sub":"u","org":"acme"}"#;
    assert_eq!(explain(&vars, &["--claims", claims, "--channel", channel]).0, 1, "the same from claims");
    // With the master key, both sign it.
    let keyed = with(&vars, &[("PUSHER_ENCRYPTION_MASTER_KEY_BASE64", "dGhpcyBpcyAzMiBieXRlcyBsb25nIG1hc3RlciBrZXk=")]);
    let (code, report) = explain(&keyed, &["--token", &token("valid_rs256"), "--channel", channel]);
    assert_eq!((code, report.lines().last()), (0, Some("allowed")), "{report}");
    assert!(handler_signs(&keyed, &token("valid_rs256"), channel));
    // A stored secret's key is known only once read: allowed, saying so.
    let stored = with(&vars, &[("PUSHER_SECRET_ID", "pusher/staging")]);
    let stored: Vec<_> = stored.into_iter().filter(|(k, _)| k != "PUSHER_SECRET").collect();
    let (code, report) = explain(&stored, &["--claims", claims, "--channel", channel]);
    assert!(code == 0 && report.contains("when the stored secret holds encryptionMasterKeyBase64"), "{report}");
}

/// A REST API Cognito authorizer event for `channel` whose `cognito:groups` is `groups`, as API Gateway passes it.
fn cognito_event(channel: &str, groups: &str) -> Vec<u8> {
    let mut event = fixture("apigw-v1-jsonp-cognito-authorizer");
    event["queryStringParameters"]["channel_name"] = Value::from(channel);
    event["multiValueQueryStringParameters"]["channel_name"] = json!([channel]);
    event["requestContext"]["authorizer"]["claims"]["cognito:groups"] = Value::from(groups);
    serde_json::to_vec(&event).unwrap()
}

#[test]
fn authorizer_mode_sees_list_claims_flattened_as_the_front_door_passes_them() {
    let vars = [("PUSHER_KEY", "app-key"), ("PUSHER_SECRET", "secret"), ("AUTH_MODE", "authorizer")]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
    let vars = with(&vars, &[("CHANNEL_RULES", "private-group-{cognito:groups}")]);
    let claims = r#"{"sub":"u8","cognito:groups":["staff","admins"]}"#;
    let (code, report) = explain(&vars, &["--claims", claims, "--channel", "private-group-staff"]);
    assert_eq!(code, 1, "{report}");
    assert!(report.contains(r#"claims: cognito:groups arrives as the string "staff,admins""#), "{report}");
    // The function, given what the REST API's Cognito authorizer passes, refuses it too.
    let signs = |event: &[u8]| {
        let (out, _) =
            crate::helpers::handle_logged(&crate::helpers::endpoint_from(&vars), event, tracing::Level::ERROR);
        out.unwrap().contains("\\\"auth\\\"")
    };
    assert!(!signs(&cognito_event("private-group-staff", "staff,admins")));
    assert!(signs(&cognito_event("private-group-staff", "staff")), "one group: a plain string, signed");
    assert_eq!(
        explain(&vars, &["--claims", r#"{"sub":"u8","cognito:groups":["staff"]}"#, "--channel", "private-group-staff"])
            .0,
        0
    );
    // A comma is legal in a group name: the flattened string is never split.
    assert_eq!(explain(&vars, &["--claims", claims, "--channel", "private-group-staff,admins"]).0, 0);
    let (_, report) =
        explain(&vars, &["--claims", claims, "--channel", "private-group-staff", "--front-door", "http-api"]);
    assert!(report.contains(r#"arrives as the string "[staff admins]""#), "{report}");
    // In jwt mode the list is the token's own.
    let jwt = with(&env(), &[("CHANNEL_RULES", "private-group-{cognito:groups}")]);
    assert_eq!(explain(&jwt, &["--claims", claims, "--channel", "private-group-staff"]).0, 0);
}

#[test]
fn the_token_can_come_from_standard_input_and_is_never_echoed() {
    let args = ["explain", "--token", "-", "--channel", "private-user-user-1"];
    let secret = token("valid_rs256");
    let (code, report) = run(&env(), &args, &format!("{secret}\n"));
    assert_eq!(code, 0, "{report}");
    assert!(report.contains("token: accepted"), "{report}");
    for part in secret.split('.') {
        assert!(!report.contains(part), "{report}");
    }
    let (code, report) = run(&env(), &args, &token("expired"));
    assert!(code == 1 && report.contains("token: refused: token_expired"), "{report}");
    // A usage error names the option, not its value.
    let (code, report) = explain(&env(), &["--token", &secret, "--claims", "{}", "--signin"]);
    assert!(code == 2 && report.contains("'--token <TOKEN>' cannot be used with"), "{report}");
    assert!(!secret.split('.').any(|part| report.contains(part)), "{report}");
}

#[test]
fn help_prints_the_usage_and_exits_0() {
    for args in [&["--help"][..], &["-h"], &["explain", "--help"]] {
        let (code, out) = run(&[], args, "");
        assert_eq!(code, 0, "{args:?}: {out}");
        assert!(out.contains("explain") && !out.contains("panicked") && !out.contains("backtrace"), "{out}");
    }
    let (_, out) = run(&[], &["explain", "--help"], "");
    assert!(out.contains("Usage: pusher-auth explain [OPTIONS]"), "{out}");
    for option in ["--samconfig-env", "--token", "--claims", "--channel", "--signin", "--check", "Exit status"] {
        assert!(out.contains(option), "{option}: {out}");
    }
    let (code, out) = run(&[], &["--check-config"], "");
    assert!(code == 1 && out.contains("PUSHER_KEY"), "--check-config still checks: {out}");
}

#[test]
fn custom_attributes_are_hinted_and_warned_about() {
    let vars = with(&env(), &[("CHANNEL_RULES", "private-org-{org_id}-* private-team-{custom:team}-*")]);
    let claims = r#"{"sub":"u","custom:org_id":"acme"}"#;
    let (code, report) = explain(&vars, &["--claims", claims, "--channel", "private-org-acme-x"]);
    assert_eq!(code, 1, "{report}");
    assert!(report.contains(r#"the user's org_id is absent (did you mean `custom:org_id`?)"#), "{report}");
    // Offline, a rule or USER_ID_CLAIM trusting a custom: claim is worth a warning.
    assert!(report.contains("warning: custom:team is trusted") && report.contains("docs/users.md"), "{report}");
    let (_, report) = explain(&with(&env(), &[("USER_ID_CLAIM", "custom:uid")]), &["--claims", "{}", "--signin"]);
    assert!(report.contains("warning: custom:uid is trusted"), "{report}");
    let (_, report) = explain(&env(), &["--claims", claims, "--signin"]);
    assert!(!report.contains("warning"), "{report}");
}

#[test]
fn a_value_holding_the_rules_delimiter_is_named() {
    let vars = with(&env(), &[("CHANNEL_RULES", "private-org-{custom:org_id}-* private-team-*-{sub}")]);
    let uuid = "3f2b8c1e-7d4a-4f1e-9c2b-5d6e7f8a9b0c";
    let claims = json!({"sub": "u", "custom:org_id": uuid}).to_string();
    let (code, report) = explain(&vars, &["--claims", &claims, "--channel", &format!("private-org-{uuid}-general")]);
    assert_eq!(code, 1, "{report}");
    assert!(report.contains(r#"{custom:org_id} read "3f2b8c1e" from the name"#), "{report}");
    assert!(report.contains("the user's value contains '-', the character that ends {custom:org_id}"), "{report}");
    // Read from the right: the character before it.
    let (_, report) = explain(&vars, &["--claims", r#"{"sub":"4-2"}"#, "--channel", "private-team-red-4-2"]);
    assert!(report.contains("contains '-', the character that ends {sub}"), "{report}");
    // A value that merely differs is not blamed on the delimiter.
    let (_, report) =
        explain(&vars, &["--claims", r#"{"sub":"u","custom:org_id":"acme"}"#, "--channel", "private-org-ac-x"]);
    assert!(!report.contains("the character that ends"), "{report}");
}

#[test]
fn samconfig_placeholders_are_named_by_parameter() {
    // The repository's samconfig still has its placeholders: a token explanation reads them all.
    let (code, report) =
        explain(&[], &["--samconfig-env", "staging", "--token", "a.b.c", "--channel", "private-user-u"]);
    assert_eq!(code, 2, "{report}");
    assert!(report.contains("PusherAppId is still the placeholder <staging-app-id>"), "{report}");
    assert!(!report.contains("PUSHER_"), "{report}");
    // With claims only the policy parameters are read.
    let args = ["--samconfig-env", "staging", "--claims", r#"{"sub":"u"}"#, "--channel", "private-user-u"];
    assert_eq!(explain(&[], &args).0, 0);
}

#[test]
fn policy_tests_decide_each_environment_as_its_front_door_passes_claims() {
    let dir = std::env::temp_dir().join(format!("explain-front-door-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (samconfig, tests) = (dir.join("samconfig.toml"), dir.join("policy-tests.toml"));
    let environment = |name: &str, front_door: &str| {
        format!(
            "[{name}.deploy.parameters]\nparameter_overrides = [\"AuthMode=authorizer\", \"FrontDoor={front_door}\", \
             \"PusherKey=<key>\", \"ChannelRules=private-group-{{cognito:groups}}\"]\n"
        )
    };
    std::fs::write(
        &samconfig,
        "version = 0.1\n".to_owned() + &environment("rest", "rest-api") + &environment("http", "http-api"),
    )
    .unwrap();
    let case = "[[case]]\nclaims = { sub = \"u\", \"cognito:groups\" = [\"staff\", \"admins\"] }\n";
    std::fs::write(&tests, format!("{case}channel = \"private-group-staff\"\nallowed = true\n")).unwrap();
    let args = ["--check", tests.to_str().unwrap(), "--samconfig", samconfig.to_str().unwrap()];
    let (code, report) = explain(&[], &args);
    assert_eq!(code, 1, "{report}");
    assert!(report.contains("FAIL http case 1 (private-group-staff): expected allowed, got refused"), "{report}");
    assert!(report.contains(r#"arrives as the string "[staff admins]""#), "{report}");
    assert!(report.contains(r#"arrives as the string "staff,admins""#), "{report}");
    assert!(report.contains("policy tests: 0 passed, 2 failed"), "{report}");
    // A placeholder left in a parameter the policy reads is named.
    std::fs::write(&samconfig, "[staging.deploy.parameters]\nparameter_overrides = \"ChannelRules=<rules>\"\n")
        .unwrap();
    let (code, report) = explain(&[], &args);
    assert!(code == 2 && report.contains("[staging]: ChannelRules is still the placeholder <rules>"), "{report}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_line_of_overrides_keeps_a_quoted_value_whole_and_a_bad_channel_is_refused() {
    let dir = std::env::temp_dir().join(format!("explain-line-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (samconfig, tests) = (dir.join("samconfig.toml"), dir.join("policy-tests.toml"));
    // As SAM reads it: the double quotes keep the two rules one value, and go.
    let line =
        r#"parameter_overrides = "AuthMode=jwt PusherKey=<key> ChannelRules=\"private-user-{sub} presence-room-*\"""#;
    std::fs::write(&samconfig, format!("[staging.deploy.parameters]\n{line}\n")).unwrap();
    let row = |channel: &str, allowed: bool| {
        format!("[[case]]\nclaims = {{ sub = \"u\" }}\nchannel = \"{channel}\"\nallowed = {allowed}\n")
    };
    // A name the function refuses is refused, as the function refuses it.
    let rows = [row("presence-room-1", true), row("private-user-u", true), row("public-room", false)];
    std::fs::write(&tests, rows.concat()).unwrap();
    let args = ["--check", tests.to_str().unwrap(), "--samconfig", samconfig.to_str().unwrap()];
    let (code, report) = explain(&[], &args);
    assert_eq!((code, report.trim_end().lines().last()), (0, Some("policy tests: 3 passed, 0 failed")), "{report}");
    std::fs::write(&tests, row("public-room", true)).unwrap();
    let (code, report) = explain(&[], &args);
    assert!(code == 1 && report.contains("got refused") && report.contains("    refused: public_channel"), "{report}");
    std::fs::remove_dir_all(&dir).unwrap();
}
