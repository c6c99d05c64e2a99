//! How the kubelet spells things: Go durations (`10s`, `5m0s`), `format.Pod` (`name_ns(uid)`),
//! image references as containerd reports them (`docker.io/library/busybox:latest`), and the
//! stable fake digests and ids the simulated runtime hands out.

use k8s_openapi::api::core::v1::Pod;
use std::time::Duration;

/// Go's `time.Duration.String()`: `0s`, `512ms`, `1.5s`, `1m20s`, `5m0s`, `1h0m0s`.
pub fn go_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".into();
    }
    if nanos < 1_000 {
        return format!("{nanos}ns");
    }
    if nanos < 1_000_000 {
        return format!("{}µs", fraction(nanos, 1_000));
    }
    if nanos < 1_000_000_000 {
        return format!("{}ms", fraction(nanos, 1_000_000));
    }
    let total_secs = d.as_secs();
    let (hours, minutes) = (total_secs / 3600, (total_secs % 3600) / 60);
    let seconds = fraction(nanos % 60_000_000_000, 1_000_000_000);
    match (hours, minutes) {
        (0, 0) => format!("{seconds}s"),
        (0, m) => format!("{m}m{seconds}s"),
        (h, m) => format!("{h}h{m}m{seconds}s"),
    }
}

/// `value / unit` with the fractional digits Go prints (trailing zeros dropped).
fn fraction(value: u128, unit: u128) -> String {
    let (whole, rest) = (value / unit, value % unit);
    if rest == 0 {
        return whole.to_string();
    }
    let width = unit.to_string().len() - 1;
    let digits = format!("{rest:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// The kubelet's `format.Pod`: `name_namespace(uid)`.
pub fn pod(pod: &Pod) -> String {
    format!(
        "{}_{}({})",
        pod.metadata.name.as_deref().unwrap_or_default(),
        pod.metadata.namespace.as_deref().unwrap_or_default(),
        pod.metadata.uid.as_deref().unwrap_or_default()
    )
}

/// An image reference in the fully qualified form containerd reports in container statuses:
/// `busybox` → `docker.io/library/busybox:latest`, `nginx:1.27` → `docker.io/library/nginx:1.27`,
/// `registry.k8s.io/pause:3.10` unchanged.
pub fn normalize_image(image: &str) -> String {
    let (name, suffix) = split_reference(image);
    let qualified = qualify(name);
    match suffix {
        Some(suffix) => format!("{qualified}{suffix}"),
        None => format!("{qualified}:latest"),
    }
}

/// The repository of an image (no tag or digest), fully qualified.
pub fn image_repository(image: &str) -> String {
    qualify(split_reference(image).0)
}

/// `(name, Some(":tag" | "@digest"))` of a reference.
fn split_reference(image: &str) -> (&str, Option<&str>) {
    if let Some(at) = image.find('@') {
        return (&image[..at], Some(&image[at..]));
    }
    let last_slash = image.rfind('/').map(|i| i + 1).unwrap_or(0);
    match image[last_slash..].rfind(':') {
        Some(colon) => (&image[..last_slash + colon], Some(&image[last_slash + colon..])),
        None => (image, None),
    }
}

/// Docker's default domain and `library/` namespace for short names.
fn qualify(name: &str) -> String {
    match name.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => name.to_string(),
        Some(_) => format!("docker.io/{name}"),
        None => format!("docker.io/library/{name}"),
    }
}

/// 64 hex digits that depend only on `seed` (a stable stand-in for a sha256 digest or a
/// container id; not cryptographic).
pub fn hex64(seed: &str) -> String {
    (0u64..4).map(|lane| format!("{:016x}", fnv(seed, lane))).collect()
}

/// 32 hex digits that depend only on `seed` (the static pod config hash's length).
pub fn hex32(seed: &str) -> String {
    (0u64..2).map(|lane| format!("{:016x}", fnv(seed, lane))).collect()
}

/// An RFC 4122-shaped id derived from `seed` (bootID, machineID, systemUUID of simulated nodes).
pub fn uuid_from(seed: &str) -> String {
    let h = hex32(seed);
    format!(
        "{}-{}-4{}-a{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

/// FNV-1a over `seed` and a lane number, finished with a 64-bit mixer.
fn fnv(seed: &str, lane: u64) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325 ^ lane.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    for byte in seed.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xff51_afd7_ed55_8ccd);
    hash ^= hash >> 33;
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_like_go() {
        let cases = [
            (Duration::ZERO, "0s"),
            (Duration::from_secs(10), "10s"),
            (Duration::from_secs(80), "1m20s"),
            (Duration::from_secs(160), "2m40s"),
            (Duration::from_secs(300), "5m0s"),
            (Duration::from_secs(3600), "1h0m0s"),
            (Duration::from_millis(1500), "1.5s"),
            (Duration::from_millis(512), "512ms"),
            (Duration::from_micros(1500), "1.5ms"),
            (Duration::from_nanos(1234), "1.234µs"),
            (Duration::from_nanos(12), "12ns"),
        ];
        for (d, want) in cases {
            assert_eq!(go_duration(d), want, "{d:?}");
        }
    }

    #[test]
    fn images_are_qualified_like_containerd() {
        assert_eq!(normalize_image("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(normalize_image("nginx:1.27"), "docker.io/library/nginx:1.27");
        assert_eq!(normalize_image("bitnami/nginx"), "docker.io/bitnami/nginx:latest");
        assert_eq!(
            normalize_image("registry.k8s.io/pause:3.10"),
            "registry.k8s.io/pause:3.10"
        );
        assert_eq!(normalize_image("localhost:5000/app"), "localhost:5000/app:latest");
        assert_eq!(
            normalize_image("busybox@sha256:abc"),
            "docker.io/library/busybox@sha256:abc"
        );
        assert_eq!(image_repository("localhost:5000/app:v1"), "localhost:5000/app");
    }

    #[test]
    fn ids_are_stable_and_shaped() {
        assert_eq!(hex64("a"), hex64("a"));
        assert_ne!(hex64("a"), hex64("b"));
        assert_eq!(hex64("a").len(), 64);
        assert_eq!(hex32("a").len(), 32);
        let id = uuid_from("node-1");
        assert_eq!(id.len(), 36);
        assert_eq!(id.matches('-').count(), 4);
    }

    #[test]
    fn pods_print_as_name_namespace_uid() {
        let mut p = Pod::default();
        p.metadata.name = Some("web".into());
        p.metadata.namespace = Some("default".into());
        p.metadata.uid = Some("u-1".into());
        assert_eq!(pod(&p), "web_default(u-1)");
    }
}
