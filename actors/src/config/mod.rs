//! calico-node's settings, read from the environment as calico/node reads them:
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `NODENAME` | this node's name (the Node resource) | `HOSTNAME`, else the hostname |
//! | `IP` | IPv4 address (optionally `/len`), `autodetect`, or `none` | keep the Node's, else autodetect |
//! | `IP6` | the same for IPv6 | `none` |
//! | `IP_AUTODETECTION_METHOD`, `IP6_AUTODETECTION_METHOD` | see [`autodetect`] | `first-found` |
//! | `AS` | this node's AS number (plain or dotted) | the cluster's (BGPConfiguration) |
//! | `CALICO_ROUTER_ID` | the BGP router ID: an IPv4 address or `hash` | the node's IPv4 address |
//! | `CALICO_BGP_SECRETS_DIR` | where BGPPeer passwords' Secrets are mounted (`<dir>/<secret>/<key>`) | none |
//! | `CALICO_NETWORKING_BACKEND` | `bird` (our BGP speaker) or `none` | `bird` |
//! | `CALICO_ROUTER_ID` | the BGP router ID: an IPv4 address, `hash` (of the node name), or the node's IPv4 address when empty | empty |
//! | `CALICO_IPV4POOL_CIDR`, `CALICO_IPV6POOL_CIDR` | the default pools made when none exists | `192.168.0.0/16`, none |
//! | `CALICO_IPV4POOL_NAT_OUTGOING`, `..._BLOCK_SIZE`, `..._NODE_SELECTOR` (and `IPV6`) | the default pools' settings | `true`, 26 / 122, `all()` |
//! | `NO_DEFAULT_POOLS` | make no default pool | `false` |
//! | `ETCD_ENDPOINTS`, `ETCD_*` | the datastore ([`datastore::config::DatastoreConfig`]) | |
//! | `FELIX_*` | FelixConfiguration overrides (env beats the datastore), see [`FelixEnv`] | |
//! | `RUST_LOG`, else `FELIX_LOGSEVERITYSCREEN` | log level | `info` |
//!
//! Health (`FELIX_HEALTHENABLED`, `FELIX_HEALTHHOST`, `FELIX_HEALTHPORT`, default off,
//! `localhost:9099`) and Prometheus metrics (`FELIX_PROMETHEUSMETRICSENABLED`,
//! `FELIX_PROMETHEUSMETRICSHOST`, `FELIX_PROMETHEUSMETRICSPORT`, default off, `:9091`) are
//! read here too, as Felix reads them.
//!
//! Pure: [`NodeConfig::from_lookup`] takes any variable lookup and the machine's hostname, so
//! the simulation and the tests build configurations without touching the process
//! environment. Every error names the variable and the value at fault.

pub mod autodetect;
mod felix_env;
pub mod host;

use std::net::{IpAddr, SocketAddr};

use datastore::config::DatastoreConfig;
use ipnet::IpNet;
use model::bgp::RouterIdSource;
use model::resources::numorstring::ASNumber;

pub use autodetect::{Family, Interface, Method};
pub use felix_env::FelixEnv;

/// A setting that cannot be used; the message names the variable and its value.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{var}={value:?}: {problem}")]
    Bad {
        var: &'static str,
        value: String,
        problem: String,
    },
    #[error(transparent)]
    Autodetect(#[from] autodetect::BadMethod),
    #[error("datastore: {0}")]
    Datastore(#[from] datastore::Error),
    #[error("no node name: set NODENAME (HOSTNAME is unset and the hostname is unknown)")]
    NoNodeName,
}

/// How one family's node address is chosen.
#[derive(Clone, Debug, PartialEq)]
pub enum AddressSetting {
    /// Given: the address, with its prefix length (full length when none was written).
    Explicit(IpNet),
    /// Always autodetected, with this method (`IP=autodetect`).
    Autodetect(Method),
    /// The address the Node resource already has, else autodetected (`IP` unset).
    KeepOrAutodetect(Method),
    /// No address of this family: no BGP sessions of this family.
    None,
}

/// Which routing backend runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Networking {
    /// Our BGP speaker (what `bird` means to calico/node).
    Bgp,
    /// No BGP: routes between hosts come from elsewhere.
    None,
}

/// One default IP pool, made at start-up when the cluster has no pool of its family.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DefaultPool {
    pub cidr: IpNet,
    pub nat_outgoing: bool,
    pub block_size: u8,
    pub node_selector: String,
}

/// calico-node's settings; see the module docs.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    pub node_name: String,
    pub ipv4: AddressSetting,
    pub ipv6: AddressSetting,
    pub as_number: Option<u32>,
    pub networking: Networking,
    /// Where the BGP router ID comes from (the calculator's `CalcConfig::peering`).
    pub router_id: RouterIdSource,
    /// Where the Secrets with BGP passwords are mounted (`<dir>/<secret>/<key>`), from
    /// `CALICO_BGP_SECRETS_DIR`; without it a BGPPeer's password cannot be resolved.
    pub bgp_secrets_dir: Option<std::path::PathBuf>,
    /// Empty with `NO_DEFAULT_POOLS=true`.
    pub default_pools: Vec<DefaultPool>,
    pub datastore: DatastoreConfig,
    pub felix: FelixEnv,
    /// A `tracing` filter (`RUST_LOG` syntax).
    pub log_filter: String,
    /// Where the health endpoints listen (`None`: off).
    pub health: Option<SocketAddr>,
    /// Where Prometheus metrics are served (`None`: off).
    pub metrics: Option<SocketAddr>,
}

