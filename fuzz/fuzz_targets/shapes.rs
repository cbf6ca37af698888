//! One request, several event shapes: the fuzzer picks query parameters
//! (names, values, repeats); the target builds the HTTP API v2 event
//! (`rawQueryString`, percent-encoded as pusher-js does), the REST v1 event
//! (`multiValueQueryStringParameters`, decoded and grouped by name as API
//! Gateway does) and, when no name repeats, the mapping-template event; for
//! AJAX, the same form as a text body (v2) and as a base64 body (v1).
//! Oracles: every shape gives the same status and byte-identical body (a
//! mapping-template refusal carries the same body as its error message);
//! a signed answer's signature covers exactly the socket id, channel and
//! data returned; plus every per-event oracle.
#![no_main]

use arbitrary::Arbitrary;
use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use pusher_auth_lambda::testing::MAX_INPUT_BYTES;
use pusher_auth_lambda::testing::MAX_PARAMS;

#[derive(Debug, Arbitrary)]
enum Key {
    Callback,
    SocketId,
    ChannelName,
    Token,
    Other(String),
}

#[derive(Debug, Arbitrary)]
enum Val {
    Callback(u32),
    Socket(u32, u32),
    Channel(u8, String),
    Text(String),
}

#[derive(Debug, Arbitrary)]
struct Input {
    user_auth: bool,
    jwt: bool,
    post: bool,
    pairs: Vec<(Key, Val)>,
}

fn q(text: &str) -> String {
    serde_json::to_string(text).unwrap()
}

fn pairs(input: &Input) -> Vec<(String, String)> {
    input
        .pairs
        .iter()
        .map(|(k, v)| {
            let key = match k {
                Key::Callback => "callback".to_owned(),
                Key::SocketId => "socket_id".to_owned(),
                Key::ChannelName => "channel_name".to_owned(),
                Key::Token => "token".to_owned(),
                Key::Other(s) => s.clone(),
            };
            let value = match v {
                Val::Callback(n) => format!("Pusher.auth_callbacks['{}']", n % 100_000),
                Val::Socket(a, b) => format!("{a}.{b}"),
                Val::Channel(kind, rest) => {
                    let prefix = ["private-", "presence-", "private-encrypted-", ""][usize::from(*kind % 4)];
                    format!("{prefix}{rest}")
                }
                Val::Text(s) => s.clone(),
            };
            (key, value)
        })
        .collect()
}

fn encoded(pairs: &[(String, String)]) -> String {
    let parts: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", fuzz_support::encode_component(k), fuzz_support::encode_component(v)))
        .collect();
    parts.join("&")
}

/// `{"name":["v1","v2"],…}` in order of first appearance (or null).
fn grouped(pairs: &[(String, String)]) -> (String, String, bool) {
    let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
    for (k, v) in pairs {
        match groups.iter_mut().find(|(name, _)| name == k) {
            Some((_, values)) => values.push(v),
            None => groups.push((k, vec![v])),
        }
    }
    if groups.is_empty() {
        return ("null".into(), "null".into(), true);
    }
    let multi: Vec<String> = groups
        .iter()
        .map(|(k, vs)| format!("{}:[{}]", q(k), vs.iter().map(|v| q(v)).collect::<Vec<_>>().join(",")))
        .collect();
    let single: Vec<String> = groups.iter().map(|(k, vs)| format!("{}:{}", q(k), q(vs[vs.len() - 1]))).collect();
    let unique = groups.len() == pairs.len();
    (format!("{{{}}}", multi.join(",")), format!("{{{}}}", single.join(",")), unique)
}

fuzz_target!(|input: Input| {
    let pairs = pairs(&input);
    let raw = encoded(&pairs);
    if raw.len() > MAX_INPUT_BYTES || pairs.len() > MAX_PARAMS {
        // Past the limits the shapes may name different first refusals (REST
        // v1 has lost the parameters' order); each is still checked alone.
        return;
    }
    let path = if input.user_auth { "/pusher/user-auth" } else { "/pusher/auth" };
    let endpoint = if input.jwt { fuzz_support::jwt_endpoint() } else { fuzz_support::demo_endpoint() };
    let (multi, single, unique) = grouped(&pairs);
    let mut events = Vec::new();
    if input.post {
        let form = "application/x-www-form-urlencoded";
        let b64 = base64::engine::general_purpose::STANDARD.encode(&raw);
        events.push(format!(
            r#"{{"version":"2.0","rawPath":{p},"rawQueryString":"","headers":{{"content-type":"{form}","origin":"{o}"}},"requestContext":{{"http":{{"method":"POST"}},"requestId":"r"}},"body":{b},"isBase64Encoded":false}}"#,
            p = q(path), o = fuzz_support::ORIGIN, b = q(&raw)
        ));
        events.push(format!(
            r#"{{"resource":"/pusher/auth","path":{p},"httpMethod":"POST","headers":{{"Content-Type":"{form}; charset=UTF-8","Origin":"{o}"}},"multiValueQueryStringParameters":null,"requestContext":{{"requestId":"r"}},"body":"{b64}","isBase64Encoded":true}}"#,
            p = q(path), o = fuzz_support::ORIGIN
        ));
    } else {
        events.push(format!(
            r#"{{"version":"2.0","rawPath":{p},"rawQueryString":{r},"headers":{{}},"requestContext":{{"http":{{"method":"GET"}},"requestId":"r"}},"isBase64Encoded":false}}"#,
            p = q(path), r = q(&raw)
        ));
        events.push(format!(
            r#"{{"resource":"/pusher/auth","path":{p},"httpMethod":"GET","headers":{{}},"queryStringParameters":{single},"multiValueQueryStringParameters":{multi},"requestContext":{{"requestId":"r"}},"body":null,"isBase64Encoded":false}}"#,
            p = q(path)
        ));
        if unique {
            events.push(format!(
                r#"{{"body":"","params":{{"path":{{}},"querystring":{single},"header":{{}}}},"stage-variables":{{}},"context":{{"http-method":"GET","resource-path":{p},"stage":"test","request-id":"r"}}}}"#,
                p = q(path)
            ));
        }
    }
    let answers: Vec<_> = events
        .iter()
        .map(|e| fuzz_support::check_event(endpoint, e.as_bytes()).unwrap_or_else(|| panic!("not an HTTP event: {e}")))
        .collect();
    for (answer, event) in answers.iter().zip(&events).skip(1) {
        assert_eq!(
            (answer.status, &answer.body),
            (answers[0].status, &answers[0].body),
            "shapes disagree:\n{}\n{}",
            events[0],
            event
        );
    }
    // The signature, from the parameters the fuzzer chose.
    if let Some(json) = fuzz_support::answer_json(&answers[0], None) {
        if json.get("auth").is_some() {
            let value = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
            let socket_id = value("socket_id").expect("signed without a socket id");
            fuzz_support::check_signed(&json, fuzz_support::KEY, socket_id, value("channel_name"));
        }
    }
});
