//! Connection collision detection (RFC 4271 §6.8): when both speakers connect to each other,
//! one of the two connections must be closed, and both sides must pick the same one.

use std::net::Ipv4Addr;

use super::event::State;

/// Who opened a TCP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// We connected to the peer.
    Outbound,
    /// The peer connected to us.
    Inbound,
}

/// Which of two connections to the same peer to close (with CEASE / Connection Collision
/// Resolution).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CollisionVerdict {
    /// No collision to resolve: the existing connection has not got far enough.
    NoCollision,
    CloseExisting,
    CloseNew,
}

/// Decides a collision between `existing` (in `existing_state`) and a `new` connection on
/// which the peer's OPEN, carrying `remote_id`, has just arrived.
///
/// * An Established connection always wins (§6.8: collision with Established is resolved in
///   its favour unless configured otherwise).
/// * Against OpenConfirm, and OpenSent when the peer's identifier is known (it is: the new
///   connection's OPEN carried it), the connection opened by the speaker with the higher BGP
///   identifier survives: if ours is lower, close the one we opened; otherwise the one the
///   peer opened. Identifiers compare as unsigned 32-bit integers.
/// * Against Idle, Connect or Active there is nothing to resolve.
pub fn resolve_collision(
    existing_state: State,
    existing: Direction,
    new: Direction,
    local_id: Ipv4Addr,
    remote_id: Ipv4Addr,
) -> CollisionVerdict {
    match existing_state {
        State::Idle | State::Connect | State::Active => CollisionVerdict::NoCollision,
        State::Established => CollisionVerdict::CloseNew,
        State::OpenSent | State::OpenConfirm => {
            if existing == new {
                return CollisionVerdict::CloseNew;
            }
            let close = if u32::from(local_id) < u32::from(remote_id) {
                Direction::Outbound
            } else {
                Direction::Inbound
            };
            if existing == close {
                CollisionVerdict::CloseExisting
            } else {
                CollisionVerdict::CloseNew
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOW: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const HIGH: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

    #[test]
    fn speaker_with_the_higher_identifier_keeps_the_connection_it_opened() {
        use CollisionVerdict::*;
        use Direction::*;
        #[rustfmt::skip]
        let table = [
            // (existing state, existing, new, local id, remote id) -> verdict
            (State::OpenConfirm, Outbound, Inbound, LOW, HIGH, CloseExisting),
            (State::OpenConfirm, Outbound, Inbound, HIGH, LOW, CloseNew),
            (State::OpenConfirm, Inbound, Outbound, LOW, HIGH, CloseNew),
            (State::OpenConfirm, Inbound, Outbound, HIGH, LOW, CloseExisting),
            (State::OpenSent, Outbound, Inbound, LOW, HIGH, CloseExisting),
            (State::OpenSent, Outbound, Inbound, HIGH, LOW, CloseNew),
            (State::Established, Outbound, Inbound, LOW, HIGH, CloseNew),
            (State::Established, Inbound, Outbound, HIGH, LOW, CloseNew),
            (State::Active, Outbound, Inbound, LOW, HIGH, NoCollision),
            (State::Connect, Outbound, Inbound, HIGH, LOW, NoCollision),
            (State::Idle, Outbound, Inbound, HIGH, LOW, NoCollision),
        ];
        for (state, existing, new, local, remote, verdict) in table {
            assert_eq!(
                resolve_collision(state, existing, new, local, remote),
                verdict,
                "{state} {existing:?} vs {new:?}, local {local} remote {remote}"
            );
        }
    }

    #[test]
    fn both_speakers_close_the_same_connection() {
        // Our outbound is the peer's inbound; each side sees the other's identifiers.
        for state in [State::OpenSent, State::OpenConfirm] {
            let ours = resolve_collision(state, Direction::Outbound, Direction::Inbound, LOW, HIGH);
            let theirs =
                resolve_collision(state, Direction::Inbound, Direction::Outbound, HIGH, LOW);
            // We close our existing (outbound) connection; the peer, whose existing one is
            // that same connection seen inbound, closes it too, so the peer's outbound survives.
            assert_eq!(ours, CollisionVerdict::CloseExisting);
            assert_eq!(theirs, CollisionVerdict::CloseExisting);
        }
    }

    #[test]
    fn identifiers_compare_as_unsigned_integers() {
        let big = Ipv4Addr::new(200, 0, 0, 1);
        let small = Ipv4Addr::new(9, 255, 255, 255);
        assert_eq!(
            resolve_collision(
                State::OpenConfirm,
                Direction::Outbound,
                Direction::Inbound,
                small,
                big
            ),
            CollisionVerdict::CloseExisting
        );
    }
}
