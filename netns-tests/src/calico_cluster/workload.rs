//! One workload of a [`super::CalicoCluster`]: a namespace of its own, plumbed to its host as
//! Calico's CNI plugin does (a veth named `cali` + 11 hex of the endpoint, `169.254.1.1` as
//! gateway), and its WorkloadEndpoint written through calicoctl.

use std::io;
use std::net::IpAddr;
use std::path::PathBuf;

use dataplane::links::names::k8s_veth_name;
use dataplane::links::{WorkloadSpec, add_workload, remove_workload};
use dataplane::netns::{Netns, NetnsRef};

use super::{CalicoCluster, CalicoHost};

/// What a workload is made of.
#[derive(Clone, Debug)]
pub struct WorkloadOptions {
    pub namespace: String,
    pub pod: String,
    pub ip: IpAddr,
    /// Labels besides `projectcalico.org/namespace`.
    pub labels: Vec<(String, String)>,
}

/// See the module docs.
pub struct Workload {
    pub host: String,
    pub namespace: String,
    pub pod: String,
    pub ip: IpAddr,
    pub iface: String,
    /// The WorkloadEndpoint's name.
    pub endpoint: String,
    host_ns: NetnsRef,
    pub ns: Netns,
}

impl Workload {
    /// Plumbs the workload on `host` and records its WorkloadEndpoint.
    pub fn add(
        cluster: &CalicoCluster,
        host: &CalicoHost,
        o: &WorkloadOptions,
    ) -> io::Result<Workload> {
        let ns = Netns::create(&format!("{}-wl", host.ns.name()))?;
        let iface = k8s_veth_name(&o.namespace, &o.pod);
        let path = PathBuf::from(format!("/run/netns/{}", ns.name()));
        let plumbed = add_workload(
            &host.ns.as_ref(),
            &path,
            &WorkloadSpec::new(iface.clone(), vec![o.ip]),
        )
        .map_err(io::Error::other)?;
        let endpoint = model::names::WorkloadEndpointIdentifiers {
            node: host.name.clone(),
            orchestrator: "k8s".into(),
            pod: o.pod.clone(),
            endpoint: "eth0".into(),
            ..Default::default()
        }
        .name()
        .map_err(io::Error::other)?;
        let mut labels = format!(
            "    projectcalico.org/namespace: {}\n    projectcalico.org/orchestrator: k8s\n",
            o.namespace
        );
        for (k, v) in &o.labels {
            labels.push_str(&format!("    {k}: {v}\n"));
        }
        let prefix = if o.ip.is_ipv4() { 32 } else { 128 };
        cluster.apply(&format!(
            "apiVersion: projectcalico.org/v3
kind: WorkloadEndpoint
metadata:
  name: {endpoint}
  namespace: {ns}
  labels:
{labels}spec:
  node: {node}
  orchestrator: k8s
  pod: {pod}
  endpoint: eth0
  interfaceName: {iface}
  mac: {mac}
  ipNetworks: [{ip}/{prefix}]
  profiles: [kns.{ns}]
",
            ns = o.namespace,
            node = host.name,
            pod = o.pod,
            mac = plumbed.workload_mac,
            ip = o.ip,
        ))?;
        Ok(Workload {
            host: host.name.clone(),
            namespace: o.namespace.clone(),
            pod: o.pod.clone(),
            ip: o.ip,
            iface,
            endpoint,
            host_ns: host.ns.as_ref(),
            ns,
        })
    }

    /// Deletes the WorkloadEndpoint and the veth, as the CNI plugin does on DEL.
    pub fn remove(self, cluster: &CalicoCluster) -> io::Result<()> {
        let out = cluster.calicoctl(&[
            "delete",
            "workloadendpoint",
            &self.endpoint,
            "-n",
            &self.namespace,
        ])?;
        super::checked(out, "delete workloadendpoint")?;
        remove_workload(&self.host_ns, &self.iface).map_err(io::Error::other)?;
        Ok(())
    }
}
