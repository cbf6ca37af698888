//! The configuration `explain` decides with: the process environment, or a
//! samconfig environment's `parameter_overrides` as the template passes them
//! to the function; and, for `AUTH_MODE=authorizer`, `FRONT_DOOR` (samconfig's
//! `FrontDoor`, or `--front-door`): the front door whose authorizer hands the
//! function its claims.

use std::collections::{BTreeMap, BTreeSet};

use pusher_auth_lambda::{ConfigError, Endpoint, Settings};
use serde_json::{Map, Value};

/// The function's variables (and `FRONT_DOOR`), by name.
pub(super) type Config = BTreeMap<String, String>;

/// Template parameter = function variable (template.yaml's `Environment.Variables`).
const PARAMETERS: &str = "PusherAppId=PUSHER_APP_ID PusherKey=PUSHER_KEY PusherCluster=PUSHER_CLUSTER \
    PusherSecretArn=PUSHER_SECRET_ID AllowedOrigins=ALLOWED_ORIGINS AuthMode=AUTH_MODE ChannelRules=CHANNEL_RULES \
    UserInfoClaims=USER_INFO_CLAIMS UserIdClaim=USER_ID_CLAIM WatchlistClaim=WATCHLIST_CLAIM \
    JwtAlgorithms=JWT_ALGORITHMS JwtJwksUrl=JWT_JWKS_URL JwtJwksTtlSeconds=JWT_JWKS_TTL_SECONDS \
    JwtIssuer=JWT_ISSUER JwtAudience=JWT_AUDIENCE JwtLeewaySeconds=JWT_LEEWAY_SECONDS \
    MetricsNamespace=METRICS_NAMESPACE FrontDoor=FRONT_DOOR";

/// What decides who may join what once a user's claims are known: all a
/// `--claims` explanation or a policy test reads (the master key and whether
/// the secret is stored decide encrypted channels).
fn is_policy_variable(name: &str) -> bool {
    let policy =
        "AUTH_MODE CHANNEL_RULES USER_ID_CLAIM USER_INFO_CLAIMS WATCHLIST_CLAIM PUSHER_ENCRYPTION_MASTER_KEY_BASE64";
    policy.split(' ').any(|variable| variable == name)
}

/// Each samconfig environment's `parameter_overrides` (a list of `Name=value`, or one line of them) as one line.
pub(super) fn samconfig(path: &str) -> Result<BTreeMap<String, String>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let all: BTreeMap<String, toml::Value> =
        toml::from_str(&text).map_err(|e| format!("samconfig is not TOML as SAM reads it: {e}"))?;
    let overrides = |environment: toml::Value| {
        let overrides = environment.get("deploy")?.get("parameters")?.get("parameter_overrides")?;
        let items = overrides.as_array().map_or(vec![overrides], |items| items.iter().collect());
        Some(items.into_iter().filter_map(toml::Value::as_str).collect::<Vec<_>>().join(" "))
    };
    Ok(all.into_iter().filter_map(|(env, environment)| Some((env, overrides(environment)?))).collect())
}

/// The variables SAM's `Name=value Name="value with spaces"` pairs set; a
/// placeholder left in one that is read names its parameter.
pub(super) fn variables(mut line: &str, claims_only: bool) -> Result<Config, String> {
    let mut config = Config::new();
    while let Some((name, rest)) = line.split_once('=') {
        let name = name.rsplit(' ').next().unwrap_or_default();
        let (value, rest) = match rest.strip_prefix('"') {
            Some(quoted) => quoted.split_once('"').unwrap_or((quoted, "")),
            None => rest.split_once(' ').unwrap_or((rest, "")),
        };
        line = rest;
        let variable = PARAMETERS.split(' ').find_map(|p| p.strip_prefix(name)?.strip_prefix('='));
        let read = variable.is_some_and(|v| v != "PUSHER_SECRET_ID" && (!claims_only || is_policy_variable(v)));
        let placeholder = value.find('<').and_then(|at| value.get(at..=at + value[at..].find('>')?));
        if let (true, Some(placeholder)) = (read, placeholder) {
            return Err(format!("{name} is still the placeholder {placeholder}: replace it"));
        }
        config.extend(variable.map(|variable| (variable.to_owned(), value.to_owned())));
    }
    Ok(config)
}

/// The function's endpoint, for deciding only: explain never signs nor
/// reads a stored secret, so the app secret is a stand-in. With
/// `claims_only` only the policy variables are read and the token checks
/// are stand-ins: the rest (an app key, URLs) may still be placeholders.
/// Warns (on stderr) about each `custom:` claim a rule or `USER_ID_CLAIM` trusts.
pub(super) fn endpoint(config: &Config, claims_only: bool, prefix: &str) -> Result<Endpoint, ConfigError> {
    let placeholders =
        config.get("CHANNEL_RULES").into_iter().flat_map(|rules| rules.split(['{', '}']).skip(1).step_by(2));
    let trusted = placeholders.chain(config.get("USER_ID_CLAIM").map(String::as_str));
    for claim in trusted.filter(|claim| claim.starts_with("custom:")).collect::<BTreeSet<_>>() {
        eprintln!("{prefix}warning: {claim} is trusted (CHANNEL_RULES or USER_ID_CLAIM), which is safe only when the app client cannot write it: see docs/users.md");
    }
    let stored = config.contains_key("PUSHER_SECRET_ID");
    Ok(Endpoint::new(Settings::from_lookup(|name| match name {
        "PUSHER_SECRET_ID" => stored.then(|| "explain-never-reads-it".into()),
        "PUSHER_SECRET" => (!stored).then(|| "explain-never-signs".into()),
        name if !claims_only || is_policy_variable(name) => config.get(name).cloned(),
        "PUSHER_KEY" => Some("explain".into()),
        "JWT_ALGORITHMS" => Some("HS256".into()),
        "JWT_SECRET" => Some("explain-checks-no-token-signature".into()),
        _ => None,
    })?))
}

/// The claims as the function receives them (said in `out`): ignored in demo mode; in
/// authorizer mode, each list flattened into the string the front door's authorizer passes.
pub(super) fn as_received(config: &Config, claims: &mut Map<String, Value>, out: &mut Vec<String>) {
    let mode = config.get("AUTH_MODE").map_or("", String::as_str);
    if mode == "demo" {
        out.push("claims: ignored (AUTH_MODE=demo: every request is the demo user)".into());
    }
    let http = config.get("FRONT_DOOR").is_some_and(|door| door == "http-api");
    let door = if http { "HTTP API" } else { "REST API" };
    for (name, value) in claims.iter_mut().filter(|_| mode == "authorizer") {
        let Value::Array(list) = value else { continue };
        let items: Vec<String> = list.iter().map(|v| v.as_str().map_or_else(|| v.to_string(), String::from)).collect();
        let flat = if http { format!("[{}]", items.join(" ")) } else { items.join(",") };
        out.push(format!("claims: {name} arrives as the string {flat:?} (AUTH_MODE=authorizer behind the {door}'s authorizer, which flattens lists): a rule on it matches that whole string only"));
        *value = Value::String(flat);
    }
}
