//! The `simulated` runtime (KWOK's default stages are the anchor): no processes, only states.
//! Containers start at once and run; containers of pods that run to completion exit after a short
//! run; annotations on the pod drive the rest (documented in docs/compatibility.md, "Simulated
//! nodes"):
//!
//! - `sim.skiff.dev/exit-code`: the exit code (default 0);
//! - `sim.skiff.dev/run-duration`: how long containers run before they exit (Go duration);
//! - `sim.skiff.dev/ready`: `"false"` keeps containers unready (a failing readiness probe);
//! - `sim.skiff.dev/stop-duration`: how long a container takes to exit after SIGTERM (default 0;
//!   past the grace period it is killed with 137).
//!
//! A plain value applies to the regular containers; `name=value` items (comma separated) apply to
//! the container so named, init containers and sidecars included. Regular containers of pods with
//! restartPolicy Never or OnFailure exit after 1 s by default; those of Always pods run until
//! stopped unless the pod names an exit code or run duration; init containers complete at once;
//! sidecars run until stopped. Every image is present or pullable in no time (0 bytes).
//!
//! One instance serves every simulated node of a process; exits are woken by one shared timer.

use super::format::{hex64, image_repository, normalize_image};
use super::runtime::*;
use super::timer::Timer;
use async_trait::async_trait;
use futures::stream::BoxStream;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Container, ContainerState, ContainerStatus, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

pub const EXIT_CODE: &str = "sim.skiff.dev/exit-code";
pub const RUN_DURATION: &str = "sim.skiff.dev/run-duration";
pub const READY: &str = "sim.skiff.dev/ready";
pub const STOP_DURATION: &str = "sim.skiff.dev/stop-duration";

/// The scheme of simulated container ids and the runtime version nodes report.
pub const SCHEME: &str = "skiff-sim";
pub const VERSION: &str = "0.1.0";

/// How long run-to-completion containers run when the pod does not say.
const DEFAULT_RUN: Duration = Duration::from_secs(1);

/// The simulated runtime shared by every simulated node of a process.
pub struct Simulated {
    pods: Mutex<HashMap<String, SimPod>>,
    images: Mutex<HashMap<String, HashSet<String>>>,
    timer: Timer<PodKey>,
    due: Mutex<Option<BoxStream<'static, PodKey>>>,
}

#[derive(Default)]
struct SimPod {
    sandbox: bool,
    containers: BTreeMap<String, SimContainer>,
}

struct SimContainer {
    current: ContainerInstance,
    previous: Option<ContainerInstance>,
    /// When and how the instance exits on its own.
    planned: Option<(Timestamp, i32)>,
    /// When and how it exits after a stop.
    stop: Option<(Timestamp, i32)>,
}

impl SimContainer {
    /// Apply whichever exit is due by `now`.
    fn settle(&mut self, now: Timestamp) {
        if self.current.exit.is_some() {
            return;
        }
        let due = [self.planned, self.stop]
            .into_iter()
            .flatten()
            .filter(|(at, _)| *at <= now)
            .min_by_key(|(at, _)| *at);
        if let Some((at, code)) = due {
            self.current.exit = Some(Exit {
                code,
                reason: if code == 0 { "Completed" } else { "Error" }.into(),
                message: None,
                finished_at: at,
            });
            self.current.stopping = false;
        }
    }

    fn history(&self) -> ContainerHistory {
        ContainerHistory {
            current: self.current.clone(),
            previous: self.previous.clone(),
        }
    }
}

impl Simulated {
    /// A simulated runtime with its shared timer on the current tokio runtime.
    pub fn new() -> Self {
        let (timer, due) = Timer::start();
        Simulated {
            pods: Mutex::new(HashMap::new()),
            images: Mutex::new(HashMap::new()),
            timer,
            due: Mutex::new(Some(due.boxed())),
        }
    }

    fn wake_at(&self, key: &PodKey, at: Timestamp) {
        let delay = at.duration_since(Timestamp::now()).unsigned_abs();
        let delay = if at <= Timestamp::now() { Duration::ZERO } else { delay };
        // A little after the exit time, so that the status read then sees the exit.
        self.timer.after(delay + Duration::from_millis(1), key.clone());
    }

