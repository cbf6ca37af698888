//! Where the app secret comes from: `PUSHER_SECRET` in the environment, or a
//! Secrets Manager secret named by `PUSHER_SECRET_ID` (in the environment, or
//! per stage as a stage variable).
//!
//! A stored secret is read on first use by a request that needs a signature
//! (never during the cold start, never for a refused request), then cached
//! per id and refreshed after `PUSHER_SECRET_TTL_SECONDS` (see
//! [`Secrets`]), so a rotated secret is in use within one TTL without a
//! redeploy: the warm path is a lookup in a short list. Failures are not
//! cached, so a secret created or fixed later is picked up by the next request.
//!
//! The secret's `SecretString` is either the app secret itself or JSON:
//! `{"secret":"…","encryptionMasterKeyBase64":"…"}` (the second key enables
//! `private-encrypted-` channels).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;

pub(crate) use crate::config::AppSecrets;
use crate::config::{SecretFormatError, SecretSource, DEFAULT_SECRET_TTL};
use crate::error::{Misconfig, Refusal};
use crate::support::refresh::{Refreshing, Report};

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct StoredJson {
    secret: String,
    encryption_master_key_base64: Option<String>,
}

/// Parses a stored `SecretString`: the plain secret, or the JSON form.
fn parse_stored(text: &str) -> Result<AppSecrets, SecretFormatError> {
    if !text.trim_start().starts_with('{') {
        return AppSecrets::new(text, None);
    }
    let stored: StoredJson = serde_json::from_str(text).map_err(|_| SecretFormatError::BadJson)?;
    AppSecrets::new(&stored.secret, stored.encryption_master_key_base64.as_deref())
}

/// What [`SecretStore::secret_string`] returns: the value, or why it could
/// not be read (a missing, forbidden or binary secret; the store unavailable).
pub(crate) type StoreFuture<'a> = Pin<Box<dyn Future<Output = Result<String, Refusal>> + Send + 'a>>;

/// Where stored secrets are read: Secrets Manager (`aws::secrets_manager`
/// implements this), or a stand-in in tests. Called only on a cache miss.
pub trait SecretStore: Send + Sync + std::fmt::Debug {
    /// The `SecretString` of the secret `id`.
    fn secret_string<'a>(&'a self, id: &'a str) -> StoreFuture<'a>;
}

/// The configured secret source, with the stored secrets read so far, by id,
/// each a [`Refreshing`] value: read on first use (requests arriving meanwhile
/// share that read's outcome; failures are not kept), refreshed once older
/// than the TTL while other requests keep the cached value, and kept when a
/// refresh fails (logged once per outage, the next try one TTL later).
#[derive(Debug)]
pub(crate) struct Secrets {
    /// The environment's secret, or the id of the stored one.
    source: SecretSource,
    /// The client, when AWS credentials and a region are set.
    store: Option<Arc<dyn SecretStore>>,
    ttl: Option<Duration>,
    slots: Mutex<Vec<(String, Arc<Slot>)>>,
}

/// One secret id's value.
type Slot = Refreshing<AppSecrets, Refusal>;

impl Secrets {
    /// The configured source with its cache: stored secrets (the
    /// environment's, or a stage's) are read from `store` and refreshed
    /// after `ttl` (`None`: never).
    pub(crate) fn new(source: SecretSource, ttl: Option<Duration>, store: Option<Arc<dyn SecretStore>>) -> Self {
        Self { source, store, ttl, slots: Mutex::default() }
    }

    /// The fixed secret, if there is one.
    pub(crate) fn fixed_secrets(&self) -> Option<&AppSecrets> {
        let SecretSource::Fixed(secrets) = &self.source else { return None };
        Some(secrets)
    }

    /// The secrets for a request: the stage's `PUSHER_SECRET_ID` if it names
    /// one, else the environment's.
    pub(crate) async fn get(&self, stage_id: Option<&str>) -> Result<Arc<AppSecrets>, Refusal> {
        let id = match (stage_id, &self.source) {
            (Some(id), _) => id,
            (None, SecretSource::Stored(id)) => id.as_str(),
            (None, SecretSource::Fixed(secrets)) => return Ok(secrets.clone()),
        };
        let store = self.store.as_deref().ok_or(Refusal::Misconfigured(Misconfig::SecretIdWithoutAws))?;
        self.slot(id).get(|| read(id, store), |outcome| report(id, outcome)).await
    }

