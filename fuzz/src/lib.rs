//! Shared pieces of the fuzz targets: the endpoints under test and the
//! oracles every answer must satisfy (see docs/reliability.md).

use std::collections::HashMap;
use std::future::Future;
use std::sync::OnceLock;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use pusher_auth_lambda::handle_bytes;
use pusher_auth_lambda::testing::{CHANNEL_DENIAL_HEAD, SIGNIN_DENIAL_HEAD};
use pusher_auth_lambda::ChannelName;
use pusher_auth_lambda::Endpoint;
use pusher_auth_lambda::Settings;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The app key every answer is signed for.
pub const KEY: &str = "3e294278b9dd9a0ab486";
/// The app secret (a test value, as in the unit tests).
pub const SECRET: &str = "5b31d8b6ca557775afc4";
/// The encryption master key, base64 (32 bytes).
pub const MASTER_KEY: &str = "bmsybDV1aHF1b2s0dm16dm91aWR2c3FrcWMxaGU0dnc=";
/// The HS256 secret the jwt-mode endpoint trusts and the token target signs with.
pub const JWT_SECRET: &str = "fuzz-test-hs256-secret-0123456789abcdef";
/// The only origin allowed to make AJAX requests.
pub const ORIGIN: &str = "https://app.example.com";

/// The endpoint `vars` configure (a later entry wins over an earlier one of the same name).
fn endpoint(vars: &[(&str, &str)]) -> Endpoint {
    try_endpoint(vars).expect("the fuzz configuration is valid")
}

fn try_endpoint(vars: &[(&str, &str)]) -> Option<Endpoint> {
    let lookup = |name: &str| vars.iter().rev().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned());
    Some(Endpoint::new(Settings::from_lookup(lookup).ok()?))
}

const COMMON: [(&str, &str); 5] = [
    ("PUSHER_KEY", KEY),
    ("PUSHER_SECRET", SECRET),
    ("PUSHER_ENCRYPTION_MASTER_KEY_BASE64", MASTER_KEY),
    ("ALLOWED_ORIGINS", ORIGIN),
    ("USER_INFO_CLAIMS", "name,org"),
];

/// `AUTH_MODE=demo`, every private, presence and encrypted channel allowed.
pub fn demo_endpoint() -> &'static Endpoint {
    static CELL: OnceLock<Endpoint> = OnceLock::new();
    CELL.get_or_init(|| {
        let mut vars = COMMON.to_vec();
        vars.extend([("AUTH_MODE", "demo"), ("CHANNEL_RULES", "private-* presence-* private-encrypted-*")]);
        endpoint(&vars)
    })
}

/// `AUTH_MODE=jwt` with HS256 and [`JWT_SECRET`], rules with placeholders.
pub fn jwt_endpoint() -> &'static Endpoint {
    static CELL: OnceLock<Endpoint> = OnceLock::new();
    CELL.get_or_init(|| {
        let mut vars = COMMON.to_vec();
        vars.extend([
            ("AUTH_MODE", "jwt"),
            ("JWT_ALGORITHMS", "HS256"),
            ("JWT_SECRET", JWT_SECRET),
            ("CHANNEL_RULES", "private-user-{sub} presence-org-{org}-* private-encrypted-* private-open-*"),
        ]);
        endpoint(&vars)
    })
}

/// `AUTH_MODE=demo` with `CHANNEL_RULES=rules` and no `user_info` (so a presence channel's
/// `channel_data` never fails), or `None` when the rules do not parse.
pub fn policy_endpoint(rules: &str) -> Option<Endpoint> {
    let mut vars = COMMON.to_vec();
    vars.extend([("AUTH_MODE", "demo"), ("CHANNEL_RULES", rules), ("USER_INFO_CLAIMS", "")]);
    try_endpoint(&vars)
}

