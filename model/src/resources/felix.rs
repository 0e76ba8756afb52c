//! FelixConfiguration (`default` for the cluster, `node.<name>` per node, or any other name
//! with a `nodeSelector`): the node agent's settings. Every field is optional; unset fields
//! take Felix's defaults (see the accessors in `felix_defaults.rs`).
//!
//! The field list is the union of Calico's `felixconfig.go` and its current CRD, so that
//! documents written for older and newer Calico versions both decode.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::duration::Duration;
use super::meta::ObjectMeta;
use super::numorstring::Port;
use super::scalar;

/// Felix configuration (cluster-wide or per node).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FelixConfiguration {
    pub metadata: ObjectMeta,
    /// Boxed: the spec has some 190 fields and would otherwise make every `Resource` large.
    #[serde(default)]
    pub spec: Box<FelixConfigurationSpec>,
}

/// A protocol, port and optional CIDR (failsafe ports).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProtoPort {
    /// `TCP`, `UDP` or `SCTP`; empty means TCP.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub protocol: String,
    #[serde(default)]
    pub port: u16,
    /// Restricts the failsafe to this CIDR; empty means any address.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub net: String,
}

impl ProtoPort {
    /// A failsafe entry for any address.
    pub fn new(protocol: &str, port: u16) -> ProtoPort {
        ProtoPort {
            protocol: protocol.to_owned(),
            port,
            net: String::new(),
        }
    }
}

/// A range of Linux routing table indices.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteTableRange {
    pub min: i64,
    pub max: i64,
}

/// A per-component override of Felix's internal liveness timeouts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthTimeoutOverride {
    pub name: String,
    pub timeout: Duration,
}

/// Overrides of the BPF dataplane's conntrack timers: a duration or `Auto`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BPFConntrackTimeouts {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_grace_period: Option<String>,
    #[serde(
        default,
        rename = "tcpSynSent",
        skip_serializing_if = "Option::is_none"
    )]
    pub tcp_syn_sent: Option<String>,
    #[serde(
        default,
        rename = "tcpEstablished",
        skip_serializing_if = "Option::is_none"
    )]
    pub tcp_established: Option<String>,
    #[serde(
        default,
        rename = "tcpFinsSeen",
        skip_serializing_if = "Option::is_none"
    )]
    pub tcp_fins_seen: Option<String>,
    #[serde(
        default,
        rename = "tcpResetSeen",
        skip_serializing_if = "Option::is_none"
    )]
    pub tcp_reset_seen: Option<String>,
    #[serde(
        default,
        rename = "udpTimeout",
        skip_serializing_if = "Option::is_none"
    )]
    pub udp_timeout: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generic_timeout: Option<String>,
    #[serde(
        default,
        rename = "icmpTimeout",
        skip_serializing_if = "Option::is_none"
    )]
    pub icmp_timeout: Option<String>,
}

