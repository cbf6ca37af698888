//! Configuration as plain data: environment variables read and checked once
//! at cold start into [`Settings`], and the non-secret ones overridable per
//! request by API Gateway stage variables of the same name. Nothing here
//! builds a cache or a client: the endpoint builds its services from these
//! values (`Endpoint::with_store`).
//!
//! Secrets (`PUSHER_SECRET`, `PUSHER_ENCRYPTION_MASTER_KEY_BASE64`) come only
//! from the environment or from Secrets Manager (`PUSHER_SECRET_ID`, which a
//! stage variable may set per stage); a stage variable that tries to set a
//! secret itself is ignored and logged. Errors name the variable, never its value.
//!
//! Here: one small parse per concern and the value checks; `auth`:
//! `AUTH_MODE` and the variables of its modes; `stage`: the per-request overrides.

use std::ops::RangeInclusive;
use std::sync::Arc;
use std::time::Duration;

use crate::identity::user_info::UserInfoClaims;
use crate::identity::validators::AuthMode;
use crate::policy::ChannelPolicy;
use crate::pusher::signer::{AppSecret, MasterKey};
use crate::support::metrics;

mod auth;
mod membership;
mod stage;
pub(crate) use auth::{Jwks, JwtOptions};
pub(crate) use membership::MembershipOptions;
pub(crate) use stage::{App, AppView};

pub use crate::error::ConfigError;

/// The configuration, read and checked at cold start: plain values, from
/// which the endpoint builds its services once per execution environment.
/// Per-request stage-variable overrides never change it (see `stage.rs`).
#[derive(Debug)]
pub struct Settings {
    /// `PUSHER_KEY` and `ALLOWED_ORIGINS`, which stage variables may
    /// override (`PUSHER_APP_ID` and `PUSHER_CLUSTER` are only checked).
    pub(crate) app: App,
    /// `PUSHER_SECRET` (with the master key), or `PUSHER_SECRET_ID`.
    pub(crate) secrets: SecretSource,
    /// `PUSHER_SECRET_TTL_SECONDS`: how long a stored secret is used before
    /// it is read again (`None`: for ever).
    pub(crate) secret_ttl: Option<Duration>,
    /// `AUTH_MODE`, with its mode's options.
    pub(crate) auth: AuthMode<JwtOptions>,
    /// `USER_INFO_CLAIMS` (default `name`).
    pub(crate) user_info_claims: UserInfoClaims,
    /// `WATCHLIST_CLAIM`: a list claim copied into signin `user_data.watchlist`.
    pub(crate) watchlist_claim: Option<String>,
    /// `AUTH_TOKEN_PARAM` (default `token`).
    pub(crate) token_param: String,
    /// `CHANNEL_RULES`: which channels a user may join (none by default).
    pub(crate) policy: ChannelPolicy,
    /// `METRICS_NAMESPACE` for the EMF metrics in each request's log line;
    /// `None` when `METRICS=off`.
    pub(crate) metrics_namespace: Option<String>,
    /// `MEMBERSHIP_*`: how `?member` rules read their table (named in `app`).
    pub(crate) membership: MembershipOptions,
}

/// Where the app secret comes from.
#[derive(Debug)]
pub(crate) enum SecretSource {
    /// `PUSHER_SECRET`, with `PUSHER_ENCRYPTION_MASTER_KEY_BASE64` when set.
    Fixed(Arc<AppSecrets>),
    /// `PUSHER_SECRET_ID`: the Secrets Manager secret to read.
    Stored(String),
}

/// What signing needs: the app secret and, for encrypted channels, the master key.
#[derive(Debug, Clone)]
pub(crate) struct AppSecrets {
    /// The app secret.
    pub(crate) secret: AppSecret,
    /// The encryption master key, if configured.
    pub(crate) master_key: Option<MasterKey>,
}

/// Why a secret is not usable (names no value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(clippy::enum_variant_names)] // the names read as the problems they are
pub(crate) enum SecretFormatError {
    /// Empty, or surrounded by whitespace.
    BadSecret,
    /// A stored secret's JSON without a string `secret`, or with other unknown content.
    BadJson,
    /// The master key is not standard base64 of 32 bytes.
    BadMasterKey,
}

impl AppSecrets {
    /// The app secret and the base64 master key (empty counts as none), checked.
    pub(crate) fn new(secret: &str, master_key: Option<&str>) -> Result<Self, SecretFormatError> {
        if secret.is_empty() || secret.trim() != secret {
            return Err(SecretFormatError::BadSecret);
        }
        let master_key = master_key.filter(|k| !k.is_empty()).map(MasterKey::from_base64);
        let master_key = master_key.map(|key| key.ok_or(SecretFormatError::BadMasterKey)).transpose()?;
        Ok(Self { secret: AppSecret::new(secret.as_bytes()), master_key })
    }
}

/// `PUSHER_SECRET_TTL_SECONDS` when unset: five minutes, as AWS's own
/// Secrets Manager extension refreshes.
pub(crate) const DEFAULT_SECRET_TTL: Duration = Duration::from_secs(300);
/// The largest `PUSHER_SECRET_TTL_SECONDS` accepted: a day.
const MAX_SECRET_TTL_SECONDS: u64 = 86_400;

