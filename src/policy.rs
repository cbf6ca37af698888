//! Which channels a user may join: `CHANNEL_RULES`, deny by default.
//!
//! A rule is channel-name characters plus `*` (any run of channel characters,
//! possibly empty) and `{claim}` (exactly the user's value of that claim, which
//! must itself be channel characters; `{sub}` is the user id). A channel is
//! allowed when some rule matches the whole name, case-sensitively, and the
//! rule is for the same kind of channel: a rule's kind comes from its literal
//! start (`private-`, `private-encrypted-` or `presence-`), so `private-*`
//! never grants a `private-encrypted-` channel.
//!
//! **Placeholders are unambiguous.** A rule must never give one channel name
//! to two users whose claim values differ: with `private-{org}-{sub}`, the
//! users (org `a`, sub `b-c`) and (org `a-b`, sub `c`) would both get
//! `private-a-b-c`; with `private-encrypted-org-{org_id}-*`, org `acme` would
//! get org `acme-corp`'s channels. So each placeholder is delimited:
//!
//! - a placeholder with no `*` before it is read from the left, and its value
//!   may not contain the character that follows it in the rule (the first
//!   such character in the name ends the value; at the end of a rule there is
//!   no restriction, so `private-user-{sub}` takes any sub, dashes included);
//! - a placeholder with a `*` before it (and none after) is read from the
//!   right, and its value may not contain the character that precedes it;
//! - a placeholder next to `*` or to another placeholder, or with `*` on both
//!   sides, fails the cold start: nothing could delimit it.
//!
//! A value that contains its delimiter makes the rule not match for that
//! user (the request is refused, never signed for someone else's channel).
//! Given a rule and a channel name, each placeholder's value is then fixed by
//! the name alone, so two users whose values differ never share a channel
//! through one rule. Rules are checked one at a time: two rules with
//! different placeholders that can produce the same name are the policy
//! writer's to avoid.
//!
//! **`?member`.** A rule ending in `?member` (`presence-chat-*?member`) also
//! needs an item for (channel, user) in the membership table
//! (the `membership` module): it grants [`Grant::Member`], which the endpoint
//! checks before signing. A plain rule that matches wins over it (no lookup).

use serde_json::Value;

use crate::error::Refusal;
use crate::identity::user::{is_unverified, User};
use crate::pusher::names::{is_channel_char, ChannelKind, ChannelName};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Star,
    /// A placeholder and the byte its value may not contain (its delimiter), if any.
    Claim(String, Option<u8>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    /// The rule as configured.
    text: String,
    kind: ChannelKind,
    parts: Vec<Part>,
    /// Ends in `?member`: an item in the membership table is needed too.
    member: bool,
}

/// What a matching rule grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Grant {
    /// The channel, signed without a lookup.
    Open,
    /// The channel if the membership table holds an item for (channel, user).
    Member,
}

/// The parsed `CHANNEL_RULES`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ChannelPolicy {
    rules: Vec<Rule>,
}

impl ChannelPolicy {
    /// Parses rules separated by white space (spaces are not valid in channel
    /// names); a rule that cannot be parsed fails the cold start, its error
    /// naming the rule (configuration text, not client input) and the problem.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let rule = |text| parse_rule(text).map_err(|problem| format!("the rule {text:?} {problem}"));
        Ok(Self { rules: text.split_whitespace().map(rule).collect::<Result<_, _>>()? })
    }

    #[cfg(test)]
    /// True when no rule is configured (every channel is refused).
    pub(crate) fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Every rule with, for those of the channel's kind, the first step that
    /// failed for `user` (`Ok` when it matched): what `pusher-auth explain` shows.
    pub(crate) fn explain<'a>(
        &'a self,
        user: &User,
        channel: &'a ChannelName<'a>,
    ) -> Vec<(&'a str, Option<Result<(), Miss<'a>>>)> {
        let name = channel.as_str().as_bytes();
        self.rules
            .iter()
            .map(|rule| {
                let outcome = (rule.kind == channel.kind()).then(|| rule.check(user, name, false));
                (rule.text.as_str(), outcome)
            })
            .collect()
    }

    /// Whether some rule is a `?member` rule.
    pub(crate) fn has_member_rules(&self) -> bool {
        self.rules.iter().any(|rule| rule.member)
    }

    /// The same, with what is granted, or the refusal:
    /// [`Refusal::ClaimUnverified`] when a rule would have matched through an
    /// unverified `{email}` or `{phone_number}`, else [`Refusal::Forbidden`].
    pub(crate) fn decide(&self, user: &User, channel: ChannelName<'_>) -> Result<Grant, Refusal> {
        let name = channel.as_str().as_bytes();
        let mut rules = self.rules.iter().filter(|rule| rule.kind == channel.kind());
        let mut matching = rules.clone().filter(|rule| rule.check(user, name, false).is_ok());
        if let Some(first) = matching.next() {
            let open = !first.member || matching.any(|rule| !rule.member);
            return Ok(if open { Grant::Open } else { Grant::Member });
        }
        if rules.any(|rule| rule.check(user, name, true).is_ok()) {
            return Err(Refusal::ClaimUnverified);
        }
        Err(Refusal::Forbidden)
    }
}

