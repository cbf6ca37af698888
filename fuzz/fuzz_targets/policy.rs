//! `CHANNEL_RULES` (src/policy.rs): arbitrary rules, names and claims.
//! Input lines: rules, channel name, user A's id, A's claims (JSON object),
//! user B's id, B's claims, star fillers (space separated).
//! Oracles: no panic (and libFuzzer's time limit catches non-linear matching);
//! **unambiguous**: when one rule lets both A and B join a channel, every
//! placeholder of that rule has the same value for A and B; **complete**: the
//! name a rule spells out for a user (placeholders replaced by the user's
//! values, stars by any channel text) is allowed, whenever those values are
//! channel text that shares no character with the rule's literal text;
//! **sound**: for every rule, every user and every name tried (the input's
//! name and each spelled-out name), the policy's verdict equals
//! [`naive_allows`], a backtracking matcher written from the module docs of
//! src/policy.rs alone. All through the endpoint's own question,
//! `Endpoint::decide`: each rule's outcome (what `pusher-auth explain` shows)
//! and the verdict.
#![no_main]

use fuzz_support::is_channel_char;
use libfuzzer_sys::fuzz_target;
use pusher_auth_lambda::{ChannelName, Endpoint, User};
use serde_json::{Map, Value};

enum Piece<'a> {
    Literal(&'a str),
    Star,
    Claim(&'a str),
}

/// The rule's pieces, for a rule that parsed.
fn pieces(rule: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = rule;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('*') {
            out.push(Piece::Star);
            rest = r;
        } else if let Some(r) = rest.strip_prefix('{') {
            let (name, r) = r.split_once('}').expect("a parsed rule closes its braces");
            out.push(Piece::Claim(name));
            rest = r;
        } else {
            let end = rest.find(['*', '{']).unwrap_or(rest.len());
            out.push(Piece::Literal(&rest[..end]));
            rest = &rest[end..];
        }
    }
    out
}

fn value<'u>(user: &'u User, claim: &str) -> Option<&'u str> {
    if claim == "sub" {
        Some(&user.id)
    } else {
        user.claims.get(claim).and_then(Value::as_str)
    }
}

/// A rule's or a name's kind, from its start (README, src/policy.rs module docs).
#[derive(PartialEq)]
enum Kind {
    Private,
    Encrypted,
    Presence,
}

fn kind(text: &str) -> Option<Kind> {
    if text.starts_with("private-encrypted-") {
        Some(Kind::Encrypted)
    } else if text.starts_with("private-") {
        Some(Kind::Private)
    } else if text.starts_with("presence-") {
        Some(Kind::Presence)
    } else {
        None
    }
}

