//! Felix's defaults, as accessors on [`FelixConfigurationSpec`]: each returns the configured
//! value or what Felix uses when the field is unset (felix `config/config_params.go`;
//! Calico's FelixConfiguration reference at docs.tigera.io).

use super::duration::Duration;
use super::felix::{FelixConfigurationSpec, ProtoPort};

/// Felix's default inbound failsafe ports.
pub fn default_failsafe_inbound() -> Vec<ProtoPort> {
    [
        ("TCP", 22),
        ("UDP", 68),
        ("TCP", 179),
        ("TCP", 2379),
        ("TCP", 2380),
        ("TCP", 5473),
        ("TCP", 6443),
        ("TCP", 6666),
        ("TCP", 6667),
    ]
    .iter()
    .map(|(p, n)| ProtoPort::new(p, *n))
    .collect()
}

/// Felix's default outbound failsafe ports.
pub fn default_failsafe_outbound() -> Vec<ProtoPort> {
    [
        ("UDP", 53),
        ("UDP", 67),
        ("TCP", 179),
        ("TCP", 2379),
        ("TCP", 2380),
        ("TCP", 5473),
        ("TCP", 6443),
        ("TCP", 6666),
        ("TCP", 6667),
    ]
    .iter()
    .map(|(p, n)| ProtoPort::new(p, *n))
    .collect()
}

/// What Felix does with workload-to-host traffic after egress policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndpointToHostAction {
    Drop,
    Accept,
    Return,
}

fn dur_or(v: Option<Duration>, secs: i64) -> Duration {
    v.unwrap_or_else(|| Duration::from_secs(secs))
}

fn non_empty<'a>(s: &'a str, default: &'a str) -> &'a str {
    if s.is_empty() { default } else { s }
}