impl NodeConfig {
    /// From the process environment; `hostname` is the machine's hostname, if known.
    pub fn from_env(hostname: Option<String>) -> Result<NodeConfig, ConfigError> {
        NodeConfig::from_lookup(|name| std::env::var(name).ok(), hostname)
    }

    /// From any variable lookup. Empty values count as unset, as in calico/node.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
        hostname: Option<String>,
    ) -> Result<NodeConfig, ConfigError> {
        let var = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let node_name = var("NODENAME")
            .or_else(|| var("HOSTNAME"))
            .or(hostname
                .map(|h| h.trim().to_lowercase())
                .filter(|h| !h.is_empty()))
            .ok_or(ConfigError::NoNodeName)?;
        let method = |name: &'static str| -> Result<Method, ConfigError> {
            Ok(match var(name) {
                Some(m) => Method::parse(name, &m)?,
                None => Method::FirstFound,
            })
        };
        let ipv4 = address(
            "IP",
            var("IP"),
            Family::V4,
            method("IP_AUTODETECTION_METHOD")?,
            true,
        )?;
        let ipv6 = address(
            "IP6",
            var("IP6"),
            Family::V6,
            method("IP6_AUTODETECTION_METHOD")?,
            false,
        )?;
        let as_number = var("AS")
            .map(|v| {
                v.parse::<ASNumber>()
                    .map(ASNumber::get)
                    .map_err(|problem| bad("AS", &v, problem))
            })
            .transpose()?;
        let networking = match var("CALICO_NETWORKING_BACKEND").as_deref() {
            None | Some("bird") => Networking::Bgp,
            Some("none") => Networking::None,
            Some(other) => {
                return Err(bad(
                    "CALICO_NETWORKING_BACKEND",
                    other,
                    "expected bird (BGP) or none; VXLAN is not supported".into(),
                ));
            }
        };
        let router_id = match var("CALICO_ROUTER_ID") {
            None => RouterIdSource::NodeAddress,
            Some(v) => RouterIdSource::from_env_value(&v)
                .map_err(|problem| bad("CALICO_ROUTER_ID", &v, problem))?,
        };
        let no_default_pools = flag(&var, "NO_DEFAULT_POOLS", false)?;
        let mut default_pools = Vec::new();
        if !no_default_pools {
            let v4 = pool(&var, Family::V4, Some("192.168.0.0/16"))?;
            let v6 = pool(&var, Family::V6, None)?;
            default_pools.extend(v4);
            default_pools.extend(v6);
        }
        let felix = FelixEnv::from_lookup(&lookup);
        let log_filter = match var("RUST_LOG") {
            Some(filter) => filter,
            None => match var("FELIX_LOGSEVERITYSCREEN") {
                Some(level) => tracing_level(&level)
                    .ok_or_else(|| {
                        bad(
                            "FELIX_LOGSEVERITYSCREEN",
                            &level,
                            "expected Debug, Info, Warning, Error, Fatal or Panic".into(),
                        )
                    })?
                    .to_owned(),
                None => "info".to_owned(),
            },
        };
        let health = listen(
            &var,
            [
                "FELIX_HEALTHENABLED",
                "FELIX_HEALTHHOST",
                "FELIX_HEALTHPORT",
            ],
            "127.0.0.1",
            9099,
        )?;
        let metrics = listen(
            &var,
            [
                "FELIX_PROMETHEUSMETRICSENABLED",
                "FELIX_PROMETHEUSMETRICSHOST",
                "FELIX_PROMETHEUSMETRICSPORT",
            ],
            "0.0.0.0",
            9091,
        )?;
        Ok(NodeConfig {
            node_name,
            ipv4,
            ipv6,
            as_number,
            networking,
            router_id,
            bgp_secrets_dir: var("CALICO_BGP_SECRETS_DIR").map(std::path::PathBuf::from),
            default_pools,
            datastore: DatastoreConfig::from_lookup(&lookup)?,
            felix,
            log_filter,
            health,
            metrics,
        })
    }
}

fn bad(var: &'static str, value: &str, problem: String) -> ConfigError {
    ConfigError::Bad {
        var,
        value: value.to_owned(),
        problem,
    }
}

