//! `AUTH_MODE=jwt`: the user is the subject of a JSON Web Token sent in the
//! token parameter (JSONP cannot send headers) or, for AJAX, in
//! `Authorization: Bearer`.
//!
//! Algorithms come from an explicit allow-list. HMAC tokens are checked only
//! with `JWT_SECRET`; RSA and EC tokens only with keys from the configured JWKS
//! (inline or fetched, see [`crate::identity::jwks`]), matched by `kid` and by algorithm
//! family, so an HMAC token can never be checked with a public key. Headers
//! that name key material (`jku`, `x5u`, `jwk`, `x5c`) are refused: a token
//! never chooses its own key.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, JwkSet, KeyOperations, PublicKeyUse};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, Header};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::sync::Arc;

use crate::error::{AuthFailure, Refusal};
use crate::identity::user::{user_from, User};

/// Longest token accepted.
pub(crate) const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// Most clock leeway allowed for `exp`/`nbf`.
pub(crate) const MAX_LEEWAY_SECONDS: u64 = 60;

/// The claim checks every token must pass.
#[derive(Debug, Clone)]
pub struct ClaimRules {
    /// `JWT_ALGORITHMS`.
    pub algorithms: Vec<Algorithm>,
    /// `JWT_ISSUER`: when set, `iss` must be exactly this (absent or null is refused).
    /// Required whenever JWKS keys are configured.
    pub issuer: Option<String>,
    /// `JWT_AUDIENCE`: when set, `aud` must name it, or (Cognito access tokens,
    /// which carry no `aud`) `token_use` is `access` and `client_id` is it.
    /// When unset (HMAC-only set-ups), a token that carries an `aud` is refused.
    pub audience: Option<String>,
    /// `JWT_LEEWAY_SECONDS` (default 30, at most 60).
    pub leeway: u64,
    /// `USER_ID_CLAIM` (default `sub`): the claim that holds the user id.
    pub user_id_claim: String,
}

/// A key's fingerprint: SHA-256 of its JWK as parsed (key material, `kid`,
/// `alg`, use). The same key keeps it across fetches; a key replaced under the
/// same `kid` gets another.
pub(crate) type KeyId = [u8; 32];

/// A verification key from a JWKS, with what it may verify.
#[derive(Clone)]
pub(crate) struct VerificationKey {
    /// The key's fingerprint.
    pub(crate) id: KeyId,
    kid: Option<String>,
    /// The key's own `alg`, when the JWKS names one.
    alg: Option<Algorithm>,
    /// An RSA or EC key (its family says which); shared, so handing the key to
    /// a request copies no key material.
    pub(crate) key: Arc<DecodingKey>,
}

impl std::fmt::Debug for VerificationKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerificationKey").field("kid", &self.kid).field("alg", &self.alg).finish_non_exhaustive()
    }
}

/// Reads the signing keys of a JWKS document: RSA and EC keys meant for
/// signatures; symmetric (`oct`) and other keys are left out.
///
/// RSA keys ring cannot verify with (a modulus under 2048 or over 8192 bits,
/// an unusual exponent) are dropped with a warning naming their `kid`: a
/// token signed with one is then refused as `token_unknown_key`.
pub(crate) fn keys_from_jwks(text: &str) -> Result<Vec<VerificationKey>, &'static str> {
    crate::identity::ring_provider::install();
    let set: JwkSet = serde_json::from_str(text).map_err(|_| "is not a JWKS document ({\"keys\":[…]})")?;
    Ok(set.keys.iter().filter_map(verification_key).collect())
}

