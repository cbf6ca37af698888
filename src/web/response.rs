//! Response encoding: JSON for AJAX, hardened JSONP for `<script>` requests,
//! and the headers every answer carries.

use std::borrow::Cow;

use serde::Serialize;

use crate::error::Refusal;
use crate::pusher::names::{ChannelKind, ChannelName, JsonpCallback, SocketId};
use crate::web::params::AuthParams;
use crate::web::request::Route;

/// A successful authorization: `auth` plus what the channel type needs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub(crate) struct AuthBody {
    /// `<key>:<hex signature>`.
    pub auth: String,
    /// Presence channels: the exact JSON string that was signed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel_data: Option<String>,
    /// Encrypted channels: base64 per-channel key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shared_secret: Option<String>,
    /// User authentication: the exact JSON string that was signed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_data: Option<String>,
}

impl AuthBody {
    /// `{"auth":…[,"channel_data":…][,"shared_secret":…][,"user_data":…]}`.
    pub(crate) fn to_json(&self) -> String {
        serde_json::to_string(self).expect("strings serialize")
    }
}

/// `value` as a JSON string.
pub(crate) fn json_string(value: &str) -> String {
    serde_json::to_string(value).expect("strings serialize")
}

/// `Content-Type` of JSON answers.
pub(crate) const JSON: &str = "application/json; charset=utf-8";
/// `Content-Type` of JSONP answers.
pub(crate) const JAVASCRIPT: &str = "application/javascript; charset=utf-8";

/// An HTTP answer, independent of how it travels back through API Gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Response {
    /// HTTP status.
    pub status: u16,
    /// Headers in the order they are sent.
    pub(crate) headers: Vec<(&'static str, Cow<'static, str>)>,
    /// Body text (empty for preflights).
    pub body: String,
    /// The refusal this answer carries, `None` for an answer that grants: the
    /// request's outcome for its log line (a JSONP denial is sent as 200 but
    /// logged with the refusal's status and reason).
    pub(crate) refusal: Option<Refusal>,
}

impl Response {
    fn new(status: u16, content_type: Option<&'static str>, body: String) -> Self {
        let mut headers = Vec::with_capacity(6);
        headers.extend(content_type.map(|content_type| ("Content-Type", Cow::Borrowed(content_type))));
        headers.push(("X-Content-Type-Options", Cow::Borrowed("nosniff")));
        headers.push(("Cache-Control", Cow::Borrowed("no-store, private")));
        Self { status, headers, body, refusal: None }
    }

    fn refusing(mut self, refusal: Refusal) -> Self {
        self.refusal = Some(refusal);
        self
    }

    /// A JSON answer to an AJAX request: an authorization or a batch.
    pub(crate) fn json(json: String) -> Self {
        Self::new(200, Some(JSON), json)
    }

    /// A script calling the callback with a JSON answer (an authorization, a
    /// batch, or the error object of a denial):
    /// `/**/typeof CB === 'function' && CB(<json>);`.
    pub(crate) fn jsonp(callback: JsonpCallback<'_>, json: &str) -> Self {
        let cb = callback.as_str();
        Self::script_call(&format!("/**/typeof {cb} === 'function' && {cb}("), json)
    }

    /// A JSON error: `{"error":"<code>","status":<status>}` with that status;
    /// a 401 carries its `WWW-Authenticate` challenge.
    pub(crate) fn error(refusal: Refusal) -> Self {
        let response = Self::new(refusal.status(), Some(JSON), error_json(refusal, false)).refusing(refusal);
        match refusal.bearer_challenge() {
            Some(challenge) => response.with_header("WWW-Authenticate", challenge),
            None => response,
        }
    }

