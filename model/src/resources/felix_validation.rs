//! Validation of FelixConfiguration (libcalico-go `validateFelixConfigSpec` and the field
//! tags of `felixconfig.go`). Enumerated string settings are compared case-insensitively, as
//! the CRD patterns (`^(?i)(...)?$`) do.

use super::bgp_configuration::is_log_level;
use super::felix::FelixConfigurationSpec;
use super::numorstring::Port;
use crate::validation::{Validate, Validator, k8s, net};

fn one_of(v: &mut Validator, field: &str, value: &str, allowed: &[&str]) {
    if !value.is_empty() && !allowed.iter().any(|a| a.eq_ignore_ascii_case(value)) {
        v.report_at(
            field,
            value,
            format!(
                "invalid value {value:?}: must be one of {}",
                allowed.join(", ")
            ),
        );
    }
}

fn opt_one_of(v: &mut Validator, field: &str, value: &Option<String>, allowed: &[&str]) {
    if let Some(s) = value {
        if s.is_empty() {
            v.report_at(field, "", format!("must be one of {}", allowed.join(", ")));
        } else {
            one_of(v, field, s, allowed);
        }
    }
}

fn in_range(v: &mut Validator, field: &str, value: Option<i64>, lo: i64, hi: i64) {
    if let Some(n) = value
        && (n < lo || n > hi)
    {
        v.report_at(
            field,
            n.to_string(),
            format!("{n} is out of range: must be between {lo} and {hi}"),
        );
    }
}

fn check_cidr_list(v: &mut Validator, field: &str, list: &Option<Vec<String>>, v4_only: bool) {
    let Some(list) = list else { return };
    v.field(field, |v| {
        for (i, c) in list.iter().enumerate() {
            v.item(i, |v| match net::parse_cidr_or_ip(c) {
                Ok((ip, _)) if v4_only && !ip.is_ipv4() => {
                    v.report(c.clone(), format!("invalid CIDR {c:?}: must be IPv4"));
                }
                Ok(_) => {}
                Err(e) => v.report(c.clone(), format!("invalid CIDR {c:?}: {e}")),
            });
        }
    });
}

fn check_key_value_list(v: &mut Validator, field: &str, value: &str) {
    for item in value.split(',') {
        if item.is_empty() {
            continue;
        }
        let ok = item.split_once('=').is_some_and(|(k, _)| {
            let k = k.trim_start();
            !k.is_empty() && k.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
        });
        if !ok {
            v.report_at(
                field,
                value,
                format!("invalid entry {item:?}: expected a comma-separated list of key=value"),
            );
            return;
        }
    }
}

/// `^[a-zA-Z0-9:._+-]{1,15}$` (iptables interface match syntax, `+` as wildcard).
fn is_iface_filter(s: &str) -> bool {
    (1..=15).contains(&s.len())
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b":._+-".contains(&c))
}

/// `^[a-zA-Z0-9:._+-]{1,64}$` (an address or a host name).
fn is_prometheus_host(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b":._+-".contains(&c))
}