    fn pods(&self) -> std::sync::MutexGuard<'_, HashMap<String, SimPod>> {
        self.pods.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Rebuild a pod's containers from the status it last reported (an agent restarted).
    fn recover(&self, key: &PodKey, pod: &Pod) -> SimPod {
        let mut sim = SimPod::default();
        let Some(status) = pod.status.as_ref() else {
            return sim;
        };
        let statuses = status
            .init_container_statuses
            .iter()
            .flatten()
            .map(|s| (s, kind_of(pod, &s.name)))
            .chain(
                status
                    .container_statuses
                    .iter()
                    .flatten()
                    .map(|s| (s, ContainerKind::Regular)),
            );
        let node = pod.spec.as_ref().and_then(|s| s.node_name.clone()).unwrap_or_default();
        for (s, kind) in statuses {
            let Some(current) = instance_from(s, s.state.as_ref(), s.restart_count.max(0) as u32) else {
                continue;
            };
            let previous = instance_from(s, s.last_state.as_ref(), (s.restart_count.max(1) - 1) as u32);
            let planned = if current.running() {
                behaviour(pod, &s.name, kind).map(|(after, code)| (current.started_at + after, code))
            } else {
                None
            };
            if let Some((at, _)) = planned {
                self.wake_at(key, at);
            }
            self.images
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .entry(node.clone())
                .or_default()
                .insert(current.image.clone());
            sim.sandbox = true;
            sim.containers.insert(
                s.name.clone(),
                SimContainer {
                    current,
                    previous,
                    planned,
                    stop: None,
                },
            );
        }
        sim
    }
}

impl Default for Simulated {
    fn default() -> Self {
        Simulated::new()
    }
}

/// A simulated container instance from a reported state, if the state is one of ours.
fn instance_from(status: &ContainerStatus, state: Option<&ContainerState>, attempt: u32) -> Option<ContainerInstance> {
    let state = state?;
    let (id, started, exit) = if let Some(running) = &state.running {
        (status.container_id.clone()?, running.started_at.clone(), None)
    } else if let Some(t) = &state.terminated {
        let exit = Exit {
            code: t.exit_code,
            reason: t.reason.clone().unwrap_or_else(|| "Completed".into()),
            message: t.message.clone(),
            finished_at: t.finished_at.as_ref().map(|Time(t)| *t).unwrap_or_else(Timestamp::now),
        };
        (
            t.container_id.clone().or_else(|| status.container_id.clone())?,
            t.started_at.clone(),
            Some(exit),
        )
    } else {
        return None;
    };
    if !id.starts_with(&format!("{SCHEME}://")) {
        return None;
    }
    Some(ContainerInstance {
        id,
        attempt,
        image: status.image.clone(),
        image_id: status.image_id.clone(),
        started_at: started.map(|Time(t)| t).unwrap_or_else(Timestamp::now),
        exit,
        stopping: false,
    })
}

/// Whether `name` is an init container, a sidecar or a regular container of `pod`.
fn kind_of(pod: &Pod, name: &str) -> ContainerKind {
    let spec = pod.spec.as_ref();
    match spec
        .and_then(|s| s.init_containers.as_ref())
        .and_then(|c| c.iter().find(|c| c.name == name))
    {
        Some(c) if c.restart_policy.as_deref() == Some("Always") => ContainerKind::Sidecar,
        Some(_) => ContainerKind::Init,
        None => ContainerKind::Regular,
    }
}

/// The annotation `key` of `pod` as it applies to container `name`: its `name=value` item, else
/// (for regular containers) its plain value.
pub fn setting<'a>(pod: &'a Pod, key: &str, name: &str, kind: ContainerKind) -> Option<&'a str> {
    let value = pod.metadata.annotations.as_ref()?.get(key)?;
    let mut plain = None;
    for item in value.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        match item.split_once('=') {
            Some((n, v)) if n.trim() == name => return Some(v.trim()),
            Some(_) => {}
            None => plain = Some(item),
        }
    }
    plain.filter(|_| kind == ContainerKind::Regular)
}

/// When (after its start) and with which code a container exits on its own; None: it runs until
/// stopped.
pub fn behaviour(pod: &Pod, name: &str, kind: ContainerKind) -> Option<(Duration, i32)> {
    let code = setting(pod, EXIT_CODE, name, kind).map(|v| v.parse::<i32>().unwrap_or(1));
    let run = setting(pod, RUN_DURATION, name, kind).and_then(skiff_machinery::duration::parse);
    let completes = match kind {
        ContainerKind::Init => true,
        ContainerKind::Sidecar => code.is_some() || run.is_some(),
        ContainerKind::Regular => {
            let policy = pod
                .spec
                .as_ref()
                .and_then(|s| s.restart_policy.as_deref())
                .unwrap_or("Always");
            policy != "Always" || code.is_some() || run.is_some()
        }
    };
    if !completes {
        return None;
    }
    let default_run = if kind == ContainerKind::Init {
        Duration::ZERO
    } else {
        DEFAULT_RUN
    };
    Some((run.unwrap_or(default_run), code.unwrap_or(0)))
}

