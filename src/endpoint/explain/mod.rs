//! `pusher-auth explain`: why the function would allow or refuse a channel
//! (or a signin) for a user, with the function's own configuration parser,
//! validator, policy and `channel_data`/`user_data` code, never a copy.
//!
//! It prints no secret, token, signature or shared secret: the answer names
//! the token's verdict and reason, each rule's outcome, and the data that
//! would be signed. `check` runs a file of policy tests against the
//! `CHANNEL_RULES` of each samconfig environment (see `policy-tests.toml`).

use std::fmt::Write as _;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::config::{ConfigError, Settings};
use crate::endpoint::Endpoint;
use crate::error::{AuthFailure, Refusal};
use crate::identity::authorizer::user_from_authorizer;
use crate::identity::jwt::{self, ClaimRules};
use crate::identity::user::User;
use crate::identity::user_info::{presence_channel_data, signin_user_data};
use crate::identity::validators::{AuthMode, Credentials, UserValidator};
use crate::policy::Miss;
use crate::pusher::names::{ChannelKind, ChannelName};

mod cli;
pub use cli::run;

/// Who is asking: a token (checked as the function checks it), or the claims
/// of a token already verified (when the signature is not the question).
#[derive(Debug, Clone)]
pub enum Asker {
    /// A token.
    Token(String),
    /// A claims JSON object.
    Claims(String),
}

/// What is asked for.
#[derive(Debug, Clone)]
pub enum Asked {
    /// A channel authorization.
    Channel(String),
    /// User authentication (`pusher.signin()`).
    Signin,
}

/// The decision, as an exit code: 0 allowed, 1 refused, 2 bad input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Signed.
    Allowed = 0,
    /// Refused.
    Refused = 1,
    /// The input could not be read.
    BadInput = 2,
}

/// The configuration variables a samconfig environment's
/// `parameter_overrides` sets, by template parameter (template.yaml's
/// `Environment.Variables`).
const PARAMETERS: &[(&str, &str)] = &[
    ("PusherAppId", "PUSHER_APP_ID"),
    ("PusherKey", "PUSHER_KEY"),
    ("PusherCluster", "PUSHER_CLUSTER"),
    ("AllowedOrigins", "ALLOWED_ORIGINS"),
    ("AuthMode", "AUTH_MODE"),
    ("ChannelRules", "CHANNEL_RULES"),
    ("UserInfoClaims", "USER_INFO_CLAIMS"),
    ("UserIdClaim", "USER_ID_CLAIM"),
    ("WatchlistClaim", "WATCHLIST_CLAIM"),
    ("JwtAlgorithms", "JWT_ALGORITHMS"),
    ("JwtJwksUrl", "JWT_JWKS_URL"),
    ("JwtJwksTtlSeconds", "JWT_JWKS_TTL_SECONDS"),
    ("JwtIssuer", "JWT_ISSUER"),
    ("JwtAudience", "JWT_AUDIENCE"),
    ("JwtLeewaySeconds", "JWT_LEEWAY_SECONDS"),
    ("MetricsNamespace", "METRICS_NAMESPACE"),
];

/// The variables of the samconfig environment `env` (`[<env>.deploy.parameters]`
/// `parameter_overrides`), as the template passes them to the function.
pub fn samconfig_variables(samconfig: &str, env: &str) -> Result<Vec<(String, String)>, String> {
    let doc: toml::Table = samconfig.parse().map_err(|e| format!("samconfig is not TOML: {e}"))?;
    let overrides = doc
        .get(env)
        .and_then(|e| e.get("deploy"))
        .and_then(|d| d.get("parameters"))
        .and_then(|p| p.get("parameter_overrides"))
        .ok_or_else(|| format!("samconfig has no [{env}.deploy.parameters] parameter_overrides"))?;
    let pairs: Vec<String> = match overrides {
        toml::Value::Array(items) => items.iter().filter_map(|v| v.as_str().map(String::from)).collect(),
        toml::Value::String(line) => line.split_whitespace().map(String::from).collect(),
        _ => return Err("parameter_overrides is neither a list nor a string".into()),
    };
    let mut vars = Vec::new();
    for pair in pairs {
        let Some((name, value)) = pair.split_once('=') else { continue };
        // SAM strips the double quotes that keep a value with spaces whole.
        let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value);
        if let Some((_, variable)) = PARAMETERS.iter().find(|(parameter, _)| *parameter == name) {
            vars.push(((*variable).to_owned(), value.to_owned()));
        }
    }
    Ok(vars)
}

