//! calicoctl's command line: the v3 resource verbs with Calico's flags, and the v0.9 verbs.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Calico's command-line tool: manage Calico v3 resources in etcd.
#[derive(Debug, Parser)]
#[command(name = "calicoctl", version, about, long_about = None)]
pub struct Cli {
    /// Path to the client configuration file (a CalicoAPIConfig in YAML or JSON). Default:
    /// /etc/calico/calicoctl.cfg when it exists, else DATASTORE_TYPE / ETCD_* from the
    /// environment.
    #[arg(short = 'c', long = "config", global = true, value_name = "CONFIG")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create or replace resources by file, directory or stdin.
    Apply(FileArgs),
    /// Create resources by file, directory or stdin; fails if any already exists.
    Create(FileArgs),
    /// Replace existing resources by file, directory or stdin; fails if any does not exist.
    Replace(FileArgs),
    /// Delete resources by kind and name, or by file.
    Delete(DeleteArgs),
    /// Display resources.
    Get(GetArgs),
    /// Add, update or remove a label on a resource.
    Label(LabelArgs),
    /// Patch a resource with a JSON merge patch.
    Patch(PatchArgs),
    /// Display the client version and the cluster's Calico version.
    Version,
    /// (v0.9) Manage IP pools.
    Pool(PoolArgs),
    /// (v0.9) Manage profiles and their rules.
    ///
    /// profile show | add <PROFILE> | remove <PROFILE>
    /// profile <PROFILE> rule show
    /// profile <PROFILE> rule add (inbound|outbound) [--at=POS] (allow|deny) [RULE]
    /// profile <PROFILE> rule remove (inbound|outbound) (--at=POS | (allow|deny) [RULE])
    ///
    /// RULE: (tcp|udp) [from [ports P] [tag T] [cidr C]] [to [ports P] [tag T] [cidr C]]
    ///     | icmp [type N [code M]] [from [tag T] [cidr C]] [to [tag T] [cidr C]]
    ///     | [from [tag T] [cidr C]] [to [tag T] [cidr C]]
    #[command(verbatim_doc_comment)]
    Profile(ProfileArgs),
    /// (v0.9) Global BGP configuration: peers, node-to-node mesh, default AS.
    Bgp(BgpArgs),
    /// A node's BGP sessions (`node peers NODE`), and (v0.9) node-specific BGP configuration.
    Node(NodeArgs),
}

#[derive(Debug, Args)]
pub struct FileArgs {
    /// File or directory (every .yaml, .yml and .json file in it, in name order), or "-" for
    /// stdin.
    #[arg(
        short = 'f',
        long = "filename",
        value_name = "FILENAME",
        required = true
    )]
    pub filename: Vec<String>,
    /// Namespace for namespaced resources that do not name one (default: "default").
    #[arg(short = 'n', long = "namespace", value_name = "NS")]
    pub namespace: Option<String>,
    /// Do not fail when the input holds no resources.
    #[arg(long = "skip-empty")]
    pub skip_empty: bool,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// Resource kind (e.g. ippool, gnp, bgppeer), then one or more names.
    #[arg(value_name = "KIND")]
    pub kind: Option<String>,
    #[arg(value_name = "NAME")]
    pub names: Vec<String>,
    /// Delete the resources named in this file, directory or stdin ("-").
    #[arg(
        short = 'f',
        long = "filename",
        value_name = "FILENAME",
        conflicts_with = "kind"
    )]
    pub filename: Vec<String>,
    /// Namespace of namespaced resources (default: "default").
    #[arg(short = 'n', long = "namespace", value_name = "NS")]
    pub namespace: Option<String>,
    /// Skip resources that do not exist instead of failing.
    #[arg(long = "skip-not-exists")]
    pub skip_not_exists: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// calicoctl's table (the default).
    Ps,
    /// The table with more columns.
    Wide,
    Yaml,
    Json,
}

