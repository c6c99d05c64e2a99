//! Starting, probing and stopping the two systems under test: a fresh `skiff server` and a fresh
//! etcd, each on its own temp data dir and free loopback ports.

use anyhow::{bail, Context};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// How long a system may take to become ready before the run fails.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How often readiness is polled.
const POLL: Duration = Duration::from_millis(2);

/// A child process on a temp dir, killed when stopped or dropped.
struct Process {
    child: Child,
    dir: tempfile::TempDir,
    name: &'static str,
}

impl Process {
    fn spawn(name: &'static str, command: &mut Command) -> anyhow::Result<Process> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("skiff-bench-{name}-"))
            .tempdir()?;
        let log = std::fs::File::create(dir.path().join("log"))?;
        let child = command
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        Ok(Process { child, dir, name })
    }

    /// The data dir inside the temp dir.
    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Fail with the end of the log if the process has exited.
    fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            let log = std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(20).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            bail!("{} exited with {status}:\n{}", self.name, tail.join("\n"));
        }
        Ok(())
    }

    /// Resident set size in bytes (VmRSS of /proc/<pid>/status).
    fn rss_bytes(&self) -> anyhow::Result<u64> {
        let pid = self.child.id().context("process has exited")?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        vm_rss(&status).context("no VmRSS in /proc/<pid>/status")
    }

    async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// The VmRSS line of a /proc/<pid>/status text, in bytes.
pub fn vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// A loopback port that was free a moment ago.
fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A running `skiff server`.
pub struct Skiff {
    process: Process,
    kubeconfig: PathBuf,
}

impl Skiff {
    /// Start `skiff server` on a fresh data dir; returns it with the time from spawn to /readyz ok.
    pub async fn start(binary: &Path) -> anyhow::Result<(Skiff, Duration)> {
        Skiff::start_with(binary, &[]).await
    }

    /// [`Skiff::start`] with extra `skiff server` arguments (e.g. `--simulated-nodes 5000`).
    pub async fn start_with(binary: &Path, extra: &[String]) -> anyhow::Result<(Skiff, Duration)> {
        let port = free_port()?;
        let started = Instant::now();
        let mut command = Command::new(binary);
        command
            .arg("server")
            .arg("--data-dir")
            .arg("data")
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .args(extra)
            .env("RUST_LOG", "warn");
        let mut process = Process::spawn("skiff", &mut command)?;
        let kubeconfig = process.data_dir().join("kubeconfig");
        let mut client: Option<kube::Client> = None;
        loop {
            process.check_alive()?;
            if started.elapsed() > READY_TIMEOUT {
                bail!("skiff was not ready within {READY_TIMEOUT:?}");
            }
            if client.is_none() && kubeconfig.exists() {
                // The file may still be half written: try again on the next poll.
                client = connect(&kubeconfig).await.ok();
            }
            if let Some(client) = &client {
                if crate::api::get(client, "/readyz").await.is_ok() {
                    break;
                }
            }
            tokio::time::sleep(POLL).await;
        }
        let ready = started.elapsed();
        Ok((Skiff { process, kubeconfig }, ready))
    }

    /// `n` independent clients, each with its own connection, authenticated as the admin.
    pub async fn clients(&self, n: usize) -> anyhow::Result<Vec<kube::Client>> {
        let mut clients = Vec::with_capacity(n);
        for _ in 0..n {
            clients.push(connect(&self.kubeconfig).await?);
        }
        Ok(clients)
    }

    /// `n` independent clients authenticated by the bearer `token` alone (no client certificate).
    pub async fn token_clients(&self, n: usize, token: &str) -> anyhow::Result<Vec<kube::Client>> {
        let mut file = serde_json::to_value(kube::config::Kubeconfig::read_from(&self.kubeconfig)?)?;
        for user in file["users"].as_array_mut().into_iter().flatten() {
            user["user"] = serde_json::json!({ "token": token });
        }
        let file: kube::config::Kubeconfig = serde_json::from_value(file)?;
        let mut clients = Vec::with_capacity(n);
        for _ in 0..n {
            let config =
                kube::Config::from_custom_kubeconfig(file.clone(), &kube::config::KubeConfigOptions::default()).await?;
            clients.push(kube::Client::try_from(config)?);
        }
        Ok(clients)
    }