/// The samconfig environments that have deploy parameters.
pub fn samconfig_environments(samconfig: &str) -> Result<Vec<String>, String> {
    let doc: toml::Table = samconfig.parse().map_err(|e| format!("samconfig is not TOML: {e}"))?;
    Ok(doc
        .iter()
        .filter(|(_, v)| v.get("deploy").and_then(|d| d.get("parameters")).is_some())
        .map(|(name, _)| name.clone())
        .collect())
}

/// The variables that decide who may join what once a user's claims are
/// known: all a `--claims` explanation or a policy test reads.
const POLICY_VARIABLES: &[&str] =
    &["AUTH_MODE", "CHANNEL_RULES", "USER_ID_CLAIM", "USER_INFO_CLAIMS", "WATCHLIST_CLAIM"];

/// The function's endpoint from `lookup`, for deciding only. Explain never
/// signs, so the app secret is a stand-in (no secret store, no AWS
/// credentials needed). With `claims_only` (the claims of a verified token are given),
/// only [`POLICY_VARIABLES`] are read, the token checks are stand-ins, and the
/// rest (an app key, URLs) may still be samconfig placeholders.
pub fn endpoint_for_explain(
    lookup: impl Fn(&str) -> Option<String>,
    claims_only: bool,
) -> Result<Endpoint, ConfigError> {
    let settings = Settings::from_lookup(|name| match name {
        "PUSHER_SECRET_ID" => None,
        "PUSHER_SECRET" => Some("explain-never-signs".into()),
        name if !claims_only => lookup(name),
        name if POLICY_VARIABLES.contains(&name) => lookup(name),
        "PUSHER_KEY" => Some("explain".into()),
        "JWT_ALGORITHMS" => Some("HS256".into()),
        "JWT_SECRET" => Some("explain-checks-no-token-signature".into()),
        _ => None,
    })?;
    Ok(Endpoint::new(settings))
}

/// Explains one decision; the report and the verdict.
pub async fn explain(endpoint: &Endpoint, asker: &Asker, asked: &Asked) -> (Verdict, String) {
    let mut out = String::new();
    let channel = match asked {
        Asked::Channel(name) => match ChannelName::parse(name) {
            Ok(channel) => Some(channel),
            Err(refusal) => {
                let _ = writeln!(out, "channel: not a channel name the function accepts ({})", refusal.log_reason());
                return (Verdict::BadInput, out);
            }
        },
        Asked::Signin => None,
    };
    let user = match user_of(endpoint, asker, &mut out).await {
        Ok(user) => user,
        Err(verdict) => return (verdict, out),
    };
    let _ = writeln!(out, "user: {:?}", user.id);
    let Some(channel) = channel else {
        return match signin_user_data(&user, &endpoint.user_info_claims, endpoint.watchlist_claim.as_deref()) {
            Ok(data) => {
                let _ = writeln!(out, "signin: allowed; user_data that would be signed: {data}");
                (Verdict::Allowed, out)
            }
            Err(refusal) => refused(out, refusal),
        };
    };
    let _ = writeln!(out, "channel: {} ({:?})", channel.as_str(), channel.kind());
    for (rule, outcome) in endpoint.policy.explain(&user, &channel) {
        let line = match outcome {
            None => "another kind of channel".to_owned(),
            Some(Ok(())) => "matches".to_owned(),
            Some(Err(miss)) => describe(miss, &user),
        };
        let _ = writeln!(out, "  rule {rule}: {line}");
    }
    if let Err(refusal) = endpoint.policy.decide(&user, channel) {
        return refused(out, refusal);
    }
    match channel.kind() {
        ChannelKind::Presence => match presence_channel_data(&user, &endpoint.user_info_claims) {
            Ok(data) => {
                let _ = writeln!(out, "allowed; channel_data that would be signed: {data}");
            }
            Err(refusal) => return refused(out, refusal),
        },
        ChannelKind::Encrypted => {
            let _ = writeln!(out, "allowed (with the channel's shared secret, when the master key is configured)");
        }
        _ => {
            let _ = writeln!(out, "allowed");
        }
    }
    (Verdict::Allowed, out)
}