    /// The JSONP refusal of a request whose callback is sound. Which one
    /// depends on the route, on whether the request is one pusher-js sends
    /// (`read_cleanly`: read without error; one channel, not a batch) with a
    /// socket id and channel name that pass validation (only then are they
    /// written into the script, to reach that channel), and on the channel
    /// prefix (README, "Answers to refusals"). A signin denial names the
    /// socket id when it is valid (to tell that connection), never anything else.
    ///
    /// Any other channel denial is sent as 200 (a script answered with 4xx
    /// never runs and pusher-js would wait forever) and calls the callback
    /// with an error object without `auth`; the log records the status it
    /// stands for. A presence channel's error object also carries the fixed
    /// `"channel_data":"{}"`: pusher-js takes any JSONP answer as a success;
    /// without `channel_data` a presence channel on a connection that asked
    /// to sign in waits for the signin and then subscribes without
    /// `channel_data`, which crashes the connection on some servers (sockudo
    /// 5.2.0) or waits forever when the signin was refused. With it,
    /// pusher-js sends `pusher:subscribe` without `auth`, which every
    /// Pusher-protocol server refuses for that channel alone.
    pub(crate) fn jsonp_refusal(
        route: Route,
        callback: JsonpCallback<'_>,
        params: &AuthParams<'_>,
        read_cleanly: bool,
        refusal: Refusal,
    ) -> Self {
        let socket_id = params.socket_id.as_deref().filter(|_| read_cleanly).and_then(|s| SocketId::parse(s).ok());
        let channel = params.channel_name.as_deref();
        match (route, socket_id, channel.and_then(|c| ChannelName::parse(c).ok())) {
            (Route::UserAuth, Some(socket_id), _) => Self::jsonp_signin_denial(callback, socket_id, refusal),
            (Route::UserAuth, None, _) => Self::jsonp_user_auth_denial(refusal),
            (Route::ChannelAuth, Some(socket_id), Some(channel)) if params.batch.is_empty() => {
                Self::jsonp_channel_denial(callback, socket_id, channel, refusal)
            }
            (Route::ChannelAuth, ..) => {
                let presence = channel.and_then(ChannelKind::of) == Some(ChannelKind::Presence);
                Self::jsonp(callback, &error_json(refusal, presence)).refusing(refusal)
            }
        }
    }

    /// JSONP denial of one channel whose socket id and name are valid: a script
    /// that reaches the channel that asked instead of calling the callback.
    /// pusher-js takes any JSONP answer as a success (calling the callback with
    /// an error object makes it subscribe with an empty `auth`), so the script
    /// finds the `Pusher.instances` entry whose `connection.socket_id` is
    /// `socket_id`, takes `channel(name)` and, if it is still waiting for this
    /// answer, does what pusher-js does on an AJAX error: clears
    /// `subscriptionPending` (a later `subscribe` asks again) and emits
    /// `pusher:subscription_error` with `{type:'AuthError',error,status}`.
    /// Nothing is sent to the Pusher server. When `Pusher` is not a global the
    /// script does nothing (no callback could be reached either); when
    /// `Pusher` has no `instances` (not pusher-js) the callback gets the error
    /// object of the other channel denials (see [`Response::jsonp_refusal`]);
    /// when no instance has that socket id or the channel is not waiting, the
    /// answer is stale (pusher-js asks again for every channel once it
    /// reconnects) and nothing happens. The arguments are the validated socket
    /// id and channel name, the callback's number and the fixed error object,
    /// written as JSON and escaped for a script.
    pub(crate) fn jsonp_channel_denial(
        callback: JsonpCallback<'_>,
        socket_id: SocketId<'_>,
        channel: ChannelName<'_>,
        refusal: Refusal,
    ) -> Self {
        let error = error_json(refusal, channel.kind() == ChannelKind::Presence);
        let args = [socket_id.as_str(), channel.as_str(), callback.id()].map(json_string).join(",");
        Self::script_call(CHANNEL_DENIAL_HEAD, &format!("{args},{error}")).refusing(refusal)
    }

