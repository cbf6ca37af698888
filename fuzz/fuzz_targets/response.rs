//! JSON and JSONP answers (src/web/response.rs,
//! src/aws/reply.rs) of arbitrary text, through the whole endpoint: a user
//! whose `name` and `org` claims (its `user_info`) are any text, any
//! callback, socket id and channel, asked over JSONP in each payload format
//! and over AJAX.
//! Oracles: a JSONP body is exactly one call of the requested callback whose
//! argument is JSON without `<`, `>`, `&`, U+2028, U+2029, and gives back the
//! claims sent, unchanged; it carries the same fields as the AJAX answer to the
//! same request; a channel (signin) denial is the fixed script whose arguments
//! are the validated socket id (and channel), the callback's number and the
//! error object; the REST, HTTP API and mapping-template events give the same
//! body; plus every per-event oracle.
#![no_main]

use arbitrary::Arbitrary;
use fuzz_support::{encode_component, is_channel_char, is_socket_id, ORIGIN};
use libfuzzer_sys::fuzz_target;
use pusher_auth_lambda::testing::{CHANNEL_DENIAL_HEAD, MAX_INPUT_BYTES, SIGNIN_DENIAL_HEAD};
use pusher_auth_lambda::ChannelName;
use serde_json::{json, Value};

#[derive(Debug, Arbitrary)]
struct Input {
    name: String,
    org: String,
    callback: String,
    callback_number: u32,
    socket_id: String,
    channel: String,
    signin: bool,
}

fn q(text: &str) -> String {
    serde_json::to_string(text).unwrap()
}

/// The same GET request as an HTTP API (2.0), a REST proxy (1.0) and a mapping-template event.
fn get_events(path: &str, pairs: &[(&str, &str)]) -> [String; 3] {
    let raw: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={}", encode_component(v))).collect();
    let multi: Vec<String> = pairs.iter().map(|(k, v)| format!("{}:[{}]", q(k), q(v))).collect();
    let single: Vec<String> = pairs.iter().map(|(k, v)| format!("{}:{}", q(k), q(v))).collect();
    let (p, raw, multi, single) = (q(path), q(&raw.join("&")), multi.join(","), single.join(","));
    [
        format!(
            r#"{{"version":"2.0","rawPath":{p},"rawQueryString":{raw},"headers":{{}},"requestContext":{{"http":{{"method":"GET"}},"requestId":"r"}},"isBase64Encoded":false}}"#
        ),
        format!(
            r#"{{"resource":"/pusher/auth","path":{p},"httpMethod":"GET","headers":{{}},"multiValueQueryStringParameters":{{{multi}}},"requestContext":{{"requestId":"r"}},"body":null,"isBase64Encoded":false}}"#
        ),
        format!(
            r#"{{"body":"","params":{{"path":{{}},"querystring":{{{single}}},"header":{{}}}},"stage-variables":{{}},"context":{{"http-method":"GET","resource-path":{p},"stage":"test","request-id":"r"}}}}"#
        ),
    ]
}

/// The same request over AJAX: a form POST from the allowed origin (HTTP API).
fn post_event(path: &str, pairs: &[(&str, &str)]) -> String {
    let form: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={}", encode_component(v))).collect();
    let (p, o, b) = (q(path), ORIGIN, q(&form.join("&")));
    format!(
        r#"{{"version":"2.0","rawPath":{p},"rawQueryString":"","headers":{{"content-type":"application/x-www-form-urlencoded","origin":"{o}"}},"requestContext":{{"http":{{"method":"POST"}},"requestId":"r"}},"body":{b},"isBase64Encoded":false}}"#
    )
}

/// The claims a signed answer hands over as `user_info`, if it signed any.
fn user_info(answer: &Value) -> Option<Value> {
    let data = answer.get("channel_data").or_else(|| answer.get("user_data"))?.as_str()?;
    serde_json::from_str::<Value>(data).expect("signed data is JSON").get("user_info").cloned()
}

