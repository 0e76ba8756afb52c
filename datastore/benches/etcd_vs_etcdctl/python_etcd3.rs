//! python-etcd3 (`etcd3_client.py` beside this file), the benchmark's long-lived baseline
//! client, driven one command a line over its stdin and stdout.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// Debian's interpreter, which sees Debian's python3-etcd3 (a `python3` earlier on the PATH
/// may be another installation).
const PYTHON: &str = "/usr/bin/python3";
/// How long any one step of the baseline may take.
const STEP_TIMEOUT: Duration = Duration::from_secs(120);

/// python-etcd3 in `etcd3_client.py`, one long-lived client, driven one command a line.
pub struct PythonEtcd3 {
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
}

impl PythonEtcd3 {
    /// Whether Debian's python3 can import etcd3.
    pub async fn available() -> bool {
        Command::new(PYTHON)
            .args(["-c", "import etcd3"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await
            .is_ok_and(|s| s.success())
    }

    /// Starts the client against `endpoint` (`http://HOST:PORT`) and waits until it is connected.
    pub async fn start(endpoint: &str) -> Result<PythonEtcd3> {
        let hostport = endpoint
            .strip_prefix("http://")
            .with_context(|| format!("endpoint {endpoint} is not http://HOST:PORT"))?;
        let (host, port) = hostport
            .rsplit_once(':')
            .with_context(|| format!("endpoint {endpoint} has no port"))?;
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/etcd_vs_etcdctl/etcd3_client.py");
        let mut child = Command::new(PYTHON)
            .arg(&script)
            .args([host, port])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            // Its failures explain themselves on the benchmark's stderr.
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {PYTHON} {}", script.display()))?;
        let stdin = child.stdin.take().context("python-etcd3 has no stdin")?;
        let stdout = child.stdout.take().context("python-etcd3 has no stdout")?;
        let mut client = PythonEtcd3 {
            child,
            stdin,
            lines: BufReader::new(stdout).lines(),
        };
        client.expect("ready").await?;
        Ok(client)
    }

    pub async fn send(&mut self, command: &str) -> Result<()> {
        self.stdin
            .write_all(format!("{command}\n").as_bytes())
            .await
            .with_context(|| format!("python-etcd3 did not take {command:?}"))
    }

    /// The next line, which must start with `word`; its other words.
    pub async fn expect(&mut self, word: &str) -> Result<Vec<String>> {
        let line = match tokio::time::timeout(STEP_TIMEOUT, self.lines.next_line()).await {
            Ok(Ok(Some(line))) => line,
            Ok(Ok(None)) => {
                bail!("python-etcd3 exited while we waited for {word:?} (its error is above)")
            }
            Ok(Err(e)) => bail!("reading python-etcd3: {e}"),
            Err(_) => {
                bail!("python-etcd3 said nothing for {STEP_TIMEOUT:?} (waiting for {word:?})")
            }
        };
        let mut words = line.split_whitespace().map(str::to_string);
        ensure!(
            words.next().as_deref() == Some(word),
            "python-etcd3 answered {line:?}, want {word:?}"
        );
        Ok(words.collect())
    }

    /// Sends `command` and reads its "WORD SECONDS COUNT" answer; checks the count.
    pub async fn timed(&mut self, command: &str, count: usize) -> Result<Duration> {
        self.send(command).await?;
        let word = command.split_whitespace().next().unwrap_or_default();
        let answer = self.expect(word).await?;
        let [secs, seen] = answer.as_slice() else {
            bail!("python-etcd3 answered {word} {answer:?}");
        };
        let secs: f64 = secs.parse().with_context(|| format!("seconds {secs:?}"))?;
        let seen: usize = seen.parse().with_context(|| format!("count {seen:?}"))?;
        ensure!(
            seen == count,
            "python-etcd3 {command}: {seen} results, want {count}"
        );
        Ok(Duration::from_secs_f64(secs))
    }

    pub async fn quit(mut self) -> Result<()> {
        self.send("quit").await?;
        let status = tokio::time::timeout(STEP_TIMEOUT, self.child.wait()).await??;
        ensure!(status.success(), "python-etcd3 exited with {status}");
        Ok(())
    }
}
