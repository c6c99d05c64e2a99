//! Test harness: starts the real `skiff` binary on a temp data dir and a free port, and runs the real
//! kubectl binaries against it.

#![allow(dead_code)]

pub mod helm;
pub mod webhook;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A running `skiff server` process, killed on drop.
pub struct Skiff {
    child: Child,
    pub data_dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    pub kubeconfig: PathBuf,
}

/// The kubectl binaries to test with: stock 1.32 and 1.35 from the project's tools.
pub fn kubectls() -> Vec<PathBuf> {
    let mut found = vec![PathBuf::from("/usr/bin/kubectl")];
    let v135 = repo_root().join(".tools/bin/kubectl-1.35");
    if v135.exists() {
        found.push(v135);
    } else {
        eprintln!("note: kubectl 1.35 missing (run scripts/install-tools.sh); testing with 1.32 only");
    }
    found
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(16443)
}

impl Skiff {
    /// Start on a fresh temp data dir.
    pub fn start() -> Skiff {
        Skiff::start_with(&[])
    }

    /// Start on a fresh temp data dir with extra `skiff server` flags.
    pub fn start_with(flags: &[&str]) -> Skiff {
        let tmp = tempfile::tempdir().expect("temp dir");
        let dir = tmp.path().to_path_buf();
        let mut skiff = Skiff::start_in_with(&dir, flags);
        skiff._tmp = Some(tmp);
        skiff
    }

    /// Start on `data_dir` (which may hold an earlier run's data).
    pub fn start_in(data_dir: &Path) -> Skiff {
        Skiff::start_in_with(data_dir, &[])
    }