/// Runs a future that never waits on I/O (no remote JWKS, no Secrets Manager here).
pub fn block_on<F: Future>(future: F) -> F::Output {
    thread_local! {
        static RT: tokio::runtime::Runtime =
            tokio::runtime::Builder::new_current_thread().build().expect("a runtime");
    }
    RT.with(|rt| rt.block_on(future))
}

/// What an invocation returned, from the handler's result: `Ok` with the payload's JSON text,
/// `Err` with a refusal's `errorMessage`, or `None` for an event that is not an HTTP request.
#[macro_export]
macro_rules! outcome {
    ($result:expr) => {
        match $result {
            Ok(answer) => Some(Ok(serde_json::to_string(&answer).expect("the answer serializes"))),
            Err(error) if error.error_type == "Refusal" => Some(Err(error.error_message)),
            Err(_) => None,
        }
    };
}

/// The payload of a successful invocation, or the `errorMessage` of a refused one.
pub type Outcome = Result<String, String>;

/// One event through the real handler.
pub fn handle(endpoint: &Endpoint, event: &[u8]) -> Option<Outcome> {
    outcome!(block_on(handle_bytes(endpoint, event, "fuzz-invocation")))
}

/// What an invocation answered, reduced to what a client sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// HTTP status (for a mapping-template refusal, the status in the error body).
    pub status: u16,
    /// `Content-Type`, if any.
    pub content_type: Option<String>,
    /// The body.
    pub body: String,
}

/// Checks an invocation's outcome is well formed and returns the answer in it.
pub fn answer_of(outcome: &Outcome) -> Answer {
    match outcome {
        Ok(json) => {
            let value: Value = serde_json::from_str(json).expect("the payload is JSON");
            match value {
                // Mapping template success: the body as a JSON string (the script or JSON).
                Value::String(body) => {
                    let content_type =
                        if body.starts_with("/**/") { "application/javascript" } else { "application/json" };
                    Answer { status: 200, content_type: Some(content_type.into()), body }
                }
                Value::Object(map) => {
                    let status = map["statusCode"].as_u64().expect("statusCode") as u16;
                    let headers = map["headers"].as_object().expect("headers");
                    for (name, v) in headers {
                        let v = v.as_str().expect("header values are strings");
                        assert!(!v.contains(['\r', '\n']), "header {name} has a line break: {v:?}");
                    }
                    assert_eq!(headers.get("X-Content-Type-Options").and_then(Value::as_str), Some("nosniff"));
                    let content_type = headers.get("Content-Type").and_then(Value::as_str).map(String::from);
                    let body = map["body"].as_str().expect("body").to_owned();
                    assert_eq!(map["isBase64Encoded"], Value::Bool(false));
                    Answer { status, content_type, body }
                }
                other => panic!("unexpected payload {other}"),
            }
        }
        Err(message) => {
            let value: Value = serde_json::from_str(message).expect("the error message is JSON");
            let status = value["status"].as_u64().expect("status") as u16;
            assert!(value["error"].is_string());
            assert!(status >= 300, "a mapping-template failure for status {status}");
            Answer { status, content_type: Some("application/json".into()), body: message.clone() }
        }
    }
}

/// A socket id as Pusher issues them: two runs of 1–20 ASCII digits joined by a dot.
pub fn is_socket_id(text: &str) -> bool {
    let digits = |s: &str| (1..=20).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    text.split_once('.').is_some_and(|(a, b)| digits(a) && digits(b))
}

/// The only JSONP callback ever written into a script: `Pusher.auth_callbacks['N']`, N of 1–9
/// ASCII digits.
pub fn is_callback(text: &str) -> bool {
    let number = text.strip_prefix("Pusher.auth_callbacks['").and_then(|r| r.strip_suffix("']"));
    number.is_some_and(|n| (1..=9).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_digit()))
}

/// A character Pusher allows in a channel name: `[A-Za-z0-9_\-=@,.;]`.
pub fn is_channel_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'=' | b'@' | b',' | b'.' | b';')
}

const JSONP_HEAD: &str = "/**/typeof ";
const JSONP_MID: &str = " === 'function' && ";

