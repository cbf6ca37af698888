//! A lazy JSON reader for Lambda events: it walks an object's members, reads
//! only the values asked for, and skips the rest without building them.
//!
//! Why not serde: `serde_json` tokenizes every byte of an event, even members
//! it skips (most of an event is headers the endpoint never reads); serde
//! structs that borrow and skip unknown members cost 1.5–2× this reader and
//! 5–8 % more CPU per invocation (docs/benchmarks.md, "Event decoding").
//! Skipping a string here is one jump to its closing quote, found eight bytes
//! at a time. Values that are read are decoded strictly: strings must be
//! valid JSON strings in valid UTF-8 (escapes are decoded by `serde_json`).
//! Skipped values are checked only for structure; the Lambda service delivers
//! well-formed JSON, and anything that is not a sound object fails with
//! [`JsonError`] rather than being guessed at.

use std::borrow::Cow;

use crate::support::json_text::{find_quote_or_backslash, find_quote_or_bracket};

/// The event is not JSON this reader can walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonError;

type Result<T> = std::result::Result<T, JsonError>;

/// How deep skipped containers may nest.
const MAX_DEPTH: usize = 64;

/// A cursor over JSON text.
pub struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.bytes.get(self.pos).copied()
    }

    fn expect(&mut self, byte: u8) -> Result<()> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(JsonError)
        }
    }

    /// Whether the rest is only white space (call after the top-level value).
    pub fn at_end(&mut self) -> bool {
        self.peek().is_none()
    }

    /// Consumes `null` if it comes next.
    pub(crate) fn null(&mut self) -> bool {
        if self.peek() == Some(b'n') && self.bytes[self.pos..].starts_with(b"null") {
            self.pos += 4;
            true
        } else {
            false
        }
    }

    /// Walks an object (or `null`, which has no members), calling `member`
    /// with each key; `member` must consume the value (read or skip it).
    ///
    /// Keys are given as bytes: the raw bytes when the key has no escapes
    /// (compare them with ASCII names; use [`key_str`] to get text), else its
    /// decoded UTF-8.
    pub fn object(&mut self, mut member: impl FnMut(Cow<'a, [u8]>, &mut Self) -> Result<()>) -> Result<()> {
        if self.null() {
            return Ok(());
        }
        self.expect(b'{')?;
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            let key = self.key()?;
            self.expect(b':')?;
            member(key, self)?;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(JsonError),
            }
        }
    }

    /// Walks an array (or `null`), calling `item` for each element.
    pub(crate) fn array(&mut self, mut item: impl FnMut(&mut Self) -> Result<()>) -> Result<()> {
        if self.null() {
            return Ok(());
        }
        self.expect(b'[')?;
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            item(self)?;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(JsonError),
            }
        }
    }

    /// Reads a string, borrowing it when it has no escapes.
    pub fn string(&mut self) -> Result<Cow<'a, str>> {
        let (raw, escaped) = self.raw_string()?;
        if escaped {
            decode_escaped(raw).map(Cow::Owned)
        } else {
            std::str::from_utf8(&raw[1..raw.len() - 1]).map(Cow::Borrowed).map_err(|_| JsonError)
        }
    }

    fn key(&mut self) -> Result<Cow<'a, [u8]>> {
        let (raw, escaped) = self.raw_string()?;
        if escaped {
            decode_escaped(raw).map(|s| Cow::Owned(s.into_bytes()))
        } else {
            Ok(Cow::Borrowed(&raw[1..raw.len() - 1]))
        }
    }

    /// The next string with its quotes, and whether it has escapes.
    fn raw_string(&mut self) -> Result<(&'a [u8], bool)> {
        self.expect(b'"')?;
        let start = self.pos - 1;
        let (end, escaped) = self.string_end()?;
        self.pos = end + 1;
        Ok((&self.bytes[start..=end], escaped))
    }

    /// Reads a string, or `null` as `None`.
    pub(crate) fn opt_string(&mut self) -> Result<Option<Cow<'a, str>>> {
        if self.null() {
            Ok(None)
        } else {
            self.string().map(Some)
        }
    }

    /// Reads `true` or `false` (`null` reads as false).
    pub(crate) fn bool(&mut self) -> Result<bool> {
        match self.peek() {
            Some(b't') if self.bytes[self.pos..].starts_with(b"true") => {
                self.pos += 4;
                Ok(true)
            }
            Some(b'f') if self.bytes[self.pos..].starts_with(b"false") => {
                self.pos += 5;
                Ok(false)
            }
            _ if self.null() => Ok(false),
            _ => Err(JsonError),
        }
    }

    /// Position of the closing quote of the string whose body starts at
    /// `self.pos`, and whether the string has escapes.
    fn string_end(&self) -> Result<(usize, bool)> {
        let mut at = self.pos;
        let mut escaped = false;
        loop {
            let hit = find_quote_or_backslash(self.bytes, at).ok_or(JsonError)?;
            if self.bytes[hit] == b'"' {
                return Ok((hit, escaped));
            }
            escaped = true;
            at = hit + 2; // a backslash and the byte it escapes
        }
    }

    /// Skips one value of any kind.
    pub(crate) fn skip(&mut self) -> Result<()> {
        self.skip_raw().map(drop)
    }

    /// Skips one value of any kind, returning its raw text (checked to be UTF-8).
    pub fn raw(&mut self) -> Result<&'a str> {
        let raw = self.skip_raw()?;
        std::str::from_utf8(raw).map_err(|_| JsonError)
    }

    fn skip_raw(&mut self) -> Result<&'a [u8]> {
        self.skip_ws();
        let start = self.pos;
        match self.bytes.get(self.pos) {
            Some(b'"') => {
                self.pos += 1;
                self.pos = self.string_end()?.0 + 1;
            }
            Some(b'{' | b'[') => self.skip_container()?,
            Some(b'-' | b'0'..=b'9' | b't' | b'f' | b'n') => {
                while let Some(b) = self.bytes.get(self.pos) {
                    if matches!(b, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t') {
                        break;
                    }
                    self.pos += 1;
                }
            }
            _ => return Err(JsonError),
        }
        Ok(&self.bytes[start..self.pos])
    }

    /// Skips an object or array: jumps from string to string, counting
    /// brackets in the short stretches between them.
    fn skip_container(&mut self) -> Result<()> {
        let mut depth = 0usize;
        loop {
            let at = find_quote_or_bracket(self.bytes, self.pos).ok_or(JsonError)?;
            self.pos = at + 1;
            match self.bytes[at] {
                b'"' => self.pos = self.string_end()?.0 + 1,
                b'{' | b'[' => {
                    depth += 1;
                    if depth > MAX_DEPTH {
                        return Err(JsonError);
                    }
                }
                _ => {
                    depth = depth.checked_sub(1).ok_or(JsonError)?;
                    if depth == 0 {
                        return Ok(());
                    }
                }
            }
        }
    }
}

