//! `AUTH_MODE` and the variables of its modes: `USER_ID_CLAIM` (`jwt` and
//! `authorizer`) and the `JWT_*` variables.

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey};

use crate::identity::jwks::{self, KeySet, DEFAULT_MAX_STALE, DEFAULT_TTL, MAX_TTL_SECONDS};
use crate::identity::jwt::{self, ClaimRules};
use crate::identity::validators::AuthMode;

use super::{checked, claim, is_production, seconds, ConfigError, Result, Vars};

/// `AUTH_MODE=jwt`'s options: what the endpoint builds its JWT validator from.
#[derive(Debug)]
pub(crate) struct JwtOptions {
    /// The claim checks (`JWT_ALGORITHMS`, `JWT_ISSUER`, `JWT_AUDIENCE`,
    /// `JWT_LEEWAY_SECONDS`, `USER_ID_CLAIM`).
    pub(crate) rules: ClaimRules,
    /// `JWT_SECRET`, for HMAC algorithms.
    pub(crate) secret: Option<DecodingKey>,
    /// Where RSA/EC keys come from.
    pub(crate) keys: Jwks,
}

/// Where RSA/EC keys come from.
#[derive(Debug)]
pub(crate) enum Jwks {
    /// None: HMAC only.
    None,
    /// `JWT_JWKS`, parsed.
    Inline(KeySet),
    /// `JWT_JWKS_URL`, fetched on first use and again after `ttl`
    /// (`JWT_JWKS_TTL_SECONDS`; `None`: only for an unknown `kid`), and
    /// dropped `max_stale` after the last successful fetch
    /// (`JWT_JWKS_MAX_STALE_SECONDS`).
    Url { url: http::Uri, ttl: Option<Duration>, max_stale: Duration },
}

/// `AUTH_MODE` (refused as `demo` when `DEPLOYMENT_ENVIRONMENT` says
/// production), with the options of the mode it selects.
pub(super) fn auth_mode(get: &impl Vars) -> Result<AuthMode<JwtOptions>> {
    match get("AUTH_MODE").as_deref() {
        None | Some("jwt") => Ok(AuthMode::Jwt(Box::new(jwt_options(get)?))),
        Some("authorizer") => {
            Ok(AuthMode::Authorizer { user_id_claim: user_id_claim(get)?, audience: get("JWT_AUDIENCE") })
        }
        Some("demo") if get("DEPLOYMENT_ENVIRONMENT").is_some_and(|v| is_production(&v)) => {
            Err(ConfigError::new("AUTH_MODE", "is demo, which is refused when DEPLOYMENT_ENVIRONMENT says production"))
        }
        Some("demo") => Ok(AuthMode::Demo),
        Some(_) => Err(ConfigError::new("AUTH_MODE", "is not a supported mode (jwt, authorizer, demo)")),
    }
}

/// `USER_ID_CLAIM` (default `sub`): where `jwt` and `authorizer` find the user id.
fn user_id_claim(get: &impl Vars) -> Result<String> {
    Ok(claim(get, "USER_ID_CLAIM")?.unwrap_or_else(|| "sub".into()))
}

/// `AUTH_MODE=jwt`: the `JWT_*` variables.
fn jwt_options(get: &impl Vars) -> Result<JwtOptions> {
    let algorithms = algorithms(get)?;
    let wants_keys = algorithms.iter().any(|a| !jwt::is_hmac(*a));
    let secret = jwt_secret(get, algorithms.iter().any(|a| jwt::is_hmac(*a)))?;
    let keys = jwks(get, wants_keys)?;
    let leeway_problem = "must be a whole number of seconds from 0 to 60";
    let leeway = seconds(get, "JWT_LEEWAY_SECONDS", Duration::from_secs(30), jwt::MAX_LEEWAY_SECONDS, leeway_problem)?
        .map_or(0, |leeway| leeway.as_secs());
    let (issuer, audience) = recipient(get, wants_keys)?;
    let region = |variable: &str| get(variable).and_then(|url| cognito_region(&url).map(str::to_owned));
    if let (Some(keys), Some(issuer)) = (region("JWT_JWKS_URL"), region("JWT_ISSUER")) {
        if keys != issuer {
            let problem =
                format!("is a user pool's in {keys}, but JWT_ISSUER names one in {issuer}: both are the same pool's");
            return Err(ConfigError::new("JWT_JWKS_URL", problem));
        }
    }
    let rules = ClaimRules { algorithms, issuer, audience, leeway, user_id_claim: user_id_claim(get)? };
    Ok(JwtOptions { rules, secret, keys })
}

/// The region of a Cognito user pool's address, `https://cognito-idp.<region>.amazonaws.com/…`.
fn cognito_region(url: &str) -> Option<&str> {
    url.strip_prefix("https://cognito-idp.")?.split_once(".amazonaws.com").map(|(region, _)| region)
}

