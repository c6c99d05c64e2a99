//! Helm 3 and 4 from the project's tools, run against a [`Skiff`] with their own cache and config.

use super::Skiff;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The Helm binaries installed by scripts/install-tools.sh (none: a skip note).
pub fn helms() -> Vec<PathBuf> {
    let bin = super::repo_root().join(".tools/bin");
    let found: Vec<PathBuf> = ["helm3", "helm4"]
        .iter()
        .map(|h| bin.join(h))
        .filter(|p| p.exists())
        .collect();
    if found.is_empty() {
        eprintln!("skipping: no Helm in .tools/bin (run scripts/install-tools.sh)");
    }
    found
}

/// Run `helm args` against the cluster; its stdout, panicking with stderr on failure.
pub fn helm(skiff: &Skiff, helm: &Path, args: &[&str]) -> String {
    let out = Command::new(helm)
        .args(args)
        .env("KUBECONFIG", &skiff.kubeconfig)
        .env("HELM_CACHE_HOME", skiff.data_dir.join("helm/cache"))
        .env("HELM_CONFIG_HOME", skiff.data_dir.join("helm/config"))
        .env("HELM_DATA_HOME", skiff.data_dir.join("helm/data"))
        .output()
        .expect("run helm");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "helm {args:?} failed: {stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}
