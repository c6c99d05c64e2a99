//! MutatingAdmissionWebhook and ValidatingAdmissionWebhook: the webhooks of every
//! Mutating/ValidatingWebhookConfiguration in the watch cache (configurations by name, webhooks
//! in order, each compiled once per configuration revision), called as upstream's dispatchers
//! call them — mutating ones one after another, their JSONPatches applied and reinvoked once
//! (reinvocationPolicy IfNeeded) when a later mutation changed the object; validating ones all at
//! once — with failurePolicy, timeoutSeconds, sideEffects and dry run, and upstream's messages.

mod review;

use super::compiled::Compiled;
use super::conditions::{self, Conditions};
use super::matching::Criteria;
use super::request::Request;
use super::Operation;
use crate::crd::cel::expression::Binding;
use crate::registry::{Resource, Store};
use crate::status::{ApiError, ApiResult};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

/// One webhook of a configuration.
pub struct Hook {
    /// The configuration's name and the webhook's index in it (its identity for reinvocation).
    id: (String, usize),
    name: String,
    criteria: Criteria,
    conditions: Conditions,
    fail_open: bool,
    /// sideEffects None or NoneOnDryRun: it may be called for dry runs.
    dry_run_safe: bool,
    reinvoke: bool,
    review_version: Option<&'static str>,
    client: Result<crate::webhook::Client, String>,
}

impl Hook {
    fn compile(configuration: &str, index: usize, hook: &Value, store: &Store) -> Hook {
        let timeout = Duration::from_secs(hook["timeoutSeconds"].as_u64().unwrap_or(10).clamp(1, 30));
        Hook {
            id: (configuration.to_string(), index),
            name: hook["name"].as_str().unwrap_or("").to_string(),
            criteria: Criteria::parse(hook, "rules"),
            conditions: Conditions::compile(hook, &conditions::declarations(&[])),
            fail_open: hook["failurePolicy"] == "Ignore",
            dry_run_safe: matches!(hook["sideEffects"].as_str(), Some("None" | "NoneOnDryRun")),
            reinvoke: hook["reinvocationPolicy"] == "IfNeeded",
            review_version: review::review_version(hook["admissionReviewVersions"].as_array().map_or(&[], |v| v)),
            client: crate::webhook::Client::new(&hook["clientConfig"], Some(store.cache().clone()), timeout),
        }
    }
}

/// The compiled webhooks of one kind of configuration, kept per configuration revision.
#[derive(Default)]
pub struct Source(Compiled<Vec<Hook>>);

impl Source {
    /// Every webhook of `plural` (mutating/validatingwebhookconfigurations), configurations by
    /// name, webhooks in order.
    fn hooks(&self, store: &Store, plural: &str) -> Vec<(Arc<Vec<Hook>>, usize)> {
        let configurations = self.0.current(store, plural, |config| {
            let name = config.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
            config["webhooks"]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
                .map(|(i, hook)| Hook::compile(name, i, hook, store))
                .collect()
        });
        configurations
            .into_iter()
            .flat_map(|c| (0..c.len()).map(move |i| (c.clone(), i)))
            .collect()
    }
}

/// The reinvocation state of one request's mutating webhooks (upstream's webhookReinvokeContext).
#[derive(Default)]
pub struct Reinvocation {
    /// Whether this is the second (reinvocation) round.
    pub round: u8,
    /// Whether a webhook changed the object in the first round.
    pub needed: bool,
    last_output: Option<Value>,
    previously_invoked: HashSet<(String, usize)>,
    reinvoke: HashSet<(String, usize)>,
}

impl Reinvocation {
    fn require_reinvoking(&mut self) {
        self.reinvoke.extend(self.previously_invoked.drain());
    }
}

/// Why a call did not admit.
enum Failure {
    /// The webhook could not be called or answered unusably: failurePolicy decides.
    Calling(String),
    /// The webhook denied, or the request cannot be sent at all.
    Final(ApiError),
}

