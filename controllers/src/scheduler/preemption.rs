//! DefaultPreemption (PostFilter): when a pod fits nowhere, find nodes where removing pods of
//! lower priority would make it fit, keep as many of them as still fit (PDB-violating ones
//! reprieved first), and pick the node with the fewest PDB violations, then the lowest highest
//! victim priority, the lowest priority sum, the fewest victims, the latest start time.

use super::algorithm::{Algorithm, CycleState};
use super::framework::{fit_error_message, Code, Diagnosis, Listers, Plugin, Status, VolumeHooks};
use super::labels::{labels_of, Selector};
use super::pod_info::{more_important, PodInfo};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use std::sync::Arc;

pub const NO_VICTIMS: &str = "No preemption victims found for incoming pod";
pub const NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";
pub const POLICY_NEVER: &str = "not eligible due to preemptionPolicy=Never.";
pub const TERMINATING_ON_NOMINATED: &str = "not eligible due to a terminating pod on the nominated node.";
/// DefaultPreemptionArgs defaults.
const MIN_CANDIDATE_NODES_PERCENTAGE: usize = 10;
const MIN_CANDIDATE_NODES_ABSOLUTE: usize = 100;

/// A node where preemption makes the pod fit.
#[derive(Clone, Debug)]
pub struct Candidate {
    pub slot: usize,
    /// Most important first.
    pub victims: Vec<Arc<PodInfo>>,
    pub pdb_violations: usize,
}

/// What preemption decided.
#[derive(Debug)]
pub enum Outcome {
    /// Nominate the node, evict the victims, and clear the nominations of the lower-priority
    /// pods nominated there.
    Nominate {
        node: String,
        victims: Vec<Arc<PodInfo>>,
        lower_nominated: Vec<Arc<PodInfo>>,
    },
    /// Preemption cannot help: the PostFilter message (without the "preemption: " prefix) and
    /// whether the pod's nominatedNodeName should be cleared.
    No { message: String, clear_nomination: bool },
}

/// Whether the pod is terminating because the scheduler preempted it.
fn terminating_by_preemption(p: &PodInfo) -> bool {
    p.terminating
        && p.pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == "DisruptionTarget"))
            .is_some_and(|c| c.status == "True" && c.reason.as_deref() == Some("PreemptionByScheduler"))
}

/// PodEligibleToPreemptOthers.
fn eligible(alg: &Algorithm, pod: &PodInfo, diagnosis: &Diagnosis) -> Result<(), &'static str> {
    let spec = pod.pod.spec.as_ref();
    if spec.and_then(|s| s.preemption_policy.as_deref()) == Some("Never") {
        return Err(POLICY_NEVER);
    }
    let nominated = pod
        .pod
        .status
        .as_ref()
        .and_then(|s| s.nominated_node_name.as_deref())
        .filter(|n| !n.is_empty());
    if let Some(slot) = nominated.and_then(|n| alg.cache.slot(n)) {
        if diagnosis
            .status_of(slot)
            .is_some_and(|s| s.code == Code::UnschedulableAndUnresolvable)
        {
            return Ok(());
        }
        let node = alg.cache.node(slot);
        if node
            .pods
            .iter()
            .any(|p| p.priority < pod.priority && terminating_by_preemption(p))
        {
            return Err(TERMINATING_ON_NOMINATED);
        }
    }
    Ok(())
}

/// filterPodsWithPDBViolation: (violating, non-violating), order kept.
pub fn split_by_pdb(
    pods: Vec<Arc<PodInfo>>,
    pdbs: &[Arc<PodDisruptionBudget>],
) -> (Vec<Arc<PodInfo>>, Vec<Arc<PodInfo>>) {
    let mut allowed: Vec<i64> = pdbs
        .iter()
        .map(|p| p.status.as_ref().map(|s| i64::from(s.disruptions_allowed)).unwrap_or(0))
        .collect();
    let selectors: Vec<Selector> = pdbs
        .iter()
        .map(|p| Selector::from_label_selector(p.spec.as_ref().and_then(|s| s.selector.as_ref())))
        .collect();
    let (mut violating, mut ok) = (Vec::new(), Vec::new());
    for pod in pods {
        let labels = labels_of(&pod.pod.metadata.labels);
        let mut violated = false;
        if !labels.is_empty() {
            for (i, pdb) in pdbs.iter().enumerate() {
                if pdb.metadata.namespace.as_deref() != Some(pod.namespace.as_str()) {
                    continue;
                }
                let selector = &selectors[i];
                if selector.is_empty() || !selector.matches(labels) {
                    continue;
                }
                let disrupted = pdb
                    .status
                    .as_ref()
                    .and_then(|s| s.disrupted_pods.as_ref())
                    .is_some_and(|d| d.contains_key(&pod.name));
                if disrupted {
                    continue;
                }
                allowed[i] -= 1;
                if allowed[i] < 0 {
                    violated = true;
                }
            }
        }
        if violated {
            violating.push(pod);
        } else {
            ok.push(pod);
        }
    }
    (violating, ok)
}