fn verification_key(jwk: &Jwk) -> Option<VerificationKey> {
    // A key for another use, or (RFC 7517 §4.3) whose `key_ops` are given
    // but do not include `verify`, is not meant for checking signatures.
    let other_use = matches!(jwk.common.public_key_use, Some(ref u) if *u != PublicKeyUse::Signature);
    if other_use || jwk.common.key_operations.as_ref().is_some_and(|ops| !ops.contains(&KeyOperations::Verify)) {
        return None;
    }
    // A key for another use (`RSA-OAEP`, …) or an unknown `alg` is left out.
    let alg = jwk.common.key_algorithm.map(|alg| alg.to_string().parse::<Algorithm>()).transpose().ok()?;
    let key = match &jwk.algorithm {
        AlgorithmParameters::RSA(params) => {
            let n = URL_SAFE_NO_PAD.decode(&params.n).ok()?;
            let e = URL_SAFE_NO_PAD.decode(&params.e).ok()?;
            crate::identity::ring_provider::rsa_key(&n, &e).or_else(|| {
                tracing::warn!(
                    kid = jwk.common.key_id.as_deref().unwrap_or(""),
                    modulus_bits = (n.iter().skip_while(|b| **b == 0).count() * 8) as u64,
                    "JWKS RSA key left out: only 2048- to 8192-bit moduli with an odd exponent of 3 to 2^33-1 are verified"
                );
                None
            })?
        }
        AlgorithmParameters::EllipticCurve(_) => DecodingKey::from_jwk(jwk).ok()?,
        _ => return None,
    };
    let id = Sha256::digest(serde_json::to_vec(jwk).ok()?).into();
    Some(VerificationKey { id, kid: jwk.common.key_id.clone(), alg, key: Arc::new(key) })
}

/// Whether `alg` is an HMAC algorithm.
pub(crate) fn is_hmac(alg: Algorithm) -> bool {
    alg.family() == AlgorithmFamily::Hmac
}

/// Shape and header checks, before any key is looked up: the header, its
/// algorithm on the allow-list.
pub(crate) fn check_head(token: &str, rules: &ClaimRules) -> Result<Header, Refusal> {
    let refuse = |reason| Err(Refusal::Unauthenticated(reason));
    if token.len() > MAX_TOKEN_BYTES {
        return refuse(AuthFailure::TokenTooLarge);
    }
    // Three parts; an empty signature is left for the header check (`alg: none`).
    let well_formed = token.split('.').count() == 3
        && token.split('.').take(2).all(|part| !part.is_empty())
        && token.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !well_formed {
        return refuse(AuthFailure::TokenMalformed);
    }
    // Unknown algorithms, `none` among them, fail here.
    let Ok(header) = jsonwebtoken::decode_header(token) else { return refuse(AuthFailure::TokenBadHeader) };
    if header.jku.is_some() || header.x5u.is_some() || header.jwk.is_some() || header.x5c.is_some() {
        return refuse(AuthFailure::TokenNamesItsKey);
    }
    // RFC 7515 §4.1.11: `crit` lists extensions the recipient must understand;
    // we implement none, so any `crit` is refused.
    if header.crit.is_some() {
        return refuse(AuthFailure::TokenCriticalHeader);
    }
    if !rules.algorithms.contains(&header.alg) {
        return refuse(AuthFailure::TokenAlgorithmNotAllowed);
    }
    Ok(header)
}

/// Picks the JWKS key for a token: same `kid` (or the only key when the
/// token has none), a family that fits the algorithm (an HMAC algorithm fits
/// none), and the key's own `alg` when it names one. `None` when no key fits.
pub(crate) fn pick_key<'k>(keys: &'k [VerificationKey], head: &Header) -> Option<&'k VerificationKey> {
    let fits = |k: &&VerificationKey| k.key.family() == head.alg.family() && k.alg.is_none_or(|alg| alg == head.alg);
    match &head.kid {
        Some(kid) => keys.iter().filter(|k| k.kid.as_deref() == Some(kid)).find(fits),
        None => {
            let mut candidates = keys.iter().filter(fits);
            let only = candidates.next()?;
            candidates.next().is_none().then_some(only)
        }
    }
}

/// A token that passed every check: the user, and the time-bound claims the
/// verified-token cache re-checks on each hit.
#[derive(Debug)]
pub(crate) struct Verified {
    /// The user the token names, shared with the verified-token cache.
    pub user: Arc<User>,
    /// `exp` (required).
    pub(crate) exp: u64,
    /// `nbf`, when present.
    pub(crate) nbf: Option<u64>,
}