#[derive(Debug, Args)]
pub struct GetArgs {
    /// Resource kind (e.g. ippools, gnp, wep, bgpconfig).
    #[arg(value_name = "KIND")]
    pub kind: String,
    /// Names to get (all when none is given).
    #[arg(value_name = "NAME")]
    pub names: Vec<String>,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value = "ps")]
    pub output: OutputFormat,
    /// Namespace of namespaced resources (default: "default").
    #[arg(short = 'n', long = "namespace", value_name = "NS")]
    pub namespace: Option<String>,
    /// List namespaced resources across all namespaces.
    #[arg(short = 'A', long = "all-namespaces", conflicts_with = "namespace")]
    pub all_namespaces: bool,
    /// Only resources whose metadata labels match this Calico selector.
    #[arg(short = 'l', long = "selector", value_name = "SELECTOR")]
    pub selector: Option<String>,
}

#[derive(Debug, Args)]
pub struct LabelArgs {
    #[arg(value_name = "KIND")]
    pub kind: String,
    #[arg(value_name = "NAME")]
    pub name: String,
    /// `key=value` to set, or `key` with --remove.
    #[arg(value_name = "LABEL")]
    pub label: String,
    /// Replace the value when the key is already present.
    #[arg(long, conflicts_with = "remove")]
    pub overwrite: bool,
    /// Remove the label with this key.
    #[arg(long)]
    pub remove: bool,
    #[arg(short = 'n', long = "namespace", value_name = "NS")]
    pub namespace: Option<String>,
}

#[derive(Debug, Args)]
pub struct PatchArgs {
    #[arg(value_name = "KIND")]
    pub kind: String,
    #[arg(value_name = "NAME")]
    pub name: String,
    /// The patch: a JSON object merged into the resource (RFC 7386: null removes a field).
    #[arg(short = 'p', long = "patch", value_name = "PATCH")]
    pub patch: String,
    #[arg(short = 'n', long = "namespace", value_name = "NS")]
    pub namespace: Option<String>,
}

#[derive(Debug, Args)]
pub struct PoolArgs {
    #[command(subcommand)]
    pub command: PoolCommand,
}

#[derive(Debug, Subcommand)]
pub enum PoolCommand {
    /// Add IP pools (IPPool resources named like Calico's CIDR-to-name conversion).
    Add {
        #[arg(value_name = "CIDRS", required = true)]
        cidrs: Vec<String>,
        /// Use IP-over-IP encapsulation across hosts (ipipMode: Always).
        #[arg(long)]
        ipip: bool,
        /// Apply NAT to outgoing traffic.
        #[arg(long = "nat-outgoing")]
        nat_outgoing: bool,
    },
    /// Remove the IP pools with these CIDRs.
    Remove {
        #[arg(value_name = "CIDRS", required = true)]
        cidrs: Vec<String>,
    },
    /// Show IP pools.
    Show(FamilyFilter),
}

#[derive(Debug, Args, Clone, Copy)]
pub struct FamilyFilter {
    /// Show IPv4 only.
    #[arg(long, conflicts_with = "ipv6")]
    pub ipv4: bool,
    /// Show IPv6 only.
    #[arg(long)]
    pub ipv6: bool,
}

#[derive(Debug, Args)]
pub struct ProfileArgs {
    #[arg(
        value_name = "ARGS",
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub words: Vec<String>,
}

#[derive(Debug, Args)]
pub struct BgpArgs {
    #[command(subcommand)]
    pub command: BgpCommand,
}

