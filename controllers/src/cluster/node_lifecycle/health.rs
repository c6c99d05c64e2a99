//! A node's health as the node controller tracks it (upstream's tryUpdateNodeHealth): when it
//! last showed a sign of life (a new Ready heartbeat or a renewed Lease) and, once that is longer
//! ago than the grace period, the conditions to post: Ready, MemoryPressure, DiskPressure and
//! PIDPressure Unknown ("Kubelet stopped posting node status.", or "Kubelet never posted node
//! status." for conditions it never set).

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, NodeCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use std::time::Duration;

/// What the controller remembers of a node between looks.
#[derive(Clone, Debug)]
pub struct Health {
    /// The last sign of life, by the controller's clock.
    pub probe: Timestamp,
    /// When the controller saw the Ready condition change.
    pub ready_transition: Timestamp,
    /// The Ready condition as last seen.
    pub ready: Option<NodeCondition>,
    /// The renew time of the node's Lease as last seen.
    pub lease_renewed: Option<Timestamp>,
}

/// The result of one look at a node.
#[derive(Debug)]
pub struct Assessment {
    /// The Ready condition as the node showed it (a made-up Unknown one if it has none).
    pub observed: NodeCondition,
    /// The Ready condition after this look (None: the node never posted one and is in grace).
    pub current: Option<NodeCondition>,
    /// The conditions to write when the node is overdue and they changed.
    pub post: Option<Vec<NodeCondition>>,
    /// When the node becomes overdue if nothing changes.
    pub overdue_at: Timestamp,
    /// The remembered health after this look (before any status write).
    pub health: Health,
}

pub const READY: &str = "Ready";
/// The conditions the controller turns Unknown (NetworkUnavailable is the network's to manage).
const WATCHED: [&str; 4] = ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"];

/// The node's condition of `type_`.
pub fn condition<'a>(node: &'a Node, type_: &str) -> Option<&'a NodeCondition> {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .and_then(|c| c.iter().find(|c| c.type_ == type_))
}

fn renew_time(lease: &Lease) -> Option<Timestamp> {
    lease.spec.as_ref().and_then(|s| s.renew_time.as_ref()).map(|t| t.0)
}

fn add(t: Timestamp, d: Duration) -> Timestamp {
    t.checked_add(SignedDuration::try_from(d).unwrap_or(SignedDuration::MAX))
        .unwrap_or(Timestamp::MAX)
}

