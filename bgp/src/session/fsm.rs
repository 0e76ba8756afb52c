//! The session FSM of RFC 4271 §8, sans I/O: one connection, driven by [`Event`]s and the
//! current time, answering with [`Action`]s. Timers are deadlines the caller watches
//! ([`Session::next_deadline`]) and reports with [`Event::Tick`].
//!
//! Deviations from the letter of §8.2.2, all common practice (BIRD, GoBGP):
//! * A failed connection in Connect moves to Active with ConnectRetryTimer running, instead of
//!   Idle; the timer's expiry in Active starts the next attempt.
//! * Passive sessions wait in Active with no ConnectRetryTimer: they never connect.
//! * After an error the session goes to Idle and, unless it was stopped by the operator,
//!   restarts itself after [`PeerConfig::idle_hold_time`] (the IdleHoldTimer of RFC 4271
//!   §8.1.1 without damping).
//! * A second connection while in OpenSent or later is not handled here: the owner resolves
//!   the collision with [`super::collision::resolve_collision`] and reports
//!   [`Event::CollisionLost`] to the loser.
//!
//! A malformed NOTIFICATION from the peer is not answered (RFC 4271 §6.4) and is reported as
//! [`DownReason::ConnectionLost`]: its code and subcode cannot be read.
//!
//! Graceful restart (RFC 4724 §4.1): the Restart State bit ([`PeerConfig::restarting`]) is
//! sent only until a connection reaches Established; from then on [`Session::config`] and
//! [`Session::local_open`] have it cleared, so a later reconnection does not claim a restart.

use std::time::{Duration, Instant};

use crate::codec::{
    Action as CodecAction, CeaseSubcode, CodecContext, DecodeError, ErrorCode, FsmError, Message,
    Notification, Open,
};

use super::config::{LocalSpeaker, PeerConfig};
use super::event::{Action, DownReason, Event, State};
use super::negotiated::{Negotiated, local_open, validate_open};

/// Hold time while waiting for the peer's OPEN (RFC 4271 §8.2.2 suggests 4 minutes).
pub const LARGE_HOLD_TIME: Duration = Duration::from_secs(240);

/// One BGP session with one peer.
#[derive(Debug, Clone)]
pub struct Session {
    speaker: LocalSpeaker,
    config: PeerConfig,
    local_open: Open,
    state: State,
    /// Started and not stopped by the operator: errors lead to an automatic restart.
    admin_up: bool,
    passive: bool,
    connect_retry_timer: Option<Instant>,
    hold_timer: Option<Instant>,
    keepalive_timer: Option<Instant>,
    idle_hold_timer: Option<Instant>,
    negotiated: Option<Negotiated>,
    pre_open_codec: CodecContext,
    connect_retry_counter: u32,
    last_error: Option<DownReason>,
}