impl Validate for FelixConfigurationSpec {
    fn validate(&self, v: &mut Validator) {
        one_of(
            v,
            "chainInsertMode",
            &self.chain_insert_mode,
            &["Insert", "Append"],
        );
        one_of(
            v,
            "defaultEndpointToHostAction",
            &self.default_endpoint_to_host_action,
            &["Drop", "Accept", "Return"],
        );
        for (f, val) in [
            (
                "iptablesFilterAllowAction",
                &self.iptables_filter_allow_action,
            ),
            (
                "iptablesMangleAllowAction",
                &self.iptables_mangle_allow_action,
            ),
            (
                "nftablesFilterAllowAction",
                &self.nftables_filter_allow_action,
            ),
            (
                "nftablesMangleAllowAction",
                &self.nftables_mangle_allow_action,
            ),
        ] {
            one_of(v, f, val, &["Accept", "Return"]);
        }
        one_of(
            v,
            "iptablesFilterDenyAction",
            &self.iptables_filter_deny_action,
            &["Drop", "Reject"],
        );
        one_of(
            v,
            "nftablesFilterDenyAction",
            &self.nftables_filter_deny_action,
            &["Drop", "Reject"],
        );
        for (f, val) in [
            ("logSeverityFile", &self.log_severity_file),
            ("logSeverityScreen", &self.log_severity_screen),
            ("logSeveritySys", &self.log_severity_sys),
        ] {
            if !val.is_empty() && !is_log_level(val) {
                v.report_at(f, val.clone(), format!("invalid log level {val:?}: must be one of Trace, Debug, Info, Warning, Error, Fatal"));
            }
        }
        opt_one_of(
            v,
            "iptablesBackend",
            &self.iptables_backend,
            &["Auto", "Legacy", "NFT"],
        );
        opt_one_of(
            v,
            "nftablesMode",
            &self.nftables_mode,
            &["Disabled", "Enabled", "Auto"],
        );
        opt_one_of(
            v,
            "programClusterRoutes",
            &self.program_cluster_routes,
            &["Enabled", "Disabled"],
        );
        opt_one_of(
            v,
            "natOutgoingExclusions",
            &self.nat_outgoing_exclusions,
            &["IPPoolsOnly", "IPPoolsAndHostIPs"],
        );
        opt_one_of(
            v,
            "awsSrcDstCheck",
            &self.aws_src_dst_check,
            &["DoNothing", "Enable", "Disable"],
        );
        opt_one_of(
            v,
            "floatingIPs",
            &self.floating_ips,
            &["Enabled", "Disabled"],
        );
        opt_one_of(
            v,
            "windowsManageFirewallRules",
            &self.windows_manage_firewall_rules,
            &["Enabled", "Disabled"],
        );
        opt_one_of(
            v,
            "bpfConnectTimeLoadBalancing",
            &self.bpf_connect_time_load_balancing,
            &["TCP", "Enabled", "Disabled"],
        );
        opt_one_of(
            v,
            "bpfHostNetworkedNATWithoutCTLB",
            &self.bpf_host_networked_nat_without_ctlb,
            &["Enabled", "Disabled"],
        );
        opt_one_of(
            v,
            "bpfConntrackMode",
            &self.bpf_conntrack_mode,
            &["Auto", "Userspace", "BPFProgram"],
        );
        opt_one_of(v, "bpfAttachType", &self.bpf_attach_type, &["TC", "TCX"]);
        opt_one_of(
            v,
            "bpfJITHardening",
            &self.bpf_jit_hardening,
            &["Auto", "Strict"],
        );
        opt_one_of(
            v,
            "flowLogsPolicyEvaluationMode",
            &self.flow_logs_policy_evaluation_mode,
            &["None", "Continuous"],
        );
        opt_one_of(
            v,
            "flowLogsLocalReporter",
            &self.flow_logs_local_reporter,
            &["Enabled", "Disabled"],
        );
        opt_one_of(
            v,
            "istioAmbientMode",
            &self.istio_ambient_mode,
            &["Enabled", "Disabled"],
        );
        opt_one_of(
            v,
            "localSubnetL2Reachability",
            &self.local_subnet_l2_reachability,
            &["Disabled", "PodsAndLoadBalancers"],
        );
        opt_one_of(
            v,
            "bpfOverlayHostSourceIP",
            &self.bpf_overlay_host_source_ip,
            &["TunnelAddress", "HostAddress"],
        );
        one_of(
            v,
            "ipForwarding",
            &self.ip_forwarding,
            &["Enabled", "Disabled"],
        );
        one_of(
            v,
            "bpfLogLevel",
            &self.bpf_log_level,
            &["Off", "Info", "Debug"],
        );
        one_of(
            v,
            "bpfConntrackLogLevel",
            &self.bpf_conntrack_log_level,
            &["Off", "Debug"],
        );
        one_of(
            v,
            "bpfExternalServiceMode",
            &self.bpf_external_service_mode,
            &["Tunnel", "DSR"],
        );
        one_of(
            v,
            "bpfEnforceRPF",
            &self.bpf_enforce_rpf,
            &["Disabled", "Strict", "Loose"],
        );
        one_of(
            v,
            "bpfMapSizeConntrackScaling",
            &self.bpf_map_size_conntrack_scaling,
            &["Disabled", "DoubleIfFull"],
        );
        one_of(
            v,
            "bpfRedirectToPeer",
            &self.bpf_redirect_to_peer,
            &["Enabled", "Disabled", "L2Only"],
        );
        one_of(
            v,
            "bpfProfiling",
            &self.bpf_profiling,
            &["Enabled", "Disabled"],
        );
        one_of(
            v,
            "routeSource",
            &self.route_source,
            &["WorkloadIPs", "CalicoIPAM"],
        );
        one_of(
            v,
            "serviceLoopPrevention",
            &self.service_loop_prevention,
            &["Drop", "Reject", "Disabled"],
        );
        one_of(
            v,
            "workloadSourceSpoofing",
            &self.workload_source_spoofing,
            &["Disabled", "Any"],
        );
        check_key_value_list(v, "featureDetectOverride", &self.feature_detect_override);
        check_key_value_list(v, "featureGates", &self.feature_gates);

        for (f, val) in [
            ("debugPort", self.debug_port),
            ("healthPort", self.health_port),
            ("prometheusMetricsPort", self.prometheus_metrics_port),
            ("metadataPort", self.metadata_port),
            ("vxlanPort", self.vxlan_port),
            ("bpfKubeProxyHealthzPort", self.bpf_kube_proxy_healthz_port),
        ] {
            in_range(v, f, val, 0, 65535);
        }
        in_range(
            v,
            "wireguardListeningPort",
            self.wireguard_listening_port,
            1,
            65535,
        );
        in_range(
            v,
            "wireguardListeningPortV6",
            self.wireguard_listening_port_v6,
            1,
            65535,
        );
        in_range(
            v,
            "wireguardRoutingRulePriority",
            self.wireguard_routing_rule_priority,
            1,
            32765,
        );
        in_range(
            v,
            "bpfExtToServiceConnmark",
            self.bpf_ext_to_service_connmark,
            0,
            4_294_967_295,
        );
        in_range(
            v,
            "bpfMapSizeConntrackCleanupQueue",
            self.bpf_map_size_conntrack_cleanup_queue,
            1,
            i64::MAX,
        );
        in_range(v, "deviceRouteProtocol", self.device_route_protocol, 0, 255);
        in_range(v, "vxlanVNI", self.vxlan_vni, 0, 16_777_215);
        in_range(
            v,
            "logActionRateLimitBurst",
            self.log_action_rate_limit_burst,
            0,
            9999,
        );
        for (f, val) in [
            ("goGCThreshold", self.go_gc_threshold),
            ("goMemoryLimitMB", self.go_memory_limit_mb),
            ("goMaxProcs", self.go_max_procs),
        ] {
            in_range(v, f, val, -1, i64::MAX);
        }
        for (f, name) in [
            ("wireguardInterfaceName", &self.wireguard_interface_name),
            (
                "wireguardInterfaceNameV6",
                &self.wireguard_interface_name_v6,
            ),
        ] {
            if !name.is_empty() && !k8s::is_interface_name(name) {
                v.report_at(f, name.clone(), format!("invalid interface name {name:?}: must be 1-15 characters of letters, digits, '_', '.' or '-'"));
            }
        }
        let filter = &self.iptables_nat_outgoing_interface_filter;
        if !filter.is_empty() && !is_iface_filter(filter) {
            v.report_at(
                "iptablesNATOutgoingInterfaceFilter",
                filter.clone(),
                format!("invalid interface filter {filter:?}"),
            );
        }
        let host = &self.prometheus_metrics_host;
        if !host.is_empty() && !is_prometheus_host(host) {
            v.report_at(
                "prometheusMetricsHost",
                host.clone(),
                format!("invalid host {host:?}"),
            );
        }
        if let Some(ranges) = &self.kube_node_port_ranges {
            if ranges.len() > 7 {
                v.report_at(
                    "kubeNodePortRanges",
                    ranges.len().to_string(),
                    "node port ranges list is too long (max 7)",
                );
            }
            v.field("kubeNodePortRanges", |v| {
                for (i, p) in ranges.iter().enumerate() {
                    v.item(i, |v| {
                        p.validate(v);
                        if let Port::Named(n) = p {
                            v.report(n.clone(), "node port ranges must not contain named ports");
                        }
                    });
                }
            });
        }
        for (f, p) in [
            ("natPortRange", &self.nat_port_range),
            ("bpfPSNATPorts", &self.bpf_psnat_ports),
        ] {
            if let Some(p) = p {
                v.field(f, |v| {
                    p.validate(v);
                    if p.name().is_some() {
                        v.report(
                            p.to_string(),
                            "must be a port or port range, not a port name",
                        );
                    }
                });
            }
        }
        for (f, list) in [
            (
                "failsafeInboundHostPorts",
                &self.failsafe_inbound_host_ports,
            ),
            (
                "failsafeOutboundHostPorts",
                &self.failsafe_outbound_host_ports,
            ),
        ] {
            let Some(list) = list else { continue };
            v.field(f, |v| {
                for (i, pp) in list.iter().enumerate() {
                    v.item(i, |v| {
                        if !pp.protocol.is_empty()
                            && !["TCP", "UDP", "SCTP"]
                                .iter()
                                .any(|p| p.eq_ignore_ascii_case(&pp.protocol))
                        {
                            v.report_at(
                                "protocol",
                                pp.protocol.clone(),
                                format!(
                                    "invalid protocol {:?}: must be TCP, UDP or SCTP",
                                    pp.protocol
                                ),
                            );
                        }
                        if !pp.net.is_empty() {
                            net::check_cidr(v, "net", &pp.net);
                        }
                    });
                }
            });
        }
        check_cidr_list(v, "externalNodesList", &self.external_nodes_list, true);
        check_cidr_list(v, "bpfDSROptoutCIDRs", &self.bpf_dsr_optout_cidrs, false);
        check_cidr_list(
            v,
            "bpfExcludeCIDRsFromNAT",
            &self.bpf_exclude_cidrs_from_nat,
            false,
        );
        if !self.openstack_region.is_empty() {
            let max = k8s::DNS1123_LABEL_MAX - "openstack-region-".len();
            if self.openstack_region.len() > max {
                v.report_at(
                    "openstackRegion",
                    self.openstack_region.clone(),
                    "is too long",
                );
            } else if !k8s::is_dns_label(&self.openstack_region) {
                v.report_at(
                    "openstackRegion",
                    self.openstack_region.clone(),
                    "must be a valid DNS label",
                );
            }
        }
        for (f, val, fam) in [
            ("natOutgoingAddress", &self.nat_outgoing_address, 4),
            (
                "deviceRouteSourceAddress",
                &self.device_route_source_address,
                4,
            ),
            (
                "deviceRouteSourceAddressIPv6",
                &self.device_route_source_address_ipv6,
                6,
            ),
        ] {
            if !val.is_empty() {
                net::check_ip(v, f, val, Some(fam));
            }
        }
        if self.route_table_range.is_some() && self.route_table_ranges.is_some() {
            v.report_at(
                "routeTableRange",
                "",
                "cannot be set when routeTableRanges is also set",
            );
        }
        if let Some(r) = &self.route_table_range
            && !(r.min >= 1 && r.max >= r.min && r.max <= 250)
        {
            v.report_at(
                "routeTableRange",
                format!("{}-{}", r.min, r.max),
                "must be a range of route table indices within 1..250",
            );
        }
        if let Some(ranges) = &self.route_table_ranges {
            let mut total = 0i64;
            v.field("routeTableRanges", |v| {
                for (i, r) in ranges.iter().enumerate() {
                    v.item(i, |v| {
                        if r.min > r.max {
                            v.report(
                                format!("{}-{}", r.min, r.max),
                                "min value cannot be greater than max value",
                            );
                        }
                        if r.min <= 0 {
                            v.report(format!("{}-{}", r.min, r.max), "cannot target indices < 1");
                        }
                        if r.max > i64::from(u32::MAX) {
                            v.report(format!("{}-{}", r.min, r.max), "max index too high");
                        }
                    });
                    total += (r.max - r.min).max(-1) + 1;
                }
            });
            if total > 0xffff {
                v.report_at(
                    "routeTableRanges",
                    total.to_string(),
                    "targets too many tables",
                );
            }
        }
        v.field("healthTimeoutOverrides", |v| {
            for (i, h) in self.health_timeout_overrides.iter().enumerate() {
                v.item(i, |v| {
                    let ok = !h.name.is_empty()
                        && h.name
                            .bytes()
                            .all(|c| c.is_ascii_alphanumeric() || b"_ -".contains(&c));
                    if !ok {
                        v.report_at(
                            "name",
                            h.name.clone(),
                            "name should match regex ^[a-zA-Z0-9_ -]+$",
                        );
                    }
                    if h.timeout.nanos < 0 {
                        v.report_at(
                            "timeout",
                            h.timeout.to_string(),
                            "timeout should not be negative",
                        );
                    }
                });
            }
        });
        if let Some(filters) = &self.bpf_log_filters {
            v.field("bpfLogFilters", |v| {
                for k in filters.keys() {
                    if !k8s::is_interface_name(k) {
                        v.report(
                            k.clone(),
                            format!("invalid interface name {k:?} in bpfLogFilters"),
                        );
                    }
                }
            });
        }
        v.selector("nodeSelector", &self.node_selector);
    }
}
