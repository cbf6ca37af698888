//! Where JWT verification keys come from: a JWKS given inline (`JWT_JWKS`)
//! or fetched from `JWT_JWKS_URL` (e.g. a Cognito user pool's
//! `/.well-known/jwks.json`).
//!
//! A fetched JWKS is a [`Refreshing`] value: loaded on first use (never on
//! the cold-start path; requests arriving meanwhile wait for that fetch and
//! share its outcome) and kept for `JWT_JWKS_TTL_SECONDS` (default 300 s;
//! `0`: fetched once per execution environment). The first request that
//! finds the set older than that fetches it again before it decides (requests
//! arriving during that fetch keep the set in force), so a key the identity
//! provider withdraws (`{k1,k2}` → `{k1}`, the answer to a leaked key) or
//! replaces under the same `kid` is followed within one lifetime. A token
//! naming a `kid` the set lacks causes a fetch too, at most once a minute.
//! Every fetch gives up after 2 s. When the endpoint is down, the cached set
//! stays in use (logged once per outage, tried again after a lifetime or a
//! minute, whichever is sooner) and unknown keys fail closed, for at most
//! `JWT_JWKS_MAX_STALE_SECONDS` (default an hour) after the fetch that
//! brought it: then the set is dropped and RSA/EC tokens are refused
//! (`jwks_unavailable`), cached ones too, until a fetch succeeds.
//!
//! Each key carries a fingerprint ([`crate::identity::jwt::KeyId`]); the
//! verified-token cache remembers which key verified each token and uses an
//! entry only while that key is still in the set
//! ([`crate::identity::token_cache`]), so a withdrawn key takes its tokens
//! with it, and a fetch that changes nothing (a random `kid` sent to force
//! one) drops nothing.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use jsonwebtoken::Header;

use crate::error::AuthFailure::{self, TokenUnknownKey};
use crate::error::Refusal;
use crate::identity::jwt::{keys_from_jwks, pick_key, VerificationKey};
use crate::support::refresh::{Refreshing, ReloadError, Report};

/// Longest wait for the JWKS endpoint.
pub(crate) const FETCH_TIMEOUT: Duration = Duration::from_secs(2);
/// Least time between two fetches caused by unknown keys (and between two
/// attempts while the endpoint is down).
pub(crate) const REFETCH_INTERVAL: Duration = Duration::from_secs(60);
/// `JWT_JWKS_TTL_SECONDS` when unset: five minutes, as the secret's.
pub(crate) const DEFAULT_TTL: Duration = Duration::from_secs(300);
/// `JWT_JWKS_MAX_STALE_SECONDS` when unset: an hour.
pub(crate) const DEFAULT_MAX_STALE: Duration = Duration::from_secs(3600);
/// The largest `JWT_JWKS_TTL_SECONDS` (and `JWT_JWKS_MAX_STALE_SECONDS`) accepted: a day.
pub(crate) const MAX_TTL_SECONDS: u64 = 86_400;
/// Largest JWKS document accepted.
pub(crate) const MAX_JWKS_BYTES: usize = 256 * 1024;

/// A key set, shared: handing it to a request copies no key material.
pub(crate) type KeySet = Arc<Vec<VerificationKey>>;

/// The configured key source.
#[derive(Debug)]
pub(crate) enum KeySource {
    /// `JWT_JWKS`, or none (HMAC only: no RS/PS/ES token passes `check_head`).
    Inline(KeySet),
    /// `JWT_JWKS_URL`.
    Remote(Box<RemoteJwks>),
}

impl KeySource {
    /// The key for a token (a copy that shares the key material), fetching
    /// the JWKS if it is remote and the key unknown.
    pub(crate) async fn key_for(&self, head: &Header) -> Result<VerificationKey, Refusal> {
        match self {
            Self::Inline(keys) => pick_key(keys, head).cloned().ok_or(Refusal::Unauthenticated(TokenUnknownKey)),
            Self::Remote(remote) => remote.key_for(head).await,
        }
    }

    /// The key set in force, refreshed first when it is older than its
    /// lifetime. `None` when no key set was fetched yet: then no token
    /// verified with a JWKS key can be cached either.
    pub(crate) async fn current(&self) -> Option<KeySet> {
        match self {
            Self::Inline(keys) => Some(keys.clone()),
            Self::Remote(remote) => {
                remote.keys.peek()?;
                remote.keys.get(|| remote.fetch(), report).await.ok()
            }
        }
    }
}

/// A JWKS fetched over HTTP(S) and cached.
pub(crate) struct RemoteJwks {
    url: http::Uri,
    refetch_interval: Duration,
    keys: Refreshing<Vec<VerificationKey>, FetchError>,
}

impl std::fmt::Debug for RemoteJwks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteJwks").field("url", &self.url).field("ttl", &self.keys.ttl()).finish_non_exhaustive()
    }
}