    fn slot(&self, id: &str) -> Arc<Slot> {
        let mut slots = self.slots.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((_, slot)) = slots.iter().find(|(known, _)| known == id) {
            return slot.clone();
        }
        // A failed refresh is tried again one TTL later.
        let slot = Arc::new(Refreshing::new(self.ttl, self.ttl.unwrap_or(DEFAULT_SECRET_TTL)));
        slots.push((id.to_owned(), slot.clone()));
        slot
    }
}

/// Logs what happened to the stored secret `id` (never its value).
fn report(id: &str, report: Report<'_, Refusal>) {
    match report {
        Report::Loaded => tracing::info!(secret_id = id, "Pusher secret read from Secrets Manager"),
        Report::LoadFailed(refusal) => {
            tracing::error!(secret_id = id, reason = refusal.log_reason(), "cannot read the Pusher secret")
        }
        Report::Refreshed { recovered: true } => {
            tracing::info!(secret_id = id, "Pusher secret refreshed: Secrets Manager answers again")
        }
        Report::Refreshed { recovered: false } => tracing::debug!(secret_id = id, "Pusher secret refreshed"),
        Report::RefreshFailed { error, first: true } => tracing::warn!(
            secret_id = id,
            reason = error.log_reason(),
            "cannot refresh the Pusher secret; the cached value keeps serving until a refresh succeeds"
        ),
        Report::RefreshFailed { first: false, .. } => {}
    }
}

