//! Where JWT verification keys come from: a JWKS given inline (`JWT_JWKS`)
//! or fetched from `JWT_JWKS_URL` (e.g. a Cognito user pool's
//! `/.well-known/jwks.json`).
//!
//! A fetched JWKS is loaded on first use (never on the cold-start path) and
//! has a lifetime, `JWT_JWKS_TTL_SECONDS` (default 300 s; `0`: fetched once
//! per execution environment). The first request that finds the set older
//! than its lifetime fetches it again before it decides: an identity provider
//! that withdraws a key (`{k1,k2}` → `{k1}`, the answer to a leaked key) or
//! replaces one under the same `kid` is followed within one lifetime. A token
//! naming a `kid` the set lacks also triggers a fetch, at most once a minute.
//! Every fetch has a 2 s limit, and one runs at a time: concurrent requests
//! that need it wait for the fetch in flight and use what it brought. When
//! the endpoint is down, the cached set stays in use (logged once per
//! outage) and unknown keys fail closed.
//!
//! Each key carries a fingerprint ([`KeyId`]); the verified-token cache
//! remembers which key verified each token and uses an entry only while that
//! key is still in the set ([`crate::identity::token_cache`]), so a withdrawn
//! key takes its tokens with it, and a fetch that changes nothing (a random
//! `kid` sent to force one) drops nothing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use jsonwebtoken::DecodingKey;

use crate::error::{AuthFailure, Refusal};
use crate::identity::jwt::{keys_from_jwks, pick_key, KeyId, TokenHead, VerificationKey};

/// Longest wait for the JWKS endpoint.
pub(crate) const FETCH_TIMEOUT: Duration = Duration::from_secs(2);
/// Least time between two fetches caused by unknown keys (and between two
/// attempts while the endpoint is down).
pub(crate) const REFETCH_INTERVAL: Duration = Duration::from_secs(60);
/// `JWT_JWKS_TTL_SECONDS` when unset: five minutes, as the secret's.
pub(crate) const DEFAULT_TTL: Duration = Duration::from_secs(300);
/// The largest `JWT_JWKS_TTL_SECONDS` accepted: a day.
pub(crate) const MAX_TTL_SECONDS: u64 = 86_400;
/// Largest JWKS document accepted.
pub(crate) const MAX_JWKS_BYTES: usize = 256 * 1024;

/// A key set, shared: handing it to a request copies no key material.
pub(crate) type KeySet = Arc<Vec<VerificationKey>>;

/// The configured key source.
#[derive(Debug)]
pub enum KeySource {
    /// No RSA/EC keys (HMAC only).
    None,
    /// `JWT_JWKS`.
    Inline(KeySet),
    /// `JWT_JWKS_URL`.
    Remote(Box<RemoteJwks>),
}

impl KeySource {
    /// The key for a token, fetching the JWKS if it is remote and the key
    /// unknown, with the fingerprint of the key that was picked.
    pub async fn key_for(&self, head: &TokenHead) -> Result<(Arc<DecodingKey>, KeyId), Refusal> {
        match self {
            Self::None => Err(Refusal::Unauthenticated(AuthFailure::TokenAlgorithmNotAllowed)),
            Self::Inline(keys) => pick_key(keys, head)
                .map(|k| (k.shared_key(), k.id()))
                .ok_or(Refusal::Unauthenticated(AuthFailure::TokenUnknownKey)),
            Self::Remote(remote) => remote.key_for(head).await,
        }
    }

    /// The key set in force, refreshed first when it is older than its
    /// lifetime. `None` when no key set was loaded yet (or none is configured):
    /// then no token verified with a JWKS key can be cached either.
    pub async fn current(&self) -> Option<KeySet> {
        match self {
            Self::None => None,
            Self::Inline(keys) => Some(keys.clone()),
            Self::Remote(remote) => remote.current().await,
        }
    }
}

/// A JWKS fetched over HTTP(S) and cached.
pub struct RemoteJwks {
    url: http::Uri,
    /// `None`: fetched once per environment (and on unknown keys).
    ttl: Option<Duration>,
    refetch_interval: Duration,
    state: Mutex<CacheState>,
    /// Held for the whole of a fetch: requests that need one queue here and
    /// look at the keys again once the fetch in flight has ended.
    fetching: tokio::sync::Mutex<()>,
    /// Set while fetches fail, so an outage is logged once.
    down: AtomicBool,
}

impl std::fmt::Debug for RemoteJwks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteJwks").field("url", &self.url).field("ttl", &self.ttl).finish_non_exhaustive()
    }
}

#[derive(Default)]
struct CacheState {
    keys: KeySet,
    /// When the set in use was last confirmed by a successful fetch.
    fetched: Option<Instant>,
    /// When the last fetch started (successful or not).
    attempted: Option<Instant>,
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

impl RemoteJwks {
    /// A cache for the JWKS at `url`: `https://…`, or `http://` to a loopback
    /// host (local runs and tests); its lifetime is [`DEFAULT_TTL`].
    pub fn new(url: &str) -> Result<Self, &'static str> {
        let uri: http::Uri = url.parse().map_err(|_| "is not a URL")?;
        if !crate::support::https::https_or_loopback(&uri) {
            return Err("must be an https:// URL (http:// only to 127.0.0.1 or localhost)");
        }
        Ok(Self {
            url: uri,
            ttl: Some(DEFAULT_TTL),
            refetch_interval: REFETCH_INTERVAL,
            state: Mutex::new(CacheState::default()),
            fetching: tokio::sync::Mutex::new(()),
            down: AtomicBool::new(false),
        })
    }