fn refused(mut out: String, refusal: Refusal) -> (Verdict, String) {
    let _ = writeln!(out, "refused: {} ({} {})", refusal.log_reason(), refusal.status(), refusal.public_code());
    (Verdict::Refused, out)
}

/// The user the asker is, as the configured validator establishes it.
async fn user_of(endpoint: &Endpoint, asker: &Asker, out: &mut String) -> Result<User, Verdict> {
    match asker {
        Asker::Token(token) => {
            let credentials = Credentials { token: Some(token), ..Credentials::default() };
            match endpoint.validator.validate(credentials).await {
                Ok(user) => {
                    let _ = writeln!(out, "token: accepted");
                    Ok((*user).clone())
                }
                Err(refusal) => {
                    let _ = write!(out, "token: refused: {}", refusal.log_reason());
                    if let (AuthMode::Jwt(jwt), Refusal::Unauthenticated(reason)) = (&endpoint.validator, refusal) {
                        let _ = write!(out, "{}", token_detail(token, reason, &jwt.rules));
                    }
                    let _ = writeln!(out);
                    Err(Verdict::Refused)
                }
            }
        }
        Asker::Claims(text) => {
            let Ok(Value::Object(claims)) = serde_json::from_str::<Value>(text) else {
                let _ = writeln!(out, "claims: not a JSON object");
                return Err(Verdict::BadInput);
            };
            let user = match &endpoint.validator {
                AuthMode::Jwt(jwt) => jwt::user_from_claims(claims, &jwt.rules.user_id_claim),
                AuthMode::Authorizer { user_id_claim, audience } => {
                    let context = serde_json::value::to_raw_value(&serde_json::json!({ "claims": claims }))
                        .map_err(|_| Verdict::BadInput)?;
                    user_from_authorizer(Some(&context), user_id_claim, audience.as_deref())
                }
                AuthMode::Demo => {
                    let _ = writeln!(out, "claims: ignored (AUTH_MODE=demo: every request is the demo user)");
                    return endpoint
                        .validator
                        .validate(Credentials::default())
                        .await
                        .map(|u| (*u).clone())
                        .map_err(|_| Verdict::BadInput);
                }
            };
            user.map_err(|refusal| {
                let _ = writeln!(out, "claims: refused: {}", refusal.log_reason());
                Verdict::Refused
            })
        }
    }
}

/// What an operator needs to fix a token refusal: how long ago it expired,
/// which issuer or audience was expected and which the token names, which
/// `kid` is unknown. Read from the token's header and claims without
/// checking them again (the verdict above is the function's).
fn token_detail(token: &str, reason: AuthFailure, rules: &ClaimRules) -> String {
    let part = |n: usize| -> Option<Map<String, Value>> {
        let bytes = URL_SAFE_NO_PAD.decode(token.split('.').nth(n)?).ok()?;
        serde_json::from_slice(&bytes).ok()
    };
    let (header, claims) = (part(0).unwrap_or_default(), part(1).unwrap_or_default());
    let now = jsonwebtoken::get_current_timestamp();
    match reason {
        AuthFailure::TokenExpired => match claims.get("exp").and_then(Value::as_u64) {
            Some(exp) => format!(" (expired {} s ago; leeway {} s)", now.saturating_sub(exp), rules.leeway),
            None => String::new(),
        },
        AuthFailure::TokenNotYetValid => match claims.get("nbf").and_then(Value::as_u64) {
            Some(nbf) => format!(" (valid in {} s; leeway {} s)", nbf.saturating_sub(now), rules.leeway),
            None => String::new(),
        },
        AuthFailure::TokenWrongIssuer | AuthFailure::TokenWithoutIssuer => {
            format!(
                " (expected iss {:?}; the token has {})",
                rules.issuer.as_deref().unwrap_or(""),
                shown(claims.get("iss"))
            )
        }
        AuthFailure::TokenWrongAudience | AuthFailure::TokenWithoutAudience | AuthFailure::TokenUnexpectedAudience => {
            format!(
                " (expected aud {:?}; the token has aud {}, token_use {}, client_id {})",
                rules.audience.as_deref().unwrap_or(""),
                shown(claims.get("aud")),
                shown(claims.get("token_use")),
                shown(claims.get("client_id"))
            )
        }
        AuthFailure::TokenUnknownKey => {
            format!(" (kid {} is in no key of the key set in force)", shown(header.get("kid")))
        }
        AuthFailure::TokenAlgorithmNotAllowed => {
            format!(" (alg {}; JWT_ALGORITHMS allows {:?})", shown(header.get("alg")), rules.algorithms)
        }
        AuthFailure::TokenWithoutSubject | AuthFailure::TokenIdentityUnverified => {
            format!(" (USER_ID_CLAIM is {:?})", rules.user_id_claim)
        }
        _ => String::new(),
    }
}

