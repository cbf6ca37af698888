//! Verified-token cache: a token whose signature and claims were fully
//! verified is remembered, per execution environment, so the same token on
//! the next request (a page subscribing to several channels, a reconnect)
//! skips the signature check and the JSON parsing.
//!
//! # Why this is sound (RFC 8725, JSON Web Token Best Current Practices)
//!
//! - **The key is the whole token.** An entry is found by the SHA-256 of the
//!   exact token bytes (header, claims and signature), so a hit means these
//!   very bytes passed every check of [`crate::identity::jwt`] before: the algorithm
//!   allow-list and the refused key-naming headers (§3.1, §3.2), the signature
//!   with a key picked by `kid` and family (§3.1, §3.12), and the claims. A
//!   token differing in any byte, the signature included, is a miss and goes
//!   through the full verification. SHA-256 makes a forged token with the hash
//!   of a cached one infeasible (second preimage).
//! - **Only successes are cached.** An entry is made after a fully successful
//!   verification and nowhere else; a refused token is verified again, and
//!   refused again, each time.
//! - **The rules are those of the verification.** A cache belongs to one
//!   validator, whose claim rules (issuer, audience, algorithms) are fixed for
//!   the execution environment's life, so every entry passed the very rules
//!   of every later lookup.
//! - **Time-bound claims are checked on every hit** against the clock, with
//!   the same leeway as a full verification: `exp` (an expired entry is dropped
//!   and refused as `token_expired`) and `nbf`. An entry is never used after
//!   its token expired, and it goes when the cache is full (expired entries
//!   first).
//! - **An entry lives only as long as its key.** Each entry remembers the
//!   fingerprint of the JWKS key that verified it ([`crate::identity::jwt::KeyId`]),
//!   and a hit needs that key in the set in force (refreshed after its
//!   lifetime, see [`crate::identity::jwks`]): a token verified with a key the
//!   identity provider has withdrawn, or replaced under the same `kid`, is
//!   dropped at its next lookup and verified again in full, which refuses it.
//!   Entries of other keys stay, so a fetch forced with a random `kid` drops
//!   nothing.
//! - **Nothing secret is kept** beyond what the verified token already said:
//!   the digest and the verified [`User`] (id and claims), in memory only,
//!   never logged.
//!
//! # Bound
//!
//! At most [`CAPACITY`] (512) entries. An execution environment serves one
//! request at a time (a few at once under Lambda Managed Instances), and the
//! tokens worth remembering are those of the users active on it within a
//! token's lifetime (Cognito: one hour); 512 covers that with room to spare,
//! while a user's claims (typically well under 1 KB) keep the worst case
//! around half a megabyte, inside the function's memory budget. When full,
//! expired entries are dropped first; if none had expired, the oldest quarter
//! of the insertions (FIFO: a hit does not reorder anything, so it stays a
//! lookup under a mutex), so the walk over every entry comes once per
//! quarter-capacity insertions, not on each. An expired
//! entry that is still held is never used: every hit checks `exp` first.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use sha2::{Digest, Sha256};

use crate::error::{AuthFailure, Refusal};
use crate::identity::jwt::{ClaimRules, KeyId, VerificationKey, Verified};
use crate::identity::user::User;

/// Most entries kept (see the module doc).
pub(crate) const CAPACITY: usize = 512;

/// A token's digest: SHA-256 of its bytes.
pub(crate) type Key = [u8; 32];

/// The digest a token is cached under (computed once per request).
pub(crate) fn digest(token: &str) -> Key {
    Sha256::digest(token.as_bytes()).into()
}

struct Entry {
    verified: Verified,
    /// The JWKS key that verified the token (`None`: `JWT_SECRET`).
    verified_with: Option<KeyId>,
    /// Insertions before this one, for eviction (the lowest goes first).
    inserted: u64,
}