#[derive(Debug, Subcommand)]
pub enum BgpCommand {
    /// Global BGP peers.
    Peer(PeerArgs),
    /// Show, or turn on or off, the full node-to-node BGP mesh.
    #[command(name = "node-mesh")]
    NodeMesh {
        #[arg(value_parser = ["on", "off"])]
        state: Option<String>,
    },
    /// Show or set the AS number nodes use when they have none of their own.
    #[command(name = "default-node-as")]
    DefaultNodeAs {
        #[arg(value_name = "AS")]
        asn: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct PeerArgs {
    #[command(subcommand)]
    pub command: PeerCommand,
}

#[derive(Debug, Subcommand)]
pub enum PeerCommand {
    /// Add a BGP peer: `add <PEER_IP> as <AS>`.
    Add {
        #[arg(value_name = "PEER_IP")]
        ip: String,
        #[arg(value_name = "as", value_parser = ["as"])]
        as_keyword: String,
        #[arg(value_name = "AS")]
        asn: String,
    },
    /// Remove the BGP peer with this IP.
    Remove {
        #[arg(value_name = "PEER_IP")]
        ip: String,
    },
    /// Show BGP peers.
    Show(FamilyFilter),
}

#[derive(Debug, Args)]
pub struct NodeArgs {
    /// The node whose peers `node bgp peer` manages (default: this machine's hostname).
    #[arg(long, global = true, value_name = "HOSTNAME")]
    pub hostname: Option<String>,
    #[command(subcommand)]
    pub command: NodeCommand,
}

#[derive(Debug, Subcommand)]
pub enum NodeCommand {
    /// Node-specific BGP configuration.
    Bgp(NodeBgpArgs),
    /// The BGP sessions of a node, as calico-node configures them from the resources (the
    /// node-to-node mesh, global and node-specific BGPPeers, route reflection).
    Peers(NodePeersArgs),
    /// This host's calico-node: whether it runs, and its BGP sessions with their states.
    Status(NodeStatusArgs),
    /// Starts calico-node on this host as a daemon.
    Run(NodeRunArgs),
    /// Stops this host's calico-node; the dataplane and the peers' routes stay in place.
    Stop(NodeStopArgs),
    /// Collects calico-node's status and log, the kernel's routes, links and rules, and the
    /// cluster's resources into one archive.
    Diags(NodeDiagsArgs),
}

#[derive(Debug, Args)]
pub struct NodeRunArgs {
    /// This node's IPv4 address (optionally /len), `autodetect`, or `none`.
    #[arg(long)]
    pub ip: Option<String>,
    /// This node's IPv6 address, `autodetect`, or `none`.
    #[arg(long)]
    pub ip6: Option<String>,
    /// This node's AS number (default: the cluster's).
    #[arg(long = "as", value_name = "AS_NUM")]
    pub as_number: Option<String>,
    /// The node's name (default: the hostname).
    #[arg(long)]
    pub name: Option<String>,
    /// How to find the IPv4 address: first-found, can-reach=DEST, interface=REGEX,
    /// skip-interface=REGEX, cidr=CIDR.
    #[arg(long)]
    pub ip_autodetection_method: Option<String>,
    /// How to find the IPv6 address (as for IPv4).
    #[arg(long)]
    pub ip6_autodetection_method: Option<String>,
    /// The routing backend: bird (BGP) or none.
    #[arg(long, default_value = "bird", value_parser = ["bird", "none"])]
    pub backend: String,
    /// Do not create the default IP pools when the cluster has none.
    #[arg(long)]
    pub no_default_ippools: bool,
    /// Where calico-node's log goes (calico-node.log).
    #[arg(long, default_value = "/var/log/calico")]
    pub log_dir: std::path::PathBuf,
    /// Where the pid file and status socket go (several nodes on one machine need one each).
    #[arg(long, default_value = "/var/run/calico")]
    pub run_dir: std::path::PathBuf,
    /// The calico-node binary (default: beside calicoctl, else on the PATH).
    #[arg(long)]
    pub node_binary: Option<std::path::PathBuf>,
    /// Print the environment and binary calico-node would be started with, and start nothing.
    #[arg(long)]
    pub dryrun: bool,
    /// Seconds to wait for calico-node to answer on its status socket.
    #[arg(long, default_value_t = 30)]
    pub timeout: u64,
}

#[derive(Debug, Args)]
pub struct NodeStopArgs {
    /// Where the pid file is.
    #[arg(long, default_value = "/var/run/calico")]
    pub run_dir: std::path::PathBuf,
    /// Seconds to wait for calico-node to exit after SIGTERM.
    #[arg(long, default_value_t = 30)]
    pub timeout: u64,
    /// Kill calico-node (SIGKILL) if it has not exited by then.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct NodeDiagsArgs {
    /// Where calico-node's log is.
    #[arg(long, default_value = "/var/log/calico")]
    pub log_dir: std::path::PathBuf,
    /// Where calico-node's status socket is.
    #[arg(long, default_value = "/var/run/calico")]
    pub run_dir: std::path::PathBuf,
    /// The archive to write (default: calico-diags-<time>.tar.gz here).
    #[arg(long, short = 'o')]
    pub output: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct NodeStatusArgs {
    /// calico-node's status socket (default: $CALICO_STATUS_SOCKET, else
    /// /var/run/calico/calico-node.ctl).
    #[arg(long, value_name = "PATH", conflicts_with = "node")]
    pub socket: Option<std::path::PathBuf>,
    /// Another node's status, as it last published it in the datastore, instead of this
    /// host's.
    #[arg(long, value_name = "NODE")]
    pub node: Option<String>,
}

#[derive(Debug, Args)]
pub struct NodePeersArgs {
    /// The node (a Node resource's name).
    #[arg(value_name = "NODE")]
    pub node: String,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value = "table")]
    pub output: PeersOutput,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PeersOutput {
    /// One row per session.
    Table,
    /// A JSON list, one object per session.
    Json,
}

#[derive(Debug, Args)]
pub struct NodeBgpArgs {
    #[command(subcommand)]
    pub command: NodeBgpCommand,
}

#[derive(Debug, Subcommand)]
pub enum NodeBgpCommand {
    /// BGP peers of this node only.
    Peer(PeerArgs),
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn parses_calico_style_invocations() {
        let cli = Cli::try_parse_from(["calicoctl", "get", "ippool", "-o", "wide", "-A"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Get(GetArgs {
                all_namespaces: true,
                ..
            })
        ));
        let cli = Cli::try_parse_from([
            "calicoctl",
            "profile",
            "web",
            "rule",
            "add",
            "inbound",
            "--at=1",
            "allow",
        ])
        .unwrap();
        let Command::Profile(p) = cli.command else {
            panic!("not a profile command")
        };
        assert_eq!(
            p.words,
            ["web", "rule", "add", "inbound", "--at=1", "allow"]
        );
        let cli =
            Cli::try_parse_from(["calicoctl", "bgp", "peer", "add", "10.0.0.1", "as", "65001"])
                .unwrap();
        assert!(matches!(cli.command, Command::Bgp(_)));
        assert!(
            Cli::try_parse_from(["calicoctl", "bgp", "peer", "add", "10.0.0.1", "AS", "1"])
                .is_err()
        );
        let cli = Cli::try_parse_from([
            "calicoctl",
            "node",
            "--hostname",
            "h1",
            "bgp",
            "peer",
            "show",
        ])
        .unwrap();
        assert!(matches!(
            cli.command,
            Command::Node(NodeArgs {
                hostname: Some(_),
                ..
            })
        ));
        let cli = Cli::try_parse_from(["calicoctl", "node", "peers", "kube-master", "-o", "json"])
            .unwrap();
        let Command::Node(NodeArgs {
            command: NodeCommand::Peers(p),
            ..
        }) = cli.command
        else {
            panic!("not node peers")
        };
        assert_eq!(p.node, "kube-master");
        assert_eq!(p.output, PeersOutput::Json);
        assert!(Cli::try_parse_from(["calicoctl", "node", "peers"]).is_err());
    }
}
