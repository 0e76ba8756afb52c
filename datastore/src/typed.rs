//! Calico v3 resources on top of a [`Datastore`]: typed get/list/create/update/apply/delete and
//! an atomic multi-resource [`ResourceStore::commit`].
//!
//! Storage follows Calico's etcd layout (`model::keys`): the value is the resource's JSON
//! without `metadata.resourceVersion`; on read, `resourceVersion` is the key's mod revision as
//! a decimal string, so a resource read and written back is a compare-and-swap on that
//! revision. `uid` and `creationTimestamp` are stamped on create (from an injected
//! [`Stamps`] source, never a global clock) and kept on every later write.
//!
//! [`ResourceStore::commit`] writes any number of resources in one etcd transaction with one
//! compare per key. If a compare fails nothing is written, and the error names the resource and
//! why (already exists / does not exist / modified concurrently). The first commit into an empty
//! cluster also creates ClusterInformation `default` (datastoreReady, clusterGUID,
//! calicoVersion, clusterType) inside the same transaction.
//!
//! This layer does not validate resources: callers validate first.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use model::resources::{Kind, Resource};

use crate::{Datastore, KeyValue, Revision, TxnOpResult};

mod plan;
mod stamps;

use plan::{Attempt, Plan, decode};
pub use stamps::{SequenceStamps, Stamps, SystemStamps};

/// How many times a commit is retried when a resource it read (without a caller-given
/// resourceVersion) changed before the transaction ran.
pub(crate) const COMMIT_ATTEMPTS: usize = 5;

/// A resource's identity: kind, namespace (namespaced kinds only) and name. Displays as
/// calicoctl names resources in errors: `IPPool(pool-1)`, `NetworkPolicy(ns/name)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceId {
    pub kind: Kind,
    pub namespace: Option<String>,
    pub name: String,
}

impl ResourceId {
    pub fn new(kind: Kind, namespace: Option<&str>, name: &str) -> Self {
        ResourceId {
            kind,
            namespace: namespace
                .filter(|ns| kind.namespaced() && !ns.is_empty())
                .map(str::to_string),
            name: name.to_string(),
        }
    }

    pub fn of(r: &Resource) -> Self {
        let m = r.metadata();
        ResourceId::new(r.kind(), m.namespace.as_deref(), &m.name)
    }

    /// The etcd key (for the IPAM kinds, which this layer refuses, the v3-style key).
    pub fn key(&self) -> String {
        model::keys::key(self.kind, self.namespace.as_deref(), &self.name)
    }
}

impl fmt::Display for ResourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{}({}/{})", self.kind, ns, self.name),
            None => write!(f, "{}({})", self.kind, self.name),
        }
    }
}

/// Errors of the typed layer. Each names the resource (or key) concerned.
#[derive(Debug, thiserror::Error)]
pub enum TypedError {
    #[error("resource already exists: {0}")]
    AlreadyExists(ResourceId),
    #[error("resource does not exist: {0}")]
    NotFound(ResourceId),
    #[error(
        "update conflict: {id}: resourceVersion {expected} is out of date (latest: {actual}); \
         get the resource again and reapply the change"
    )]
    Conflict {
        id: ResourceId,
        expected: String,
        actual: String,
    },
    #[error("{id}: resourceVersion {value:?} is not a revision: use the value a get returned")]
    BadResourceVersion { id: ResourceId, value: String },
    #[error("{0} appears more than once in one write")]
    Duplicate(ResourceId),
    #[error("stored value at {key} is not a valid resource: {reason}")]
    Decode { key: String, reason: String },
    #[error(
        "{0} resources are not stored as v3 resources (IPAM keeps its own layout under \
         /calico/ipam/v2/): this layer does not handle them"
    )]
    Unsupported(Kind),
    #[error("{0}: resource changed concurrently on every one of {COMMIT_ATTEMPTS} attempts")]
    Contended(ResourceId),
    #[error(transparent)]
    Datastore(#[from] crate::Error),
}

pub type TypedResult<T> = std::result::Result<T, TypedError>;

/// Whether this layer stores `kind`: every kind but the IPAM ones, whose keys and values follow
/// Calico's v1 IPAM layout.
pub fn supported(kind: Kind) -> TypedResult<()> {
    match kind {
        Kind::IPAMBlock | Kind::BlockAffinity | Kind::IPAMHandle | Kind::IPAMConfiguration => {
            Err(TypedError::Unsupported(kind))
        }
        _ => Ok(()),
    }
}