/// The spec of a [`FelixConfiguration`]. JSON names are Calico's (note
/// `externalNodesList`, `wireguardKeepAlive`, `bpfMapSizePerCpuConntrack`, `bpfConntrackMode`).
/// `bpfLogLevel` is always written, as Calico does.
// One field per line pair: this is a table of Calico's names, kept compact on purpose.
#[rustfmt::skip]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FelixConfigurationSpec {
    #[serde(default, rename = "useInternalDataplaneDriver", skip_serializing_if = "Option::is_none")]
    pub use_internal_dataplane_driver: Option<bool>,
    #[serde(default, rename = "dataplaneDriver", skip_serializing_if = "String::is_empty")]
    pub dataplane_driver: String,
    #[serde(default, rename = "dataplaneWatchdogTimeout", skip_serializing_if = "Option::is_none")]
    pub dataplane_watchdog_timeout: Option<Duration>,
    #[serde(default, rename = "ipv6Support", skip_serializing_if = "Option::is_none")]
    pub ipv6_support: Option<bool>,
    #[serde(default, rename = "routeRefreshInterval", skip_serializing_if = "Option::is_none")]
    pub route_refresh_interval: Option<Duration>,
    #[serde(default, rename = "interfaceRefreshInterval", skip_serializing_if = "Option::is_none")]
    pub interface_refresh_interval: Option<Duration>,
    #[serde(default, rename = "iptablesRefreshInterval", skip_serializing_if = "Option::is_none")]
    pub iptables_refresh_interval: Option<Duration>,
    #[serde(default, rename = "iptablesPostWriteCheckInterval", skip_serializing_if = "Option::is_none")]
    pub iptables_post_write_check_interval: Option<Duration>,
    #[serde(default, rename = "iptablesLockFilePath", skip_serializing_if = "String::is_empty")]
    pub iptables_lock_file_path: String,
    #[serde(default, rename = "iptablesLockTimeout", skip_serializing_if = "Option::is_none")]
    pub iptables_lock_timeout: Option<Duration>,
    #[serde(default, rename = "iptablesLockProbeInterval", skip_serializing_if = "Option::is_none")]
    pub iptables_lock_probe_interval: Option<Duration>,
    #[serde(default, rename = "featureDetectOverride", skip_serializing_if = "String::is_empty")]
    pub feature_detect_override: String,
    #[serde(default, rename = "featureGates", skip_serializing_if = "String::is_empty")]
    pub feature_gates: String,
    #[serde(default, rename = "ipsetsRefreshInterval", skip_serializing_if = "Option::is_none")]
    pub ipsets_refresh_interval: Option<Duration>,
    #[serde(default, rename = "maxIpsetSize", skip_serializing_if = "Option::is_none")]
    pub max_ipset_size: Option<i64>,
    #[serde(default, rename = "iptablesBackend", skip_serializing_if = "Option::is_none")]
    pub iptables_backend: Option<String>,
    #[serde(default, rename = "xdpRefreshInterval", skip_serializing_if = "Option::is_none")]
    pub xdp_refresh_interval: Option<Duration>,
    #[serde(default, rename = "netlinkTimeout", skip_serializing_if = "Option::is_none")]
    pub netlink_timeout: Option<Duration>,
    #[serde(default, rename = "metadataAddr", skip_serializing_if = "String::is_empty")]
    pub metadata_addr: String,
    #[serde(default, rename = "metadataPort", skip_serializing_if = "Option::is_none")]
    pub metadata_port: Option<i64>,
    #[serde(default, rename = "openstackRegion", skip_serializing_if = "String::is_empty")]
    pub openstack_region: String,
    #[serde(default, rename = "interfacePrefix", skip_serializing_if = "String::is_empty")]
    pub interface_prefix: String,
    #[serde(default, rename = "interfaceExclude", skip_serializing_if = "String::is_empty")]
    pub interface_exclude: String,
    #[serde(default, rename = "chainInsertMode", skip_serializing_if = "String::is_empty")]
    pub chain_insert_mode: String,
    #[serde(default, rename = "defaultEndpointToHostAction", skip_serializing_if = "String::is_empty")]
    pub default_endpoint_to_host_action: String,
    #[serde(default, rename = "iptablesFilterAllowAction", skip_serializing_if = "String::is_empty")]
    pub iptables_filter_allow_action: String,
    #[serde(default, rename = "iptablesMangleAllowAction", skip_serializing_if = "String::is_empty")]
    pub iptables_mangle_allow_action: String,
    #[serde(default, rename = "iptablesFilterDenyAction", skip_serializing_if = "String::is_empty")]
    pub iptables_filter_deny_action: String,
    #[serde(default, rename = "logPrefix", skip_serializing_if = "String::is_empty")]
    pub log_prefix: String,
    #[serde(default, rename = "logFilePath", skip_serializing_if = "String::is_empty")]
    pub log_file_path: String,
    #[serde(default, rename = "logSeverityFile", skip_serializing_if = "String::is_empty")]
    pub log_severity_file: String,
    #[serde(default, rename = "logSeverityScreen", skip_serializing_if = "String::is_empty")]
    pub log_severity_screen: String,
    #[serde(default, rename = "logSeveritySys", skip_serializing_if = "String::is_empty")]
    pub log_severity_sys: String,
    #[serde(default, rename = "logDebugFilenameRegex", skip_serializing_if = "String::is_empty")]
    pub log_debug_filename_regex: String,
    #[serde(default, rename = "logActionRateLimit", skip_serializing_if = "Option::is_none")]
    pub log_action_rate_limit: Option<String>,
    #[serde(default, rename = "logActionRateLimitBurst", skip_serializing_if = "Option::is_none")]
    pub log_action_rate_limit_burst: Option<i64>,
    #[serde(default, rename = "ipipEnabled", skip_serializing_if = "Option::is_none")]
    pub ipip_enabled: Option<bool>,
    #[serde(default, rename = "ipipMTU", skip_serializing_if = "Option::is_none")]
    pub ipip_mtu: Option<i64>,
    #[serde(default, rename = "vxlanEnabled", skip_serializing_if = "Option::is_none")]
    pub vxlan_enabled: Option<bool>,
    #[serde(default, rename = "vxlanMTU", skip_serializing_if = "Option::is_none")]
    pub vxlan_mtu: Option<i64>,
    #[serde(default, rename = "vxlanMTUV6", skip_serializing_if = "Option::is_none")]
    pub vxlan_mtu_v6: Option<i64>,
    #[serde(default, rename = "vxlanPort", skip_serializing_if = "Option::is_none")]
    pub vxlan_port: Option<i64>,
    #[serde(default, rename = "vxlanVNI", skip_serializing_if = "Option::is_none")]
    pub vxlan_vni: Option<i64>,
    #[serde(default, rename = "allowVXLANPacketsFromWorkloads", skip_serializing_if = "Option::is_none")]
    pub allow_vxlan_packets_from_workloads: Option<bool>,
    #[serde(default, rename = "allowIPIPPacketsFromWorkloads", skip_serializing_if = "Option::is_none")]
    pub allow_ipip_packets_from_workloads: Option<bool>,
    #[serde(default, rename = "reportingInterval", skip_serializing_if = "Option::is_none")]
    pub reporting_interval: Option<Duration>,
    #[serde(default, rename = "reportingTTL", skip_serializing_if = "Option::is_none")]
    pub reporting_ttl: Option<Duration>,
    #[serde(default, rename = "endpointReportingEnabled", skip_serializing_if = "Option::is_none")]
    pub endpoint_reporting_enabled: Option<bool>,
    #[serde(default, rename = "endpointReportingDelay", skip_serializing_if = "Option::is_none")]
    pub endpoint_reporting_delay: Option<Duration>,
    #[serde(default, rename = "endpointStatusPathPrefix", skip_serializing_if = "String::is_empty")]
    pub endpoint_status_path_prefix: String,
    #[serde(default, rename = "iptablesMarkMask", skip_serializing_if = "Option::is_none")]
    pub iptables_mark_mask: Option<u32>,
    #[serde(default, rename = "disableConntrackInvalidCheck", skip_serializing_if = "Option::is_none")]
    pub disable_conntrack_invalid_check: Option<bool>,
    #[serde(default, rename = "healthEnabled", skip_serializing_if = "Option::is_none")]
    pub health_enabled: Option<bool>,
    #[serde(default, rename = "healthHost", skip_serializing_if = "Option::is_none")]
    pub health_host: Option<String>,
    #[serde(default, rename = "healthPort", skip_serializing_if = "Option::is_none")]
    pub health_port: Option<i64>,
    #[serde(default, rename = "healthTimeoutOverrides", skip_serializing_if = "Vec::is_empty")]
    pub health_timeout_overrides: Vec<HealthTimeoutOverride>,
    #[serde(default, rename = "prometheusMetricsEnabled", skip_serializing_if = "Option::is_none")]
    pub prometheus_metrics_enabled: Option<bool>,
    #[serde(default, rename = "prometheusMetricsHost", skip_serializing_if = "String::is_empty")]
    pub prometheus_metrics_host: String,
    #[serde(default, rename = "prometheusMetricsPort", skip_serializing_if = "Option::is_none")]
    pub prometheus_metrics_port: Option<i64>,
    #[serde(default, rename = "prometheusGoMetricsEnabled", skip_serializing_if = "Option::is_none")]
    pub prometheus_go_metrics_enabled: Option<bool>,
    #[serde(default, rename = "prometheusProcessMetricsEnabled", skip_serializing_if = "Option::is_none")]
    pub prometheus_process_metrics_enabled: Option<bool>,
    #[serde(default, rename = "prometheusWireGuardMetricsEnabled", skip_serializing_if = "Option::is_none")]
    pub prometheus_wireguard_metrics_enabled: Option<bool>,
    #[serde(default, rename = "prometheusMetricsCAFile", skip_serializing_if = "String::is_empty")]
    pub prometheus_metrics_ca_file: String,
    #[serde(default, rename = "prometheusMetricsCertFile", skip_serializing_if = "String::is_empty")]
    pub prometheus_metrics_cert_file: String,
    #[serde(default, rename = "prometheusMetricsKeyFile", skip_serializing_if = "String::is_empty")]
    pub prometheus_metrics_key_file: String,
    #[serde(default, rename = "prometheusMetricsClientAuth", skip_serializing_if = "String::is_empty")]
    pub prometheus_metrics_client_auth: String,
    #[serde(default, rename = "failsafeInboundHostPorts", skip_serializing_if = "Option::is_none")]
    pub failsafe_inbound_host_ports: Option<Vec<ProtoPort>>,
    #[serde(default, rename = "failsafeOutboundHostPorts", skip_serializing_if = "Option::is_none")]
    pub failsafe_outbound_host_ports: Option<Vec<ProtoPort>>,
    #[serde(default, rename = "kubeNodePortRanges", skip_serializing_if = "Option::is_none")]
    pub kube_node_port_ranges: Option<Vec<Port>>,
    #[serde(default, rename = "policySyncPathPrefix", skip_serializing_if = "String::is_empty")]
    pub policy_sync_path_prefix: String,
    #[serde(default, rename = "usageReportingEnabled", skip_serializing_if = "Option::is_none")]
    pub usage_reporting_enabled: Option<bool>,
    #[serde(default, rename = "usageReportingInitialDelay", skip_serializing_if = "Option::is_none")]
    pub usage_reporting_initial_delay: Option<Duration>,
    #[serde(default, rename = "usageReportingInterval", skip_serializing_if = "Option::is_none")]
    pub usage_reporting_interval: Option<Duration>,
    #[serde(default, rename = "natPortRange", skip_serializing_if = "Option::is_none")]
    pub nat_port_range: Option<Port>,
    #[serde(default, rename = "natOutgoingAddress", skip_serializing_if = "String::is_empty")]
    pub nat_outgoing_address: String,
    #[serde(default, rename = "natOutgoingExclusions", skip_serializing_if = "Option::is_none")]
    pub nat_outgoing_exclusions: Option<String>,
    #[serde(default, rename = "deviceRouteSourceAddress", skip_serializing_if = "String::is_empty")]
    pub device_route_source_address: String,
    #[serde(default, rename = "deviceRouteSourceAddressIPv6", skip_serializing_if = "String::is_empty")]
    pub device_route_source_address_ipv6: String,
    #[serde(default, rename = "deviceRouteProtocol", skip_serializing_if = "Option::is_none")]
    pub device_route_protocol: Option<i64>,
    #[serde(default, rename = "removeExternalRoutes", skip_serializing_if = "Option::is_none")]
    pub remove_external_routes: Option<bool>,
    #[serde(default, rename = "programClusterRoutes", skip_serializing_if = "Option::is_none")]
    pub program_cluster_routes: Option<String>,
    #[serde(default, rename = "ipForwarding", skip_serializing_if = "String::is_empty")]
    pub ip_forwarding: String,
    #[serde(default, rename = "externalNodesList", skip_serializing_if = "Option::is_none")]
    pub external_nodes_list: Option<Vec<String>>,
    #[serde(default, rename = "debugMemoryProfilePath", skip_serializing_if = "String::is_empty")]
    pub debug_memory_profile_path: String,
    #[serde(default, rename = "debugDisableLogDropping", skip_serializing_if = "Option::is_none")]
    pub debug_disable_log_dropping: Option<bool>,
    #[serde(default, rename = "debugSimulateCalcGraphHangAfter", skip_serializing_if = "Option::is_none")]
    pub debug_simulate_calc_graph_hang_after: Option<Duration>,
    #[serde(default, rename = "debugSimulateDataplaneHangAfter", skip_serializing_if = "Option::is_none")]
    pub debug_simulate_dataplane_hang_after: Option<Duration>,
    #[serde(default, rename = "debugSimulateDataplaneApplyDelay", skip_serializing_if = "Option::is_none")]
    pub debug_simulate_dataplane_apply_delay: Option<Duration>,
    #[serde(default, rename = "debugHost", skip_serializing_if = "Option::is_none")]
    pub debug_host: Option<String>,
    #[serde(default, rename = "debugPort", skip_serializing_if = "Option::is_none")]
    pub debug_port: Option<i64>,
    #[serde(default, rename = "iptablesNATOutgoingInterfaceFilter", skip_serializing_if = "String::is_empty")]
    pub iptables_nat_outgoing_interface_filter: String,
    #[serde(default, rename = "sidecarAccelerationEnabled", skip_serializing_if = "Option::is_none")]
    pub sidecar_acceleration_enabled: Option<bool>,
    #[serde(default, rename = "xdpEnabled", skip_serializing_if = "Option::is_none")]
    pub xdp_enabled: Option<bool>,
    #[serde(default, rename = "genericXDPEnabled", skip_serializing_if = "Option::is_none")]
    pub generic_xdp_enabled: Option<bool>,
    #[serde(default, rename = "nftablesMode", skip_serializing_if = "Option::is_none")]
    pub nftables_mode: Option<String>,
    #[serde(default, rename = "nftablesRefreshInterval", skip_serializing_if = "Option::is_none")]
    pub nftables_refresh_interval: Option<Duration>,
    #[serde(default, rename = "nftablesFilterAllowAction", skip_serializing_if = "String::is_empty")]
    pub nftables_filter_allow_action: String,
    #[serde(default, rename = "nftablesMangleAllowAction", skip_serializing_if = "String::is_empty")]
    pub nftables_mangle_allow_action: String,
    #[serde(default, rename = "nftablesFilterDenyAction", skip_serializing_if = "String::is_empty")]
    pub nftables_filter_deny_action: String,
    #[serde(default, rename = "nftablesMarkMask", skip_serializing_if = "Option::is_none")]
    pub nftables_mark_mask: Option<u32>,
    #[serde(default, rename = "bpfEnabled", skip_serializing_if = "Option::is_none")]
    pub bpf_enabled: Option<bool>,
    #[serde(default, rename = "bpfDisableUnprivileged", skip_serializing_if = "Option::is_none")]
    pub bpf_disable_unprivileged: Option<bool>,
    #[serde(default, rename = "bpfLogLevel")]
    pub bpf_log_level: String,
    #[serde(default, rename = "bpfConntrackLogLevel", skip_serializing_if = "String::is_empty")]
    pub bpf_conntrack_log_level: String,
    #[serde(default, rename = "bpfConntrackMode", skip_serializing_if = "Option::is_none")]
    pub bpf_conntrack_mode: Option<String>,
    #[serde(default, rename = "bpfConntrackTimeouts", skip_serializing_if = "Option::is_none")]
    pub bpf_conntrack_timeouts: Option<BPFConntrackTimeouts>,
    #[serde(default, rename = "bpfLogFilters", deserialize_with = "scalar::opt_string_map", skip_serializing_if = "Option::is_none")]
    pub bpf_log_filters: Option<BTreeMap<String, String>>,
    #[serde(default, rename = "bpfCTLBLogFilter", skip_serializing_if = "String::is_empty")]
    pub bpf_ctlb_log_filter: String,
    #[serde(default, rename = "bpfDataIfacePattern", skip_serializing_if = "String::is_empty")]
    pub bpf_data_iface_pattern: String,
    #[serde(default, rename = "bpfL3IfacePattern", skip_serializing_if = "String::is_empty")]
    pub bpf_l3_iface_pattern: String,
    #[serde(default, rename = "bpfConnectTimeLoadBalancingEnabled", skip_serializing_if = "Option::is_none")]
    pub bpf_connect_time_load_balancing_enabled: Option<bool>,
    #[serde(default, rename = "bpfConnectTimeLoadBalancing", skip_serializing_if = "Option::is_none")]
    pub bpf_connect_time_load_balancing: Option<String>,
    #[serde(default, rename = "bpfHostNetworkedNATWithoutCTLB", skip_serializing_if = "Option::is_none")]
    pub bpf_host_networked_nat_without_ctlb: Option<String>,
    #[serde(default, rename = "bpfExternalServiceMode", skip_serializing_if = "String::is_empty")]
    pub bpf_external_service_mode: String,
    #[serde(default, rename = "bpfDSROptoutCIDRs", skip_serializing_if = "Option::is_none")]
    pub bpf_dsr_optout_cidrs: Option<Vec<String>>,
    #[serde(default, rename = "bpfExtToServiceConnmark", skip_serializing_if = "Option::is_none")]
    pub bpf_ext_to_service_connmark: Option<i64>,
    #[serde(default, rename = "bpfKubeProxyIptablesCleanupEnabled", skip_serializing_if = "Option::is_none")]
    pub bpf_kube_proxy_iptables_cleanup_enabled: Option<bool>,
    #[serde(default, rename = "bpfKubeProxyMinSyncPeriod", skip_serializing_if = "Option::is_none")]
    pub bpf_kube_proxy_min_sync_period: Option<Duration>,
    #[serde(default, rename = "bpfKubeProxyEndpointSlicesEnabled", skip_serializing_if = "Option::is_none")]
    pub bpf_kube_proxy_endpoint_slices_enabled: Option<bool>,
    #[serde(default, rename = "bpfKubeProxyHealthzPort", skip_serializing_if = "Option::is_none")]
    pub bpf_kube_proxy_healthz_port: Option<i64>,
    #[serde(default, rename = "bpfPSNATPorts", skip_serializing_if = "Option::is_none")]
    pub bpf_psnat_ports: Option<Port>,
    #[serde(default, rename = "bpfMapSizeNATFrontend", skip_serializing_if = "Option::is_none")]
    pub bpf_map_size_nat_frontend: Option<i64>,
    #[serde(default, rename = "bpfMapSizeNATBackend", skip_serializing_if = "Option::is_none")]
    pub bpf_map_size_nat_backend: Option<i64>,
    #[serde(default, rename = "bpfMapSizeNATAffinity", skip_serializing_if = "Option::is_none")]
    pub bpf_map_size_nat_affinity: Option<i64>,
    #[serde(default, rename = "bpfMapSizeRoute", skip_serializing_if = "Option::is_none")]
    pub bpf_map_size_route: Option<i64>,
    #[serde(default, rename = "bpfMapSizeConntrack", skip_serializing_if = "Option::is_none")]
    pub bpf_map_size_conntrack: Option<i64>,
    #[serde(default, rename = "bpfMapSizePerCpuConntrack", skip_serializing_if = "Option::is_none")]
    pub bpf_map_size_per_cpu_conntrack: Option<i64>,
    #[serde(default, rename = "bpfMapSizeConntrackScaling", skip_serializing_if = "String::is_empty")]
    pub bpf_map_size_conntrack_scaling: String,
    #[serde(default, rename = "bpfMapSizeConntrackCleanupQueue", skip_serializing_if = "Option::is_none")]
    pub bpf_map_size_conntrack_cleanup_queue: Option<i64>,
    #[serde(default, rename = "bpfMapSizeIPSets", skip_serializing_if = "Option::is_none")]
    pub bpf_map_size_ip_sets: Option<i64>,
    #[serde(default, rename = "bpfMapSizeIfState", skip_serializing_if = "Option::is_none")]
    pub bpf_map_size_if_state: Option<i64>,
    #[serde(default, rename = "bpfHostConntrackBypass", skip_serializing_if = "Option::is_none")]
    pub bpf_host_conntrack_bypass: Option<bool>,
    #[serde(default, rename = "bpfEnforceRPF", skip_serializing_if = "String::is_empty")]
    pub bpf_enforce_rpf: String,
    #[serde(default, rename = "bpfPolicyDebugEnabled", skip_serializing_if = "Option::is_none")]
    pub bpf_policy_debug_enabled: Option<bool>,
    #[serde(default, rename = "bpfForceTrackPacketsFromIfaces", skip_serializing_if = "Option::is_none")]
    pub bpf_force_track_packets_from_ifaces: Option<Vec<String>>,
    #[serde(default, rename = "bpfDisableGROForIfaces", skip_serializing_if = "String::is_empty")]
    pub bpf_disable_gro_for_ifaces: String,
    #[serde(default, rename = "bpfExcludeCIDRsFromNAT", skip_serializing_if = "Option::is_none")]
    pub bpf_exclude_cidrs_from_nat: Option<Vec<String>>,
    #[serde(default, rename = "bpfExportBufferSizeMB", skip_serializing_if = "Option::is_none")]
    pub bpf_export_buffer_size_mb: Option<i64>,
    #[serde(default, rename = "bpfRedirectToPeer", skip_serializing_if = "String::is_empty")]
    pub bpf_redirect_to_peer: String,
    #[serde(default, rename = "bpfAttachType", skip_serializing_if = "Option::is_none")]
    pub bpf_attach_type: Option<String>,
    #[serde(default, rename = "bpfJITHardening", skip_serializing_if = "Option::is_none")]
    pub bpf_jit_hardening: Option<String>,
    #[serde(default, rename = "bpfProfiling", skip_serializing_if = "String::is_empty")]
    pub bpf_profiling: String,
    #[serde(default, rename = "bpfIPFragTimeout", skip_serializing_if = "Option::is_none")]
    pub bpf_ip_frag_timeout: Option<Duration>,
    #[serde(default, rename = "bpfIPFragmentReassemblyEnabled", skip_serializing_if = "Option::is_none")]
    pub bpf_ip_fragment_reassembly_enabled: Option<bool>,
    #[serde(default, rename = "bpfMaglevMaxEndpointsPerService", skip_serializing_if = "Option::is_none")]
    pub bpf_maglev_max_endpoints_per_service: Option<i64>,
    #[serde(default, rename = "bpfMaglevMaxServices", skip_serializing_if = "Option::is_none")]
    pub bpf_maglev_max_services: Option<i64>,
    #[serde(default, rename = "bpfOverlayHostSourceIP", skip_serializing_if = "Option::is_none")]
    pub bpf_overlay_host_source_ip: Option<String>,
    #[serde(default, rename = "cgroupV2Path", skip_serializing_if = "String::is_empty")]
    pub cgroup_v2_path: String,
    #[serde(default, rename = "flowLogsPolicyEvaluationMode", skip_serializing_if = "Option::is_none")]
    pub flow_logs_policy_evaluation_mode: Option<String>,
    #[serde(default, rename = "flowLogsFlushInterval", skip_serializing_if = "Option::is_none")]
    pub flow_logs_flush_interval: Option<Duration>,
    #[serde(default, rename = "flowLogsCollectorDebugTrace", skip_serializing_if = "Option::is_none")]
    pub flow_logs_collector_debug_trace: Option<bool>,
    #[serde(default, rename = "flowLogsGoldmaneServer", skip_serializing_if = "Option::is_none")]
    pub flow_logs_goldmane_server: Option<String>,
    #[serde(default, rename = "flowLogsLocalReporter", skip_serializing_if = "Option::is_none")]
    pub flow_logs_local_reporter: Option<String>,
    #[serde(default, rename = "routeSource", skip_serializing_if = "String::is_empty")]
    pub route_source: String,
    #[serde(default, rename = "routeTableRanges", skip_serializing_if = "Option::is_none")]
    pub route_table_ranges: Option<Vec<RouteTableRange>>,
    #[serde(default, rename = "routeTableRange", skip_serializing_if = "Option::is_none")]
    pub route_table_range: Option<RouteTableRange>,
    #[serde(default, rename = "routeSyncDisabled", skip_serializing_if = "Option::is_none")]
    pub route_sync_disabled: Option<bool>,
    #[serde(default, rename = "wireguardEnabled", skip_serializing_if = "Option::is_none")]
    pub wireguard_enabled: Option<bool>,
    #[serde(default, rename = "wireguardEnabledV6", skip_serializing_if = "Option::is_none")]
    pub wireguard_enabled_v6: Option<bool>,
    #[serde(default, rename = "wireguardThreadingEnabled", skip_serializing_if = "Option::is_none")]
    pub wireguard_threading_enabled: Option<bool>,
    #[serde(default, rename = "wireguardListeningPort", skip_serializing_if = "Option::is_none")]
    pub wireguard_listening_port: Option<i64>,
    #[serde(default, rename = "wireguardListeningPortV6", skip_serializing_if = "Option::is_none")]
    pub wireguard_listening_port_v6: Option<i64>,
    #[serde(default, rename = "wireguardRoutingRulePriority", skip_serializing_if = "Option::is_none")]
    pub wireguard_routing_rule_priority: Option<i64>,
    #[serde(default, rename = "wireguardInterfaceName", skip_serializing_if = "String::is_empty")]
    pub wireguard_interface_name: String,
    #[serde(default, rename = "wireguardInterfaceNameV6", skip_serializing_if = "String::is_empty")]
    pub wireguard_interface_name_v6: String,
    #[serde(default, rename = "wireguardMTU", skip_serializing_if = "Option::is_none")]
    pub wireguard_mtu: Option<i64>,
    #[serde(default, rename = "wireguardMTUV6", skip_serializing_if = "Option::is_none")]
    pub wireguard_mtu_v6: Option<i64>,
    #[serde(default, rename = "wireguardHostEncryptionEnabled", skip_serializing_if = "Option::is_none")]
    pub wireguard_host_encryption_enabled: Option<bool>,
    #[serde(default, rename = "wireguardKeepAlive", skip_serializing_if = "Option::is_none")]
    pub wireguard_keep_alive: Option<Duration>,
    #[serde(default, rename = "awsSrcDstCheck", skip_serializing_if = "Option::is_none")]
    pub aws_src_dst_check: Option<String>,
    #[serde(default, rename = "serviceLoopPrevention", skip_serializing_if = "String::is_empty")]
    pub service_loop_prevention: String,
    #[serde(default, rename = "workloadSourceSpoofing", skip_serializing_if = "String::is_empty")]
    pub workload_source_spoofing: String,
    #[serde(default, rename = "mtuIfacePattern", skip_serializing_if = "String::is_empty")]
    pub mtu_iface_pattern: String,
    #[serde(default, rename = "floatingIPs", skip_serializing_if = "Option::is_none")]
    pub floating_ips: Option<String>,
    #[serde(default, rename = "windowsManageFirewallRules", skip_serializing_if = "Option::is_none")]
    pub windows_manage_firewall_rules: Option<String>,
    #[serde(default, rename = "goGCThreshold", skip_serializing_if = "Option::is_none")]
    pub go_gc_threshold: Option<i64>,
    #[serde(default, rename = "goMemoryLimitMB", skip_serializing_if = "Option::is_none")]
    pub go_memory_limit_mb: Option<i64>,
    #[serde(default, rename = "goMaxProcs", skip_serializing_if = "Option::is_none")]
    pub go_max_procs: Option<i64>,
    #[serde(default, rename = "requireMTUFile", skip_serializing_if = "Option::is_none")]
    pub require_mtu_file: Option<bool>,
    #[serde(default, rename = "ipv4ElevatedRoutePriority", skip_serializing_if = "Option::is_none")]
    pub ipv4_elevated_route_priority: Option<i64>,
    #[serde(default, rename = "ipv4NormalRoutePriority", skip_serializing_if = "Option::is_none")]
    pub ipv4_normal_route_priority: Option<i64>,
    #[serde(default, rename = "ipv6ElevatedRoutePriority", skip_serializing_if = "Option::is_none")]
    pub ipv6_elevated_route_priority: Option<i64>,
    #[serde(default, rename = "ipv6NormalRoutePriority", skip_serializing_if = "Option::is_none")]
    pub ipv6_normal_route_priority: Option<i64>,
    #[serde(default, rename = "istioAmbientMode", skip_serializing_if = "Option::is_none")]
    pub istio_ambient_mode: Option<String>,
    #[serde(default, rename = "istioDSCPMark", skip_serializing_if = "Option::is_none")]
    pub istio_dscp_mark: Option<serde_json::Value>,
    #[serde(default, rename = "liveMigrationRouteConvergenceTime", skip_serializing_if = "Option::is_none")]
    pub live_migration_route_convergence_time: Option<Duration>,
    #[serde(default, rename = "localSubnetL2Reachability", skip_serializing_if = "Option::is_none")]
    pub local_subnet_l2_reachability: Option<String>,
    #[serde(default, rename = "localSubnetL2ReachabilityRefreshInterval", skip_serializing_if = "Option::is_none")]
    pub local_subnet_l2_reachability_refresh_interval: Option<Duration>,
    #[serde(default, rename = "nodeSelector", skip_serializing_if = "String::is_empty")]
    pub node_selector: String,
}
