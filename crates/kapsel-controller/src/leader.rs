//! Leader election on a `coordination.k8s.io/v1` Lease, with fencing.
//!
//! The algorithm is client-go's `leaderelection` (the one kube-controller-
//! manager and controller-runtime use), written here because fencing needs
//! what the Rust crates do not give (docs/controller.md, "Leader election"):
//!
//! - **Acquire.** A candidate reads the Lease every retry period. It takes
//!   it (a `replace` carrying the resourceVersion it read, so that of two
//!   candidates one wins and the other gets a 409) when it is free (no
//!   holder: released), already its own, or when the record has not changed
//!   for the lease duration *as measured on the candidate's own monotonic
//!   clock since it first saw that record*. No remote clock is trusted: a
//!   standby that starts while a dead leader's record is old still waits
//!   one lease duration.
//! - **Renew.** The leader renews every retry period. Its term is valid
//!   until the renew deadline, counted from the moment the last successful
//!   renewal was *sent*. The API server applied that renewal after it was
//!   sent, and a standby that takes over waits the lease duration after it
//!   *saw* that renewal, so a leader whose renewals stop stops leading
//!   (lease duration − renew deadline) before anyone else can lead.
//! - **Fencing.** When the term ends (the deadline passed without a
//!   renewal, or the Lease is seen held by another) the controller aborts
//!   its work at once: runs are dropped without their deferPhases and
//!   without any status write (`Term::valid` is checked before every
//!   write, and by the platform wrapper before every operation, on the
//!   clock, not only when a timer task gets to run), and their task pods
//!   are deleted. The next leader recovers those ActionSets (recover.rs).
//! - **Release.** On a clean shutdown the leader writes the Lease with no
//!   holder (and a 1 s duration, as client-go does), so a standby takes
//!   over at its next retry instead of waiting for the expiry.
//!
//! Why not a crate: kube-leader-election 0.44 is built on kube 4 (Kapsel is
//! on kube 5); kube-lease-manager 0.13 (kube 5) swallows renewal errors and
//! keeps reporting leadership until a successful read says otherwise, so a
//! leader cut off from the API server would go on working after its lease
//! expired, and it judges expiry by comparing the holder's `renewTime`
//! with the local wall clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::Api;
use kube::api::PostParams;
use tokio_util::sync::CancellationToken;

/// The default lease duration (client-go's and controller-runtime's).
pub const DEFAULT_LEASE_DURATION: Duration = Duration::from_secs(15);

/// How the controller takes part in leader election.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderConfig {
    /// The Lease's name.
    pub lease_name: String,
    /// The Lease's namespace.
    pub lease_namespace: String,
    /// This process's identity (the Lease's `holderIdentity`).
    pub identity: String,
    /// How long a Lease not renewed stays held (`leaseDurationSeconds`,
    /// whole seconds, at least 3 s).
    pub lease_duration: Duration,
}

impl LeaderConfig {
    /// The lease duration in whole seconds (at least 3).
    pub fn lease_seconds(&self) -> u64 {
        self.lease_duration.as_secs().max(3)
    }

    /// How long the leader goes on without a successful renewal before it
    /// stops: 2/3 of the lease duration (client-go's 10 s for 15 s).
    pub fn renew_deadline(&self) -> Duration {
        Duration::from_secs(self.lease_seconds()) * 2 / 3
    }

    /// How often candidates and the leader try: 2/15 of the lease
    /// duration (client-go's 2 s for 15 s).
    pub fn retry_period(&self) -> Duration {
        Duration::from_secs(self.lease_seconds()) * 2 / 15
    }
}

/// This process's identity: `POD_NAME` (the Downward API), else
/// `<hostname>-<pid>`.
pub fn default_identity() -> String {
    if let Some(n) = std::env::var("POD_NAME").ok().filter(|n| !n.is_empty()) {
        return n;
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()))
        .unwrap_or_else(|| "kapsel".to_string());
    format!("{host}-{}", std::process::id())
}

/// A leadership term: valid until its deadline passes without a renewal,
/// or until it is lost (another holder seen, or ended). Without leader
/// election the term never ends.
#[derive(Clone)]
pub struct Term {
    inner: Arc<TermInner>,
}