/// One write of a [`ResourceStore::commit`].
#[derive(Debug, Clone)]
pub enum Write {
    /// Create; fails if the resource exists.
    Create(Resource),
    /// Replace an existing resource; compare-and-swap on `metadata.resourceVersion` when set.
    Replace(Resource),
    /// Create, or replace if it exists (compare-and-swap on `resourceVersion` when set and the
    /// resource exists).
    Apply(Resource),
    /// Delete an existing resource; compare-and-swap on `resource_version` when given.
    Delete {
        id: ResourceId,
        resource_version: Option<String>,
    },
}

impl Write {
    pub fn id(&self) -> ResourceId {
        match self {
            Write::Create(r) | Write::Replace(r) | Write::Apply(r) => ResourceId::of(r),
            Write::Delete { id, .. } => id.clone(),
        }
    }
}

/// What one write of a successful commit did. Written resources carry their new
/// `resourceVersion`, `uid` and `creationTimestamp`.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Created(Resource),
    Replaced(Resource),
    /// `previous` is `None` when the deleted value did not decode.
    Deleted {
        id: ResourceId,
        previous: Option<Resource>,
    },
}

impl Outcome {
    fn into_resource(self) -> Resource {
        match self {
            Outcome::Created(r) | Outcome::Replaced(r) => r,
            Outcome::Deleted { previous, id } => {
                previous.unwrap_or_else(|| unreachable!("into_resource on deletion of {id}"))
            }
        }
    }
}

/// The result of a successful commit: one outcome per write, in order, and the store revision
/// of the transaction.
#[derive(Debug, Clone)]
pub struct Committed {
    pub outcomes: Vec<Outcome>,
    pub revision: Revision,
}

/// Resources of one kind and the store revision they were read at.
#[derive(Debug, Clone)]
pub struct Listed {
    pub items: Vec<Resource>,
    pub revision: Revision,
}

/// Typed access to Calico resources in a datastore.
#[derive(Clone)]
pub struct ResourceStore {
    ds: Arc<dyn Datastore>,
    stamps: Arc<dyn Stamps>,
    calico_version: String,
    cluster_type: String,
}

impl ResourceStore {
    /// A store that stamps new objects from `stamps`. ClusterInformation gets this crate's
    /// version as `calicoVersion` and `clusterType: bgp` unless changed with the setters.
    pub fn new(ds: Arc<dyn Datastore>, stamps: Arc<dyn Stamps>) -> Self {
        ResourceStore {
            ds,
            stamps,
            calico_version: concat!("v", env!("CARGO_PKG_VERSION")).to_string(),
            cluster_type: "bgp".to_string(),
        }
    }

    pub fn with_calico_version(mut self, v: impl Into<String>) -> Self {
        self.calico_version = v.into();
        self
    }

    pub fn with_cluster_type(mut self, t: impl Into<String>) -> Self {
        self.cluster_type = t.into();
        self
    }

    /// The underlying datastore.
    pub fn datastore(&self) -> &Arc<dyn Datastore> {
        &self.ds
    }

    /// One resource, or `None` if it does not exist.
    pub async fn get(
        &self,
        kind: Kind,
        namespace: Option<&str>,
        name: &str,
    ) -> TypedResult<Option<Resource>> {
        supported(kind)?;
        let id = ResourceId::new(kind, namespace, name);
        let (kv, _) = self.ds.get(&id.key()).await?;
        kv.map(|kv| decode(kind, &kv)).transpose()
    }

    /// Every resource of `kind`; for namespaced kinds only those in `namespace` when given,
    /// across all namespaces when `None`.
    pub async fn list(&self, kind: Kind, namespace: Option<&str>) -> TypedResult<Listed> {
        supported(kind)?;
        let namespace = namespace.filter(|_| kind.namespaced());
        let prefix = model::keys::prefix(kind, namespace);
        let listed = self.ds.list(&prefix, None).await?;
        let items = listed
            .kvs
            .iter()
            .map(|kv| decode(kind, kv))
            .collect::<TypedResult<Vec<_>>>()?;
        Ok(Listed {
            items,
            revision: listed.revision,
        })
    }

    /// Creates `r`; [`TypedError::AlreadyExists`] if it exists.
    pub async fn create(&self, r: Resource) -> TypedResult<Resource> {
        Ok(self.single(Write::Create(r)).await?.into_resource())
    }

