//! `AUTH_MODE` and the variables of its modes: `USER_ID_CLAIM` (`jwt` and
//! `authorizer`) and the `JWT_*` variables.

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey};

use crate::identity::jwks::{self, KeySet, DEFAULT_MAX_STALE, DEFAULT_TTL, MAX_TTL_SECONDS};
use crate::identity::jwt::{self, ClaimRules};
use crate::identity::validators::AuthMode;

use super::{claim, is_production, seconds, ConfigError};

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
pub(super) fn auth_mode(get: &impl Fn(&str) -> Option<String>) -> Result<AuthMode<JwtOptions>, ConfigError> {
    let production = || get("DEPLOYMENT_ENVIRONMENT").is_some_and(|v| is_production(&v));
    match get("AUTH_MODE").as_deref() {
        None | Some("jwt") => Ok(AuthMode::Jwt(Box::new(jwt_options(get)?))),
        Some("authorizer") => {
            Ok(AuthMode::Authorizer { user_id_claim: user_id_claim(get)?, audience: get("JWT_AUDIENCE") })
        }
        Some("demo") if production() => {
            Err(ConfigError::new("AUTH_MODE", "is demo, which is refused when DEPLOYMENT_ENVIRONMENT says production"))
        }
        Some("demo") => Ok(AuthMode::Demo),
        Some(_) => Err(ConfigError::new("AUTH_MODE", "is not a supported mode (jwt, authorizer, demo)")),
    }
}

/// `USER_ID_CLAIM` (default `sub`): where `jwt` and `authorizer` find the user id.
fn user_id_claim(get: &impl Fn(&str) -> Option<String>) -> Result<String, ConfigError> {
    Ok(claim(get, "USER_ID_CLAIM")?.unwrap_or_else(|| "sub".into()))
}

/// `AUTH_MODE=jwt`: the `JWT_*` variables.
fn jwt_options(get: &impl Fn(&str) -> Option<String>) -> Result<JwtOptions, ConfigError> {
    let pusher_secret = get("PUSHER_SECRET");
    let err = |variable, problem: &str| ConfigError { variable, problem: problem.to_owned() };
    let list = get("JWT_ALGORITHMS").ok_or(err("JWT_ALGORITHMS", "is not set (e.g. RS256 or ES256,RS256)"))?;
    let algorithms = list
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|name| name.parse::<Algorithm>().ok().filter(|a| !matches!(a, Algorithm::EdDSA)))
        .collect::<Option<Vec<_>>>()
        .ok_or(err(
            "JWT_ALGORITHMS",
            "names an unsupported algorithm (HS256/384/512, RS256/384/512, PS256/384/512, ES256, ES384)",
        ))?;
    if algorithms.is_empty() {
        return Err(err("JWT_ALGORITHMS", "is empty"));
    }
    let wants_hmac = algorithms.iter().any(|a| jwt::is_hmac(*a));
    let wants_keys = algorithms.iter().any(|a| !jwt::is_hmac(*a));
    let secret = match get("JWT_SECRET") {
        Some(_) if !wants_hmac => return Err(err("JWT_SECRET", "is set but JWT_ALGORITHMS allows no HS algorithm")),
        Some(s) if Some(&s) == pusher_secret.as_ref() => {
            return Err(err("JWT_SECRET", "must differ from PUSHER_SECRET"))
        }
        Some(s) if s.len() < 32 => return Err(err("JWT_SECRET", "is shorter than 32 bytes")),
        Some(s) => Some(DecodingKey::from_secret(s.as_bytes())),
        None if wants_hmac => return Err(err("JWT_SECRET", "is not set, and JWT_ALGORITHMS allows an HS algorithm")),
        None => None,
    };
    let keys = match (get("JWT_JWKS"), get("JWT_JWKS_URL")) {
        (Some(_), Some(_)) => return Err(err("JWT_JWKS_URL", "and JWT_JWKS are both set; choose one")),
        (Some(_), None) | (None, Some(_)) if !wants_keys => {
            return Err(err("JWT_JWKS", "is set but JWT_ALGORITHMS allows no RS/PS/ES algorithm"))
        }
        (Some(text), None) => {
            let keys = jwt::keys_from_jwks(&text).map_err(|problem| err("JWT_JWKS", problem))?;
            if keys.is_empty() {
                return Err(err("JWT_JWKS", "has no RSA or EC signing key"));
            }
            Jwks::Inline(Arc::new(keys))
        }
        (None, Some(url)) => Jwks::Url {
            url: jwks::jwks_url(&url).map_err(|problem| err("JWT_JWKS_URL", problem))?,
            // Read only with JWT_JWKS_URL; 0: fetched once per execution environment.
            ttl: seconds(
                get,
                "JWT_JWKS_TTL_SECONDS",
                DEFAULT_TTL,
                MAX_TTL_SECONDS,
                &format!("must be a whole number of seconds from 0 to {MAX_TTL_SECONDS} (0: fetched once)"),
            )?,
            max_stale: seconds(
                get,
                "JWT_JWKS_MAX_STALE_SECONDS",
                DEFAULT_MAX_STALE,
                MAX_TTL_SECONDS,
                &format!("must be a whole number of seconds from 1 to {MAX_TTL_SECONDS}"),
            )?
            .ok_or(err(
                "JWT_JWKS_MAX_STALE_SECONDS",
                &format!("must be a whole number of seconds from 1 to {MAX_TTL_SECONDS}"),
            ))?,
        },
        (None, None) if wants_keys => {
            return Err(err("JWT_JWKS_URL", "is not set (nor JWT_JWKS), and JWT_ALGORITHMS allows RS/PS/ES"))
        }
        (None, None) => Jwks::None,
    };
    let leeway = match get("JWT_LEEWAY_SECONDS") {
        None => 30,
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|l| *l <= jwt::MAX_LEEWAY_SECONDS)
            .ok_or(err("JWT_LEEWAY_SECONDS", "must be a whole number of seconds from 0 to 60"))?,
    };
    // A JWKS (a Cognito pool, an IdP) signs tokens for many audiences and
    // sometimes many issuers: without both checks any of them would pass.
    let issuer = get("JWT_ISSUER");
    let audience = get("JWT_AUDIENCE");
    if let Some(issuer) = &issuer {
        // The issuer of every provider that publishes keys is an https URL
        // (OpenID Connect Discovery §2); a scheme-less or http:// value is a
        // typo that would refuse every token.
        let https = issuer.parse::<http::Uri>().is_ok_and(|uri| crate::support::https::https_or_loopback(&uri));
        if !https || issuer.trim() != issuer {
            return Err(err(
                "JWT_ISSUER",
                "must be the issuer's https:// URL exactly as tokens carry it in iss (http:// only to 127.0.0.1 or localhost), e.g. https://cognito-idp.<region>.amazonaws.com/<pool id>",
            ));
        }
    }
    if wants_keys && issuer.is_none() {
        return Err(err("JWT_ISSUER", "is not set, and is required when JWT_ALGORITHMS allows RS/PS/ES (JWKS keys)"));
    }
    if wants_keys && audience.is_none() {
        return Err(err("JWT_AUDIENCE", "is not set, and is required when JWT_ALGORITHMS allows RS/PS/ES (JWKS keys)"));
    }
    let rules = ClaimRules { algorithms, issuer, audience, leeway, user_id_claim: user_id_claim(get)? };
    Ok(JwtOptions { rules, secret, keys })
}