#[async_trait]
impl Runtime for Simulated {
    fn version(&self) -> String {
        format!("{SCHEME}://{VERSION}")
    }

    fn kubelet_port(&self) -> i32 {
        0
    }

    async fn status(&self, key: &PodKey, pod: &Pod) -> PodRuntimeStatus {
        let now = Timestamp::now();
        let mut pods = self.pods();
        if !pods.contains_key(&key.uid) {
            let recovered = self.recover(key, pod);
            if !recovered.containers.is_empty() {
                pods.insert(key.uid.clone(), recovered);
            }
        }
        let Some(sim) = pods.get_mut(&key.uid) else {
            return PodRuntimeStatus::default();
        };
        let containers = sim
            .containers
            .iter_mut()
            .map(|(name, c)| {
                c.settle(now);
                (name.clone(), c.history())
            })
            .collect();
        PodRuntimeStatus {
            sandbox: sim.sandbox,
            containers,
        }
    }

    async fn run_sandbox(&self, key: &PodKey, _node: &str, _pod: &Pod) -> Result<(), RuntimeError> {
        self.pods().entry(key.uid.clone()).or_default().sandbox = true;
        Ok(())
    }

    async fn pull_image(&self, node: &str, image: &str, policy: PullPolicy) -> Result<PulledImage, RuntimeError> {
        let normalized = normalize_image(image);
        let mut images = self.images.lock().unwrap_or_else(|p| p.into_inner());
        let present = images.entry(node.to_string()).or_default();
        let had = present.contains(&normalized);
        let pulled = match policy {
            PullPolicy::Always => true,
            PullPolicy::IfNotPresent => !had,
            // Simulated nodes have every image preloaded.
            PullPolicy::Never => false,
        };
        present.insert(normalized.clone());
        let image_id = if image.contains('@') {
            normalized.clone()
        } else {
            format!("{}@sha256:{}", image_repository(image), hex64(&normalized))
        };
        Ok(PulledImage {
            image: normalized,
            image_id,
            size_bytes: 0,
            took: Duration::ZERO,
            took_including_wait: Duration::ZERO,
            pulled,
        })
    }

    async fn start_container(
        &self,
        key: &PodKey,
        pod: &Pod,
        container: &Container,
        kind: ContainerKind,
        attempt: u32,
        image: &PulledImage,
    ) -> Result<(), RuntimeError> {
        let now = Timestamp::now();
        let planned = behaviour(pod, &container.name, kind).map(|(after, code)| (now + after, code));
        let instance = ContainerInstance {
            id: format!(
                "{SCHEME}://{}",
                hex64(&format!("{}/{}/{attempt}", key.uid, container.name))
            ),
            attempt,
            image: image.image.clone(),
            image_id: image.image_id.clone(),
            started_at: now,
            exit: None,
            stopping: false,
        };
        {
            let mut pods = self.pods();
            let sim = pods.entry(key.uid.clone()).or_default();
            let previous = sim.containers.remove(&container.name).map(|c| c.current);
            sim.containers.insert(
                container.name.clone(),
                SimContainer {
                    current: instance,
                    previous,
                    planned,
                    stop: None,
                },
            );
        }
        if let Some((at, _)) = planned {
            if at > now {
                self.wake_at(key, at);
            }
        }
        Ok(())
    }

    async fn stop_container(&self, key: &PodKey, pod: &Pod, container: &str, grace: Duration) {
        let now = Timestamp::now();
        // Plain values apply to every container here: sidecars and init containers stop alike.
        let takes = setting(pod, STOP_DURATION, container, ContainerKind::Regular)
            .and_then(skiff_machinery::duration::parse)
            .unwrap_or(Duration::ZERO);
        let (after, code) = if takes <= grace { (takes, 0) } else { (grace, 137) };
        let at = now + after;
        {
            let mut pods = self.pods();
            let Some(c) = pods.get_mut(&key.uid).and_then(|p| p.containers.get_mut(container)) else {
                return;
            };
            if !c.current.running() || c.current.stopping {
                return;
            }
            c.current.stopping = true;
            c.stop = Some((at, code));
        }
        if at > now {
            self.wake_at(key, at);
        }
    }