/// SelectVictimsOnNode: Ok(None) when no pod there has lower priority.
fn select_victims(
    alg: &Algorithm,
    state: &CycleState,
    slot: usize,
    pdbs: &[Arc<PodDisruptionBudget>],
    volumes: &dyn VolumeHooks,
) -> Result<Option<Candidate>, Status> {
    let pod = &state.pod;
    let mut node = alg.cache.node(slot).clone();
    let mut st = state.clone();
    let mut potential: Vec<Arc<PodInfo>> = node
        .pods
        .iter()
        .filter(|p| p.priority < pod.priority)
        .cloned()
        .collect();
    if potential.is_empty() {
        return Ok(None);
    }
    for v in &potential {
        node.remove_pod(&v.uid);
        st.update_with_pod(v, &node, -1);
    }
    if let Some(status) = Algorithm::filter_with_nominated(&alg.nominator, &st, &node, volumes) {
        return Err(status);
    }
    potential.sort_by(|a, b| {
        if more_important(a, b) {
            std::cmp::Ordering::Less
        } else if more_important(b, a) {
            std::cmp::Ordering::Greater
        } else {
            std::cmp::Ordering::Equal
        }
    });
    let (violating, non_violating) = split_by_pdb(potential, pdbs);
    let both = !violating.is_empty() && !non_violating.is_empty();
    let mut victims = Vec::new();
    let mut violations = 0;
    let mut reprieve = |p: &Arc<PodInfo>, victims: &mut Vec<Arc<PodInfo>>| -> bool {
        node.add_pod(p.clone());
        st.update_with_pod(p, &node, 1);
        if Algorithm::filter_with_nominated(&alg.nominator, &st, &node, volumes).is_some() {
            node.remove_pod(&p.uid);
            st.update_with_pod(p, &node, -1);
            victims.push(p.clone());
            return false;
        }
        true
    };
    for p in &violating {
        if !reprieve(p, &mut victims) {
            violations += 1;
        }
    }
    for p in &non_violating {
        reprieve(p, &mut victims);
    }
    if both {
        victims.sort_by(|a, b| more_important(b, a).cmp(&more_important(a, b)));
    }
    Ok(Some(Candidate {
        slot,
        victims,
        pdb_violations: violations,
    }))
}

/// The earliest start time among the highest-priority victims, in nanoseconds.
fn earliest_start(victims: &[Arc<PodInfo>]) -> i128 {
    let Some(first) = victims.first() else {
        return i128::MIN;
    };
    let top = victims.iter().map(|v| v.priority).max().unwrap_or(first.priority);
    victims
        .iter()
        .filter(|v| v.priority == top)
        .map(|v| v.start_time.map(|t| t.as_nanosecond()).unwrap_or(i128::MAX))
        .min()
        .unwrap_or(i128::MIN)
}

/// pickOneNodeForPreemption.
pub fn pick(candidates: &[Candidate]) -> Option<&Candidate> {
    let score_fns: [&dyn Fn(&Candidate) -> i128; 5] = [
        &|c| -(c.pdb_violations as i128),
        &|c| -i128::from(c.victims.first().map(|v| v.priority).unwrap_or(0)),
        &|c| {
            -c.victims
                .iter()
                .map(|v| i128::from(v.priority) + i128::from(i32::MAX) + 1)
                .sum::<i128>()
        },
        &|c| -(c.victims.len() as i128),
        &|c| earliest_start(&c.victims),
    ];
    let mut remaining: Vec<&Candidate> = candidates.iter().collect();
    for f in score_fns {
        if remaining.len() <= 1 {
            break;
        }
        let best = remaining.iter().map(|c| f(c)).max()?;
        remaining.retain(|c| f(c) == best);
    }
    remaining.first().copied()
}