impl Session {
    pub fn new(speaker: LocalSpeaker, config: PeerConfig) -> Self {
        let local_open = local_open(&speaker, &config);
        let passive = config.passive;
        Self {
            speaker,
            config,
            local_open,
            state: State::Idle,
            admin_up: false,
            passive,
            connect_retry_timer: None,
            hold_timer: None,
            keepalive_timer: None,
            idle_hold_timer: None,
            negotiated: None,
            pre_open_codec: CodecContext::default(),
            connect_retry_counter: 0,
            last_error: None,
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn config(&self) -> &PeerConfig {
        &self.config
    }

    pub fn speaker(&self) -> &LocalSpeaker {
        &self.speaker
    }

    /// The OPEN this session sends.
    pub fn local_open(&self) -> &Open {
        &self.local_open
    }

    /// What was agreed with the peer; set from OpenConfirm until the session goes down.
    pub fn negotiated(&self) -> Option<&Negotiated> {
        self.negotiated.as_ref()
    }

    /// The context to frame, decode and encode this session's messages with right now.
    pub fn codec(&self) -> &CodecContext {
        self.negotiated
            .as_ref()
            .map_or(&self.pre_open_codec, |n| &n.codec)
    }

    /// Why the last connection was torn down, if it was.
    pub fn last_error(&self) -> Option<&DownReason> {
        self.last_error.as_ref()
    }

    /// How many connections failed since the session was started (RFC 4271 ConnectRetryCounter).
    pub fn connect_retry_counter(&self) -> u32 {
        self.connect_retry_counter
    }

    /// The earliest timer deadline; the caller reports [`Event::Tick`] once it has passed.
    pub fn next_deadline(&self) -> Option<Instant> {
        [
            self.connect_retry_timer,
            self.hold_timer,
            self.keepalive_timer,
            self.idle_hold_timer,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Feeds one event at time `now`; returns what to do, in order.
    pub fn handle(&mut self, event: Event, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        let before = self.state;
        if matches!(event, Event::Tick) {
            self.fire_timers(now, &mut out);
        } else {
            self.step(event, now, &mut out);
        }
        if self.state != before {
            tracing::debug!(peer = %self.config.address, from = %before, to = %self.state, "BGP state change");
        }
        out
    }

    fn fire_timers(&mut self, now: Instant, out: &mut Vec<Action>) {
        let due = |t: Option<Instant>| t.is_some_and(|d| d <= now);
        // Each expiry may stop other timers, so re-check after every step.
        loop {
            if due(self.hold_timer) {
                self.hold_timer = None;
                self.step(Event::HoldTimerExpires, now, out);
            } else if due(self.keepalive_timer) {
                self.keepalive_timer = None;
                self.step(Event::KeepaliveTimerExpires, now, out);
            } else if due(self.connect_retry_timer) {
                self.connect_retry_timer = None;
                self.step(Event::ConnectRetryTimerExpires, now, out);
            } else if due(self.idle_hold_timer) {
                self.idle_hold_timer = None;
                self.step(Event::AutomaticStart, now, out);
            } else {
                break;
            }
        }
    }

    fn step(&mut self, event: Event, now: Instant, out: &mut Vec<Action>) {
        use State::*;
        match (self.state, event) {
            (_, Event::ManualStop) => self.manual_stop(out),
            (_, Event::Tick) => self.fire_timers(now, out),

            (Idle, Event::ManualStart | Event::AutomaticStart) => self.start(false, now, out),
            (Idle, Event::ManualStartWithPassiveTcpEstablishment) => self.start(true, now, out),
            // No connection is wanted in Idle: refuse the peer's.
            (Idle, Event::TcpConnectionConfirmed) => out.push(Action::CloseConnection),
            (Idle, _) => {}

            (Connect | Active, Event::ConnectRetryTimerExpires) => {
                if self.state == Connect {
                    out.push(Action::CloseConnection);
                }
                if !self.passive {
                    self.connect_retry_timer = Some(now + self.config.connect_retry_time);
                    out.push(Action::Connect);
                    self.state = Connect;
                }
            }
            (Connect | Active, Event::TcpConnectionConfirmed) => {
                self.connect_retry_timer = None;
                out.push(Action::Send(Message::Open(self.local_open.clone())));
                self.hold_timer = Some(now + LARGE_HOLD_TIME);
                self.state = OpenSent;
            }
            (Connect | Active, Event::TcpConnectionFails) => {
                out.push(Action::CloseConnection);
                self.connection_failed_to_active(now);
            }
            (Connect | Active, _) => {}

            (OpenSent, Event::Message(Message::Open(open))) => self.receive_open(open, now, out),
            (OpenSent, Event::TcpConnectionFails) => {
                out.push(Action::CloseConnection);
                self.hold_timer = None;
                self.connection_failed_to_active(now);
            }
            (OpenConfirm | Established, Event::TcpConnectionFails) => {
                self.fail(DownReason::ConnectionLost, None, now, out);
            }
            (OpenSent | OpenConfirm | Established, Event::HoldTimerExpires) => {
                let n = Notification::new(ErrorCode::HoldTimerExpired(0), Vec::new());
                self.fail(DownReason::HoldTimerExpired, Some(n), now, out);
            }
            (OpenSent | OpenConfirm | Established, Event::Message(Message::Notification(n))) => {
                tracing::info!(peer = %self.config.address, notification = %n, "peer sent NOTIFICATION");
                self.fail(DownReason::NotificationReceived(n), None, now, out);
            }
            (OpenSent | OpenConfirm | Established, Event::DecodeError(e)) => {
                self.decode_error(e, now, out);
            }
            (OpenSent | OpenConfirm | Established, Event::CollisionLost) => {
                let n = Notification::new(CeaseSubcode::ConnectionCollisionResolution, Vec::new());
                self.fail(DownReason::CollisionLost, Some(n), now, out);
                // The winning connection is handed to this session next.
                self.idle_hold_timer = None;
                self.state = Active;
            }
            (OpenConfirm | Established, Event::KeepaliveTimerExpires) => {
                out.push(Action::Send(Message::Keepalive));
                self.restart_keepalive(now);
            }
            (OpenConfirm, Event::Message(Message::Keepalive)) => {
                self.restart_hold(now);
                self.state = Established;
                self.connect_retry_counter = 0;
                self.restart_is_over();
                if let Some(n) = &self.negotiated {
                    out.push(Action::SessionUp(Box::new(n.clone())));
                }
            }
            (Established, Event::Message(Message::Keepalive)) => self.restart_hold(now),
            (Established, Event::Message(Message::Update(update))) => {
                self.restart_hold(now);
                match update.action().cloned() {
                    Some(CodecAction::SessionReset(n)) => {
                        self.fail(DownReason::NotificationSent(n.clone()), Some(n), now, out);
                    }
                    action => out.push(Action::DeliverUpdate { update, action }),
                }
            }
            (Established, Event::Message(Message::RouteRefresh(rr))) => {
                self.restart_hold(now);
                out.push(Action::DeliverRouteRefresh(rr));
            }
            (Established, Event::SendUpdate(update)) => {
                out.push(Action::Send(Message::Update(update)));
                self.restart_keepalive(now);
            }
            (Established, Event::SendEncoded(messages)) => {
                out.push(Action::SendEncoded(messages));
                self.restart_keepalive(now);
            }
            (Established, Event::SendRouteRefresh(rr)) => {
                out.push(Action::Send(Message::RouteRefresh(rr)));
            }
            // RFC 6608 §3: the data is the type of the unexpected message.
            (OpenSent | OpenConfirm | Established, Event::Message(message)) => {
                let subcode = match self.state {
                    OpenSent => FsmError::UnexpectedMessageInOpenSent,
                    OpenConfirm => FsmError::UnexpectedMessageInOpenConfirm,
                    _ => FsmError::UnexpectedMessageInEstablished,
                };
                let n = Notification::new(subcode, vec![message.message_type().to_u8()]);
                self.fail(DownReason::NotificationSent(n.clone()), Some(n), now, out);
            }
            // Start events, a second connection (collisions are resolved by the owner),
            // stray timers, and UPDATEs to send before Established are ignored.
            (OpenSent | OpenConfirm | Established, _) => {}
        }
    }

    fn start(&mut self, passive: bool, now: Instant, out: &mut Vec<Action>) {
        self.admin_up = true;
        self.idle_hold_timer = None;
        self.passive = self.config.passive || passive;
        if self.passive {
            self.state = State::Active;
        } else {
            self.connect_retry_timer = Some(now + self.config.connect_retry_time);
            out.push(Action::Connect);
            self.state = State::Connect;
        }
    }

    fn manual_stop(&mut self, out: &mut Vec<Action>) {
        if matches!(
            self.state,
            State::OpenSent | State::OpenConfirm | State::Established
        ) {
            let n = Notification::new(CeaseSubcode::AdministrativeShutdown, Vec::new());
            out.push(Action::Send(Message::Notification(n)));
        }
        if self.state != State::Idle {
            out.push(Action::CloseConnection);
        }
        if self.state == State::Established {
            out.push(Action::SessionDown(DownReason::ManualStop));
        }
        self.admin_up = false;
        self.connect_retry_counter = 0;
        self.clear_timers();
        self.idle_hold_timer = None;
        self.negotiated = None;
        self.state = State::Idle;
    }

    fn receive_open(&mut self, open: Open, now: Instant, out: &mut Vec<Action>) {
        if let Err(n) = validate_open(&open, &self.speaker, &self.config) {
            tracing::warn!(peer = %self.config.address, notification = %n, "rejecting OPEN");
            self.fail(DownReason::NotificationSent(n.clone()), Some(n), now, out);
            return;
        }
        let negotiated = Negotiated::new(&self.local_open, &open, &self.speaker, &self.config);
        self.connect_retry_timer = None;
        out.push(Action::Send(Message::Keepalive));
        self.negotiated = Some(negotiated);
        self.restart_hold(now);
        self.restart_keepalive(now);
        self.state = State::OpenConfirm;
    }

    /// The first session since our restart is established: later OPENs no longer set the
    /// Restart State bit (RFC 4724 §4.1 describes the OPEN sent after a restart).
    fn restart_is_over(&mut self) {
        if self.config.restarting {
            self.config.restarting = false;
            self.local_open = local_open(&self.speaker, &self.config);
        }
    }

    fn decode_error(&mut self, e: DecodeError, now: Instant, out: &mut Vec<Action>) {
        match (&e.action, e.notification_to_send()) {
            (CodecAction::SessionReset(_), Some(n)) => {
                tracing::warn!(peer = %self.config.address, error = %e, "malformed message");
                let n = n.clone();
                self.fail(DownReason::NotificationSent(n.clone()), Some(n), now, out);
            }
            // A malformed NOTIFICATION: close without answering (RFC 4271 §6.4). The codec
            // only rejects a NOTIFICATION too short to hold its error code and subcode, so
            // what the peer meant is unknown; the NOTIFICATION in the error is the one we
            // would have sent, not the peer's: only what was wrong is reported.
            (CodecAction::SessionReset(_), None) => {
                tracing::warn!(
                    peer = %self.config.address,
                    error = %e.kind,
                    "peer sent a malformed NOTIFICATION; closing without a reply"
                );
                let reason = DownReason::MalformedNotificationReceived(e.kind.to_string());
                self.fail(reason, None, now, out);
            }
            // Softer actions only come with a decoded UPDATE (Update::errors); nothing to do.
            _ => {}
        }
    }

    /// Tears the connection down after an error: optional NOTIFICATION, close, Idle, and an
    /// automatic restart later unless the operator stopped the session.
    fn fail(
        &mut self,
        reason: DownReason,
        notification: Option<Notification>,
        now: Instant,
        out: &mut Vec<Action>,
    ) {
        if let Some(n) = notification {
            out.push(Action::Send(Message::Notification(n)));
        }
        out.push(Action::CloseConnection);
        if self.state == State::Established {
            out.push(Action::SessionDown(reason.clone()));
        }
        tracing::info!(peer = %self.config.address, state = %self.state, %reason, "BGP connection closed");
        self.last_error = Some(reason);
        self.connect_retry_counter = self.connect_retry_counter.saturating_add(1);
        self.clear_timers();
        self.negotiated = None;
        self.state = State::Idle;
        if self.admin_up {
            self.idle_hold_timer = Some(now + self.config.idle_hold_time);
        }
    }

    fn connection_failed_to_active(&mut self, now: Instant) {
        self.connect_retry_counter = self.connect_retry_counter.saturating_add(1);
        self.last_error = Some(DownReason::ConnectionLost);
        self.connect_retry_timer = (!self.passive).then(|| now + self.config.connect_retry_time);
        self.state = State::Active;
    }

    fn clear_timers(&mut self) {
        self.connect_retry_timer = None;
        self.hold_timer = None;
        self.keepalive_timer = None;
    }

    fn restart_hold(&mut self, now: Instant) {
        self.hold_timer = self
            .negotiated
            .as_ref()
            .filter(|n| !n.hold_time.is_zero())
            .map(|n| now + n.hold_time);
    }

    fn restart_keepalive(&mut self, now: Instant) {
        self.keepalive_timer = self
            .negotiated
            .as_ref()
            .filter(|n| !n.keepalive_time.is_zero())
            .map(|n| now + n.keepalive_time);
    }
}