/// One request, every shape and both transports, with every oracle.
fn check(input: &Input, token: &str, callback: &str, socket_id: &str, channel: Option<&str>) {
    let path = if channel.is_some() { "/pusher/auth" } else { "/pusher/user-auth" };
    let mut pairs = vec![("socket_id", socket_id), ("token", token)];
    pairs.extend(channel.map(|c| ("channel_name", c)));
    let post = post_event(path, &pairs);
    pairs.push(("callback", callback));
    let endpoint = fuzz_support::jwt_endpoint();
    let answers = get_events(path, &pairs).map(|e| fuzz_support::check_event(endpoint, e.as_bytes()).expect("HTTP"));
    // Past the input limit the shapes may name different first refusals (as in `shapes`).
    let within = pairs.iter().map(|(k, v)| k.len() + encode_component(v).len() + 2).sum::<usize>() <= MAX_INPUT_BYTES;
    for answer in answers[1..].iter().filter(|_| within) {
        assert_eq!((answer.status, &answer.body), (answers[0].status, &answers[0].body), "the shapes disagree");
    }
    let body = &answers[0].body;
    if !fuzz_support::is_callback(callback) || !body.starts_with("/**/") {
        return;
    }
    let value = fuzz_support::check_jsonp(body, Some(callback));
    // A denial names the socket id and channel it was asked for, as given.
    let channel_valid = channel.is_none_or(|c| ChannelName::parse(c).is_ok());
    if is_socket_id(socket_id) && channel_valid {
        let head = if channel.is_some() { CHANNEL_DENIAL_HEAD } else { SIGNIN_DENIAL_HEAD };
        if let Some(args) = body.strip_prefix(head) {
            let expected = match channel {
                Some(c) => format!("{},{},", q(socket_id), q(c)),
                None => format!("{},", q(socket_id)),
            };
            assert!(args.starts_with(&expected), "{args}");
        }
    }
    if value.get("auth").is_none() {
        return;
    }
    // A presence channel's `channel_data` and a signin's `user_data` carry the claims.
    let carried = channel.is_none_or(|c| c.starts_with("presence-"));
    let expected = carried.then(|| json!({"name": input.name, "org": input.org}));
    assert_eq!(user_info(&value), expected, "the claims, unchanged");
    // AJAX: the same fields, as JSON.
    let ajax = fuzz_support::check_event(endpoint, post.as_bytes()).expect("HTTP");
    assert_eq!(ajax.status, 200, "{}", ajax.body);
    assert_eq!(serde_json::from_str::<Value>(&ajax.body).unwrap(), value, "JSONP and AJAX disagree");
}

fuzz_target!(|input: Input| {
    let claims = json!({"sub": "u1", "exp": 4102444800u64, "name": input.name, "org": input.org});
    let token = fuzz_support::hs256_token(br#"{"alg":"HS256","typ":"JWT"}"#, claims.to_string().as_bytes());
    let numbered = format!("Pusher.auth_callbacks['{}']", input.callback_number % 1_000_000_000);
    // The socket id and channel: as given, and a valid pair made from the input (a prefix the
    // rules allow, or not, and the channel characters of the text), so every run reaches a
    // signature or a denial script.
    let org: String = input.org.chars().filter(|c| c.is_ascii() && is_channel_char(*c as u8)).collect();
    let prefixes =
        ["private-open-".to_owned(), format!("presence-org-{org}-"), "private-encrypted-".into(), "private-".into()];
    let prefix = &prefixes[input.callback_number as usize % 4];
    let mut made: String =
        prefix.chars().chain(input.channel.chars().filter(|c| c.is_ascii() && is_channel_char(*c as u8))).collect();
    made.truncate(164);
    let socket = format!("{}.{}", input.callback_number, input.callback_number / 7);
    for callback in [input.callback.as_str(), numbered.as_str()] {
        for (socket_id, channel) in
            [(input.socket_id.as_str(), input.channel.as_str()), (socket.as_str(), made.as_str())]
        {
            check(&input, &token, callback, socket_id, (!input.signin).then_some(channel));
        }
    }
});
