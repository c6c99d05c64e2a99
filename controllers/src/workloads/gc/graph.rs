//! The garbage collector's ownership graph (upstream's GraphBuilder): one node per object UID,
//! with its owner references and the dependents that name it. Owners not seen yet are "virtual"
//! nodes until a watch shows them (or the collector confirms they are gone). Applying a change
//! returns the work it causes: items to check for deletion or orphaning, and invalid
//! cross-namespace owner references to report.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use std::collections::{HashMap, HashSet};

pub const ORPHAN: &str = "orphan";
pub const FOREGROUND: &str = "foregroundDeletion";

/// Who an object is: its coordinates and UID (upstream's objectReference). `namespace` is empty
/// for cluster-scoped objects.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Identity {
    pub api_version: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub uid: String,
}

impl Identity {
    /// The owner an owner reference names, placed in `namespace`.
    pub fn of_owner(owner: &OwnerReference, namespace: &str) -> Identity {
        Identity {
            api_version: owner.api_version.clone(),
            kind: owner.kind.clone(),
            namespace: namespace.to_string(),
            name: owner.name.clone(),
            uid: owner.uid.clone(),
        }
    }

    /// upstream's objectReference.String(): `[apps/v1/Deployment, namespace: ns, name: web, uid: …]`.
    pub fn describe(&self) -> String {
        format!(
            "[{}/{}, namespace: {}, name: {}, uid: {}]",
            self.api_version, self.kind, self.namespace, self.name, self.uid
        )
    }
}

/// An observed (or, for deletions, verified) state of one object.
#[derive(Clone, Debug)]
pub struct Change {
    pub identity: Identity,
    pub owners: Vec<OwnerReference>,
    pub deleting: bool,
    pub finalizers: Vec<String>,
    pub deleted: bool,
    /// Made up by the collector (an owner confirmed absent), not seen on a watch.
    pub virtual_: bool,
}

/// What a change asks the collector to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Work {
    AttemptToDelete(String),
    AttemptToDeleteLater(String),
    AttemptToOrphan(String),
    /// `dependent` names `owner` (by UID), which lives in another namespace.
    InvalidNamespace {
        dependent: Identity,
        owner: OwnerReference,
    },
    /// This owner is known to be gone.
    Absent(Identity),
}

#[derive(Clone, Debug, Default)]
pub struct Node {
    pub identity: Identity,
    pub owners: Vec<OwnerReference>,
    pub dependents: HashSet<String>,
    /// Seen on a watch (not just named by a dependent).
    pub observed: bool,
    pub being_deleted: bool,
    pub deleting_dependents: bool,
    /// Whether the last observed state was deleting with the orphan / foreground finalizer.
    orphan_pending: bool,
    foreground_pending: bool,
}

/// What a worker needs of a dependent.
#[derive(Clone, Debug)]
pub struct Dependent {
    pub identity: Identity,
    pub owners: Vec<OwnerReference>,
    pub deleting_dependents: bool,
}

#[derive(Default)]
pub struct Graph {
    nodes: HashMap<String, Node>,
}

fn matches_coordinates(r: &OwnerReference, identity: &Identity) -> bool {
    r.uid == identity.uid && r.name == identity.name && r.kind == identity.kind && r.api_version == identity.api_version
}

