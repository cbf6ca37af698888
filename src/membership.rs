//! Channel membership from the app's data: a `?member` rule (see
//! [`crate::policy`]) signs a channel only when the membership table
//! (`MEMBERSHIP_TABLE`) holds an item for (channel, user). The table is read
//! through a [`MembershipStore`] (`aws::dynamodb` implements it; `main` hands
//! it to the endpoint), one call per request: the channels of a batch that
//! the cache does not answer go in one lookup.
//!
//! **Cached, with a bound on revocation.** A found item is kept for
//! `MEMBERSHIP_TTL_SECONDS` (60 s by default), an absent one for
//! `MEMBERSHIP_NEGATIVE_TTL_SECONDS` (10 s): a member removed from the table
//! keeps access for at most the first, one added waits at most the second.
//! At most [`CAPACITY`] entries; when full of live entries it starts afresh.
//!
//! **Fail closed.** Any failure of the table (error, throttling after the
//! retries, timeout, an answer that cannot be read, keys left unprocessed)
//! refuses the channels it left undecided with `membership_unavailable`
//! (503), logged once per outage; failures are never cached, and nothing is
//! signed without a found item.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::{Map, Value};

use crate::config::MembershipOptions;
use crate::error::{Outage, Refusal};
use crate::identity::user_info::MAX_USER_INFO_BYTES;

/// A found item's `user_info` map (empty when it has none), as plain JSON.
pub(crate) type Item = Map<String, Value>;

/// What [`MembershipStore::items`] returns: for each channel asked, in
/// order, the item found or `None`; or why the table could not answer.
pub(crate) type ItemsFuture<'a> = Pin<Box<dyn Future<Output = Result<Vec<Option<Item>>, String>> + Send + 'a>>;

/// Where membership items are read: DynamoDB, or a stand-in in tests.
pub trait MembershipStore: Send + Sync + std::fmt::Debug {
    /// The items of `user` for `channels` (distinct, at most 25) in `table`.
    fn items<'a>(&'a self, table: &'a str, user: &'a str, channels: &'a [&'a str], consistent: bool)
        -> ItemsFuture<'a>;
}

/// Most entries the cache holds (a few hundred bytes each).
pub(crate) const CAPACITY: usize = 4096;

/// One cached answer: until when, and the item (`None`: absent).
type Entry = (Instant, Option<Arc<Item>>);

/// The membership check: the store, its options and the cache.
#[derive(Debug)]
pub(crate) struct Membership {
    /// The table's client (see `Endpoint::with_membership_store`).
    pub(crate) store: Option<Arc<dyn MembershipStore>>,
    options: MembershipOptions,
    /// By `table \n channel \n user` (none of the three holds a newline).
    cache: Mutex<HashMap<String, Entry>>,
    /// Whether the last lookup failed (an outage is logged once).
    down: AtomicBool,
}

impl Membership {
    pub(crate) fn new(options: MembershipOptions, store: Option<Arc<dyn MembershipStore>>) -> Self {
        Self { store, options, cache: Mutex::default(), down: AtomicBool::new(false) }
    }

    /// For each of `channels` (distinct), the item of `user` in `table`, or
    /// why not: [`Refusal::NotAMember`], or the table's outage.
    pub(crate) async fn check(
        &self,
        table: Option<&str>,
        user: &str,
        channels: &[&str],
    ) -> Vec<Result<Arc<Item>, Refusal>> {
        const UNAVAILABLE: Refusal = Refusal::Unavailable(Outage::Membership);
        let (Some(table), Some(store)) = (table, &self.store) else { return vec![Err(UNAVAILABLE); channels.len()] };
        let key = |channel: &str| format!("{table}\n{channel}\n{user}");
        let now = Instant::now();
        let mut answers: Vec<Option<Option<Arc<Item>>>> = {
            let cache = self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let hit = |c: &&str| cache.get(&key(c)).filter(|(until, _)| *until > now).map(|(_, item)| item.clone());
            channels.iter().map(hit).collect()
        };
        let misses: Vec<&str> = channels.iter().zip(&answers).filter(|(_, a)| a.is_none()).map(|(c, _)| *c).collect();
        if !misses.is_empty() {
            let found = store.items(table, user, &misses, self.options.consistent_read).await.and_then(|found| {
                (found.len() == misses.len()).then_some(found).ok_or_else(|| "an answer for other channels".to_owned())
            });
            self.note(table, found.as_ref().err());
            // What the table answered, each cached for its lifetime.
            let mut cache = self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let unanswered = channels.iter().zip(&mut answers).filter(|(_, a)| a.is_none());
            for ((channel, answer), item) in unanswered.zip(found.into_iter().flatten()) {
                let item = item.map(Arc::new);
                let ttl = if item.is_some() { self.options.found_ttl } else { self.options.absent_ttl };
                if !ttl.is_zero() {
                    if cache.len() >= CAPACITY {
                        cache.retain(|_, (until, _)| *until > now);
                    }
                    if cache.len() >= CAPACITY {
                        cache.clear();
                    }
                    cache.insert(key(channel), (now + ttl, item.clone()));
                }
                *answer = Some(item);
            }
        }
        answers.into_iter().map(|a| a.ok_or(UNAVAILABLE)?.ok_or(Refusal::NotAMember)).collect()
    }