/// Look at `node` (and its Lease) at `now` given what was remembered (upstream's
/// tryUpdateNodeHealth, without the write).
pub fn assess(
    node: &Node,
    lease: Option<&Lease>,
    saved: Option<&Health>,
    now: Timestamp,
    grace: Duration,
    startup_grace: Duration,
) -> Assessment {
    let created = node.metadata.creation_timestamp.as_ref().map(|t| t.0).unwrap_or(now);
    let current = condition(node, READY).cloned();
    let (observed, grace) = match &current {
        Some(c) => (c.clone(), grace),
        None => (
            NodeCondition {
                type_: READY.into(),
                status: "Unknown".into(),
                last_heartbeat_time: Some(Time(created)),
                last_transition_time: Some(Time(created)),
                ..Default::default()
            },
            startup_grace,
        ),
    };
    let fresh = |probe| Health {
        probe,
        ready_transition: probe,
        ready: current.clone(),
        lease_renewed: None,
    };
    let mut health = match (saved, &current) {
        // Never seen: start its clock now (or at creation if it never posted status).
        (None, None) => Health {
            lease_renewed: None,
            ..fresh(created)
        },
        (None, Some(_)) => fresh(now),
        (Some(saved), None) if saved.ready.is_some() => fresh(now),
        (Some(saved), None) => Health {
            ready: None,
            ..saved.clone()
        },
        (Some(saved), Some(c)) => match &saved.ready {
            None => Health {
                lease_renewed: saved.lease_renewed,
                ..fresh(now)
            },
            Some(before) if before.last_heartbeat_time != c.last_heartbeat_time => Health {
                probe: now,
                ready_transition: if before.last_transition_time != c.last_transition_time {
                    now
                } else {
                    saved.ready_transition
                },
                ready: Some(c.clone()),
                lease_renewed: saved.lease_renewed,
            },
            Some(_) => saved.clone(),
        },
    };
    // A renewed Lease is a sign of life too.
    if let Some(renewed) = lease.and_then(renew_time) {
        if health.lease_renewed.is_none_or(|before| before < renewed) {
            health.lease_renewed = Some(renewed);
            health.probe = now;
        }
    }
    let overdue_at = add(health.probe, grace);
    let mut assessment = Assessment {
        observed: observed.clone(),
        current: current.clone(),
        post: None,
        overdue_at,
        health,
    };
    if now <= overdue_at {
        return assessment;
    }
    let mut conditions: Vec<NodeCondition> = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    for type_ in WATCHED {
        match conditions.iter_mut().find(|c| c.type_ == type_) {
            None => conditions.push(NodeCondition {
                type_: type_.into(),
                status: "Unknown".into(),
                reason: Some("NodeStatusNeverUpdated".into()),
                message: Some("Kubelet never posted node status.".into()),
                last_heartbeat_time: Some(Time(created)),
                last_transition_time: Some(Time(now)),
            }),
            Some(c) if c.status != "Unknown" => {
                c.status = "Unknown".into();
                c.reason = Some("NodeStatusUnknown".into());
                c.message = Some("Kubelet stopped posting node status.".into());
                c.last_transition_time = Some(Time(now));
            }
            Some(_) => {}
        }
    }
    let ready = conditions.iter().find(|c| c.type_ == READY).cloned();
    if ready.as_ref() != Some(&observed) {
        assessment.current = ready;
        assessment.post = Some(conditions);
    }
    assessment
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::coordination::v1::LeaseSpec;
    use k8s_openapi::api::core::v1::NodeStatus;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;

    const GRACE: Duration = Duration::from_secs(40);
    const STARTUP: Duration = Duration::from_secs(60);

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + s).unwrap()
    }

    fn node(ready: Option<(&str, i64)>) -> Node {
        let mut node = Node::default();
        node.metadata.name = Some("n1".into());
        node.metadata.creation_timestamp = Some(Time(at(0)));
        node.status = Some(NodeStatus {
            conditions: ready.map(|(status, beat)| {
                vec![
                    NodeCondition {
                        type_: "Ready".into(),
                        status: status.into(),
                        reason: Some("KubeletReady".into()),
                        last_heartbeat_time: Some(Time(at(beat))),
                        last_transition_time: Some(Time(at(0))),
                        ..Default::default()
                    },
                    NodeCondition {
                        type_: "MemoryPressure".into(),
                        status: "False".into(),
                        last_heartbeat_time: Some(Time(at(beat))),
                        last_transition_time: Some(Time(at(0))),
                        ..Default::default()
                    },
                ]
            }),
            ..Default::default()
        });
        node
    }

    fn lease(renewed: i64) -> Lease {
        Lease {
            spec: Some(LeaseSpec {
                renew_time: Some(MicroTime(at(renewed))),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn renewed_leases_keep_a_node_alive() {
        let n = node(Some(("True", 1)));
        let a = assess(&n, Some(&lease(1)), None, at(1), GRACE, STARTUP);
        assert!(a.post.is_none());
        assert_eq!(a.overdue_at, at(41));
        // Ten seconds later the lease was renewed: the clock restarts.
        let a = assess(&n, Some(&lease(11)), Some(&a.health), at(11), GRACE, STARTUP);
        assert_eq!(a.overdue_at, at(51));
        // No renewal since: still fine at 50s, overdue at 52s.
        let b = assess(&n, Some(&lease(11)), Some(&a.health), at(50), GRACE, STARTUP);
        assert!(b.post.is_none());
        let c = assess(&n, Some(&lease(11)), Some(&b.health), at(52), GRACE, STARTUP);
        let post = c.post.expect("overdue");
        let ready = post.iter().find(|c| c.type_ == "Ready").unwrap();
        assert_eq!(ready.status, "Unknown");
        assert_eq!(ready.reason.as_deref(), Some("NodeStatusUnknown"));
        assert_eq!(ready.message.as_deref(), Some("Kubelet stopped posting node status."));
        assert_eq!(ready.last_transition_time, Some(Time(at(52))));
        let memory = post.iter().find(|c| c.type_ == "MemoryPressure").unwrap();
        assert_eq!(memory.status, "Unknown");
        let pid = post.iter().find(|c| c.type_ == "PIDPressure").unwrap();
        assert_eq!(pid.reason.as_deref(), Some("NodeStatusNeverUpdated"));
        assert_eq!(pid.message.as_deref(), Some("Kubelet never posted node status."));
        assert_eq!(c.observed.status, "True");
        assert_eq!(c.current.unwrap().status, "Unknown");
    }

    #[test]
    fn an_unknown_node_is_not_posted_again() {
        let n = node(Some(("Unknown", 1)));
        let first = assess(&n, None, None, at(1), GRACE, STARTUP);
        let a = assess(&n, None, Some(&first.health), at(100), GRACE, STARTUP);
        assert!(a.post.is_none());
        assert_eq!(a.current.unwrap().status, "Unknown");
    }

    #[test]
    fn new_heartbeats_count_as_life_and_nodes_without_status_get_the_startup_grace() {
        let a = assess(&node(Some(("True", 1))), None, None, at(1), GRACE, STARTUP);
        let b = assess(&node(Some(("True", 30))), None, Some(&a.health), at(30), GRACE, STARTUP);
        assert_eq!(b.overdue_at, at(70));
        let bare = node(None);
        let a = assess(&bare, None, None, at(5), GRACE, STARTUP);
        assert_eq!(a.overdue_at, at(60));
        assert!(a.current.is_none());
        let a = assess(&bare, None, Some(&a.health), at(61), GRACE, STARTUP);
        let post = a.post.unwrap();
        assert_eq!(post.len(), 4);
        assert!(post
            .iter()
            .all(|c| c.reason.as_deref() == Some("NodeStatusNeverUpdated")));
    }
}