fn address(
    var: &'static str,
    value: Option<String>,
    family: Family,
    method: Method,
    autodetect_when_unset: bool,
) -> Result<AddressSetting, ConfigError> {
    let Some(value) = value else {
        return Ok(if autodetect_when_unset {
            AddressSetting::KeepOrAutodetect(method)
        } else {
            AddressSetting::None
        });
    };
    match value.to_lowercase().as_str() {
        "autodetect" => return Ok(AddressSetting::Autodetect(method)),
        "none" => return Ok(AddressSetting::None),
        _ => {}
    }
    let net = match value.parse::<IpNet>() {
        Ok(n) => n,
        Err(_) => value.parse::<IpAddr>().map(IpNet::from).map_err(|_| {
            bad(
                var,
                &value,
                "expected an address, autodetect or none".into(),
            )
        })?,
    };
    let right_family = matches!(
        (family, net.addr()),
        (Family::V4, IpAddr::V4(_)) | (Family::V6, IpAddr::V6(_))
    );
    if !right_family {
        return Err(bad(var, &value, format!("not an {family} address")));
    }
    Ok(AddressSetting::Explicit(net))
}

/// A boolean variable as calico/node reads them (`true`/`false`, `yes`/`no`, `1`/`0`).
fn flag(
    var: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: bool,
) -> Result<bool, ConfigError> {
    match var(name) {
        None => Ok(default),
        Some(v) => match v.to_lowercase().as_str() {
            "true" | "yes" | "1" | "on" => Ok(true),
            "false" | "no" | "0" | "off" => Ok(false),
            _ => Err(bad(name, &v, "expected true or false".into())),
        },
    }
}

fn pool(
    var: &impl Fn(&str) -> Option<String>,
    family: Family,
    default_cidr: Option<&str>,
) -> Result<Option<DefaultPool>, ConfigError> {
    let (cidr_var, nat_var, size_var, selector_var, default_size) = match family {
        Family::V4 => (
            "CALICO_IPV4POOL_CIDR",
            "CALICO_IPV4POOL_NAT_OUTGOING",
            "CALICO_IPV4POOL_BLOCK_SIZE",
            "CALICO_IPV4POOL_NODE_SELECTOR",
            26,
        ),
        Family::V6 => (
            "CALICO_IPV6POOL_CIDR",
            "CALICO_IPV6POOL_NAT_OUTGOING",
            "CALICO_IPV6POOL_BLOCK_SIZE",
            "CALICO_IPV6POOL_NODE_SELECTOR",
            122,
        ),
    };
    let Some(text) = var(cidr_var).or(default_cidr.map(str::to_owned)) else {
        return Ok(None);
    };
    let cidr: IpNet = text
        .parse()
        .map_err(|e| bad(cidr_var, &text, format!("not a CIDR: {e}")))?;
    if cidr.trunc() != cidr {
        return Err(bad(
            cidr_var,
            &text,
            format!("host bits set: did you mean {}?", cidr.trunc()),
        ));
    }
    let wrong_family = matches!(
        (family, cidr),
        (Family::V4, IpNet::V6(_)) | (Family::V6, IpNet::V4(_))
    );
    if wrong_family {
        return Err(bad(cidr_var, &text, format!("not an {family} CIDR")));
    }
    let block_size = match var(size_var) {
        None => default_size,
        Some(v) => v
            .parse::<u8>()
            .ok()
            .filter(|s| *s >= cidr.prefix_len() && *s <= cidr.max_prefix_len())
            .ok_or_else(|| {
                bad(
                    size_var,
                    &v,
                    format!(
                        "expected a prefix length between {} (the pool's) and {}",
                        cidr.prefix_len(),
                        cidr.max_prefix_len()
                    ),
                )
            })?,
    };
    Ok(Some(DefaultPool {
        cidr,
        nat_outgoing: flag(var, nat_var, matches!(family, Family::V4))?,
        block_size,
        node_selector: var(selector_var).unwrap_or_else(|| "all()".to_owned()),
    }))
}

/// Felix's log severities as `tracing` levels.
fn tracing_level(severity: &str) -> Option<&'static str> {
    Some(match severity.to_lowercase().as_str() {
        "debug" => "debug",
        "info" => "info",
        "warning" | "warn" => "warn",
        "error" | "fatal" | "panic" => "error",
        _ => return None,
    })
}

/// An optional listener: `[enabled, host, port]` variables.
fn listen(
    var: &impl Fn(&str) -> Option<String>,
    [enabled, host, port]: [&'static str; 3],
    default_host: &str,
    default_port: u16,
) -> Result<Option<SocketAddr>, ConfigError> {
    if !flag(var, enabled, false)? {
        return Ok(None);
    }
    let host_text = var(host).unwrap_or_else(|| default_host.to_owned());
    let ip: IpAddr = match host_text.as_str() {
        "localhost" => IpAddr::from([127, 0, 0, 1]),
        h => h
            .parse()
            .map_err(|_| bad(host, h, "expected an IP address or localhost".into()))?,
    };
    let port = match var(port) {
        None => default_port,
        Some(p) => p
            .parse()
            .map_err(|_| bad(port, &p, "expected a port number".into()))?,
    };
    Ok(Some(SocketAddr::new(ip, port)))
}

#[cfg(test)]
mod tests;