    /// The same with another lifetime (`None`: fetched once per environment).
    pub fn with_ttl(mut self, ttl: Option<Duration>) -> Self {
        self.ttl = ttl;
        self
    }

    /// The same with another least time between fetches (tests use zero).
    pub fn with_refetch_interval(mut self, interval: Duration) -> Self {
        self.refetch_interval = interval;
        self
    }

    fn state(&self) -> std::sync::MutexGuard<'_, CacheState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether the last attempt is far enough back for another one.
    fn may_attempt(&self, state: &CacheState, interval: Duration) -> bool {
        state.attempted.is_none_or(|at| at.elapsed() >= interval)
    }

    /// Whether the loaded set has outlived its lifetime and may be fetched
    /// again now (after a failed attempt, at most once per
    /// [`REFETCH_INTERVAL`] or lifetime, whichever is shorter).
    fn stale(&self, state: &CacheState) -> bool {
        match (self.ttl, state.fetched) {
            (Some(ttl), Some(fetched)) => {
                fetched.elapsed() >= ttl && self.may_attempt(state, ttl.min(self.refetch_interval))
            }
            _ => false,
        }
    }

    /// The set in force, refreshed first when stale; `None` before the first
    /// successful fetch.
    pub(crate) async fn current(&self) -> Option<KeySet> {
        {
            let state = self.state();
            state.fetched?;
            if !self.stale(&state) {
                return Some(state.keys.clone());
            }
        }
        let _fetching = self.fetching.lock().await;
        if self.stale(&self.state()) {
            // A failed refresh keeps the cached set in use (logged in `fetch_now`).
            let _ = self.fetch_now().await;
        }
        Some(self.state().keys.clone())
    }

    /// The key for a token: from the set in force, else (at most once per
    /// interval) from a fresh fetch.
    pub async fn key_for(&self, head: &TokenHead) -> Result<(Arc<DecodingKey>, KeyId), Refusal> {
        let found = |keys: &KeySet| pick_key(keys, head).map(|k| (k.shared_key(), k.id()));
        if let Some(key) = self.current().await.as_ref().and_then(found) {
            return Ok(key);
        }
        // One fetch at a time; whoever waited here sees what it brought.
        let _fetching = self.fetching.lock().await;
        let may_fetch = {
            let state = self.state();
            if let Some(key) = found(&state.keys) {
                return Ok(key);
            }
            self.may_attempt(&state, self.refetch_interval)
        };
        if !may_fetch {
            tracing::warn!(
                reason = AuthFailure::TokenUnknownKey.as_str(),
                kid = head.kid.as_deref().unwrap_or(""),
                "unknown JWKS key; next fetch allowed within a minute"
            );
            return Err(Refusal::Unauthenticated(AuthFailure::TokenUnknownKey));
        }
        match self.fetch_now().await {
            Ok(keys) => found(&keys).ok_or_else(|| {
                tracing::warn!(
                    reason = AuthFailure::TokenUnknownKey.as_str(),
                    kid = head.kid.as_deref().unwrap_or(""),
                    "no key of the fetched JWKS fits the token"
                );
                Refusal::Unauthenticated(AuthFailure::TokenUnknownKey)
            }),
            Err(()) => Err(Refusal::Unauthenticated(AuthFailure::JwksUnavailable)),
        }
    }

    /// Fetches the set now (the caller holds `fetching`) and puts it in force;
    /// a set with the same keys as the one in force keeps it. On failure the
    /// cached set stays, and the outage is logged once.
    async fn fetch_now(&self) -> Result<KeySet, ()> {
        self.state().attempted = Some(Instant::now());
        let started = Instant::now();
        match self.fetch().await {
            Ok(fresh) => {
                if self.down.swap(false, Ordering::AcqRel) {
                    tracing::info!("JWKS reachable again");
                }
                let mut state = self.state();
                let changed = !same_keys(&state.keys, &fresh);
                if changed || state.fetched.is_none() {
                    tracing::info!(
                        keys = fresh.len() as u64,
                        changed,
                        duration_ms = started.elapsed().as_millis() as u64,
                        "JWKS fetched"
                    );
                }
                if changed {
                    state.keys = Arc::new(fresh);
                }
                state.fetched = Some(Instant::now());
                Ok(state.keys.clone())
            }
            Err(error) => {
                if !self.down.swap(true, Ordering::AcqRel) {
                    tracing::warn!(
                        error = ?error,
                        duration_ms = started.elapsed().as_millis() as u64,
                        "JWKS fetch failed; cached keys stay in use, unknown keys are refused (logged once until it recovers)"
                    );
                }
                Err(())
            }
        }
    }

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
            let text = String::from_utf8(body.to_bytes().to_vec()).map_err(|_| FetchError::NotJwks)?;
            keys_from_jwks(&text).map_err(|_| FetchError::NotJwks)
        };
        tokio::time::timeout(FETCH_TIMEOUT, work).await.map_err(|_| FetchError::Timeout)?
    }
}

/// Whether two sets hold the same keys (by fingerprint, in any order).
fn same_keys(a: &[VerificationKey], b: &[VerificationKey]) -> bool {
    let ids = |keys: &[VerificationKey]| {
        let mut ids: Vec<KeyId> = keys.iter().map(VerificationKey::id).collect();
        ids.sort_unstable();
        ids
    };
    ids(a) == ids(b)
}
