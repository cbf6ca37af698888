//! Request parameters: strict `application/x-www-form-urlencoded` decoding with
//! duplicate detection.
//!
//! `form_urlencoded` and `percent_encoding` decode leniently (bad escapes pass
//! through, invalid UTF-8 becomes U+FFFD); here both are refusals, so the few
//! lines of decoding are written out.

use std::borrow::Cow;

use crate::error::Refusal;

/// Most parameters one request may carry.
pub const MAX_PARAMS: usize = 32;

/// Most channels one batched request may name (`channel_name[0]` …
/// `channel_name[24]`). A batch, its `socket_id`, token and JSONP `callback`
/// then stay within [`MAX_PARAMS`]; 25 names of the longest channel name
/// (164 characters) stay well within the 16 KiB input limit; and the work
/// of one invocation stays bounded (one token check, at most 25 HMACs).
pub(crate) const MAX_BATCH: usize = 25;

/// The parameters the endpoint reads. Everything else is ignored, but still
/// checked for duplicates and encoding.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct AuthParams<'a> {
    /// `callback` (JSONP only).
    pub(crate) callback: Option<Cow<'a, str>>,
    /// `socket_id`.
    pub socket_id: Option<Cow<'a, str>>,
    /// `channel_name` (channel authorization only).
    pub channel_name: Option<Cow<'a, str>>,
    /// The user's token, under the configured parameter name.
    pub(crate) token: Option<Cow<'a, str>>,
    /// A batch: `channel_name[N]` values by index `N` (0–99), in the order sent.
    pub(crate) batch: Vec<(u8, Cow<'a, str>)>,
}

/// The index of a batch parameter name `channel_name[N]` (`N` 0–99, no
/// leading zero), or `None` when the name is something else.
fn batch_index(name: &str) -> Option<u8> {
    let digits = name.strip_prefix("channel_name[")?.strip_suffix(']')?;
    let valid = matches!(digits.len(), 1 | 2)
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !(digits.len() == 2 && digits.starts_with('0'));
    valid.then(|| digits.parse().ok()).flatten()
}

/// Collects decoded pairs into [`AuthParams`]. Parsing goes on past a bad
/// pair so that a JSONP request with a sound callback can still be answered
/// with a script (the first problem is kept in [`ParamCollector::finish`]).
pub struct ParamCollector<'a, 'n> {
    collected: Collected<'a>,
    token_param: &'n str,
    others: Vec<Cow<'a, str>>,
    count: usize,
}

/// What [`ParamCollector::finish`] returns.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Collected<'a> {
    /// The parameters read.
    pub params: AuthParams<'a>,
    /// The first problem found, if any.
    pub error: Option<Refusal>,
    /// True when `callback` was given twice or could not be decoded: no
    /// callback can then be trusted.
    pub callback_unusable: bool,
}

impl<'a, 'n> ParamCollector<'a, 'n> {
    /// A collector that stores the token found under `token_param`.
    pub fn new(token_param: &'n str) -> Self {
        Self { collected: Collected::default(), token_param, others: Vec::new(), count: 0 }
    }

    fn fail(&mut self, refusal: Refusal) {
        self.collected.error.get_or_insert(refusal);
    }

