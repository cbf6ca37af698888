//! A value loaded on first use and refreshed after a lifetime, one load at a
//! time: what the stored Pusher secret and a fetched JWKS both need.
//!
//! - **First use:** one load; requests arriving meanwhile wait for it and
//!   share its outcome, the value or the failure. A failure is not kept: the
//!   next request loads again.
//! - **Stale** (older than the lifetime): the request that finds it so loads
//!   it again before it answers, while requests arriving meanwhile keep the
//!   value in force (never two loads at once). A failed refresh keeps the
//!   value in force; the next try is `retry` later. With a `max_stale`, a
//!   value no load has confirmed for that long is dropped, also when a
//!   refresh started before then fails after: the next request loads as on
//!   first use, and a failure is the request's.
//! - **Out of turn** ([`Refreshing::reload`], a JWKS key the set lacks): waits
//!   for a load in flight and uses what it brought, else loads, at most once
//!   per interval.
//!
//! The std mutex is held only to copy a value in or out, never across an
//! `await`; the async mutex is held across a load.

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// What a load did, for the caller's log line.
#[derive(Debug)]
pub(crate) enum Report<'a, E> {
    /// The first load succeeded.
    Loaded,
    /// A load failed while nothing was cached.
    LoadFailed(&'a E),
    /// A refresh succeeded; `recovered`: after failed ones.
    Refreshed { recovered: bool },
    /// A refresh failed and the value in force stays; `first`: the first
    /// failure of an outage (log it once).
    RefreshFailed { error: &'a E, first: bool },
}

/// Why [`Refreshing::reload`] brought no value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ReloadError<E> {
    /// The last load started less than the interval ago.
    TooSoon,
    /// The load failed.
    Failed(E),
}

/// The value, its lifetime and its single-flight load.
#[derive(Debug)]
pub(crate) struct Refreshing<T, E> {
    /// `None`: never stale.
    ttl: Option<Duration>,
    /// Least time between a failed refresh and the next.
    retry: Duration,
    /// Longest a value stays in force after the load that brought it (`None`: no limit).
    max_stale: Option<Duration>,
    state: Mutex<State<T, E>>,
    loading: tokio::sync::Mutex<()>,
}

#[derive(Debug)]
struct State<T, E> {
    /// The value in force, and when the load that brought it ended.
    value: Option<(Arc<T>, Instant)>,
    /// When the value in force is due for a refresh (`None`: never).
    due: Option<Instant>,
    /// When the last load started.
    attempted: Option<Instant>,
    /// Loads finished, so a request that waited can tell whether one ended.
    loads: u64,
    /// The last load's failure, until a load succeeds: what the requests that
    /// waited for a first load share, and for a refresh, an outage under way.
    failure: Option<E>,
}

impl<T, E: Clone> Refreshing<T, E> {
    /// Nothing loaded yet; stale `ttl` after each load (`None`: never), and
    /// tried again `retry` after a failed refresh.
    pub(crate) fn new(ttl: Option<Duration>, retry: Duration) -> Self {
        let state = State { value: None, due: None, attempted: None, loads: 0, failure: None };
        Self { ttl, retry, max_stale: None, state: Mutex::new(state), loading: tokio::sync::Mutex::new(()) }
    }

    /// The same, with values dropped `max_stale` after the load that brought them.
    pub(crate) fn with_max_stale(mut self, max_stale: Option<Duration>) -> Self {
        self.max_stale = max_stale;
        self
    }

    /// The lifetime.
    pub(crate) fn ttl(&self) -> Option<Duration> {
        self.ttl
    }

    /// The state, with a value past `max_stale` dropped.
    fn state(&self) -> MutexGuard<'_, State<T, E>> {
        // Nothing is left half-done under this lock: keep going after a panic.
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        state.value.take_if(|(_, loaded)| self.max_stale.is_some_and(|max| loaded.elapsed() >= max));
        state
    }

    /// The value in force, without loading anything.
    pub(crate) fn peek(&self) -> Option<Arc<T>> {
        self.state().value.as_ref().map(|(value, _)| value.clone())
    }

    /// The value: loaded on first use, refreshed once stale (see the module doc).
    pub(crate) async fn get<F, Fut>(&self, load: F, report: impl Fn(Report<'_, E>)) -> Result<Arc<T>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let seen = {
            let state = self.state();
            match &state.value {
                Some((value, _)) if state.due.is_none_or(|due| Instant::now() < due) => return Ok(value.clone()),
                _ => state.loads,
            }
        };
        if let Some(value) = self.peek() {
            // Stale: this request refreshes, unless another one already is.
            let Ok(_loading) = self.loading.try_lock() else { return Ok(value) };
            if self.state().due.is_some_and(|due| Instant::now() < due) {
                return Ok(self.peek().unwrap_or(value));
            }
            // A failed refresh keeps the value, unless it passed `max_stale` meanwhile.
            return self.load(load, &report).await.or_else(|error| self.peek().ok_or(error));
        }
        // Nothing cached: wait for the load in flight, or make it.
        let _loading = self.loading.lock().await;
        {
            let state = self.state();
            if let Some((value, _)) = &state.value {
                return Ok(value.clone());
            }
            if let Some(error) = state.failure.as_ref().filter(|_| state.loads != seen) {
                return Err(error.clone());
            }
        }
        self.load(load, &report).await
    }

    /// A load out of turn (the caller holds no lock): waits for the load in
    /// flight and returns what it brought, else loads, unless the last load
    /// started less than `interval` ago.
    pub(crate) async fn reload<F, Fut>(
        &self,
        interval: Duration,
        load: F,
        report: impl Fn(Report<'_, E>),
    ) -> Result<Arc<T>, ReloadError<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let seen = self.state().loads;
        let _loading = self.loading.lock().await;
        {
            let state = self.state();
            if let Some((value, _)) = state.value.as_ref().filter(|_| state.loads != seen) {
                return Ok(value.clone());
            }
            if state.attempted.is_some_and(|at| at.elapsed() < interval) {
                return Err(ReloadError::TooSoon);
            }
        }
        self.load(load, &report).await.map_err(ReloadError::Failed)
    }

    /// One load (the caller holds `loading`), put in force or reported.
    async fn load<F, Fut>(&self, load: F, report: &impl Fn(Report<'_, E>)) -> Result<Arc<T>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.state().attempted = Some(Instant::now());
        let outcome = load().await.map(Arc::new);
        let mut state = self.state();
        state.loads += 1;
        let had_value = state.value.is_some();
        let failure = std::mem::replace(&mut state.failure, outcome.as_ref().err().cloned());
        let now = Instant::now();
        state.due = match &outcome {
            Ok(value) => {
                state.value = Some((value.clone(), now));
                self.ttl.map(|ttl| now + ttl)
            }
            Err(_) => Some(now + self.retry),
        };
        drop(state);
        report(match (&outcome, had_value) {
            (Ok(_), false) => Report::Loaded,
            (Ok(_), true) => Report::Refreshed { recovered: failure.is_some() },
            (Err(error), false) => Report::LoadFailed(error),
            (Err(error), true) => Report::RefreshFailed { error, first: failure.is_none() },
        });
        outcome
    }
}
