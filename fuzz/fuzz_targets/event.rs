//! Raw event bytes (any shape: REST v1, HTTP API v2, function URL, mapping
//! template, or garbage) through the real handler, in demo and jwt mode.
//! Oracles: no panic; the payload is JSON in the shape of its format; JSONP
//! bodies are one call of a sound callback with script-safe JSON; a signed
//! answer's signature covers exactly the bytes returned.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let demo = fuzz_support::check_event(fuzz_support::demo_endpoint(), data);
    let jwt = fuzz_support::check_event(fuzz_support::jwt_endpoint(), data);
    // Both endpoints agree on whether this is an HTTP event at all.
    assert_eq!(demo.is_some(), jwt.is_some());
});