    /// Replaces an existing `r`: [`TypedError::NotFound`] if absent, [`TypedError::Conflict`]
    /// if `metadata.resourceVersion` is set and stale.
    pub async fn update(&self, r: Resource) -> TypedResult<Resource> {
        Ok(self.single(Write::Replace(r)).await?.into_resource())
    }

    /// Creates or replaces `r`.
    pub async fn apply(&self, r: Resource) -> TypedResult<Resource> {
        Ok(self.single(Write::Apply(r)).await?.into_resource())
    }

    /// Deletes a resource, compare-and-swap on `resource_version` when given; returns what was
    /// deleted (`None` if the stored value did not decode).
    pub async fn delete(
        &self,
        kind: Kind,
        namespace: Option<&str>,
        name: &str,
        resource_version: Option<&str>,
    ) -> TypedResult<Option<Resource>> {
        let outcome = self
            .single(Write::Delete {
                id: ResourceId::new(kind, namespace, name),
                resource_version: resource_version.map(str::to_string),
            })
            .await?;
        Ok(match outcome {
            Outcome::Deleted { previous, .. } => previous,
            other => Some(other.into_resource()),
        })
    }

    async fn single(&self, w: Write) -> TypedResult<Outcome> {
        let mut done = self.commit(vec![w]).await?;
        match done.outcomes.pop() {
            Some(o) => Ok(o),
            None => unreachable!("a commit of one write has one outcome"),
        }
    }

    /// Writes every resource in one transaction: all or nothing. See the module docs.
    pub async fn commit(&self, writes: Vec<Write>) -> TypedResult<Committed> {
        let mut seen = HashSet::new();
        for w in &writes {
            let id = w.id();
            supported(id.kind)?;
            if !seen.insert(id.clone()) {
                return Err(TypedError::Duplicate(id));
            }
        }
        let mut last_contended = None;
        for _ in 0..COMMIT_ATTEMPTS {
            match self.try_commit(&writes).await? {
                Attempt::Done(c) => return Ok(c),
                Attempt::Retry(id) => last_contended = Some(id),
            }
        }
        Err(TypedError::Contended(last_contended.unwrap_or_else(|| {
            ResourceId::new(Kind::ClusterInformation, None, "default")
        })))
    }

    async fn try_commit(&self, writes: &[Write]) -> TypedResult<Attempt> {
        let mut plan = Plan::default();
        for w in writes {
            let id = w.id();
            let key = id.key();
            let (current, _) = self.ds.get(&key).await?;
            plan.add(w, id, key, current, self.stamps.as_ref())?;
        }
        if !writes.is_empty() {
            self.ensure_cluster_information(&mut plan, writes).await?;
        }
        let txn = plan.txn();
        let resp = self.ds.txn(txn).await?;
        if resp.succeeded {
            return Ok(Attempt::Done(plan.committed(resp.revision)));
        }
        let fresh: Vec<Option<KeyValue>> = resp
            .results
            .into_iter()
            .map(|r| match r {
                TxnOpResult::Get { kv } => kv,
                _ => None,
            })
            .collect();
        plan.diagnose(&fresh)
    }

    /// Adds the creation of ClusterInformation `default` to `plan` when it does not exist and
    /// the batch does not write it itself.
    async fn ensure_cluster_information(
        &self,
        plan: &mut Plan,
        writes: &[Write],
    ) -> TypedResult<()> {
        let id = ResourceId::new(Kind::ClusterInformation, None, "default");
        if writes.iter().any(|w| w.id() == id) {
            return Ok(());
        }
        let key = id.key();
        let (current, _) = self.ds.get(&key).await?;
        if current.is_some() {
            return Ok(());
        }
        let value = serde_json::json!({
            "apiVersion": model::resources::API_VERSION,
            "kind": "ClusterInformation",
            "metadata": {"name": "default"},
            "spec": {
                "clusterGUID": self.stamps.cluster_guid(),
                "clusterType": self.cluster_type,
                "calicoVersion": self.calico_version,
                "datastoreReady": true,
            }
        });
        let ci = Resource::from_value(value).map_err(|e| TypedError::Decode {
            key: key.clone(),
            reason: e.to_string(),
        })?;
        plan.add_cluster_information(id, key, ci, self.stamps.as_ref())
    }
}