/// The JSONP oracle: `body` is exactly one call of `callback` (when given, else
/// of whichever sound callback it names) whose argument is JSON free of `<`,
/// `>`, `&`, U+2028 and U+2029, or the denial of a signin (socket id,
/// callback number, error object) or of one channel: the fixed
/// script text followed by exactly four JSON arguments, free of the same
/// characters: a valid socket id, a valid channel name, the number of
/// `callback` and a fixed error object (`error`, `status`, and for a presence
/// channel `"channel_data":"{}"`; never `auth`). Returns the argument, or the
/// error object.
pub fn check_jsonp(body: &str, callback: Option<&str>) -> Value {
    if let Some(rest) = body.strip_prefix(CHANNEL_DENIAL_HEAD) {
        return check_channel_denial(rest, callback);
    }
    if let Some(rest) = body.strip_prefix(SIGNIN_DENIAL_HEAD) {
        return check_signin_denial(rest, callback);
    }
    // The refusal of user authentication calls no callback at all (so pusher-js
    // sends no unsigned `pusher:signin`): `/**/void {"error":…,"status":…};`.
    if let Some(arg) = body.strip_prefix("/**/void ").and_then(|r| r.strip_suffix(';')) {
        let value: Value = serde_json::from_str(arg).unwrap_or_else(|e| panic!("not JSON ({e}): {arg:?}"));
        assert!(value["error"].is_string() && value["status"].is_u64(), "{arg}");
        assert_eq!(value.as_object().map(|o| o.len()), Some(2), "a fixed error object: {arg}");
        return value;
    }
    let rest = body.strip_prefix(JSONP_HEAD).unwrap_or_else(|| panic!("not a JSONP script: {body:?}"));
    let (cb, rest) = rest.split_once(JSONP_MID).expect("typeof check");
    assert!(is_callback(cb), "unsound callback {cb:?}");
    if let Some(expected) = callback {
        assert_eq!(cb, expected);
    }
    let arg = rest.strip_prefix(cb).and_then(|r| r.strip_prefix('(')).and_then(|r| r.strip_suffix(");"));
    let arg = arg.unwrap_or_else(|| panic!("not one call of {cb}: {body:?}"));
    for c in ['<', '>', '&', '\u{2028}', '\u{2029}'] {
        assert!(!arg.contains(c), "{c:?} in a JSONP argument: {arg:?}");
    }
    let value: Value =
        serde_json::from_str(arg).unwrap_or_else(|e| panic!("JSONP argument is not JSON ({e}): {arg:?}"));
    assert!(value.is_object(), "{arg}");
    value
}

/// The arguments of a channel denial (after [`CHANNEL_DENIAL_HEAD`]).
fn check_channel_denial(rest: &str, callback: Option<&str>) -> Value {
    let args = rest.strip_suffix(");").unwrap_or_else(|| panic!("not one call of the denial: {rest:?}"));
    for c in ['<', '>', '&', '\u{2028}', '\u{2029}'] {
        assert!(!args.contains(c), "{c:?} in a denial's arguments: {args:?}");
    }
    let value: Value = serde_json::from_str(&format!("[{args}]"))
        .unwrap_or_else(|e| panic!("a denial's arguments are not JSON ({e}): {args:?}"));
    let [socket_id, channel, number, error] = value.as_array().map(Vec::as_slice).unwrap_or_default() else {
        panic!("a denial has four arguments: {args:?}");
    };
    let socket_id = socket_id.as_str().expect("the socket id is a string");
    assert!(is_socket_id(socket_id), "unsound socket id {socket_id:?}");
    let channel = channel.as_str().expect("the channel is a string");
    assert!(ChannelName::parse(channel).is_ok(), "unsound channel {channel:?}");
    let number = number.as_str().expect("the callback number is a string");
    let cb = format!("Pusher.auth_callbacks['{number}']");
    assert!(is_callback(&cb), "unsound callback number {number:?}");
    if let Some(expected) = callback {
        assert_eq!(cb, expected);
    }
    let object = error.as_object().unwrap_or_else(|| panic!("the error is an object: {args:?}"));
    assert!(error["error"].is_string() && error["status"].is_u64(), "{args}");
    let presence = channel.starts_with("presence-");
    assert_eq!(object.len(), if presence { 3 } else { 2 }, "a fixed error object: {args}");
    if presence {
        assert_eq!(error["channel_data"], "{}", "{args}");
    }
    error.clone()
}