impl Settings {
    /// Reads and checks the configuration through `lookup` (`main` passes
    /// the process environment). Empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let get = |name: &str| lookup(name).filter(|v| !v.is_empty());
        // In the order the checks report: the first fault found is named.
        let key = pusher_app(&get)?;
        let (secrets, secret_ttl) = secret_source(&get)?;
        let mut settings = Self {
            app: App { key, allowed_origins: allowed_origins(&get)?, membership_table: None },
            secrets,
            secret_ttl,
            auth: auth::auth_mode(&get)?,
            policy: ChannelPolicy::parse(&get("CHANNEL_RULES").unwrap_or_default())
                .map_err(|e| ConfigError::new("CHANNEL_RULES", format!("is wrong: {e}")))?,
            user_info_claims: UserInfoClaims::parse(&get("USER_INFO_CLAIMS").unwrap_or_else(|| "name".into())),
            watchlist_claim: claim(&get, "WATCHLIST_CLAIM")?,
            token_param: checked(&get, "AUTH_TOKEN_PARAM", valid_token_param, TOKEN_PARAM)?
                .unwrap_or_else(|| "token".into()),
            metrics_namespace: metrics_namespace(&get)?,
            membership: MembershipOptions::default(),
        };
        (settings.app.membership_table, settings.membership) = membership::membership(&get, &settings.policy)?;
        Ok(settings)
    }
}

/// What `AUTH_TOKEN_PARAM` must be.
const TOKEN_PARAM: &str = "must be a plain parameter name other than callback, socket_id and channel_name";

/// What config's functions return: a value, or the first fault found.
type Result<T, E = ConfigError> = std::result::Result<T, E>;

/// A variable's value as [`Settings::from_lookup`] reads it: `None` when unset or empty.
trait Vars: Fn(&str) -> Option<String> {}

impl<F: Fn(&str) -> Option<String>> Vars for F {}

/// `variable`, when set, refused with `problem` unless `valid` holds for it.
fn checked(get: &impl Vars, variable: &'static str, valid: fn(&str) -> bool, problem: &str) -> Result<Option<String>> {
    match get(variable) {
        Some(value) if !valid(&value) => Err(ConfigError::new(variable, problem)),
        value => Ok(value),
    }
}

/// `PUSHER_KEY`, with `PUSHER_APP_ID` and `PUSHER_CLUSTER` checked.
fn pusher_app(get: &impl Vars) -> Result<String> {
    let key = checked(get, "PUSHER_KEY", valid_key, "is not a valid app key (letters, digits, '-', '_'; at most 64)")?
        .ok_or(ConfigError::new("PUSHER_KEY", "is not set"))?;
    checked(get, "PUSHER_APP_ID", valid_app_id, "is not a valid app id (digits only)")?;
    checked(get, "PUSHER_CLUSTER", valid_cluster, "is not a valid cluster name (lowercase letters, digits, '-')")?;
    Ok(key)
}

/// `PUSHER_SECRET_TTL_SECONDS`, then `PUSHER_SECRET` (and the master key) or
/// `PUSHER_SECRET_ID`.
fn secret_source(get: &impl Vars) -> Result<(SecretSource, Option<Duration>)> {
    let ttl_problem = "must be a whole number of seconds from 1 to 86400, or 0 for never";
    let ttl = seconds(get, "PUSHER_SECRET_TTL_SECONDS", DEFAULT_SECRET_TTL, MAX_SECRET_TTL_SECONDS, ttl_problem)?;
    const MASTER_KEY: &str = "PUSHER_ENCRYPTION_MASTER_KEY_BASE64";
    let Some(id) = get("PUSHER_SECRET_ID") else {
        let secret =
            get("PUSHER_SECRET").ok_or(ConfigError::new("PUSHER_SECRET", "is not set (nor PUSHER_SECRET_ID)"))?;
        let secrets = AppSecrets::new(&secret, get(MASTER_KEY).as_deref()).map_err(|e| match e {
            SecretFormatError::BadMasterKey => {
                ConfigError::new(MASTER_KEY, "is not standard base64 of exactly 32 bytes")
            }
            _ => ConfigError::new("PUSHER_SECRET", "has leading or trailing whitespace"),
        })?;
        return Ok((SecretSource::Fixed(Arc::new(secrets)), ttl));
    };
    let fault = |problem: &str| Err(ConfigError::new("PUSHER_SECRET_ID", problem));
    if get("PUSHER_SECRET").is_some() {
        return fault("and PUSHER_SECRET are both set; choose one");
    }
    if get(MASTER_KEY).is_some() {
        let problem = "must be kept in the secret (encryptionMasterKeyBase64) when PUSHER_SECRET_ID is set";
        return Err(ConfigError::new(MASTER_KEY, problem));
    }
    if !valid_secret_id(&id) {
        return fault("is not a secret name or ARN");
    }
    match (arn_region(&id), get("AWS_REGION").or_else(|| get("AWS_DEFAULT_REGION"))) {
        // The client asks its own region's endpoint, which does not know the secret.
        (Some(secret), Some(function)) if secret != function => fault(&format!(
            "is a secret in {secret}, but the function runs in {function}: create the secret in the stack's region"
        )),
        _ => Ok((SecretSource::Stored(id), ttl)),
    }
}

