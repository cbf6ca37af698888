//! `AUTH_MODE=jwt`: the user is the subject of a JSON Web Token sent in the
//! token parameter (JSONP cannot send headers) or, for AJAX, in
//! `Authorization: Bearer`.
//!
//! Algorithms come from an explicit allow-list. HMAC tokens are checked only
//! with `JWT_SECRET`; RSA and EC tokens only with keys from the configured JWKS
//! (inline or fetched, see [`crate::jwks`]), matched by `kid` and by algorithm
//! family, so an HMAC token can never be checked with a public key. Headers
//! that name key material (`jku`, `x5u`, `jwk`, `x5c`) are refused: a token
//! never chooses its own key.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use crate::error::Refusal;
use crate::user::User;

/// Longest token accepted.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// Longest user id (`sub`) accepted.
pub const MAX_USER_ID_CHARS: usize = 128;
/// Most clock leeway allowed for `exp`/`nbf`.
pub const MAX_LEEWAY_SECONDS: u64 = 60;

/// The claim checks every token must pass.
#[derive(Debug, Clone)]
pub struct ClaimRules {
    /// `JWT_ALGORITHMS`.
    pub algorithms: Vec<Algorithm>,
    /// `JWT_ISSUER`, checked against `iss` when set.
    pub issuer: Option<String>,
    /// `JWT_AUDIENCE`, checked against `aud` when set.
    pub audience: Option<String>,
    /// `JWT_LEEWAY_SECONDS` (default 30, at most 60).
    pub leeway: u64,
}

/// A verification key from a JWKS, with what it may verify.
#[derive(Clone)]
pub struct VerificationKey {
    kid: Option<String>,
    /// The key's own `alg`, when the JWKS names one.
    alg: Option<Algorithm>,
    rsa: bool,
    key: DecodingKey,
}

impl VerificationKey {
    /// The key.
    pub fn key(&self) -> &DecodingKey {
        &self.key
    }
}

impl std::fmt::Debug for VerificationKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerificationKey").field("kid", &self.kid).field("alg", &self.alg).finish_non_exhaustive()
    }
}

/// Reads the signing keys of a JWKS document: RSA and EC keys meant for
/// signatures; symmetric (`oct`) and other keys are left out.
pub fn keys_from_jwks(text: &str) -> Result<Vec<VerificationKey>, &'static str> {
    let set: JwkSet = serde_json::from_str(text).map_err(|_| "is not a JWKS document ({\"keys\":[…]})")?;
    Ok(set.keys.iter().filter_map(verification_key).collect())
}

fn verification_key(jwk: &Jwk) -> Option<VerificationKey> {
    if matches!(jwk.common.public_key_use, Some(ref u) if *u != PublicKeyUse::Signature) {
        return None;
    }
    let rsa = match jwk.algorithm {
        AlgorithmParameters::RSA(_) => true,
        AlgorithmParameters::EllipticCurve(_) => false,
        _ => return None,
    };
    let alg = match jwk.common.key_algorithm {
        None => None,
        Some(KeyAlgorithm::UNKNOWN_ALGORITHM) => return None,
        Some(alg) => Some(alg.to_string().parse::<Algorithm>().ok()?),
    };
    Some(VerificationKey { kid: jwk.common.key_id.clone(), alg, rsa, key: DecodingKey::from_jwk(jwk).ok()? })
}

/// Whether `alg` is an HMAC algorithm.
pub fn is_hmac(alg: Algorithm) -> bool {
    matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
}

fn is_rsa(alg: Algorithm) -> bool {
    matches!(
        alg,
        Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512 | Algorithm::PS256 | Algorithm::PS384 | Algorithm::PS512
    )
}

fn is_ec(alg: Algorithm) -> bool {
    matches!(alg, Algorithm::ES256 | Algorithm::ES384)
}

/// What a token's header says, once it passed the header checks.
#[derive(Debug)]
pub struct TokenHead {
    /// The algorithm, on the allow-list.
    pub alg: Algorithm,
    /// The key id, if any.
    pub kid: Option<String>,
}