/// The arguments of a signin denial (after [`SIGNIN_DENIAL_HEAD`]): a valid
/// socket id, the number of `callback` and a fixed error object.
fn check_signin_denial(rest: &str, callback: Option<&str>) -> Value {
    let args = rest.strip_suffix(");").unwrap_or_else(|| panic!("not one call of the denial: {rest:?}"));
    for c in ['<', '>', '&', '\u{2028}', '\u{2029}'] {
        assert!(!args.contains(c), "{c:?} in a denial's arguments: {args:?}");
    }
    let value: Value = serde_json::from_str(&format!("[{args}]"))
        .unwrap_or_else(|e| panic!("a denial's arguments are not JSON ({e}): {args:?}"));
    let [socket_id, number, error] = value.as_array().map(Vec::as_slice).unwrap_or_default() else {
        panic!("a signin denial has three arguments: {args:?}");
    };
    let socket_id = socket_id.as_str().expect("the socket id is a string");
    assert!(is_socket_id(socket_id), "unsound socket id {socket_id:?}");
    let number = number.as_str().expect("the callback number is a string");
    let cb = format!("Pusher.auth_callbacks['{number}']");
    assert!(is_callback(&cb), "unsound callback number {number:?}");
    if let Some(expected) = callback {
        assert_eq!(cb, expected);
    }
    assert!(error["error"].is_string() && error["status"].is_u64(), "{args}");
    assert_eq!(error.as_object().map(|o| o.len()), Some(2), "a fixed error object: {args}");
    error.clone()
}

