//! Where JWT verification keys come from: a JWKS given inline (`JWT_JWKS`)
//! or fetched from `JWT_JWKS_URL` (e.g. a Cognito user pool's
//! `/.well-known/jwks.json`).
//!
//! A fetched JWKS is loaded on first use (never on the cold-start path),
//! cached for the life of the execution environment, and fetched again only
//! when a token names an unknown `kid`, at most once a minute, with a 2 s
//! limit. One fetch runs at a time: concurrent requests that need a key the
//! cache lacks (the first tokens of a concurrent environment, a rotation)
//! wait for the fetch in flight and use what it brought. When the endpoint is
//! down, cached keys keep working and unknown keys fail closed with a log line.
//!
//! Every fetch that replaces the keys moves the key-set generation
//! ([`KeySource::generation`]) on, which clears the verified-token cache
//! ([`crate::identity::token_cache`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use jsonwebtoken::DecodingKey;

use crate::error::{AuthFailure, Refusal};
use crate::identity::jwt::{keys_from_jwks, pick_key, TokenHead, VerificationKey};

/// Longest wait for the JWKS endpoint.
pub(crate) const FETCH_TIMEOUT: Duration = Duration::from_secs(2);
/// Least time between two fetches.
pub(crate) const REFETCH_INTERVAL: Duration = Duration::from_secs(60);
/// Largest JWKS document accepted.
const MAX_JWKS_BYTES: usize = 256 * 1024;

/// The configured key source.
#[derive(Debug)]
pub enum KeySource {
    /// No RSA/EC keys (HMAC only).
    None,
    /// `JWT_JWKS`.
    Inline(Vec<VerificationKey>),
    /// `JWT_JWKS_URL`.
    Remote(RemoteJwks),
}

impl KeySource {
    /// The key for a token, fetching the JWKS if it is remote and the key unknown.
    pub async fn key_for(&self, head: &TokenHead) -> Result<Arc<DecodingKey>, Refusal> {
        match self {
            Self::None => Err(Refusal::Unauthenticated(AuthFailure::TokenAlgorithmNotAllowed)),
            Self::Inline(keys) => pick_key(keys, head)
                .map(|k| k.shared_key())
                .ok_or(Refusal::Unauthenticated(AuthFailure::TokenUnknownKey)),
            Self::Remote(remote) => remote.key_for(head).await,
        }
    }

    /// Which key set is in use: changes whenever a fetch replaces the keys
    /// (always 0 for keys that never change). Read it before [`Self::key_for`].
    pub fn generation(&self) -> u64 {
        match self {
            Self::None | Self::Inline(_) => 0,
            Self::Remote(remote) => remote.generation(),
        }
    }
}

/// A JWKS fetched over HTTP(S) and cached.
pub struct RemoteJwks {
    url: http::Uri,
    refetch_interval: Duration,
    state: Mutex<CacheState>,
    /// Moves on (under the `state` lock) each time the keys are replaced.
    generation: AtomicU64,
    /// Held for the whole of a fetch: requests that need a key the cache lacks
    /// (concurrent requests at the first token, or during a rotation) queue
    /// here and look at the keys again once the fetch in flight has ended,
    /// instead of being refused because a fetch was "just made".
    fetching: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for RemoteJwks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteJwks").field("url", &self.url).finish_non_exhaustive()
    }
}

#[derive(Default)]
struct CacheState {
    keys: Arc<Vec<VerificationKey>>,
    last_fetch: Option<Instant>,
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
    /// host (local runs and tests).
    pub fn new(url: &str) -> Result<Self, &'static str> {
        let uri: http::Uri = url.parse().map_err(|_| "is not a URL")?;
        let host = uri.host().unwrap_or("");
        match uri.scheme_str() {
            Some("https") => {}
            Some("http") if matches!(host, "127.0.0.1" | "localhost" | "[::1]" | "::1") => {}
            _ => return Err("must be an https:// URL (http:// only to 127.0.0.1 or localhost)"),
        }
        Ok(Self {
            url: uri,
            refetch_interval: REFETCH_INTERVAL,
            state: Mutex::new(CacheState::default()),
            generation: AtomicU64::new(0),
            fetching: tokio::sync::Mutex::new(()),
        })
    }

    /// The same with another least time between fetches (tests use zero).
    pub fn with_refetch_interval(mut self, interval: Duration) -> Self {
        self.refetch_interval = interval;
        self
    }

    /// The cached keys, and whether a fetch is allowed now.
    fn snapshot(&self) -> (Arc<Vec<VerificationKey>>, bool) {
        let state = self.state.lock().expect("jwks cache");
        let may_fetch = state.last_fetch.is_none_or(|at| at.elapsed() >= self.refetch_interval);
        (state.keys.clone(), may_fetch)
    }

    /// How many times the keys were replaced by a fetch.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The key for a token: from the cache, else (at most once per interval)
    /// from a fresh fetch.
    pub async fn key_for(&self, head: &TokenHead) -> Result<Arc<DecodingKey>, Refusal> {
        if let Some(key) = pick_key(&self.snapshot().0, head) {
            return Ok(key.shared_key());
        }
        // One fetch at a time; whoever waited here sees what it brought.
        let _fetching = self.fetching.lock().await;
        let (keys, may_fetch) = self.snapshot();
        if let Some(key) = pick_key(&keys, head) {
            return Ok(key.shared_key());
        }
        if !may_fetch {
            tracing::warn!(
                reason = AuthFailure::TokenUnknownKey.as_str(),
                "unknown JWKS key; next fetch allowed within a minute"
            );
            return Err(Refusal::Unauthenticated(AuthFailure::TokenUnknownKey));
        }
        self.state.lock().expect("jwks cache").last_fetch = Some(Instant::now());
        let started = Instant::now();
        match self.fetch().await {
            Ok(fresh) => {
                tracing::info!(
                    keys = fresh.len() as u64,
                    duration_ms = started.elapsed().as_millis() as u64,
                    "JWKS fetched"
                );
                let fresh = Arc::new(fresh);
                {
                    let mut state = self.state.lock().expect("jwks cache");
                    state.keys = fresh.clone();
                    self.generation.fetch_add(1, Ordering::AcqRel);
                }
                pick_key(&fresh, head)
                    .map(|k| k.shared_key())
                    .ok_or(Refusal::Unauthenticated(AuthFailure::TokenUnknownKey))
            }
            Err(error) => {
                tracing::warn!(
                    error = ?error,
                    duration_ms = started.elapsed().as_millis() as u64,
                    "JWKS fetch failed; cached keys stay in use, unknown keys are refused"
                );
                Err(Refusal::Unauthenticated(AuthFailure::JwksUnavailable))
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
