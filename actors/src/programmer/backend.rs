//! Where a programmer's reconciler reads and writes, and how: [`Backend`] opens the backend
//! (again at every restart) and says whether `sync` runs on a blocking thread (the kernel
//! backends: netlink sockets, `nft` child processes, sysctl files) or inline (the twins,
//! which never block, so a simulation stays deterministic).
//!
//! [`SharedTwin`] is a twin shared between the programmer and whoever looks at it (a test, the
//! simulation's packet checks); it outlives restarts, as a kernel does.

use std::fmt::Display;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use dataplane::Reconciler;
use dataplane::links::{LinkBackend, LinkError, LinkReconciler, Observation, Op, OpError};
use dataplane::netns::NetnsRef;
use dataplane::policy::{PolicyBackend, PolicyError, PolicyReconciler};
use dataplane::routes::{KernelState, Links, OpFailure, RouteBackend, RouteError};
use dataplane::routes::{RouteOp, RouteReconciler};

/// An opened backend of reconciler `R`, movable to a blocking thread.
pub trait AsBackend<R: Reconciler>: Send {
    /// The backend as the reconciler's `sync` takes it.
    fn backend(&mut self) -> &mut R::Backend;
}

impl<B: RouteBackend + Send + 'static> AsBackend<RouteReconciler> for B {
    fn backend(&mut self) -> &mut (dyn RouteBackend + 'static) {
        self
    }
}

impl<B: PolicyBackend + Send + 'static> AsBackend<PolicyReconciler> for B {
    fn backend(&mut self) -> &mut (dyn PolicyBackend + 'static) {
        self
    }
}

impl<B: LinkBackend + Send + 'static> AsBackend<LinkReconciler> for B {
    fn backend(&mut self) -> &mut (dyn LinkBackend + 'static) {
        self
    }
}

/// An opened backend.
pub type OpenedBackend<R> = Box<dyn AsBackend<R>>;

type Open<R> = Arc<dyn Fn() -> Result<OpenedBackend<R>, String> + Send + Sync>;

/// How a programmer gets its backend and runs `sync` on it (see the module docs). Cloning
/// shares the opener.
pub struct Backend<R: Reconciler> {
    open: Open<R>,
    blocking: bool,
    what: String,
}

impl<R: Reconciler> Clone for Backend<R> {
    fn clone(&self) -> Self {
        Backend {
            open: Arc::clone(&self.open),
            blocking: self.blocking,
            what: self.what.clone(),
        }
    }
}

impl<R: Reconciler> std::fmt::Debug for Backend<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend")
            .field("what", &self.what)
            .field("blocking", &self.blocking)
            .finish()
    }
}

impl<R: Reconciler + 'static> Backend<R> {
    /// A backend whose I/O blocks: `open` and every `sync` run on tokio's blocking threads
    /// (`spawn_blocking`, the reconciler and the backend moved in and back out), so the
    /// runtime that carries the BGP sessions' timers is never held up.
    pub fn blocking<B, E>(
        what: impl Into<String>,
        open: impl Fn() -> Result<B, E> + Send + Sync + 'static,
    ) -> Self
    where
        B: AsBackend<R> + 'static,
        E: Display,
    {
        Backend {
            open: opener(open),
            blocking: true,
            what: what.into(),
        }
    }

    /// A backend that never blocks (a twin, or a wrapper of one): `open` and `sync` run
    /// inline on the actor's task, so under a simulated clock the run is deterministic.
    pub fn inline<B, E>(
        what: impl Into<String>,
        open: impl Fn() -> Result<B, E> + Send + Sync + 'static,
    ) -> Self
    where
        B: AsBackend<R> + 'static,
        E: Display,
    {
        Backend {
            open: opener(open),
            blocking: false,
            what: what.into(),
        }
    }

    /// A shared twin, synced inline; every (re)start finds it as the last incarnation left
    /// it.
    pub fn twin<T>(twin: &SharedTwin<T>) -> Self
    where
        T: Send + 'static,
        SharedTwin<T>: AsBackend<R>,
    {
        let twin = twin.clone();
        Backend::inline("twin", move || {
            Ok::<_, std::convert::Infallible>(twin.clone())
        })
    }

    /// Whether `sync` runs on a blocking thread.
    pub fn is_blocking(&self) -> bool {
        self.blocking
    }

    /// What the backend is, for logs.
    pub fn what(&self) -> &str {
        &self.what
    }

    /// Opens the backend (on a blocking thread when it blocks). The error names the backend.
    pub async fn open(&self) -> Result<OpenedBackend<R>, String> {
        let open = Arc::clone(&self.open);
        let opened = if self.blocking {
            tokio::task::spawn_blocking(move || open())
                .await
                .map_err(|e| format!("opening {} panicked: {e}", self.what))?
        } else {
            open()
        };
        opened.map_err(|e| format!("cannot open {}: {e}", self.what))
    }
}