fn shown(value: Option<&Value>) -> String {
    value.map_or_else(|| "none".to_owned(), |v| v.to_string().chars().take(200).collect())
}

/// One failed step, in words.
fn describe(miss: Miss<'_>, user: &User) -> String {
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    match miss {
        Miss::Literal(literal, at) => format!("no match: the name has no {literal:?} at byte {at}"),
        Miss::TrailingText(at) => format!("no match: the rule ends at byte {at}, the name goes on"),
        Miss::TooShort => "no match: the name is shorter than the rule's start and end".to_owned(),
        Miss::NoDelimiter(claim, d, at) => {
            format!("no match: {{{claim}}} ends at a {:?}, and the name has none after byte {at}", d as char)
        }
        Miss::NotTheUsers(claim, read) => {
            let held =
                if claim == "sub" { Some(Value::from(user.id.as_str())) } else { user.claims.get(claim).cloned() };
            format!(
                "no match: {{{claim}}} read {:?} from the name; the user's {claim} is {}",
                text(read),
                held.map_or_else(|| "absent".to_owned(), |v| v.to_string())
            )
        }
        Miss::Unverified(claim) => format!(
            "no match: {{{claim}}} is the user's, but not verified ({} is not true)",
            if claim == "email" { "email_verified" } else { "phone_number_verified" }
        ),
        Miss::NotBetweenStars(literal) => format!("no match: {literal:?} is not in the name between the stars"),
    }
}

/// One row of a policy test file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    /// The claims of a verified token.
    claims: Map<String, Value>,
    /// A channel, or absent for a signin.
    channel: String,
    /// Whether the channel is signed.
    allowed: bool,
    /// The samconfig environments the row applies to (all when absent).
    environments: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Cases {
    case: Vec<Case>,
}

/// Runs the policy tests `tests` (TOML: `[[case]]` rows of `claims`,
/// `channel`, `allowed`, optional `environments`) against each
/// `(environment, endpoint)`; a line per failure and a summary. True when all held.
pub async fn check(tests: &str, environments: &[(String, Endpoint)]) -> Result<(bool, String), String> {
    let cases: Cases = toml::from_str(tests).map_err(|e| format!("policy tests are not valid: {e}"))?;
    let mut out = String::new();
    let (mut passed, mut failed) = (0, 0);
    for (env, endpoint) in environments {
        for (n, case) in cases.case.iter().enumerate() {
            if case.environments.as_ref().is_some_and(|envs| !envs.contains(env)) {
                continue;
            }
            let asker = Asker::Claims(Value::Object(case.claims.clone()).to_string());
            let (verdict, report) = explain(endpoint, &asker, &Asked::Channel(case.channel.clone())).await;
            let got = verdict == Verdict::Allowed;
            if verdict != Verdict::BadInput && got == case.allowed {
                passed += 1;
            } else {
                failed += 1;
                let _ = writeln!(
                    out,
                    "FAIL {env} case {} ({}): expected {}, got {}\n{}",
                    n + 1,
                    case.channel,
                    if case.allowed { "allowed" } else { "refused" },
                    match verdict {
                        Verdict::Allowed => "allowed",
                        Verdict::Refused => "refused",
                        Verdict::BadInput => "bad input",
                    },
                    report.lines().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n")
                );
            }
        }
    }
    let _ = writeln!(out, "policy tests: {passed} passed, {failed} failed");
    Ok((failed == 0, out))
}