struct TermInner {
    base: Instant,
    /// Nanoseconds after `base`; `u64::MAX`: no deadline.
    deadline: AtomicU64,
    lost: CancellationToken,
}

impl std::fmt::Debug for Term {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Term")
            .field("valid", &self.valid())
            .finish()
    }
}

impl Term {
    /// A term without a deadline (leader election off): it ends only when
    /// [`Term::end`] is called.
    pub fn unbounded() -> Term {
        Term::with_deadline(None)
    }

    /// A term valid until `deadline`.
    pub fn until(deadline: Instant) -> Term {
        Term::with_deadline(Some(deadline))
    }

    fn with_deadline(deadline: Option<Instant>) -> Term {
        let base = Instant::now();
        let t = Term {
            inner: Arc::new(TermInner {
                base,
                deadline: AtomicU64::new(u64::MAX),
                lost: CancellationToken::new(),
            }),
        };
        if let Some(d) = deadline {
            t.extend(d);
        }
        t
    }

    fn deadline(&self) -> Option<Instant> {
        match self.inner.deadline.load(Ordering::Acquire) {
            u64::MAX => None,
            n => Some(self.inner.base + Duration::from_nanos(n)),
        }
    }

    /// Moves the deadline to `until` (never backwards).
    pub fn extend(&self, until: Instant) {
        let n = u64::try_from(until.saturating_duration_since(self.inner.base).as_nanos())
            .unwrap_or(u64::MAX - 1);
        let cur = self.inner.deadline.load(Ordering::Acquire);
        if cur == u64::MAX || n > cur {
            self.inner.deadline.store(n, Ordering::Release);
        }
    }

    /// Ends the term now.
    pub fn end(&self) {
        self.inner.lost.cancel();
    }

    /// Whether the term is still valid, by the clock (not only by whether
    /// a timer has fired yet: after the process was frozen, the first
    /// thing that runs sees the truth).
    pub fn valid(&self) -> bool {
        !self.inner.lost.is_cancelled() && self.deadline().is_none_or(|d| Instant::now() < d)
    }

    /// Resolves when the term is no longer valid.
    pub async fn expired(&self) {
        loop {
            if !self.valid() {
                return;
            }
            match self.deadline() {
                None => self.inner.lost.cancelled().await,
                Some(d) => {
                    tokio::select! {
                        () = self.inner.lost.cancelled() => {}
                        () = tokio::time::sleep_until(d.into()) => {}
                    }
                }
            }
        }
    }
}

/// Runs `f` while `term` is valid: `None`, with `f` dropped, as soon as it
/// is not. The term is checked on every poll, before `f` is polled, so
/// nothing of `f` runs after the deadline even when no timer has fired yet
/// (a process resumed after being frozen).
pub async fn while_valid<F: std::future::Future>(term: &Term, f: F) -> Option<F::Output> {
    use std::task::Poll;
    let mut f = std::pin::pin!(f);
    let mut expired = std::pin::pin!(term.expired());
    std::future::poll_fn(|cx| {
        if !term.valid() || expired.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        f.as_mut().poll(cx).map(Some)
    })
    .await
}

/// Why leader election could not go on.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// The Lease could not be read or written.
    #[error("Lease {namespace}/{name}: {source}")]
    Kube {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
}

/// What one attempt found.
#[derive(Debug, PartialEq, Eq)]
enum Attempt {
    /// The Lease is ours (acquired or renewed).
    Held,
    /// Held by another, not expired.
    Other(String),
    /// Someone wrote the Lease between our read and write.
    Conflict,
}

/// One process's side of the election.
pub struct Elector {
    api: Api<Lease>,
    config: LeaderConfig,
    /// The last record seen (its resourceVersion) and when it was first
    /// seen, on this process's clock.
    observed: Option<(String, Instant)>,
    /// The holder last reported in the log.
    reported: Option<String>,
}