/// Why a fetch failed (logged; never client-facing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FetchError {
    Timeout,
    Connect,
    Status(u16),
    Body,
    NotJwks,
}

/// The log lines of a fetch (never the keys).
fn report(report: Report<'_, FetchError>) {
    match report {
        Report::Loaded | Report::Refreshed { recovered: false } => tracing::info!("JWKS fetched"),
        Report::Refreshed { recovered: true } => tracing::info!("JWKS fetched: the endpoint answers again"),
        Report::LoadFailed(error) => {
            tracing::warn!(error = ?error, "JWKS fetch failed; no keys yet, RSA/EC tokens are refused")
        }
        Report::RefreshFailed { error, first: true } => tracing::warn!(
            error = ?error,
            "JWKS fetch failed; the cached keys stay in use, unknown keys are refused (logged once until it recovers)"
        ),
        Report::RefreshFailed { first: false, .. } => {}
    }
}

/// `url` as the address of a JWKS: `https://…`, or `http://` to a loopback
/// host (local runs and tests).
pub(crate) fn jwks_url(url: &str) -> Result<http::Uri, &'static str> {
    let uri: http::Uri = url.parse().map_err(|_| "is not a URL")?;
    let allowed = crate::support::https::https_or_loopback(&uri);
    allowed.then_some(uri).ok_or("must be an https:// URL (http:// only to 127.0.0.1 or localhost)")
}

impl RemoteJwks {
    /// A cache for the JWKS at `url`, an address [`jwks_url`] accepted: the
    /// set is stale after `ttl` (`None`: fetched once per environment, so
    /// never refreshed, never dropped), used at most `max_stale` (at least
    /// `ttl`) after the fetch that brought it, and fetched for an unknown key
    /// at most once per `refetch_interval` ([`REFETCH_INTERVAL`]; tests use
    /// zero). After a failed refresh it is tried again one lifetime or one
    /// refetch interval later, whichever is sooner.
    pub(crate) fn new(url: http::Uri, ttl: Option<Duration>, max_stale: Duration, refetch_interval: Duration) -> Self {
        let keys = Refreshing::new(ttl, ttl.map_or(refetch_interval, |ttl| ttl.min(refetch_interval)))
            .with_max_stale(ttl.map(|ttl| max_stale.max(ttl)));
        Self { url, refetch_interval, keys }
    }

    /// The key for a token: from the set in force (fetched on first use, or
    /// refreshed when stale), else (at most once per interval) from a fresh fetch.
    pub(crate) async fn key_for(&self, head: &Header) -> Result<VerificationKey, Refusal> {
        let found = |keys: &[VerificationKey]| pick_key(keys, head).cloned();
        let unknown = || {
            tracing::warn!(
                reason = AuthFailure::TokenUnknownKey.as_str(),
                kid = crate::identity::jwt::capped(head.kid.as_deref().unwrap_or(""), 64),
                "no key of the JWKS in force fits the token (a fetch for it is allowed once a minute)"
            );
            Refusal::Unauthenticated(AuthFailure::TokenUnknownKey)
        };
        let unavailable = Refusal::Unauthenticated(AuthFailure::JwksUnavailable);
        let keys = self.keys.get(|| self.fetch(), report).await.map_err(|_| unavailable)?;
        if let Some(key) = found(&keys) {
            return Ok(key);
        }
        match self.keys.reload(self.refetch_interval, || self.fetch(), report).await {
            Ok(keys) => found(&keys).ok_or_else(unknown),
            Err(ReloadError::TooSoon) => Err(unknown()),
            Err(ReloadError::Failed(_)) => Err(unavailable),
        }
    }

    /// One fetch of the document, at most [`FETCH_TIMEOUT`] long.
    async fn fetch(&self) -> Result<Vec<VerificationKey>, FetchError> {
        let client = crate::support::https::client().ok_or(FetchError::Connect)?;
        let request = http::Request::get(self.url.clone())
            .header(http::header::ACCEPT, "application/json")
            .body(Full::new(Bytes::new()))
            .map_err(|_| FetchError::Connect)?;
        let work = async {
            let response = client.request(request).await.map_err(|_| FetchError::Connect)?;
            if !response.status().is_success() {
                return Err(FetchError::Status(response.status().as_u16()));
            }
            let body =
                Limited::new(response.into_body(), MAX_JWKS_BYTES).collect().await.map_err(|_| FetchError::Body)?;
            let keys = std::str::from_utf8(&body.to_bytes()).ok().and_then(|text| keys_from_jwks(text).ok());
            keys.ok_or(FetchError::NotJwks)
        };
        tokio::time::timeout(FETCH_TIMEOUT, work).await.map_err(|_| FetchError::Timeout)?
    }
}