    pub fn rss_bytes(&self) -> anyhow::Result<u64> {
        self.process.rss_bytes()
    }

    /// The server's process id, for CPU and peak-memory readings from /proc.
    pub fn pid(&self) -> Option<u32> {
        self.process.child.id()
    }

    pub async fn stop(self) {
        self.process.stop().await;
    }
}

/// A client for the cluster of `kubeconfig`.
async fn connect(kubeconfig: &Path) -> anyhow::Result<kube::Client> {
    let file = kube::config::Kubeconfig::read_from(kubeconfig)?;
    let config = kube::Config::from_custom_kubeconfig(file, &kube::config::KubeConfigOptions::default()).await?;
    Ok(kube::Client::try_from(config)?)
}

/// A running single-member etcd.
pub struct Etcd {
    process: Process,
    endpoint: String,
}

impl Etcd {
    /// Start etcd on a fresh data dir; returns it with the time from spawn to /health ok.
    pub async fn start(binary: &Path) -> anyhow::Result<(Etcd, Duration)> {
        let client_url = format!("http://127.0.0.1:{}", free_port()?);
        let peer_url = format!("http://127.0.0.1:{}", free_port()?);
        let started = Instant::now();
        let mut command = Command::new(binary);
        command
            .args(["--name", "bench", "--data-dir", "data"])
            .args([
                "--listen-client-urls",
                &client_url,
                "--advertise-client-urls",
                &client_url,
            ])
            .args([
                "--listen-peer-urls",
                &peer_url,
                "--initial-advertise-peer-urls",
                &peer_url,
            ])
            .args(["--initial-cluster", &format!("bench={peer_url}")])
            .args(["--logger", "zap", "--log-level", "warn"]);
        let mut process = Process::spawn("etcd", &mut command)?;
        let health: http::Uri = format!("{client_url}/health").parse()?;
        let http = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http::<http_body_util::Empty<bytes::Bytes>>();
        loop {
            process.check_alive()?;
            if started.elapsed() > READY_TIMEOUT {
                bail!("etcd was not healthy within {READY_TIMEOUT:?}");
            }
            if let Ok(response) = http.get(health.clone()).await {
                use http_body_util::BodyExt;
                if let Ok(body) = response.into_body().collect().await {
                    if is_healthy(&body.to_bytes()) {
                        break;
                    }
                }
            }
            tokio::time::sleep(POLL).await;
        }
        let ready = started.elapsed();
        Ok((
            Etcd {
                process,
                endpoint: client_url,
            },
            ready,
        ))
    }

    /// `n` independent gRPC clients, each with its own connection.
    pub async fn clients(&self, n: usize) -> anyhow::Result<Vec<etcd_client::Client>> {
        let mut clients = Vec::with_capacity(n);
        for _ in 0..n {
            clients.push(etcd_client::Client::connect([&self.endpoint], None).await?);
        }
        Ok(clients)
    }

    pub fn rss_bytes(&self) -> anyhow::Result<u64> {
        self.process.rss_bytes()
    }

    pub async fn stop(self) {
        self.process.stop().await;
    }
}

/// Whether an etcd /health body says healthy (`{"health":"true"}`).
fn is_healthy(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body)
        .map(|v| v["health"] == "true")
        .unwrap_or(false)
}

/// etcd's version line, for the report.
pub fn etcd_version(binary: &Path) -> String {
    std::process::Command::new(binary)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.lines().next().map(str::to_string))
        .unwrap_or_else(|| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_vm_rss() {
        let status = "Name:\tetcd\nVmPeak:\t  9000 kB\nVmRSS:\t   1234 kB\nRssAnon:\t 1000 kB\n";
        assert_eq!(vm_rss(status), Some(1234 * 1024));
        assert_eq!(vm_rss("Name:\tx\n"), None);
    }

    #[test]
    fn etcd_health_body() {
        assert!(is_healthy(br#"{"health":"true"}"#));
        assert!(!is_healthy(br#"{"health":"false"}"#));
        assert!(!is_healthy(b"not json"));
    }
}
