//! Programs a host namespace's nftables policy from Calico YAML, the way calico-node will:
//! resolve the host's policy, plan with the policy reconciler, apply one transaction. The same
//! transaction goes to a policy twin, so tests can compare the kernel with it.

use std::time::Instant;

use dataplane::netns::NetnsRef;
use dataplane::policy::reconciler::PolicyReconciler;
use dataplane::policy::twin::PolicyTwin;
use dataplane::policy::{KernelPolicy, PolicyBackend};
use model::policy::{HostPolicy, Snapshot, resolve};

/// What was programmed: the resources, the host's resolved policy, and the twin.
pub struct Programmed {
    pub snapshot: Snapshot,
    pub host_policy: HostPolicy,
    pub twin: PolicyTwin,
}

/// Resolves `yaml` for `node` and programs it into `ns`. Panics (this is test support) with
/// the problem when the YAML is invalid, resolution reports a problem or a write fails.
pub fn program(ns: &NetnsRef, node: &str, yaml: &str) -> Programmed {
    let resources = model::document::resources_from_text(yaml, node)
        .unwrap_or_else(|e| panic!("resources for {node}: {e}"));
    program_snapshot(ns, node, Snapshot::from_resources(resources))
}

/// As [`program`], from resources already read.
pub fn program_snapshot(ns: &NetnsRef, node: &str, snapshot: Snapshot) -> Programmed {
    let host_policy = resolve(&snapshot, node);
    assert!(
        host_policy.problems.is_empty(),
        "{node}: {:?}",
        host_policy.problems
    );
    let mut kernel = KernelPolicy::new(ns.clone());
    let mut reconciler = PolicyReconciler::default();
    reconciler.set_host_policy(&host_policy);
    reconciler.set_complete();
    reconciler.observed(kernel.read().expect("read the table"), Instant::now());
    let tx = reconciler.plan(Instant::now()).expect("a transaction");
    kernel.apply(&tx).unwrap_or_else(|e| panic!("{node}: {e}"));
    reconciler.applied(&tx);
    let mut twin = PolicyTwin::new();
    twin.apply(&tx)
        .unwrap_or_else(|e| panic!("{node}: twin: {e}"));
    Programmed {
        snapshot,
        host_policy,
        twin,
    }
}