/// Verifies the signature and the claims with `key` at `now` (Unix seconds),
/// and makes the user. `head` is what [`check_head`] read from this token.
///
/// jsonwebtoken's `decode` checks the signature (with the ring provider), the
/// algorithm, `exp` (present, a NumericDate), `iss` and `aud` (see
/// [`validation`]). This function adds only what the library lacks:
/// - a claim named twice is refused, whatever the claim (RFC 7519 §4; the
///   library refuses duplicates of the registered claims it reads and lets the
///   last value of any other win, so the policy could see another `org_id`
///   than another reader of the same token);
/// - [`check_recipient`]: `iss` required and a string, `aud` well formed, and
///   Cognito's `token_use`/`client_id` rules;
/// - the time checks, at the validator's clock and after the checks of who
///   the token is for: an expired token meant for someone else is
///   `unauthenticated`, never `token_expired` (which would tell its sender
///   that the signature and the recipient were right). The verified-token
///   cache repeats them on every hit with the same leeway.
pub(crate) fn verify(
    token: &str,
    head: &Header,
    key: &DecodingKey,
    rules: &ClaimRules,
    now: u64,
) -> Result<Verified, Refusal> {
    let refuse = |reason| Refusal::Unauthenticated(reason);
    // Before any `decode` in the process (one atomic load after the first).
    crate::identity::ring_provider::install();
    let decoded = jsonwebtoken::decode::<UniqueClaims>(token, key, &validation(head.alg, rules));
    let claims = decoded.map_err(|error| refuse(refusal_for(error.kind(), token, rules)))?.claims.0;
    check_recipient(&claims, rules).map_err(refuse)?;
    let exp = numeric_date(&claims, "exp").ok().flatten().ok_or(refuse(AuthFailure::TokenBadClaims))?;
    let nbf = numeric_date(&claims, "nbf").map_err(|()| refuse(AuthFailure::TokenBadClaims))?;
    if exp < now.saturating_sub(rules.leeway) {
        return Err(refuse(AuthFailure::TokenExpired));
    }
    if nbf.is_some_and(|nbf| nbf > now.saturating_add(rules.leeway)) {
        return Err(refuse(AuthFailure::TokenNotYetValid));
    }
    let user = user_from_claims(claims, &rules.user_id_claim)?;
    Ok(Verified { user: Arc::new(user), exp, nbf })
}

/// What jsonwebtoken checks of a token signed with `alg`: `Validation::new`'s
/// defaults (this one algorithm, already on the allow-list; `exp` required;
/// `aud` checked, any `aud` refused when no audience is configured, RFC 7519
/// §4.1.3; `nbf` not compared; no `sub`), with `iss` and `aud` from the rules.
/// `exp` and `nbf` are compared in `verify`, after issuer and audience.
fn validation(alg: Algorithm, rules: &ClaimRules) -> jsonwebtoken::Validation {
    let mut validation = jsonwebtoken::Validation::new(alg);
    validation.validate_exp = false;
    validation.iss = rules.issuer.as_ref().map(|issuer| [issuer.clone()].into());
    validation.aud = rules.audience.as_ref().map(|audience| [audience.clone()].into());
    validation
}

/// Why jsonwebtoken's `decode` refused a token.
fn refusal_for(kind: &jsonwebtoken::errors::ErrorKind, token: &str, rules: &ClaimRules) -> AuthFailure {
    use jsonwebtoken::errors::ErrorKind;
    // Reads the claims again for the log line only; `decode` checked the
    // signature before the claims, so these are the issuer's own.
    let received = |name: &str| {
        let claims = jsonwebtoken::dangerous::insecure_decode_claims::<Map<String, Value>>(token);
        claims.ok().and_then(|mut claims| claims.remove(name)).unwrap_or_default()
    };
    match (kind, &rules.audience) {
        (ErrorKind::InvalidSignature, _) => AuthFailure::TokenBadSignature,
        // The key is of another family than the token's algorithm.
        (ErrorKind::InvalidAlgorithm | ErrorKind::InvalidKeyFormat, _) => AuthFailure::TokenKeyMismatch,
        (ErrorKind::MissingRequiredClaim(_) | ErrorKind::InvalidClaimFormat(_), _) => AuthFailure::TokenBadClaims,
        (ErrorKind::InvalidIssuer, _) => wrong_issuer(rules.issuer.as_deref().unwrap_or_default(), &received("iss")),
        (ErrorKind::InvalidAudience, Some(expected)) => wrong_audience(expected, &received("aud")),
        (ErrorKind::InvalidAudience, None) => AuthFailure::TokenUnexpectedAudience,
        // Base64, UTF-8 or JSON, a claim named twice included.
        _ => AuthFailure::TokenInvalid,
    }
}

