//! The event decoder (`ApiEvent::from_slice`, the lazy reader of `src/aws/json.rs`) against
//! candidate A of the decoding comparison, serde structs that borrow
//! (`benches/decode/serde_event.rs`; docs/benchmarks.md, "Event decoding: the lazy reader
//! against serde"): the same `ApiEvent` for every fixture and edge case, and the exact list of
//! inputs where they differ, so the benchmark compares decoders that do the same work.

#[path = "../../benches/decode/serde_event.rs"]
mod serde_event;

use pusher_auth_lambda::testing::ApiEvent;

/// Both decoders' results, each as its `Debug` text (strings compare by
/// value, borrowed or not; raw JSON by its text).
fn both(json: &[u8]) -> (Option<String>, Option<String>) {
    let reader = ApiEvent::from_slice(json).ok().map(|e| format!("{e:?}"));
    (reader, serde_event::from_slice(json).ok().map(|e| format!("{e:?}")))
}

#[track_caller]
fn agree(json: &str) {
    let (reader, serde) = both(json.as_bytes());
    assert_eq!(reader, serde, "{json}");
}

#[test]
fn serde_structs_decode_every_fixture_as_the_reader_does() {
    let mut seen = 0;
    for dir in ["tests/fixtures/events", "perf/events"] {
        for entry in std::fs::read_dir(format!("{}/{dir}", env!("CARGO_MANIFEST_DIR"))).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            let (reader, serde) = both(&bytes);
            assert!(reader.is_some(), "{path:?}");
            assert_eq!(reader, serde, "{path:?}");
            seen += 1;
        }
    }
    assert!(seen >= 27, "{seen} fixtures");
}

#[test]
fn serde_structs_agree_with_the_reader_on_edge_cases() {
    for json in [
        // Escapes in strings and keys.
        r#"{"version":"2.0","raw\u0050ath":"\/pusher\/auth","rawQueryString":"a=\u00e9&b=\"","body":"x\ny"}"#,
        // Header names in any case; of a name given twice, the last; null unsets.
        r#"{"headers":{"ORIGIN":"a","Content-Type":"b","AuThOrIzAtIoN":"c","x-other":1,"origin":"d"}}"#,
        r#"{"headers":{"Origin":"a","origin":null}}"#,
        r#"{"headers":null,"multiValueQueryStringParameters":null,"requestContext":null,"stageVariables":null}"#,
        // Every value of each name, names given twice kept twice, in order.
        r#"{"multiValueQueryStringParameters":{"a":["1","2"],"b":null,"c":[null,"x"],"a":["3"],"d":[]}}"#,
        // Base64 bodies; a null flag reads as false.
        r#"{"body":"c29ja2V0X2lkPTEuMg==","isBase64Encoded":true}"#,
        r#"{"body":null,"isBase64Encoded":null}"#,
        // The authorizer kept as raw JSON; null is none.
        r#"{"requestContext":{"authorizer":{"claims":{"sub":"u","n":[1,{"a":null}]}},"http":{"method":"GET"}}}"#,
        r#"{"requestContext":{"authorizer":null,"requestId":"r","stage":"s"}}"#,
        // Stage variables: the known names, the last of a name given twice, secrets flagged.
        r#"{"stageVariables":{"PUSHER_KEY":"k1","PUSHER_KEY":"k2","PUSHER_SECRET":"s","OTHER":"o"}}"#,
        r#"{"stageVariables":{"PUSHER_APP_ID":"1","PUSHER_CLUSTER":"eu","ALLOWED_ORIGINS":"https://a","PUSHER_SECRET_ID":"i","PUSHER_ENCRYPTION_MASTER_KEY_BASE64":"m"}}"#,
        // The mapping template's members mark the shape even when null.
        r#"{"params":null}"#,
        r#"{"context":null}"#,
        r#"{"stage-variables":null}"#,
        r#"{"params":{"querystring":{"a":"1","b":null,"a":"2"},"header":{"Origin":"o"},"path":{}}}"#,
        // Claims win over a principal; empty claims and empty principals are none.
        r#"{"context":{"authorizer-claims":{"sub":"u"},"authorizer-principal-id":"p"}}"#,
        r#"{"context":{"authorizer-claims":{ },"authorizer-principal-id":"p\"q"}}"#,
        r#"{"context":{"authorizer-claims":{},"authorizer-principal-id":""}}"#,
        r#"{"context":{"authorizer-claims":null,"http-method":"GET","resource-path":"/x","stage":"s","request-id":"r"}}"#,
        r#"{"context":{"authorizer-claims":"x"}}"#,
        // Top-level null is an event with nothing in it.
        "null",
        " {} ",
    ] {
        agree(json);
    }
}

