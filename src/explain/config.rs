//! The configuration `explain` decides with: the process environment, or a
//! samconfig environment's `parameter_overrides` as the template passes them
//! to the function; and, for `AUTH_MODE=authorizer`, the front door whose
//! authorizer hands the function its claims.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use pusher_auth_lambda::{ConfigError, Endpoint, Settings};
use serde::Deserialize;
use serde_json::{Map, Value};

/// Template parameter = function variable (template.yaml's `Environment.Variables`).
const PARAMETERS: &str = "PusherAppId=PUSHER_APP_ID PusherKey=PUSHER_KEY PusherCluster=PUSHER_CLUSTER \
    PusherSecretArn=PUSHER_SECRET_ID AllowedOrigins=ALLOWED_ORIGINS AuthMode=AUTH_MODE ChannelRules=CHANNEL_RULES \
    UserInfoClaims=USER_INFO_CLAIMS UserIdClaim=USER_ID_CLAIM WatchlistClaim=WATCHLIST_CLAIM \
    JwtAlgorithms=JWT_ALGORITHMS JwtJwksUrl=JWT_JWKS_URL JwtJwksTtlSeconds=JWT_JWKS_TTL_SECONDS \
    JwtIssuer=JWT_ISSUER JwtAudience=JWT_AUDIENCE JwtLeewaySeconds=JWT_LEEWAY_SECONDS \
    MetricsNamespace=METRICS_NAMESPACE";

/// What decides who may join what once a user's claims are known: all a
/// `--claims` explanation or a policy test reads (the master key and whether
/// the secret is stored decide encrypted channels).
const POLICY_VARIABLES: &str =
    "AUTH_MODE CHANNEL_RULES USER_ID_CLAIM USER_INFO_CLAIMS WATCHLIST_CLAIM PUSHER_ENCRYPTION_MASTER_KEY_BASE64";

fn is_policy_variable(name: &str) -> bool {
    POLICY_VARIABLES.split(' ').any(|v| v == name)
}

/// samconfig.toml, as SAM reads it: environments of `deploy.parameters`.
#[derive(Deserialize)]
struct SamConfig {
    #[serde(rename = "version")]
    _version: Option<toml::Value>,
    #[serde(flatten)]
    environments: BTreeMap<String, SamEnvironment>,
}

#[derive(Deserialize)]
struct SamEnvironment {
    deploy: Option<SamDeploy>,
}

#[derive(Deserialize)]
struct SamDeploy {
    parameters: SamParameters,
}

#[derive(Deserialize)]
struct SamParameters {
    parameter_overrides: Option<Overrides>,
}

/// `parameter_overrides`: a list of `Name=value`, or one line of them.
#[derive(Deserialize)]
#[serde(untagged)]
enum Overrides {
    List(Vec<String>),
    Line(String),
}

/// The variables, and the front door.
pub(super) struct Config {
    vars: BTreeMap<String, String>,
    pub(super) front_door: String,
}

impl Config {
    pub(super) fn from_env() -> Self {
        Self { vars: std::env::vars().collect(), front_door: "rest-api".into() }
    }

    /// The samconfig environment `env` of the file `path`.
    pub(super) fn from_samconfig(path: &str, env: &str, claims_only: bool) -> Result<Self, String> {
        let mut all = read_samconfig(path)?;
        let overrides =
            all.remove(env).ok_or_else(|| format!("{path} has no [{env}.deploy.parameters] parameter_overrides"))?;
        Self::from_overrides(path, env, overrides, claims_only)
    }

    /// Every samconfig environment of the file `path`, for the policy tests.
    pub(super) fn every_environment(path: &str) -> Result<Vec<(String, Self)>, String> {
        let all = read_samconfig(path)?.into_iter();
        all.map(|(env, overrides)| Ok((env.clone(), Self::from_overrides(path, &env, overrides, true)?))).collect()
    }