/// An issuer that is not `JWT_ISSUER`, logged (its JSON, cut at 200
/// characters): neither is a secret, and the pair is what an operator needs
/// to fix a typo.
fn wrong_issuer(expected: &str, received: &Value) -> AuthFailure {
    tracing::info!(expected, received = %capped(&received.to_string(), 200), "token issuer is not JWT_ISSUER");
    AuthFailure::TokenWrongIssuer
}

/// An audience that does not name `JWT_AUDIENCE`, logged as [`wrong_issuer`].
fn wrong_audience(expected: &str, received: &Value) -> AuthFailure {
    let received = capped(&received.to_string(), 200);
    tracing::info!(expected, %received, "token audience does not name JWT_AUDIENCE");
    AuthFailure::TokenWrongAudience
}

/// The user verified claims name: the `user_id_claim` claim, a string within
/// the user-id rules, and (for an e-mail or phone number) verified.
pub(crate) fn user_from_claims(claims: Map<String, Value>, user_id_claim: &str) -> Result<User, Refusal> {
    use AuthFailure::*;
    let refusals = [TokenWithoutSubject, TokenSubjectTooLong, TokenSubjectInvalid, TokenIdentityUnverified];
    user_from(claims, &[user_id_claim], refusals)
}

/// A NumericDate claim (RFC 7519 §2) read as jsonwebtoken reads it: a
/// non-negative integer, or a finite non-negative number rounded to the
/// nearest second. `Ok(None)` when absent, `Err` when present in another form
/// (`null` included).
fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<u64>, ()> {
    let Some(value) = claims.get(name) else { return Ok(None) };
    let rounded =
        value.as_f64().filter(|f| f.is_finite() && *f >= 0.0 && *f < u64::MAX as f64).map(|f| f.round() as u64);
    value.as_u64().or(rounded).map(Some).ok_or(())
}

/// A claims set: a JSON object whose member names are unique (a duplicate
/// name fails the parse; nested objects keep serde_json's rules).
struct UniqueClaims(Map<String, Value>);

impl<'de> serde::Deserialize<'de> for UniqueClaims {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(UniqueClaims(Map::new()))
    }
}

impl<'de> serde::de::Visitor<'de> for UniqueClaims {
    type Value = Self;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object with unique member names")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(mut self, mut access: A) -> Result<Self, A::Error> {
        while let Some((name, value)) = access.next_entry::<String, Value>()? {
            if self.0.insert(name, value).is_some() {
                return Err(serde::de::Error::custom("a claim named twice"));
            }
        }
        Ok(self)
    }
}

/// What jsonwebtoken's `Validation` leaves open about who a token is for,
/// checked once `decode` passed it (the library compared a string `iss` and
/// a string or list `aud` with the configuration, and refused any `aud` when
/// no audience is configured):
///
/// - A configured issuer is required, as a string: the library accepts a
///   token without `iss`, and an `iss` list that names the issuer.
/// - `token_use` (Cognito), when present, must be `id` or `access`.
/// - A configured audience is required: `aud` must be a string or a list of
///   strings (the library skips one of another type). A token without `aud`
///   passes only as a Cognito access token for this client: `token_use` is
///   `access` and `client_id` equals the audience (Cognito's documented
///   check). A pool's keys sign tokens for every app client of the pool, so
///   without this an access token minted for another client would pass.
/// - With no audience configured, an `aud` the library skipped (`null`, or of
///   another type) is refused too.
fn check_recipient(claims: &Map<String, Value>, rules: &ClaimRules) -> Result<(), AuthFailure> {
    match (&rules.issuer, claims.get("iss")) {
        (None, _) | (Some(_), Some(Value::String(_))) => check_audience(claims, rules.audience.as_deref()),
        (Some(_), None | Some(Value::Null)) => Err(AuthFailure::TokenWithoutIssuer),
        (Some(issuer), Some(received)) => Err(wrong_issuer(issuer, received)),
    }
}

