//! `rbac`: authorization on the hot path. Durable 1 KB ConfigMap creates by a bearer-token user
//! whom RBAC lets in through one of 1,000 RoleBindings in the namespace, against the same creates
//! by the admin (`system:masters`, allowed before RBAC is asked) on the same server.

use super::{fill_skiff_named, Bench};
use crate::load::Driven;
use crate::objects::NAMESPACE;
use crate::peers::Skiff;
use crate::report::{merged, Outcome};
use crate::stats::Summary;
use serde_json::{json, Value};

/// RoleBindings in the bench namespace besides the one that lets the bench user in.
pub const BINDINGS: usize = 1_000;
const TOKEN: &str = "rbac-bench-token";
const USER: &str = "rbac-bench";

pub async fn run(bench: &Bench) -> anyhow::Result<Outcome> {
    let n = bench.sizes.create_objects;
    let tokens = tempfile::tempdir()?;
    let token_file = tokens.path().join("tokens.csv");
    std::fs::write(&token_file, format!("{TOKEN},{USER},uid-{USER}\n"))?;
    let flags = ["--token-auth-file".to_string(), token_file.display().to_string()];
    let mut user_rounds = Vec::new();
    let mut admin_rounds = Vec::new();
    for round in 0..bench.sizes.create_rounds {
        let (skiff, _) = Skiff::start_with(&bench.skiff, &flags).await?;
        let admins = skiff.clients(bench.sizes.clients).await?;
        crate::api::create_namespace(&admins[0]).await?;
        bind(&admins[0]).await?;
        let users = skiff.token_clients(bench.sizes.clients, TOKEN).await?;
        // Alternate which goes first, so neither always meets the fuller store.
        let (user, admin) = if round % 2 == 0 {
            let user = fill_skiff_named(&users, n, "u").await;
            (user, fill_skiff_named(&admins, n, "a").await)
        } else {
            let admin = fill_skiff_named(&admins, n, "a").await;
            (fill_skiff_named(&users, n, "u").await, admin)
        };
        skiff.stop().await;
        user_rounds.push(user?);
        admin_rounds.push(admin?);
    }
    let rounds = user_rounds.len();
    let user = Driven::pool(user_rounds).summary();
    let admin = Driven::pool(admin_rounds).summary();
    let ratio = Some(user.per_second() / admin.per_second()).filter(|r| r.is_finite());
    Ok(Outcome {
        baseline: "admin",
        scenario: "rbac",
        skiff: figures(bench, rounds, &user, BINDINGS + 1),
        etcd: figures(bench, rounds, &admin, 0),
        ratio,
        target: Some(0.9),
        met: ratio.map(|r| r >= 0.9),
        goal: "creates by a token user allowed by RBAC among 1,000 RoleBindings / creates by the admin on the same server >= 0.9",
    })
}

/// The 1,000 bindings of other users to `view`, then the one binding the bench user to `edit`;
/// returns once the bench user may create ConfigMaps.
async fn bind(admin: &kube::Client) -> anyhow::Result<()> {
    let path = format!("/apis/rbac.authorization.k8s.io/v1/namespaces/{NAMESPACE}/rolebindings");
    let binding = |name: String, user: String, role: &str| {
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
        })
        .to_string()
        .into_bytes()
    };
    for i in 0..BINDINGS {
        let body = binding(format!("view-{i}"), format!("user-{i}"), "view");
        crate::api::post(admin, &path, body).await?;
    }
    let body = binding(format!("{USER}-edit"), USER.to_string(), "edit");
    crate::api::post(admin, &path, body).await?;
    Ok(())
}

fn figures(bench: &Bench, rounds: usize, summary: &Summary, bindings: usize) -> Value {
    let setup = json!({
        "clients": bench.sizes.clients,
        "rounds": rounds,
        "rolebindings": bindings,
        "value_bytes": crate::objects::OBJECT_BYTES,
    });
    merged([setup, summary.figures("")])
}