    /// Start on `data_dir` with extra `skiff server` flags. Unless the flags ask for nodes
    /// (`--simulated-nodes`, `--node-config`), the server runs none (tests make their own), not
    /// the one named after the host that `skiff server` runs by default.
    pub fn start_in_with(data_dir: &Path, flags: &[&str]) -> Skiff {
        let asks_for_nodes = flags
            .iter()
            .any(|f| f.starts_with("--simulated-nodes") || f.starts_with("--node-config"));
        let no_nodes: &[&str] = if asks_for_nodes {
            &[]
        } else {
            &["--simulated-nodes", "0"]
        };
        let port = free_port();
        let kubeconfig = data_dir.join("kubeconfig");
        let _ = std::fs::remove_file(&kubeconfig);
        let child = Command::new(env!("CARGO_BIN_EXE_skiff"))
            .args(["server", "--data-dir"])
            .arg(data_dir)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(flags)
            .args(no_nodes)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start skiff");
        let skiff = Skiff {
            child,
            data_dir: data_dir.to_path_buf(),
            _tmp: None,
            kubeconfig,
        };
        skiff.wait_ready();
        skiff
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if self.kubeconfig.exists() {
                let out = self.kubectl_with(Path::new("/usr/bin/kubectl"), &["get", "--raw", "/readyz"]);
                if out.status.success() {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("skiff did not become ready within 60s");
    }

    /// Run `kubectl` (a given binary) with this cluster's kubeconfig.
    pub fn kubectl_with(&self, kubectl: &Path, args: &[&str]) -> Output {
        Command::new(kubectl)
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env_remove("KUBECTL_EXTERNAL_DIFF")
            .output()
            .expect("run kubectl")
    }

    /// host:port from the kubeconfig the server wrote.
    pub fn kubeconfig_server(&self) -> String {
        let text = std::fs::read_to_string(&self.kubeconfig).expect("kubeconfig");
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with("server:"))
            .expect("server line");
        line.trim()
            .trim_start_matches("server:")
            .trim()
            .trim_start_matches("https://")
            .to_string()
    }

    /// Run kubectl 1.32 and return stdout, panicking with stderr on failure.
    pub fn kubectl(&self, args: &[&str]) -> String {
        ok(self.kubectl_with(Path::new("/usr/bin/kubectl"), args), args)
    }

    /// Run kubectl 1.32 expecting it to fail, and return its stderr.
    pub fn kubectl_fails(&self, args: &[&str]) -> String {
        fails(self.kubectl_with(Path::new("/usr/bin/kubectl"), args), args)
    }

    /// Wait (up to 30s) until the CRD `name` (e.g. `widgets.example.com`) is Established.
    pub fn wait_established(&self, name: &str) {
        self.kubectl(&[
            "wait",
            "--for=condition=Established",
            &format!("crd/{name}"),
            "--timeout=30s",
        ]);
    }

    /// `kubectl create` the CRD [`crd_yaml`]`(name, kind, rest)` (written into `dir`) and wait
    /// until it is Established.
    pub fn create_crd(&self, dir: &Path, name: &str, kind: &str, rest: &str) {
        let yaml = crd_yaml(name, kind, rest);
        self.kubectl(&["create", "-f", &write(dir, &format!("{name}.yaml"), &yaml)]);
        self.wait_established(name);
    }

    /// A kubeconfig (written into `dir`) for this server with `token` as the only credential.
    pub fn token_kubeconfig(&self, dir: &Path, name: &str, token: &str) -> PathBuf {
        let path = dir.join(format!("{name}.kubeconfig"));
        let ca = self.data_dir.join("pki/ca.crt");
        let server = format!("--server=https://{}", self.kubeconfig_server());
        let ca = format!("--certificate-authority={}", ca.display());
        let steps: Vec<Vec<String>> = vec![
            vec!["set-cluster".into(), "skiff".into(), server, ca, "--embed-certs".into()],
            vec![
                "set-context".into(),
                "ctx".into(),
                "--cluster=skiff".into(),
                format!("--user={name}"),
            ],
            vec!["use-context".into(), "ctx".into()],
            vec!["set-credentials".into(), name.into(), format!("--token={token}")],
        ];
        for step in steps {
            let out = Command::new("/usr/bin/kubectl")
                .arg("config")
                .args(&step)
                .env("KUBECONFIG", &path)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "kubectl config {step:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        path
    }

    /// Stop the server (SIGTERM-like kill) and wait for it.
    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Skiff {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// kubectl (1.35 when installed) run with `kubeconfig`.
pub fn kubectl_as(kubeconfig: &Path, args: &[&str]) -> Output {
    let kubectl = kubectls().pop().unwrap();
    Command::new(kubectl)
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .output()
        .expect("run kubectl")
}

/// stdout of a successful command; panics with its stderr otherwise.
pub fn ok(out: Output, args: &[&str]) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "kubectl {args:?} failed:\nstdout: {stdout}\nstderr: {stderr}"
    );
    stdout
}

/// stderr of a failed command; panics if it succeeded.
pub fn fails(out: Output, args: &[&str]) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "kubectl {args:?} unexpectedly succeeded: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    stderr
}

/// Write `text` to `dir/file` and return the path as a kubectl argument.
pub fn write(dir: &Path, file: &str, text: &str) -> String {
    let path = dir.join(file);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

/// `sub` of the field kit (../shared/fieldkit), or None with a skip note when it is absent.
pub fn fieldkit(sub: &str) -> Option<PathBuf> {
    let dir = repo_root().join("../shared/fieldkit").join(sub);
    if dir.exists() {
        Some(dir)
    } else {
        eprintln!("skipping: ../shared/fieldkit is absent (CI has it)");
        None
    }
}

/// Retry `attempt` every 100ms until it yields a value, failing after `secs` seconds with `what`;
/// for what takes longer than [`eventually`] allows (leases expiring, backoffs, deadlines).
pub fn within<T>(secs: u64, what: &str, mut attempt: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(value) = attempt() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out after {secs}s waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Retry `attempt` every 50ms until it yields a value, failing after 20s with `what`; for
/// changes the server applies asynchronously (a CRD update reaching the catalogue).
pub fn eventually<T>(what: &str, mut attempt: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(value) = attempt() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A namespaced CustomResourceDefinition named `name` (`<plural>.<group>`) of kind `kind`, whose
/// spec goes on with `rest` (YAML indented two spaces: `  versions:` …).
pub fn crd_yaml(name: &str, kind: &str, rest: &str) -> String {
    let (plural, group) = name.split_once('.').expect("<plural>.<group>");
    let singular = kind.to_lowercase();
    format!(
        "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: {name}
spec:
  group: {group}
  scope: Namespaced
  names: {{plural: {plural}, singular: {singular}, kind: {kind}, listKind: {kind}List}}
{rest}"
    )
}
