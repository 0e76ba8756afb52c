//! calico-node from the calico/node image (`image/Containerfile`), run with podman in a host's
//! namespace, as calico/node runs on a real host: [`NodeImage`] is the image built from this
//! build's `calico-node` on the base `image/base.sh` makes (once per machine, then reused),
//! and [`CalicoHost::start_container`](super::CalicoHost::start_container) runs it.
//!
//! podman is always run with `image/containers.conf` (`CONTAINERS_CONF`), runc and cgroupfs.
//! Every image and container made here carries the label [`PID_LABEL`] with the test process's
//! pid; those of a process that is gone (a test killed before its drops ran) are removed the
//! next time an image is built.

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The label naming the process that made an image or a container.
pub const PID_LABEL: &str = "io.calico-rs.test.pid";

/// podman as the image's recipe runs it.
#[derive(Clone, Debug)]
pub struct Podman {
    conf: PathBuf,
}

impl Default for Podman {
    fn default() -> Self {
        Podman {
            conf: image_dir().join("containers.conf"),
        }
    }
}

impl Podman {
    /// `podman --runtime runc --cgroup-manager cgroupfs` with the image's containers.conf.
    pub fn command(&self) -> Command {
        let mut c = Command::new("podman");
        c.env("CONTAINERS_CONF", &self.conf).args([
            "--runtime",
            "runc",
            "--cgroup-manager",
            "cgroupfs",
        ]);
        c
    }

    /// Runs `podman <args>`; its stdout, or an error with everything it printed.
    pub fn run(&self, args: &[&str]) -> io::Result<String> {
        let out = self.command().args(args).output()?;
        checked(out, &format!("podman {}", args.join(" ")))
    }

    /// Removes the containers and images of test processes that are gone.
    pub fn remove_stale(&self) {
        let format = format!("{{{{.ID}}}} {{{{index .Labels \"{PID_LABEL}\"}}}}");
        let filter = format!("label={PID_LABEL}");
        for (kind, remove) in [("ps", ["rm", "-f"]), ("images", ["rmi", "-f"])] {
            let mut args = vec![kind, "--filter", &filter, "--format", &format];
            if kind == "ps" {
                args.push("--all");
            }
            let Ok(listed) = self.run(&args) else {
                continue;
            };
            for line in listed.lines() {
                let Some((id, pid)) = line.split_once(' ') else {
                    continue;
                };
                if !Path::new(&format!("/proc/{}", pid.trim())).exists() {
                    let _ = self.run(&[remove[0], remove[1], id]);
                }
            }
        }
    }
}

/// A calico/node image made from this build's `calico-node` (stripped) on the shared base;
/// removed on drop.
pub struct NodeImage {
    /// `localhost/calico-rs/node-test:<pid>`.
    pub name: String,
    pub podman: Podman,
}

impl NodeImage {
    /// Builds the image: the base from `image/base.sh` (made when this machine has none, which
    /// downloads Debian packages; reused after), then `image/Containerfile` with `calico-node`
    /// from the test's own build, offline. Drop it after the containers made from it.
    pub fn build() -> io::Result<NodeImage> {
        let podman = Podman::default();
        let dir = tempfile::tempdir()?;
        let scratch = dir.path();
        podman.remove_stale();
        let base_script = image_dir().join("base.sh");
        let base = Command::new("bash")
            .arg(&base_script)
            .env("CONTAINERS_CONF", &podman.conf)
            .env("CALICO_IMAGE_WORK", scratch.join("base"))
            .output()?;
        let base = checked(base, &base_script.display().to_string())?;
        let base = base.trim();
        let context = scratch.join("context");
        std::fs::create_dir_all(context.join("bin"))?;
        let binary = testkit::workspace_bin("calico-node");
        let stripped = context.join("bin/calico-node");
        checked(
            Command::new("strip")
                .arg("-o")
                .arg(&stripped)
                .arg(&binary)
                .output()?,
            "strip calico-node",
        )?;
        let pid = std::process::id();
        let name = format!("localhost/calico-rs/node-test:{pid}");
        let containerfile = image_dir().join("Containerfile");
        podman.run(&[
            "build",
            "--quiet",
            "--network",
            "none",
            "--build-arg",
            &format!("BASE={base}"),
            "--label",
            &format!("{PID_LABEL}={pid}"),
            "-f",
            &containerfile.display().to_string(),
            "-t",
            &name,
            &context.display().to_string(),
        ])?;
        Ok(NodeImage { name, podman })
    }