/// The rule's literals, `*` and `{claim}` placeholders, in order.
fn tokens(text: &str) -> Result<Vec<Part>, &'static str> {
    let mut parts = Vec::new();
    let mut literal = String::new();
    let flush = |literal: &mut String, parts: &mut Vec<Part>| {
        if !literal.is_empty() {
            parts.push(Part::Literal(std::mem::take(literal)));
        }
    };
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '*' => {
                flush(&mut literal, &mut parts);
                if parts.last() != Some(&Part::Star) {
                    parts.push(Part::Star);
                }
            }
            '{' => {
                let rest = chars.as_str();
                let (name, after) = rest.split_once('}').ok_or("has a '{' without '}'")?;
                chars = after.chars();
                if name.is_empty()
                    || !name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b':' | b'.'))
                {
                    return Err("has an empty or invalid {claim} name");
                }
                flush(&mut literal, &mut parts);
                parts.push(Part::Claim(name.to_owned(), None));
            }
            '}' => return Err("has a '}' without '{'"),
            '"' | '\'' => return Err("has a quote: write the rules without quotes, separated by spaces"),
            c if c.is_ascii() && is_channel_char(c as u8) => literal.push(c),
            _ => {
                return Err(
                    "has a character that is not valid in channel names (letters, digits, _-=@,.; and * {claim})",
                )
            }
        }
    }
    flush(&mut literal, &mut parts);
    Ok(parts)
}

/// A rule, with its `?member` marker (see the module docs), or what is wrong with it.
fn parse_rule(text: &str) -> Result<Rule, &'static str> {
    let (body, member) = text.strip_suffix("?member").map_or((text, false), |body| (body, true));
    if body.contains('?') {
        return Err("has a '?' other than a final ?member");
    }
    let mut parts = tokens(body)?;
    // Channel names may contain commas, so rules are separated by white space;
    // a comma followed by a rule's start is a list written the wrong way.
    // A rule ending in one is the same list with a space after each comma.
    if [",private-", ",presence-"].iter().any(|start| body.contains(start)) || body.ends_with(',') {
        return Err("has a ',' before private- or presence-: separate rules with spaces (a comma is valid inside a channel name), e.g. CHANNEL_RULES='private-* presence-*'");
    }
    let head = match parts.first() {
        Some(Part::Literal(head)) => head.as_str(),
        _ => "",
    };
    let kind = ChannelKind::of(head).ok_or("must start with private-, private-encrypted- or presence-")?;
    delimit_placeholders(&mut parts)?;
    Ok(Rule { text: text.to_owned(), kind, parts, member })
}

/// Gives each placeholder its delimiter (see the module docs), or says why
/// the rule is ambiguous.
fn delimit_placeholders(parts: &mut [Part]) -> Result<(), &'static str> {
    let first_star = parts.iter().position(|p| *p == Part::Star);
    let last_star = parts.iter().rposition(|p| *p == Part::Star);
    for i in 0..parts.len() {
        if !matches!(parts[i], Part::Claim(..)) {
            continue;
        }
        let before = i.checked_sub(1).map(|j| &parts[j]);
        let after = parts.get(i + 1);
        if matches!(before, Some(Part::Star | Part::Claim(..))) || matches!(after, Some(Part::Star | Part::Claim(..))) {
            return Err("has a {claim} next to '*' or another {claim}: nothing delimits its value");
        }
        let star_before = first_star.is_some_and(|s| s < i);
        let star_after = last_star.is_some_and(|s| s > i);
        let delimiter = match (star_before, star_after) {
            (true, true) => return Err("has a {claim} with '*' on both sides: its value would be ambiguous"),
            // Read from the left: the value ends at the next literal's first character.
            (false, _) => match after {
                Some(Part::Literal(next)) => next.bytes().next(),
                _ => None,
            },
            // Read from the right: the value starts after the previous literal's last character.
            (true, false) => match before {
                Some(Part::Literal(previous)) => previous.bytes().last(),
                _ => None,
            },
        };
        if let Part::Claim(_, slot) = &mut parts[i] {
            *slot = delimiter;
        }
    }
    Ok(())
}

