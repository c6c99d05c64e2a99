//! `skiff-bench`: measures skiff side by side with etcd on the same machine in the same run
//! (durable creates, startup, memory, reads, watch) and reports each figure with its ratio.

mod api;
mod load;
mod machine;
mod objects;
mod peers;
mod report;
mod scenarios;
mod stats;

use anyhow::{bail, Context};
use clap::{Parser, ValueEnum};
use report::Outcome;
use scenarios::{Bench, Sizes};
use std::path::{Path, PathBuf};

#[derive(Parser)]
#[command(name = "skiff-bench", about = "Benchmark skiff against etcd on this machine")]
struct Args {
    /// What to measure.
    scenario: Scenario,
    /// Write the outcomes as a JSON array (one object per scenario) to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Tiny sizes: exercises every path quickly, figures mean nothing (for the smoke test).
    #[arg(long)]
    small: bool,
    /// Measure skiff alone (etcd figures, ratios and verdicts that need etcd are left empty).
    #[arg(long)]
    no_etcd: bool,
    /// The etcd binary (Debian's etcd-server package; see scripts/install-etcd.sh).
    #[arg(long, default_value = "/usr/bin/etcd")]
    etcd: PathBuf,
    /// The skiff binary; by default the `skiff` next to this program.
    #[arg(long)]
    skiff: Option<PathBuf>,
    /// Where `all` writes its markdown report; by default docs/benchmarks.md, except with --small.
    #[arg(long)]
    markdown: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    Create,
    Startup,
    Memory,
    Read,
    Watch,
    Density,
    Rbac,
    All,
}

const EVERY_SCENARIO: [Scenario; 7] = [
    Scenario::Create,
    Scenario::Startup,
    Scenario::Memory,
    Scenario::Read,
    Scenario::Watch,
    Scenario::Density,
    Scenario::Rbac,
];

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let skiff = match &args.skiff {
        Some(path) => path.clone(),
        None => sibling_skiff()?,
    };
    if !skiff.exists() {
        bail!(
            "{} not found: build it first (cargo build --release --bin skiff)",
            skiff.display()
        );
    }
    if args.skiff.is_none() {
        println!("measuring {}", skiff.display());
    }
    let etcd = if args.no_etcd {
        None
    } else if args.etcd.exists() {
        Some(args.etcd.clone())
    } else {
        bail!(
            "etcd not found at {}: run `bash scripts/install-etcd.sh` (or pass --no-etcd to measure skiff alone)",
            args.etcd.display()
        );
    };
    let bench = Bench {
        skiff,
        etcd,
        sizes: if args.small { Sizes::small() } else { Sizes::full() },
    };
    let chosen: Vec<Scenario> = if args.scenario == Scenario::All {
        EVERY_SCENARIO.to_vec()
    } else {
        vec![args.scenario]
    };
    let mut outcomes = Vec::new();
    for scenario in chosen {
        let outcome = run(&bench, scenario).await?;
        println!("{}", outcome.text());
        outcomes.push(outcome);
    }
    if let Some(path) = &args.json {
        let all: Vec<_> = outcomes.iter().map(Outcome::to_json).collect();
        std::fs::write(path, serde_json::to_string_pretty(&all)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let markdown = match (&args.markdown, args.small) {
        (Some(path), _) => Some(path.clone()),
        (None, false) if args.scenario == Scenario::All => Some(PathBuf::from("docs/benchmarks.md")),
        _ => None,
    };
    if let Some(path) = markdown {
        let context = machine::context(&bench, &args_line(&args));
        std::fs::write(&path, report::markdown(&outcomes, &context))
            .with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

async fn run(bench: &Bench, scenario: Scenario) -> anyhow::Result<Outcome> {
    let outcome = match scenario {
        Scenario::Create => scenarios::create::run(bench).await,
        Scenario::Startup => scenarios::startup::run(bench).await,
        Scenario::Memory => scenarios::memory::run(bench).await,
        Scenario::Read => scenarios::read::run(bench).await,
        Scenario::Watch => scenarios::watch::run(bench).await,
        Scenario::Density => scenarios::density::run(bench).await,
        Scenario::Rbac => scenarios::rbac::run(bench).await,
        Scenario::All => bail!("`all` is not a single scenario"),
    };
    outcome.with_context(|| format!("scenario {}", scenario.name()))
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Scenario::Create => "create",
            Scenario::Startup => "startup",
            Scenario::Memory => "memory",
            Scenario::Read => "read",
            Scenario::Watch => "watch",
            Scenario::Density => "density",
            Scenario::Rbac => "rbac",
            Scenario::All => "all",
        }
    }
}

/// The arguments after `--` that reproduce this run.
fn args_line(args: &Args) -> String {
    let mut line = args.scenario.name().to_string();
    if args.small {
        line.push_str(" --small");
    }
    if args.no_etcd {
        line.push_str(" --no-etcd");
    }
    if let Some(json) = &args.json {
        line.push_str(&format!(" --json {}", json.display()));
    }
    line
}

/// The `skiff` binary next to this one. Under `cargo run` only this binary is built, so first
/// build `skiff` with the same cargo and profile, so that the measured binary is never stale.
fn sibling_skiff() -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe().context("locating skiff-bench")?;
    let dir = me.parent().unwrap_or(Path::new("."));
    if let (Some(cargo), Some(manifest_dir)) = (std::env::var_os("CARGO"), std::env::var_os("CARGO_MANIFEST_DIR")) {
        let profile = match dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") | None => "dev",
            Some(other) => other,
        };
        // The bench crate sits in the workspace whose root package builds `skiff`.
        let manifest = Path::new(&manifest_dir).join("../Cargo.toml");
        let status = std::process::Command::new(cargo)
            .args([
                "build",
                "--quiet",
                "--package",
                "skiff",
                "--bin",
                "skiff",
                "--profile",
                profile,
                "--manifest-path",
            ])
            .arg(&manifest)
            .status()
            .context("running cargo build --bin skiff")?;
        if !status.success() {
            bail!("cargo build --bin skiff --profile {profile} failed");
        }
    }
    Ok(dir.join("skiff"))
}
