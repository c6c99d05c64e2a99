//! The end-to-end suite, one test binary: every module starts the real `skiff` binary (or the
//! in-process server) and drives it with stock kubectl, Helm, kube::Client, kopf or the Python
//! client. One binary instead of one per file keeps the build to a single link of the whole
//! program; `cargo test --test e2e nodes::` runs one module.

mod common;

mod bad_input;
mod builtin_versions;
mod cluster_endpoints;
mod cluster_limit_ranges;
mod cluster_nodes;
mod cluster_quota;
mod cluster_storage;
mod controller_manager;
mod crd_cel;
mod crd_conversion;
mod crd_definitions;
mod crd_scale;
mod crd_updates;
mod crd_validation;
mod crds;
mod fieldkit_objects;
mod garbage_collector;
mod helm;
mod helm_hooks;
mod kubectl_apply_crd;
mod kubectl_create;
mod kubectl_discovery;
mod kubectl_server_side_apply;
mod kubectl_workflow;
mod nodes;
mod operators;
mod pods_api;
mod scheduler;
mod security_admission_webhooks;
mod security_audit;
mod security_bootstrap_policy;
mod security_certificates;
mod security_nodes;
mod security_pod_security;
mod security_rbac;
mod security_service_accounts;
mod workloads_cronjobs;
mod workloads_daemonsets;
mod workloads_deployments;
mod workloads_jobs;
mod workloads_statefulsets;