    /// The image's size as podman reports it (bytes).
    pub fn size(&self) -> io::Result<u64> {
        let out = self
            .podman
            .run(&["image", "inspect", "--format", "{{.Size}}", &self.name])?;
        out.trim()
            .parse()
            .map_err(|e| io::Error::other(format!("image size {out:?}: {e}")))
    }
}

impl Drop for NodeImage {
    fn drop(&mut self) {
        if let Err(e) = self.podman.run(&["rmi", &self.name]) {
            eprintln!("removing {}: {e}", self.name);
        }
    }
}

/// One calico-node container, started by
/// [`CalicoHost::start_container`](super::CalicoHost::start_container).
#[derive(Debug)]
pub struct NodeContainer {
    pub name: String,
    pub podman: Podman,
}

impl NodeContainer {
    /// `podman run -d` of `image` named `name` in the namespace `/run/netns/<netns>`,
    /// privileged, with `env`, and `run_dir` as `/var/run/calico` (the status socket).
    pub fn run(
        image: &NodeImage,
        name: &str,
        netns: &str,
        run_dir: &Path,
        env: &[(String, String)],
    ) -> io::Result<NodeContainer> {
        let podman = image.podman.clone();
        // A container of this name left by an earlier run would make `run` fail.
        let _ = podman.run(&["rm", "-f", "-t", "0", name]);
        std::fs::create_dir_all(run_dir)?;
        let mut args: Vec<String> = [
            "run",
            "-d",
            "--name",
            name,
            "--network",
            &format!("ns:/run/netns/{netns}"),
            "--privileged",
            "--label",
            &format!("{PID_LABEL}={}", std::process::id()),
            "-v",
            &format!("{}:/var/run/calico", run_dir.display()),
        ]
        .map(str::to_owned)
        .to_vec();
        for (k, v) in env {
            args.extend(["-e".to_owned(), format!("{k}={v}")]);
        }
        args.push(image.name.clone());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        podman.run(&args)?;
        Ok(NodeContainer {
            name: name.to_owned(),
            podman,
        })
    }

    /// Whether the container's process is running.
    pub fn running(&self) -> bool {
        self.podman
            .run(&["inspect", "--format", "{{.State.Running}}", &self.name])
            .is_ok_and(|s| s.trim() == "true")
    }

    /// What calico-node printed (`podman logs`).
    pub fn logs(&self) -> String {
        match self.podman.command().args(["logs", &self.name]).output() {
            Ok(o) => format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ),
            Err(e) => format!("(podman logs {}: {e})", self.name),
        }
    }

    /// `podman stop` (SIGTERM, SIGKILL after `grace_s` seconds), then `podman rm`.
    pub fn stop_and_remove(&self, grace_s: u32) -> io::Result<()> {
        let stopped = self
            .podman
            .run(&["stop", "-t", &grace_s.to_string(), &self.name]);
        let removed = self.podman.run(&["rm", "-f", "-t", "0", &self.name]);
        stopped.and(removed).map(drop)
    }

    /// Whether podman still knows a container of this name.
    pub fn exists(&self) -> bool {
        self.podman
            .command()
            .args(["container", "exists", &self.name])
            .status()
            .is_ok_and(|s| s.success())
    }
}

/// The repository's `image/` directory.
pub fn image_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../image")
}

fn checked(out: Output, what: &str) -> io::Result<String> {
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    Err(io::Error::other(format!(
        "{what} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )))
}
