//! The framework's vocabulary: plugins of the default profile, statuses, the diagnosis of a
//! failed cycle and its message (FitError.Error() as upstream formats it), and the seams to the
//! rest of the cluster the plugins read through (listers) or that later issues fill (volumes).

use super::labels::{Labels, Selector};
use super::node_info::NodeInfo;
use super::pod_info::PodInfo;
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The plugins of upstream's default profile that this scheduler runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Plugin {
    SchedulingGates,
    NodeUnschedulable,
    NodeName,
    TaintToleration,
    NodeAffinity,
    NodePorts,
    NodeResourcesFit,
    VolumeBinding,
    PodTopologySpread,
    InterPodAffinity,
    DefaultPreemption,
    NodeResourcesBalancedAllocation,
}

impl Plugin {
    pub fn name(self) -> &'static str {
        match self {
            Plugin::SchedulingGates => "SchedulingGates",
            Plugin::NodeUnschedulable => "NodeUnschedulable",
            Plugin::NodeName => "NodeName",
            Plugin::TaintToleration => "TaintToleration",
            Plugin::NodeAffinity => "NodeAffinity",
            Plugin::NodePorts => "NodePorts",
            Plugin::NodeResourcesFit => "NodeResourcesFit",
            Plugin::VolumeBinding => "VolumeBinding",
            Plugin::PodTopologySpread => "PodTopologySpread",
            Plugin::InterPodAffinity => "InterPodAffinity",
            Plugin::DefaultPreemption => "DefaultPreemption",
            Plugin::NodeResourcesBalancedAllocation => "NodeResourcesBalancedAllocation",
        }
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

/// A small set of plugins (the ones that rejected a pod).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PluginSet(u32);

impl PluginSet {
    pub fn insert(&mut self, p: Plugin) {
        self.0 |= p.bit();
    }
    pub fn contains(self, p: Plugin) -> bool {
        self.0 & p.bit() != 0
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub fn iter(self) -> impl Iterator<Item = Plugin> {
        ALL_PLUGINS.into_iter().filter(move |p| self.contains(*p))
    }
}

const ALL_PLUGINS: [Plugin; 12] = [
    Plugin::SchedulingGates,
    Plugin::NodeUnschedulable,
    Plugin::NodeName,
    Plugin::TaintToleration,
    Plugin::NodeAffinity,
    Plugin::NodePorts,
    Plugin::NodeResourcesFit,
    Plugin::VolumeBinding,
    Plugin::PodTopologySpread,
    Plugin::InterPodAffinity,
    Plugin::DefaultPreemption,
    Plugin::NodeResourcesBalancedAllocation,
];

/// A plugin's verdict code (framework.Code).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    Error,
    /// Rejected; preemption may help.
    Unschedulable,
    /// Rejected; preemption cannot help on this node.
    UnschedulableAndUnresolvable,
}

/// A rejection or error from a plugin (a non-success framework.Status).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    pub code: Code,
    pub reasons: Vec<Cow<'static, str>>,
    pub plugin: Option<Plugin>,
}

impl Status {
    pub fn new(code: Code, plugin: Plugin, reason: impl Into<Cow<'static, str>>) -> Status {
        Status {
            code,
            reasons: vec![reason.into()],
            plugin: Some(plugin),
        }
    }
    pub fn unschedulable(plugin: Plugin, reason: impl Into<Cow<'static, str>>) -> Status {
        Status::new(Code::Unschedulable, plugin, reason)
    }
    pub fn unresolvable(plugin: Plugin, reason: impl Into<Cow<'static, str>>) -> Status {
        Status::new(Code::UnschedulableAndUnresolvable, plugin, reason)
    }
    pub fn error(message: impl Into<Cow<'static, str>>) -> Status {
        Status {
            code: Code::Error,
            reasons: vec![message.into()],
            plugin: None,
        }
    }
    /// The reasons joined as upstream's Status.Message().
    pub fn message(&self) -> String {
        self.reasons.join(", ")
    }
}

/// Why a pod fits nowhere (framework.Diagnosis).
#[derive(Clone, Debug, Default)]
pub struct Diagnosis {
    /// The status of each node rejected by Filter (by cache slot).
    pub node_statuses: Vec<(usize, Status)>,
    /// The status of the nodes absent from `node_statuses` (PreFilter rejected them all, or
    /// a PreFilter result left them out).
    pub absent: Option<Status>,
    pub unschedulable_plugins: PluginSet,
    pub prefilter_msg: String,
    pub postfilter_msg: String,
}

