//! `MEMBERSHIP_*`: the table that `?member` rules read (see the `membership` module)
//! and how long its answers are kept.

use std::time::Duration;

use crate::policy::ChannelPolicy;

use super::{checked, seconds, ConfigError, Result, Vars};

/// How membership items are read and cached.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct MembershipOptions {
    /// `MEMBERSHIP_TTL_SECONDS`: how long a found item is kept (0: not kept).
    pub(crate) found_ttl: Duration,
    /// `MEMBERSHIP_NEGATIVE_TTL_SECONDS`: how long an absent one is (0: not kept).
    pub(crate) absent_ttl: Duration,
    /// `MEMBERSHIP_CONSISTENT_READ`: strongly consistent reads (twice the read cost).
    pub(crate) consistent_read: bool,
}

/// The longest lifetime accepted: an hour (a removed member's access is bound by it).
const MAX_TTL_SECONDS: u64 = 3600;

/// `MEMBERSHIP_TABLE` (required by a `?member` rule) and the options.
pub(super) fn membership(get: &impl Vars, policy: &ChannelPolicy) -> Result<(Option<String>, MembershipOptions)> {
    let table = checked(get, "MEMBERSHIP_TABLE", valid_table_name, TABLE_NAME)?;
    if table.is_none() && policy.has_member_rules() {
        return Err(ConfigError::new("MEMBERSHIP_TABLE", "is not set, and CHANNEL_RULES has a ?member rule"));
    }
    let ttl = |variable, default| {
        let problem = "must be a whole number of seconds from 0 (not kept) to 3600";
        Ok(seconds(get, variable, Duration::from_secs(default), MAX_TTL_SECONDS, problem)?.unwrap_or_default())
    };
    let options = MembershipOptions {
        found_ttl: ttl("MEMBERSHIP_TTL_SECONDS", 60)?,
        absent_ttl: ttl("MEMBERSHIP_NEGATIVE_TTL_SECONDS", 10)?,
        // `bool`'s parse takes exactly `true` and `false`.
        consistent_read: get("MEMBERSHIP_CONSISTENT_READ")
            .map_or(Ok(false), |v| v.parse())
            .map_err(|_| ConfigError::new("MEMBERSHIP_CONSISTENT_READ", "must be true or false"))?,
    };
    Ok((table, options))
}

/// What a table name must be (DynamoDB's rule).
const TABLE_NAME: &str = "is not a DynamoDB table name (3 to 255 of letters, digits, '_', '-', '.')";

/// Whether `name` is a DynamoDB table name.
pub(super) fn valid_table_name(name: &str) -> bool {
    super::shaped(name, 3..=255, |b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(vars: &[(&str, &str)], rules: &str) -> Result<(Option<String>, MembershipOptions), &'static str> {
        let get = |name: &str| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned());
        membership(&get, &ChannelPolicy::parse(rules).unwrap()).map_err(|e| e.variable)
    }

    #[test]
    fn defaults_limits_and_the_table_a_member_rule_needs() {
        let (table, o) = options(&[("MEMBERSHIP_TABLE", "memberships")], "presence-chat-*?member").unwrap();
        assert_eq!(table.as_deref(), Some("memberships"));
        let defaults = MembershipOptions {
            found_ttl: Duration::from_secs(60),
            absent_ttl: Duration::from_secs(10),
            consistent_read: false,
        };
        assert_eq!(o, defaults);
        assert_eq!(options(&[], "presence-chat-*?member"), Err("MEMBERSHIP_TABLE"));
        assert_eq!(options(&[], "presence-chat-*"), Ok((None, defaults)));
        for bad in ["ab", "a b", "t/1", &"t".repeat(256)] {
            assert_eq!(options(&[("MEMBERSHIP_TABLE", bad)], ""), Err("MEMBERSHIP_TABLE"), "{bad}");
        }
        let (_, o) = options(
            &[
                ("MEMBERSHIP_TTL_SECONDS", "0"),
                ("MEMBERSHIP_NEGATIVE_TTL_SECONDS", "3600"),
                ("MEMBERSHIP_CONSISTENT_READ", "true"),
            ],
            "",
        )
        .unwrap();
        assert_eq!((o.found_ttl, o.absent_ttl, o.consistent_read), (Duration::ZERO, Duration::from_secs(3600), true));
        assert_eq!(options(&[("MEMBERSHIP_TTL_SECONDS", "3601")], ""), Err("MEMBERSHIP_TTL_SECONDS"));
        assert_eq!(options(&[("MEMBERSHIP_NEGATIVE_TTL_SECONDS", "-1")], ""), Err("MEMBERSHIP_NEGATIVE_TTL_SECONDS"));
        assert_eq!(options(&[("MEMBERSHIP_CONSISTENT_READ", "yes")], ""), Err("MEMBERSHIP_CONSISTENT_READ"));
    }
}