/// The cache; shared by every request of an execution environment.
pub(crate) struct TokenCache {
    capacity: usize,
    /// The entries by token digest, and the insertions so far.
    inner: Mutex<(HashMap<Key, Entry>, u64)>,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache").field("capacity", &self.capacity).field("len", &self.len()).finish()
    }
}

impl TokenCache {
    /// A cache of at most `capacity` entries (at least one).
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Self { capacity: capacity.max(1), inner: Mutex::default() }
    }

    fn lock(&self) -> MutexGuard<'_, (HashMap<Key, Entry>, u64)> {
        // A panic while holding the lock leaves nothing half-done that
        // matters (worst case an entry is missing): keep going.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Entries held now.
    pub(crate) fn len(&self) -> usize {
        self.lock().0.len()
    }

    /// Whether the cache holds no entry.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Looks a token up by its [`digest`] at `now` (Unix seconds). `keys` is the JWKS key set
    /// in force (`None`: none loaded): an entry verified with a key that is
    /// not in it is dropped. `Ok(None)`: not cached (or dropped just now),
    /// verify the token in full, then [`TokenCache::insert`] it; `Err`: cached,
    /// but refused now (expired).
    pub(crate) fn lookup(
        &self,
        key: &Key,
        now: u64,
        rules: &ClaimRules,
        keys: Option<&[VerificationKey]>,
    ) -> Result<Option<Arc<User>>, Refusal> {
        let map = &mut self.lock().0;
        let Some(entry) = map.get(key) else { return Ok(None) };
        let key_gone = entry.verified_with.is_some_and(|id| !keys.is_some_and(|keys| keys.iter().any(|k| k.id == id)));
        let found = if key_gone {
            Ok(None)
        } else if entry.verified.exp < now.saturating_sub(rules.leeway) {
            Err(Refusal::Unauthenticated(AuthFailure::TokenExpired))
        } else if entry.verified.nbf.is_some_and(|nbf| nbf > now.saturating_add(rules.leeway)) {
            // Only a clock that went backwards gets here; verify in full.
            Ok(None)
        } else {
            return Ok(Some(entry.verified.user.clone()));
        };
        map.remove(key);
        found
    }

    /// Remembers a fully verified token by its [`digest`], verified with the JWKS key
    /// `verified_with` (`None`: `JWT_SECRET`); returns its user, shared.
    pub(crate) fn insert(&self, key: Key, now: u64, verified: Verified, verified_with: Option<KeyId>) -> Arc<User> {
        let user = verified.user.clone();
        let (map, insertions) = &mut *self.lock();
        if map.contains_key(&key) {
            return user;
        }
        if map.len() >= self.capacity {
            // Expired entries first; if none expired, the oldest quarter goes,
            // so a full cache walks its entries once per quarter-capacity
            // insertions, not on each.
            map.retain(|_, e| e.verified.exp >= now);
            if map.len() >= self.capacity {
                let kept = insertions.saturating_sub(self.capacity as u64 * 3 / 4);
                map.retain(|_, e| e.inserted >= kept);
            }
        }
        map.insert(key, Entry { verified, verified_with, inserted: *insertions });
        *insertions += 1;
        user
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Map, Value};

    const NOW: u64 = 1_800_000_000;

    fn rules() -> ClaimRules {
        ClaimRules {
            algorithms: vec![jsonwebtoken::Algorithm::RS256],
            issuer: Some("https://issuer.example".into()),
            audience: Some("app".into()),
            leeway: 30,
            user_id_claim: "sub".into(),
        }
    }

    fn user(sub: &str, extra: Value) -> User {
        let mut claims: Map<String, Value> = serde_json::from_value(
            json!({"sub": sub, "iss": "https://issuer.example", "aud": "app", "exp": NOW + 3600}),
        )
        .unwrap();
        claims.extend(extra.as_object().unwrap().clone());
        User { id: sub.into(), claims }
    }

    /// Caches `user` for `token` as the validator does after a verification,
    /// with the `exp` and `nbf` of its claims.
    fn put(cache: &TokenCache, token: &str, now: u64, user: User, verified_with: Option<KeyId>) -> Arc<User> {
        let time = |name| user.claims.get(name).map(|t: &Value| t.as_u64().unwrap());
        let (exp, nbf) = (time("exp").unwrap(), time("nbf"));
        cache.insert(digest(token), now, Verified { user: Arc::new(user), exp, nbf }, verified_with)
    }

    fn hit_id(cache: &TokenCache, token: &str, now: u64) -> Option<String> {
        match cache.lookup(&digest(token), now, &rules(), None) {
            Ok(Some(user)) => Some(user.id.clone()),
            _ => None,
        }
    }

    #[test]
    fn a_hit_returns_the_same_user_and_a_changed_byte_misses() {
        let cache = TokenCache::with_capacity(CAPACITY);
        let u = put(&cache, "aaa.bbb.ccc", NOW, user("u1", json!({})), None);
        match cache.lookup(&digest("aaa.bbb.ccc"), NOW, &rules(), None) {
            Ok(Some(hit)) => assert!(Arc::ptr_eq(&hit, &u)),
            other => panic!("{other:?}"),
        }
        assert!(matches!(cache.lookup(&digest("aaa.bbb.ccd"), NOW, &rules(), None), Ok(None)));
        assert!(matches!(cache.lookup(&digest("aaa.bbb.cc"), NOW, &rules(), None), Ok(None)));
    }

    #[test]
    fn expiry_is_checked_on_every_hit_with_the_leeway() {
        let cache = TokenCache::with_capacity(CAPACITY);
        put(&cache, "t", NOW, user("u1", json!({"exp": NOW + 10})), None);
        assert_eq!(hit_id(&cache, "t", NOW + 10), Some("u1".into()));
        assert_eq!(hit_id(&cache, "t", NOW + 40), Some("u1".into()), "within the 30 s leeway");
        match cache.lookup(&digest("t"), NOW + 41, &rules(), None) {
            Err(r) => assert_eq!(r.log_reason(), "token_expired"),
            other => panic!("{other:?}"),
        }
        assert!(cache.is_empty(), "an expired entry is dropped");
        assert!(matches!(cache.lookup(&digest("t"), NOW, &rules(), None), Ok(None)));
    }

    #[test]
    fn not_before_in_the_future_is_a_miss() {
        let cache = TokenCache::with_capacity(CAPACITY);
        put(&cache, "t", NOW, user("u1", json!({"nbf": NOW + 100})), None);
        assert!(matches!(cache.lookup(&digest("t"), NOW, &rules(), None), Ok(None)), "clock went backwards");
        assert!(cache.is_empty());
    }

    #[test]
    fn an_entry_lives_only_while_its_key_is_in_the_set() {
        // Two RSA keys of the test fixtures, under kids of our choosing.
        let fixtures: Value = serde_json::from_str(include_str!("../../tests/fixtures/tokens.json")).unwrap();
        let modulus = |set: &str, kid: &str| {
            let keys = fixtures[set]["keys"].as_array().unwrap();
            keys.iter().find(|k| k["kid"] == kid).unwrap()["n"].as_str().unwrap().to_owned()
        };
        let (n1, n2) = (&modulus("jwks", "rsa-1"), &modulus("jwks_rotated", "rsa-2"));
        let jwk = |kid: &str, n: &str| format!(r#"{{"kty":"RSA","kid":"{kid}","n":"{n}","e":"AQAB"}}"#);
        let set = |keys: &[String]| {
            crate::identity::jwt::keys_from_jwks(&format!(r#"{{"keys":[{}]}}"#, keys.join(","))).unwrap()
        };
        let both = set(&[jwk("k1", n1), jwk("k2", n2)]);
        let (k1, k2) = (both[0].id, both[1].id);
        assert_ne!(k1, k2);
        let cache = TokenCache::with_capacity(CAPACITY);
        put(&cache, "by-k1", NOW, user("u1", json!({})), Some(k1));
        put(&cache, "by-k2", NOW, user("u2", json!({})), Some(k2));
        put(&cache, "by-secret", NOW, user("u3", json!({})), None);
        let hit = |token: &str, keys: Option<&[VerificationKey]>| {
            matches!(cache.lookup(&digest(token), NOW, &rules(), keys), Ok(Some(_)))
        };
        assert!(hit("by-k1", Some(&both)) && hit("by-k2", Some(&both)) && hit("by-secret", Some(&both)));
        // The same keys fetched again (another order): nothing is dropped.
        let again = set(&[jwk("k2", n2), jwk("k1", n1)]);
        assert!(hit("by-k1", Some(&again)) && hit("by-k2", Some(&again)));
        // k2 withdrawn: its entry goes, the others stay.
        let withdrawn = set(&[jwk("k1", n1)]);
        assert!(!hit("by-k2", Some(&withdrawn)));
        assert_eq!(cache.len(), 2, "dropped, not just refused");
        assert!(hit("by-k1", Some(&withdrawn)) && hit("by-secret", Some(&withdrawn)));
        // k1 replaced under the same kid: another fingerprint, the entry goes.
        let replaced = set(&[jwk("k1", n2)]);
        assert!(!hit("by-k1", Some(&replaced)));
        assert!(!hit("by-k1", Some(&both)), "gone for good");
        // With no key set loaded, only secret-verified entries can hit.
        put(&cache, "by-k1", NOW, user("u1", json!({})), Some(k1));
        assert!(!hit("by-k1", None) && hit("by-secret", None));
    }

    #[test]
    fn eviction_drops_expired_entries_then_the_oldest() {
        let cache = TokenCache::with_capacity(3);
        put(&cache, "a", NOW, user("a", json!({})), None);
        put(&cache, "b", NOW, user("b", json!({"exp": NOW + 5})), None);
        put(&cache, "c", NOW, user("c", json!({})), None);
        // Full: at NOW + 10, "b" has expired and goes first.
        put(&cache, "d", NOW + 10, user("d", json!({})), None);
        assert_eq!(cache.len(), 3);
        assert_eq!(hit_id(&cache, "a", NOW), Some("a".into()));
        assert_eq!(hit_id(&cache, "b", NOW), None);
        // Full again, nothing expired: the oldest insertion ("a") goes, hits notwithstanding.
        put(&cache, "e", NOW, user("e", json!({})), None);
        assert_eq!(cache.len(), 3);
        assert_eq!(hit_id(&cache, "a", NOW), None);
        for t in ["c", "d", "e"] {
            assert_eq!(hit_id(&cache, t, NOW), Some(t.into()));
        }
        // Many more: never above the bound.
        for i in 0..100 {
            put(&cache, &format!("x{i}"), NOW, user("x", json!({})), None);
        }
        assert_eq!(cache.len(), 3);
        assert_eq!(hit_id(&cache, "x99", NOW), Some("x".into()));
    }

    #[test]
    fn expired_entries_keep_being_swept_and_the_bound_holds() {
        let cache = TokenCache::with_capacity(4);
        let insert = |token: &str, now: u64, exp: u64| {
            put(&cache, token, now, user(token, json!({"exp": exp})), None);
            assert!(cache.len() <= 4, "{token}: {} entries", cache.len());
        };
        insert("keep", NOW, NOW + 3600);
        for t in ["a", "b", "c"] {
            insert(t, NOW, NOW + 5);
        }
        // Full; at NOW + 10 the sweep drops the three expired ones, not "keep".
        insert("d", NOW + 10, NOW + 3600);
        assert_eq!(cache.len(), 2);
        for t in ["e", "f"] {
            insert(t, NOW + 10, NOW + 15);
        }
        // Full again: the two expired go, while the oldest ("keep") stays.
        insert("g", NOW + 20, NOW + 3600);
        assert_eq!(cache.len(), 3);
        for t in ["keep", "d", "g"] {
            assert_eq!(hit_id(&cache, t, NOW + 20), Some(t.into()), "{t}");
        }
    }

    #[test]
    fn not_before_is_exact_at_the_leeway_and_len_counts() {
        let cache = TokenCache::with_capacity(CAPACITY);
        assert!(cache.is_empty());
        put(&cache, "t", NOW, user("u1", json!({"nbf": NOW + 30})), None);
        assert!(!cache.is_empty());
        assert_eq!(hit_id(&cache, "t", NOW), Some("u1".into()), "nbf at now + leeway is valid");
        put(&cache, "t2", NOW, user("u2", json!({"nbf": NOW + 31})), None);
        assert!(matches!(cache.lookup(&digest("t2"), NOW, &rules(), None), Ok(None)), "one second past the leeway");
        assert_eq!(cache.len(), 1);
        assert_eq!(format!("{cache:?}"), "TokenCache { capacity: 512, len: 1 }");
    }

    #[test]
    fn a_full_cache_drops_every_expired_entry_before_the_oldest() {
        let cache = TokenCache::with_capacity(8);
        put(&cache, "keep", NOW, user("keep", json!({"exp": NOW + 3600})), None);
        for i in 0..7 {
            put(&cache, &format!("a{i}"), NOW, user("a", json!({"exp": NOW + 5})), None);
        }
        // Full at NOW + 10: the sweep drops the seven expired entries.
        put(&cache, "b", NOW + 10, user("b", json!({"exp": NOW + 3600})), None);
        assert_eq!(cache.len(), 2);
        for i in 0..6 {
            put(&cache, &format!("c{i}"), NOW + 10, user("c", json!({"exp": NOW + 15})), None);
        }
        // Full again one insertion later: the six expired entries go, the oldest stays.
        put(&cache, "d", NOW + 20, user("d", json!({"exp": NOW + 3600})), None);
        assert_eq!(cache.len(), 3);
        assert_eq!(hit_id(&cache, "keep", NOW + 20), Some("keep".into()));
        // Full with nothing expired: the oldest quarter of the insertions goes at
        // once ("keep" and "b", the two oldest), so the next ones find room.
        for i in 0..6 {
            put(&cache, &format!("e{i}"), NOW + 20, user("e", json!({"exp": NOW + 3600})), None);
        }
        assert_eq!(cache.len(), 7);
        assert_eq!(hit_id(&cache, "keep", NOW + 20), None, "the oldest insertion went");
        assert_eq!(hit_id(&cache, "b", NOW + 20), None, "and the next oldest");
        assert_eq!(hit_id(&cache, "d", NOW + 20), Some("d".into()));
        put(&cache, "f", NOW + 20, user("f", json!({"exp": NOW + 3600})), None);
        assert_eq!(cache.len(), 8, "room for one more without a walk");
    }

    #[test]
    fn shared_by_many_threads() {
        let cache = TokenCache::with_capacity(64);
        std::thread::scope(|s| {
            for t in 0..8 {
                let cache = &cache;
                s.spawn(move || {
                    for i in 0..2_000 {
                        let token = format!("token-{}", (i * 7 + t) % 100);
                        match cache.lookup(&digest(&token), NOW, &rules(), None) {
                            Ok(Some(user)) => assert_eq!(user.id, token),
                            Ok(None) => drop(put(cache, &token, NOW, user(&token, json!({})), None)),
                            Err(r) => panic!("{r:?}"),
                        }
                        assert!(cache.len() <= 64);
                    }
                });
            }
        });
        // Full, or a quarter short just after an eviction.
        assert!((48..=64).contains(&cache.len()), "{}", cache.len());
    }
}