impl Diagnosis {
    pub fn add_plugin_status(&mut self, status: &Status) {
        if let (Some(p), Code::Unschedulable | Code::UnschedulableAndUnresolvable) = (status.plugin, status.code) {
            self.unschedulable_plugins.insert(p);
        }
    }

    /// The status of the node in `slot`: its own, or the absent nodes' one.
    pub fn status_of(&self, slot: usize) -> Option<&Status> {
        self.node_statuses
            .iter()
            .find(|(s, _)| *s == slot)
            .map(|(_, st)| st)
            .or(self.absent.as_ref())
    }
}

/// NoteLengthLimit of events: longer messages are cut with " ..." as upstream's truncateMessage.
pub const NOTE_LENGTH_LIMIT: usize = 1024;

/// A pod fits no node: the message of upstream's FitError.Error():
/// `0/N nodes are available: <prefilter msg>. | <sorted reason histogram>. [<postfilter msg>]`.
pub fn fit_error_message(num_all_nodes: usize, diagnosis: &Diagnosis) -> String {
    let mut message = format!("0/{num_all_nodes} nodes are available:");
    if !diagnosis.prefilter_msg.is_empty() {
        message.push_str(&format!(" {}.", diagnosis.prefilter_msg));
    } else {
        let mut histogram: BTreeMap<&str, usize> = BTreeMap::new();
        for (_, status) in &diagnosis.node_statuses {
            for reason in &status.reasons {
                *histogram.entry(reason.as_ref()).or_insert(0) += 1;
            }
        }
        let explicit = diagnosis.node_statuses.len();
        if explicit < num_all_nodes {
            if let Some(absent) = &diagnosis.absent {
                for reason in &absent.reasons {
                    *histogram.entry(reason.as_ref()).or_insert(0) += num_all_nodes - explicit;
                }
            }
        }
        let mut entries: Vec<String> = histogram.into_iter().map(|(r, n)| format!("{n} {r}")).collect();
        entries.sort();
        if !entries.is_empty() {
            message.push_str(&format!(" {}.", entries.join(", ")));
        }
    }
    if !diagnosis.postfilter_msg.is_empty() {
        message.push(' ');
        message.push_str(&diagnosis.postfilter_msg);
    }
    message
}

/// Cut a message to the event note limit as upstream does.
pub fn truncate_message(message: &str) -> String {
    if message.len() <= NOTE_LENGTH_LIMIT {
        return message.to_string();
    }
    let suffix = " ...";
    let mut cut = NOTE_LENGTH_LIMIT - suffix.len();
    while !message.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{suffix}", &message[..cut])
}

/// What the plugins read from the rest of the cluster (upstream's listers).
pub trait Listers {
    /// The labels of a namespace, if it exists.
    fn namespace_labels(&self, namespace: &str) -> Option<Labels>;
    /// The names of the namespaces whose labels match `selector`.
    fn namespaces_matching(&self, selector: &Selector) -> Vec<String>;
    /// upstream's helper.DefaultSelector: the selectors of the Services selecting the pod and
    /// of its controlling ReplicationController, ReplicaSet or StatefulSet, merged.
    fn default_spread_selector(&self, pod: &Pod) -> Selector;
    /// Every PodDisruptionBudget.
    fn pdbs(&self) -> Vec<Arc<PodDisruptionBudget>>;
}

/// Listers over nothing: no namespaces labels, no controllers, no budgets (tests).
#[derive(Default)]
pub struct NoListers;

impl Listers for NoListers {
    fn namespace_labels(&self, _: &str) -> Option<Labels> {
        None
    }
    fn namespaces_matching(&self, _: &Selector) -> Vec<String> {
        Vec::new()
    }
    fn default_spread_selector(&self, _: &Pod) -> Selector {
        Selector::Nothing
    }
    fn pdbs(&self) -> Vec<Arc<PodDisruptionBudget>> {
        Vec::new()
    }
}