/// Preempt: find the node to nominate and its victims, or say why preemption cannot help.
pub fn preempt(
    alg: &mut Algorithm,
    state: &CycleState,
    diagnosis: &Diagnosis,
    num_nodes: usize,
    listers: &dyn Listers,
    volumes: &dyn VolumeHooks,
) -> Outcome {
    let pod = state.pod.clone();
    if let Err(message) = eligible(alg, &pod, diagnosis) {
        return Outcome::No {
            message: message.to_string(),
            clear_nomination: false,
        };
    }
    let potential: Vec<usize> = alg
        .cache
        .order()
        .iter()
        .copied()
        .filter(|s| diagnosis.status_of(*s).is_some_and(|st| st.code == Code::Unschedulable))
        .collect();
    let not_helpful = Status::unresolvable(Plugin::DefaultPreemption, NOT_HELPFUL);
    if potential.is_empty() {
        let d = Diagnosis {
            absent: Some(not_helpful),
            ..Default::default()
        };
        return Outcome::No {
            message: fit_error_message(num_nodes, &d),
            clear_nomination: true,
        };
    }
    let pdbs = listers.pdbs();
    let offset = alg.random_below(potential.len());
    let wanted = (potential.len() * MIN_CANDIDATE_NODES_PERCENTAGE / 100)
        .max(MIN_CANDIDATE_NODES_ABSOLUTE)
        .min(potential.len());
    let mut non_violating: Vec<Candidate> = Vec::new();
    let mut violating: Vec<Candidate> = Vec::new();
    let mut statuses = Diagnosis {
        absent: Some(not_helpful),
        ..Default::default()
    };
    for i in 0..potential.len() {
        let slot = potential[(offset + i) % potential.len()];
        match select_victims(alg, state, slot, &pdbs, volumes) {
            Ok(Some(c)) if !c.victims.is_empty() => {
                if c.pdb_violations == 0 {
                    non_violating.push(c);
                } else {
                    violating.push(c);
                }
                if !non_violating.is_empty() && non_violating.len() + violating.len() >= wanted {
                    break;
                }
            }
            Ok(Some(_)) => statuses
                .node_statuses
                .push((slot, Status::error("expected at least one victim pod"))),
            Ok(None) => statuses
                .node_statuses
                .push((slot, Status::unresolvable(Plugin::DefaultPreemption, NO_VICTIMS))),
            Err(status) => statuses.node_statuses.push((slot, status)),
        }
    }
    let candidates: Vec<Candidate> = non_violating.into_iter().chain(violating).collect();
    let Some(best) = pick(&candidates) else {
        return Outcome::No {
            message: fit_error_message(num_nodes, &statuses),
            clear_nomination: true,
        };
    };
    let node = alg.cache.node(best.slot).name().to_string();
    let lower_nominated = alg
        .nominator
        .for_node(&node)
        .iter()
        .filter(|p| p.priority < pod.priority)
        .cloned()
        .collect();
    Outcome::Nominate {
        node,
        victims: best.victims.clone(),
        lower_nominated,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::algorithm::tests::cluster;
    use crate::scheduler::algorithm::{Failure, Unfit};
    use crate::scheduler::framework::{NoListers, NoVolumes};
    use crate::scheduler::node_info::tests::{info, pod};
    use k8s_openapi::api::policy::v1::{PodDisruptionBudgetSpec, PodDisruptionBudgetStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

    fn with_priority(name: &str, cpu: &str, priority: i32, labels: &[(&str, &str)]) -> Arc<PodInfo> {
        let mut p = pod(name, &[("cpu", cpu)], labels);
        p.spec.as_mut().unwrap().priority = Some(priority);
        info(p)
    }

    fn run(alg: &mut Algorithm, p: &Arc<PodInfo>, listers: &dyn Listers) -> Outcome {
        let unfit: Box<Unfit> = alg.schedule(p, &NoListers, &NoVolumes).err().expect("unschedulable");
        let Failure::Fit { num_nodes, diagnosis } = unfit.failure else {
            panic!("not a fit error")
        };
        preempt(alg, &unfit.state.unwrap(), &diagnosis, num_nodes, listers, &NoVolumes)
    }

    #[test]
    fn evicts_the_fewest_lowest_priority_pods() {
        let mut alg = cluster(&[("a", "4"), ("b", "4")]);
        let (a, b) = (alg.cache.slot("a").unwrap(), alg.cache.slot("b").unwrap());
        alg.cache.add_or_update_pod(with_priority("a1", "2", 10, &[]), "a");
        alg.cache.add_or_update_pod(with_priority("a2", "2", 10, &[]), "a");
        alg.cache.add_or_update_pod(with_priority("b1", "2", 5, &[]), "b");
        alg.cache.add_or_update_pod(with_priority("b2", "2", 50, &[]), "b");
        let _ = (a, b);
        let high = with_priority("high", "2", 100, &[]);
        match run(&mut alg, &high, &NoListers) {
            Outcome::Nominate { node, victims, .. } => {
                // Both nodes need one victim; b's victim has the lowest priority.
                assert_eq!(node, "b");
                assert_eq!(victims.iter().map(|v| v.name.as_str()).collect::<Vec<_>>(), ["b1"]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn no_victims_and_policy_never_messages() {
        let mut alg = cluster(&[("a", "1"), ("b", "1"), ("c", "1")]);
        let p = with_priority("p", "2", 0, &[]);
        match run(&mut alg, &p, &NoListers) {
            Outcome::No {
                message,
                clear_nomination,
            } => {
                assert_eq!(
                    message,
                    "0/3 nodes are available: 3 No preemption victims found for incoming pod."
                );
                assert!(clear_nomination);
            }
            other => panic!("{other:?}"),
        }
        let mut never = pod("never", &[("cpu", "2")], &[]);
        never.spec.as_mut().unwrap().preemption_policy = Some("Never".into());
        match run(&mut alg, &info(never), &NoListers) {
            Outcome::No { message, .. } => assert_eq!(message, POLICY_NEVER),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unresolvable_nodes_are_not_candidates() {
        let mut alg = cluster(&[("a", "4"), ("b", "1")]);
        crate::scheduler::algorithm::tests::taint(&mut alg, "a", "k", "v");
        alg.cache.add_or_update_pod(with_priority("low", "1", 0, &[]), "b");
        let p = with_priority("p", "2", 10, &[]);
        match run(&mut alg, &p, &NoListers) {
            Outcome::No { message, .. } => assert_eq!(
                message,
                "0/2 nodes are available: 1 Insufficient cpu, 1 Preemption is not helpful for scheduling."
            ),
            other => panic!("{other:?}"),
        }
    }

    struct Budgets(Vec<Arc<PodDisruptionBudget>>);
    impl Listers for Budgets {
        fn namespace_labels(&self, _: &str) -> Option<crate::scheduler::labels::Labels> {
            None
        }
        fn namespaces_matching(&self, _: &Selector) -> Vec<String> {
            Vec::new()
        }
        fn default_spread_selector(&self, _: &k8s_openapi::api::core::v1::Pod) -> Selector {
            Selector::everything()
        }
        fn pdbs(&self) -> Vec<Arc<PodDisruptionBudget>> {
            self.0.clone()
        }
    }

    #[test]
    fn prefers_nodes_without_pdb_violations() {
        let mut alg = cluster(&[("a", "2"), ("b", "2")]);
        alg.cache
            .add_or_update_pod(with_priority("guarded", "2", 0, &[("app", "db")]), "a");
        alg.cache
            .add_or_update_pod(with_priority("free", "2", 5, &[("app", "web")]), "b");
        let mut pdb = PodDisruptionBudget::default();
        pdb.metadata.namespace = Some("default".into());
        pdb.spec = Some(PodDisruptionBudgetSpec {
            selector: Some(LabelSelector {
                match_labels: Some([("app".to_string(), "db".to_string())].into()),
                match_expressions: None,
            }),
            ..Default::default()
        });
        pdb.status = Some(PodDisruptionBudgetStatus {
            disruptions_allowed: 0,
            ..Default::default()
        });
        let p = with_priority("p", "2", 10, &[]);
        match run(&mut alg, &p, &Budgets(vec![Arc::new(pdb)])) {
            Outcome::Nominate { node, .. } => assert_eq!(node, "b"),
            other => panic!("{other:?}"),
        }
    }
}