    /// The variables the parameters set; a placeholder left in one that is read names the parameter.
    fn from_overrides(path: &str, env: &str, overrides: Overrides, claims_only: bool) -> Result<Self, String> {
        let pairs = match overrides {
            Overrides::List(items) => items,
            Overrides::Line(line) => line.split_whitespace().map(String::from).collect(),
        };
        let mut config = Self { vars: BTreeMap::new(), front_door: "rest-api".into() };
        for (name, value) in pairs.iter().filter_map(|pair| pair.split_once('=')) {
            // SAM strips the double quotes that keep a value with spaces whole.
            let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value);
            if name == "FrontDoor" {
                config.front_door = value.into();
            }
            let variable = PARAMETERS.split_whitespace().find_map(|p| p.strip_prefix(name)?.strip_prefix('='));
            let Some(variable) = variable else { continue };
            let read = variable != "PUSHER_SECRET_ID" && (!claims_only || is_policy_variable(variable));
            if let (true, Some(start), Some(end)) = (read, value.find('<'), value.find('>')) {
                let placeholder = value.get(start..=end).unwrap_or(value);
                return Err(format!("{path} [{env}]: {name} is still the placeholder {placeholder}: replace it"));
            }
            config.vars.insert(variable.into(), value.into());
        }
        Ok(config)
    }

    pub(super) fn get(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }

    /// The function's endpoint, for deciding only: explain never signs nor
    /// reads a stored secret, so the app secret is a stand-in. With
    /// `claims_only` only [`POLICY_VARIABLES`] are read and the token checks
    /// are stand-ins: the rest (an app key, URLs) may still be placeholders.
    pub(super) fn endpoint(&self, claims_only: bool) -> Result<Endpoint, ConfigError> {
        let stored = self.get("PUSHER_SECRET_ID").is_some();
        Ok(Endpoint::new(Settings::from_lookup(|name| match name {
            "PUSHER_SECRET_ID" => stored.then(|| "explain-never-reads-it".into()),
            "PUSHER_SECRET" => (!stored).then(|| "explain-never-signs".into()),
            name if !claims_only || is_policy_variable(name) => self.get(name),
            "PUSHER_KEY" => Some("explain".into()),
            "JWT_ALGORITHMS" => Some("HS256".into()),
            "JWT_SECRET" => Some("explain-checks-no-token-signature".into()),
            _ => None,
        })?))
    }

    /// The claims as the function receives them: in authorizer mode, each
    /// list flattened into the string the front door's authorizer passes.
    pub(super) fn as_received(&self, mut claims: Map<String, Value>, out: &mut String) -> Map<String, Value> {
        if self.get("AUTH_MODE").as_deref() != Some("authorizer") {
            return claims;
        }
        let http = self.front_door == "http-api";
        for (name, value) in &mut claims {
            let Value::Array(list) = value else { continue };
            let items: Vec<String> =
                list.iter().map(|v| v.as_str().map_or_else(|| v.to_string(), String::from)).collect();
            let flat = if http { format!("[{}]", items.join(" ")) } else { items.join(",") };
            let _ = writeln!(
                out,
                "claims: {name} arrives as the string {flat:?} (AUTH_MODE=authorizer behind the {}'s authorizer, which flattens lists): a rule on it matches that whole string only",
                if http { "HTTP API" } else { "REST API" },
            );
            *value = Value::String(flat);
        }
        claims
    }

    /// Warns (on stderr) about each `custom:` claim a rule or `USER_ID_CLAIM` trusts.
    pub(super) fn warn(&self, prefix: &str) {
        let rules = self.get("CHANNEL_RULES").unwrap_or_default();
        let placeholders = rules.split('{').skip(1).filter_map(|p| Some(p.split_once('}')?.0.to_owned()));
        let trusted = placeholders.chain(self.get("USER_ID_CLAIM")).filter(|claim| claim.starts_with("custom:"));
        for claim in trusted.collect::<std::collections::BTreeSet<_>>() {
            eprintln!(
                "{prefix}warning: {claim} is trusted (CHANNEL_RULES or USER_ID_CLAIM), which is safe only when the app client cannot write it: see docs/users.md"
            );
        }
    }
}

/// Each environment's `parameter_overrides`.
fn read_samconfig(path: &str) -> Result<BTreeMap<String, Overrides>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let samconfig: SamConfig =
        toml::from_str(&text).map_err(|e| format!("samconfig is not TOML as SAM reads it: {e}"))?;
    Ok(samconfig
        .environments
        .into_iter()
        .filter_map(|(env, e)| Some((env, e.deploy?.parameters.parameter_overrides?)))
        .collect())
}
