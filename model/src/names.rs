//! Names Calico derives from other values (libcalico-go `lib/names`): resource names from
//! CIDRs, and WorkloadEndpoint names from their identifiers.

use ipnet::IpNet;
use thiserror::Error;

/// A resource name for a CIDR: dots, colons and the slash become dashes
/// (`10.0.0.0/26` → `10-0-0-0-26`, `fd00::/122` → `fd00---122`).
pub fn cidr_to_name(net: &IpNet) -> String {
    net.to_string().replace(['.', ':', '/'], "-")
}

/// Why a WorkloadEndpoint name cannot be built.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum WorkloadEndpointNameError {
    #[error("{0} must be set to build a workload endpoint name")]
    Missing(&'static str),
    #[error("{field} {value:?} must not begin or end with '-'")]
    Dash { field: &'static str, value: String },
}

/// The identifiers a WorkloadEndpoint's name is built from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorkloadEndpointIdentifiers {
    pub node: String,
    pub orchestrator: String,
    pub endpoint: String,
    pub workload: String,
    pub pod: String,
    pub container_id: String,
}

impl WorkloadEndpointIdentifiers {
    /// The segments of the name for this orchestrator, with their field names:
    /// `k8s`: node, orchestrator, pod, endpoint; `cni`: node, orchestrator, containerID,
    /// endpoint; `libnetwork`: node, orchestrator, orchestrator, endpoint; otherwise node,
    /// orchestrator, workload, endpoint.
    fn segments(&self) -> [(&'static str, &str); 4] {
        let third = match self.orchestrator.as_str() {
            "k8s" => ("pod", self.pod.as_str()),
            "cni" => ("containerID", self.container_id.as_str()),
            "libnetwork" => ("orchestrator", self.orchestrator.as_str()),
            _ => ("workload", self.workload.as_str()),
        };
        [
            ("node", self.node.as_str()),
            ("orchestrator", self.orchestrator.as_str()),
            third,
            ("endpoint", self.endpoint.as_str()),
        ]
    }

    /// The full name `<node>-<orch>-<workload>-<endpoint>`, each segment with `-` doubled.
    pub fn name(&self) -> Result<String, WorkloadEndpointNameError> {
        let mut parts = Vec::new();
        for (field, value) in self.segments() {
            if value.is_empty() {
                return Err(WorkloadEndpointNameError::Missing(field));
            }
            parts.push(escape(field, value)?);
        }
        Ok(parts.join("-"))
    }

    /// The name prefix up to the first unset segment, ending with `-` (for listing). The node
    /// must be set.
    pub fn name_prefix(&self) -> Result<String, WorkloadEndpointNameError> {
        let mut parts = Vec::new();
        for (field, value) in self.segments() {
            if value.is_empty() {
                if parts.is_empty() {
                    return Err(WorkloadEndpointNameError::Missing(field));
                }
                return Ok(parts.join("-") + "-");
            }
            parts.push(escape(field, value)?);
        }
        Ok(parts.join("-"))
    }
}

fn escape(field: &'static str, value: &str) -> Result<String, WorkloadEndpointNameError> {
    if value.starts_with('-') || value.ends_with('-') {
        return Err(WorkloadEndpointNameError::Dash {
            field,
            value: value.to_owned(),
        });
    }
    Ok(value.replace('-', "--"))
}

/// Splits a name built by [`WorkloadEndpointIdentifiers::name`] back into its segments
/// (single dashes separate, double dashes are an escaped dash).
pub fn split_dash_separated(name: &str) -> Vec<String> {
    let b = name.as_bytes();
    let mut parts = Vec::new();
    let mut start = 0;
    let mut i = 1;
    while i < b.len() {
        if b[i] == b'-' {
            if b.get(i + 1) == Some(&b'-') {
                i += 2;
                continue;
            }
            parts.push(name[start..i].replace("--", "-"));
            start = i + 1;
        }
        i += 1;
    }
    parts.push(name[start..].replace("--", "-"));
    parts
}

/// Parses a WorkloadEndpoint name into its identifiers (as far as the name allows).
pub fn parse_workload_endpoint_name(name: &str) -> Option<WorkloadEndpointIdentifiers> {
    if name.is_empty() {
        return None;
    }
    let parts = split_dash_separated(name);
    let mut ids = WorkloadEndpointIdentifiers {
        node: parts.first()?.clone(),
        ..Default::default()
    };
    if let Some(orch) = parts.get(1) {
        ids.orchestrator = orch.clone();
    }
    if parts.len() > 4 {
        return None;
    }
    if let Some(third) = parts.get(2) {
        match ids.orchestrator.as_str() {
            "k8s" => ids.pod = third.clone(),
            "cni" => ids.container_id = third.clone(),
            "libnetwork" => {}
            _ => ids.workload = third.clone(),
        }
    }
    if let Some(ep) = parts.get(3) {
        ids.endpoint = ep.clone();
    }
    Some(ids)
}
