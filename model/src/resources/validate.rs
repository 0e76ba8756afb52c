//! Whole-resource validation: metadata rules that depend on the kind (name formats, scope),
//! then the kind's spec.

use super::policy::{is_valid_global_network_policy_name, is_valid_network_policy_name};
use super::{Kind, ObjectMeta, Resource, ValidationErrors};
use crate::validation::{Validate, Validator, k8s};

const NAME_LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";

fn check_name(v: &mut Validator, kind: Kind, name: &str) {
    let problems = match kind {
        Kind::Tier => k8s::label_name_problems(name, k8s::DNS1123_LABEL_MAX),
        Kind::NetworkPolicy | Kind::GlobalNetworkPolicy => {
            let mut p = Vec::new();
            if name.is_empty() {
                p.push("name must be specified".to_owned());
            } else {
                if name.len() > k8s::DNS1123_SUBDOMAIN_MAX {
                    p.push(format!(
                        "name is too long by {} bytes",
                        name.len() - k8s::DNS1123_SUBDOMAIN_MAX
                    ));
                }
                let ok = if kind == Kind::NetworkPolicy {
                    is_valid_network_policy_name(name)
                } else {
                    is_valid_global_network_policy_name(name)
                };
                if !ok {
                    p.push(format!(
                        "name {name:?} must consist of lower case alphanumeric characters or '-' \
                         (regex: {NAME_LABEL_FMT}), with at most one '.'"
                    ));
                }
            }
            p
        }
        _ => k8s::resource_name_problems(name),
    };
    for p in problems {
        v.report_at("name", name, p);
    }
}

fn check_metadata(v: &mut Validator, kind: Kind, meta: &ObjectMeta) {
    check_name(v, kind, &meta.name);
    match (kind.namespaced(), meta.namespace()) {
        (true, None) => v.report_at(
            "namespace",
            "",
            format!("namespace must be specified for a {kind}"),
        ),
        (true, Some(ns)) => {
            for p in k8s::label_name_problems(ns, k8s::DNS1123_LABEL_MAX) {
                v.report_at("namespace", ns, format!("invalid namespace: {p}"));
            }
        }
        (false, Some(ns)) => v.report_at(
            "namespace",
            ns,
            format!("{kind} is not namespaced; namespace must not be set"),
        ),
        (false, None) => {}
    }
    k8s::check_labels(v, "labels", &meta.labels);
    k8s::check_annotations(v, "annotations", &meta.annotations);
    if matches!(kind, Kind::NetworkSet | Kind::GlobalNetworkSet)
        && meta.labels.contains_key("projectcalico.org/namespace")
    {
        v.report_at(
            "labels",
            "projectcalico.org/namespace",
            "projectcalico.org/namespace is not a valid label name",
        );
    }
}

fn spec<T: Validate>(v: &mut Validator, spec: &T) {
    v.nested("spec", spec);
}

pub(super) fn validate(r: &Resource) -> Result<(), ValidationErrors> {
    let mut v = Validator::new();
    let kind = r.kind();
    v.field("metadata", |v| check_metadata(v, kind, r.metadata()));
    match r {
        Resource::Node(n) => spec(&mut v, &n.spec),
        Resource::WorkloadEndpoint(w) => {
            spec(&mut v, &w.spec);
            w.check_name(&mut v);
        }
        Resource::HostEndpoint(h) => spec(&mut v, &h.spec),
        Resource::Profile(p) => spec(&mut v, &p.spec),
        Resource::NetworkPolicy(p) => spec(&mut v, &p.spec),
        Resource::GlobalNetworkPolicy(p) => spec(&mut v, &p.spec),
        Resource::Tier(t) => t.validate(&mut v),
        Resource::NetworkSet(s) => spec(&mut v, &s.spec),
        Resource::GlobalNetworkSet(s) => spec(&mut v, &s.spec),
        Resource::IPPool(p) => spec(&mut v, &p.spec),
        Resource::BGPPeer(p) => spec(&mut v, &p.spec),
        Resource::BGPConfiguration(c) => spec(&mut v, &c.spec),
        Resource::FelixConfiguration(c) => {
            spec(&mut v, c.spec.as_ref());
            let name = c.metadata.name.as_str();
            if !c.spec.node_selector.is_empty() && (name == "default" || name.starts_with("node."))
            {
                v.field("spec", |v| {
                    v.report_at(
                        "nodeSelector",
                        c.spec.node_selector.clone(),
                        "nodeSelector must not be set on the 'default' or per-node ('node.*') FelixConfiguration",
                    )
                });
            }
        }
        Resource::ClusterInformation(c) => spec(&mut v, &c.spec),
        Resource::IPAMBlock(b) => spec(&mut v, &b.spec),
        Resource::BlockAffinity(a) => spec(&mut v, &a.spec),
        Resource::IPAMHandle(h) => spec(&mut v, &h.spec),
        Resource::IPAMConfiguration(c) => spec(&mut v, &c.spec),
    }
    v.finish()
}
