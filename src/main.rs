//! The `skiff` command line: `skiff server` runs the whole control plane in one process;
//! `skiff node` runs a (simulated) node agent alone against any apiserver; `skiff controller-manager`
//! runs the controller-manager's loops alone, leader-elected, against any apiserver.

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
    /// Run a simulated node agent against the cluster of a kubeconfig (any apiserver).
    Node(NodeArgs),
    /// Run the controller-manager's loops against the cluster of a kubeconfig (any apiserver),
    /// leader-elected through the kube-system/kube-controller-manager Lease.
    ControllerManager(ControllerManagerArgs),
}

#[derive(clap::Args)]
struct ControllerManagerArgs {
    /// The kubeconfig of the cluster to manage.
    #[arg(long, env = "KUBECONFIG", value_name = "FILE")]
    kubeconfig: PathBuf,
    /// The CA bundle published as kube-root-ca.crt in every namespace (default: the kubeconfig's
    /// certificate-authority data).
    #[arg(long, value_name = "FILE")]
    root_ca_file: Option<PathBuf>,
    /// The key that signs legacy ServiceAccount token Secrets (the apiserver's
    /// DATA_DIR/pki/sa.key); without it the token controller does not run.
    #[arg(long, value_name = "FILE")]
    service_account_private_key_file: Option<PathBuf>,
    /// How long a node may miss Lease renewals before it is marked Unknown.
    #[arg(long, value_parser = skiff_controllers::cluster::parse_duration)]
    node_monitor_grace_period: Option<std::time::Duration>,
    /// The PEM CA certificate approved CertificateSigningRequests are signed with.
    #[arg(long, value_name = "FILE", requires = "cluster_signing_key_file")]
    cluster_signing_cert_file: Option<PathBuf>,
    /// The PEM private key of --cluster-signing-cert-file.
    #[arg(long, value_name = "FILE", requires = "cluster_signing_cert_file")]
    cluster_signing_key_file: Option<PathBuf>,
    /// Hand out pod CIDRs to nodes (node IPAM) from --cluster-cidr.
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, value_name = "BOOL")]
    allocate_node_cidrs: bool,
    /// The range node IPAM takes pod CIDRs from.
    #[arg(long, value_name = "CIDR", default_value = "10.244.0.0/16")]
    cluster_cidr: String,
    /// The prefix length of each node's pod CIDR.
    #[arg(long, value_name = "BITS", default_value_t = 24)]
    node_cidr_mask_size: u8,
}

