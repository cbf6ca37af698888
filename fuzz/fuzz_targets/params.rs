//! Query and form decoding (src/web/params.rs): `decode_component` agrees with a
//! separately written strict decoder; a collected request re-encoded the way
//! pusher-js encodes decodes to the same parameters; a sound result is only
//! reported when every pair decoded. Never a panic.
#![no_main]

use std::borrow::Cow;

use fuzz_support::decode_form as reference;
use libfuzzer_sys::fuzz_target;
use pusher_auth_lambda::testing::{decode_component, ParamCollector, MAX_PARAMS};
use pusher_auth_lambda::Refusal;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for component in text.split(['&', '=']) {
        assert_eq!(decode_component(component).ok().map(Cow::into_owned), reference(component), "{component:?}");
    }
    for token_param in ["token", "jwt"] {
        let mut collector = ParamCollector::new(token_param);
        collector.push_form(text);
        let collected = collector.finish();
        if collected.callback_unusable {
            assert!(collected.error.is_some());
        }
        let pairs: Vec<(&str, &str)> =
            text.split('&').filter(|p| !p.is_empty()).map(|p| p.split_once('=').unwrap_or((p, ""))).collect();
        let all_decode = pairs.iter().all(|(k, v)| reference(k).is_some() && reference(v).is_some());
        if collected.error.is_none() {
            assert!(all_decode && pairs.len() <= MAX_PARAMS, "{text:?} accepted");
        } else if !all_decode {
            // Bad encoding is always noticed (the first problem wins, so it may
            // be reported as another refusal that came earlier).
            assert!(collected.error.is_some());
        }
        if pairs.len() > MAX_PARAMS {
            assert!(matches!(
                collected.error,
                Some(Refusal::PayloadTooLarge | Refusal::DuplicateParameter | Refusal::InvalidEncoding)
            ));
        }
        // Re-encoded as pusher-js would send it, the same parameters come back.
        if collected.error.is_none() {
            let reencoded: Vec<String> = pairs
                .iter()
                .map(|(k, v)| {
                    let (k, v) = (reference(k).unwrap(), reference(v).unwrap());
                    format!("{}={}", fuzz_support::encode_component(&k), fuzz_support::encode_component(&v))
                })
                .collect();
            let reencoded = reencoded.join("&");
            let mut again = ParamCollector::new(token_param);
            again.push_form(&reencoded);
            let again = again.finish();
            assert_eq!(again.error, None, "{reencoded:?}");
            assert_eq!(again.params, collected.params);
        }
    }
});
