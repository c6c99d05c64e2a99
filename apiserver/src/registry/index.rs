//! The live set of served resources: built-ins plus CRDs registered at run time. Readers take an
//! immutable snapshot; every change makes a new one and bumps the generation discovery hashes use.

use super::Resource;
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

/// An immutable view of every served resource.
#[derive(Default)]
pub struct Resources {
    /// (group, version, plural) -> resource.
    by_path: BTreeMap<(String, String, String), Arc<Resource>>,
    /// Group order as discovery lists them (registration order, core first).
    group_order: Vec<String>,
    pub generation: u64,
}

impl Resources {
    pub fn lookup(&self, group: &str, version: &str, plural: &str) -> Option<&Arc<Resource>> {
        self.by_path
            .get(&(group.to_string(), version.to_string(), plural.to_string()))
    }

    /// Every resource, grouped by group in discovery order, versions preferred-first.
    pub fn groups(&self) -> Vec<Group<'_>> {
        self.group_order
            .iter()
            .map(|name| {
                let mut versions: Vec<&str> = Vec::new();
                let mut resources: Vec<&Arc<Resource>> = Vec::new();
                for ((g, v, _), r) in &self.by_path {
                    if g == name {
                        if !versions.contains(&v.as_str()) {
                            versions.push(v);
                        }
                        resources.push(r);
                    }
                }
                versions.sort_by_key(|v| std::cmp::Reverse(version_priority(v)));
                let preferred = resources
                    .iter()
                    .find(|r| r.preferred)
                    .map(|r| r.version.as_str())
                    .or(versions.first().copied())
                    .unwrap_or("v1");
                Group {
                    name,
                    versions,
                    preferred,
                    resources,
                }
            })
            .filter(|g| !g.resources.is_empty())
            .collect()
    }

    pub fn all(&self) -> impl Iterator<Item = &Arc<Resource>> {
        self.by_path.values()
    }
}

/// One API group as discovery presents it.
pub struct Group<'a> {
    pub name: &'a str,
    /// Served versions, highest priority first.
    pub versions: Vec<&'a str>,
    pub preferred: &'a str,
    pub resources: Vec<&'a Arc<Resource>>,
}

/// Kubernetes version priority: GA > beta > alpha, then by major and minor number.
pub fn version_priority(version: &str) -> (u8, u32, u32) {
    let Some(rest) = version.strip_prefix('v') else {
        return (0, 0, 0);
    };
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    let major = digits.parse().unwrap_or(0);
    let suffix = &rest[digits.len()..];
    let (stage, minor) = if suffix.is_empty() {
        (3, 0)
    } else if let Some(n) = suffix.strip_prefix("beta") {
        (2, n.parse().unwrap_or(0))
    } else if let Some(n) = suffix.strip_prefix("alpha") {
        (1, n.parse().unwrap_or(0))
    } else {
        (0, 0)
    };
    (stage, major, minor)
}

/// The mutable registry of resources.
pub struct ResourceIndex {
    current: RwLock<Arc<Resources>>,
}

impl ResourceIndex {
    pub fn new(resources: Vec<Resource>) -> Self {
        let index = ResourceIndex {
            current: RwLock::new(Arc::new(Resources::default())),
        };
        index.update(|r| {
            for resource in resources {
                r.push(resource);
            }
        });
        index
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<Resources> {
        self.current.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Change the set: `edit` gets every resource and may add, replace or remove.
    pub fn update(&self, edit: impl FnOnce(&mut Vec<Resource>)) {
        let mut guard = self.current.write().unwrap_or_else(|e| e.into_inner());
        let mut list: Vec<Resource> = Vec::new();
        let mut order = guard.group_order.clone();
        for group in &order {
            for ((g, _, _), r) in &guard.by_path {
                if g == group {
                    list.push((**r).clone());
                }
            }
        }
        edit(&mut list);
        let mut by_path = BTreeMap::new();
        for r in list {
            if !order.contains(&r.group) {
                order.push(r.group.clone());
            }
            by_path.insert((r.group.clone(), r.version.clone(), r.plural.clone()), Arc::new(r));
        }
        order.retain(|g| by_path.keys().any(|(group, _, _)| group == g));
        let generation = guard.generation + 1;
        *guard = Arc::new(Resources {
            by_path,
            group_order: order,
            generation,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_order() {
        let mut v = vec!["v1beta1", "v2", "v1", "v1alpha1", "v2beta2", "v10", "foo"];
        v.sort_by_key(|s| std::cmp::Reverse(version_priority(s)));
        assert_eq!(v, vec!["v10", "v2", "v1", "v2beta2", "v1beta1", "v1alpha1", "foo"]);
    }
}