#[derive(clap::Args)]
struct ServerArgs {
    /// Where the store, the CA and the admin kubeconfig live.
    #[arg(long, env = "SKIFF_DATA_DIR", default_value_os_t = default_data_dir())]
    data_dir: PathBuf,
    /// Address to serve HTTPS on.
    #[arg(long, default_value = "127.0.0.1:6443")]
    listen: SocketAddr,
    /// Static bearer tokens (kube-apiserver's --token-auth-file CSV: token,user,uid,"group1,group2").
    #[arg(long = "token-auth-file", visible_alias = "token-file")]
    token_file: Option<PathBuf>,
    /// The admission plugins' settings: an AdmissionConfiguration file, as kube-apiserver's flag
    /// (PodSecurity's defaults and exemptions).
    #[arg(long = "admission-control-config-file", value_name = "FILE")]
    admission_control_config_file: Option<PathBuf>,
    /// The audit.k8s.io/v1 Policy deciding what is audited (with --audit-log-path).
    #[arg(long, value_name = "FILE")]
    audit_policy_file: Option<PathBuf>,
    /// Where audit events are appended as JSON lines (`-`: standard output).
    #[arg(long, value_name = "FILE")]
    audit_log_path: Option<PathBuf>,
    /// The issuer of ServiceAccount tokens; repeat to accept more (the first signs new tokens).
    #[arg(long = "service-account-issuer", value_name = "URL",
          default_value = skiff_apiserver::auth::service_account::DEFAULT_ISSUER)]
    service_account_issuers: Vec<String>,
    /// The audiences tokens are for unless they name others (default: the issuers).
    #[arg(long, value_name = "AUDIENCES", value_delimiter = ',')]
    api_audiences: Vec<String>,
    /// The longest expiry a TokenRequest gets (longer requests are shortened to it).
    #[arg(long, value_parser = skiff_controllers::cluster::parse_duration)]
    service_account_max_token_expiration: Option<std::time::Duration>,
    /// Extend the one-hour pod tokens kubelets request to a year, warning after the hour.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    service_account_extend_token_expiration: bool,
    /// The JWKS URI the OIDC discovery document names (default https://<address>/openid/v1/jwks).
    #[arg(long, value_name = "URL")]
    service_account_jwks_uri: Option<String>,
    /// How long a node may miss Lease renewals before the node controller marks it Unknown
    /// (kube-controller-manager's --node-monitor-grace-period).
    #[arg(long, value_parser = skiff_controllers::cluster::parse_duration)]
    node_monitor_grace_period: Option<std::time::Duration>,
    /// Run N simulated nodes named skiff-node-0 … skiff-node-<N-1> instead of the one named after
    /// the host.
    #[arg(long, value_name = "N")]
    simulated_nodes: Option<usize>,
    /// Run the nodes a YAML list describes (name, labels, taints, capacity, allocatable, ...).
    #[arg(long, value_name = "FILE")]
    node_config: Option<PathBuf>,
    /// Run the static pods whose manifests are in DIR on the first node.
    #[arg(long, value_name = "DIR")]
    pod_manifest_path: Option<PathBuf>,
    /// The range node IPAM takes pod CIDRs from (default 10.244.0.0/16; 10.128.0.0/9 past 256 nodes).
    #[arg(long, value_name = "CIDR")]
    cluster_cidr: Option<String>,
    /// The prefix length of each node's pod CIDR (default 24).
    #[arg(long, value_name = "BITS")]
    node_cidr_mask_size: Option<u8>,
    /// Record the nodes' kubelet events (Pulled, Created, Started, Killing, ...).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    node_events: bool,
    /// Run no controller-manager loops here, leaving them to `skiff controller-manager`.
    #[arg(long)]
    disable_controller_manager: bool,
}

#[derive(clap::Args)]
struct NodeArgs {
    /// The kubeconfig of the cluster to join.
    #[arg(long, env = "KUBECONFIG", value_name = "FILE")]
    kubeconfig: PathBuf,
    /// The node's name (default: the host name, lowercased).
    #[arg(long)]
    name: Option<String>,
    /// Run the static pods whose manifests are in DIR.
    #[arg(long, value_name = "DIR")]
    pod_manifest_path: Option<PathBuf>,
    /// The pod CIDR to use while the Node has none from the controller-manager (kubelet's --pod-cidr).
    #[arg(long, value_name = "CIDR")]
    pod_cidr: Option<String>,
    /// Labels to register the node with (key=value,...), as kubelet's --node-labels.
    #[arg(long, value_name = "LABELS", value_delimiter = ',')]
    node_labels: Vec<String>,
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
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match Cli::parse().command {
        Command::Server(args) => server(args).await,
        Command::Node(args) => node(args).await,
        Command::ControllerManager(args) => controller_manager(args).await,
    }
}