impl Elector {
    /// An elector for `config`'s Lease.
    pub fn new(client: kube::Client, config: LeaderConfig) -> Elector {
        Elector {
            api: Api::namespaced(client, &config.lease_namespace),
            config,
            observed: None,
            reported: None,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &LeaderConfig {
        &self.config
    }

    fn err(&self, source: kube::Error) -> LeaseError {
        LeaseError::Kube {
            namespace: self.config.lease_namespace.clone(),
            name: self.config.lease_name.clone(),
            source,
        }
    }

    /// Campaigns until this process holds the Lease (its term returned) or
    /// `stop` fires (`None`).
    pub async fn acquire(&mut self, stop: &CancellationToken) -> Option<Term> {
        loop {
            let sent = Instant::now();
            match self.try_acquire_or_renew().await {
                Ok(Attempt::Held) => {
                    tracing::info!(
                        lease = %self.config.lease_name,
                        namespace = %self.config.lease_namespace,
                        identity = %self.config.identity,
                        "acquired the lease: leading"
                    );
                    self.reported = None;
                    return Some(Term::until(sent + self.config.renew_deadline()));
                }
                Ok(Attempt::Other(holder)) => {
                    if self.reported.as_deref() != Some(holder.as_str()) {
                        tracing::info!(
                            lease = %self.config.lease_name,
                            namespace = %self.config.lease_namespace,
                            %holder,
                            "standing by: the lease is held by another controller"
                        );
                        self.reported = Some(holder);
                    }
                }
                Ok(Attempt::Conflict) => {}
                Err(e) => tracing::warn!("leader election: {e}; retrying"),
            }
            tokio::select! {
                () = stop.cancelled() => return None,
                () = tokio::time::sleep(self.config.retry_period()) => {}
            }
        }
    }

    /// Renews the Lease every retry period for as long as `term` is valid
    /// and `stop` has not fired. Ends the term when the Lease is seen held
    /// by another; the term also ends by itself when no renewal succeeds
    /// before its deadline.
    pub async fn keep(&mut self, term: &Term, stop: &CancellationToken) {
        loop {
            tokio::select! {
                biased;
                () = term.expired() => break,
                () = stop.cancelled() => return,
                () = tokio::time::sleep(self.config.retry_period()) => {}
            }
            let sent = Instant::now();
            let attempt = tokio::select! {
                biased;
                () = term.expired() => break,
                r = self.try_acquire_or_renew() => r,
            };
            match attempt {
                Ok(Attempt::Held) => term.extend(sent + self.config.renew_deadline()),
                Ok(Attempt::Other(holder)) => {
                    tracing::error!(%holder, "the lease is held by another controller");
                    term.end();
                    break;
                }
                Ok(Attempt::Conflict) => {
                    tracing::warn!("renewing the lease: conflict; retrying");
                }
                Err(e) => tracing::warn!("renewing the lease: {e}; retrying"),
            }
        }
        term.end();
        tracing::error!(
            lease = %self.config.lease_name,
            identity = %self.config.identity,
            "lost the lease (held by another, or not renewed within {:?}): all work stopped",
            self.config.renew_deadline()
        );
    }

    /// Gives the Lease up if this process holds it: no holder, so that a
    /// standby takes it at its next try.
    pub async fn release(&mut self) -> Result<(), LeaseError> {
        let Some(mut lease) = self
            .api
            .get_opt(&self.config.lease_name)
            .await
            .map_err(|e| self.err(e))?
        else {
            return Ok(());
        };
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        if spec.holder_identity.as_deref() != Some(self.config.identity.as_str()) {
            return Ok(());
        }
        let now = MicroTime(k8s_openapi::jiff::Timestamp::now());
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.renew_time = Some(now.clone());
        spec.acquire_time = Some(now);
        match self
            .api
            .replace(&self.config.lease_name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => {
                tracing::info!(lease = %self.config.lease_name, "released the lease");
                Ok(())
            }
            Err(kube::Error::Api(e)) if e.code == 409 || e.code == 404 => Ok(()),
            Err(e) => Err(self.err(e)),
        }
    }

    /// client-go's `tryAcquireOrRenew`.
    async fn try_acquire_or_renew(&mut self) -> Result<Attempt, LeaseError> {
        let now = MicroTime(k8s_openapi::jiff::Timestamp::now());
        let me = self.config.identity.clone();
        let seconds = i32::try_from(self.config.lease_seconds()).unwrap_or(i32::MAX);
        let Some(mut lease) = self
            .api
            .get_opt(&self.config.lease_name)
            .await
            .map_err(|e| self.err(e))?
        else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.config.lease_name.clone()),
                    namespace: Some(self.config.lease_namespace.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(me),
                    lease_duration_seconds: Some(seconds),
                    acquire_time: Some(now.clone()),
                    renew_time: Some(now),
                    lease_transitions: Some(0),
                    ..LeaseSpec::default()
                }),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(l) => {
                    self.observe(&l);
                    Ok(Attempt::Held)
                }
                Err(kube::Error::Api(e)) if e.code == 409 => Ok(Attempt::Conflict),
                Err(e) => Err(self.err(e)),
            };
        };
        let seen_at = self.observe(&lease);
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        let holder = spec.holder_identity.clone().filter(|h| !h.is_empty());
        let ours = holder.as_deref() == Some(me.as_str());
        if let Some(h) = &holder
            && !ours
        {
            let held_for = spec
                .lease_duration_seconds
                .and_then(|s| u64::try_from(s).ok())
                .map_or(self.config.lease_duration, Duration::from_secs);
            if seen_at.elapsed() < held_for {
                return Ok(Attempt::Other(h.clone()));
            }
        }
        if !ours {
            spec.acquire_time = Some(now.clone());
            spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0).saturating_add(1));
        }
        spec.holder_identity = Some(me);
        spec.lease_duration_seconds = Some(seconds);
        spec.renew_time = Some(now);
        match self
            .api
            .replace(&self.config.lease_name, &PostParams::default(), &lease)
            .await
        {
            Ok(l) => {
                self.observe(&l);
                Ok(Attempt::Held)
            }
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(Attempt::Conflict),
            Err(e) => Err(self.err(e)),
        }
    }

    /// Records `lease`'s version; returns when this version was first seen.
    fn observe(&mut self, lease: &Lease) -> Instant {
        let version = lease.metadata.resource_version.clone().unwrap_or_default();
        match &self.observed {
            Some((v, at)) if *v == version => *at,
            _ => {
                let at = Instant::now();
                self.observed = Some((version, at));
                at
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(secs: u64) -> LeaderConfig {
        LeaderConfig {
            lease_name: "l".into(),
            lease_namespace: "n".into(),
            identity: "me".into(),
            lease_duration: Duration::from_secs(secs),
        }
    }

    #[test]
    fn periods_derive_from_the_duration_as_client_go() {
        let c = config(15);
        assert_eq!(c.renew_deadline(), Duration::from_secs(10));
        assert_eq!(c.retry_period(), Duration::from_secs(2));
        assert!(config(1).renew_deadline() < config(1).lease_duration.max(Duration::from_secs(3)));
        let c = config(6);
        assert!(c.retry_period() < c.renew_deadline());
        assert!(c.renew_deadline() < c.lease_duration);
    }

    #[tokio::test]
    async fn a_term_ends_at_its_deadline_unless_extended() {
        let t = Term::until(Instant::now() + Duration::from_millis(50));
        assert!(t.valid());
        t.expired().await;
        assert!(!t.valid());
        // extended in time: still valid after the first deadline
        let t = Term::until(Instant::now() + Duration::from_millis(50));
        t.extend(Instant::now() + Duration::from_secs(3600));
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert!(t.valid());
        // never moved backwards
        t.extend(Instant::now());
        assert!(t.valid());
        t.end();
        assert!(!t.valid());
        t.expired().await;
    }

    #[tokio::test]
    async fn work_stops_when_the_term_ends() {
        let t = Term::until(Instant::now() + Duration::from_millis(30));
        let r = while_valid(&t, std::future::pending::<()>()).await;
        assert_eq!(r, None);
        let t = Term::unbounded();
        assert_eq!(while_valid(&t, async { 7 }).await, Some(7));
        t.end();
        assert_eq!(while_valid(&t, async { 7 }).await, None, "not even started");
    }

    #[tokio::test]
    async fn an_unbounded_term_ends_only_when_ended() {
        let t = Term::unbounded();
        assert!(t.valid());
        let t2 = t.clone();
        let waiter = tokio::spawn(async move { t2.expired().await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished());
        t.end();
        waiter.await.unwrap();
        assert!(!t.valid());
    }

    #[test]
    fn identity_is_the_pod_name_or_host_and_pid() {
        let id = default_identity();
        match std::env::var("POD_NAME").ok().filter(|n| !n.is_empty()) {
            Some(n) => assert_eq!(id, n),
            None => assert!(id.ends_with(&format!("-{}", std::process::id())), "{id}"),
        }
    }
}