/// A JWT of these header and claims bytes, signed HS256 with [`JWT_SECRET`].
pub fn hs256_token(header: &[u8], claims: &[u8]) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(claims));
    let mut mac = Hmac::<Sha256>::new_from_slice(JWT_SECRET.as_bytes()).unwrap();
    mac.update(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

/// Lowercase hex HMAC-SHA256 with the app secret.
pub fn hmac_hex(message: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
}

/// The signature oracle: a signed answer's `auth` is the HMAC of exactly the
/// bytes returned (`socket_id:channel[:channel_data]`, or
/// `socket_id::user::user_data`), and a `shared_secret` is the channel's.
pub fn check_signed(answer: &Value, key: &str, socket_id: &str, channel: Option<&str>) {
    let Some(auth) = answer.get("auth") else {
        if answer.get("error").is_none() {
            // A batch: each channel's entry is signed for exactly that channel.
            let entries = answer.as_object().unwrap_or_else(|| panic!("neither auth nor error: {answer}"));
            for (name, entry) in entries {
                assert!(name.starts_with("private-") || name.starts_with("presence-"), "{name}");
                match entry["status"].as_u64() {
                    Some(200) => check_signed(&entry["data"], key, socket_id, Some(name)),
                    Some(status) => assert!(status >= 400 && entry.get("data").is_none(), "{entry}"),
                    None => panic!("a batch entry without a status: {entry}"),
                }
            }
            return;
        }
        assert!(answer.get("error").is_some_and(Value::is_string), "neither auth nor error: {answer}");
        // A presence denial carries the fixed `"channel_data":"{}"` (see Response::jsonp_refusal).
        assert!(answer.get("channel_data").is_none_or(|d| d == "{}"), "{answer}");
        assert!(answer.get("shared_secret").is_none());
        return;
    };
    let auth = auth.as_str().expect("auth is a string");
    let (auth_key, signature) = auth.split_once(':').expect("key:signature");
    assert_eq!(auth_key, key);
    let message = match (answer.get("user_data"), channel) {
        (Some(user_data), _) => {
            let user_data = user_data.as_str().expect("user_data is a string");
            let parsed: Value = serde_json::from_str(user_data).expect("user_data is JSON");
            assert!(parsed["id"].is_string());
            format!("{socket_id}::user::{user_data}")
        }
        (None, Some(channel)) => match answer.get("channel_data") {
            Some(data) => {
                let data = data.as_str().expect("channel_data is a string");
                let parsed: Value = serde_json::from_str(data).expect("channel_data is JSON");
                assert!(parsed["user_id"].is_string());
                assert!(channel.starts_with("presence-"));
                format!("{socket_id}:{channel}:{data}")
            }
            None => format!("{socket_id}:{channel}"),
        },
        (None, None) => panic!("a channel signature without a channel: {answer}"),
    };
    assert_eq!(signature, hmac_hex(message.as_bytes()), "signature over {message:?}");
    if let Some(shared) = answer.get("shared_secret") {
        let channel = channel.expect("shared_secret for a channel");
        assert!(channel.starts_with("private-encrypted-"));
        let master = base64::engine::general_purpose::STANDARD.decode(MASTER_KEY).unwrap();
        let digest = Sha256::new().chain_update(channel.as_bytes()).chain_update(&master).finalize();
        assert_eq!(shared.as_str(), Some(base64::engine::general_purpose::STANDARD.encode(digest).as_str()));
    }
}

/// The body (JSON or JSONP) of a 200 answer as JSON, checking JSONP on the way.
pub fn answer_json(answer: &Answer, callback: Option<&str>) -> Option<Value> {
    match answer.content_type.as_deref() {
        Some(ct) if ct.starts_with("application/javascript") => Some(check_jsonp(&answer.body, callback)),
        Some(ct) if ct.starts_with("application/json") => {
            Some(serde_json::from_str(&answer.body).expect("a JSON answer is JSON"))
        }
        _ => {
            assert!(answer.body.is_empty(), "a body without a content type");
            None
        }
    }
}

/// The `socket_id` and `channel_name` a request carried, read from the event's JSON by the
/// shapes the README documents (not by the endpoint's decoder): the query for GET (REST's
/// `multiValueQueryStringParameters`, 2.0's `rawQueryString`, a mapping template's
/// `params.querystring`), the form body otherwise; and the app key in force (the last
/// `PUSHER_KEY` stage variable that is not null overrides it).
pub fn request_params(event: &[u8]) -> Option<(String, Option<String>, String)> {
    // Members the endpoint skips are skipped here too, unread (they may hold anything).
    let event: Event = serde_json::from_slice(event).ok()?;
    let context = event.request_context.unwrap_or_default();
    let (method, query) = if context.resource_path.is_some() {
        (context.mapping_method, Query::Decoded(event.params.unwrap_or_default().querystring))
    } else if event.version.as_deref() == Some("2.0") {
        let raw = event.raw_query_string.unwrap_or_default();
        (context.http.and_then(|http| http.method), Query::Raw(raw))
    } else {
        let params = event.multi_value_query_string_parameters.unwrap_or_default();
        let first = params.into_iter().map(|(k, vs)| (k, vs.unwrap_or_default().into_iter().next().flatten()));
        (event.http_method, Query::Decoded(Some(first.collect())))
    };
    let pairs = if method.as_deref() == Some("GET") {
        match query {
            Query::Raw(raw) => form_pairs(&raw)?,
            Query::Decoded(params) => {
                params.unwrap_or_default().into_iter().map(|(k, v)| (k, v.unwrap_or_default())).collect()
            }
        }
    } else {
        let body = event.body.unwrap_or_default();
        if event.is_base64_encoded == Some(true) {
            let bytes = base64::engine::general_purpose::STANDARD.decode(body).ok()?;
            form_pairs(std::str::from_utf8(&bytes).ok()?)?
        } else {
            form_pairs(&body)?
        }
    };
    let value = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let key = event.stage_variables.and_then(|stage| last_string(stage.get().as_bytes(), "PUSHER_KEY"));
    Some((value("socket_id")?, value("channel_name"), key.unwrap_or_else(|| KEY.to_owned())))
}

/// The members of an event [`request_params`] reads (REST, HTTP API, mapping template).
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Event {
    version: Option<String>,
    http_method: Option<String>,
    raw_query_string: Option<String>,
    multi_value_query_string_parameters: Option<HashMap<String, Option<Vec<Option<String>>>>>,
    body: Option<String>,
    is_base64_encoded: Option<bool>,
    #[serde(alias = "stage-variables")]
    stage_variables: Option<Box<RawValue>>,
    #[serde(alias = "context")]
    request_context: Option<Context>,
    params: Option<Params>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Context {
    http: Option<Http>,
    #[serde(rename = "http-method")]
    mapping_method: Option<String>,
    #[serde(rename = "resource-path")]
    resource_path: Option<String>,
}

#[derive(Deserialize)]
struct Http {
    method: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Params {
    querystring: Option<HashMap<String, Option<String>>>,
}

/// A query as the event carries it: as sent, or decoded (each name with its first value).
enum Query {
    Raw(String),
    Decoded(Option<HashMap<String, Option<String>>>),
}

/// The pairs of a form (`a=b&c=d`), each name and value decoded.
fn form_pairs(form: &str) -> Option<Vec<(String, String)>> {
    let pairs = form.split('&').filter(|p| !p.is_empty()).map(|p| p.split_once('=').unwrap_or((p, "")));
    pairs.map(|(k, v)| Some((decode_form(k)?, decode_form(v)?))).collect()
}

/// The last string value of `name` in a JSON object's text, null values skipped (a name given
/// twice keeps both, as the endpoint reads them).
fn last_string(object: &[u8], name: &str) -> Option<String> {
    struct Last<'n>(&'n str);
    impl<'de> serde::de::Visitor<'de> for Last<'_> {
        type Value = Option<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut last = None;
            while let Some((key, value)) = map.next_entry::<String, Option<String>>()? {
                if key == self.0 && value.is_some() {
                    last = value;
                }
            }
            Ok(last)
        }
    }
    let mut reader = serde_json::Deserializer::from_slice(object);
    serde::Deserializer::deserialize_map(&mut reader, Last(name)).ok().flatten()
}

