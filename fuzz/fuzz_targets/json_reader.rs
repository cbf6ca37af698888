//! The lazy JSON reader (src/aws/json.rs) against serde_json: on every
//! document both accept, each member's raw text is the value serde_json read,
//! strings decode alike, and a document serde_json reads as an object is
//! refused only when it nests deeper than the reader's bound. Never a panic.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use pusher_auth_lambda::testing::{key_str, Reader};
use serde_json::Value;

/// `(key, raw value text, the value read as a string if it is one)`.
fn walk(data: &[u8]) -> Option<Vec<(String, String, Option<String>)>> {
    let mut r = Reader::new(data);
    let mut out = Vec::new();
    r.object(|k, r| {
        let key = key_str(k)?.into_owned();
        let raw = r.raw()?;
        let string = Reader::new(raw.as_bytes()).string().ok().map(|s| s.into_owned());
        out.push((key, raw.to_owned(), string));
        Ok(())
    })
    .ok()?;
    r.at_end().then_some(out)
}

fn depth(v: &Value) -> usize {
    match v {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fuzz_target!(|data: &[u8]| {
    let ours = walk(data);
    let theirs = serde_json::from_slice::<Value>(data).ok();
    let Some(Value::Object(map)) = theirs else { return };
    let Some(ours) = ours else {
        // Members are skipped with at most 64 nested containers.
        assert!(
            depth(&Value::Object(map)) > 64,
            "serde_json reads an object the reader refuses: {:?}",
            String::from_utf8_lossy(data)
        );
        return;
    };
    // serde_json keeps the last of duplicate keys.
    let last: BTreeMap<_, _> = ours.into_iter().map(|(k, raw, s)| (k, (raw, s))).collect();
    assert_eq!(last.len(), map.len(), "member count");
    for (k, (raw, string)) in last {
        let expected = map.get(&k).unwrap_or_else(|| panic!("key {k:?} not in serde_json's object"));
        let value: Value = serde_json::from_str(&raw).unwrap_or_else(|e| panic!("raw {raw:?} of {k:?}: {e}"));
        assert_eq!(&value, expected, "member {k:?}");
        match expected {
            Value::String(s) => assert_eq!(string.as_deref(), Some(s.as_str()), "string {k:?}"),
            _ => assert!(string.is_none(), "{k:?} read as a string"),
        }
    }
});
