//! The widget-operator command: print the Widget CRD, or run the operator against the current kubeconfig.

use clap::Parser;

/// Reconcile Widgets (example.skiff.dev/v1) using the kubeconfig from $KUBECONFIG or ~/.kube/config.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Print the Widget CustomResourceDefinition as YAML and exit.
    #[arg(long)]
    print_crd: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.print_crd {
        print!("{}", skiff_example_operator::widget::crd_yaml()?);
        return Ok(());
    }
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let client = kube::Client::try_default().await?;
    tokio::select! {
        () = skiff_example_operator::run(client) => Ok(()),
        signal = tokio::signal::ctrl_c() => Ok(signal?),
    }
}