/// Strict `application/x-www-form-urlencoded` decoding of one name or value (`+` is a space;
/// a bad escape or invalid UTF-8 is `None`), written apart from the endpoint's decoder.
pub fn decode_form(raw: &str) -> Option<String> {
    let mut pieces = raw.split('%');
    let mut out: Vec<u8> = pieces.next().unwrap().replace('+', " ").into_bytes();
    for piece in pieces {
        let hex = piece.get(..2)?;
        out.push(u8::from_str_radix(hex, 16).ok().filter(|_| hex.bytes().all(|b| b.is_ascii_hexdigit()))?);
        out.extend(piece[2..].replace('+', " ").bytes());
    }
    String::from_utf8(out).ok()
}

/// Every oracle that applies to one raw event through `endpoint`.
pub fn check_event(endpoint: &Endpoint, event: &[u8]) -> Option<Answer> {
    let outcome = handle(endpoint, event)?;
    let answer = answer_of(&outcome);
    if let Some(json) = answer_json(&answer, None) {
        if json.get("auth").is_some() {
            assert_eq!(answer.status, 200);
            let (socket_id, channel, key) = request_params(event).expect("a signed answer had a socket id");
            check_signed(&json, &key, &socket_id, channel.as_deref());
        }
    }
    Some(answer)
}

/// Percent-encodes every byte that is not unreserved (as pusher-js does).
pub fn encode_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