/// `ALLOWED_ORIGINS` (none by default).
fn allowed_origins(get: &impl Vars) -> Result<String> {
    let list = get("ALLOWED_ORIGINS").unwrap_or_default();
    origin_list_problem(&list).map_or(Ok(list), |problem| Err(ConfigError::new("ALLOWED_ORIGINS", problem)))
}

/// `METRICS_NAMESPACE` (checked even when off), or `None` when `METRICS=off`.
fn metrics_namespace(get: &impl Vars) -> Result<Option<String>> {
    let problem = "is not a CloudWatch namespace (1-255 of letters, digits and .-_/#:, not starting with AWS/)";
    let namespace = checked(get, "METRICS_NAMESPACE", metrics::valid_namespace, problem)?;
    match get("METRICS").as_deref() {
        None | Some("on") => Ok(Some(namespace.unwrap_or_else(|| metrics::DEFAULT_NAMESPACE.into()))),
        Some("off") => Ok(None),
        Some(_) => Err(ConfigError::new("METRICS", "must be on or off")),
    }
}

/// A lifetime in whole seconds: `default` when unset, `None` (for ever) for
/// `0`, at most `max`; else the error `fault` with the variable `name`.
fn seconds(get: &impl Vars, name: &'static str, default: Duration, max: u64, fault: &str) -> Result<Option<Duration>> {
    match get(name).map(|v| v.parse::<u64>()) {
        None => Ok(Some(default)),
        Some(Ok(0)) => Ok(None),
        Some(Ok(seconds)) if seconds <= max => Ok(Some(Duration::from_secs(seconds))),
        Some(_) => Err(ConfigError::new(name, fault)),
    }
}

/// A claim-name variable (`USER_ID_CLAIM`, `WATCHLIST_CLAIM`), when set.
fn claim(get: &impl Vars, variable: &'static str) -> Result<Option<String>> {
    let valid: fn(&str) -> bool = |name| shaped(name, 1..=128, |b| b.is_ascii_alphanumeric() || b"_-:.".contains(&b));
    checked(get, variable, valid, "is not a claim name (letters, digits, _ - : .)")
}

/// Stage or environment names that mean production.
fn is_production(name: &str) -> bool {
    name.eq_ignore_ascii_case("production") || name.eq_ignore_ascii_case("prod")
}

/// Whether `value` has a length in `len` and only bytes `byte` accepts.
pub(crate) fn shaped(value: &str, len: RangeInclusive<usize>, byte: impl Fn(u8) -> bool) -> bool {
    len.contains(&value.len()) && value.bytes().all(byte)
}

