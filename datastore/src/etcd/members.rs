//! The etcd members a client talks to, and failover between them.
//!
//! Each configured endpoint gets its own `etcd_client::Client` over its own lazily connected
//! tonic channel (no load balancer): requests go to one *current* member, and only when it fails
//! does [`Members::call`] move to the next. We do not use etcd-client's balanced channel because
//! it spreads requests over all endpoints (so a watch and the reads that follow it may hit
//! different members) and it hides which member failed; here failover is explicit, logged and
//! bounded by the request deadline.
//!
//! Retry rules (what etcd's Go client does too): a request that never left the client
//! (connection refused, no leader) may be retried anywhere; one whose connection broke in flight
//! has an unknown outcome and is retried only when idempotent (reads, watches, unconditional
//! puts, keep-alives). A non-idempotent write (create, compare-and-swap, transaction) with an
//! unknown outcome fails with [`Error::Unavailable`] saying so, and the caller decides.

use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use etcd_client::{Client, ConnectOptions};
use tokio::time::{Duration, Instant};

use super::reply::{Failure, Retry};
use crate::{Error, Result};

/// The first pause after every member failed once; doubled up to [`MAX_BACKOFF`].
pub(super) const MIN_BACKOFF: Duration = Duration::from_millis(50);
pub(super) const MAX_BACKOFF: Duration = Duration::from_secs(2);

pub(super) struct Member {
    pub(super) endpoint: String,
    /// The channel to build a client from; `None` for a client handed in ready-made.
    channel: Option<(tonic::transport::Channel, ConnectOptions)>,
    client: tokio::sync::Mutex<Option<Client>>,
}

impl Member {
    pub(super) fn new(
        endpoint: String,
        channel: tonic::transport::Channel,
        options: ConnectOptions,
    ) -> Self {
        Member {
            endpoint,
            channel: Some((channel, options)),
            client: tokio::sync::Mutex::new(None),
        }
    }

    pub(super) fn from_client(endpoint: String, client: Client) -> Self {
        Member {
            endpoint,
            channel: None,
            client: tokio::sync::Mutex::new(Some(client)),
        }
    }

    /// The member's client, built on first use (building authenticates when credentials are
    /// configured, so it can fail like any request).
    async fn client(&self) -> std::result::Result<Client, Failure> {
        let mut slot = self.client.lock().await;
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let Some((channel, options)) = &self.channel else {
            return Err(Failure {
                retry: Retry::No,
                code: None,
                message: format!("no client for {}", self.endpoint),
            });
        };
        let client = Client::from_channel(
            etcd_client::Channel::Tonic(channel.clone()),
            Some(options.clone()),
        )
        .await
        .map_err(Failure::from_client)?;
        *slot = Some(client.clone());
        Ok(client)
    }
}

pub(super) struct Members {
    members: Vec<Member>,
    current: AtomicUsize,
    /// The endpoints, comma-separated, for error messages.
    pub(super) description: String,
    pub(super) request_timeout: Duration,
    /// The last failure, for the message when the deadline passes.
    last_failure: Mutex<Option<String>>,
}

impl Members {
    pub(super) fn new(
        members: Vec<Member>,
        description: String,
        request_timeout: Duration,
    ) -> Self {
        Members {
            members,
            current: AtomicUsize::new(0),
            description,
            request_timeout,
            last_failure: Mutex::new(None),
        }
    }

    /// The endpoint requests currently go to.
    pub(super) fn current_endpoint(&self) -> &str {
        let idx = self.current.load(Ordering::Relaxed) % self.members.len().max(1);
        self.members
            .get(idx)
            .map(|m| m.endpoint.as_str())
            .unwrap_or("")
    }

    /// Moves off member `failed` unless another request already did.
    fn fail_over(&self, failed: usize) {
        let n = self.members.len().max(1);
        let next = (failed + 1) % n;
        if self
            .current
            .compare_exchange(failed, next, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
            && n > 1
            && let (Some(from), Some(to)) = (self.members.get(failed), self.members.get(next))
        {
            tracing::info!(from = %from.endpoint, to = %to.endpoint, "etcd failover");
        }
    }

    /// Runs `f` against the current member, failing over and retrying as the module docs say,
    /// until it succeeds, fails definitely, or the request deadline passes. `what` names the key
    /// or prefix for error messages.
    pub(super) async fn call<T, F, Fut>(&self, what: &str, idempotent: bool, mut f: F) -> Result<T>
    where
        F: FnMut(Client) -> Fut,
        Fut: Future<Output = std::result::Result<T, etcd_client::Error>>,
    {
        let timeout = self.request_timeout;
        let deadline = Instant::now() + timeout;
        let n = self.members.len();
        if n == 0 {
            return Err(Error::Config("no etcd endpoints configured".into()));
        }
        // An idempotent request gives each member a share of the deadline, so that a member that
        // hangs (rather than refusing) does not use up the time the others could have answered in.
        let share = if idempotent && n > 1 {
            (timeout / u32::try_from(n).unwrap_or(u32::MAX)).max(Duration::from_secs(1))
        } else {
            timeout
        };
        let mut backoff = MIN_BACKOFF;
        let mut attempts = 0usize;
        loop {
            let idx = self.current.load(Ordering::Acquire) % n;
            let Some(member) = self.members.get(idx) else {
                return Err(Error::Config("no etcd endpoints configured".into()));
            };
            let attempt_deadline = deadline.min(Instant::now() + share);
            let outcome = tokio::time::timeout_at(attempt_deadline, async {
                let client = member.client().await?;
                f(client).await.map_err(Failure::from_client)
            })
            .await;
            let failure = match outcome {
                Ok(Ok(v)) => return Ok(v),
                Ok(Err(failure)) => failure,
                Err(_) => Failure {
                    retry: Retry::Unknown,
                    code: None,
                    message: format!("no reply from {} in time", member.endpoint),
                },
            };
            let retriable = match failure.retry {
                Retry::NotSent => true,
                Retry::Unknown => idempotent,
                Retry::No => false,
            };
            if !retriable {
                if failure.retry == Retry::Unknown {
                    return Err(Error::Unavailable {
                        endpoints: self.description.clone(),
                        reason: format!(
                            "write to {what} at {}: {}; it may or may not have been applied",
                            member.endpoint, failure.message
                        ),
                    });
                }
                return Err(failure.into_error(what, &self.description));
            }
            tracing::debug!(endpoint = %member.endpoint, key = what, error = %failure.message,
                "etcd request failed; retrying");
            if let Ok(mut last) = self.last_failure.lock() {
                *last = Some(format!("{}: {}", member.endpoint, failure.message));
            }
            self.fail_over(idx);
            attempts += 1;
            let now = Instant::now();
            if now >= deadline {
                return Err(self.timed_out(what));
            }
            if attempts.is_multiple_of(n) {
                tokio::time::sleep_until((now + backoff).min(deadline)).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                if Instant::now() >= deadline {
                    return Err(self.timed_out(what));
                }
            }
        }
    }

    fn timed_out(&self, what: &str) -> Error {
        let last = self
            .last_failure
            .lock()
            .ok()
            .and_then(|l| l.clone())
            .unwrap_or_else(|| "no reply".into());
        Error::Unavailable {
            endpoints: self.description.clone(),
            reason: format!(
                "request on {what} did not succeed within {:?} (last error: {last})",
                self.request_timeout
            ),
        }
    }
}