/// An object as `matched`'s version (the version a rule matched under matchPolicy Equivalent).
async fn as_version(object: &Value, from: &Resource, to: &Resource) -> ApiResult<Value> {
    if object.is_null() || (from.group == to.group && from.version == to.version) {
        return Ok(object.clone());
    }
    let stored = match &from.converter {
        Some(c) => c.to_storage(object.clone()).await?,
        None => object.clone(),
    };
    match &to.converter {
        Some(c) => c
            .to_served(vec![stored])
            .await?
            .pop()
            .ok_or_else(|| ApiError::internal("conversion returned no object")),
        None => Ok(stored),
    }
}

/// A call that failed: the request fails, unless the webhook's failurePolicy is Ignore.
fn fail(hook: &Hook, why: String) -> ApiResult<()> {
    let message = format!("failed calling webhook \"{}\": {why}", hook.name);
    if hook.fail_open {
        tracing::warn!("Failed calling webhook, failing open {}: {message}", hook.name);
        return Ok(());
    }
    let mut error = ApiError::internal(&message);
    error.details = Some(json!({"causes": [{"message": message}]}));
    Err(error)
}

/// Whether `hook` applies: its selectors, rules and matchConditions; `Err` fails the request.
fn invocation(
    store: &Store,
    hook: &Hook,
    request: &Request<'_>,
    object: &Value,
    old: Option<&Value>,
) -> ApiResult<Option<Arc<Resource>>> {
    let Some(matched) = hook
        .criteria
        .matches(store, request, Some(object).filter(|o| !o.is_null()), old)?
    else {
        return Ok(None);
    };
    let null = Value::Null;
    let request_json = conditions::request_value(&request.admission_request("", &matched, &null, &null));
    let (o, p, r) = (
        Binding::Json(object),
        Binding::Json(old.unwrap_or(&null)),
        Binding::Json(&request_json),
    );
    match hook
        .conditions
        .evaluate(&[("object", &o), ("oldObject", &p), ("request", &r)])
    {
        Ok(true) => Ok(Some(matched)),
        Ok(false) => Ok(None),
        Err(_) if hook.fail_open => Ok(None),
        Err(e) => Err(ApiError::forbidden(
            crate::status::Gr {
                group: &request.resource.group,
                resource: &request.resource.plural,
            },
            request.name,
            &e,
        )),
    }
}

/// One call: the review of `object` (as `matched`'s version) and its checked answer.
async fn call(
    hook: &Hook,
    request: &Request<'_>,
    matched: &Resource,
    object: &Value,
    old: &Value,
    mutating: bool,
) -> Result<review::Answer, Failure> {
    if request.dry_run && !hook.dry_run_safe {
        return Err(Failure::Final(ApiError::bad_request(format!(
            "admission webhook \"{}\" does not support dry run",
            hook.name
        ))));
    }
    let Some(version) = hook.review_version else {
        return Err(Failure::Calling(
            "could not create admission objects: webhook does not accept known AdmissionReview versions (v1, v1beta1)"
                .into(),
        ));
    };
    let client = hook
        .client
        .as_ref()
        .map_err(|e| Failure::Calling(format!("could not get REST client: {e}")))?;
    let uid = uuid::Uuid::new_v4().to_string();
    let body = review::review(version, request.admission_request(&uid, matched, object, old));
    let answer = client
        .post(&body)
        .await
        .map_err(|e| Failure::Calling(format!("failed to call webhook: {e}")))?;
    let answer = review::verify(version, &uid, mutating, &answer)
        .map_err(|e| Failure::Calling(format!("received invalid webhook response: {e}")))?;
    for warning in &answer.warnings {
        crate::warning::add(warning.clone());
    }
    if !answer.allowed {
        return Err(Failure::Final(review::denial(&hook.name, answer.result.as_ref())));
    }
    Ok(answer)
}