    /// JSONP denial of user authentication for a valid socket id: a script that
    /// never calls pusher-js's callback (so pusher-js sends no unsigned
    /// `pusher:signin`, see [`Response::jsonp_user_auth_denial`]) but tells
    /// whoever can take it: a callback marked `acceptsErrors === true` (the
    /// client helper's) gets the error object; otherwise each `Pusher.instances`
    /// entry whose `connection.socket_id` is `socket_id` gets
    /// `pusher:signin_error` `{type:'AuthError',error,status}` emitted on its
    /// `user` (pusher-js 8's shape for AJAX signin errors; no other state is
    /// touched). Without a global `Pusher` it does nothing.
    pub(crate) fn jsonp_signin_denial(callback: JsonpCallback<'_>, socket_id: SocketId<'_>, refusal: Refusal) -> Self {
        let args = [socket_id.as_str(), callback.id()].map(json_string).join(",");
        Self::script_call(SIGNIN_DENIAL_HEAD, &format!("{args},{}", error_json(refusal, false))).refusing(refusal)
    }

    /// `head` (a function expression) called with `args`, escaped for a
    /// script: U+2028, U+2029, `<`, `>` and `&` become `\uXXXX` escapes (they
    /// can only occur inside JSON strings, so the value is unchanged).
    fn script_call(head: &str, args: &str) -> Self {
        let mut body = String::with_capacity(head.len() + args.len() + 2);
        body.push_str(head);
        escape_for_script(args, &mut body);
        body.push_str(");");
        Self::new(200, Some(JAVASCRIPT), body)
    }

    /// JSONP denial of user authentication (`pusher.signin()`): a script that
    /// does not call the callback. pusher-js takes any JSONP answer as a
    /// success and would send `pusher:signin` without a signature, which a
    /// Pusher-protocol server may answer by closing the whole connection (and
    /// close codes 4000–4099 stop pusher-js from reconnecting). Not calling it
    /// leaves the connection as it was: not signed in, channels working.
    pub(crate) fn jsonp_user_auth_denial(refusal: Refusal) -> Self {
        Self::new(200, Some(JAVASCRIPT), format!("/**/void {};", error_json(refusal, false))).refusing(refusal)
    }

    /// An empty answer (CORS preflight).
    pub(crate) fn no_content() -> Self {
        Self::new(204, None, String::new())
    }

    /// The CORS headers of an AJAX answer: `Vary: Origin`, and the allowed
    /// `origin` the request came from, if any.
    pub(crate) fn cors(self, origin: Option<&str>) -> Self {
        let response = self.with_header("Vary", "Origin");
        match origin {
            Some(origin) => response.with_header("Access-Control-Allow-Origin", origin.to_owned()),
            None => response,
        }
    }

    /// Adds a header.
    pub(crate) fn with_header(mut self, name: &'static str, value: impl Into<Cow<'static, str>>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    #[cfg(test)]
    /// The value of a header, by exact name.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| &**v)
    }
}

/// The fixed text of [`Response::jsonp_channel_denial`] before its arguments
/// `("<socket id>","<channel>","<N>",{"error":…,"status":…[,"channel_data":"{}"]});`.
/// `s`, `n`, `k`, `e`: socket id, channel name, callback number, error object.
pub const CHANNEL_DENIAL_HEAD: &str = concat!(
    "/**/(function(s,n,k,e){",
    "var P=typeof Pusher==='undefined'?null:Pusher,l=P&&P.instances,i,p,c;",
    "if(!P)return;",
    "if(!l||typeof l.length!=='number'){",
    "if(P.auth_callbacks&&typeof P.auth_callbacks[k]==='function')P.auth_callbacks[k](e);",
    "return;}",
    "for(i=l.length;i--;){p=l[i];",
    "if(p&&p.connection&&p.connection.socket_id===s&&typeof p.channel==='function'){",
    "c=p.channel(n);",
    "if(c&&c.subscriptionPending&&typeof c.emit==='function'){",
    "c.subscriptionPending=false;",
    "c.emit('pusher:subscription_error',{type:'AuthError',error:e.error,status:e.status});",
    "}}}})(",
);

