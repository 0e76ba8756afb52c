//! What goes wrong, named by route: a backend that cannot read or write at all
//! ([`RouteError`]), and why a desired route is not (yet) in the kernel ([`RouteProblem`]).

use nix::errno::Errno;

use super::op::{OpFailure, RouteOp};
use super::route::{KernelRoute, Route};
use crate::netlink::NetlinkError;

/// A backend failure that is not about one route: the socket, a dump, a malformed reply.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    #[error(transparent)]
    Netlink(#[from] NetlinkError),
}

/// Why a desired route is not in the kernel as wanted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RouteProblem {
    /// The route's interface does not exist (yet): the route is not sent, and is retried when
    /// the interface appears or after a backoff.
    #[error("route {route}: interface {iface} does not exist; waiting for it")]
    MissingInterface { route: Route, iface: String },
    /// A route that is not ours holds the destination, out of an interface that is not ours:
    /// it is left alone, and ours is not programmed until it goes (re-checked at every
    /// kernel read).
    #[error("route {route}: destination held by a route that is not ours ({existing}); left alone")]
    Conflict { route: Route, existing: KernelRoute },
    /// The kernel refused an operation; retried with backoff after re-reading the kernel.
    #[error("{verb} {route}: {errno}{}", message.as_deref().map(|m| format!(" ({m})")).unwrap_or_default())]
    Kernel {
        verb: &'static str,
        route: KernelRoute,
        errno: Errno,
        message: Option<String>,
    },
}

impl RouteProblem {
    pub(crate) fn kernel(op: &RouteOp, f: &OpFailure) -> RouteProblem {
        RouteProblem::Kernel {
            verb: op.verb(),
            route: op.route().clone(),
            errno: f.errno,
            message: f.message.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_problem_names_the_operation_route_and_errno() {
        let route = Route::workload("10.65.0.2".parse().unwrap(), "cali1").to_kernel(80, Some(4));
        let p = RouteProblem::kernel(
            &RouteOp::Add(route),
            &OpFailure {
                index: 0,
                errno: Errno::ENODEV,
                message: None,
            },
        );
        let text = p.to_string();
        assert!(text.contains("adding 10.65.0.2/32 dev cali1"), "{text}");
        assert!(text.contains("ENODEV"), "{text}");
    }
}