    /// Adds one pair; `value` is `Err` when it could not be decoded. A bad
    /// value is refused before a read parameter named again, but after an
    /// ignored one named again.
    pub fn push(&mut self, key: Cow<'a, str>, value: Result<Cow<'a, str>, Refusal>) {
        self.count += 1;
        let params = &mut self.collected.params;
        let slot = match &*key {
            _ if self.count > MAX_PARAMS => return self.fail(Refusal::PayloadTooLarge),
            "callback" => &mut params.callback,
            "socket_id" => &mut params.socket_id,
            "channel_name" => &mut params.channel_name,
            k if k == self.token_param => &mut params.token,
            k => match (batch_index(k), value) {
                (Some(_), Err(refusal)) => return self.fail(refusal),
                (Some(index), Ok(_)) if params.batch.iter().any(|(i, _)| *i == index) => {
                    return self.fail(Refusal::DuplicateParameter)
                }
                (Some(_), Ok(_)) if params.batch.len() >= MAX_BATCH => return self.fail(Refusal::BatchTooLarge),
                (Some(index), Ok(value)) => return params.batch.push((index, value)),
                (None, _) if self.others.contains(&key) => return self.fail(Refusal::DuplicateParameter),
                (None, value) => {
                    self.others.push(key);
                    return value.map_or_else(|refusal| self.fail(refusal), drop);
                }
            },
        };
        let refusal = match value {
            Ok(_) if slot.is_some() => Refusal::DuplicateParameter,
            Ok(value) => return *slot = Some(value),
            Err(refusal) => refusal,
        };
        self.collected.callback_unusable |= key == "callback";
        self.fail(refusal);
    }

    /// Adds every pair of a form-encoded string (a raw query string or a form body).
    pub fn push_form(&mut self, input: &'a str) {
        for pair in input.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match decode_component(key) {
                Ok(key) => self.push(key, decode_component(value)),
                Err(refusal) => self.fail(refusal),
            }
        }
    }

    /// The collected parameters and the first problem found.
    pub fn finish(self) -> Collected<'a> {
        self.collected
    }
}