/// The fixed text of [`Response::jsonp_signin_denial`] before its arguments
/// `("<socket id>","<N>",{"error":…,"status":…});`. `s`, `k`, `e`: socket id,
/// callback number, error object.
pub const SIGNIN_DENIAL_HEAD: &str = concat!(
    "/**/(function(s,k,e){",
    "var P=typeof Pusher==='undefined'?null:Pusher,f,l,i,p,u;",
    "if(!P)return;",
    "f=P.auth_callbacks&&P.auth_callbacks[k];",
    "if(typeof f==='function'&&f.acceptsErrors===true){f(e);return;}",
    "l=P.instances;",
    "if(!l||typeof l.length!=='number')return;",
    "for(i=l.length;i--;){p=l[i];",
    "u=p&&p.connection&&p.connection.socket_id===s?p.user:null;",
    "if(u&&typeof u.emit==='function')",
    "u.emit('pusher:signin_error',{type:'AuthError',error:e.error,status:e.status});",
    "}})(",
);

/// `{"error":"<code>","status":<status>}` (codes are fixed snake_case words),
/// with the fixed `"channel_data":"{}"` added for a `presence` channel's
/// denial (see [`Response::jsonp_refusal`]).
fn error_json(refusal: Refusal, presence: bool) -> String {
    let channel_data = if presence { ",\"channel_data\":\"{}\"" } else { "" };
    format!("{{\"error\":\"{}\",\"status\":{}{channel_data}}}", refusal.public_code(), refusal.status())
}