/// Who the token was minted for, as `jwt` mode and (with `JWT_AUDIENCE`
/// set) `authorizer` mode decide it: `token_use`, when present, is `id` or
/// `access`; with an audience, `aud` names it, or there is no `aud` and the
/// token is a Cognito access token whose `client_id` is it; without one,
/// no `aud` at all.
pub(crate) fn check_audience(claims: &Map<String, Value>, audience: Option<&str>) -> Result<(), AuthFailure> {
    if claims.get("token_use").is_some_and(|u| u != "id" && u != "access") {
        return Err(AuthFailure::TokenWrongUse);
    }
    let aud = claims.get("aud");
    let names_it = |audience: &str| match aud {
        Some(Value::String(a)) => a == audience,
        Some(Value::Array(list)) => list.iter().all(Value::is_string) && list.iter().any(|a| a == audience),
        _ => false,
    };
    match (audience, aud) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err(AuthFailure::TokenUnexpectedAudience),
        (Some(audience), _) if names_it(audience) => Ok(()),
        (Some(audience), None | Some(Value::Null)) => {
            let access = claims.get("token_use").is_some_and(|u| u == "access");
            if access && claims.get("client_id").is_some_and(|id| id == audience) {
                Ok(())
            } else {
                Err(AuthFailure::TokenWithoutAudience)
            }
        }
        (Some(audience), Some(received)) => Err(wrong_audience(audience, received)),
    }
}