/// Decodes a quoted JSON string that has escapes (rare in events).
fn decode_escaped(quoted: &[u8]) -> Result<String> {
    serde_json::from_slice::<String>(quoted).map_err(|_| JsonError)
}

/// A key from [`Reader::object`] as text.
pub fn key_str(key: Cow<'_, [u8]>) -> Result<Cow<'_, str>> {
    match key {
        Cow::Borrowed(bytes) => std::str::from_utf8(bytes).map(Cow::Borrowed).map_err(|_| JsonError),
        Cow::Owned(bytes) => String::from_utf8(bytes).map(Cow::Owned).map_err(|_| JsonError),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(json: &str) -> Result<Vec<(String, String)>> {
        let mut r = Reader::new(json.as_bytes());
        let mut out = Vec::new();
        r.object(|k, r| {
            out.push((key_str(k)?.into_owned(), r.raw()?.to_owned()));
            Ok(())
        })?;
        if r.at_end() {
            Ok(out)
        } else {
            Err(JsonError)
        }
    }

    #[test]
    fn skips_every_kind_of_value() {
        let json = r#" { "a" : "x\"}{y" , "b":{"c":[1,{"d":"]"}],"e":null}, "f":[], "g":-1.5e3,"h":true,"i":false,"j":null } "#;
        let got = members(json).unwrap();
        let keys: Vec<&str> = got.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["a", "b", "f", "g", "h", "i", "j"]);
        assert_eq!(got[0].1, r#""x\"}{y""#);
        assert_eq!(got[1].1, r#"{"c":[1,{"d":"]"}],"e":null}"#);
        assert_eq!(got[3].1, "-1.5e3");
    }

    #[test]
    fn reads_strings_strictly() {
        let mut r = Reader::new(br#""plain""#);
        assert!(matches!(r.string().unwrap(), Cow::Borrowed("plain")));
        let mut r = Reader::new(br#""a\u2028\"\\\/\n\ud83c\udf89""#);
        assert_eq!(r.string().unwrap(), "a\u{2028}\"\\/\n🎉");
        for bad in [&br#""\x""#[..], b"\"\xff\"", b"\"a", b"\"\\", b"\"a\\\nb\"", br#""\ud800""#] {
            assert_eq!(Reader::new(bad).string(), Err(JsonError), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn keys_with_escapes_are_decoded() {
        assert_eq!(members(r#"{"raw\u0050ath":1}"#).unwrap()[0].0, "rawPath");
    }

    #[test]
    fn malformed_input_is_an_error_never_a_panic() {
        for bad in [
            "",
            "{",
            "{\"a\"",
            "{\"a\":",
            "{\"a\":1",
            "{\"a\":1,}",
            "{\"a\" 1}",
            "[",
            "{\"a\":[1,2}",
            "{\"a\":}",
            "{\"a\":\"",
            "{\"a\":{\"b\":\"}",
            "{1:2}",
            "{\"a\":1}}",
            "\"x\"",
            "{\"a\":x}",
        ] {
            assert!(members(bad).is_err(), "{bad:?} accepted");
        }
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(100), "]".repeat(100));
        assert!(members(&deep).is_err());
    }

    #[test]
    fn agrees_with_serde_json_on_members() {
        for name in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/events")).unwrap() {
            let path = name.unwrap().path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let ours = members(&text).unwrap();
            let theirs: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text).unwrap();
            assert_eq!(ours.len(), theirs.len(), "{path:?}");
            for (k, raw) in ours {
                let value: serde_json::Value = serde_json::from_str(&raw).unwrap();
                assert_eq!(theirs[&k], value, "{path:?} {k}");
            }
        }
    }
}
