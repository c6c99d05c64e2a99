//! The `skiff` command line: `skiff server` runs the whole control plane in one process.

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "skiff", version, about = "Kubernetes rebuilt in Rust as one small binary")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the all-in-one control plane (apiserver and controllers) on the embedded store.
    Server(ServerArgs),
}

#[derive(clap::Args)]
struct ServerArgs {
    /// Where the store, the CA and the admin kubeconfig live.
    #[arg(long, env = "SKIFF_DATA_DIR", default_value_os_t = default_data_dir())]
    data_dir: PathBuf,
    /// Address to serve HTTPS on.
    #[arg(long, default_value = "127.0.0.1:6443")]
    listen: SocketAddr,
    /// Static bearer tokens (upstream's CSV format: token,user,uid,"group1,group2").
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// How long a node may miss Lease renewals before the node controller marks it Unknown
    /// (kube-controller-manager's --node-monitor-grace-period).
    #[arg(long, value_parser = skiff_controllers::cluster::parse_duration)]
    node_monitor_grace_period: Option<std::time::Duration>,
}

fn default_data_dir() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
        .join(".skiff")
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Server(args) => server(args).await,
    }
}

async fn server(args: ServerArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.data_dir).with_context(|| format!("creating {}", args.data_dir.display()))?;
    let options = skiff::ServerOptions {
        data_dir: args.data_dir,
        listen: args.listen,
        token_file: args.token_file,
        node_monitor_grace_period: args.node_monitor_grace_period,
    };
    let running = skiff::start(options).await?;
    tracing::info!(
        "skiff is ready on https://{}; use it with: export KUBECONFIG={}",
        running.address,
        running.kubeconfig.display()
    );
    tokio::signal::ctrl_c().await.ok();
    tracing::info!("shutting down");
    running.shutdown().await;
    Ok(())
}