/// Longest list claim a placeholder looks through: a longer list never
/// matches. Bounds the work per placeholder to this many comparisons of at
/// most a channel name's length (164 bytes).
pub(crate) const MAX_LIST_CLAIM: usize = 256;

/// Why a rule did not match a name: the first step that failed, for
/// `pusher-auth explain` (the function itself only needs that it failed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Miss<'a> {
    /// The name does not have this literal at this byte.
    Literal(&'a str, usize),
    /// The rule ended at this byte, the name goes on.
    TrailingText(usize),
    /// The name is shorter than the rule's start and end together.
    TooShort,
    /// A placeholder's delimiter is not in the name after this byte.
    NoDelimiter(&'a str, u8, usize),
    /// A placeholder read this value, which is not the user's.
    NotTheUsers(&'a str, &'a [u8]),
    /// A placeholder read the user's value, but it is an unverified contact.
    Unverified(&'a str),
    /// A literal between two stars is not in the name.
    NotBetweenStars(&'a str),
}

impl Rule {
    /// Whether the rule matches the whole name, or the step that failed. Each
    /// placeholder's value is read off the name (delimiters make it unique, see
    /// the module docs) and then looked up among the user's claims, an
    /// unverified e-mail or phone number only when `unverified` (to tell why a
    /// channel was refused; never to allow it); literals between stars are
    /// found leftmost, which is always safe for `*` and keeps matching linear.
    fn check<'a>(&'a self, user: &User, name: &'a [u8], unverified: bool) -> Result<(), Miss<'a>> {
        let has = |claim: &'a str, value: &'a [u8]| {
            if !user_has(user, claim, value) {
                Err(Miss::NotTheUsers(claim, value))
            } else if !unverified && is_unverified(&user.claims, claim) {
                Err(Miss::Unverified(claim))
            } else {
                Ok(())
            }
        };
        let Some(first_star) = self.parts.iter().position(|p| *p == Part::Star) else {
            let end = match_prefix(&has, &self.parts, name)?;
            return if end == name.len() { Ok(()) } else { Err(Miss::TrailingText(end)) };
        };
        let last_star = self.parts.iter().rposition(|p| *p == Part::Star).unwrap_or(first_star);
        let start = match_prefix(&has, &self.parts[..first_star], name)?;
        let end = match_suffix(&has, &self.parts[last_star + 1..], name, start)?;
        // Between the first and the last star: literals and stars only.
        let mut at = start;
        for part in self.parts.get(first_star + 1..last_star).unwrap_or_default() {
            if let Part::Literal(text) = part {
                match name[at..end].windows(text.len()).position(|w| w == text.as_bytes()) {
                    Some(found) => at += found + text.len(),
                    None => return Err(Miss::NotBetweenStars(text)),
                }
            }
        }
        Ok(())
    }
}

/// Reads `parts` (no star among them) from the start of `name`; the end of
/// what they matched.
fn match_prefix<'a>(
    has: &impl Fn(&'a str, &'a [u8]) -> Result<(), Miss<'a>>,
    parts: &'a [Part],
    name: &'a [u8],
) -> Result<usize, Miss<'a>> {
    let mut at = 0;
    for part in parts {
        match part {
            Part::Literal(text) => {
                if !name[at..].starts_with(text.as_bytes()) {
                    return Err(Miss::Literal(text, at));
                }
                at += text.len();
            }
            Part::Claim(claim, delimiter) => {
                let end = match delimiter {
                    Some(d) => at + name[at..].iter().position(|b| b == d).ok_or(Miss::NoDelimiter(claim, *d, at))?,
                    None => name.len(),
                };
                has(claim, &name[at..end])?;
                at = end;
            }
            Part::Star => unreachable!("no star before the first"),
        }
    }
    Ok(at)
}

/// Reads `parts` (no star among them) from the end of `name`, never before
/// `floor`; where what they matched begins.
fn match_suffix<'a>(
    has: &impl Fn(&'a str, &'a [u8]) -> Result<(), Miss<'a>>,
    parts: &'a [Part],
    name: &'a [u8],
    floor: usize,
) -> Result<usize, Miss<'a>> {
    let mut at = name.len();
    for part in parts.iter().rev() {
        match part {
            Part::Literal(text) => {
                let begin = at.checked_sub(text.len()).filter(|b| *b >= floor).ok_or(Miss::TooShort)?;
                if &name[begin..at] != text.as_bytes() {
                    return Err(Miss::Literal(text, begin));
                }
                at = begin;
            }
            Part::Claim(claim, delimiter) => {
                let d = delimiter.unwrap_or_else(|| unreachable!("a placeholder after a star has a delimiter"));
                let begin = floor
                    + name[floor..at].iter().rposition(|b| *b == d).ok_or(Miss::NoDelimiter(claim, d, floor))?
                    + 1;
                has(claim, &name[begin..at])?;
                at = begin;
            }
            Part::Star => unreachable!("no star after the last"),
        }
    }
    Ok(at)
}