async fn server(args: ServerArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.data_dir).with_context(|| format!("creating {}", args.data_dir.display()))?;
    let options = skiff::ServerOptions {
        data_dir: args.data_dir,
        listen: args.listen,
        token_file: args.token_file,
        admission_config_file: args.admission_control_config_file,
        audit: args.audit_policy_file.zip(args.audit_log_path),
        service_accounts: skiff_apiserver::auth::service_account::IssuerOptions {
            issuers: args.service_account_issuers,
            api_audiences: args.api_audiences.into_iter().filter(|a| !a.is_empty()).collect(),
            max_expiration_seconds: args
                .service_account_max_token_expiration
                .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
            extend_expiration: args.service_account_extend_token_expiration,
            jwks_uri: args.service_account_jwks_uri,
        },
        node_monitor_grace_period: args.node_monitor_grace_period,
        nodes: skiff::nodes::node_options(&skiff::nodes::NodeFlags {
            simulated_nodes: args.simulated_nodes,
            node_config: args.node_config,
            pod_manifest_path: args.pod_manifest_path,
            cluster_cidr: args.cluster_cidr,
            node_cidr_mask_size: args.node_cidr_mask_size,
            events: args.node_events,
        })?,
        without_controller_manager: args.disable_controller_manager,
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

async fn node(args: NodeArgs) -> anyhow::Result<()> {
    let mut config = skiff_controllers::node::config::host();
    if let Some(name) = args.name {
        config.name = name;
    }
    config.pod_manifest_path = args.pod_manifest_path;
    config.pod_cidr = args.pod_cidr;
    for label in args.node_labels.iter().filter(|l| !l.is_empty()) {
        let (key, value) = label
            .split_once('=')
            .with_context(|| format!("--node-labels {label}: want key=value"))?;
        config.labels.insert(key.to_string(), value.to_string());
    }
    let client = kube::Client::try_from(client_config(&args.kubeconfig).await?)?;
    tracing::info!(node = %config.name, "running a simulated node");
    tokio::select! {
        _ = skiff_controllers::node::run_standalone(client, config, true) => {}
        _ = tokio::signal::ctrl_c() => tracing::info!("shutting down"),
    }
    Ok(())
}

async fn controller_manager(args: ControllerManagerArgs) -> anyhow::Result<()> {
    let client_config = client_config(&args.kubeconfig).await?;
    let root_ca_pem = match &args.root_ca_file {
        Some(path) => std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
        None => client_config
            .root_cert
            .iter()
            .flatten()
            .map(|der| pem_certificate(der))
            .collect(),
    };
    let ipam = if args.allocate_node_cidrs {
        let mut ipam = skiff_controllers::cluster::node_ipam::Config::for_nodes(0);
        ipam.cluster_cidr = args
            .cluster_cidr
            .parse()
            .with_context(|| format!("--cluster-cidr {}", args.cluster_cidr))?;
        ipam.node_mask = args.node_cidr_mask_size;
        skiff_controllers::cluster::node_ipam::CidrSet::new(ipam.cluster_cidr, ipam.node_mask)
            .context("--node-cidr-mask-size")?;
        Some(ipam)
    } else {
        None
    };
    let service_account_key = match &args.service_account_private_key_file {
        Some(path) => {
            let pem = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            let key = skiff_machinery::serviceaccount::SigningKey::from_pem(&pem)
                .with_context(|| format!("loading {}", path.display()))?;
            Some(std::sync::Arc::new(key))
        }
        None => None,
    };
    let options = skiff_controllers::Options {
        root_ca_pem,
        service_account_key,
        apiserver_address: None,
        node_monitor_grace_period: args.node_monitor_grace_period,
        nodes: skiff_controllers::node::Options {
            ipam,
            nodes: vec![],
            events: true,
        },
        without_controller_manager: false,
        cluster_signing: args
            .cluster_signing_cert_file
            .zip(args.cluster_signing_key_file)
            .map(|(cert, key)| skiff_controllers::cluster::csr_signing::SigningFiles { cert, key }),
        storage_dir: None,
    };
    let client = kube::Client::try_from(client_config)?;
    let identity = format!(
        "{}_{}",
        skiff_controllers::node::config::host().name,
        uuid::Uuid::new_v4()
    );
    tracing::info!(%identity, "running the controller-manager; waiting for the kube-system/kube-controller-manager lease");
    tokio::select! {
        result = skiff_controllers::run_controller_manager(client, options, identity) => result?,
        _ = tokio::signal::ctrl_c() => tracing::info!("shutting down"),
    }
    Ok(())
}

/// The client config of a kubeconfig file, with its current context.
async fn client_config(path: &std::path::Path) -> anyhow::Result<kube::Config> {
    let kubeconfig =
        kube::config::Kubeconfig::read_from(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?)
}

/// One DER certificate as a PEM block.
fn pem_certificate(der: &[u8]) -> String {
    use base64::Engine;
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    )
}