/// The volume plugins' seam (VolumeRestrictions, NodeVolumeLimits, VolumeBinding, VolumeZone):
/// the persistent-volume issue implements it; until then every pod passes.
pub trait VolumeHooks: Send + Sync {
    /// PreFilter: reject the pod on every node (e.g. `persistentvolumeclaim "x" not found`).
    fn pre_filter(&self, _pod: &PodInfo) -> Result<(), Status> {
        Ok(())
    }
    /// Filter one node (e.g. `node(s) had volume node affinity conflict`).
    fn filter(&self, _pod: &PodInfo, _node: &NodeInfo) -> Option<Status> {
        None
    }
    /// Before the binding: bind the pod's claims for `node`.
    fn pre_bind(&self, _pod: Arc<PodInfo>, _node: String) -> BoxFuture<'static, Result<(), String>> {
        Box::pin(async { Ok(()) })
    }
    /// Whether a node change may make a pod the volume plugins rejected schedulable.
    fn node_changed(&self, _pod: &PodInfo, _node: &Node) -> bool {
        true
    }
}

/// The hooks while no volume support is plugged in.
#[derive(Default)]
pub struct NoVolumes;

impl VolumeHooks for NoVolumes {}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: Code, plugin: Plugin, reasons: &[&'static str]) -> Status {
        Status {
            code,
            reasons: reasons.iter().map(|r| Cow::Borrowed(*r)).collect(),
            plugin: Some(plugin),
        }
    }

    #[test]
    fn message_sorts_the_reason_histogram() {
        let mut d = Diagnosis::default();
        d.node_statuses.push((
            0,
            status(
                Code::UnschedulableAndUnresolvable,
                Plugin::TaintToleration,
                &["node(s) had untolerated taint {k: v}"],
            ),
        ));
        d.node_statuses.push((
            1,
            status(Code::Unschedulable, Plugin::NodeResourcesFit, &["Insufficient cpu"]),
        ));
        d.node_statuses.push((
            2,
            status(Code::Unschedulable, Plugin::NodeResourcesFit, &["Insufficient cpu"]),
        ));
        d.postfilter_msg =
            "preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.".into();
        assert_eq!(
            fit_error_message(3, &d),
            "0/3 nodes are available: 1 node(s) had untolerated taint {k: v}, 2 Insufficient cpu. \
             preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."
        );
    }

    #[test]
    fn message_counts_absent_nodes_and_multiple_reasons() {
        let mut d = Diagnosis::default();
        d.node_statuses.push((
            0,
            status(
                Code::Unschedulable,
                Plugin::NodeResourcesFit,
                &["Insufficient cpu", "Insufficient memory"],
            ),
        ));
        d.absent = Some(Status::unresolvable(
            Plugin::DefaultPreemption,
            "Preemption is not helpful for scheduling",
        ));
        assert_eq!(
            fit_error_message(3, &d),
            "0/3 nodes are available: 1 Insufficient cpu, 1 Insufficient memory, 2 Preemption is not helpful for scheduling."
        );
    }

    #[test]
    fn prefilter_message_replaces_the_histogram() {
        let mut d = Diagnosis::default();
        d.prefilter_msg = "pod affinity terms conflict".into();
        d.absent = Some(Status::unresolvable(
            Plugin::NodeAffinity,
            "pod affinity terms conflict",
        ));
        assert_eq!(
            fit_error_message(2, &d),
            "0/2 nodes are available: pod affinity terms conflict."
        );
        let empty = Diagnosis::default();
        assert_eq!(fit_error_message(0, &empty), "0/0 nodes are available:");
    }

    #[test]
    fn truncation_matches_upstream() {
        let long = "x".repeat(2000);
        let cut = truncate_message(&long);
        assert_eq!(cut.len(), NOTE_LENGTH_LIMIT);
        assert!(cut.ends_with(" ..."));
        assert_eq!(truncate_message("short"), "short");
    }

    #[test]
    fn plugin_sets() {
        let mut s = PluginSet::default();
        assert!(s.is_empty());
        s.insert(Plugin::NodeResourcesFit);
        s.insert(Plugin::TaintToleration);
        assert!(s.contains(Plugin::NodeResourcesFit) && !s.contains(Plugin::NodePorts));
        assert_eq!(
            s.iter().collect::<Vec<_>>(),
            vec![Plugin::TaintToleration, Plugin::NodeResourcesFit]
        );
    }
}
