//! docs/troubleshooting.md, row by row: each function-side mistake made on
//! purpose, through the real handler, gives the answer pusher-js gets (the
//! status of its `AuthError`) and the log reason the row names. The rows the
//! function cannot see (a key or secret that is not the app's, a cluster
//! mismatch) are reproduced by the browser suite against sockudo.

use crate::helpers::{fixture, token, tokens, KEY, SECRET};
use pusher_auth_lambda::Endpoint;
use serde_json::{json, Value};

/// The deployed shape: RS256/ES256 from a JWKS, issuer and audience, claim rules.
fn vars() -> Vec<(String, String)> {
    let t = tokens();
    [
        ("PUSHER_KEY", KEY.to_owned()),
        ("PUSHER_SECRET", SECRET.to_owned()),
        ("AUTH_MODE", "jwt".to_owned()),
        ("JWT_ALGORITHMS", "RS256,ES256".to_owned()),
        ("JWT_JWKS", t["jwks"].to_string()),
        ("JWT_ISSUER", t["issuer"].as_str().unwrap().to_owned()),
        ("JWT_AUDIENCE", t["audience"].as_str().unwrap().to_owned()),
        ("USER_INFO_CLAIMS", "name".to_owned()),
        ("CHANNEL_RULES", "private-user-{sub} presence-room-* private-encrypted-room-*".to_owned()),
        ("ALLOWED_ORIGINS", "https://app.example.com".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

fn with(changes: &[(&str, &str)]) -> Endpoint {
    let mut all = vars();
    all.extend(changes.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    crate::helpers::endpoint_from(&all)
}

/// An AJAX request (what pusher-js's default transport sends) from the allowed origin.
fn ajax(channel: &str, token: Option<&str>) -> Value {
    let mut event = fixture("apigw-v2-ajax-private");
    event["body"] = Value::from(format!("socket_id=1.2&channel_name={channel}"));
    event["isBase64Encoded"] = Value::from(false);
    event["headers"]["origin"] = Value::from("https://app.example.com");
    if let Some(token) = token {
        event["headers"]["authorization"] = Value::from(format!("Bearer {token}"));
    }
    event
}

/// The status pusher-js sees, the body and the request's log reason.
fn run(endpoint: &Endpoint, event: &Value) -> (u16, String, String) {
    let (out, log) = crate::helpers::handle_logged(endpoint, &serde_json::to_vec(event).unwrap(), tracing::Level::INFO);
    let answer: Value = serde_json::from_str(&out.unwrap()).unwrap();
    let line = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| !l["route"].is_null())
        .unwrap_or_else(|| panic!("no request line: {log}"));
    (
        answer["statusCode"].as_u64().unwrap() as u16,
        answer["body"].as_str().unwrap().to_owned(),
        line["reason"].as_str().unwrap().to_owned(),
    )
}

/// The mistake made on purpose: the AJAX status and the log reason (for a
/// configuration mistake, status 0 and the cold start's error).
fn reproduce(mistake: &str) -> Option<(u16, String)> {
    let good = token("valid_rs256");
    let (status, _, reason) = match mistake {
        "wrong-issuer" => run(
            &with(&[("JWT_ISSUER", "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_OTHER")]),
            &ajax("private-user-user-1", Some(&good)),
        ),
        "wrong-audience" => {
            run(&with(&[("JWT_AUDIENCE", "another-app-client")]), &ajax("private-user-user-1", Some(&good)))
        }
        "clock-skew" => run(&with(&[]), &ajax("private-user-user-1", Some(&token("not_yet_valid")))),
        "token-expired" => run(&with(&[]), &ajax("private-user-user-1", Some(&token("expired")))),
        "token-not-sent" => run(&with(&[]), &ajax("private-user-user-1", None)),
        "origin-not-allowed" => {
            let mut event = ajax("private-user-user-1", Some(&good));
            event["headers"]["origin"] = Value::from("https://app.example.com.evil.example");
            let (status, body, reason) = run(&with(&[]), &event);
            (status, body, reason)
        }
        "channel-not-in-rules" => run(&with(&[]), &ajax("private-user-user-2", Some(&good))),
        "unverified-email" => run(
            &with(&[("USER_ID_CLAIM", "email")]),
            &ajax("private-user-ada@example.com", Some(&token("cognito_username"))),
        ),
        "presence-without-user-info" => {
            let (status, body, reason) =
                run(&with(&[("USER_INFO_CLAIMS", "nickname")]), &ajax("presence-room-1", Some(&good)));
            let answer: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(answer["channel_data"], r#"{"user_id":"user-1"}"#, "{body}");
            (status, body, reason)
        }
        "encrypted-without-master-key" => run(&with(&[]), &ajax("private-encrypted-room-1", Some(&good))),
        "stage-variable-override" => {
            let mut event = ajax("private-user-user-1", Some(&good));
            event["stageVariables"] = json!({"PUSHER_KEY": "not a key"});
            run(&with(&[]), &event)
        }
        "rules-with-commas" => {
            let mut all = vars();
            all.push(("CHANNEL_RULES".into(), "private-*,presence-*".into()));
            let lookup = |name: &str| all.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.clone());
            let error = pusher_auth_lambda::Settings::from_lookup(lookup).unwrap_err().to_string();
            return Some((0, error));
        }
        _ => return None,
    };
    Some((status, reason))
}

#[test]
fn every_function_side_row_is_what_the_function_does() {
    let doc = include_str!("../../docs/troubleshooting.md");
    let start = doc.find("<!-- troubleshooting -->").unwrap();
    let end = doc.find("<!-- /troubleshooting -->").unwrap();
    let server_side = ["key-typo", "wrong-secret", "cluster-mismatch"];
    let e2e: String = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e"))
        .unwrap()
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.to_string_lossy().ends_with(".test.mjs"))
        .map(|path| std::fs::read_to_string(path).unwrap())
        .collect();
    let mut rows = 0;
    for row in doc[start..end].lines().skip(3).filter(|l| l.starts_with('|')) {
        let cells: Vec<&str> = row.trim_matches('|').split(" | ").map(str::trim).collect();
        assert_eq!(cells.len(), 4, "{row}");
        let mistake = cells[0].split('`').nth(1).unwrap();
        rows += 1;
        if server_side.contains(&mistake) {
            assert!(e2e.contains(&format!("troubleshooting: {mistake}")), "{mistake}: no browser-suite reproduction");
            continue;
        }
        let (status, reason) = reproduce(mistake).unwrap_or_else(|| panic!("{mistake}: no reproduction"));
        if mistake == "rules-with-commas" {
            assert!(reason.starts_with("configuration error: CHANNEL_RULES"), "{reason}");
            assert!(cells[2].contains("configuration error: CHANNEL_RULES"), "{row}");
            continue;
        }
        let logged = cells[2].split('`').nth(1).unwrap();
        assert_eq!(reason, logged, "{mistake}: the row says {logged}");
        assert!(
            cells[1].contains(&format!("status {status}")) || status == 403 && mistake == "origin-not-allowed",
            "{mistake}: status {status}; the row says {}",
            cells[1]
        );
    }
    assert!(rows >= 14, "{rows} rows");
}
