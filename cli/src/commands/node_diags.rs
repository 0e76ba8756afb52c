//! `calicoctl node diags`: everything needed to look into this host's Calico in one archive,
//! as Calico's does: calico-node's status and log, the routes, links, addresses, neighbours
//! and policy rules the kernel holds, the `calico` nftables table, the workload interfaces'
//! sysctls, and the cluster's Calico resources as stored. A part that cannot be collected is
//! named in `errors.txt` instead; the archive is always written.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use model::resources::Kind;

use crate::args::NodeDiagsArgs;
use crate::commands::node_daemon::RunFiles;

pub async fn run(cfg: Option<&Path>, args: NodeDiagsArgs) -> Result<()> {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let work = tempfile::Builder::new()
        .prefix("calico-diags-")
        .tempdir()
        .context("making a temporary directory")?;
    let name = format!("calico-diags-{stamp}");
    let dir = work.path().join(&name);
    std::fs::create_dir_all(&dir)?;
    let mut errors = Vec::new();

    let files = RunFiles::new(&args.run_dir);
    match std::os::unix::net::UnixStream::connect(&files.socket) {
        Ok(mut s) => {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut s, &mut text);
            save(&dir, "status.json", &text, &mut errors);
        }
        Err(e) => errors.push(format!("status: {}: {e}", files.socket.display())),
    }
    let log = args.log_dir.join("calico-node.log");
    if let Err(e) = std::fs::copy(&log, dir.join("calico-node.log")) {
        errors.push(format!("log: {}: {e}", log.display()));
    }
    for (file, program, cmd_args) in [
        ("ip-link.txt", "ip", &["-d", "link", "show"][..]),
        ("ip-addr.txt", "ip", &["addr", "show"][..]),
        ("ip-route.txt", "ip", &["route", "show", "table", "all"][..]),
        (
            "ip6-route.txt",
            "ip",
            &["-6", "route", "show", "table", "all"][..],
        ),
        ("ip-neigh.txt", "ip", &["neigh", "show"][..]),
        ("ip-rule.txt", "ip", &["rule", "show"][..]),
        (
            "nft-calico.txt",
            "nft",
            &["list", "table", "inet", "calico"][..],
        ),
        ("nft-ruleset.txt", "nft", &["list", "ruleset"][..]),
    ] {
        match Command::new(program).args(cmd_args).output() {
            Ok(o) if o.status.success() => {
                save(&dir, file, &String::from_utf8_lossy(&o.stdout), &mut errors)
            }
            Ok(o) => errors.push(format!(
                "{program} {}: {}",
                cmd_args.join(" "),
                String::from_utf8_lossy(&o.stderr).trim()
            )),
            Err(e) => errors.push(format!("{program}: {e}")),
        }
    }
    save(&dir, "sysctl-cali.txt", &workload_sysctls(), &mut errors);
    match crate::config::connect(cfg).await {
        Ok(store) => {
            for kind in Kind::ALL
                .iter()
                .filter(|k| datastore::typed::supported(**k).is_ok())
            {
                match store.list(*kind, None).await {
                    Ok(listed) => {
                        let json: Vec<_> = listed
                            .items
                            .iter()
                            .map(crate::output::resource_json)
                            .collect();
                        let text = serde_json::to_string_pretty(&json).unwrap_or_default();
                        save(
                            &dir,
                            &format!("resources/{}.json", kind.plural()),
                            &text,
                            &mut errors,
                        );
                    }
                    Err(e) => errors.push(format!("{}: {e}", kind.plural())),
                }
            }
        }
        Err(e) => errors.push(format!("datastore: {e:#}")),
    }
    save(&dir, "errors.txt", &errors.join("\n"), &mut Vec::new());

    let out = args
        .output
        .unwrap_or_else(|| PathBuf::from(format!("{name}.tar.gz")));
    let status = Command::new("tar")
        .arg("-czf")
        .arg(absolute(&out)?)
        .arg("-C")
        .arg(work.path())
        .arg(&name)
        .status()
        .context("running tar")?;
    if !status.success() {
        bail!("tar failed ({status}) writing {}", out.display());
    }
    println!("Diags saved to {}", out.display());
    if !errors.is_empty() {
        println!(
            "{} parts could not be collected (see errors.txt in the archive)",
            errors.len()
        );
    }
    Ok(())
}

fn save(dir: &Path, file: &str, text: &str, errors: &mut Vec<String>) {
    let path = dir.join(file);
    let written = path
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| std::fs::write(&path, text));
    if let Err(e) = written {
        errors.push(format!("{file}: {e}"));
    }
}

/// The managed sysctls of every `cali*` interface, one `path = value` per line.
fn workload_sysctls() -> String {
    let mut out = String::new();
    for (family, dir) in [
        ("ipv4", "/proc/sys/net/ipv4/conf"),
        ("ipv6", "/proc/sys/net/ipv6/conf"),
    ] {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.starts_with("cali"))
            .collect();
        names.sort();
        for n in names {
            for key in [
                "proxy_arp",
                "forwarding",
                "rp_filter",
                "route_localnet",
                "proxy_ndp",
                "accept_ra",
            ] {
                let path = format!("{dir}/{n}/{key}");
                if let Ok(v) = std::fs::read_to_string(&path) {
                    out.push_str(&format!("{family} {n} {key} = {}\n", v.trim()));
                }
            }
        }
    }
    out
}

fn absolute(p: &Path) -> Result<PathBuf> {
    if p.is_absolute() {
        return Ok(p.to_path_buf());
    }
    Ok(std::env::current_dir()?.join(p))
}
