//! `CHANNEL_RULES` (src/policy.rs): arbitrary rules, names and claims.
//! Input lines: rules, channel name, user A's id, A's claims (JSON object),
//! user B's id, B's claims, star fillers (space separated).
//! Oracles: no panic (and libFuzzer's time limit catches non-linear matching);
//! **unambiguous**: when one rule lets both A and B join a channel, every
//! placeholder of that rule has the same value for A and B; **complete**: the
//! name a rule spells out for a user (placeholders replaced by the user's
//! values, stars by any channel text) is allowed, whenever those values are
//! channel text that shares no character with the rule's literal text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pusher_auth_lambda::testing::ChannelPolicy;
use pusher_auth_lambda::testing::User;
use pusher_auth_lambda::testing::{is_channel_char, ChannelKind, ChannelName};
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
    let Ok(policy) = ChannelPolicy::parse(rules) else { return };
    let name = ChannelName::parse(channel).ok();
    if let Some(name) = name {
        let _ = (policy.allows(&a, name), policy.allows(&b, name));
    }
    for rule in rules.split_whitespace() {
        let single = ChannelPolicy::parse(rule).expect("each rule of a parsed list parses");
        let pieces = pieces(rule);
        if let Some(name) = name {
            if single.allows(&a, name) && single.allows(&b, name) {
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
        let rule_kind: Option<ChannelKind> = ChannelKind::of(head);
        if let (true, Ok(name)) = (sound, ChannelName::parse(&spelled)) {
            if Some(name.kind()) == rule_kind {
                assert!(single.allows(&a, name), "{rule} does not allow {spelled} for {:?}", a);
                assert!(policy.allows(&a, name));
            }
        }
    }
});
