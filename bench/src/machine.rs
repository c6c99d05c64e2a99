//! What docs/benchmarks.md says about the machine and how to reproduce the run.

use crate::report::Context;
use crate::scenarios::Bench;
use std::process::Command;

/// The machine facts, the commands that reproduce `args` (arguments after `--`) and the sizes.
pub fn context(bench: &Bench, args: &str) -> Context {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let fact = |name: &str, value: Option<String>| (name.to_string(), value.unwrap_or_else(|| "unknown".into()));
    let mut machine = vec![
        fact("cores (nproc)", Some(cores.to_string())),
        fact("cpu", cpu_model()),
        fact("memory", mem_total()),
        fact("disk (df of the temp dir)", disk()),
        fact("kernel", output("uname", &["-sr"])),
        fact("load average at the end (1, 5, 15 min)", load_average()),
    ];
    if let Some(etcd) = &bench.etcd {
        machine.push(("etcd".to_string(), crate::peers::etcd_version(etcd)));
    }
    machine.push(("skiff binary".to_string(), binary_size(&bench.skiff)));
    if let Some(commit) = output("git", &["rev-parse", "--short", "HEAD"]) {
        machine.push(("skiff commit".to_string(), commit));
    }
    let s = &bench.sizes;
    Context {
        machine,
        commands: vec![
            "bash scripts/install-etcd.sh   # etcd-server and protobuf-compiler from Debian, if missing".into(),
            format!("cargo run --release --bin skiff-bench -- {args}"),
        ],
        notes: vec![
            format!(
                "Sizes: {} concurrent clients; create {} objects in each of {} alternating rounds; startup median of {} runs; memory {} objects; \
                 read {} objects, {} GETs, {} unpaged lists, {} pages of {}; watch {} watchers, {} updates/s for {} s.",
                s.clients,
                s.create_objects,
                s.create_rounds,
                s.startup_runs,
                s.memory_objects,
                s.read_objects,
                s.read_gets,
                s.read_unpaged_lists,
                s.read_pages,
                s.page_limit,
                s.watchers,
                s.watch_updates_per_s,
                s.watch_seconds
            ),
            "Every object is a ConfigMap whose JSON is 1024 bytes as sent; etcd stores those exact bytes under \
             /registry/configmaps/bench/<name>. skiff answers a write only after its SQLite transaction (WAL, \
             synchronous=FULL) is fsync'ed; etcd runs with its default fsync'ed WAL."
                .into(),
            "Both systems run on a temp dir of the same disk and are driven over loopback by this one client \
             process, which shares the machine's cores with the server under test."
                .into(),
            "Watch latency runs from just before an update is sent to the moment a watcher reads its event, so \
             it includes the durable write."
                .into(),
        ],
    }
}

/// The skiff binary's size against its budget (release profile: symbols kept, debug info
/// stripped; k3s ships containerd, kubelet and all in about 70 MB).
const BINARY_BUDGET_MB: f64 = 80.0;

fn binary_size(path: &std::path::Path) -> String {
    match std::fs::metadata(path) {
        Ok(meta) => {
            let mb = meta.len() as f64 / 1e6;
            let verdict = if mb <= BINARY_BUDGET_MB { "within" } else { "over" };
            format!("{mb:.1} MB ({verdict} the {BINARY_BUDGET_MB:.0} MB budget)")
        }
        Err(e) => format!("unknown ({e})"),
    }
}

fn output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    out.status.success().then(|| text.trim().to_string())
}

fn cpu_model() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("model name"))?;
    Some(line.split_once(':')?.1.trim().to_string())
}

/// The first three fields of /proc/loadavg: how busy the shared machine was around the run.
fn load_average() -> Option<String> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    Some(text.split_whitespace().take(3).collect::<Vec<_>>().join(", "))
}

fn mem_total() -> Option<String> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib: u64 = info
        .lines()
        .find(|l| l.starts_with("MemTotal:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(format!("{:.1} GiB", kib as f64 / (1024.0 * 1024.0)))
}

/// The df line of the temp dir: device, type, size and free space.
fn disk() -> Option<String> {
    let tmp = std::env::temp_dir();
    let tmp = tmp.to_str()?;
    let text = output("df", &["-h", "--output=source,fstype,size,avail,target", tmp])?;
    let line = text.lines().nth(1)?;
    let fields: Vec<&str> = line.split_whitespace().collect();
    match fields.as_slice() {
        [source, fstype, size, avail, target] => Some(format!(
            "{source} ({fstype}) mounted on {target}: {size} total, {avail} free"
        )),
        _ => Some(line.to_string()),
    }
}