fn opener<R, B, E>(open: impl Fn() -> Result<B, E> + Send + Sync + 'static) -> Open<R>
where
    R: Reconciler,
    B: AsBackend<R> + 'static,
    E: Display,
{
    Arc::new(move || match open() {
        Ok(b) => Ok(Box::new(b) as OpenedBackend<R>),
        Err(e) => Err(e.to_string()),
    })
}

/// The kernel's routes in `netns` (table main, over the netlink socket), synced on blocking
/// threads.
pub fn kernel_routes(netns: NetnsRef) -> Backend<RouteReconciler> {
    Backend::blocking(format!("routes in {netns}"), move || {
        dataplane::routes::KernelRoutes::open(&netns)
    })
}

/// The kernel's `calico` nftables table in `netns`, synced on blocking threads.
pub fn kernel_policy(netns: NetnsRef) -> Backend<PolicyReconciler> {
    Backend::blocking(format!("nftables in {netns}"), move || {
        Ok::<_, std::convert::Infallible>(dataplane::policy::KernelPolicy::new(netns.clone()))
    })
}

/// The kernel's workload interfaces in `netns`, synced on blocking threads.
pub fn kernel_links(netns: NetnsRef) -> Backend<LinkReconciler> {
    Backend::blocking(format!("workload interfaces in {netns}"), move || {
        Ok::<_, std::convert::Infallible>(dataplane::links::KernelLinks::new(netns.clone()))
    })
}

/// A twin (`RouteTwin`, `PolicyTwin`, `LinkTwin`, or a wrapper of one) shared by the
/// programmer and its observers. Cloning shares it. A lock poisoned by a panic still holds
/// the twin as it was.
pub struct SharedTwin<T>(Arc<Mutex<T>>);

impl<T> Clone for SharedTwin<T> {
    fn clone(&self) -> Self {
        SharedTwin(Arc::clone(&self.0))
    }
}

impl<T: Default> Default for SharedTwin<T> {
    fn default() -> Self {
        SharedTwin::new(T::default())
    }
}

impl<T> std::fmt::Debug for SharedTwin<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedTwin")
    }
}

impl<T> SharedTwin<T> {
    pub fn new(twin: T) -> Self {
        SharedTwin(Arc::new(Mutex::new(twin)))
    }

    /// The twin, locked.
    pub fn lock(&self) -> MutexGuard<'_, T> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the twin.
    pub fn with<X>(&self, f: impl FnOnce(&mut T) -> X) -> X {
        f(&mut self.lock())
    }
}

impl<T: RouteBackend> RouteBackend for SharedTwin<T> {
    fn read(&mut self) -> Result<KernelState, RouteError> {
        self.lock().read()
    }

    fn read_links(&mut self) -> Result<Links, RouteError> {
        self.lock().read_links()
    }

    fn apply(&mut self, ops: &[RouteOp]) -> Result<Vec<OpFailure>, RouteError> {
        self.lock().apply(ops)
    }
}

impl<T: PolicyBackend> PolicyBackend for SharedTwin<T> {
    fn apply(&mut self, tx: &dataplane::policy::ops::Transaction) -> Result<(), PolicyError> {
        self.lock().apply(tx)
    }

    fn read(&mut self) -> Result<Option<dataplane::policy::observed::Observed>, PolicyError> {
        self.lock().read()
    }
}

impl<T: LinkBackend> LinkBackend for SharedTwin<T> {
    fn read(
        &mut self,
        names: &std::collections::BTreeSet<String>,
    ) -> Result<Observation, LinkError> {
        self.lock().read(names)
    }

    fn apply(&mut self, ops: &[Op]) -> Vec<OpError> {
        self.lock().apply(ops)
    }
}
