//! The line between the pod lifecycle and whatever runs containers (the kubelet's
//! `kubecontainer.Runtime`, shaped after CRI): sandboxes, image pulls, container starts and stops,
//! the containers' observed states, and the change notices (PLEG) that wake the lifecycle when a
//! container changes on its own. The simulated runtime implements it today; the CRI runtime
//! (containerd) will implement the same trait without the lifecycle changing.

use async_trait::async_trait;
use futures::stream::BoxStream;
use k8s_openapi::api::core::v1::{Container, Pod};
use k8s_openapi::jiff::Timestamp;
use std::collections::BTreeMap;
use std::time::Duration;

/// Which pod: its runtime uid (the API uid, or a static pod's config hash), namespace and name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PodKey {
    pub uid: String,
    pub namespace: String,
    pub name: String,
}

/// The role of a container in its pod.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContainerKind {
    /// An init container that runs to completion before the next one.
    Init,
    /// A restartable init container (`restartPolicy: Always`): a sidecar.
    Sidecar,
    /// A regular container.
    Regular,
}

/// `imagePullPolicy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PullPolicy {
    Always,
    IfNotPresent,
    Never,
}

impl PullPolicy {
    /// The container's policy, defaulted as the apiserver does (`Always` for `:latest` or no tag).
    pub fn of(container: &Container) -> PullPolicy {
        match container.image_pull_policy.as_deref() {
            Some("Always") => PullPolicy::Always,
            Some("Never") => PullPolicy::Never,
            Some("IfNotPresent") => PullPolicy::IfNotPresent,
            _ => {
                let image = container.image.as_deref().unwrap_or_default();
                let last = image.rsplit('/').next().unwrap_or(image);
                if image.contains('@') || (last.contains(':') && !last.ends_with(":latest")) {
                    PullPolicy::IfNotPresent
                } else {
                    PullPolicy::Always
                }
            }
        }
    }
}

/// What a pull (or the check that made one unnecessary) found.
#[derive(Clone, Debug, PartialEq)]
pub struct PulledImage {
    /// The image reference as the runtime names it (`docker.io/library/busybox:latest`).
    pub image: String,
    /// Its digest reference (`docker.io/library/busybox@sha256:…`).
    pub image_id: String,
    pub size_bytes: u64,
    /// How long the pull took, and how long including the wait for a pull slot.
    pub took: Duration,
    pub took_including_wait: Duration,
    /// Whether the image had to be pulled (else it was already present).
    pub pulled: bool,
}

/// How a container instance ended.
#[derive(Clone, Debug, PartialEq)]
pub struct Exit {
    pub code: i32,
    /// `Completed`, `Error`, `OOMKilled`, …
    pub reason: String,
    pub message: Option<String>,
    pub finished_at: Timestamp,
}

/// One run of a container (a CRI container: a new one per restart).
#[derive(Clone, Debug, PartialEq)]
pub struct ContainerInstance {
    pub id: String,
    /// How many instances ran before this one: the container's restartCount.
    pub attempt: u32,
    pub image: String,
    pub image_id: String,
    pub started_at: Timestamp,
    /// Set once the instance has exited.
    pub exit: Option<Exit>,
    /// A stop was asked for and the instance has not exited yet.
    pub stopping: bool,
}

impl ContainerInstance {
    pub fn running(&self) -> bool {
        self.exit.is_none()
    }
}

/// The latest instance of a container and the one before it (status' `state` and `lastState`).
#[derive(Clone, Debug, PartialEq)]
pub struct ContainerHistory {
    pub current: ContainerInstance,
    pub previous: Option<ContainerInstance>,
}

/// What the runtime knows of a pod.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PodRuntimeStatus {
    /// The sandbox (network namespace, pod IP) exists.
    pub sandbox: bool,
    /// Containers by name (init and regular names are unique within a pod).
    pub containers: BTreeMap<String, ContainerHistory>,
}

/// A runtime's refusal, with the reason the kubelet reports (waiting reason or event reason).
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The runtime cannot do this at all (logs and exec on simulated nodes).
    #[error("{0}")]
    Unsupported(String),
    /// Pulling failed: `ErrImagePull`, `ErrImageNeverPull`, …
    #[error("{message}")]
    Image { reason: &'static str, message: String },
    /// Creating or starting the container failed: `CreateContainerError`, `RunContainerError`.
    #[error("{message}")]
    Container { reason: &'static str, message: String },
}

/// Runs the containers of the pods bound to the nodes it serves.
#[async_trait]
pub trait Runtime: Send + Sync + 'static {
    /// `nodeInfo.containerRuntimeVersion`, e.g. `skiff-sim://0.1.0` or `containerd://2.1.0`.
    fn version(&self) -> String;

    /// The kubelet port published in `daemonEndpoints` (0 when nothing serves logs or exec).
    fn kubelet_port(&self) -> i32;

    /// What the runtime has of `pod`. A runtime that keeps no state across restarts of the agent
    /// (the simulated one) may rebuild it from the status the pod last reported.
    async fn status(&self, key: &PodKey, pod: &Pod) -> PodRuntimeStatus;

    /// Create the pod's sandbox on `node` with its IP (None for host network).
    async fn run_sandbox(&self, key: &PodKey, node: &str, pod: &Pod) -> Result<(), RuntimeError>;

    /// Make `image` present on `node` as `policy` says.
    async fn pull_image(&self, node: &str, image: &str, policy: PullPolicy) -> Result<PulledImage, RuntimeError>;

    /// Create and start a new instance (`attempt`) of `container`.
    async fn start_container(
        &self,
        key: &PodKey,
        pod: &Pod,
        container: &Container,
        kind: ContainerKind,
        attempt: u32,
        image: &PulledImage,
    ) -> Result<(), RuntimeError>;

    /// Ask the running instance of `container` to stop (SIGTERM, then SIGKILL after `grace`).
    async fn stop_container(&self, key: &PodKey, pod: &Pod, container: &str, grace: Duration);

    /// Whether the running `container` passes its readiness check.
    async fn ready(&self, key: &PodKey, pod: &Pod, container: &Container) -> bool;

    /// Forget the pod: stop what still runs and remove its containers and sandbox.
    async fn remove_pod(&self, key: &PodKey);

    /// The logs of a container.
    async fn logs(&self, key: &PodKey, container: &str) -> Result<String, RuntimeError>;

    /// Run a command in a container.
    async fn exec(&self, key: &PodKey, container: &str, command: &[String]) -> Result<(), RuntimeError>;

    /// Pods whose containers changed on their own (an exit): the lifecycle syncs each. Taken once.
    fn changes(&self) -> BoxStream<'static, PodKey>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(image: &str, policy: Option<&str>) -> Container {
        Container {
            name: "c".into(),
            image: Some(image.into()),
            image_pull_policy: policy.map(Into::into),
            ..Default::default()
        }
    }

    #[test]
    fn pull_policies_default_like_the_apiserver() {
        assert_eq!(PullPolicy::of(&container("busybox", None)), PullPolicy::Always);
        assert_eq!(PullPolicy::of(&container("busybox:latest", None)), PullPolicy::Always);
        assert_eq!(
            PullPolicy::of(&container("busybox:1.36", None)),
            PullPolicy::IfNotPresent
        );
        assert_eq!(
            PullPolicy::of(&container("localhost:5000/app", None)),
            PullPolicy::Always
        );
        assert_eq!(
            PullPolicy::of(&container("a@sha256:00", None)),
            PullPolicy::IfNotPresent
        );
        assert_eq!(PullPolicy::of(&container("busybox", Some("Never"))), PullPolicy::Never);
    }
}