#[test]
fn serde_structs_refuse_what_the_reader_refuses() {
    for json in [
        &b""[..],
        b"not json",
        b"[]",
        b"\"x\"",
        b"1",
        b"{",
        b"{\"a\":1}}",
        b"{\"a\":1,}",
        b"{\"a\" 1}",
        b"{1:2}",
        br#"{"body":1}"#,
        br#"{"version":2}"#,
        br#"{"isBase64Encoded":"true"}"#,
        br#"{"headers":"x"}"#,
        br#"{"headers":{"origin":1}}"#,
        br#"{"multiValueQueryStringParameters":{"a":"x"}}"#,
        br#"{"multiValueQueryStringParameters":{"a":[1]}}"#,
        br#"{"requestContext":{"authorizer":}}"#,
        br#"{"requestContext":{"http":{"method":true}}}"#,
        br#"{"params":{"querystring":{"a":["x"]}}}"#,
        br#"{"context":{"stage":1}}"#,
        b"{\"body\":\"\\x\"}",
        b"{\"body\":\"\\ud800\"}",
        b"{\"body\":\"\xff\"}",
        br#"{"stageVariables":{"PUSHER_KEY":1}}"#,
        // A stage variable that is not a string, whatever its name (API Gateway's are strings).
        br#"{"stageVariables":{"OTHER":1}}"#,
    ] {
        let (reader, serde) = both(json);
        let json = String::from_utf8_lossy(json);
        assert_eq!((reader, serde), (None, None), "{json}");
    }
}

/// Where the two differ: the serde structs are strict JSON throughout,
/// the reader checks skipped members for structure only, and a few cases
/// no AWS event has.
#[test]
fn serde_structs_differ_from_the_reader_only_here() {
    let deep = format!("{{\"x\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
    // Accepted by the reader, refused by the serde structs.
    for json in [
        // A member the endpoint reads, given twice (serde: "duplicate field").
        &br#"{"body":"a","body":"b"}"#[..],
        br#"{"requestContext":{"authorizer":{"a":1},"authorizer":null}}"#,
        // Not JSON inside a skipped member.
        br#"{"x":tru}"#,
        br#"{"x":1.2.3}"#,
        br#"{"x":"\q"}"#,
        // A raw control character in a string.
        b"{\"body\":\"a\nb\"}",
    ] {
        let (reader, serde) = both(json);
        assert!(reader.is_some() && serde.is_none(), "{}", String::from_utf8_lossy(json));
    }
    // Refused by the reader (skipped containers nest at most 64 deep), skipped by serde_json
    // without recursion.
    let (reader, serde) = both(deep.as_bytes());
    assert!(reader.is_none() && serde.is_some());
    // An event with both shapes' members: the mapping template's win, where the reader
    // takes the later in the document.
    let (reader, serde) = both(br#"{"params":{"header":{"origin":"b"}},"headers":{"origin":"a"}}"#);
    assert!(reader.unwrap().contains(r#"origin: Some("a")"#));
    assert!(serde.unwrap().contains(r#"origin: Some("b")"#));
}

#[test]
fn a_null_stage_variable_is_left_out_by_both() {
    let (reader, serde) = both(br#"{"stageVariables":{"PUSHER_KEY":"a","PUSHER_KEY":null,"PUSHER_SECRET":null}}"#);
    assert_eq!(reader, serde);
    assert!(reader.unwrap().contains(r#"stage_variables: [("PUSHER_KEY", "a")]"#));
}