/// Whether `value` (read off a channel name: channel characters only) is the
/// user's value of `claim`: the user id for `sub`, a string claim equal to
/// it, or a list claim (at most [`MAX_LIST_CLAIM`] elements) with a string
/// element equal to it.
fn user_has(user: &User, claim: &str, value: &[u8]) -> bool {
    let is = |s: &str| !value.is_empty() && s.as_bytes() == value;
    match (claim, user.claims.get(claim)) {
        ("sub", _) => is(&user.id),
        (_, Some(Value::String(s))) => is(s),
        (_, Some(Value::Array(list))) if list.len() <= MAX_LIST_CLAIM => list.iter().filter_map(Value::as_str).any(is),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user(id: &str, claims: Value) -> User {
        User { id: id.into(), claims: claims.as_object().unwrap().clone() }
    }

    fn allows(rules: &str, user: &User, channel: &str) -> bool {
        ChannelPolicy::parse(rules).unwrap().decide(user, ChannelName::parse(channel).unwrap()).is_ok()
    }

    #[test]
    fn table() {
        let u1 = user("1", json!({"org_id": "acme", "team": "a b", "n": 5}));
        let rules = "private-user-{sub} presence-room-* private-encrypted-org-{org_id}-*";
        for (channel, expected) in [
            ("private-user-1", true),
            ("private-user-12", false), // near miss: {sub} is exactly the claim
            ("private-user-", false),
            ("private-User-1", false), // case
            ("presence-room-", true),  // * may be empty
            ("presence-room-lobby", true),
            ("presence-rooms", false),
            ("private-room-lobby", false), // kind differs
            ("private-encrypted-org-acme-x", true),
            ("private-encrypted-org-acme-", true),
            ("private-encrypted-org-other-x", false),
            ("private-encrypted-org-acmex", false),
        ] {
            assert_eq!(allows(rules, &u1, channel), expected, "{channel}");
        }
    }

    #[test]
    fn email_and_phone_placeholders_read_only_verified_values() {
        let rules = "private-inbox-{email} private-sms-{phone_number} private-user-{sub}";
        let policy = ChannelPolicy::parse(rules).unwrap();
        let decide =
            |claims: Value, channel: &str| policy.decide(&user("u", claims), ChannelName::parse(channel).unwrap());
        let contact = json!({"email": "a@b.example", "phone_number": "4412"});
        assert_eq!(decide(contact.clone(), "private-inbox-a@b.example"), Err(Refusal::ClaimUnverified));
        assert_eq!(decide(contact.clone(), "private-sms-4412"), Err(Refusal::ClaimUnverified));
        assert_eq!(decide(contact.clone(), "private-inbox-c@d.example"), Err(Refusal::Forbidden));
        assert_eq!(decide(contact, "private-user-u"), Ok(Grant::Open));
        for flag in [json!(true), json!("true")] {
            let verified = json!({"email": "a@b.example", "email_verified": flag, "phone_number": "4412"});
            assert_eq!(decide(verified.clone(), "private-inbox-a@b.example"), Ok(Grant::Open));
            assert_eq!(decide(verified, "private-sms-4412"), Err(Refusal::ClaimUnverified), "phone not verified");
        }
        for flag in [json!(false), json!("false"), json!("TRUE"), json!(1), json!(null)] {
            let claims = json!({"email": "a@b.example", "email_verified": flag});
            assert_eq!(decide(claims, "private-inbox-a@b.example"), Err(Refusal::ClaimUnverified), "{flag}");
        }
        let phone = json!({"phone_number": "4412", "phone_number_verified": true});
        assert_eq!(decide(phone, "private-sms-4412"), Ok(Grant::Open));
        // Other claims need no verification flag.
        assert!(allows("private-org-{org}", &user("u", json!({"org": "acme"})), "private-org-acme"));
    }

    #[test]
    fn member_rules_grant_a_lookup_and_a_plain_match_wins() {
        let policy =
            ChannelPolicy::parse("presence-chat-*?member private-user-{sub}?member presence-chat-lobby").unwrap();
        assert!(policy.has_member_rules() && !ChannelPolicy::parse("presence-*").unwrap().has_member_rules());
        let decide = |channel: &str| policy.decide(&user("u", json!({})), ChannelName::parse(channel).unwrap());
        assert_eq!(decide("presence-chat-42"), Ok(Grant::Member));
        assert_eq!(decide("private-user-u"), Ok(Grant::Member));
        assert_eq!(decide("presence-chat-lobby"), Ok(Grant::Open));
        assert_eq!(decide("private-user-v"), Err(Refusal::Forbidden));
        assert_eq!(decide("private-chat-42"), Err(Refusal::Forbidden));
        for bad in ["presence-chat-*?members", "presence-chat-?member-*", "presence-*?member?member", "?member"] {
            let error = ChannelPolicy::parse(bad).unwrap_err();
            assert!(error.starts_with(&format!("the rule {bad:?} ")), "{error}");
        }
        let error = ChannelPolicy::parse("presence-chat-*?Member").unwrap_err().to_string();
        assert!(error.contains("'?' other than a final ?member"), "{error}");
    }

    #[test]
    fn star_never_crosses_channel_kinds() {
        let u = user("1", json!({}));
        assert!(allows("private-*", &u, "private-x"));
        assert!(!allows("private-*", &u, "private-encrypted-x"));
        assert!(allows("private-encrypted-*", &u, "private-encrypted-x"));
        assert!(!allows("presence-*", &u, "private-x"));
    }

    #[test]
    fn claims_that_cannot_be_channel_text_never_match() {
        let u = user("1", json!({"team": "a b", "n": 5, "empty": "", "slash": "a/b", "ok": "a@b"}));
        for claim in ["team", "n", "empty", "slash", "missing"] {
            let rules = format!("private-team-{{{claim}}}");
            for channel in ["private-team-a", "private-team-5", "private-team-", "private-team-ab"] {
                assert!(!allows(&rules, &u, channel), "{claim} {channel}");
            }
        }
        assert!(allows("private-team-{ok}", &u, "private-team-a@b"));
        let weird = user("a;b", json!({}));
        assert!(allows("presence-{sub}", &weird, "presence-a;b"));
        let bad = user("a b", json!({}));
        assert!(!allows("private-x.{sub}", &bad, "private-x.a"));
    }

    #[test]
    fn deny_by_default() {
        let policy = ChannelPolicy::parse("  \n ").unwrap();
        assert!(policy.is_empty());
        assert!(policy.decide(&user("1", json!({})), ChannelName::parse("private-a").unwrap()).is_err());
    }

    #[test]
    fn unparsable_rules() {
        for bad in
            ["*", "user-*", "private-{", "private-{}", "private-{a b}", "private-a/b", "{sub}-x", "private-é", "pres*"]
        {
            assert!(ChannelPolicy::parse(bad).is_err(), "{bad}");
        }
        assert!(ChannelPolicy::parse("private-a\nprivate-b\tpresence-*").is_ok());
    }

    #[test]
    fn several_stars_and_claims() {
        let u = user("7", json!({"org": "o1"}));
        assert!(allows("private-{org}-*-{sub}", &u, "private-o1-x-y-7"));
        assert!(allows("private-{org}-*-{sub}", &u, "private-o1--7"));
        assert!(!allows("private-{org}-*-{sub}", &u, "private-o2-y-7"));
        assert!(!allows("private-{org}-*-{sub}", &u, "private-o1-y-77"));
        assert!(allows("private-**a", &u, "private-a"));
        assert!(allows("private-*a*a*", &u, "private-aa"));
        assert!(!allows("private-*ab*ab", &u, "private-ab"));
        // Pathological rules stay linear.
        let long = format!("private-{}", "a".repeat(150));
        assert!(!allows("private-*a*a*a*a*a*a*a*a*b", &u, &long));
    }

    #[test]
    fn malformed_and_ambiguous_placeholders_fail_to_parse() {
        for bad in [
            "private-{a}-{a",  // unterminated, though `{a}` appears earlier
            "private-{a",      // unterminated
            "private-a}",      // a '}' without '{'
            "private-{a}{b}",  // nothing literal between two placeholders
            "private-{a}*",    // a star right after
            "private-*{a}",    // a star right before
            "private-*-{a}-*", // stars on both sides
            "private-*-{org}-*-{sub}",
            "private-{a}-*-{b}-*",
        ] {
            assert!(ChannelPolicy::parse(bad).is_err(), "{bad}");
        }
        for good in ["private-{a}-{b}", "private-{a}.*", "private-*.{a}", "private-{a}-*-{b}", "presence-{a}"] {
            assert!(ChannelPolicy::parse(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn list_claims_match_any_element() {
        let rule = "presence-group-{cognito:groups}-* private-org-{org_ids}";
        let member = user("1", json!({"cognito:groups": ["admins", "staff"], "org_ids": ["o1", "o2"]}));
        assert!(allows(rule, &member, "presence-group-staff-chat"));
        assert!(allows(rule, &member, "presence-group-admins-"));
        assert!(allows(rule, &member, "private-org-o2"));
        assert!(!allows(rule, &member, "presence-group-sales-chat"), "not a member");
        assert!(!allows(rule, &member, "private-org-o3"));
        assert!(!allows(rule, &member, "presence-group-staf-chat"));
        let empty = user("2", json!({"cognito:groups": [], "org_ids": []}));
        assert!(!allows(rule, &empty, "presence-group-staff-chat"));
        let odd = user("3", json!({"cognito:groups": [5, null, ["staff"], {"staff": 1}, true], "org_ids": "o1"}));
        assert!(!allows(rule, &odd, "presence-group-staff-chat"), "non-strings never match");
        assert!(!allows(rule, &odd, "presence-group-5-chat"));
        assert!(allows(rule, &odd, "private-org-o1"), "a plain string still matches");
        // Elements holding the delimiter never match, as for string claims.
        let dashed = user("4", json!({"cognito:groups": ["a-b", "a"]}));
        assert!(allows(rule, &dashed, "presence-group-a-b-chat"), "via `a`, with `b-chat` from the star");
        let only_dashed = user("5", json!({"cognito:groups": ["a-b"]}));
        assert!(!allows(rule, &only_dashed, "presence-group-a-b-chat"));
        // Bounded work: a list longer than MAX_LIST_CLAIM never matches.
        let mut groups: Vec<String> = (0..MAX_LIST_CLAIM - 1).map(|i| format!("g{i}")).collect();
        groups.push("staff".into());
        let at_bound = user("6", json!({ "cognito:groups": groups.clone() }));
        assert!(allows(rule, &at_bound, "presence-group-staff-x"));
        groups.push("g-extra".into());
        let over = user("7", json!({ "cognito:groups": groups }));
        assert!(!allows(rule, &over, "presence-group-staff-x"));
        let huge = user("8", json!({ "cognito:groups": vec!["staff"; 100_000] }));
        assert!(!allows(rule, &huge, "presence-group-staff-x"));
    }

    /// Every user among `users` that `rules` grants `channel` to.
    fn granted<'u>(rules: &str, users: &'u [User], channel: &str) -> Vec<&'u str> {
        users.iter().filter(|u| allows(rules, u, channel)).map(|u| u.id.as_str()).collect()
    }

    #[test]
    fn a_channel_is_never_granted_to_two_users_whose_claims_differ() {
        // The two crossings the delimiters prevent, then near misses.
        let orgs = [user("u1", json!({"org_id": "acme"})), user("u2", json!({"org_id": "acme-corp"}))];
        let rule = "private-encrypted-org-{org_id}-*";
        assert_eq!(granted(rule, &orgs, "private-encrypted-org-acme-corp-chat"), ["u1"]);
        assert_eq!(granted(rule, &orgs, "private-encrypted-org-acme-chat"), ["u1"]);
        assert!(granted(rule, &orgs, "private-encrypted-org-acme-corp-").len() <= 1);
        let pairs = [user("b-c", json!({"org": "a"})), user("c", json!({"org": "a-b"}))];
        assert_eq!(granted("private-{org}-{sub}", &pairs, "private-a-b-c"), ["b-c"]);
        assert!(granted("private-{org}-{sub}", &pairs, "private-a-b").is_empty());
        // Read from the right: the value may not hold the character before it.
        let subs = [user("x-1", json!({})), user("1", json!({}))];
        assert_eq!(granted("private-*-{sub}", &subs, "private-team-x-1"), ["1"]);
        // Exhaustive: for each rule, every channel over a small alphabet is granted to
        // users who all share every claim the rule names.
        let values = ["a", "b", "a-b", "b-a", "a.b", "ab", "-", "a-"];
        let mut users = Vec::new();
        for x in values {
            for y in values {
                users.push(user(&format!("{x}|{y}"), json!({"x": x, "y": y})));
            }
        }
        let rules = [
            "private-{x}-{y}",
            "private-{x}-*",
            "private-*-{x}",
            "private-{x}-*.{y}",
            "private-{x}.{y}-*",
            "private-{x}",
        ];
        let alphabet = ["a", "b", "-", "."];
        let mut names = vec![String::new()];
        for _ in 0..5 {
            let longer: Vec<String> =
                names.iter().flat_map(|n| alphabet.iter().map(move |c| format!("{n}{c}"))).collect();
            names.extend(longer);
        }
        names.sort();
        names.dedup();
        for rule in rules {
            let policy = ChannelPolicy::parse(rule).unwrap();
            for name in &names {
                let channel = format!("private-{name}");
                let Ok(channel) = ChannelName::parse(&channel) else { continue };
                let who: Vec<&User> = users.iter().filter(|u| policy.decide(u, channel).is_ok()).collect();
                for pair in who.windows(2) {
                    for claim in ["x", "y"].into_iter().filter(|c| rule.contains(&format!("{{{c}}}"))) {
                        assert_eq!(pair[0].claims[claim], pair[1].claims[claim], "{rule} {}", channel.as_str());
                    }
                }
            }
        }
    }

    /// `*` matcher by plain backtracking: `pattern` (channel characters and
    /// `*`) matches the whole of `name`. Small and obviously right, for
    /// checking the linear matcher against.
    fn naive_star_match(pattern: &[u8], name: &[u8]) -> bool {
        match pattern.split_first() {
            None => name.is_empty(),
            Some((b'*', rest)) => (0..=name.len()).any(|skip| naive_star_match(rest, &name[skip..])),
            Some((c, rest)) => name.first() == Some(c) && naive_star_match(rest, &name[1..]),
        }
    }

    #[test]
    fn literals_between_stars_never_over_grant() {
        // A search that does not move past the literal it found (or moves
        // back) lets one occurrence serve for two literals.
        let u = user("1", json!({}));
        for (rule, channel, expected) in [
            ("private-*a*a*", "private-a", false),
            ("private-*a*a*", "private-ba", false),
            ("private-*a*a*", "private-aa", true),
            ("private-*a*a*", "private-aba", true),
            ("private-*a*b*", "private-ba", false), // order matters
            ("private-*a*b*", "private-ab", true),
            ("private-*ab*ab*", "private-ab", false),
            ("private-*ab*ab*", "private-xab", false),
            ("private-*ab*ab*", "private-aab", false),
            ("private-*ab*ab*", "private-abab", true),
            ("private-*ab*ab*", "private-xabyab", true),
            ("private-*aba*aba*", "private-ababa", false), // overlapping occurrences
            ("private-*aba*aba*", "private-abaaba", true),
            ("private-*aa*aa*", "private-aaa", false),
            ("private-*aa*aa*", "private-aaaa", true),
            ("private-*a*a*a*", "private-aa", false),
            ("private-*a*a*a*", "private-xaxaxa", true),
            ("private-*abc*c*", "private-abc", false),
            ("private-*abc*c*", "private-abcc", true),
            ("private-*c*abc*", "private-abc", false),
            ("private-*c*abc*", "private-cabc", true),
            // The literal is only in the prefix or the suffix region, never between the stars.
            ("private-a*a*", "private-a", false),
            ("private-a*a*", "private-aa", true),
            ("private-*b*xb", "private-xb", false),
            ("private-*b*xb", "private-bxb", true),
            ("private-*a*-x", "private--x", false),
            ("private-*a*-x", "private-a-x", true),
            ("private-*x*x-", "private-x-", false),
            ("private-*x*x-", "private-xx-", true),
            ("private-a*b*a", "private-aba", true),
            ("private-a*b*a", "private-aa", false),
            ("private-ab*b*ab", "private-abab", false), // shares its `b` with the prefix or the suffix
            ("private-ab*b*ab", "private-abbab", true),
        ] {
            assert_eq!(allows(rule, &u, channel), expected, "{rule} {channel}");
        }
    }

    #[test]
    fn star_rules_agree_with_a_backtracking_matcher() {
        // Exhaustive over a two-letter alphabet: every rule of up to three literals
        // between stars, every name of up to 7 letters.
        let u = user("1", json!({}));
        let words = ["", "a", "b", "aa", "ab", "ba", "aba", "bab"];
        let mut rules = Vec::new();
        for first in words {
            for second in words {
                for third in words {
                    rules.push(format!("{first}*{second}*{third}"));
                    rules.push(format!("*{first}*{second}*{third}"));
                    rules.push(format!("*{first}*{second}*{third}*"));
                    rules.push(format!("{first}*{second}*{third}*"));
                }
            }
        }
        let mut names = vec![String::new()];
        for len in 1..=7 {
            let mut longer = Vec::new();
            for name in names.iter().filter(|n| n.len() == len - 1) {
                longer.push(format!("{name}a"));
                longer.push(format!("{name}b"));
            }
            names.extend(longer);
        }
        for rule in &rules {
            let policy = ChannelPolicy::parse(&format!("private-{rule}")).unwrap();
            for name in &names {
                let channel = format!("private-{name}");
                let expected = naive_star_match(rule.as_bytes(), name.as_bytes());
                assert_eq!(
                    policy.decide(&u, ChannelName::parse(&channel).unwrap()).is_ok(),
                    expected,
                    "{rule} {channel}"
                );
            }
        }
    }

    #[test]
    fn inbox_rules_read_the_sub_from_the_right() {
        // `private-*-{sub}-inbox`: any prefix, then exactly the user id, then `-inbox`.
        let rule = "private-*-{sub}-inbox";
        let u = user("7", json!({}));
        for (channel, expected) in [
            ("private-team-7-inbox", true),
            ("private--7-inbox", true), // the star may be empty
            ("private-a-b-7-inbox", true),
            ("private-7-inbox", false), // no `-` before the id
            ("private-team-77-inbox", false),
            ("private-team-17-inbox", false),
            ("private-team-7-inboxx", false),
            ("private-team-7-inbo", false),
            ("private-team-7-outbox", false),
            ("private-team-7-inbox-x", false),
            ("private-team-7--inbox", false),
            ("private-team--inbox", false), // an empty value is never a user's
            ("private-team-8-inbox", false),
            ("private-encrypted-team-7-inbox", false), // kind differs
            ("presence-team-7-inbox", false),
        ] {
            assert_eq!(allows(rule, &u, channel), expected, "{channel}");
        }
        // A sub holding the delimiter never matches, so `x-7` and `7` never share an inbox.
        let dashed = user("x-7", json!({}));
        assert!(!allows(rule, &dashed, "private-team-x-7-inbox"));
        assert!(!allows(rule, &dashed, "private--x-7-inbox"));
        let users = [dashed, u];
        assert_eq!(granted(rule, &users, "private-team-x-7-inbox"), ["7"]);
        // Other delimiters and an encrypted kind.
        let dotted = user("a-b", json!({}));
        let rule = "private-encrypted-*.{sub}.inbox";
        assert!(allows(rule, &dotted, "private-encrypted-x.a-b.inbox"));
        assert!(allows(rule, &dotted, "private-encrypted-.a-b.inbox"));
        assert!(!allows(rule, &dotted, "private-encrypted-x.b.inbox"));
        assert!(!allows(rule, &dotted, "private-encrypted-xa-b.inbox"));
        assert!(!allows(rule, &dotted, "private-x.a-b.inbox"));
        // A list claim read from the right.
        let rule = "presence-*-{teams}-inbox";
        let member = user("1", json!({"teams": ["red", "blue"]}));
        assert!(allows(rule, &member, "presence-org-blue-inbox"));
        assert!(allows(rule, &member, "presence-org-x-red-inbox"));
        assert!(!allows(rule, &member, "presence-org-green-inbox"));
        assert!(!allows(rule, &member, "presence-org-redblue-inbox"));
    }

    #[test]
    fn rule_errors_name_the_rule_and_the_problem() {
        // The cold start's message for a bad CHANNEL_RULES: which rule, and why.
        let err = ChannelPolicy::parse("private-a presence-{").unwrap_err();
        assert_eq!(err, "the rule \"presence-{\" has a '{' without '}'");
        let err = ChannelPolicy::parse("private-*-{org}-*").unwrap_err();
        assert_eq!(
            err.to_string(),
            "the rule \"private-*-{org}-*\" has a {claim} with '*' on both sides: its value would be ambiguous"
        );
    }

    #[test]
    fn a_policy_with_rules_is_not_empty() {
        // `deny_by_default` covers the empty policy; one rule, or several, make it non-empty.
        for rules in ["private-a", " private-a ", "private-a\npresence-*"] {
            assert!(!ChannelPolicy::parse(rules).unwrap().is_empty(), "{rules:?}");
        }
        assert!(ChannelPolicy::default().is_empty());
    }

    #[test]
    fn each_malformed_rule_gets_its_own_problem() {
        // The message tells the operator what to fix; a rule refused for the wrong reason
        // (say, a stray '}' called an invalid character) would mislead.
        for (rule, problem) in [
            ("private-a}", "has a '}' without '{'"),
            ("private-{a", "has a '{' without '}'"),
            ("private-{}", "has an empty or invalid {claim} name"),
            ("private-{a/b}", "has an empty or invalid {claim} name"),
            ("private-a/b", "has a character that is not valid in channel names (letters, digits, _-=@,.; and * {claim})"),
            ("private-'a'", "has a quote: write the rules without quotes, separated by spaces"),
            ("private-*,presence-*", "has a ',' before private- or presence-: separate rules with spaces (a comma is valid inside a channel name), e.g. CHANNEL_RULES='private-* presence-*'"),
            ("private-user-{sub},", "has a ',' before private- or presence-: separate rules with spaces (a comma is valid inside a channel name), e.g. CHANNEL_RULES='private-* presence-*'"),
            ("user-*", "must start with private-, private-encrypted- or presence-"),
            ("private-{a}*", "has a {claim} next to '*' or another {claim}: nothing delimits its value"),
            ("private-*-{a}-*", "has a {claim} with '*' on both sides: its value would be ambiguous"),
        ] {
            assert_eq!(ChannelPolicy::parse(rule).unwrap_err(), format!("the rule {rule:?} {problem}"));
        }
    }
}