/// Every value `user` has for `claim`: the user id for `sub`; a string claim;
/// the string elements of a list claim of at most 256 elements (MAX_LIST_CLAIM).
fn values<'u>(user: &'u User, claim: &str) -> Vec<&'u str> {
    if claim == "sub" {
        return vec![&user.id];
    }
    // An e-mail address or phone number is the user's only once verified
    // (README, security model): the flag true, or the string "true".
    let verified = |flag: &str| {
        matches!(user.claims.get(flag), Some(Value::Bool(true)))
            || user.claims.get(flag).and_then(Value::as_str) == Some("true")
    };
    if (claim == "email" && !verified("email_verified"))
        || (claim == "phone_number" && !verified("phone_number_verified"))
    {
        return Vec::new();
    }
    match user.claims.get(claim) {
        Some(Value::String(s)) => vec![s],
        Some(Value::Array(list)) if list.len() <= 256 => list.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// A rule's piece with what the naive matcher needs: a placeholder with the
/// values it may take and the byte they may not contain.
enum Naive<'a> {
    Literal(&'a [u8]),
    Star,
    Claim(Vec<&'a str>, Option<u8>),
}

/// Whether the single rule `rule` (one that parsed) lets `user` join `name`,
/// by the module docs of src/policy.rs: same kind, and there are values, one
/// per placeholder (each one of the user's values of that claim, not empty,
/// without its delimiter) and star texts such that the rule with them
/// substituted spells `name`. The delimiter of a placeholder with no `*`
/// before it is the first byte after it in the rule (none at the end); with a
/// `*` before it, the byte before it. Backtracking over every choice, memoized
/// on (piece, position) only to bound its time: what is left to match depends
/// on nothing else.
fn naive_allows(rule: &str, user: &User, name: &str) -> bool {
    if kind(rule) != kind(name) || kind(name).is_none() {
        return false;
    }
    let pieces = pieces(rule);
    let mut naive = Vec::new();
    for (i, piece) in pieces.iter().enumerate() {
        naive.push(match piece {
            Piece::Literal(l) => Naive::Literal(l.as_bytes()),
            Piece::Star => Naive::Star,
            Piece::Claim(claim) => {
                let star_before = pieces[..i].iter().any(|p| matches!(p, Piece::Star));
                let delimiter = if star_before {
                    match &pieces[i - 1] {
                        Piece::Literal(l) => l.bytes().last(),
                        _ => unreachable!("a parsed rule has a literal before a placeholder after a star"),
                    }
                } else {
                    match pieces.get(i + 1) {
                        Some(Piece::Literal(l)) => l.bytes().next(),
                        _ => None,
                    }
                };
                Naive::Claim(values(user, claim), delimiter)
            }
        });
    }
    let name = name.as_bytes();
    let mut memo = vec![None; (naive.len() + 1) * (name.len() + 1)];
    matches(&naive, 0, name, 0, &mut memo)
}

/// Whether `pieces[i..]` spells exactly `name[at..]`.
fn matches(pieces: &[Naive<'_>], i: usize, name: &[u8], at: usize, memo: &mut [Option<bool>]) -> bool {
    let slot = i * (name.len() + 1) + at;
    if let Some(known) = memo[slot] {
        return known;
    }
    let rest = &name[at..];
    let result = match pieces.get(i) {
        None => rest.is_empty(),
        Some(Naive::Literal(l)) => rest.starts_with(l) && matches(pieces, i + 1, name, at + l.len(), memo),
        Some(Naive::Star) => (at..=name.len()).any(|next| matches(pieces, i + 1, name, next, memo)),
        Some(Naive::Claim(values, delimiter)) => values.iter().any(|v| {
            !v.is_empty()
                && delimiter.map_or(true, |d| !v.as_bytes().contains(&d))
                && rest.starts_with(v.as_bytes())
                && matches(pieces, i + 1, name, at + v.len(), memo)
        }),
    };
    memo[slot] = Some(result);
    result
}

/// Whether rule `index` of the endpoint's rules matched `user` on `name`.
fn rule_matched(endpoint: &Endpoint, index: usize, user: &User, name: ChannelName<'_>) -> bool {
    matches!(endpoint.decide(user, &name).rules[index].1, Some(Ok(())))
}

/// The soundness oracle: the endpoint (the rules `rules`) decides `name` for
/// `user` as [`naive_allows`] does, and so does each rule's own outcome.
fn check_sound(endpoint: &Endpoint, rules: &str, user: &User, name: ChannelName<'_>) {
    let decision = endpoint.decide(user, &name);
    let texts: Vec<&str> = decision.rules.iter().map(|(text, _)| *text).collect();
    assert_eq!(texts, rules.split_whitespace().collect::<Vec<_>>(), "every rule is reported, in order");
    let mut any = false;
    for (rule, (_, outcome)) in rules.split_whitespace().zip(&decision.rules) {
        let expected = naive_allows(rule, user, name.as_str());
        any |= expected;
        assert_eq!(matches!(outcome, Some(Ok(()))), expected, "{rule} on {} for {user:?}", name.as_str());
    }
    // The verdict (`decide`'s own path through the rules) agrees: some rule
    // matches exactly when the channel is signed.
    assert_eq!(decision.signed.is_ok(), any, "{rules:?} on {} for {user:?}", name.as_str());
}

fn user(id: &str, claims: &str) -> User {
    let claims = serde_json::from_str::<Map<String, Value>>(claims).unwrap_or_default();
    User { id: id.to_owned(), claims }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut lines = text.split('\n');
    let mut line = || lines.next().unwrap_or("");
    let (rules, channel) = (line(), line());
    let a = user(line(), line());
    let b = user(line(), line());
    let fillers: Vec<&str> = line().split(' ').collect();
    let Some(endpoint) = fuzz_support::policy_endpoint(rules) else { return };
    let name = ChannelName::parse(channel).ok();
    if let Some(name) = name {
        check_sound(&endpoint, rules, &a, name);
        check_sound(&endpoint, rules, &b, name);
    }
    for (index, rule) in rules.split_whitespace().enumerate() {
        let pieces = pieces(rule);
        if let Some(name) = name {
            if rule_matched(&endpoint, index, &a, name) && rule_matched(&endpoint, index, &b, name) {
                for piece in &pieces {
                    if let Piece::Claim(claim) = piece {
                        assert_eq!(value(&a, claim), value(&b, claim), "{rule} gives {channel} to two users");
                    }
                }
            }
        }
        // Completeness for A.
        let literal_bytes: Vec<u8> = pieces
            .iter()
            .filter_map(|p| if let Piece::Literal(l) = p { Some(l.bytes()) } else { None })
            .flatten()
            .collect();
        let mut spelled = String::new();
        let mut sound = true;
        let mut star = 0;
        for piece in &pieces {
            match piece {
                Piece::Literal(l) => spelled.push_str(l),
                Piece::Star => {
                    let filler = fillers.get(star).copied().unwrap_or("");
                    star += 1;
                    sound &= filler.bytes().all(is_channel_char);
                    spelled.push_str(filler);
                }
                Piece::Claim(claim) => match value(&a, claim) {
                    Some(v)
                        if !v.is_empty() && v.bytes().all(|c| is_channel_char(c) && !literal_bytes.contains(&c)) =>
                    {
                        spelled.push_str(v)
                    }
                    _ => sound = false,
                },
            }
        }
        let head = match pieces.first() {
            Some(Piece::Literal(l)) => *l,
            _ => "",
        };
        if let Ok(name) = ChannelName::parse(&spelled) {
            check_sound(&endpoint, rules, &a, name);
            check_sound(&endpoint, rules, &b, name);
        }
        if let (true, Ok(name)) = (sound, ChannelName::parse(&spelled)) {
            if kind(name.as_str()) == kind(head) {
                assert!(rule_matched(&endpoint, index, &a, name), "{rule} does not allow {spelled} for {:?}", a);
                assert!(endpoint.decide(&a, &name).signed.is_ok());
            }
        }
    }
});
