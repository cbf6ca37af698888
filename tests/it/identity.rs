//! Validators and the channel policy through the real handler, with tokens
//! minted by PyJWT (tests/tools/mint_tokens.py → tests/fixtures/tokens.json).

use crate::helpers::{fixture, hmac_hex, token, tokens, KEY, SECRET};
use pusher_auth_lambda::Endpoint;
use serde_json::{json, Value};

const RULES: &str = "private-user-{sub} presence-room-* private-encrypted-org-{org}-*";

fn endpoint(vars: &[(&str, String)]) -> Endpoint {
    let t = tokens();
    let mut all: Vec<(String, String)> = vec![
        ("PUSHER_KEY".into(), KEY.into()),
        ("PUSHER_SECRET".into(), SECRET.into()),
        ("PUSHER_ENCRYPTION_MASTER_KEY_BASE64".into(), "bmsybDV1aHF1b2s0dm16dm91aWR2c3FrcWMxaGU0dnc=".into()),
        ("AUTH_MODE".into(), "jwt".into()),
        ("JWT_ALGORITHMS".into(), "RS256,ES256,HS256".into()),
        ("JWT_JWKS".into(), t["jwks"].to_string()),
        ("JWT_SECRET".into(), t["hs_secret"].as_str().unwrap().into()),
        ("JWT_ISSUER".into(), t["issuer"].as_str().unwrap().into()),
        ("JWT_AUDIENCE".into(), t["audience"].as_str().unwrap().into()),
        ("CHANNEL_RULES".into(), RULES.into()),
        ("USER_INFO_CLAIMS".into(), "name,org".into()),
        ("ALLOWED_ORIGINS".into(), "https://app.example.com".into()),
    ];
    all.extend(vars.iter().map(|(k, v)| (k.to_string(), v.clone())));
    crate::helpers::endpoint_from(&all)
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A JSONP GET (HTTP API) for `channel` with `token` (if any).
fn jsonp_event(channel: &str, token: Option<&str>) -> Value {
    let mut event = fixture("apigw-v2-jsonp-private");
    let mut query = format!("callback=Pusher.auth_callbacks%5B%271%27%5D&socket_id=1.2&channel_name={}", enc(channel));
    if let Some(token) = token {
        query.push_str(&format!("&token={}", enc(token)));
    }
    event["rawQueryString"] = Value::from(query);
    event
}

/// Runs an event; returns (status, body, the request's log line). Fails if the
/// log holds a secret or any token from tokens.json.
fn run(endpoint: &Endpoint, event: &Value) -> (u16, String, Value) {
    let (out, log) = crate::helpers::handle_logged(endpoint, &serde_json::to_vec(event).unwrap(), tracing::Level::INFO);
    let answer: Value = serde_json::from_str(&out.unwrap()).unwrap();
    for secret in [SECRET, tokens()["hs_secret"].as_str().unwrap()] {
        assert!(!log.contains(secret), "secret in log: {log}");
    }
    for (name, token) in tokens()["tokens"].as_object().unwrap() {
        let token = token.as_str().unwrap();
        // Any of a token's parts (header, claims, signature) would give it away.
        for part in token.split('.').filter(|p| p.len() >= 8) {
            assert!(!log.contains(part), "token {name} in log: {log}");
        }
    }
    assert!(!log.contains(&signature("1.2:private-user-user-1")[KEY.len() + 1..]), "signature in log");
    let request_line =
        log.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()).find(|l| !l["route"].is_null()).unwrap();
    (answer["statusCode"].as_u64().unwrap() as u16, answer["body"].as_str().unwrap().to_owned(), request_line)
}

fn signature(message: &str) -> String {
    format!("{KEY}:{}", hmac_hex(SECRET, message))
}

fn script(json: &str) -> String {
    format!("/**/typeof Pusher.auth_callbacks['1'] === 'function' && Pusher.auth_callbacks['1']({json});")
}

/// The JSONP denial of `channel` (socket `1.2`, callback `1`): the script that
/// reaches that channel with the error object `json` (README, "Answers to refusals").
fn denial(channel: &str, json: &str) -> String {
    crate::helpers::channel_denial("1.2", channel, "1", json)
}