/// Shape and header checks, before any key is looked up.
pub fn check_head(token: &str, rules: &ClaimRules) -> Result<TokenHead, Refusal> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(Refusal::Unauthenticated("token_too_large"));
    }
    // Three parts; an empty signature is left for the header check (`alg: none`).
    let well_formed = token.split('.').count() == 3
        && token.split('.').take(2).all(|part| !part.is_empty())
        && token.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !well_formed {
        return Err(Refusal::Unauthenticated("token_malformed"));
    }
    // Unknown algorithms, `none` among them, fail here.
    let header = jsonwebtoken::decode_header(token).map_err(|_| Refusal::Unauthenticated("token_bad_header"))?;
    if header.jku.is_some() || header.x5u.is_some() || header.jwk.is_some() || header.x5c.is_some() {
        return Err(Refusal::Unauthenticated("token_names_its_key"));
    }
    if !rules.algorithms.contains(&header.alg) {
        return Err(Refusal::Unauthenticated("token_algorithm_not_allowed"));
    }
    Ok(TokenHead { alg: header.alg, kid: header.kid })
}

/// Picks the JWKS key for a token: same `kid` (or the only key when the
/// token has none), a family that fits the algorithm, and the key's own `alg`
/// when it names one. `None` when no key fits.
pub fn pick_key<'k>(keys: &'k [VerificationKey], head: &TokenHead) -> Option<&'k VerificationKey> {
    let fits = |k: &&VerificationKey| {
        (if k.rsa { is_rsa(head.alg) } else { is_ec(head.alg) }) && k.alg.is_none_or(|alg| alg == head.alg)
    };
    match &head.kid {
        Some(kid) => keys.iter().filter(|k| k.kid.as_deref() == Some(kid)).find(fits),
        None => {
            let mut candidates = keys.iter().filter(fits);
            let only = candidates.next()?;
            candidates.next().is_none().then_some(only)
        }
    }
}

/// Verifies the signature and the claims with `key`, and makes the user.
pub fn verify(token: &str, head: &TokenHead, key: &DecodingKey, rules: &ClaimRules) -> Result<User, Refusal> {
    let mut validation = Validation::new(head.alg);
    validation.leeway = rules.leeway;
    validation.validate_exp = true;
    validation.validate_nbf = true;
    validation.set_required_spec_claims(&["exp"]);
    match &rules.issuer {
        Some(issuer) => validation.set_issuer(&[issuer]),
        None => validation.iss = None,
    }
    match &rules.audience {
        Some(audience) => validation.set_audience(&[audience]),
        None => validation.validate_aud = false,
    }
    let data = jsonwebtoken::decode::<Map<String, Value>>(token, key, &validation).map_err(|e| {
        Refusal::Unauthenticated(match e.kind() {
            ErrorKind::InvalidSignature => "token_bad_signature",
            ErrorKind::ExpiredSignature => "token_expired",
            ErrorKind::ImmatureSignature => "token_not_yet_valid",
            ErrorKind::MissingRequiredClaim(_) | ErrorKind::InvalidClaimFormat(_) => "token_bad_claims",
            ErrorKind::InvalidIssuer => "token_wrong_issuer",
            ErrorKind::InvalidAudience => "token_wrong_audience",
            ErrorKind::InvalidAlgorithm | ErrorKind::InvalidKeyFormat => "token_key_mismatch",
            _ => "token_invalid",
        })
    })?;
    let claims = data.claims;
    let id = match claims.get("sub") {
        Some(Value::String(sub)) if !sub.is_empty() => sub.clone(),
        _ => return Err(Refusal::Unauthenticated("token_without_subject")),
    };
    if id.chars().count() > MAX_USER_ID_CHARS {
        return Err(Refusal::Unauthenticated("token_subject_too_long"));
    }
    Ok(User { id, claims })
}

/// The token a request carries: the token parameter, else `Authorization: Bearer`.
pub fn token_of<'a>(param: Option<&'a str>, authorization: Option<&'a str>) -> Option<&'a str> {
    param.filter(|t| !t.is_empty()).or_else(|| {
        let value = authorization?;
        let (scheme, token) = value.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
    })
}