/// An unverified value for a log line: cut at `max` characters.
pub(crate) fn capped(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// The token a request carries: the token parameter, else `Authorization: Bearer`.
pub(crate) fn token_of<'a>(param: Option<&'a str>, authorization: Option<&'a str>) -> Option<&'a str> {
    param.filter(|t| !t.is_empty()).or_else(|| {
        let value = authorization?;
        let (scheme, token) = value.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const RSA_JWK: &str = r#""kty":"RSA","kid":"k","n":"sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw","e":"AQAB""#;

    fn keys(extra: &str) -> usize {
        keys_from_jwks(&format!(r#"{{"keys":[{{{RSA_JWK}{extra}}}]}}"#)).unwrap().len()
    }

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
    /// The clock `jsonwebtoken::decode` reads, so both verdicts are taken at one time.
    fn now() -> u64 {
        jsonwebtoken::get_current_timestamp()
    }

    fn hs256(claims: &str) -> String {
        let message =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#), URL_SAFE_NO_PAD.encode(claims));
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, SECRET);
        format!("{message}.{}", URL_SAFE_NO_PAD.encode(ring::hmac::sign(&key, message.as_bytes())))
    }

    /// HS256 only, no issuer or audience, 30 s leeway.
    fn hs256_rules() -> ClaimRules {
        ClaimRules {
            algorithms: vec![Algorithm::HS256],
            issuer: None,
            audience: None,
            leeway: 30,
            user_id_claim: "sub".into(),
        }
    }

    fn verdict(token: &str) -> Result<(String, u64, Option<u64>), &'static str> {
        let rules = hs256_rules();
        let head = check_head(token, &rules).map_err(|r| r.log_reason())?;
        verify(token, &head, &DecodingKey::from_secret(SECRET), &rules, now())
            .map(|v| (v.user.id.clone(), v.exp, v.nbf))
            .map_err(|r| r.log_reason())
    }

    /// What `jsonwebtoken::decode` alone, with its usual settings, says of an HS256 token.
    fn jsonwebtoken_verdict(token: &str) -> Result<(), &'static str> {
        use jsonwebtoken::errors::ErrorKind;
        crate::identity::ring_provider::install();
        let mut validation = jsonwebtoken::Validation::new(Algorithm::HS256);
        validation.leeway = 30;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp"]);
        validation.validate_aud = false;
        jsonwebtoken::decode::<Map<String, Value>>(token, &DecodingKey::from_secret(SECRET), &validation)
            .map(|_| ())
            .map_err(|e| match e.kind() {
                ErrorKind::InvalidSignature => "token_bad_signature",
                ErrorKind::ExpiredSignature => "token_expired",
                ErrorKind::ImmatureSignature => "token_not_yet_valid",
                ErrorKind::MissingRequiredClaim(_) | ErrorKind::InvalidClaimFormat(_) => "token_bad_claims",
                _ => "token_invalid",
            })
    }

    #[test]
    fn claims_follow_jsonwebtoken_rules() {
        let now = now();
        let exp = now + 600;
        assert_eq!(verdict(&hs256(&format!(r#"{{"sub":"u","exp":{exp}}}"#))), Ok(("u".into(), exp, None)));
        // NumericDate: a fraction rounds to the nearest second; nbf within the leeway passes.
        assert_eq!(
            verdict(&hs256(&format!(r#"{{"sub":"u","exp":{exp}.6,"nbf":{}}}"#, now - 5))),
            Ok(("u".into(), exp + 1, Some(now - 5)))
        );
        for (claims, reason) in [
            (r#"{"sub":"u","exp":-1}"#.to_string(), "token_bad_claims"),
            (r#"{"sub":"u","exp":null}"#.to_string(), "token_bad_claims"),
            (r#"{"sub":"u","exp":1e30}"#.to_string(), "token_bad_claims"),
            (format!(r#"{{"sub":"u","exp":{exp},"nbf":"soon"}}"#), "token_bad_claims"),
            (format!(r#"{{"sub":"u","exp":{exp},"nbf":null}}"#), "token_bad_claims"),
            // nbf, which our code reads: negative, too large, at 2^64.
            (format!(r#"{{"sub":"u","exp":{exp},"nbf":-1.5}}"#), "token_bad_claims"),
            (format!(r#"{{"sub":"u","exp":{exp},"nbf":1e30}}"#), "token_bad_claims"),
            (format!(r#"{{"sub":"u","exp":{exp},"nbf":18446744073709551616}}"#), "token_bad_claims"),
            (format!(r#"{{"sub":"u","exp":{}}}"#, now - 300), "token_expired"),
            (format!(r#"{{"sub":"u","exp":{exp},"nbf":{}}}"#, now + 300), "token_not_yet_valid"),
            // RFC 7519 §4: a claim named twice is refused, whichever claim it is.
            (format!(r#"{{"sub":"u","exp":{exp},"exp":{exp}}}"#), "token_invalid"),
            (format!(r#"{{"sub":"u","org_id":"a","exp":{exp},"org_id":"b"}}"#), "token_invalid"),
            (format!(r#"{{"sub":"a","exp":{exp},"sub":"b"}}"#), "token_invalid"),
            (format!(r#"[{{"sub":"u","exp":{exp}}}]"#), "token_invalid"),
            (format!(r#"{{"sub":"u","exp":{exp}}}x"#), "token_invalid"),
        ] {
            let token = hs256(&claims);
            assert_eq!(verdict(&token), Err(reason), "{claims}");
            if !claims.contains(r#""org_id":"b""#) {
                assert_eq!(jsonwebtoken_verdict(&token), Err(reason), "jsonwebtoken::decode on {claims}");
            } else {
                // The one difference: jsonwebtoken refused a registered claim named twice
                // (`exp`, `sub` above) but let the last value of any other win.
                assert!(jsonwebtoken_verdict(&token).is_ok(), "jsonwebtoken let the last {claims} win");
            }
        }
        // Nested objects keep serde_json's rules (the last value wins): only claim names must be unique.
        assert!(verdict(&hs256(&format!(r#"{{"sub":"u","exp":{exp},"o":{{"a":1,"a":2}}}}"#))).is_ok());
    }

    #[test]
    fn the_leeway_is_exact_at_both_ends() {
        let rules = hs256_rules();
        let at = |claims: String, now: u64| {
            let token = hs256(&claims);
            let head = check_head(&token, &rules).unwrap();
            verify(&token, &head, &DecodingKey::from_secret(SECRET), &rules, now)
                .map(|_| ())
                .map_err(|r| r.log_reason())
        };
        let t = 1_800_000_000;
        assert_eq!(at(format!(r#"{{"sub":"u","exp":{}}}"#, t - 30), t), Ok(()));
        assert_eq!(at(format!(r#"{{"sub":"u","exp":{}}}"#, t - 31), t), Err("token_expired"));
        assert_eq!(at(format!(r#"{{"sub":"u","exp":{},"nbf":{}}}"#, t + 99, t + 30), t), Ok(()));
        assert_eq!(at(format!(r#"{{"sub":"u","exp":{},"nbf":{}}}"#, t + 99, t + 31), t), Err("token_not_yet_valid"));
    }

    #[test]
    fn signatures_are_checked_before_the_claims_are_read() {
        let exp = now() + 600;
        let good = hs256(&format!(r#"{{"sub":"u","exp":{exp}}}"#));
        let (message, _) = good.rsplit_once('.').unwrap();
        // Claims that would fail to parse are not reached without a good signature.
        let bad_claims_unsigned = format!(
            "{}.{}.{}",
            message.split('.').next().unwrap(),
            URL_SAFE_NO_PAD.encode("[1"),
            URL_SAFE_NO_PAD.encode([7u8; 32])
        );
        assert_eq!(verdict(&bad_claims_unsigned), Err("token_bad_signature"));
        assert_eq!(verdict(&format!("{message}.{}", URL_SAFE_NO_PAD.encode([0u8; 32]))), Err("token_bad_signature"));
        assert_eq!(verdict(&format!("{message}.{}", URL_SAFE_NO_PAD.encode([0u8; 1025]))), Err("token_bad_signature"));
        assert_eq!(verdict(&format!("{message}.A")), Err("token_invalid"), "not base64");
        // An RSA key never checks an HMAC token.
        let rules = hs256_rules();
        let head = check_head(&good, &rules).unwrap();
        let rsa = keys_from_jwks(&format!(r#"{{"keys":[{{{RSA_JWK}}}]}}"#)).unwrap();
        assert_eq!(
            verify(&good, &head, &rsa[0].key, &rules, now()).map(|_| ()).map_err(|r| r.log_reason()),
            Err("token_key_mismatch")
        );
    }

    #[test]
    fn key_ops_without_verify_keep_a_key_out() {
        assert_eq!(keys(""), 1);
        assert_eq!(keys(r#","key_ops":["verify"]"#), 1);
        assert_eq!(keys(r#","key_ops":["sign","verify"]"#), 1);
        assert_eq!(keys(r#","key_ops":["encrypt"]"#), 0);
        assert_eq!(keys(r#","key_ops":[]"#), 0);
        assert_eq!(keys(r#","use":"enc""#), 0);
        // A key whose `alg` is not a signature algorithm we verify, or unknown.
        assert_eq!(keys(r#","alg":"RS256""#), 1);
        for alg in ["RSA-OAEP", "RSA1_5", "none", "RS257"] {
            assert_eq!(keys(&format!(r#","alg":"{alg}""#)), 0, "{alg}");
        }
    }

    /// A JWKS with the fixtures' RSA key as `rsa` and a P-256 key as `ec`,
    /// each with the extra members given.
    fn family_keys(rsa_extra: &str, ec_extra: &str) -> Vec<VerificationKey> {
        let ec = r#""kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0""#;
        keys_from_jwks(&format!(r#"{{"keys":[{{{RSA_JWK}{rsa_extra}}},{{{ec}{ec_extra}}}]}}"#)).unwrap()
    }

    fn picked(keys: &[VerificationKey], alg: Algorithm, kid: Option<&str>) -> Option<Option<String>> {
        pick_key(keys, &Header { kid: kid.map(String::from), ..Header::new(alg) }).map(|k| k.kid.clone())
    }

    #[test]
    fn a_key_shows_its_kid_and_alg_never_its_material() {
        let keys = family_keys(r#","alg":"RS256""#, r#","kid":"e""#);
        let shown = format!("{:?}", keys[0]);
        assert!(shown.starts_with("VerificationKey") && shown.contains(r#"Some("k")"#), "{shown}");
        assert!(shown.contains("RS256") && !shown.contains("sXchDaQ"), "{shown}");
    }

    #[test]
    fn a_key_is_picked_by_kid_family_and_its_own_alg() {
        // RSA_JWK's kid is "k"; the EC key gets kid "e".
        let keys = family_keys("", r#","kid":"e""#);
        assert_eq!(keys.len(), 2);
        for alg in [Algorithm::RS256, Algorithm::RS384, Algorithm::RS512, Algorithm::PS256, Algorithm::PS512] {
            assert_eq!(picked(&keys, alg, Some("k")), Some(Some("k".into())), "{alg:?}");
            assert_eq!(picked(&keys, alg, Some("e")), None, "{alg:?}: an EC key never checks an RSA token");
        }
        for alg in [Algorithm::ES256, Algorithm::ES384] {
            assert_eq!(picked(&keys, alg, Some("e")), Some(Some("e".into())), "{alg:?}");
            assert_eq!(picked(&keys, alg, Some("k")), None, "{alg:?}: an RSA key never checks an EC token");
        }
        assert_eq!(picked(&keys, Algorithm::HS256, Some("k")), None);
        assert_eq!(picked(&keys, Algorithm::RS256, Some("other")), None);
        // Without a kid: the only key of the family, never a guess between two.
        assert_eq!(picked(&keys, Algorithm::RS256, None), Some(Some("k".into())));
        assert_eq!(picked(&keys, Algorithm::ES256, None), Some(Some("e".into())));
        let two_rsa = keys_from_jwks(&format!(
            r#"{{"keys":[{{{RSA_JWK}}},{{{}}}]}}"#,
            RSA_JWK.replace(r#""kid":"k""#, r#""kid":"k2""#)
        ))
        .unwrap();
        assert_eq!(picked(&two_rsa, Algorithm::RS256, None), None);
        assert_eq!(picked(&two_rsa, Algorithm::RS256, Some("k2")), Some(Some("k2".into())));
        // A key pinned to one algorithm checks only that algorithm.
        let pinned = family_keys(r#","alg":"RS256""#, r#","kid":"e","alg":"ES256""#);
        assert_eq!(picked(&pinned, Algorithm::RS256, Some("k")), Some(Some("k".into())));
        for alg in [Algorithm::RS384, Algorithm::PS256, Algorithm::RS512] {
            assert_eq!(picked(&pinned, alg, Some("k")), None, "{alg:?} with a key pinned to RS256");
        }
        assert_eq!(picked(&pinned, Algorithm::ES384, Some("e")), None);
        assert_eq!(picked(&pinned, Algorithm::ES256, Some("e")), Some(Some("e".into())));
    }

    #[test]
    fn edges_of_size_time_and_subject() {
        let exp = now() + 600;
        // Exactly the size limit passes the size check; one byte more does not.
        let base = hs256(&format!(r#"{{"sub":"u","exp":{exp},"pad":""}}"#));
        let pad = |n: usize| hs256(&format!(r#"{{"sub":"u","exp":{exp},"pad":"{}"}}"#, "x".repeat(n)));
        let mut n = (MAX_TOKEN_BYTES - base.len()) * 3 / 4;
        while pad(n + 1).len() <= MAX_TOKEN_BYTES {
            n += 1;
        }
        let (at_limit, over) = (pad(n), pad(n + 1));
        assert!(at_limit.len() <= MAX_TOKEN_BYTES && over.len() > MAX_TOKEN_BYTES);
        assert!(verdict(&at_limit).is_ok(), "{} bytes", at_limit.len());
        assert_eq!(verdict(&over), Err("token_too_large"));
        assert_eq!(
            check_head(&"a".repeat(MAX_TOKEN_BYTES + 1), &hs256_rules()).unwrap_err().log_reason(),
            "token_too_large"
        );
        // `exp` at 2^64 (and beyond u64) is not a NumericDate this side accepts.
        assert_eq!(verdict(&hs256(r#"{"sub":"u","exp":18446744073709551616}"#)), Err("token_bad_claims"));
        assert_eq!(verdict(&hs256(r#"{"sub":"u","exp":18446744073709551615}"#)).map(|v| v.1), Ok(u64::MAX));
        // With no audience configured, any `aud` is refused: those jsonwebtoken reads, and
        // those it skips (`null`, another type).
        for aud in [r#""app""#, r#"["app"]"#, "[]", "null", "5", r#"["app",5]"#] {
            let token = hs256(&format!(r#"{{"sub":"u","exp":{exp},"aud":{aud}}}"#));
            assert_eq!(verdict(&token), Err("token_unexpected_audience"), "aud {aud}");
        }
        // An empty subject is no subject.
        assert_eq!(verdict(&hs256(&format!(r#"{{"sub":"","exp":{exp}}}"#))), Err("token_without_subject"));
        assert_eq!(verdict(&hs256(&format!(r#"{{"sub":7,"exp":{exp}}}"#))), Err("token_without_subject"));
    }
}