/// One read of the secret `id`, parsed; logs only what makes a stored value
/// unusable (never the value).
async fn read(id: &str, source: &dyn SecretStore) -> Result<AppSecrets, Refusal> {
    let text = source.secret_string(id).await?;
    parse_stored(&text).map_err(|problem| {
        tracing::error!(secret_id = id, problem = ?problem, "the stored Pusher secret is not usable");
        Refusal::Misconfigured(Misconfig::SecretInvalid)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Outage;
    use std::sync::atomic::{AtomicU64, Ordering};

    #[test]
    fn stored_formats() {
        assert!(parse_stored("7ad3773142a6692b25b8").unwrap().master_key.is_none());
        let key = "ZGVtby1tYXN0ZXIta2V5LWZvci1sb2NhbC1ydW5zISE=";
        let json = format!(r#"{{"secret":"7ad3773142a6692b25b8","encryptionMasterKeyBase64":"{key}"}}"#);
        assert!(parse_stored(&json).unwrap().master_key.is_some());
        assert!(parse_stored(r#"{"secret":"abc"}"#).unwrap().master_key.is_none());
        assert_eq!(parse_stored("").unwrap_err(), SecretFormatError::BadSecret);
        assert_eq!(parse_stored(" abc\n").unwrap_err(), SecretFormatError::BadSecret);
        assert_eq!(parse_stored(r#"{"key":"abc"}"#).unwrap_err(), SecretFormatError::BadJson);
        assert_eq!(parse_stored(r#"{"secret":"abc","extra":1}"#).unwrap_err(), SecretFormatError::BadJson);
        let short = r#"{"secret":"abc","encryptionMasterKeyBase64":"c2hvcnQ="}"#;
        assert_eq!(parse_stored(short).unwrap_err(), SecretFormatError::BadMasterKey);
    }

    const NOT_FOUND: Refusal = Refusal::Misconfigured(Misconfig::SecretNotFound);
    const DENIED: Refusal = Refusal::Misconfigured(Misconfig::SecretAccessDenied);
    const UNAVAILABLE: Refusal = Refusal::Unavailable(Outage::SecretStore);

    /// Secrets in memory; each read is counted and waits while the gate is closed.
    #[derive(Debug)]
    struct Memory {
        value: Mutex<Result<String, Refusal>>,
        gate: tokio::sync::watch::Sender<bool>,
        reads: AtomicU64,
    }

    impl Memory {
        fn new(value: Result<&str, Refusal>) -> Arc<Self> {
            Arc::new(Self {
                value: Mutex::new(value.map(str::to_owned)),
                gate: tokio::sync::watch::Sender::new(true),
                reads: AtomicU64::new(0),
            })
        }

        fn set(&self, value: Result<&str, Refusal>) {
            *self.value.lock().unwrap() = value.map(str::to_owned);
        }

        fn reads(&self) -> u64 {
            self.reads.load(Ordering::SeqCst)
        }

        /// Closes the gate: reads wait until [`Memory::open`].
        fn close(&self) {
            self.gate.send_replace(false);
        }

        fn open(&self) {
            self.gate.send_replace(true);
        }
    }

    impl SecretStore for Arc<Memory> {
        fn secret_string<'a>(&'a self, _id: &'a str) -> StoreFuture<'a> {
            Box::pin(async move {
                self.reads.fetch_add(1, Ordering::SeqCst);
                self.gate.subscribe().wait_for(|open| *open).await.unwrap();
                self.value.lock().unwrap().clone()
            })
        }
    }

    /// Stored secrets read from `store`, refreshed after `ttl`.
    fn stored(ttl: Option<Duration>, store: &Arc<Memory>) -> Secrets {
        Secrets::new(SecretSource::Stored("unused".into()), ttl, Some(Arc::new(store.clone())))
    }

    fn hmac_of(secrets: &AppSecrets) -> String {
        let socket = crate::pusher::names::SocketId::parse("1.2").unwrap();
        secrets.secret.channel_auth("k", socket, crate::pusher::names::ChannelName::parse("private-a").unwrap())
    }

    fn expected(secret: &str) -> String {
        hmac_of(&parse_stored(secret).unwrap())
    }

    #[tokio::test]
    async fn hits_misses_and_failures_not_cached() {
        let store = Memory::new(Err(NOT_FOUND));
        let cache = stored(None, &store);
        assert_eq!(cache.get(Some("a")).await.unwrap_err(), Refusal::Misconfigured(Misconfig::SecretNotFound));
        assert_eq!(cache.get(Some("a")).await.unwrap_err(), Refusal::Misconfigured(Misconfig::SecretNotFound));
        assert_eq!(store.reads(), 2, "a failure is not kept");
        store.set(Ok("first-secret"));
        assert_eq!(hmac_of(&cache.get(Some("a")).await.unwrap()), expected("first-secret"));
        store.set(Ok("second-secret"));
        assert_eq!(hmac_of(&cache.get(Some("a")).await.unwrap()), expected("first-secret"), "a hit");
        assert_eq!(store.reads(), 3);
        // Another id is another entry.
        assert_eq!(hmac_of(&cache.get(Some("b")).await.unwrap()), expected("second-secret"));
        assert_eq!(store.reads(), 4);
        // An unusable value is refused, and not kept either.
        store.set(Ok(" padded\n"));
        assert_eq!(cache.get(Some("c")).await.unwrap_err(), Refusal::Misconfigured(Misconfig::SecretInvalid));
        store.set(Err(UNAVAILABLE));
        assert_eq!(cache.get(Some("c")).await.unwrap_err(), Refusal::Unavailable(Outage::SecretStore));
        assert_eq!(store.reads(), 6);
    }

    /// Runs `n` concurrent gets of "a"; returns their tasks and a count of those finished.
    fn spawn_gets(
        cache: &Arc<Secrets>,
        n: usize,
    ) -> (tokio::task::JoinSet<Result<Arc<AppSecrets>, Refusal>>, Arc<AtomicU64>) {
        let done = Arc::new(AtomicU64::new(0));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..n {
            let (cache, done) = (cache.clone(), done.clone());
            tasks.spawn(async move {
                let out = cache.get(Some("a")).await;
                done.fetch_add(1, Ordering::SeqCst);
                out
            });
        }
        (tasks, done)
    }

    /// Lets the spawned tasks run until they are all finished or all waiting.
    async fn settle() {
        for _ in 0..1000 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn one_read_at_a_time_per_id() {
        // First use: 50 concurrent requests, one read, all served by it.
        let store = Memory::new(Ok("first-secret"));
        let cache = Arc::new(stored(Some(Duration::ZERO), &store));
        store.close();
        let (tasks, done) = spawn_gets(&cache, 50);
        settle().await;
        assert_eq!((store.reads(), done.load(Ordering::SeqCst)), (1, 0), "all wait for the one read");
        store.open();
        for out in tasks.join_all().await {
            assert_eq!(hmac_of(&out.unwrap()), expected("first-secret"));
        }
        assert_eq!(store.reads(), 1);

        // Due for a refresh (a TTL of zero): one request refreshes, the 49
        // others are served the cached value without waiting for it.
        store.set(Ok("second-secret"));
        store.close();
        let (tasks, done) = spawn_gets(&cache, 50);
        settle().await;
        assert_eq!((store.reads(), done.load(Ordering::SeqCst)), (2, 49));
        store.open();
        let answers: Vec<String> = tasks.join_all().await.into_iter().map(|out| hmac_of(&out.unwrap())).collect();
        assert_eq!(answers.iter().filter(|a| **a == expected("first-secret")).count(), 49);
        assert_eq!(answers.iter().filter(|a| **a == expected("second-secret")).count(), 1);
        assert_eq!(hmac_of(&cache.get(Some("a")).await.unwrap()), expected("second-secret"));
        assert_eq!(store.reads(), 3);

        // A failing first read is shared by those waiting for it, then tried again.
        let (tasks, _) = {
            store.set(Err(UNAVAILABLE));
            let cache = Arc::new(stored(None, &store));
            store.close();
            let spawned = spawn_gets(&cache, 20);
            settle().await;
            store.open();
            spawned
        };
        for out in tasks.join_all().await {
            assert_eq!(out.unwrap_err(), Refusal::Unavailable(Outage::SecretStore));
        }
        assert_eq!(store.reads(), 4);
    }

    #[tokio::test]
    async fn failed_refreshes_keep_the_cached_value_and_log_once() {
        let store = Memory::new(Ok("first-secret"));
        let cache = stored(Some(Duration::ZERO), &store);
        let captured = crate::support::logging::captured::Captured::default();
        let _log = tracing::subscriber::set_default(captured.subscriber(tracing::Level::INFO));
        assert_eq!(hmac_of(&cache.get(Some("a")).await.unwrap()), expected("first-secret"));
        for failure in [UNAVAILABLE, DENIED, UNAVAILABLE] {
            store.set(Err(failure));
            assert_eq!(hmac_of(&cache.get(Some("a")).await.unwrap()), expected("first-secret"));
        }
        store.set(Ok(" unusable\n"));
        assert_eq!(hmac_of(&cache.get(Some("a")).await.unwrap()), expected("first-secret"));
        assert_eq!(store.reads(), 5, "each due request tries");
        let log = captured.text();
        assert_eq!(log.matches("cannot refresh the Pusher secret").count(), 1, "{log}");
        assert!(log.contains("secret_unavailable") && !log.contains("unusable"), "{log}");
        store.set(Ok("second-secret"));
        assert_eq!(hmac_of(&cache.get(Some("a")).await.unwrap()), expected("second-secret"));
        let log = captured.text();
        assert_eq!(log.matches("Secrets Manager answers again").count(), 1, "{log}");
        // A second outage is logged again, once.
        store.set(Err(UNAVAILABLE));
        for _ in 0..3 {
            assert_eq!(hmac_of(&cache.get(Some("a")).await.unwrap()), expected("second-secret"));
        }
        assert_eq!(captured.text().matches("cannot refresh the Pusher secret").count(), 2);
    }

    #[tokio::test]
    async fn fixed_secret_without_a_store() {
        let secrets = Secrets::new(SecretSource::Fixed(Arc::new(AppSecrets::new("abc", None).unwrap())), None, None);
        assert!(secrets.get(None).await.is_ok());
        assert_eq!(
            secrets.get(Some("pusher/staging")).await.unwrap_err(),
            Refusal::Misconfigured(Misconfig::SecretIdWithoutAws)
        );
    }

    #[test]
    fn debug_redacts_both_secrets() {
        let key = "ZGVtby1tYXN0ZXIta2V5LWZvci1sb2NhbC1ydW5zISE=";
        let json = format!(r#"{{"secret":"7ad3773142a6692b25b8","encryptionMasterKeyBase64":"{key}"}}"#);
        let shown = format!("{:?}", parse_stored(&json).unwrap());
        assert!(!shown.contains("7ad3773142a6692b25b8") && !shown.contains(key), "{shown}");
        assert!(!shown.contains("demo") && !shown.contains("100, 101, 109, 111"), "{shown}");
        assert_eq!(shown.matches("<redacted>").count(), 2, "{shown}");
        assert!(shown.contains("AppSecret(<redacted>)") && shown.contains("MasterKey(<redacted>)"), "{shown}");
    }
}