impl FelixConfigurationSpec {
    /// Workload interface name prefixes (`cali` by default; the field is a comma list).
    pub fn interface_prefixes(&self) -> Vec<String> {
        non_empty(&self.interface_prefix, "cali")
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// Action for workload-to-host traffic (Drop by default).
    pub fn default_endpoint_to_host_action(&self) -> EndpointToHostAction {
        match self
            .default_endpoint_to_host_action
            .to_ascii_lowercase()
            .as_str()
        {
            "accept" => EndpointToHostAction::Accept,
            "return" => EndpointToHostAction::Return,
            _ => EndpointToHostAction::Drop,
        }
    }

    /// Whether denied packets are rejected rather than dropped (iptables or nftables setting).
    pub fn deny_is_reject(&self) -> bool {
        let nft = &self.nftables_filter_deny_action;
        let ipt = &self.iptables_filter_deny_action;
        non_empty(nft, ipt).eq_ignore_ascii_case("reject")
    }

    /// Inbound failsafe ports (the defaults when unset; `[]` disables them).
    pub fn failsafe_inbound_host_ports(&self) -> Vec<ProtoPort> {
        self.failsafe_inbound_host_ports
            .clone()
            .unwrap_or_else(default_failsafe_inbound)
    }

    /// Outbound failsafe ports (the defaults when unset; `[]` disables them).
    pub fn failsafe_outbound_host_ports(&self) -> Vec<ProtoPort> {
        self.failsafe_outbound_host_ports
            .clone()
            .unwrap_or_else(default_failsafe_outbound)
    }

    /// Route resync period (90s).
    pub fn route_refresh_interval(&self) -> Duration {
        dur_or(self.route_refresh_interval, 90)
    }

    /// Interface rescan period (90s).
    pub fn interface_refresh_interval(&self) -> Duration {
        dur_or(self.interface_refresh_interval, 90)
    }

    /// iptables resync period (10s in Felix's defaults, though refresh intervals of 90s are
    /// used for other tables).
    pub fn iptables_refresh_interval(&self) -> Duration {
        dur_or(self.iptables_refresh_interval, 10)
    }

    /// nftables resync period (90s).
    pub fn nftables_refresh_interval(&self) -> Duration {
        dur_or(self.nftables_refresh_interval, 90)
    }

    /// IP set resync period (90s).
    pub fn ipsets_refresh_interval(&self) -> Duration {
        dur_or(self.ipsets_refresh_interval, 90)
    }

    /// Status reporting period (30s; 0 disables).
    pub fn reporting_interval(&self) -> Duration {
        dur_or(self.reporting_interval, 30)
    }

    /// Status report TTL (90s).
    pub fn reporting_ttl(&self) -> Duration {
        dur_or(self.reporting_ttl, 90)
    }

    /// Whether the health endpoint is served (false).
    pub fn health_enabled(&self) -> bool {
        self.health_enabled.unwrap_or(false)
    }

    /// Health endpoint host (`localhost`).
    pub fn health_host(&self) -> &str {
        self.health_host.as_deref().unwrap_or("localhost")
    }

    /// Health endpoint port (9099).
    pub fn health_port(&self) -> u16 {
        self.health_port
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or(9099)
    }

    /// Whether Prometheus metrics are served (false).
    pub fn prometheus_metrics_enabled(&self) -> bool {
        self.prometheus_metrics_enabled.unwrap_or(false)
    }

    /// Prometheus metrics port (9091).
    pub fn prometheus_metrics_port(&self) -> u16 {
        self.prometheus_metrics_port
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or(9091)
    }

    /// Prefix of LOG rules (`calico-packet`).
    pub fn log_prefix(&self) -> &str {
        non_empty(&self.log_prefix, "calico-packet")
    }

    /// Screen log severity (`Info`).
    pub fn log_severity_screen(&self) -> &str {
        non_empty(&self.log_severity_screen, "Info")
    }

    /// Whether IPv6 is supported (true).
    pub fn ipv6_support(&self) -> bool {
        self.ipv6_support.unwrap_or(true)
    }

    /// VXLAN VNI (4096).
    pub fn vxlan_vni(&self) -> u32 {
        self.vxlan_vni
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(4096)
    }

    /// VXLAN UDP port (4789).
    pub fn vxlan_port(&self) -> u16 {
        self.vxlan_port
            .and_then(|v| u16::try_from(v).ok())
            .unwrap_or(4789)
    }

    /// IPIP tunnel MTU (0 = auto-detect).
    pub fn ipip_mtu(&self) -> i64 {
        self.ipip_mtu.unwrap_or(0)
    }

    /// Mark bits Felix may use (0xffff0000).
    pub fn mark_mask(&self) -> u32 {
        self.nftables_mark_mask
            .or(self.iptables_mark_mask)
            .unwrap_or(0xffff_0000)
    }

    /// Whether unexpected routes to workload interfaces are removed (true).
    pub fn remove_external_routes(&self) -> bool {
        self.remove_external_routes.unwrap_or(true)
    }

    /// Protocol number on routes Felix programs (3, "boot").
    pub fn device_route_protocol(&self) -> u8 {
        self.device_route_protocol
            .and_then(|p| u8::try_from(p).ok())
            .unwrap_or(3)
    }

    /// Where routes come from: `CalicoIPAM` (default) or `WorkloadIPs`.
    pub fn route_source(&self) -> &str {
        non_empty(&self.route_source, "CalicoIPAM")
    }

    /// Directory for endpoint status files (`/var/run/calico`).
    pub fn endpoint_status_path_prefix(&self) -> &str {
        non_empty(&self.endpoint_status_path_prefix, "/var/run/calico")
    }

    /// Whether Felix sets IP forwarding sysctls (Enabled by default).
    pub fn ip_forwarding(&self) -> bool {
        !self.ip_forwarding.eq_ignore_ascii_case("disabled")
    }

    /// The nftables mode (`Auto` by default).
    pub fn nftables_mode(&self) -> &str {
        self.nftables_mode.as_deref().unwrap_or("Auto")
    }

    /// Whether BPF mode is on (false).
    pub fn bpf_enabled(&self) -> bool {
        self.bpf_enabled.unwrap_or(false)
    }

    /// Whether WireGuard (IPv4) is on (false).
    pub fn wireguard_enabled(&self) -> bool {
        self.wireguard_enabled.unwrap_or(false)
    }

    /// Whether XDP acceleration is on (true).
    pub fn xdp_enabled(&self) -> bool {
        self.xdp_enabled.unwrap_or(true)
    }

    /// Largest IP set (1048576).
    pub fn max_ipset_size(&self) -> i64 {
        self.max_ipset_size.unwrap_or(1_048_576)
    }
}