/// Decodes one form component: `+` is a space, `%XX` a byte; the result must be
/// UTF-8. Borrows when there is nothing to decode.
pub fn decode_component(raw: &str) -> Result<Cow<'_, str>, Refusal> {
    if !raw.bytes().any(|b| b == b'%' || b == b'+') {
        return Ok(Cow::Borrowed(raw));
    }
    let mut bytes = raw.bytes();
    let mut out = Vec::with_capacity(raw.len());
    while let Some(byte) = bytes.next() {
        out.push(match byte {
            b'+' => b' ',
            b'%' => {
                let mut digit =
                    || bytes.next().and_then(|b| char::from(b).to_digit(16)).ok_or(Refusal::InvalidEncoding);
                (digit()? * 16 + digit()?) as u8
            }
            byte => byte,
        });
    }
    String::from_utf8(out).map(Cow::Owned).map_err(|_| Refusal::InvalidEncoding)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(input: &str) -> Result<AuthParams<'_>, Refusal> {
        let mut c = ParamCollector::new("token");
        c.push_form(input);
        let collected = c.finish();
        collected.error.map_or(Ok(collected.params), Err)
    }

    #[test]
    fn decodes_pusher_js_queries() {
        let p =
            parse("callback=Pusher.auth_callbacks%5B'1'%5D&socket_id=1.2&channel_name=private-a%40b&token=x+y&other=1")
                .unwrap();
        assert_eq!(p.callback.as_deref(), Some("Pusher.auth_callbacks['1']"));
        assert_eq!(p.socket_id.as_deref(), Some("1.2"));
        assert_eq!(p.channel_name.as_deref(), Some("private-a@b"));
        assert_eq!(p.token.as_deref(), Some("x y"));
        assert!(matches!(p.socket_id, Some(Cow::Borrowed(_))), "undecoded values are borrowed");
    }

    #[test]
    fn refuses_duplicates_of_any_parameter() {
        assert_eq!(parse("socket_id=1.2&socket_id=1.3"), Err(Refusal::DuplicateParameter));
        assert_eq!(parse("a=1&b=2&a=3"), Err(Refusal::DuplicateParameter));
        assert_eq!(parse("token=a&token=b"), Err(Refusal::DuplicateParameter));
        // Encoded and plain spellings of one name are one name.
        assert_eq!(parse("socket_id=1.2&socket%5Fid=1.3"), Err(Refusal::DuplicateParameter));
    }

    #[test]
    fn keeps_a_sound_callback_past_other_problems() {
        let mut c = ParamCollector::new("token");
        c.push_form("socket_id=1&socket_id=2&callback=Pusher.auth_callbacks%5B'1'%5D&x=%FF");
        let got = c.finish();
        assert_eq!(got.error, Some(Refusal::DuplicateParameter));
        assert!(!got.callback_unusable);
        assert_eq!(got.params.callback.as_deref(), Some("Pusher.auth_callbacks['1']"));
        for bad in ["callback=a&callback=b", "callback=%FF"] {
            let mut c = ParamCollector::new("token");
            c.push_form(bad);
            assert!(c.finish().callback_unusable, "{bad}");
        }
    }

    #[test]
    fn refuses_bad_encoding() {
        assert_eq!(parse("channel_name=%FF"), Err(Refusal::InvalidEncoding));
        assert_eq!(parse("channel_name=%zz"), Err(Refusal::InvalidEncoding));
        assert_eq!(parse("channel_name=%4"), Err(Refusal::InvalidEncoding));
        assert_eq!(parse("%C3%28=1"), Err(Refusal::InvalidEncoding));
        assert_eq!(decode_component("%E2%80%A8").unwrap(), "\u{2028}");
    }

    #[test]
    fn bounds_parameter_count() {
        let many: Vec<String> = (0..=MAX_PARAMS).map(|i| format!("p{i}=1")).collect();
        assert_eq!(parse(&many.join("&")), Err(Refusal::PayloadTooLarge));
        assert!(parse(&many[..MAX_PARAMS].join("&")).is_ok());
    }

    #[test]
    fn batches_as_pusher_js_auth_sends_them() {
        // pusher-js-auth's body starts with '&' and sends brackets unencoded.
        let p = parse("&socket_id=1.2&channel_name[0]=private-a&channel_name[1]=presence-b&token=t").unwrap();
        assert_eq!(p.batch, [(0, Cow::Borrowed("private-a")), (1, Cow::Borrowed("presence-b"))]);
        assert_eq!(p.channel_name, None);
        // Encoded brackets are the same name.
        let p = parse("channel_name%5B0%5D=private-a&channel_name%5B10%5D=private-b").unwrap();
        assert_eq!(p.batch.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [0, 10]);
        assert_eq!(parse("channel_name[0]=a&channel_name[0]=b"), Err(Refusal::DuplicateParameter));
        assert_eq!(parse("channel_name[0]=a&channel_name%5B0%5D=b"), Err(Refusal::DuplicateParameter));
        // Other spellings are ordinary (ignored) parameters.
        for other in
            ["channel_name[]=a", "channel_name[00]=a", "channel_name[100]=a", "channel_name[x]=a", "channel_name[-1]=a"]
        {
            assert!(parse(other).unwrap().batch.is_empty(), "{other}");
        }
        let full: Vec<String> = (0..MAX_BATCH).map(|i| format!("channel_name[{i}]=private-{i}")).collect();
        assert_eq!(parse(&full.join("&")).unwrap().batch.len(), MAX_BATCH);
        let over: Vec<String> = (0..=MAX_BATCH).map(|i| format!("channel_name[{i}]=private-{i}")).collect();
        assert_eq!(parse(&over.join("&")), Err(Refusal::BatchTooLarge));
    }

    #[test]
    fn custom_token_parameter_name() {
        let mut c = ParamCollector::new("jwt");
        c.push_form("jwt=abc&token=ignored");
        assert_eq!(c.finish().params.token.as_deref(), Some("abc"));
    }

    #[test]
    fn hex_digits_of_either_case() {
        // Lowercase and mixed-case hex too. Each ASCII character as either
        // digit, against the standard library (a high digit of 8 or more
        // gives a byte that is not UTF-8 on its own).
        for c in (0..0x80).map(char::from) {
            let low = c.to_digit(16).map(|d| char::from(d as u8).to_string());
            assert_eq!(decode_component(&format!("%0{c}")).ok().map(Cow::into_owned), low, "{c:?}");
            let high = c.to_digit(16).filter(|d| *d < 8).map(|d| char::from(d as u8 * 16).to_string());
            assert_eq!(decode_component(&format!("%{c}0")).ok().map(Cow::into_owned), high, "{c:?}");
        }
    }

    #[test]
    fn lowercase_and_mixed_case_escapes_decode_as_uppercase() {
        for (lower, upper) in [
            ("%5b", "%5B"),
            ("%5d", "%5D"),
            ("%e2%80%a8", "%E2%80%A8"),
            ("%E2%80%a9", "%E2%80%A9"),
            ("%e2%80%99", "%E2%80%99"),
            ("%c3%a9", "%C3%A9"),
            ("%aF%3a", "%AF%3A"),
            ("%2f%2F%2b", "%2F%2F%2B"),
        ] {
            assert_eq!(decode_component(lower), decode_component(upper), "{lower}");
        }
        assert_eq!(decode_component("%5b").unwrap(), "[");
        assert_eq!(decode_component("%e2%80%a8").unwrap(), "\u{2028}");
        assert_eq!(decode_component("O%e2%80%99Brien").unwrap(), "O’Brien");
        assert_eq!(decode_component("%fa").unwrap_err(), Refusal::InvalidEncoding, "a lone continuation byte");
        assert_eq!(decode_component("%3a%3A%0a").unwrap(), "::\n");
        let p = parse("callback=Pusher.auth_callbacks%5b'1'%5d&channel_name%5b3%5d=private-a").unwrap();
        assert_eq!(p.callback.as_deref(), Some("Pusher.auth_callbacks['1']"));
        assert_eq!(p.batch, [(3, Cow::Borrowed("private-a"))]);
        assert_eq!(parse("socket_id=1.2&socket%5fid=1.3"), Err(Refusal::DuplicateParameter));
    }

    #[test]
    fn decoding_edges() {
        assert_eq!(decode_component("a%2Bb+c").unwrap(), "a+b c", "an encoded '+' is a plus");
        assert_eq!(decode_component("%25").unwrap(), "%");
        assert_eq!(decode_component("%2525").unwrap(), "%25", "decoded once");
        assert_eq!(decode_component("++").unwrap(), "  ");
        assert_eq!(decode_component("%41%42c%44").unwrap(), "ABcD");
        assert_eq!(decode_component("%00").unwrap(), "\0");
        assert_eq!(decode_component("%7f%7F").unwrap(), "\u{7f}\u{7f}");
        assert!(matches!(decode_component("%41"), Ok(Cow::Owned(_))));
        for bad in ["%", "a%", "%a", "%4g", "%g4", "%-1", "%+1", "% 1", "%%41", "%/0", "%:0", "%@0", "%`0", "%G0"] {
            assert_eq!(decode_component(bad), Err(Refusal::InvalidEncoding), "{bad}");
        }
        // A pair without '=' has an empty value.
        let p = parse("token&socket_id=1.2").unwrap();
        assert_eq!(p.token.as_deref(), Some(""));
        assert_eq!(p.socket_id.as_deref(), Some("1.2"));
        // A bad key is refused, even when its value is sound.
        assert_eq!(parse("%zz=1"), Err(Refusal::InvalidEncoding));
    }

    #[test]
    fn first_problem_is_kept() {
        let mut c = ParamCollector::new("token");
        c.push_form("a=%FF&a=1&socket_id=1&socket_id=2");
        assert_eq!(c.finish().error, Some(Refusal::InvalidEncoding));
        let mut c = ParamCollector::new("token");
        c.push_form("a=1&a=2&b=%FF");
        assert_eq!(c.finish().error, Some(Refusal::DuplicateParameter));
        // A bad value of an ignored or batch parameter is still a refusal.
        assert_eq!(parse("other=%FF"), Err(Refusal::InvalidEncoding));
        assert_eq!(parse("channel_name[0]=%FF"), Err(Refusal::InvalidEncoding));
        assert_eq!(parse("token=%FF"), Err(Refusal::InvalidEncoding));
    }
}