/// A refused signin over JSONP (socket `1.2`, callback `1`): a script that never
/// calls pusher-js's callback, only one marked to accept errors, and emits
/// `pusher:signin_error` on the connection's user (README, "Answers to refusals").
fn signin_denial(json: &str) -> String {
    format!(r#"{}"1.2","1",{json});"#, pusher_auth_lambda::testing::SIGNIN_DENIAL_HEAD)
}

#[test]
fn valid_rs256_es256_and_hs256_tokens() {
    let e = endpoint(&[]);
    for (name, sub) in [("valid_rs256", "user-1"), ("valid_es256", "user-2"), ("valid_hs256", "user-3")] {
        let channel = format!("private-user-{sub}");
        let (status, body, line) = run(&e, &jsonp_event(&channel, Some(&token(name))));
        assert_eq!(status, 200, "{name}");
        assert_eq!(body, script(&format!(r#"{{"auth":"{}"}}"#, signature(&format!("1.2:{channel}")))), "{name}");
        assert_eq!(line["reason"], "ok");
    }
}

#[test]
fn presence_identity_comes_from_the_token() {
    let e = endpoint(&[]);
    let mut event = jsonp_event("presence-room-lobby", Some(&token("valid_rs256")));
    let q = event["rawQueryString"].as_str().unwrap().to_owned();
    event["rawQueryString"] = Value::from(format!("{q}&user_id=admin&user_info=%7B%7D"));
    let (status, body, _) = run(&e, &event);
    assert_eq!(status, 200);
    let data = r#"{"user_id":"user-1","user_info":{"name":"Ada Lovelace","org":"acme"}}"#;
    let json = json!({"auth": signature(&format!("1.2:presence-room-lobby:{data}")), "channel_data": data});
    assert_eq!(body, script(&json.to_string()));
}

#[test]
fn every_token_refusal() {
    let e = endpoint(&[]);
    let cases = [
        ("expired", "token_expired"),
        ("not_yet_valid", "token_not_yet_valid"),
        ("exp_as_string", "token_bad_claims"),
        ("nbf_as_string", "token_bad_claims"),
        ("no_exp", "token_bad_claims"),
        ("no_sub", "token_without_subject"),
        ("sub_too_long", "token_subject_too_long"),
        ("wrong_issuer", "token_wrong_issuer"),
        ("wrong_audience", "token_wrong_audience"),
        ("alg_none", "token_bad_header"),
        ("alg_not_allowed", "token_algorithm_not_allowed"),
        ("hs_rs_confusion", "token_bad_signature"),
        ("jku_header", "token_names_its_key"),
        ("x5u_header", "token_names_its_key"),
        ("jwk_header", "token_names_its_key"),
        ("bad_signature", "token_bad_signature"),
        ("malformed", "token_malformed"),
        ("too_large", "token_too_large"),
        ("hs256_wrong_secret", "token_bad_signature"),
        ("valid_rs256_rotated_key", "token_unknown_key"),
        // Issuer and audience are required claims when configured.
        ("no_issuer", "token_without_issuer"),
        ("issuer_null", "token_without_issuer"),
        ("issuer_as_list", "token_wrong_issuer"),
        ("no_audience", "token_without_audience"),
        ("audience_null", "token_without_audience"),
        ("audience_list_without_ours", "token_wrong_audience"),
        ("audience_list_not_strings", "token_wrong_audience"),
        ("audience_number", "token_wrong_audience"),
        // Cognito access tokens: no aud, so token_use and client_id must say this client.
        ("access_token_other_client", "token_without_audience"),
        ("access_token_without_client_id", "token_without_audience"),
        ("id_token_without_audience", "token_without_audience"),
        ("client_id_without_token_use", "token_without_audience"),
        ("token_use_refresh", "token_wrong_use"),
        ("token_use_not_a_string", "token_wrong_use"),
        // No JWS extension is understood.
        ("crit_header", "token_critical_header"),
        ("crit_header_b64", "token_critical_header"),
    ];
    for (name, reason) in cases {
        let tok = token(name);
        let (status, body, line) = run(&e, &jsonp_event("private-user-1", Some(&tok)));
        // Only an expired token tells the page more: it can refresh the token and retry.
        let code = if reason == "token_expired" { "token_expired" } else { "unauthenticated" };
        assert_eq!(
            (status, body.as_str()),
            (200, denial("private-user-1", &format!(r#"{{"error":"{code}","status":401}}"#)).as_str()),
            "{name}"
        );
        assert_eq!((line["status"].as_u64(), line["reason"].as_str()), (Some(401), Some(reason)), "{name}");
        assert!(!line.to_string().contains(&tok[..tok.len().min(40)]), "{name}: token logged");
    }
    let (_, _, line) = run(&e, &jsonp_event("private-user-1", None));
    assert_eq!(line["reason"], "token_missing");
}

#[test]
fn cognito_id_and_access_tokens_and_audience_lists() {
    let e = endpoint(&[]);
    for (name, sub) in
        [("cognito_id_token", "user-7"), ("cognito_access_token", "user-8"), ("audience_list_with_ours", "user-6")]
    {
        let channel = format!("private-user-{sub}");
        let (status, body, line) = run(&e, &jsonp_event(&channel, Some(&token(name))));
        assert_eq!((status, line["reason"].as_str()), (200, Some("ok")), "{name}");
        assert_eq!(body, script(&format!(r#"{{"auth":"{}"}}"#, signature(&format!("1.2:{channel}")))), "{name}");
    }
}

#[test]
fn hmac_only_without_audience_refuses_tokens_that_carry_one() {
    // A dedicated JWT_SECRET: issuer and audience optional; an `aud` the function
    // was not told to accept is refused (RFC 7519 §4.1.3).
    let e = endpoint(&[
        ("JWT_ALGORITHMS", "HS256".into()),
        ("JWT_JWKS", String::new()),
        ("JWT_ISSUER", String::new()),
        ("JWT_AUDIENCE", String::new()),
    ]);
    let (_, _, line) = run(&e, &jsonp_event("private-user-user-9", Some(&token("hs256_with_audience"))));
    assert_eq!((line["status"].as_u64(), line["reason"].as_str()), (Some(401), Some("token_unexpected_audience")));
    let (status, _, line) = run(&e, &jsonp_event("private-user-user-9", Some(&token("hs256_without_audience"))));
    assert_eq!((status, line["reason"].as_str()), (200, Some("ok")));
}

#[test]
fn hs_rs_confusion_without_hs_on_the_list() {
    let e = endpoint(&[("JWT_ALGORITHMS", "RS256,ES256".into()), ("JWT_SECRET", String::new())]);
    let (_, _, line) = run(&e, &jsonp_event("private-user-1", Some(&token("hs_rs_confusion"))));
    assert_eq!(line["reason"], "token_algorithm_not_allowed");
}

#[test]
fn policy_refusals_and_near_misses() {
    let e = endpoint(&[]);
    let t = token("valid_rs256");
    for (channel, allowed) in [
        ("private-user-user-1", true),
        ("private-user-user-12", false),
        ("private-user-User-1", false),
        ("private-user-user-", false),
        ("private-user-1", false),
        ("presence-room-", true),
        ("private-encrypted-org-acme-x", true),
        ("private-encrypted-org-acm-x", false),
        ("private-room-x", false),
    ] {
        let (_, body, line) = run(&e, &jsonp_event(channel, Some(&t)));
        if allowed {
            assert_eq!(line["reason"], "ok", "{channel}");
        } else {
            assert_eq!(body, denial(channel, r#"{"error":"forbidden","status":403}"#), "{channel}");
            assert_eq!(line["reason"], "channel_not_allowed", "{channel}");
        }
    }
}

#[test]
fn rules_never_cross_tenants() {
    // `private-encrypted-org-{org}-*`: org `acme-corp` holds the rule's delimiter, so that
    // user gets nothing from it, and `acme`'s channels are never also someone else's.
    let e = endpoint(&[]);
    let acme = token("valid_rs256");
    let acme_corp = token("org_acme_corp");
    for (tok, channel, reason) in [
        (&acme_corp, "private-encrypted-org-acme-corp-chat", "channel_not_allowed"),
        (&acme_corp, "private-encrypted-org-acme-chat", "channel_not_allowed"),
        (&acme_corp, "private-encrypted-org-acme-corp", "channel_not_allowed"),
        (&acme, "private-encrypted-org-acme-chat", "ok"),
        (&acme, "private-encrypted-org-acm-chat", "channel_not_allowed"),
    ] {
        assert_eq!(run(&e, &jsonp_event(channel, Some(tok))).2["reason"], reason, "{channel}");
    }
    // `private-{org}-{sub}`: (org a, sub b-c) and (org a-b, sub c) would both match
    // `private-a-b-c`; only the first does.
    let e = endpoint(&[("CHANNEL_RULES", "private-{org}-{sub}".into())]);
    let (first, second) = (token("org_a_sub_b_c"), token("org_a_b_sub_c"));
    assert_eq!(run(&e, &jsonp_event("private-a-b-c", Some(&first))).2["reason"], "ok");
    assert_eq!(run(&e, &jsonp_event("private-a-b-c", Some(&second))).2["reason"], "channel_not_allowed");
    assert_eq!(run(&e, &jsonp_event("private-a-b-c", Some(&second))).2["status"], 403);
}

/// A JSONP user-authentication GET (HTTP API) with `token`.
fn signin_event(token: &str) -> Value {
    let mut event = jsonp_event("private-x", Some(token));
    event["rawPath"] = Value::from("/pusher/user-auth");
    event["requestContext"]["http"]["path"] = Value::from("/pusher/user-auth");
    event["rawQueryString"] =
        Value::from(format!("callback=Pusher.auth_callbacks%5B%271%27%5D&socket_id=1.2&token={}", enc(token)));
    event
}

#[test]
fn user_id_claim_feeds_presence_signin_and_sub_rules() {
    let e = endpoint(&[
        ("USER_ID_CLAIM", "cognito:username".into()),
        ("USER_INFO_CLAIMS", "email".into()),
        ("CHANNEL_RULES", "private-user-{sub} presence-group-{cognito:groups}-*".into()),
    ]);
    let t = token("cognito_username");
    // `{sub}` is the user id, so now the username.
    assert_eq!(run(&e, &jsonp_event("private-user-ada.lovelace", Some(&t))).2["reason"], "ok");
    let raw_sub = "private-user-0d6e2f4a-7b1c-4e5f-9a8b-3c2d1e0f9a8b";
    assert_eq!(run(&e, &jsonp_event(raw_sub, Some(&t))).2["reason"], "channel_not_allowed");
    // A list claim in a rule.
    assert_eq!(run(&e, &jsonp_event("presence-group-sales-x", Some(&t))).2["reason"], "channel_not_allowed");
    let (status, body, _) = run(&e, &jsonp_event("presence-group-staff-x", Some(&t)));
    // The token's email carries no `email_verified`: it is left out of what is signed.
    let data = r#"{"user_id":"ada.lovelace"}"#;
    let expected = json!({"auth": signature(&format!("1.2:presence-group-staff-x:{data}")), "channel_data": data});
    assert_eq!((status, body), (200, script(&expected.to_string())));
    let (_, body, line) = run(&e, &signin_event(&t));
    let user_data = r#"{"id":"ada.lovelace"}"#;
    let expected = json!({"auth": signature(&format!("1.2::user::{user_data}")), "user_data": user_data});
    assert_eq!((body, line["reason"].as_str()), (script(&expected.to_string()), Some("ok")));
    // Values outside the user-id rules are refused, never signed.
    for (name, reason) in [
        ("username_with_control_character", "token_subject_invalid"),
        ("username_too_long", "token_subject_too_long"),
        ("valid_rs256", "token_without_subject"),
    ] {
        let (_, body, line) = run(&e, &signin_event(&token(name)));
        assert_eq!(line["reason"], reason, "{name}");
        assert_eq!(body, signin_denial(r#"{"error":"unauthenticated","status":401}"#), "{name}");
    }
}

#[test]
fn watchlist_claim_goes_into_signin_user_data() {
    let e = endpoint(&[("WATCHLIST_CLAIM", "friends".into()), ("USER_INFO_CLAIMS", "email".into())]);
    let (_, body, _) = run(&e, &signin_event(&token("with_watchlist")));
    let user_data = r#"{"id":"user-11","watchlist":["user-1","user-2"]}"#;
    let expected = json!({"auth": signature(&format!("1.2::user::{user_data}")), "user_data": user_data});
    assert_eq!(body, script(&expected.to_string()));
    // No claim, no watchlist.
    let (_, body, _) = run(&e, &signin_event(&token("valid_rs256")));
    assert!(body.contains(r#"{\"id\":\"user-1\"}"#), "{body}");
    for name in ["watchlist_too_long", "watchlist_not_strings", "watchlist_bad_id", "watchlist_not_a_list"] {
        let (_, body, line) = run(&e, &signin_event(&token(name)));
        assert_eq!(body, signin_denial(r#"{"error":"invalid_watchlist","status":403}"#), "{name}");
        assert_eq!(
            (line["status"].as_u64(), line["reason"].as_str()),
            (Some(403), Some("invalid_watchlist")),
            "{name}"
        );
    }
    // Channel authorization does not look at the watchlist.
    assert_eq!(run(&e, &jsonp_event("private-user-user-12", Some(&token("watchlist_too_long")))).2["reason"], "ok");
}

/// A JSONP batch GET (HTTP API): `channel_name[i]` for each channel.
fn batch_event(channels: &[&str], token: Option<&str>) -> Value {
    let mut event = jsonp_event("private-x", token);
    let mut query = String::from("callback=Pusher.auth_callbacks%5B%271%27%5D&socket_id=1.2");
    for (i, channel) in channels.iter().enumerate() {
        query.push_str(&format!("&channel_name%5B{i}%5D={}", enc(channel)));
    }
    if let Some(token) = token {
        query.push_str(&format!("&token={}", enc(token)));
    }
    event["rawQueryString"] = Value::from(query);
    event
}

#[test]
fn batches_over_jsonp_sign_each_channel_on_its_own() {
    let e = endpoint(&[]);
    let t = token("valid_rs256");
    let channels =
        ["private-user-user-1", "presence-room-a", "private-forbidden", "private-not valid", "private-user-user-1"];
    let (status, body, line) = run(&e, &batch_event(&channels, Some(&t)));
    assert_eq!(status, 200);
    let data = r#"{"user_id":"user-1","user_info":{"name":"Ada Lovelace","org":"acme"}}"#;
    let expected = json!({
        "private-user-user-1": {"status": 200, "data": {"auth": signature("1.2:private-user-user-1")}},
        "presence-room-a": {"status": 200, "data": {
            "auth": signature(&format!("1.2:presence-room-a:{data}")), "channel_data": data}},
        "private-forbidden": {"status": 403},
    });
    let prefix = "/**/typeof Pusher.auth_callbacks['1'] === 'function' && Pusher.auth_callbacks['1'](";
    let json = body.strip_prefix(prefix).and_then(|b| b.strip_suffix(");")).unwrap_or_else(|| panic!("{body}"));
    assert_eq!(serde_json::from_str::<Value>(json).unwrap(), expected);
    // Key order follows the batch, as pusher-js-auth sends it.
    assert!(json.find("private-user-user-1").unwrap() < json.find("presence-room-a").unwrap());
    assert_eq!(line["reason"], "ok");
    assert_eq!(
        line["batch"],
        "private-user-user-1:ok presence-room-a:ok private-forbidden:channel_not_allowed -:invalid_channel_name private-user-user-1:repeated"
    );
    assert!(line["channel"].is_null());
}

#[test]
fn batches_over_ajax_in_the_pusher_js_auth_format() {
    let e = endpoint(&[]);
    let mut event = fixture("apigw-v2-ajax-private");
    // pusher-js-auth: a leading '&', brackets as they are, the token from `params`.
    event["body"] = Value::from(format!(
        "&socket_id=1.2&channel_name[0]=private-user-user-1&channel_name[1]=private-encrypted-org-acme-x&channel_name[2]=presence-x&token={}",
        enc(&token("valid_es256"))
    ));
    event["isBase64Encoded"] = Value::from(false);
    event["headers"].as_object_mut().unwrap().remove("origin");
    let (status, body, line) = run(&e, &event);
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    // valid_es256 is user-2: their own channel is not user-1's.
    assert_eq!(answer["private-user-user-1"], json!({"status": 403}));
    assert_eq!(answer["presence-x"], json!({"status": 403}));
    let encrypted = &answer["private-encrypted-org-acme-x"];
    assert_eq!(encrypted["status"], 200);
    assert_eq!(encrypted["data"]["auth"], signature("1.2:private-encrypted-org-acme-x"));
    assert_eq!(encrypted["data"]["shared_secret"].as_str().unwrap().len(), 44);
    assert_eq!(
        line["batch"],
        "private-user-user-1:channel_not_allowed private-encrypted-org-acme-x:ok presence-x:channel_not_allowed"
    );
}

/// The same batch as a REST API v1 proxy event (`queryStringParameters` and
/// `multiValueQueryStringParameters`, decoded, as API Gateway sends them).
fn batch_event_v1(channels: &[&str], token: &str) -> Value {
    let mut event = fixture("apigw-v1-jsonp-private");
    let mut single = serde_json::Map::new();
    single.insert("callback".into(), Value::from("Pusher.auth_callbacks['1']"));
    single.insert("socket_id".into(), Value::from("1.2"));
    for (i, channel) in channels.iter().enumerate() {
        single.insert(format!("channel_name[{i}]"), Value::from(*channel));
    }
    single.insert("token".into(), Value::from(token));
    let multi: serde_json::Map<String, Value> =
        single.iter().map(|(k, v)| (k.clone(), Value::Array(vec![v.clone()]))).collect();
    event["queryStringParameters"] = Value::Object(single);
    event["multiValueQueryStringParameters"] = Value::Object(multi);
    event
}

/// The same batch as the event `mapping-templates/request.vtl` renders (`params.querystring`).
fn batch_event_mapping(channels: &[&str], token: &str) -> Value {
    let mut event = fixture("rest-mapping-jsonp-private");
    let v1 = batch_event_v1(channels, token);
    event["params"]["querystring"] = v1["queryStringParameters"].clone();
    event
}

#[test]
fn batches_answer_the_same_through_rest_v1_and_mapping_template_events() {
    let e = endpoint(&[]);
    let t = token("valid_rs256");
    let channels = [
        "private-user-user-1",
        "presence-room-a",
        "private-forbidden",
        "private-not valid",
        "private-encrypted-org-acme-x",
        "private-user-user-1",
    ];
    let (status, v2_body, v2_line) = run(&e, &batch_event(&channels, Some(&t)));
    assert_eq!(status, 200);
    assert!(v2_body.contains(r#""private-forbidden":{"status":403}"#), "{v2_body}");
    let (status, v1_body, v1_line) = run(&e, &batch_event_v1(&channels, &t));
    assert_eq!(status, 200);
    // Byte for byte: same order, same signatures, the same shared secret.
    assert_eq!(v1_body, v2_body);
    let (out, log) = crate::helpers::handle_logged(
        &e,
        &serde_json::to_vec(&batch_event_mapping(&channels, &t)).unwrap(),
        tracing::Level::INFO,
    );
    // The mapping answer is the body as a JSON string.
    let mapped: String = serde_json::from_str(&out.unwrap()).unwrap();
    assert_eq!(mapped, v2_body);
    let mapped_line =
        log.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()).find(|l| !l["route"].is_null()).unwrap();
    for line in [&v1_line, &mapped_line] {
        assert_eq!(line["batch"], v2_line["batch"]);
        assert_eq!(line["reason"], "ok");
    }
    assert_eq!(
        v2_line["batch"],
        "private-user-user-1:ok presence-room-a:ok private-forbidden:channel_not_allowed -:invalid_channel_name private-encrypted-org-acme-x:ok private-user-user-1:repeated"
    );
}

#[test]
fn whole_batch_refusals() {
    let e = endpoint(&[]);
    let channels = ["private-user-user-1", "presence-room-a"];
    let (_, body, line) = run(&e, &batch_event(&channels, None));
    assert_eq!(
        (body, line["reason"].as_str()),
        (script(r#"{"error":"unauthenticated","status":401}"#), Some("token_missing"))
    );
    let many: Vec<String> = (0..26).map(|i| format!("private-user-user-1-{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let (_, body, line) = run(&e, &batch_event(&many, Some(&token("valid_rs256"))));
    assert_eq!(
        (body, line["reason"].as_str()),
        (script(r#"{"error":"batch_too_large","status":413}"#), Some("batch_too_large"))
    );
    let (_, body, _) = run(&e, &batch_event(&many[..25], Some(&token("valid_rs256"))));
    assert!(body.contains(r#""private-user-user-1-24":{"status":403}"#), "{body}");
    // channel_name beside a batch is ambiguous.
    let mut both = batch_event(&channels, Some(&token("valid_rs256")));
    let q = both["rawQueryString"].as_str().unwrap().to_owned();
    both["rawQueryString"] = Value::from(format!("{q}&channel_name=private-user-user-1"));
    assert_eq!(run(&e, &both).2["reason"], "duplicate_parameter");
}

#[test]
fn ajax_bearer_token_and_its_absence() {
    let e = endpoint(&[]);
    let mut event = fixture("apigw-v2-ajax-private");
    event["body"] = Value::from("socket_id=1.2&channel_name=private-user-user-1");
    event["isBase64Encoded"] = Value::from(false);
    let (status, _, line) = run(&e, &event);
    assert_eq!((status, line["reason"].as_str()), (401, Some("token_missing")));
    // RFC 6750 §3 challenges: none, invalid, expired.
    let challenge = |event: &Value| {
        let (out, _) = crate::helpers::handle_logged(&e, &serde_json::to_vec(event).unwrap(), tracing::Level::INFO);
        let answer: Value = serde_json::from_str(&out.unwrap()).unwrap();
        (answer["headers"]["WWW-Authenticate"].as_str().map(String::from), answer["body"].as_str().unwrap().to_owned())
    };
    assert_eq!(challenge(&event).0.as_deref(), Some("Bearer"));
    event["headers"]["authorization"] = Value::from(format!("Bearer {}", token("bad_signature")));
    assert_eq!(
        challenge(&event),
        (Some(r#"Bearer error="invalid_token""#.into()), r#"{"error":"unauthenticated","status":401}"#.into())
    );
    event["headers"]["authorization"] = Value::from(format!("Bearer {}", token("expired")));
    assert_eq!(
        challenge(&event),
        (
            Some(r#"Bearer error="invalid_token", error_description="The token expired""#.into()),
            r#"{"error":"token_expired","status":401}"#.into()
        )
    );
    event["headers"]["authorization"] = Value::from(format!("Bearer {}", token("valid_rs256")));
    let (status, body, _) = run(&e, &event);
    assert_eq!(status, 200);
    assert_eq!(body, format!(r#"{{"auth":"{}"}}"#, signature("1.2:private-user-user-1")));
}

#[test]
fn authorizer_mode_with_rest_and_http_api_events() {
    let e = endpoint(&[("AUTH_MODE", "authorizer".into()), ("JWT_AUDIENCE", String::new())]);
    // HTTP API JWT authorizer.
    let mut v2 = jsonp_event("private-user-u9", None);
    v2["requestContext"]["authorizer"] = json!({"jwt": {"claims": {"sub": "u9", "name": "Nine"}, "scopes": null}});
    assert_eq!(run(&e, &v2).2["reason"], "ok");
    // REST API Cognito authorizer.
    let mut v1 = fixture("apigw-v1-jsonp-private");
    v1["multiValueQueryStringParameters"]["channel_name"] = json!(["private-user-u8"]);
    v1["requestContext"]["authorizer"] = json!({"claims": {"sub": "u8", "email": "u8@example.com"}});
    assert_eq!(run(&e, &v1).2["reason"], "ok");
    // The policy still applies, and no authorizer context is refused.
    v1["multiValueQueryStringParameters"]["channel_name"] = json!(["private-user-u9"]);
    assert_eq!(run(&e, &v1).2["reason"], "channel_not_allowed");
    let bare = jsonp_event("private-user-u9", None);
    assert_eq!(run(&e, &bare).2["reason"], "no_authorizer_context");
}

#[test]
fn authorizer_fixtures_through_the_handler() {
    let e = endpoint(&[
        ("AUTH_MODE", "authorizer".into()),
        ("JWT_AUDIENCE", String::new()),
        ("CHANNEL_RULES", "private-*".into()),
    ]);
    // The fixtures' channel is not the users' own: allowed by `private-*`, signed for the fixture's socket.
    let (status, body, line) = run(&e, &fixture("apigw-v2-ajax-jwt-authorizer"));
    assert_eq!((status, line["reason"].as_str()), (200, Some("ok")));
    assert!(body.starts_with(&format!(r#"{{"auth":"{KEY}:"#)));
    let (status, body, line) = run(&e, &fixture("apigw-v1-jsonp-cognito-authorizer"));
    assert_eq!((status, line["reason"].as_str()), (200, Some("ok")));
    assert!(body.contains(r#"({"auth":"3e294278b9dd9a0ab486:"#));
    // Under `jwt` the function checks the token itself: the form's `token` parameter comes
    // first (here pusher-js's `demo-token`), and it is refused.
    let jwt = endpoint(&[("CHANNEL_RULES", "private-*".into())]);
    let (status, _, line) = run(&jwt, &fixture("apigw-v2-ajax-jwt-authorizer"));
    assert_eq!((status, line["reason"].as_str()), (401, Some("token_malformed")));
}

/// `email` and `phone_number` are signed into `user_info` only once verified:
/// a user can set them to anything (e.g. `ceo@victim.example`).
#[test]
fn unverified_contacts_stay_out_of_user_info() {
    let e = endpoint(&[
        ("AUTH_MODE", "authorizer".into()),
        ("JWT_AUDIENCE", String::new()),
        ("USER_INFO_CLAIMS", "name,email,phone_number".into()),
    ]);
    let presence = |claims: Value| {
        let mut event = jsonp_event("presence-room-x", None);
        event["requestContext"]["authorizer"] = json!({ "claims": claims });
        let (status, body, line) = run(&e, &event);
        assert_eq!((status, line["reason"].as_str()), (200, Some("ok")), "{body}");
        let answer: Value = serde_json::from_str(&body[body.find("({").unwrap() + 1..body.len() - 2]).unwrap();
        answer["channel_data"].as_str().unwrap().to_owned()
    };
    let claims = json!({"sub": "u1", "name": "A", "email": "ceo@victim.example", "phone_number": "+15550100"});
    assert_eq!(presence(claims.clone()), r#"{"user_id":"u1","user_info":{"name":"A"}}"#);
    let mut verified = claims.clone();
    verified["email_verified"] = json!("true");
    verified["phone_number_verified"] = json!(true);
    assert_eq!(
        presence(verified),
        r#"{"user_id":"u1","user_info":{"name":"A","email":"ceo@victim.example","phone_number":"+15550100"}}"#
    );
    let mut unflagged = claims;
    unflagged["email_verified"] = json!("false");
    unflagged["phone_number_verified"] = json!("yes");
    assert_eq!(presence(unflagged), r#"{"user_id":"u1","user_info":{"name":"A"}}"#);
}

/// Authorizer mode with `JWT_AUDIENCE`: a Cognito authorizer passes ID tokens
/// of every app client of the pool, so the function checks the audience itself.
#[test]
fn the_authorizer_mode_checks_the_audience() {
    let e = endpoint(&[
        ("AUTH_MODE", "authorizer".into()),
        ("JWT_AUDIENCE", "web-client".into()),
        ("CHANNEL_RULES", "private-*".into()),
    ]);
    let ajax = |claims: Value| {
        let mut event = fixture("apigw-v1-jsonp-cognito-authorizer");
        event["requestContext"]["authorizer"] = json!({ "claims": claims });
        let (status, _, line) = run(&e, &event);
        (status, line["reason"].as_str().unwrap().to_owned())
    };
    let id = |aud: &str| json!({"sub": "user-1", "aud": aud, "token_use": "id"});
    assert_eq!(ajax(id("web-client")).1, "ok");
    assert_eq!(ajax(id("partner-client")).1, "token_wrong_audience");
    let access = |client: &str| json!({"sub": "user-1", "client_id": client, "token_use": "access"});
    assert_eq!(ajax(access("web-client")).1, "ok");
    assert_eq!(ajax(access("partner-client")).1, "token_without_audience");
    // Without JWT_AUDIENCE, as before: any app client's token.
    let open = endpoint(&[
        ("AUTH_MODE", "authorizer".into()),
        ("JWT_AUDIENCE", String::new()),
        ("CHANNEL_RULES", "private-*".into()),
    ]);
    let mut event = fixture("apigw-v1-jsonp-cognito-authorizer");
    event["requestContext"]["authorizer"] = json!({"claims": id("partner-client")});
    assert_eq!(run(&open, &event).2["reason"], "ok");
}

#[test]
fn user_info_over_one_kilobyte_is_refused() {
    let e = endpoint(&[
        ("AUTH_MODE", "authorizer".into()),
        ("JWT_AUDIENCE", String::new()),
        ("USER_INFO_CLAIMS", "name".into()),
    ]);
    let mut event = jsonp_event("presence-room-x", None);
    event["requestContext"]["authorizer"] = json!({"jwt": {"claims": {"sub": "u1", "name": "n".repeat(1100)}}});
    let (status, body, line) = run(&e, &event);
    assert_eq!(status, 200);
    // A presence denial carries the fixed channel_data (README, "Answers to refusals").
    assert_eq!(body, denial("presence-room-x", r#"{"error":"user_info_too_large","status":403,"channel_data":"{}"}"#));
    assert_eq!(line["reason"], "user_info_too_large");
    event["requestContext"]["authorizer"]["jwt"]["claims"]["name"] = Value::from("n".repeat(900));
    assert_eq!(run(&e, &event).2["reason"], "ok");
}

/// An HS256 token over `claims` (issuer, audience and a future `exp` added),
/// signed with the fixtures' `JWT_SECRET`.
fn hs256_with(claims: Value) -> String {
    let t = tokens();
    let mut claims = claims;
    claims["iss"] = t["issuer"].clone();
    claims["aud"] = t["audience"].clone();
    claims["exp"] = json!(4102444800u64);
    hs256_exactly(&claims)
}

/// An HS256 token over exactly `claims`, signed with the fixtures' `JWT_SECRET`.
fn hs256_exactly(claims: &Value) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use hmac::{Hmac, Mac};
    let t = tokens();
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(t["hs_secret"].as_str().unwrap().as_bytes()).unwrap();
    mac.update(message.as_bytes());
    format!("{message}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

/// An e-mail address (or phone number) is an identity only once verified: a
/// user who types a victim's address into their own profile gets nothing.
#[test]
fn an_unverified_email_is_never_an_identity() {
    let e = endpoint(&[("USER_ID_CLAIM", "email".into()), ("CHANNEL_RULES", "private-user-{sub}".into())]);
    let channel = "private-user-victim@example.com";
    for (verified, reason) in [
        (json!(true), "ok"),
        (json!("true"), "ok"),
        (json!(false), "token_identity_unverified"),
        (json!("false"), "token_identity_unverified"),
        (json!(1), "token_identity_unverified"),
        (Value::Null, "token_identity_unverified"),
    ] {
        let mut claims = json!({"sub": "attacker", "email": "victim@example.com"});
        if !verified.is_null() {
            claims["email_verified"] = verified.clone();
        }
        let token = hs256_with(claims);
        let (_, body, line) = run(&e, &jsonp_event(channel, Some(&token)));
        assert_eq!(line["reason"], reason, "{verified}");
        if reason != "ok" {
            assert_eq!(body, denial(channel, r#"{"error":"unauthenticated","status":401}"#), "{verified}");
        }
        let (_, body, line) = run(&e, &signin_event(&token));
        assert_eq!(line["reason"], reason, "signin, {verified}");
        assert_eq!(body.contains("user_data"), reason == "ok", "signin, {verified}");
    }
    // The same for a phone number.
    let e = endpoint(&[("USER_ID_CLAIM", "phone_number".into()), ("CHANNEL_RULES", "private-user-{sub}".into())]);
    let unverified = hs256_with(json!({"sub": "a", "phone_number": "441234567890", "phone_number_verified": false}));
    assert_eq!(
        run(&e, &jsonp_event("private-user-441234567890", Some(&unverified))).2["reason"],
        "token_identity_unverified"
    );
    // Through an API Gateway authorizer (Cognito passes claims as strings).
    let e = endpoint(&[
        ("AUTH_MODE", "authorizer".into()),
        ("JWT_AUDIENCE", String::new()),
        ("USER_ID_CLAIM", "email".into()),
        ("CHANNEL_RULES", "private-user-{sub}".into()),
    ]);
    for (verified, reason) in [("true", "ok"), ("false", "authorizer_identity_unverified")] {
        let mut v1 = fixture("apigw-v1-jsonp-private");
        v1["multiValueQueryStringParameters"]["channel_name"] = json!([channel]);
        v1["requestContext"]["authorizer"] =
            json!({"claims": {"sub": "attacker", "email": "victim@example.com", "email_verified": verified}});
        assert_eq!(run(&e, &v1).2["reason"], reason, "{verified}");
    }
}

/// A `{email}` placeholder reads only a verified address; a rule that would
/// have matched through an unverified one is refused with its own reason.
#[test]
fn an_email_placeholder_reads_only_a_verified_address() {
    let e = endpoint(&[("CHANNEL_RULES", "private-inbox-{email} private-user-{sub}".into())]);
    let channel = "private-inbox-victim@example.com";
    let verified = hs256_with(json!({"sub": "u", "email": "victim@example.com", "email_verified": true}));
    assert_eq!(run(&e, &jsonp_event(channel, Some(&verified))).2["reason"], "ok");
    let unverified = hs256_with(json!({"sub": "u", "email": "victim@example.com", "email_verified": "false"}));
    let (_, body, line) = run(&e, &jsonp_event(channel, Some(&unverified)));
    assert_eq!(line["reason"], "channel_claim_unverified");
    assert_eq!(body, denial(channel, r#"{"error":"forbidden","status":403}"#));
    // Other channels of the same user are unaffected, and another address is a plain refusal.
    assert_eq!(run(&e, &jsonp_event("private-user-u", Some(&unverified))).2["reason"], "ok");
    assert_eq!(
        run(&e, &jsonp_event("private-inbox-other@example.com", Some(&unverified))).2["reason"],
        "channel_not_allowed"
    );
}

/// Who the token is for is checked before whether it is still valid: an
/// expired token for another audience or issuer is `unauthenticated` (its
/// sender learns nothing about the signature from a `token_expired`).
#[test]
fn issuer_and_audience_come_before_expiry() {
    let t = tokens();
    let e = endpoint(&[]);
    let (iss, aud) = (t["issuer"].clone(), t["audience"].clone());
    for (claims, reason, code) in [
        (json!({"sub": "user-3", "iss": iss, "aud": aud, "exp": 1600000000}), "token_expired", "token_expired"),
        (
            json!({"sub": "user-3", "iss": iss, "aud": "another-app", "exp": 1600000000}),
            "token_wrong_audience",
            "unauthenticated",
        ),
        (
            json!({"sub": "user-3", "iss": "https://elsewhere.example", "aud": aud, "exp": 1600000000}),
            "token_wrong_issuer",
            "unauthenticated",
        ),
        (
            json!({"sub": "user-3", "iss": iss, "aud": aud, "token_use": "refresh", "exp": 1600000000}),
            "token_wrong_use",
            "unauthenticated",
        ),
    ] {
        let (_, body, line) = run(&e, &jsonp_event("private-user-user-3", Some(&hs256_exactly(&claims))));
        assert_eq!(line["reason"], reason, "{claims}");
        assert_eq!(body, denial("private-user-user-3", &format!(r#"{{"error":"{code}","status":401}}"#)), "{claims}");
    }
}

/// A wrong issuer or audience is logged with the expected and the received
/// value (neither is a secret): the operator sees the typo at once.
#[test]
fn wrong_issuer_and_audience_log_both_values() {
    let e = endpoint(&[]);
    for (claims, expected, received) in [
        (
            json!({"sub": "u", "iss": "https://elsewhere.example"}),
            tokens()["issuer"].as_str().unwrap().to_owned(),
            "https://elsewhere.example",
        ),
        (json!({"sub": "u", "aud": "other-client"}), tokens()["audience"].as_str().unwrap().to_owned(), "other-client"),
    ] {
        let mut full = json!({"iss": tokens()["issuer"], "aud": tokens()["audience"], "exp": 4102444800u64});
        full.as_object_mut().unwrap().extend(claims.as_object().unwrap().clone());
        let event = jsonp_event("private-user-u", Some(&hs256_exactly(&full)));
        let (_, log) = crate::helpers::handle_logged(&e, &serde_json::to_vec(&event).unwrap(), tracing::Level::INFO);
        let line = log.lines().find(|l| l.contains("expected")).unwrap_or_else(|| panic!("{log}"));
        let line: Value = serde_json::from_str(line).unwrap();
        assert_eq!(line["expected"], expected.as_str(), "{log}");
        assert_eq!(line["received"], format!("\"{received}\""), "{log}");
    }
}

/// A key of the wrong family, or pinned to another algorithm, never checks a
/// token, even when its `kid` matches (real PyJWT tokens through the handler).
#[test]
fn keys_of_the_wrong_family_or_algorithm_are_never_used() {
    let t = tokens();
    let key = |kid: &str| t["jwks"]["keys"].as_array().unwrap().iter().find(|k| k["kid"] == kid).unwrap().clone();
    let jwks = |keys: Vec<Value>| json!({ "keys": keys }).to_string();
    // The RSA key published under the EC key's kid (and the EC key gone).
    let mut rsa_as_ec = key("rsa-1");
    rsa_as_ec["kid"] = json!("ec-1");
    rsa_as_ec.as_object_mut().unwrap().remove("alg");
    let e = endpoint(&[("JWT_JWKS", jwks(vec![rsa_as_ec]))]);
    assert_eq!(
        run(&e, &jsonp_event("private-user-user-2", Some(&token("valid_es256")))).2["reason"],
        "token_unknown_key"
    );
    // The EC key published under the RSA key's kid.
    let mut ec_as_rsa = key("ec-1");
    ec_as_rsa["kid"] = json!("rsa-1");
    ec_as_rsa.as_object_mut().unwrap().remove("alg");
    let e = endpoint(&[("JWT_JWKS", jwks(vec![ec_as_rsa]))]);
    assert_eq!(
        run(&e, &jsonp_event("private-user-user-1", Some(&token("valid_rs256")))).2["reason"],
        "token_unknown_key"
    );
    // The RSA key pinned to RS384 (and to PS256): an RS256 token is not checked with it.
    for alg in ["RS384", "PS256"] {
        let mut pinned = key("rsa-1");
        pinned["alg"] = json!(alg);
        let e = endpoint(&[("JWT_JWKS", jwks(vec![pinned, key("ec-1")]))]);
        assert_eq!(
            run(&e, &jsonp_event("private-user-user-1", Some(&token("valid_rs256")))).2["reason"],
            "token_unknown_key",
            "{alg}"
        );
        assert_eq!(
            run(&e, &jsonp_event("private-user-user-2", Some(&token("valid_es256")))).2["reason"],
            "ok",
            "{alg}"
        );
    }
}

#[test]
fn names_with_curly_quotes_and_dashes_survive_jsonp() {
    // ’ “ ” – — … € start with 0xE2 like U+2028/U+2029; they pass through the
    // script unchanged, U+2028 is escaped, and the value pusher-js reads is what was signed.
    let t = tokens();
    let name = "O’Brien – “Bob” — … €\u{2028}x";
    let claims = json!({
        "sub": "user-5", "name": name, "org": "acme",
        "iss": t["issuer"], "aud": t["audience"], "exp": 4_102_444_800u64,
    });
    let token = hs256_exactly(&claims);
    let e = endpoint(&[]);
    let prefix = "/**/typeof Pusher.auth_callbacks['1'] === 'function' && Pusher.auth_callbacks['1'](";
    for (event, data_field, message_prefix) in [
        (jsonp_event("presence-room-lobby", Some(&token)), "channel_data", "1.2:presence-room-lobby:"),
        (signin_event(&token), "user_data", "1.2::user::"),
    ] {
        let (status, body, line) = run(&e, &event);
        assert_eq!((status, line["reason"].as_str()), (200, Some("ok")), "{body}");
        assert!(body.starts_with(prefix) && body.ends_with(");"), "{body}");
        assert!(body.contains("O’Brien – “Bob” — … €\\u2028x"), "{body}");
        assert!(!body.contains('\u{2028}'), "{body}");
        let answer: Value = serde_json::from_str(&body[prefix.len()..body.len() - 2]).unwrap();
        let data = answer[data_field].as_str().unwrap();
        let info: Value = serde_json::from_str(data).unwrap();
        assert_eq!(info["user_info"]["name"], name, "{data}");
        assert_eq!(answer["auth"], signature(&format!("{message_prefix}{data}")));
    }
}