/// `JWT_ALGORITHMS`: the allow-list (EdDSA is not supported).
fn algorithms(get: &impl Vars) -> Result<Vec<Algorithm>> {
    let fault = |problem: &str| ConfigError::new("JWT_ALGORITHMS", problem);
    let list = get("JWT_ALGORITHMS").ok_or(fault("is not set (e.g. RS256 or ES256,RS256)"))?;
    let names = list.split(',').map(str::trim).filter(|s| !s.is_empty());
    let algorithms = names
        .map(|name| name.parse::<Algorithm>().ok().filter(|a| !matches!(a, Algorithm::EdDSA)))
        .collect::<Option<Vec<_>>>()
        .ok_or(fault("names an unsupported algorithm (HS256/384/512, RS256/384/512, PS256/384/512, ES256, ES384)"))?;
    if algorithms.is_empty() {
        return Err(fault("is empty"));
    }
    Ok(algorithms)
}

/// `JWT_SECRET`: required exactly when an HS algorithm is allowed.
fn jwt_secret(get: &impl Vars, wants_hmac: bool) -> Result<Option<DecodingKey>> {
    let problem = match get("JWT_SECRET") {
        Some(_) if !wants_hmac => "is set but JWT_ALGORITHMS allows no HS algorithm",
        Some(s) if Some(&s) == get("PUSHER_SECRET").as_ref() => "must differ from PUSHER_SECRET",
        Some(s) if s.len() < 32 => "is shorter than 32 bytes",
        Some(s) => return Ok(Some(DecodingKey::from_secret(s.as_bytes()))),
        None if wants_hmac => "is not set, and JWT_ALGORITHMS allows an HS algorithm",
        None => return Ok(None),
    };
    Err(ConfigError::new("JWT_SECRET", problem))
}

/// `JWT_JWKS` or `JWT_JWKS_URL` (with its lifetimes): required exactly when
/// an RS/PS/ES algorithm is allowed.
fn jwks(get: &impl Vars, wants_keys: bool) -> Result<Jwks> {
    match (get("JWT_JWKS"), get("JWT_JWKS_URL")) {
        (Some(_), Some(_)) => Err(ConfigError::new("JWT_JWKS_URL", "and JWT_JWKS are both set; choose one")),
        (Some(_), None) | (None, Some(_)) if !wants_keys => {
            Err(ConfigError::new("JWT_JWKS", "is set but JWT_ALGORITHMS allows no RS/PS/ES algorithm"))
        }
        (Some(text), None) => {
            let keys = jwt::keys_from_jwks(&text).map_err(|problem| ConfigError::new("JWT_JWKS", problem))?;
            if keys.is_empty() {
                return Err(ConfigError::new("JWT_JWKS", "has no RSA or EC signing key"));
            }
            Ok(Jwks::Inline(Arc::new(keys)))
        }
        (None, Some(url)) => {
            let url = jwks::jwks_url(&url).map_err(|problem| ConfigError::new("JWT_JWKS_URL", problem))?;
            // 0: fetched once per execution environment.
            let ttl_problem =
                format!("must be a whole number of seconds from 0 to {MAX_TTL_SECONDS} (0: fetched once)");
            let ttl = seconds(get, "JWT_JWKS_TTL_SECONDS", DEFAULT_TTL, MAX_TTL_SECONDS, &ttl_problem)?;
            let stale_problem = format!("must be a whole number of seconds from 1 to {MAX_TTL_SECONDS}");
            let max_stale =
                seconds(get, "JWT_JWKS_MAX_STALE_SECONDS", DEFAULT_MAX_STALE, MAX_TTL_SECONDS, &stale_problem)?
                    .ok_or(ConfigError::new("JWT_JWKS_MAX_STALE_SECONDS", &stale_problem))?;
            Ok(Jwks::Url { url, ttl, max_stale })
        }
        (None, None) if wants_keys => {
            Err(ConfigError::new("JWT_JWKS_URL", "is not set (nor JWT_JWKS), and JWT_ALGORITHMS allows RS/PS/ES"))
        }
        (None, None) => Ok(Jwks::None),
    }
}

/// `JWT_ISSUER` and `JWT_AUDIENCE`. A JWKS (a Cognito pool, an IdP) signs
/// tokens for many audiences and sometimes many issuers: without both checks
/// any of them would pass, so both are required with RS/PS/ES.
fn recipient(get: &impl Vars, wants_keys: bool) -> Result<(Option<String>, Option<String>)> {
    // The issuer of every provider that publishes keys is an https URL
    // (OpenID Connect Discovery §2); a scheme-less or http:// value is a
    // typo that would refuse every token.
    let https: fn(&str) -> bool = |issuer| {
        issuer.trim() == issuer && issuer.parse().is_ok_and(|uri| crate::support::https::https_or_loopback(&uri))
    };
    let problem = "must be the issuer's https:// URL exactly as tokens carry it in iss (http:// only to 127.0.0.1 or localhost), e.g. https://cognito-idp.<region>.amazonaws.com/<pool id>";
    let issuer = checked(get, "JWT_ISSUER", https, problem)?;
    let audience = get("JWT_AUDIENCE");
    for (variable, value) in [("JWT_ISSUER", &issuer), ("JWT_AUDIENCE", &audience)] {
        if wants_keys && value.is_none() {
            let problem = "is not set, and is required when JWT_ALGORITHMS allows RS/PS/ES (JWKS keys)";
            return Err(ConfigError::new(variable, problem));
        }
    }
    Ok((issuer, audience))
}