    /// Logs the first failure of an outage (`problem`), and the first answer after one.
    fn note(&self, table: &str, problem: Option<&String>) {
        match (self.down.swap(problem.is_some(), Ordering::Relaxed), problem) {
            (false, Some(problem)) => {
                tracing::error!(table, problem, reason = "membership_unavailable", "cannot read the membership table");
            }
            (true, None) => tracing::info!(table, "the membership table answers again"),
            _ => {}
        }
    }
}

/// Presence `channel_data` with the item's `user_info` merged in: a field
/// the claims (`USER_INFO_CLAIMS`) already set keeps the claim's value; the
/// item adds the others. Refused above Pusher's 1 KB, as claims alone are.
/// Without an item (a channel no `?member` rule granted), unchanged.
pub(crate) fn merge_user_info(channel_data: String, item: Option<&Item>) -> Result<String, Refusal> {
    let Some(item) = item.filter(|item| !item.is_empty()) else { return Ok(channel_data) };
    let mut data: Map<String, Value> = serde_json::from_str(&channel_data).expect("channel_data is a JSON object");
    if let Value::Object(info) = data.entry("user_info").or_insert_with(|| Value::Object(Map::new())) {
        for (name, value) in item {
            info.entry(name.clone()).or_insert_with(|| value.clone());
        }
    }
    if serde_json::to_string(&data["user_info"]).map_or(0, |s| s.len()) > MAX_USER_INFO_BYTES {
        return Err(Refusal::UserInfoTooLarge);
    }
    Ok(serde_json::to_string(&data).expect("JSON values serialize"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    /// A table in memory: `(channel, user) → user_info`, failing while `down`.
    #[derive(Debug, Default)]
    struct Memory {
        items: Mutex<HashMap<(String, String), Item>>,
        down: AtomicBool,
        calls: AtomicUsize,
        /// Answers one item more than asked (a store gone wrong).
        extra: AtomicBool,
    }

    impl MembershipStore for Memory {
        fn items<'a>(&'a self, _: &'a str, user: &'a str, channels: &'a [&'a str], _: bool) -> ItemsFuture<'a> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let items = self.items.lock().unwrap();
            let mut found: Vec<_> =
                channels.iter().map(|c| items.get(&(c.to_string(), user.to_owned())).cloned()).collect();
            if self.extra.load(Ordering::SeqCst) {
                found.insert(0, Some(Item::new()));
            }
            let answer =
                if self.down.load(Ordering::SeqCst) { Err("503 ServiceUnavailable".into()) } else { Ok(found) };
            Box::pin(async move { answer })
        }
    }

    fn membership(found_ttl: u64, absent_ttl: u64) -> (Membership, Arc<Memory>) {
        let store = Arc::new(Memory::default());
        let options = MembershipOptions {
            found_ttl: Duration::from_millis(found_ttl),
            absent_ttl: Duration::from_millis(absent_ttl),
            consistent_read: false,
        };
        (Membership::new(options, Some(store.clone() as Arc<dyn MembershipStore>)), store)
    }

    fn verdicts(answers: Vec<Result<Arc<Item>, Refusal>>) -> Vec<Result<(), Refusal>> {
        answers.into_iter().map(|a| a.map(|_| ())).collect()
    }

    #[tokio::test]
    async fn cached_for_their_lifetimes_failures_never() {
        let (m, store) = membership(200, 50);
        store.items.lock().unwrap().insert(("a".into(), "u".into()), Item::new());
        let check = |channels: &'static [&'static str]| m.check(Some("t"), "u", channels);
        assert_eq!(verdicts(check(&["a", "b"]).await), [Ok(()), Err(Refusal::NotAMember)]);
        assert_eq!(verdicts(check(&["a", "b"]).await), [Ok(()), Err(Refusal::NotAMember)]);
        assert_eq!(store.calls.load(Ordering::SeqCst), 1, "the second check is a hit");
        // Removed and added: each is seen once its answer's lifetime has passed.
        store.items.lock().unwrap().clear();
        store.items.lock().unwrap().insert(("b".into(), "u".into()), Item::new());
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(verdicts(check(&["a", "b"]).await), [Ok(()), Ok(())], "a still cached, b asked again");
        tokio::time::sleep(Duration::from_millis(150)).await;
        store.down.store(true, Ordering::SeqCst);
        let unavailable = Err(Refusal::Unavailable(Outage::Membership));
        assert_eq!(verdicts(check(&["a"]).await), [unavailable], "never signed on a failure");
        assert_eq!(verdicts(check(&["a"]).await), [unavailable], "failures are not cached");
        store.down.store(false, Ordering::SeqCst);
        assert_eq!(verdicts(check(&["a", "b"]).await), [Err(Refusal::NotAMember), Ok(())]);
        // No table, or no store: nothing is signed.
        assert_eq!(verdicts(m.check(None, "u", &["b"]).await), [unavailable]);
        let without = Membership::new(m.options, None);
        assert_eq!(verdicts(without.check(Some("t"), "u", &["b"]).await), [unavailable]);
    }

    #[tokio::test]
    async fn the_cache_is_bounded() {
        let (m, _) = membership(60_000, 60_000);
        for i in 0..CAPACITY + 10 {
            m.check(Some("t"), &format!("user-{i}"), &["a"]).await;
            assert!(m.cache.lock().unwrap().len() <= CAPACITY);
        }
    }

    /// At its bound the cache first drops the answers whose lifetime has passed, and keeps
    /// the others; it empties only when none has.
    #[tokio::test]
    async fn the_cache_sweeps_expired_answers_before_it_empties() {
        let (m, store) = membership(60_000, 30);
        store.items.lock().unwrap().insert(("a".into(), "keeper".into()), Item::new());
        assert_eq!(verdicts(m.check(Some("t"), "keeper", &["a"]).await), [Ok(())]);
        for i in 1..CAPACITY {
            m.check(Some("t"), &format!("user-{i}"), &["a"]).await;
        }
        assert_eq!(m.cache.lock().unwrap().len(), CAPACITY);
        tokio::time::sleep(Duration::from_millis(40)).await;
        m.check(Some("t"), "one-more", &["a"]).await;
        let calls = store.calls.load(Ordering::SeqCst);
        assert_eq!(verdicts(m.check(Some("t"), "keeper", &["a"]).await), [Ok(())]);
        assert_eq!(store.calls.load(Ordering::SeqCst), calls, "the found answer outlived the sweep");
        assert_eq!(m.cache.lock().unwrap().len(), 2, "the expired absent answers went");
    }

    /// A store that answers for other channels than asked is a failure: nothing is
    /// signed from it or kept, and it is logged; the next good answer is logged as recovery.
    #[tokio::test]
    async fn an_answer_of_the_wrong_length_is_a_failure() {
        let (m, store) = membership(60_000, 60_000);
        let captured = crate::support::logging::captured::Captured::default();
        let _log = tracing::subscriber::set_default(captured.subscriber(tracing::Level::INFO));
        store.items.lock().unwrap().insert(("a".into(), "u".into()), Item::new());
        store.extra.store(true, Ordering::SeqCst);
        let unavailable = Err(Refusal::Unavailable(Outage::Membership));
        assert_eq!(verdicts(m.check(Some("t"), "u", &["b"]).await), [unavailable]);
        assert!(m.cache.lock().unwrap().is_empty());
        assert!(captured.text().contains("an answer for other channels"), "{}", captured.text());
        store.extra.store(false, Ordering::SeqCst);
        assert_eq!(verdicts(m.check(Some("t"), "u", &["a"]).await), [Ok(())]);
        assert!(captured.text().contains("the membership table answers again"), "{}", captured.text());
    }

    #[test]
    fn the_items_user_info_adds_to_the_claims_never_replaces() {
        let base = r#"{"user_id":"u","user_info":{"name":"Ada"}}"#.to_owned();
        let item = json!({"name": "Mallory", "role": "moderator"}).as_object().unwrap().clone();
        let merged = merge_user_info(base.clone(), Some(&item)).unwrap();
        assert_eq!(merged, r#"{"user_id":"u","user_info":{"name":"Ada","role":"moderator"}}"#);
        assert_eq!(merge_user_info(base.clone(), Some(&Item::new())).unwrap(), base, "unchanged without user_info");
        assert_eq!(merge_user_info(base.clone(), None).unwrap(), base, "unchanged without an item");
        let bare = merge_user_info(r#"{"user_id":"u"}"#.into(), Some(&item)).unwrap();
        assert_eq!(bare, r#"{"user_id":"u","user_info":{"name":"Mallory","role":"moderator"}}"#);
        let big = json!({"bio": "x".repeat(MAX_USER_INFO_BYTES)}).as_object().unwrap().clone();
        assert_eq!(merge_user_info(base.clone(), Some(&big)), Err(Refusal::UserInfoTooLarge));
        // `{"name":"Ada","bio":""}` is 23 bytes: exactly 1 KB is signed, one byte more refused.
        let bio = |len: usize| json!({"bio": "x".repeat(len)}).as_object().unwrap().clone();
        let at_limit = merge_user_info(base.clone(), Some(&bio(MAX_USER_INFO_BYTES - 23))).unwrap();
        assert_eq!(at_limit.len(), r#"{"user_id":"u","user_info":}"#.len() + MAX_USER_INFO_BYTES);
        assert_eq!(merge_user_info(base, Some(&bio(MAX_USER_INFO_BYTES - 22))), Err(Refusal::UserInfoTooLarge));
    }
}