fn valid_key(key: &str) -> bool {
    shaped(key, 1..=64, |b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn valid_app_id(id: &str) -> bool {
    shaped(id, 1..=20, |b| b.is_ascii_digit())
}

fn valid_cluster(cluster: &str) -> bool {
    shaped(cluster, 1..=32, |b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn valid_token_param(name: &str) -> bool {
    shaped(name, 1..=64, |b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        && !matches!(name, "callback" | "socket_id" | "channel_name")
}

fn origins(list: &str) -> impl Iterator<Item = &str> {
    list.split(|c: char| c == ',' || c.is_ascii_whitespace()).filter(|s| !s.is_empty())
}

/// What is wrong with an `ALLOWED_ORIGINS` list (which is not secret, so the
/// faulty entry is named), or `None`: each entry must be `http://host[:port]`
/// or `https://host[:port]`, no path.
fn origin_list_problem(list: &str) -> Option<String> {
    const SHAPE: &str = "an origin is scheme://host[:port], e.g. https://app.example.com; separate them with commas";
    let host =
        |hostport: &str| shaped(hostport, 1..=usize::MAX, |b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
    origins(list).find_map(|origin| {
        let problem = match origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://")) {
            _ if origin.contains(['"', '\'']) => format!("has a quote in {origin:?}: write the origins without quotes"),
            None => format!("has {origin:?}, which does not start with https:// or http://"),
            Some(hostport) if hostport.contains('/') => format!("has a path or a trailing '/' in {origin:?}"),
            Some(hostport) if host(hostport) => return None,
            Some(_) => format!("has {origin:?}, which is not a host and optional port"),
        };
        Some(format!("{problem} ({SHAPE})"))
    })
}

/// Whether `PUSHER_SECRET_ID` (environment or stage variable) can be a
/// Secrets Manager secret name or ARN, by AWS's rules: a name is 1–512 of
/// ASCII letters, digits and `/_+=.@-`; an ARN is
/// `arn:<partition>:secretsmanager:<region>:<12-digit account>:secret:<name>`
/// with an `aws…` partition.
///
/// A Pusher app secret pasted here by mistake (20 lowercase hex digits, the
/// shape Pusher issues) is refused too: it would otherwise be logged as the
/// secret id and sent to AWS. Callers never log a value this refuses.
fn valid_secret_id(id: &str) -> bool {
    let name_ok = |name: &str| shaped(name, 1..=512, |b| b.is_ascii_alphanumeric() || b"/_+=.@-".contains(&b));
    if shaped(id, 20..=20, |b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return false; // looks like a Pusher app secret
    }
    let Some(rest) = id.strip_prefix("arn:") else { return name_ok(id) };
    match rest.splitn(6, ':').collect::<Vec<_>>().as_slice() {
        [partition, "secretsmanager", region, account, "secret", name] => {
            partition.starts_with("aws")
                && partition.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
                && valid_region(region)
                && shaped(account, 12..=12, |b| b.is_ascii_digit())
                && name_ok(name)
        }
        _ => false,
    }
}

/// The region of a Secrets Manager ARN (`arn:<partition>:secretsmanager:<region>:…`).
fn arn_region(id: &str) -> Option<&str> {
    id.strip_prefix("arn:")?.split(':').nth(2)
}

/// An AWS region name as `AWS_REGION` and ARNs carry it (`eu-west-1`).
pub(crate) fn valid_region(region: &str) -> bool {
    !region.is_empty() && region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Misconfig, Refusal};
    use std::borrow::Cow;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let mut env: HashMap<String, String> =
            [("PUSHER_KEY", "key1"), ("PUSHER_SECRET", "s3cr3t-value"), ("AUTH_MODE", "demo")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        for (k, v) in vars {
            env.insert(k.to_string(), v.to_string());
        }
        Settings::from_lookup(|name| env.get(name).cloned())
    }

    /// The configuration in force for a request through the stage `stage`
    /// with the stage variables `vars`.
    fn resolve<'a>(s: &'a Settings, stage: Option<&str>, vars: &'a [Pair]) -> Result<AppView<'a>, Refusal> {
        s.app.resolve(matches!(s.auth, AuthMode::Demo), stage, vars)
    }

    type Pair = (Cow<'static, str>, Cow<'static, str>);

    fn pairs(vars: &[(&'static str, &'static str)]) -> Vec<Pair> {
        vars.iter().map(|(name, value)| (Cow::Borrowed(*name), Cow::Borrowed(*value))).collect()
    }

    fn variable_of(vars: &[(&str, &str)]) -> &'static str {
        settings(vars).unwrap_err().variable
    }

    /// The whole message of the error `vars` give.
    fn message_of(vars: &[(&str, &str)]) -> String {
        settings(vars).unwrap_err().to_string()
    }

    #[test]
    fn messages_name_the_fault_in_the_value() {
        let m = message_of(&[("ALLOWED_ORIGINS", "https://app.example.com/")]);
        assert!(
            m.contains("ALLOWED_ORIGINS") && m.contains("trailing '/'") && m.contains("\"https://app.example.com/\""),
            "{m}"
        );
        let m = message_of(&[("ALLOWED_ORIGINS", "\"https://app.example.com\"")]);
        assert!(m.contains("quote"), "{m}");
        let m = message_of(&[("ALLOWED_ORIGINS", "app.example.com")]);
        assert!(m.contains("does not start with https://"), "{m}");
        assert!(settings(&[("ALLOWED_ORIGINS", "https://a.example, http://localhost:8080")]).is_ok());
        // CHANNEL_RULES: quotes, and commas where spaces belong.
        let m = message_of(&[("CHANNEL_RULES", "\"private-*\"")]);
        assert!(m.starts_with("configuration error: CHANNEL_RULES") && m.contains("quote"), "{m}");
        let m = message_of(&[("CHANNEL_RULES", "private-*,presence-*")]);
        assert!(m.contains("separate rules with spaces") && m.contains("'private-* presence-*'"), "{m}");
        // A comma is valid inside a channel name.
        assert!(settings(&[("CHANNEL_RULES", "private-a,b-* presence-x")]).is_ok());
        let m = message_of(&[("CHANNEL_RULES", "private-a b")]);
        assert!(m.contains("the rule \"b\" must start with private-"), "{m}");
    }

    #[test]
    fn a_stored_secret_is_in_the_functions_region() {
        let with = |id: &str, region: &str| {
            let env = [("PUSHER_KEY", "key1"), ("AUTH_MODE", "demo"), ("PUSHER_SECRET_ID", id), ("AWS_REGION", region)];
            Settings::from_lookup(|name| env.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string()))
                .map(|_| ())
                .map_err(|e| e.to_string())
        };
        let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:pusher/prod-AbCdEf";
        assert_eq!(with(arn, "us-east-1"), Ok(()));
        assert_eq!(with("pusher/prod", "eu-west-1"), Ok(()), "a name is looked up in the function's region");
        assert_eq!(
            with(arn, "eu-west-1"),
            Err("configuration error: PUSHER_SECRET_ID is a secret in us-east-1, but the function runs in eu-west-1: create the secret in the stack's region".into())
        );
    }

    #[test]
    fn a_user_pool_is_in_one_region() {
        let pool = |keys: &str, issuer: &str| {
            let vars = [
                ("AUTH_MODE", "jwt"),
                ("JWT_ALGORITHMS", "RS256"),
                ("JWT_AUDIENCE", "client-1"),
                ("JWT_JWKS_URL", keys),
                ("JWT_ISSUER", issuer),
            ];
            settings(&vars).map(|_| ()).map_err(|e| e.to_string())
        };
        let url = |region: &str| format!("https://cognito-idp.{region}.amazonaws.com/{region}_AbC");
        let keys = |region: &str| format!("{}/.well-known/jwks.json", url(region));
        assert_eq!(pool(&keys("us-east-1"), &url("us-east-1")), Ok(()));
        assert_eq!(
            pool(&keys("us-east-1"), &url("eu-west-1")),
            Err("configuration error: JWT_JWKS_URL is a user pool's in us-east-1, but JWT_ISSUER names one in eu-west-1: both are the same pool's".into())
        );
        // Another provider's URLs are not compared.
        assert_eq!(pool("https://idp.example/jwks", &url("eu-west-1")), Ok(()));
    }

    #[test]
    fn the_issuer_is_an_https_url() {
        let rs = [
            ("AUTH_MODE", "jwt"),
            ("JWT_ALGORITHMS", "RS256"),
            ("JWT_JWKS_URL", "https://example.com/jwks"),
            ("JWT_AUDIENCE", "client-1"),
        ];
        let with =
            |issuer: &str| settings(&[&rs[..], &[("JWT_ISSUER", issuer)]].concat()).map(|_| ()).map_err(|e| e.variable);
        for bad in [
            "http://issuer.example",
            "issuer.example",
            "cognito-idp.eu-west-1.amazonaws.com/pool",
            " https://issuer.example",
            "https://",
        ] {
            assert_eq!(with(bad), Err("JWT_ISSUER"), "{bad}");
        }
        for good in [
            "https://issuer.example",
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC",
            "http://127.0.0.1:8080/realm",
        ] {
            assert_eq!(with(good), Ok(()), "{good}");
        }
    }

    #[test]
    fn valid_values_pass_the_checks_their_neighbours_fail() {
        // An app id of digits passes, in the environment and as a stage variable.
        assert!(settings(&[("PUSHER_APP_ID", "1234567")]).is_ok());
        let s = settings(&[]).unwrap();
        let stage = pairs(&[("PUSHER_APP_ID", "7654321")]);
        assert!(s.app.resolve(true, None, &stage).is_ok());
        // A claim name with a space is refused for both claim variables.
        assert_eq!(variable_of(&[("AUTH_MODE", "authorizer"), ("USER_ID_CLAIM", "a b")]), "USER_ID_CLAIM");
        assert_eq!(variable_of(&[("WATCHLIST_CLAIM", "a b")]), "WATCHLIST_CLAIM");
        assert!(settings(&[("WATCHLIST_CLAIM", "custom:watch.list")]).is_ok());
        // With the secret in Secrets Manager, a master key in the environment is refused:
        // it belongs in the secret.
        let m = message_of(&[
            ("PUSHER_SECRET", ""),
            ("PUSHER_SECRET_ID", "pusher/staging"),
            ("PUSHER_ENCRYPTION_MASTER_KEY_BASE64", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
        ]);
        assert!(m.contains("PUSHER_ENCRYPTION_MASTER_KEY_BASE64") && m.contains("kept in the secret"), "{m}");
        assert!(!m.contains("AAAA"), "{m}");
    }

    #[test]
    fn clusters_claim_names_and_origins_at_their_edges() {
        for cluster in ["mt1", "eu", "ap-southeast-1"] {
            assert!(settings(&[("PUSHER_CLUSTER", cluster)]).is_ok(), "{cluster}");
        }
        for cluster in ["EU", "a_b", "mt1.example"] {
            assert_eq!(variable_of(&[("PUSHER_CLUSTER", cluster)]), "PUSHER_CLUSTER", "{cluster}");
        }
        assert!(settings(&[("WATCHLIST_CLAIM", &"a".repeat(128))]).is_ok());
        assert_eq!(variable_of(&[("WATCHLIST_CLAIM", &"a".repeat(129))]), "WATCHLIST_CLAIM");
        for origins in ["https://a_b.example", "https://", "https://a.example,http://"] {
            assert_eq!(variable_of(&[("ALLOWED_ORIGINS", origins)]), "ALLOWED_ORIGINS", "{origins}");
        }
        assert!(settings(&[("ALLOWED_ORIGINS", "https://a-b.example:8443, http://[::1]:3000")]).is_ok());
        // The same checks hold for the stage variables.
        let s = settings(&[]).unwrap();
        let stage = pairs(&[("ALLOWED_ORIGINS", "https://a.example/")]);
        assert_eq!(
            s.app.resolve(true, None, &stage).unwrap_err(),
            Refusal::Misconfigured(Misconfig::StageAllowedOrigins)
        );
        let stage = pairs(&[("PUSHER_CLUSTER", "mt1")]);
        assert!(s.app.resolve(true, None, &stage).is_ok());
    }

    #[test]
    fn minimal_configuration() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.app.key, "key1");
        assert_eq!(s.token_param, "token");
        assert!(matches!(&s.secrets, SecretSource::Fixed(secrets) if secrets.master_key.is_none()));
    }

    #[test]
    fn errors_name_the_variable_and_never_the_value() {
        assert_eq!(variable_of(&[("PUSHER_SECRET", "")]), "PUSHER_SECRET");
        assert_eq!(variable_of(&[("PUSHER_KEY", "")]), "PUSHER_KEY");
        assert_eq!(variable_of(&[("PUSHER_KEY", "bad key!")]), "PUSHER_KEY");
        // jwt is the default mode, and needs its algorithms.
        assert_eq!(variable_of(&[("AUTH_MODE", "")]), "JWT_ALGORITHMS");
        assert_eq!(variable_of(&[("AUTH_MODE", "none")]), "AUTH_MODE");
        assert_eq!(variable_of(&[("PUSHER_APP_ID", "12a")]), "PUSHER_APP_ID");
        assert_eq!(variable_of(&[("PUSHER_CLUSTER", "EU 1")]), "PUSHER_CLUSTER");
        assert_eq!(variable_of(&[("ALLOWED_ORIGINS", "example.com")]), "ALLOWED_ORIGINS");
        assert_eq!(variable_of(&[("ALLOWED_ORIGINS", "https://a.example/path")]), "ALLOWED_ORIGINS");
        assert_eq!(variable_of(&[("AUTH_TOKEN_PARAM", "socket_id")]), "AUTH_TOKEN_PARAM");
        assert_eq!(variable_of(&[("METRICS_NAMESPACE", "AWS/Lambda")]), "METRICS_NAMESPACE");
        assert_eq!(variable_of(&[("METRICS_NAMESPACE", "Pusher Auth")]), "METRICS_NAMESPACE");
        assert_eq!(variable_of(&[("METRICS", "no")]), "METRICS");
        for bad in ["-1", "1.5", "86401", "5m", " 30"] {
            assert_eq!(variable_of(&[("PUSHER_SECRET_TTL_SECONDS", bad)]), "PUSHER_SECRET_TTL_SECONDS", "{bad}");
        }
        let ttl = |v| settings(&[("PUSHER_SECRET_TTL_SECONDS", v)]).unwrap().secret_ttl;
        assert_eq!(settings(&[]).unwrap().secret_ttl, Some(Duration::from_secs(300)));
        assert_eq!(ttl("0"), None);
        assert_eq!(ttl("1"), Some(Duration::from_secs(1)));
        assert_eq!(ttl("86400"), Some(Duration::from_secs(86_400)));
        let short_key = "c2hvcnQ=";
        assert_eq!(
            variable_of(&[("PUSHER_ENCRYPTION_MASTER_KEY_BASE64", short_key)]),
            "PUSHER_ENCRYPTION_MASTER_KEY_BASE64"
        );
        // A Pusher secret pasted into PUSHER_SECRET_ID: refused, and never repeated.
        let aws = [("AWS_REGION", "eu-west-1"), ("AWS_ACCESS_KEY_ID", "AKID"), ("AWS_SECRET_ACCESS_KEY", "sk")];
        let pasted = [&aws[..], &[("PUSHER_SECRET", ""), ("PUSHER_SECRET_ID", "7ad3773142a6692b25b8")]].concat();
        let e = settings(&pasted).unwrap_err();
        assert_eq!(e.variable, "PUSHER_SECRET_ID");
        assert!(!e.to_string().contains("7ad377"), "{e}");
        let named = [&aws[..], &[("PUSHER_SECRET", ""), ("PUSHER_SECRET_ID", "pusher/staging")]].concat();
        let s = settings(&named).unwrap();
        let stage = pairs(&[("PUSHER_SECRET_ID", "7ad3773142a6692b25b8")]);
        assert_eq!(resolve(&s, None, &stage).unwrap_err(), Refusal::Misconfigured(Misconfig::StageSecretId));
        let e = settings(&[("PUSHER_SECRET", " s3cr3t-value\n")]).unwrap_err();
        let line = e.to_string();
        assert!(line.contains("PUSHER_SECRET") && !line.contains("s3cr3t") && !line.contains('\n'), "{line}");
    }

    #[test]
    fn jwt_configuration_errors() {
        let jwt = |extra: &[(&'static str, &'static str)]| {
            let mut vars = vec![("AUTH_MODE", "jwt")];
            vars.extend_from_slice(extra);
            settings(&vars).map(|_| ()).map_err(|e| e.variable)
        };
        let secret = "0123456789abcdef0123456789abcdef";
        assert_eq!(jwt(&[("JWT_ALGORITHMS", "none")]), Err("JWT_ALGORITHMS"));
        assert_eq!(jwt(&[("JWT_ALGORITHMS", "EdDSA")]), Err("JWT_ALGORITHMS"));
        assert_eq!(jwt(&[("JWT_ALGORITHMS", "HS256")]), Err("JWT_SECRET"));
        assert_eq!(jwt(&[("JWT_ALGORITHMS", "HS256"), ("JWT_SECRET", "s3cr3t-value")]), Err("JWT_SECRET"));
        assert_eq!(jwt(&[("JWT_ALGORITHMS", "HS256"), ("JWT_SECRET", "short")]), Err("JWT_SECRET"));
        // The Pusher secret reused as the JWT secret is refused, even when long enough.
        let long = "0123456789abcdef0123456789abcdef01234567";
        let m = message_of(&[
            ("PUSHER_SECRET", long),
            ("AUTH_MODE", "jwt"),
            ("JWT_ALGORITHMS", "HS256"),
            ("JWT_SECRET", long),
        ]);
        assert!(m.contains("JWT_SECRET") && m.contains("must differ from PUSHER_SECRET") && !m.contains(long), "{m}");
        assert_eq!(jwt(&[("JWT_ALGORITHMS", "HS256"), ("JWT_SECRET", secret)]), Ok(()));
        assert_eq!(jwt(&[("JWT_ALGORITHMS", "RS256"), ("JWT_SECRET", secret)]), Err("JWT_SECRET"));
        assert_eq!(jwt(&[("JWT_ALGORITHMS", "RS256")]), Err("JWT_JWKS_URL"));
        assert_eq!(jwt(&[("JWT_ALGORITHMS", "RS256"), ("JWT_JWKS", "{\"keys\":[]}")]), Err("JWT_JWKS"));
        assert_eq!(
            jwt(&[("JWT_ALGORITHMS", "RS256"), ("JWT_JWKS_URL", "http://example.com/jwks")]),
            Err("JWT_JWKS_URL")
        );
        let iss = ("JWT_ISSUER", "https://issuer.example");
        let aud = ("JWT_AUDIENCE", "client-1");
        let url = ("JWT_JWKS_URL", "https://example.com/jwks");
        assert_eq!(jwt(&[("JWT_ALGORITHMS", "RS256"), url, iss, aud]), Ok(()));
        let local = ("JWT_JWKS_URL", "http://127.0.0.1:1/jwks");
        assert_eq!(jwt(&[("JWT_ALGORITHMS", "RS256"), local, iss, aud]), Ok(()));
        // Keys configured for an allow-list of HS algorithms only are a mistake, not ignored.
        assert_eq!(jwt(&[("JWT_ALGORITHMS", "HS256"), ("JWT_SECRET", secret), url, iss, aud]), Err("JWT_JWKS"));
        // JWKS keys need both the issuer and the audience.
        assert_eq!(jwt(&[("JWT_ALGORITHMS", "RS256"), url]), Err("JWT_ISSUER"));
        assert_eq!(jwt(&[("JWT_ALGORITHMS", "ES256"), url, aud]), Err("JWT_ISSUER"));
        assert_eq!(jwt(&[("JWT_ALGORITHMS", "RS256"), url, iss]), Err("JWT_AUDIENCE"));
        assert_eq!(jwt(&[("JWT_ALGORITHMS", "PS256,HS256"), url, iss, ("JWT_SECRET", secret)]), Err("JWT_AUDIENCE"));
        // A dedicated HMAC secret keeps them optional.
        assert_eq!(jwt(&[("JWT_ALGORITHMS", "HS256"), ("JWT_SECRET", secret), aud]), Ok(()));
        let rs = [("JWT_ALGORITHMS", "RS256"), url, iss, aud];
        assert_eq!(jwt(&[&rs[..], &[("JWT_LEEWAY_SECONDS", "61")]].concat()), Err("JWT_LEEWAY_SECONDS"));
        // The fetched key set's lifetime: 0 (once per environment) to a day, 300 s by default.
        let ttl_of = |extra: &[(&str, &str)]| {
            format!("{:?}", settings(&[&rs[..], &[("AUTH_MODE", "jwt")], extra].concat()).unwrap().auth)
        };
        assert!(ttl_of(&[]).contains("ttl: Some(300s)"), "{}", ttl_of(&[]));
        assert!(ttl_of(&[("JWT_JWKS_TTL_SECONDS", "0")]).contains("ttl: None"));
        assert!(ttl_of(&[("JWT_JWKS_TTL_SECONDS", "5")]).contains("ttl: Some(5s)"));
        for (ttl, verdict) in [
            ("0", Ok(())),
            ("1", Ok(())),
            ("86400", Ok(())),
            ("86401", Err("JWT_JWKS_TTL_SECONDS")),
            ("-1", Err("JWT_JWKS_TTL_SECONDS")),
            ("5m", Err("JWT_JWKS_TTL_SECONDS")),
        ] {
            assert_eq!(jwt(&[&rs[..], &[("JWT_JWKS_TTL_SECONDS", ttl)]].concat()), verdict, "{ttl}");
        }
        assert_eq!(jwt(&[&rs[..], &[("CHANNEL_RULES", "user-*")]].concat()), Err("CHANNEL_RULES"));
    }

    #[test]
    fn metrics_are_on_by_default_in_their_namespace() {
        assert_eq!(settings(&[]).unwrap().metrics_namespace.as_deref(), Some("PusherAuth"));
        let s = settings(&[("METRICS_NAMESPACE", "PusherAuth/staging")]).unwrap();
        assert_eq!(s.metrics_namespace.as_deref(), Some("PusherAuth/staging"));
        assert!(settings(&[("METRICS", "on")]).unwrap().metrics_namespace.is_some());
        assert!(settings(&[("METRICS", "off")]).unwrap().metrics_namespace.is_none());
        // The namespace is checked even with metrics off.
        assert_eq!(variable_of(&[("METRICS", "off"), ("METRICS_NAMESPACE", "AWS/x")]), "METRICS_NAMESPACE");
    }

    #[test]
    fn demo_is_refused_in_production() {
        assert_eq!(variable_of(&[("DEPLOYMENT_ENVIRONMENT", "production")]), "AUTH_MODE");
        let s = settings(&[("DEPLOYMENT_ENVIRONMENT", "staging")]).unwrap();
        assert_eq!(
            resolve(&s, Some("prod"), &[]).unwrap_err(),
            Refusal::Misconfigured(Misconfig::DemoOnProductionStage)
        );
        assert!(resolve(&s, Some("staging"), &[]).is_ok());
        // Only the stage's name counts, not a stage variable.
        assert!(resolve(&s, Some("staging"), &pairs(&[("stage", "prod"), ("DEPLOYMENT_ENVIRONMENT", "prod")])).is_ok());
    }

    #[test]
    fn stage_variables_override_non_secrets() {
        let s = settings(&[("ALLOWED_ORIGINS", "https://a.example")]).unwrap();
        let stage = pairs(&[
            ("PUSHER_KEY", "stagekey"),
            ("ALLOWED_ORIGINS", "https://b.example, http://localhost:8080"),
            ("PUSHER_SECRET", "attacker-secret"),
        ]);
        let view = resolve(&s, None, &stage).unwrap();
        assert_eq!(view.key, "stagekey");
        assert!(view.origin_allowed("https://b.example"));
        assert!(view.origin_allowed("http://localhost:8080"));
        assert!(!view.origin_allowed("https://a.example"));
        let view = resolve(&s, None, &[]).unwrap();
        assert_eq!(view.key, "key1");
        assert!(view.origin_allowed("https://a.example"));
        assert!(!view.origin_allowed("https://a.example.evil"));
        let bad = pairs(&[("PUSHER_KEY", "no spaces")]);
        assert_eq!(resolve(&s, None, &bad).unwrap_err(), Refusal::Misconfigured(Misconfig::StageKey));
        // A name given twice: the last value wins, as when the event was decoded field by field.
        let twice = pairs(&[("PUSHER_KEY", "no spaces"), ("PUSHER_KEY", "stagekey")]);
        assert_eq!(resolve(&s, None, &twice).unwrap().key, "stagekey");
    }

    #[test]
    fn no_origin_is_allowed_by_default() {
        let s = settings(&[]).unwrap();
        assert!(!resolve(&s, None, &[]).unwrap().origin_allowed("https://a.example"));
        assert!(!resolve(&s, None, &[]).unwrap().origin_allowed(""));
    }

    #[test]
    fn secret_ids() {
        assert!(valid_secret_id("pusher/staging"));
        assert!(valid_secret_id("arn:aws:secretsmanager:eu-west-1:123456789012:secret:pusher/prod-AbCdEf"));
        assert!(!valid_secret_id(""));
        assert!(!valid_secret_id("a b"));
        assert!(!valid_secret_id("a\"b"));
        assert!(valid_secret_id("arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:p-AbCdEf"));
        assert!(valid_secret_id("pusher-auth/7ad3773142a6692b25b8"));
        // AWS's rules: at most 512 characters for a name, no ':' in it, a real ARN shape.
        assert!(!valid_secret_id(&"a".repeat(513)));
        assert!(valid_secret_id(&"a".repeat(512)));
        for bad in [
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:",
            "arn:aws:secretsmanager:eu-west-1:1234:secret:p",
            "arn:aws:s3:eu-west-1:123456789012:secret:p",
            "arn:aws:secretsmanager:eu-west-1:123456789012:parameter:p",
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:a:b",
            "pusher:staging",
            "{\"secret\":\"7ad3773142a6692b25b8\"}",
            "c2VjcmV0IHNlY3JldA== ",
            // A Pusher app secret pasted by mistake.
            "7ad3773142a6692b25b8",
            // Not an AWS partition.
            "arn:gcp:secretsmanager:eu-west-1:123456789012:secret:p",
            "arn:aws1:secretsmanager:eu-west-1:123456789012:secret:p",
            // Not a region.
            "arn:aws:secretsmanager::123456789012:secret:p",
            "arn:aws:secretsmanager:EU_WEST_1:123456789012:secret:p",
        ] {
            assert!(!valid_secret_id(bad), "{bad}");
        }
    }
}