impl Graph {
    pub fn node(&self, uid: &str) -> Option<&Node> {
        self.nodes.get(uid)
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The dependents of `uid` as the graph knows them.
    pub fn dependents(&self, uid: &str) -> Vec<Dependent> {
        let Some(node) = self.nodes.get(uid) else {
            return Vec::new();
        };
        node.dependents
            .iter()
            .filter_map(|d| self.nodes.get(d))
            .map(|d| Dependent {
                identity: d.identity.clone(),
                owners: d.owners.clone(),
                deleting_dependents: d.deleting_dependents,
            })
            .collect()
    }

    /// Apply one change (upstream's processGraphChanges).
    pub fn apply(&mut self, change: Change) -> Vec<Work> {
        let mut work = Vec::new();
        let uid = change.identity.uid.clone();
        if let Some(node) = self.nodes.get(&uid) {
            if !change.virtual_ && !node.observed {
                if node.identity != change.identity {
                    let (_, mismatched) = self.partition(&uid, &change.identity);
                    for dep in mismatched {
                        let dep_identity = self.nodes[&dep].identity.clone();
                        if !change.identity.namespace.is_empty() && dep_identity.namespace != change.identity.namespace
                        {
                            if let Some(owner) = self.nodes[&dep].owners.iter().find(|o| o.uid == uid) {
                                work.push(Work::InvalidNamespace {
                                    dependent: dep_identity,
                                    owner: owner.clone(),
                                });
                            }
                        }
                        work.push(Work::AttemptToDelete(dep));
                    }
                }
                if let Some(node) = self.nodes.get_mut(&uid) {
                    node.identity = change.identity.clone();
                    node.observed = true;
                }
            }
        }
        if change.deleted {
            self.apply_delete(change, &mut work);
            return work;
        }
        let found = self.nodes.contains_key(&uid);
        if !found {
            let node = Node {
                identity: change.identity.clone(),
                owners: change.owners.clone(),
                dependents: HashSet::new(),
                observed: !change.virtual_,
                being_deleted: change.deleting,
                deleting_dependents: change.deleting && change.finalizers.iter().any(|f| f == FOREGROUND),
                orphan_pending: false,
                foreground_pending: false,
            };
            self.nodes.insert(uid.clone(), node);
            self.add_dependent_to_owners(&uid, &change.owners, &mut work);
        } else {
            let existing = self.nodes[&uid].owners.clone();
            let (added, removed, changed) = diff_references(&existing, &change.owners);
            if !added.is_empty() || !removed.is_empty() || !changed.is_empty() {
                // Owners waiting for their blocking dependents may be unblocked.
                for r in &removed {
                    if r.block_owner_deletion == Some(true) && self.nodes.contains_key(&r.uid) {
                        work.push(Work::AttemptToDelete(r.uid.clone()));
                    }
                }
                for (old, new) in &changed {
                    if old.block_owner_deletion == Some(true)
                        && new.block_owner_deletion != Some(true)
                        && self.nodes.contains_key(&new.uid)
                    {
                        work.push(Work::AttemptToDelete(new.uid.clone()));
                    }
                }
                if let Some(node) = self.nodes.get_mut(&uid) {
                    node.owners = change.owners.clone();
                }
                self.add_dependent_to_owners(&uid, &added, &mut work);
                for r in &removed {
                    if let Some(owner) = self.nodes.get_mut(&r.uid) {
                        owner.dependents.remove(&uid);
                    }
                }
            }
            if change.deleting {
                if let Some(node) = self.nodes.get_mut(&uid) {
                    node.being_deleted = true;
                }
            }
        }
        self.process_transitions(&uid, &change, &mut work);
        work
    }

    /// Deletion starting with the orphan or foreground finalizer (processTransitions).
    fn process_transitions(&mut self, uid: &str, change: &Change, work: &mut Vec<Work>) {
        let has = |f: &str| change.deleting && change.finalizers.iter().any(|x| x == f);
        let (orphan, foreground) = (has(ORPHAN), has(FOREGROUND));
        let Some(node) = self.nodes.get_mut(uid) else { return };
        let (was_orphan, was_foreground) = (node.orphan_pending, node.foreground_pending);
        node.orphan_pending = orphan;
        node.foreground_pending = foreground;
        if orphan && !was_orphan {
            work.push(Work::AttemptToOrphan(uid.to_string()));
            return;
        }
        if foreground && !was_foreground {
            node.deleting_dependents = true;
            work.extend(node.dependents.iter().map(|d| Work::AttemptToDelete(d.clone())));
            work.push(Work::AttemptToDelete(uid.to_string()));
        }
    }

    /// Link `uid` into the dependents of `owners`, creating virtual owners (addDependentToOwners).
    fn add_dependent_to_owners(&mut self, uid: &str, owners: &[OwnerReference], work: &mut Vec<Work>) {
        let identity = self.nodes[uid].identity.clone();
        let mut potentially_invalid = false;
        for owner in owners {
            match self.nodes.get_mut(&owner.uid) {
                Some(owner_node) => {
                    owner_node.dependents.insert(uid.to_string());
                    let owner_namespace = &owner_node.identity.namespace;
                    if !owner_namespace.is_empty() && *owner_namespace != identity.namespace {
                        if owner_node.observed {
                            work.push(Work::InvalidNamespace {
                                dependent: identity.clone(),
                                owner: owner.clone(),
                            });
                        }
                        potentially_invalid = true;
                    } else if !matches_coordinates(owner, &owner_node.identity) {
                        potentially_invalid = true;
                    } else if owner_namespace.is_empty() && !identity.namespace.is_empty() && !owner_node.observed {
                        potentially_invalid = true;
                    }
                }
                None => {
                    let virtual_node = Node {
                        identity: Identity::of_owner(owner, &identity.namespace),
                        dependents: HashSet::from([uid.to_string()]),
                        ..Default::default()
                    };
                    self.nodes.insert(owner.uid.clone(), virtual_node);
                    work.push(Work::AttemptToDelete(owner.uid.clone()));
                }
            }
        }
        if potentially_invalid {
            work.push(Work::AttemptToDelete(uid.to_string()));
        }
    }

    /// The dependents of `uid` whose reference to it matches `identity`, and those whose does not.
    fn partition(&self, uid: &str, identity: &Identity) -> (Vec<String>, Vec<String>) {
        let (mut matching, mut mismatched) = (Vec::new(), Vec::new());
        let Some(node) = self.nodes.get(uid) else {
            return (matching, mismatched);
        };
        for dep in &node.dependents {
            let Some(dep_node) = self.nodes.get(dep) else { continue };
            let (mut found_match, mut found_mismatch) = (false, false);
            if !identity.namespace.is_empty() && identity.namespace != dep_node.identity.namespace {
                found_mismatch = true;
            } else {
                for r in dep_node.owners.iter().filter(|r| r.uid == identity.uid) {
                    if matches_coordinates(r, identity) {
                        found_match = true;
                    } else {
                        found_mismatch = true;
                    }
                }
            }
            if found_match {
                matching.push(dep.clone());
            }
            if found_mismatch {
                mismatched.push(dep.clone());
            }
        }
        (matching, mismatched)
    }

    fn apply_delete(&mut self, change: Change, work: &mut Vec<Work>) {
        let uid = change.identity.uid.clone();
        let Some(node) = self.nodes.get(&uid) else { return };
        let mut remove = true;
        if change.virtual_ {
            let deleted = &change.identity;
            if !node.observed {
                let (matching, mismatched) = self.partition(&uid, deleted);
                if !mismatched.is_empty() {
                    // Some dependents name this UID with other coordinates: keep the node.
                    remove = false;
                    if !matching.is_empty() {
                        work.push(Work::Absent(deleted.clone()));
                        work.extend(matching.into_iter().map(Work::AttemptToDelete));
                    }
                    if node.identity == *deleted {
                        if let Some(alternate) = self.alternate_identity(&mismatched, deleted) {
                            if let Some(node) = self.nodes.get_mut(&uid) {
                                node.identity = alternate;
                            }
                            work.push(Work::AttemptToDeleteLater(uid.clone()));
                        }
                    }
                }
            } else if node.identity != *deleted {
                remove = false;
                let (matching, _) = self.partition(&uid, deleted);
                if !matching.is_empty() {
                    work.push(Work::Absent(deleted.clone()));
                    work.extend(matching.into_iter().map(Work::AttemptToDelete));
                }
            }
        }
        if !remove {
            return;
        }
        let Some(node) = self.nodes.remove(&uid) else { return };
        for owner in &node.owners {
            if let Some(owner_node) = self.nodes.get_mut(&owner.uid) {
                owner_node.dependents.remove(&uid);
            }
        }
        if !node.dependents.is_empty() {
            work.push(Work::Absent(change.identity.clone()));
        }
        work.extend(node.dependents.iter().map(|d| Work::AttemptToDelete(d.clone())));
        for owner in &node.owners {
            if self.nodes.get(&owner.uid).is_some_and(|o| o.deleting_dependents) {
                work.push(Work::AttemptToDelete(owner.uid.clone()));
            }
        }
    }

    /// Another identity the `dependents` give this UID (getAlternateOwnerIdentity): the first
    /// after `absent` in order, else the first.
    fn alternate_identity(&self, dependents: &[String], absent: &Identity) -> Option<Identity> {
        let mut seen: Vec<Identity> = Vec::new();
        for dep in dependents {
            let Some(dep_node) = self.nodes.get(dep) else { continue };
            for r in dep_node.owners.iter().filter(|r| r.uid == absent.uid) {
                let cluster_scoped = absent.namespace.is_empty();
                if matches_coordinates(r, absent) && (cluster_scoped || absent.namespace == dep_node.identity.namespace)
                {
                    continue;
                }
                let mut candidate = Identity::of_owner(r, &dep_node.identity.namespace);
                if cluster_scoped && candidate.api_version == absent.api_version && candidate.kind == absent.kind {
                    candidate.namespace.clear();
                }
                if candidate != *absent && !seen.contains(&candidate) {
                    seen.push(candidate);
                }
            }
        }
        let order = |i: &Identity| {
            (
                i.kind.clone(),
                i.api_version.clone(),
                i.namespace.clone(),
                i.name.clone(),
                i.uid.clone(),
            )
        };
        seen.sort_by_key(order);
        let after = seen.iter().find(|i| order(i) > order(absent)).cloned();
        after.or_else(|| seen.first().cloned())
    }
}

/// Owner references added, removed, and changed (same UID, other fields) between two lists.
fn diff_references(
    old: &[OwnerReference],
    new: &[OwnerReference],
) -> (
    Vec<OwnerReference>,
    Vec<OwnerReference>,
    Vec<(OwnerReference, OwnerReference)>,
) {
    let mut added = Vec::new();
    let mut changed = Vec::new();
    for n in new {
        match old.iter().find(|o| o.uid == n.uid) {
            Some(o) if o != n => changed.push((o.clone(), n.clone())),
            Some(_) => {}
            None => added.push(n.clone()),
        }
    }
    let removed = old
        .iter()
        .filter(|o| !new.iter().any(|n| n.uid == o.uid))
        .cloned()
        .collect();
    (added, removed, changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(kind: &str, namespace: &str, name: &str) -> Identity {
        Identity {
            api_version: if kind == "ReplicaSet" {
                "apps/v1".into()
            } else {
                "v1".into()
            },
            kind: kind.into(),
            namespace: namespace.into(),
            name: name.into(),
            uid: format!("uid-{name}"),
        }
    }

    fn owner_ref(owner: &Identity, block: bool) -> OwnerReference {
        OwnerReference {
            api_version: owner.api_version.clone(),
            kind: owner.kind.clone(),
            name: owner.name.clone(),
            uid: owner.uid.clone(),
            controller: Some(true),
            block_owner_deletion: Some(block),
        }
    }

    fn seen(identity: &Identity, owners: Vec<OwnerReference>) -> Change {
        Change {
            identity: identity.clone(),
            owners,
            deleting: false,
            finalizers: Vec::new(),
            deleted: false,
            virtual_: false,
        }
    }

    #[test]
    fn owners_seen_later_stop_being_virtual() {
        let mut graph = Graph::default();
        let (rs, pod) = (id("ReplicaSet", "ns", "rs"), id("Pod", "ns", "p"));
        let work = graph.apply(seen(&pod, vec![owner_ref(&rs, true)]));
        // A virtual owner, to be verified.
        assert_eq!(work, vec![Work::AttemptToDelete(rs.uid.clone())]);
        assert!(!graph.node(&rs.uid).unwrap().observed);
        assert!(graph.apply(seen(&rs, vec![])).is_empty());
        assert!(graph.node(&rs.uid).unwrap().observed);
        assert_eq!(graph.dependents(&rs.uid).len(), 1);
    }

    #[test]
    fn deleted_owners_send_their_dependents_to_the_collector() {
        let mut graph = Graph::default();
        let (rs, pod) = (id("ReplicaSet", "ns", "rs"), id("Pod", "ns", "p"));
        graph.apply(seen(&rs, vec![]));
        graph.apply(seen(&pod, vec![owner_ref(&rs, true)]));
        let mut gone = seen(&rs, vec![]);
        gone.deleted = true;
        let work = graph.apply(gone);
        assert_eq!(
            work,
            vec![Work::Absent(rs.clone()), Work::AttemptToDelete(pod.uid.clone())]
        );
        assert!(graph.node(&rs.uid).is_none());
    }

    #[test]
    fn finalizers_start_orphaning_or_foreground_deletion_once() {
        let mut graph = Graph::default();
        let (rs, pod) = (id("ReplicaSet", "ns", "rs"), id("Pod", "ns", "p"));
        graph.apply(seen(&rs, vec![]));
        graph.apply(seen(&pod, vec![owner_ref(&rs, true)]));
        let mut orphaning = seen(&rs, vec![]);
        orphaning.deleting = true;
        orphaning.finalizers = vec![ORPHAN.into()];
        assert_eq!(
            graph.apply(orphaning.clone()),
            vec![Work::AttemptToOrphan(rs.uid.clone())]
        );
        assert!(graph.apply(orphaning).is_empty());

        let mut other = Graph::default();
        other.apply(seen(&rs, vec![]));
        other.apply(seen(&pod, vec![owner_ref(&rs, true)]));
        let mut foreground = seen(&rs, vec![]);
        foreground.deleting = true;
        foreground.finalizers = vec![FOREGROUND.into()];
        let work = other.apply(foreground);
        assert_eq!(
            work,
            vec![
                Work::AttemptToDelete(pod.uid.clone()),
                Work::AttemptToDelete(rs.uid.clone())
            ]
        );
        assert!(other.node(&rs.uid).unwrap().deleting_dependents);
        // The last blocking dependent going away wakes the owner.
        let mut gone = seen(&pod, vec![owner_ref(&rs, true)]);
        gone.deleted = true;
        assert_eq!(other.apply(gone), vec![Work::AttemptToDelete(rs.uid.clone())]);
    }

    #[test]
    fn owners_in_another_namespace_are_reported() {
        let mut graph = Graph::default();
        let owner = id("ConfigMap", "a", "owner");
        let dependent = id("ConfigMap", "b", "dep");
        graph.apply(seen(&owner, vec![]));
        let work = graph.apply(seen(&dependent, vec![owner_ref(&owner, false)]));
        assert_eq!(
            work,
            vec![
                Work::InvalidNamespace {
                    dependent: dependent.clone(),
                    owner: owner_ref(&owner, false)
                },
                Work::AttemptToDelete(dependent.uid.clone()),
            ]
        );
        assert_eq!(
            Identity::of_owner(&owner_ref(&owner, false), "b").describe(),
            "[v1/ConfigMap, namespace: b, name: owner, uid: uid-owner]"
        );
    }

    #[test]
    fn removed_blocking_references_wake_the_owner() {
        let mut graph = Graph::default();
        let (rs, pod) = (id("ReplicaSet", "ns", "rs"), id("Pod", "ns", "p"));
        graph.apply(seen(&rs, vec![]));
        graph.apply(seen(&pod, vec![owner_ref(&rs, true)]));
        assert_eq!(
            graph.apply(seen(&pod, vec![])),
            vec![Work::AttemptToDelete(rs.uid.clone())]
        );
        assert!(graph.dependents(&rs.uid).is_empty());
    }
}