/// Appends `json` with the characters that are unsafe in a script escaped.
pub(crate) fn escape_for_script(json: &str, out: &mut String) {
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::AuthFailure;

    /// The JSONP refusal of one channel asked without a socket id (so no
    /// channel is reached): the callback gets the error object.
    fn denial(callback: JsonpCallback<'_>, channel: &str, refusal: Refusal) -> Response {
        let params = AuthParams { channel_name: Some(channel.into()), ..AuthParams::default() };
        Response::jsonp_refusal(Route::ChannelAuth, callback, &params, true, refusal)
    }

    #[test]
    fn jsonp_escapes_script_breakers_but_keeps_the_value() {
        let body = AuthBody {
            auth: "k:0".into(),
            channel_data: Some("{\"n\":\"</script><b>&\u{2028}\u{2029}é🎉'\"}".into()),
            ..AuthBody::default()
        };
        let cb = JsonpCallback::parse("Pusher.auth_callbacks['7']").unwrap();
        let r = Response::jsonp(cb, &body.to_json());
        let prefix = "/**/typeof Pusher.auth_callbacks['7'] === 'function' && Pusher.auth_callbacks['7'](";
        assert!(r.body.starts_with(prefix) && r.body.ends_with(");"), "{}", r.body);
        let json = &r.body[prefix.len()..r.body.len() - 2];
        for c in ['<', '>', '&', '\u{2028}', '\u{2029}'] {
            assert!(!json.contains(c), "{c:?} left in {json}");
        }
        assert!(json.contains("\\u003c/script\\u003e"));
        let back: AuthBody = serde_json::from_str(json).unwrap();
        assert_eq!(back, body);
        assert_eq!(r.header("Content-Type"), Some(JAVASCRIPT));
    }

    #[test]
    fn every_answer_has_nosniff_and_no_store() {
        let cb = JsonpCallback::parse("Pusher.auth_callbacks['1']").unwrap();
        for r in [
            Response::json(AuthBody::default().to_json()),
            Response::error(Refusal::Forbidden),
            denial(cb, "private-a", Refusal::Forbidden),
            denial(cb, "presence-a", Refusal::Forbidden),
            Response::jsonp_channel_denial(
                cb,
                SocketId::parse("1.2").unwrap(),
                ChannelName::parse("private-a").unwrap(),
                Refusal::Forbidden,
            ),
            Response::jsonp_user_auth_denial(Refusal::Forbidden),
            Response::no_content(),
        ] {
            assert_eq!(r.header("X-Content-Type-Options"), Some("nosniff"));
            assert_eq!(r.header("Cache-Control"), Some("no-store, private"));
        }
    }

    #[test]
    fn presence_denial_carries_fixed_channel_data_and_no_auth() {
        let cb = JsonpCallback::parse("Pusher.auth_callbacks['3']").unwrap();
        let r = denial(cb, "presence-a", Refusal::Forbidden);
        assert_eq!(r.status, 200);
        assert_eq!(r.header("Content-Type"), Some(JAVASCRIPT));
        assert_eq!(
            r.body,
            "/**/typeof Pusher.auth_callbacks['3'] === 'function' && Pusher.auth_callbacks['3']({\"error\":\"forbidden\",\"status\":403,\"channel_data\":\"{}\"});"
        );
    }

    #[test]
    fn channel_denial_is_the_fixed_script_with_validated_arguments() {
        let cb = JsonpCallback::parse("Pusher.auth_callbacks['12']").unwrap();
        let socket_id = SocketId::parse("123.456").unwrap();
        let cases = [
            ("private-a", Refusal::Forbidden, r#""123.456","private-a","12",{"error":"forbidden","status":403}"#),
            (
                "private-encrypted-a",
                Refusal::Unauthenticated(AuthFailure::TokenExpired),
                r#""123.456","private-encrypted-a","12",{"error":"token_expired","status":401}"#,
            ),
            (
                "presence-a_-=@,.;Z9",
                Refusal::Forbidden,
                r#""123.456","presence-a_-=@,.;Z9","12",{"error":"forbidden","status":403,"channel_data":"{}"}"#,
            ),
        ];
        for (name, refusal, args) in cases {
            let r = Response::jsonp_channel_denial(cb, socket_id, ChannelName::parse(name).unwrap(), refusal);
            assert_eq!(r.status, 200);
            assert_eq!(r.header("Content-Type"), Some(JAVASCRIPT));
            assert_eq!(r.body, format!("{CHANNEL_DENIAL_HEAD}{args});"));
            // The arguments are one JSON array: nothing but the four values.
            let parsed: serde_json::Value = serde_json::from_str(&format!("[{args}]")).unwrap();
            assert_eq!(parsed[1], name);
            assert!(parsed[3].get("auth").is_none());
        }
    }

    #[test]
    fn channel_denial_head_reaches_the_channel_not_the_server() {
        // Calls the callback only where `Pusher` has no `instances` (not pusher-js);
        // otherwise emits pusher-js's own AJAX error shape on the pending channel.
        let head = CHANNEL_DENIAL_HEAD;
        assert!(head.starts_with("/**/(function(s,n,k,e){") && head.ends_with("})("));
        assert_eq!(head.matches("P.auth_callbacks[k](e)").count(), 1);
        assert!(head.contains("if(!l||typeof l.length!=='number'){"));
        assert!(head.contains("p.connection.socket_id===s"));
        assert!(head.contains("c.subscriptionPending=false;"));
        assert!(head.contains("c.emit('pusher:subscription_error',{type:'AuthError',error:e.error,status:e.status});"));
        assert!(!head.contains("send_event") && !head.contains("subscribe("));
        // No `<` (so no `</script`) and no string delimiter but `'`.
        for c in ['<', '"', '`', '\u{2028}', '\u{2029}'] {
            assert!(!head.contains(c), "{c:?} in the fixed text");
        }
    }

    #[test]
    fn signin_denial_calls_only_a_callback_that_accepts_errors() {
        let cb = JsonpCallback::parse("Pusher.auth_callbacks['4']").unwrap();
        let r = Response::jsonp_signin_denial(cb, SocketId::parse("1.2").unwrap(), Refusal::Forbidden);
        assert_eq!(r.status, 200);
        assert_eq!(r.header("Content-Type"), Some(JAVASCRIPT));
        assert_eq!(r.body, format!(r#"{SIGNIN_DENIAL_HEAD}"1.2","4",{{"error":"forbidden","status":403}});"#));
        let head = SIGNIN_DENIAL_HEAD;
        assert_eq!(head.matches("f(e)").count(), 1);
        assert!(head.contains("if(typeof f==='function'&&f.acceptsErrors===true){f(e);return;}"));
        assert!(head.contains("p.connection.socket_id===s?p.user:null;"));
        assert!(!head.contains("send_event") && !head.contains("signin("));
        for c in ['<', '"', '`', '\u{2028}', '\u{2029}'] {
            assert!(!head.contains(c), "{c:?} in the fixed text");
        }
    }

    #[test]
    fn user_auth_denial_never_calls_the_callback() {
        let r = Response::jsonp_user_auth_denial(Refusal::Unauthenticated(AuthFailure::TokenMissing));
        assert_eq!(r.status, 200);
        assert_eq!(r.header("Content-Type"), Some(JAVASCRIPT));
        assert_eq!(r.body, "/**/void {\"error\":\"unauthenticated\",\"status\":401};");
        assert!(!r.body.contains("auth_callbacks"));
    }

    #[test]
    fn denial_has_no_auth_and_names_the_status() {
        let cb = JsonpCallback::parse("Pusher.auth_callbacks['2']").unwrap();
        let r = denial(cb, "private-a", Refusal::Forbidden);
        assert_eq!(r.status, 200);
        assert_eq!(
            r.body,
            "/**/typeof Pusher.auth_callbacks['2'] === 'function' && Pusher.auth_callbacks['2']({\"error\":\"forbidden\",\"status\":403});"
        );
    }

    fn escaped(json: &str) -> String {
        let mut out = String::new();
        escape_for_script(json, &mut out);
        out
    }

    #[test]
    fn other_characters_starting_with_0xe2_pass_unchanged() {
        // ’ “ ” – — … € (and the neighbours of U+2028/U+2029) start with
        // 0xE2 too; they are not script breakers and stay as they are.
        for text in [
            "O’Brien",
            "“quoted” – dash — long … more €",
            "€",
            "x€",
            "’’’",
            "\u{2027}\u{202A}\u{2020}\u{2030}\u{2068}\u{2069}\u{20A8}",
            "{\"name\":\"O’Brien\"}",
        ] {
            assert_eq!(escaped(text), text, "{text}");
        }
    }

    #[test]
    fn script_breakers_next_to_other_0xe2_characters_are_escaped() {
        for (text, expected) in [
            ("’\u{2028}", "’\\u2028"),
            ("\u{2029}’", "\\u2029’"),
            ("’<’", "’\\u003c’"),
            ("O’Brien\u{2028}<b>&…€\u{2029}", "O’Brien\\u2028\\u003cb\\u003e\\u0026…€\\u2029"),
            ("€\u{2028}\u{2028}€", "€\\u2028\\u2028€"),
            ("\u{2028}", "\\u2028"),
            ("a\u{2029}", "a\\u2029"),
            ("<>&", "\\u003c\\u003e\\u0026"),
            ("", ""),
            ("plain", "plain"),
        ] {
            assert_eq!(escaped(text), expected, "{text:?}");
        }
    }

    #[test]
    fn jsonp_keeps_names_with_curly_quotes() {
        // A presence user_info and a signin user_data with O’Brien, as the handler builds them.
        let body = AuthBody {
            auth: "k:0".into(),
            channel_data: Some("{\"user_id\":\"1\",\"user_info\":{\"name\":\"O’Brien – “Bob” …\"}}".into()),
            user_data: Some("{\"id\":\"1\",\"name\":\"O’Brien\u{2028}€\"}".into()),
            ..AuthBody::default()
        };
        let cb = JsonpCallback::parse("Pusher.auth_callbacks['4']").unwrap();
        let r = Response::jsonp(cb, &body.to_json());
        let prefix = "/**/typeof Pusher.auth_callbacks['4'] === 'function' && Pusher.auth_callbacks['4'](";
        assert!(r.body.starts_with(prefix) && r.body.ends_with(");"), "{}", r.body);
        let json = &r.body[prefix.len()..r.body.len() - 2];
        assert!(json.contains("O’Brien – “Bob” …"), "{json}");
        assert!(!json.contains('\u{2028}'), "{json}");
        assert!(json.contains("O’Brien\\u2028€"), "{json}");
        let back: AuthBody = serde_json::from_str(json).unwrap();
        assert_eq!(back, body);
    }
}