    async fn ready(&self, _key: &PodKey, pod: &Pod, container: &Container) -> bool {
        // A plain value applies to sidecars too: both report readiness.
        setting(pod, READY, &container.name, ContainerKind::Regular) != Some("false")
    }

    async fn remove_pod(&self, key: &PodKey) {
        self.pods().remove(&key.uid);
    }

    async fn logs(&self, key: &PodKey, container: &str) -> Result<String, RuntimeError> {
        Err(RuntimeError::Unsupported(format!(
            "container {container:?} in pod {:?} runs on a simulated node: it has no logs",
            key.name
        )))
    }

    async fn exec(&self, key: &PodKey, container: &str, _command: &[String]) -> Result<(), RuntimeError> {
        Err(RuntimeError::Unsupported(format!(
            "container {container:?} in pod {:?} runs on a simulated node: it cannot exec",
            key.name
        )))
    }

    fn changes(&self) -> BoxStream<'static, PodKey> {
        self.due
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .unwrap_or_else(|| futures::stream::empty().boxed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(annotations: serde_json::Value, policy: &str) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "default", "uid": "u1", "annotations": annotations},
            "spec": {
                "restartPolicy": policy,
                "nodeName": "n1",
                "initContainers": [{"name": "init", "image": "busybox"}, {"name": "side", "image": "busybox", "restartPolicy": "Always"}],
                "containers": [{"name": "app", "image": "busybox"}, {"name": "web", "image": "nginx:1.27"}]
            }
        }))
        .unwrap()
    }

    fn key() -> PodKey {
        PodKey {
            uid: "u1".into(),
            namespace: "default".into(),
            name: "p".into(),
        }
    }

    #[test]
    fn annotations_apply_to_regular_containers_or_by_name() {
        let p = pod(json!({EXIT_CODE: "3", RUN_DURATION: "init=2s, 5s"}), "Always");
        assert_eq!(setting(&p, EXIT_CODE, "app", ContainerKind::Regular), Some("3"));
        assert_eq!(setting(&p, EXIT_CODE, "init", ContainerKind::Init), None);
        assert_eq!(setting(&p, RUN_DURATION, "init", ContainerKind::Init), Some("2s"));
        assert_eq!(
            behaviour(&p, "app", ContainerKind::Regular),
            Some((Duration::from_secs(5), 3))
        );
        assert_eq!(
            behaviour(&p, "init", ContainerKind::Init),
            Some((Duration::from_secs(2), 0))
        );
        assert_eq!(behaviour(&p, "side", ContainerKind::Sidecar), None);
    }

    #[test]
    fn defaults_follow_the_restart_policy() {
        let always = pod(json!({}), "Always");
        assert_eq!(behaviour(&always, "app", ContainerKind::Regular), None);
        assert_eq!(
            behaviour(&always, "init", ContainerKind::Init),
            Some((Duration::ZERO, 0))
        );
        let never = pod(json!({}), "Never");
        assert_eq!(behaviour(&never, "app", ContainerKind::Regular), Some((DEFAULT_RUN, 0)));
        let failing = pod(json!({EXIT_CODE: "1"}), "Always");
        assert_eq!(
            behaviour(&failing, "app", ContainerKind::Regular),
            Some((DEFAULT_RUN, 1))
        );
    }

    #[tokio::test]
    async fn containers_run_exit_and_restart_as_new_instances() {
        let sim = Simulated::new();
        let p = pod(json!({RUN_DURATION: "20ms", EXIT_CODE: "2"}), "Always");
        let c = &p.spec.as_ref().unwrap().containers[0];
        let image = sim.pull_image("n1", "busybox", PullPolicy::Always).await.unwrap();
        assert!(image.pulled);
        assert_eq!(image.image, "docker.io/library/busybox:latest");
        assert!(image.image_id.starts_with("docker.io/library/busybox@sha256:"));
        sim.run_sandbox(&key(), "n1", &p).await.unwrap();
        sim.start_container(&key(), &p, c, ContainerKind::Regular, 0, &image)
            .await
            .unwrap();
        let status = sim.status(&key(), &p).await;
        assert!(status.sandbox);
        assert!(status.containers["app"].current.running());
        // The shared timer wakes the pod when its container exits.
        let mut changes = sim.changes();
        assert_eq!(changes.next().await, Some(key()));
        let exited = sim.status(&key(), &p).await.containers["app"].current.clone();
        let exit = exited.exit.clone().expect("exited");
        assert_eq!((exit.code, exit.reason.as_str()), (2, "Error"));
        sim.start_container(&key(), &p, c, ContainerKind::Regular, 1, &image)
            .await
            .unwrap();
        let history = sim.status(&key(), &p).await.containers["app"].clone();
        assert_eq!(history.current.attempt, 1);
        assert_ne!(history.current.id, exited.id);
        assert_eq!(history.previous.map(|p| p.id), Some(exited.id));
    }

    #[tokio::test]
    async fn stops_honour_the_stop_duration_and_the_grace_period() {
        let sim = Simulated::new();
        let p = pod(json!({STOP_DURATION: "1h"}), "Always");
        let c = &p.spec.as_ref().unwrap().containers[0];
        let image = sim.pull_image("n1", "busybox", PullPolicy::IfNotPresent).await.unwrap();
        sim.start_container(&key(), &p, c, ContainerKind::Regular, 0, &image)
            .await
            .unwrap();
        sim.stop_container(&key(), &p, "app", Duration::ZERO).await;
        let exit = sim.status(&key(), &p).await.containers["app"]
            .current
            .exit
            .clone()
            .unwrap();
        assert_eq!(exit.code, 137);
        let quick = pod(json!({}), "Always");
        let key2 = PodKey {
            uid: "u2".into(),
            ..key()
        };
        sim.start_container(&key2, &quick, c, ContainerKind::Regular, 0, &image)
            .await
            .unwrap();
        sim.stop_container(&key2, &quick, "app", Duration::from_secs(30)).await;
        let exit = sim.status(&key2, &quick).await.containers["app"]
            .current
            .exit
            .clone()
            .unwrap();
        assert_eq!((exit.code, exit.reason.as_str()), (0, "Completed"));
    }

    #[tokio::test]
    async fn images_are_pulled_once_per_node_unless_always() {
        let sim = Simulated::new();
        assert!(
            sim.pull_image("n1", "nginx:1.27", PullPolicy::IfNotPresent)
                .await
                .unwrap()
                .pulled
        );
        assert!(
            !sim.pull_image("n1", "nginx:1.27", PullPolicy::IfNotPresent)
                .await
                .unwrap()
                .pulled
        );
        assert!(
            sim.pull_image("n2", "nginx:1.27", PullPolicy::IfNotPresent)
                .await
                .unwrap()
                .pulled
        );
        assert!(
            sim.pull_image("n2", "nginx:1.27", PullPolicy::Always)
                .await
                .unwrap()
                .pulled
        );
        assert!(!sim.pull_image("n3", "x", PullPolicy::Never).await.unwrap().pulled);
    }

    #[tokio::test]
    async fn a_restarted_agent_recovers_containers_from_the_reported_status() {
        let sim = Simulated::new();
        let mut p = pod(json!({}), "Always");
        p.status = Some(
            serde_json::from_value(json!({
                "containerStatuses": [{
                    "name": "app", "image": "docker.io/library/busybox:latest", "imageID": "x", "ready": true,
                    "restartCount": 3, "containerID": "skiff-sim://abc",
                    "state": {"running": {"startedAt": "2025-01-01T00:00:00Z"}},
                    "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "containerID": "skiff-sim://old",
                        "startedAt": "2024-12-31T23:59:00Z", "finishedAt": "2024-12-31T23:59:59Z"}}
                }, {"name": "web", "image": "nginx", "imageID": "", "ready": false, "restartCount": 0,
                    "state": {"waiting": {"reason": "ContainerCreating"}}}]
            }))
            .unwrap(),
        );
        let status = sim.status(&key(), &p).await;
        let app = &status.containers["app"];
        assert_eq!((app.current.attempt, app.current.id.as_str()), (3, "skiff-sim://abc"));
        assert!(app.current.running());
        assert_eq!(
            app.previous.as_ref().and_then(|p| p.exit.as_ref()).map(|e| e.code),
            Some(1)
        );
        assert!(!status.containers.contains_key("web"));
        assert!(sim.logs(&key(), "app").await.is_err());
    }
}