/// Run the mutating webhooks on `object` (null on delete) for one round; `state` carries what
/// reinvocation needs between rounds.
pub async fn mutate(
    store: &Store,
    request: &Request<'_>,
    object: &mut Value,
    old: Option<&Value>,
    state: &mut Reinvocation,
) -> ApiResult<()> {
    let hooks = store
        .dynamic_admission()
        .mutating
        .hooks(store, "mutatingwebhookconfigurations");
    if hooks.is_empty() {
        return Ok(());
    }
    if state.round > 0 && state.last_output.as_ref() != Some(object) {
        // The built-in plugins' reinvocation changed the object: every IfNeeded webhook runs again.
        state.require_reinvoking();
    }
    for (configuration, index) in &hooks {
        let hook = &configuration[*index];
        let Some(matched) = invocation(store, hook, request, object, old)? else {
            continue;
        };
        if state.round > 0 && !state.reinvoke.contains(&hook.id) {
            continue;
        }
        let versioned = as_version(object, request.resource, &matched).await?;
        let sent_old = match old {
            Some(old) if request.operation != Operation::Delete => as_version(old, request.resource, &matched).await?,
            _ => Value::Null,
        };
        let outcome = call(hook, request, &matched, &versioned, &sent_old, true).await;
        if hook.reinvoke {
            state.previously_invoked.insert(hook.id.clone());
        }
        let answer = match outcome {
            Ok(answer) => answer,
            Err(Failure::Final(e)) => return Err(e),
            Err(Failure::Calling(why)) => {
                fail(hook, why)?;
                continue;
            }
        };
        let Some(patch) = answer.patch.filter(|p| !p.0.is_empty()) else {
            continue;
        };
        if object.is_null() {
            return Err(ApiError::internal(format!(
                "admission webhook \"{}\" attempted to modify the object, which is not supported for this operation",
                hook.name
            )));
        }
        let mut patched = review::apply(&versioned, &patch).map_err(ApiError::internal)?;
        if !patched.is_object() {
            return Err(ApiError::internal(format!(
                "admission webhook \"{}\" patched the object into something that is not an object",
                hook.name
            )));
        }
        // The answer is read as the kind that was sent, whatever its patch did to apiVersion and kind.
        for field in ["apiVersion", "kind"] {
            patched[field] = versioned[field].clone();
        }
        matched.strategy.default(&mut patched);
        if patched != versioned {
            *object = as_version(&patched, &matched, request.resource).await?;
            // The ones called before run again, this one only if a later one changes things.
            state.previously_invoked.remove(&hook.id);
            state.require_reinvoking();
            if hook.reinvoke {
                state.previously_invoked.insert(hook.id.clone());
            }
            state.needed = true;
        }
    }
    state.last_output = Some(object.clone());
    Ok(())
}

/// Run the validating webhooks, all at once; the first failure in webhook order decides.
pub async fn validate(store: &Store, request: &Request<'_>, object: &Value, old: Option<&Value>) -> ApiResult<()> {
    let hooks = store
        .dynamic_admission()
        .validating
        .hooks(store, "validatingwebhookconfigurations");
    let mut calls = Vec::new();
    for (configuration, index) in &hooks {
        let hook = &configuration[*index];
        if let Some(matched) = invocation(store, hook, request, object, old)? {
            let versioned = as_version(object, request.resource, &matched).await?;
            let sent_old = match old {
                Some(old) => as_version(old, request.resource, &matched).await?,
                None => Value::Null,
            };
            calls.push(async move { (hook, call(hook, request, &matched, &versioned, &sent_old, false).await) });
        }
    }
    for (hook, outcome) in futures::future::join_all(calls).await {
        match outcome {
            Ok(_) => {}
            Err(Failure::Final(e)) => return Err(e),
            Err(Failure::Calling(why)) => fail(hook, why)?,
        }
    }
    Ok(())
}
