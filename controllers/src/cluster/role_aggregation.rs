//! The ClusterRole aggregation controller (upstream's pkg/controller/clusterroleaggregation): a
//! ClusterRole with an aggregationRule gets as its rules those of the ClusterRoles its
//! clusterRoleSelectors match — selector by selector, each selector's roles by name, itself left
//! out, every rule once — written by server-side apply as `clusterrole-aggregator` only when they
//! differ. Any change to any ClusterRole requeues every aggregated one, so chains (admin ← edit ←
//! view) settle.

use crate::core::backoff::ErrorBackoff;
use crate::core::credentials::Identity;
use crate::core::informers::{Informer, Informers};
use futures::StreamExt;
use k8s_openapi::api::rbac::v1::{AggregationRule, ClusterRole, PolicyRule};
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::{Client, ResourceExt};
use std::future::Future;
use std::sync::Arc;

/// The field manager of the rules it writes (upstream's).
const FIELD_MANAGER: &str = "clusterrole-aggregator";

struct Context {
    client: Client,
    roles: Informer<ClusterRole>,
    backoff: ErrorBackoff,
}

/// Subscribe to ClusterRoles now; the returned future runs the controller.
pub fn start(informers: &Informers) -> impl Future<Output = ()> + Send + 'static {
    let roles = informers.get::<ClusterRole>();
    let changes = roles.subscribe();
    let any_change = roles.subscribe();
    let ctx = Arc::new(Context {
        client: informers.client_as(Identity::Controller("clusterrole-aggregation-controller")),
        roles: roles.clone(),
        backoff: ErrorBackoff::default(),
    });
    async move {
        if roles.store().wait_until_ready().await.is_err() {
            return;
        }
        let all = roles.clone();
        let outcomes = Controller::for_shared_stream(changes, roles.store().clone())
            .watches_shared_stream(any_change, move |_: Arc<ClusterRole>| aggregated(&all))
            .run(
                |role: Arc<ClusterRole>, ctx: Arc<Context>| async move {
                    let key = role.name_any();
                    let result = sync(&role, &ctx).await.map(|()| Action::await_change());
                    ctx.backoff.track(&key, result)
                },
                |role, _error, ctx| ctx.backoff.requeue(&role.name_any()),
                ctx,
            );
        crate::core::outcomes::drain("clusterrole-aggregation-controller", outcomes.boxed()).await;
    }
}

/// Every ClusterRole with an aggregationRule.
fn aggregated(roles: &Informer<ClusterRole>) -> Vec<ObjectRef<ClusterRole>> {
    roles
        .store()
        .state()
        .iter()
        .filter(|r| r.aggregation_rule.is_some())
        .map(|r| ObjectRef::from_obj(&**r))
        .collect()
}

/// Write an aggregated role's rules when they are not what its selectors gather.
async fn sync(role: &ClusterRole, ctx: &Context) -> Result<(), kube::Error> {
    let Some(rule) = &role.aggregation_rule else {
        return Ok(());
    };
    let name = role.name_any();
    let rules = gathered(&name, rule, &ctx.roles.store().state());
    let current: Vec<PolicyRule> = role.rules.iter().flatten().map(normalized).collect();
    if current == rules {
        return Ok(());
    }
    let api: Api<ClusterRole> = Api::all(ctx.client.clone());
    let patch = serde_json::json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": name},
        "rules": rules,
    });
    api.patch(&name, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(patch))
        .await
        .map(drop)
}

/// The rules of the roles `rule` selects, as upstream's syncClusterRole gathers them.
fn gathered(name: &str, rule: &AggregationRule, roles: &[Arc<ClusterRole>]) -> Vec<PolicyRule> {
    let mut out: Vec<PolicyRule> = Vec::new();
    for selector in rule.cluster_role_selectors.iter().flatten() {
        let mut matched: Vec<&ClusterRole> = roles
            .iter()
            .map(|r| &**r)
            .filter(|r| r.name_any() != name && skiff_machinery::labels::matches(Some(selector), r.labels()))
            .collect();
        matched.sort_by_key(|r| r.name_any());
        for rule in matched.iter().flat_map(|r| r.rules.iter().flatten()).map(normalized) {
            if !out.contains(&rule) {
                out.push(rule);
            }
        }
    }
    out
}

/// A rule with empty lists as absent ones (upstream compares them semantically: nil == empty).
fn normalized(rule: &PolicyRule) -> PolicyRule {
    let some = |v: &Option<Vec<String>>| v.clone().filter(|v| !v.is_empty());
    PolicyRule {
        api_groups: some(&rule.api_groups),
        non_resource_urls: some(&rule.non_resource_urls),
        resource_names: some(&rule.resource_names),
        resources: some(&rule.resources),
        verbs: rule.verbs.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
    use kube::api::ObjectMeta;
    use std::collections::BTreeMap;

    fn rule(verb: &str, resource: &str) -> PolicyRule {
        PolicyRule {
            verbs: vec![verb.into()],
            api_groups: Some(vec![String::new()]),
            resources: Some(vec![resource.into()]),
            ..PolicyRule::default()
        }
    }

    fn role(name: &str, labels: &[&str], rules: Vec<PolicyRule>) -> Arc<ClusterRole> {
        Arc::new(ClusterRole {
            metadata: ObjectMeta {
                name: Some(name.into()),
                labels: Some(labels.iter().map(|l| (l.to_string(), "true".to_string())).collect()),
                ..ObjectMeta::default()
            },
            rules: Some(rules),
            ..ClusterRole::default()
        })
    }

    fn selecting(labels: &[&str]) -> AggregationRule {
        AggregationRule {
            cluster_role_selectors: Some(
                labels
                    .iter()
                    .map(|l| LabelSelector {
                        match_labels: Some(BTreeMap::from([(l.to_string(), "true".to_string())])),
                        ..LabelSelector::default()
                    })
                    .collect(),
            ),
        }
    }

    #[test]
    fn rules_are_gathered_per_selector_by_name_once_each_without_the_role_itself() {
        let roles = vec![
            role("zeta", &["a"], vec![rule("get", "pods"), rule("list", "pods")]),
            role("alpha", &["a"], vec![rule("get", "pods"), rule("get", "secrets")]),
            role("beta", &["b"], vec![rule("watch", "pods")]),
            role("other", &[], vec![rule("delete", "pods")]),
            role("self", &["a"], vec![rule("delete", "nodes")]),
        ];
        let got = gathered("self", &selecting(&["b", "a"]), &roles);
        assert_eq!(
            got,
            vec![
                rule("watch", "pods"),
                rule("get", "pods"),
                rule("get", "secrets"),
                rule("list", "pods")
            ]
        );
    }

    #[test]
    fn empty_lists_equal_absent_ones() {
        let mut with_empty = rule("get", "pods");
        with_empty.resource_names = Some(vec![]);
        assert_eq!(normalized(&with_empty), rule("get", "pods"));
        let roles = vec![role("a", &["a"], vec![with_empty, rule("get", "pods")])];
        assert_eq!(gathered("x", &selecting(&["a"]), &roles), vec![rule("get", "pods")]);
    }
}
