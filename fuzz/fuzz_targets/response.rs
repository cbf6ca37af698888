//! JSON and JSONP encoding (src/web/response.rs, src/support/json_text.rs,
//! src/aws/reply.rs) of arbitrary answer fields.
//! Oracles: `AuthBody::to_json` is byte-for-byte serde_json's; a JSONP body
//! is exactly one call of the requested callback whose argument is JSON
//! without `<`, `>`, `&`, U+2028, U+2029 and decodes to the same fields; a
//! channel (signin) denial is the fixed script whose arguments are the validated
//! socket id (and channel), the callback's number and the error object; the proxy and
//! mapping-template encodings decode to the same body.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use pusher_auth_lambda::testing::{escape_for_script, AuthBody, Response};
use pusher_auth_lambda::testing::{is_channel_char, ChannelName, JsonpCallback, SocketId};
use pusher_auth_lambda::testing::{answer, PayloadFormat};
use pusher_auth_lambda::testing::{AuthFailure, Misconfig, Outage, Refusal};

#[derive(Debug, Arbitrary)]
struct Input {
    auth: String,
    channel_data: Option<String>,
    shared_secret: Option<String>,
    user_data: Option<String>,
    callback: String,
    callback_number: u32,
    socket_id: String,
    channel: String,
    free_text: String,
}

const REFUSALS: [Refusal; 6] = [
    Refusal::Misconfigured(Misconfig::SecretInvalid),
    Refusal::Forbidden,
    Refusal::InvalidSocketId,
    Refusal::Unauthenticated(AuthFailure::TokenExpired),
    Refusal::Unavailable(Outage::SecretStore),
    Refusal::PayloadTooLarge,
];

fuzz_target!(|input: Input| {
    let body = AuthBody {
        auth: input.auth,
        channel_data: input.channel_data,
        shared_secret: input.shared_secret,
        user_data: input.user_data,
    };
    let json = body.to_json();
    assert_eq!(json, serde_json::to_string(&body).unwrap());

    let numbered = format!("Pusher.auth_callbacks['{}']", input.callback_number % 1_000_000_000);
    // The socket id and channel of a channel denial: as given (when valid), and a valid pair
    // made from the input (a prefix and the channel characters of the text), so every run
    // reaches the denial script.
    let prefix = ["private-", "presence-", "private-encrypted-"][input.callback_number as usize % 3];
    let mut made: String =
        prefix.chars().chain(input.channel.chars().filter(|c| c.is_ascii() && is_channel_char(*c as u8))).collect();
    made.truncate(164);
    let targets = [
        (input.socket_id.clone(), input.channel.clone()),
        (format!("{}.{}", input.callback_number, input.callback_number / 7), made),
    ];
    let callbacks = [JsonpCallback::parse(&input.callback).ok(), JsonpCallback::parse(&numbered).ok()];
    for callback in callbacks.into_iter().flatten() {
        let r = Response::jsonp(callback, &body);
        assert_eq!(r.status, 200);
        let arg = fuzz_support::check_jsonp(&r.body, Some(callback.as_str()));
        assert_eq!(serde_json::from_value::<AuthBody>(arg).unwrap(), body);
        for refusal in REFUSALS {
            let r = Response::jsonp_denial(callback, refusal);
            let arg = fuzz_support::check_jsonp(&r.body, Some(callback.as_str()));
            assert_eq!(arg["status"].as_u64(), Some(u64::from(refusal.status())));
            assert!(arg.get("auth").is_none());
            for (socket_text, channel_text) in &targets {
                let (Ok(socket_id), Ok(channel)) = (SocketId::parse(socket_text), ChannelName::parse(channel_text))
                else {
                    continue;
                };
                let r = Response::jsonp_signin_denial(callback, socket_id, refusal);
                let error = fuzz_support::check_jsonp(&r.body, Some(callback.as_str()));
                assert_eq!(error["error"].as_str(), Some(refusal.public_code()));
                let r = Response::jsonp_channel_denial(callback, socket_id, channel, refusal);
                assert_eq!(r.status, 200);
                let error = fuzz_support::check_jsonp(&r.body, Some(callback.as_str()));
                assert_eq!(error["error"].as_str(), Some(refusal.public_code()));
                assert_eq!(error["status"].as_u64(), Some(u64::from(refusal.status())));
                let args = &r.body[r.body.rfind("})(").unwrap() + 3..];
                assert!(args.starts_with(&format!("\"{socket_text}\",\"{channel_text}\",")), "{args}");
            }
        }
        // Through each payload format, the same script comes out.
        for format in [PayloadFormat::V1, PayloadFormat::V2, PayloadFormat::Mapping] {
            let outcome = fuzz_support::outcome!(answer(r.clone(), format)).expect("an answer");
            assert_eq!(fuzz_support::answer_of(&outcome).body, r.body);
            assert!(outcome.is_ok());
        }
    }

    let r = Response::json(&body);
    assert_eq!(serde_json::from_str::<AuthBody>(&r.body).unwrap(), body);
    for format in [PayloadFormat::V1, PayloadFormat::V2, PayloadFormat::Mapping] {
        let outcome = fuzz_support::outcome!(answer(r.clone(), format)).expect("an answer");
        assert_eq!(fuzz_support::answer_of(&outcome).body, r.body);
    }

    // Any JSON text stays the same value once escaped for a script.
    let text = serde_json::to_string(&input.free_text).unwrap();
    let mut escaped = String::new();
    escape_for_script(&text, &mut escaped);
    for c in ['<', '>', '&', '\u{2028}', '\u{2029}'] {
        assert!(!escaped.contains(c));
    }
    assert_eq!(serde_json::from_str::<String>(&escaped).unwrap(), input.free_text);
});
