//! Every `kubectl create` subcommand for built-in kinds, with stock kubectl 1.32 and 1.35, against
//! the real binary; each object is read back and checked for what the subcommand should have set.

use crate::common;

use crate::common::{ok, Skiff};
use serde_json::Value;

fn get_json(skiff: &Skiff, args: &[&str]) -> Value {
    let mut full = vec!["get"];
    full.extend_from_slice(args);
    full.extend_from_slice(&["-o", "json"]);
    serde_json::from_str(&skiff.kubectl(&full)).expect("kubectl -o json prints JSON")
}

#[test]
fn every_create_subcommand() {
    let skiff = Skiff::start();
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("tls.crt");
    let key = dir.path().join("tls.key");
    std::fs::write(&cert, include_str!("data/tls.crt")).unwrap();
    std::fs::write(&key, include_str!("data/tls.key")).unwrap();
    for (i, kubectl) in common::kubectls().iter().enumerate() {
        let ns = format!("create-{i}");
        let run = |args: &[&str]| {
            // The namespace goes first: anything after `--` is the container's command.
            let mut full: Vec<&str> = vec!["-n", &ns];
            full.extend_from_slice(args);
            ok(skiff.kubectl_with(kubectl, &full), &full)
        };
        assert_eq!(
            ok(skiff.kubectl_with(kubectl, &["create", "namespace", &ns]), &[]),
            format!("namespace/{ns} created\n")
        );
        assert_eq!(
            run(&["create", "configmap", "cm", "--from-literal=a=1", "--from-literal=b=2"]),
            "configmap/cm created\n"
        );
        assert_eq!(
            run(&["create", "secret", "generic", "sec", "--from-literal=pw=hunter2"]),
            "secret/sec created\n"
        );
        let tls = format!("--cert={}", cert.display());
        let tls_key = format!("--key={}", key.display());
        assert_eq!(
            run(&["create", "secret", "tls", "tls", &tls, &tls_key]),
            "secret/tls created\n"
        );
        assert_eq!(
            run(&[
                "create",
                "secret",
                "docker-registry",
                "reg",
                "--docker-server=r.example",
                "--docker-username=u",
                "--docker-password=p"
            ]),
            "secret/reg created\n"
        );
        assert_eq!(
            run(&[
                "create",
                "deployment",
                "web",
                "--image=nginx:1.27",
                "--replicas=2",
                "--port=80"
            ]),
            "deployment.apps/web created\n"
        );
        assert_eq!(
            run(&["create", "service", "clusterip", "svc-c", "--tcp=80:8080"]),
            "service/svc-c created\n"
        );
        assert_eq!(
            run(&["create", "service", "nodeport", "svc-n", "--tcp=80:8080"]),
            "service/svc-n created\n"
        );
        assert_eq!(
            run(&["create", "service", "loadbalancer", "svc-l", "--tcp=443:8443"]),
            "service/svc-l created\n"
        );
        assert_eq!(
            run(&[
                "create",
                "service",
                "externalname",
                "svc-e",
                "--external-name=example.com"
            ]),
            "service/svc-e created\n"
        );
        assert_eq!(
            run(&["create", "job", "once", "--image=busybox", "--", "echo", "hi"]),
            "job.batch/once created\n"
        );
        assert_eq!(
            run(&[
                "create",
                "cronjob",
                "tick",
                "--image=busybox",
                "--schedule=*/5 * * * *",
                "--",
                "date"
            ]),
            "cronjob.batch/tick created\n"
        );
        assert_eq!(
            run(&["create", "role", "reader", "--verb=get,list", "--resource=pods"]),
            "role.rbac.authorization.k8s.io/reader created\n"
        );
        assert_eq!(
            run(&["create", "rolebinding", "rb", "--role=reader", "--user=alice"]),
            "rolebinding.rbac.authorization.k8s.io/rb created\n"
        );
        assert_eq!(
            run(&["create", "serviceaccount", "robot"]),
            "serviceaccount/robot created\n"
        );
        assert_eq!(
            run(&["create", "quota", "q", "--hard=pods=10,cpu=4"]),
            "resourcequota/q created\n"
        );
        assert_eq!(
            run(&[
                "create",
                "poddisruptionbudget",
                "pdb",
                "--selector=app=web",
                "--min-available=1"
            ]),
            "poddisruptionbudget.policy/pdb created\n"
        );
        assert_eq!(
            run(&["create", "ingress", "ing", "--rule=example.com/=svc-c:80"]),
            "ingress.networking.k8s.io/ing created\n"
        );
        let cluster = |args: &[&str]| ok(skiff.kubectl_with(kubectl, args), args);
        let cr = format!("cr-{i}");
        let pc = format!("pc-{i}");
        assert_eq!(
            cluster(&["create", "clusterrole", &cr, "--verb=get", "--resource=nodes"]),
            format!("clusterrole.rbac.authorization.k8s.io/{cr} created\n")
        );
        assert_eq!(
            cluster(&[
                "create",
                "clusterrolebinding",
                &format!("crb-{i}"),
                &format!("--clusterrole={cr}"),
                "--group=devs"
            ]),
            format!("clusterrolebinding.rbac.authorization.k8s.io/crb-{i} created\n")
        );
        assert_eq!(
            cluster(&["create", "priorityclass", &pc, "--value=1000", "--description=high"]),
            format!("priorityclass.scheduling.k8s.io/{pc} created\n")
        );

        // Read back what each subcommand set, and what the server defaulted.
        let cm = get_json(&skiff, &["configmap", "cm", "-n", &ns]);
        assert_eq!(cm["data"], serde_json::json!({"a": "1", "b": "2"}));
        let secret = get_json(&skiff, &["secret", "sec", "-n", &ns]);
        assert_eq!(
            (secret["type"].as_str(), secret["data"]["pw"].as_str()),
            (Some("Opaque"), Some("aHVudGVyMg=="))
        );
        assert_eq!(
            get_json(&skiff, &["secret", "tls", "-n", &ns])["type"],
            "kubernetes.io/tls"
        );
        assert_eq!(
            get_json(&skiff, &["secret", "reg", "-n", &ns])["type"],
            "kubernetes.io/dockerconfigjson"
        );
        let deploy = get_json(&skiff, &["deployment", "web", "-n", &ns]);
        assert_eq!(deploy["spec"]["replicas"], 2);
        assert_eq!(deploy["spec"]["strategy"]["type"], "RollingUpdate");
        assert_eq!(
            deploy["spec"]["template"]["spec"]["containers"][0]["image"],
            "nginx:1.27"
        );
        assert_eq!(
            deploy["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"],
            "IfNotPresent"
        );
        assert_eq!(deploy["metadata"]["generation"], 1);
        let svc = get_json(&skiff, &["service", "svc-n", "-n", &ns]);
        assert_eq!(svc["spec"]["type"], "NodePort");
        assert_eq!(svc["spec"]["ports"][0]["targetPort"], 8080);
        assert_eq!(
            get_json(&skiff, &["service", "svc-e", "-n", &ns])["spec"]["externalName"],
            "example.com"
        );
        let job = get_json(&skiff, &["job", "once", "-n", &ns]);
        assert_eq!(job["spec"]["template"]["spec"]["restartPolicy"], "Never");
        assert_eq!(job["spec"]["backoffLimit"], 6);
        assert_eq!(
            get_json(&skiff, &["cronjob", "tick", "-n", &ns])["spec"]["schedule"],
            "*/5 * * * *"
        );
        let role = get_json(&skiff, &["role", "reader", "-n", &ns]);
        assert_eq!(role["rules"][0]["verbs"], serde_json::json!(["get", "list"]));
        assert_eq!(
            get_json(&skiff, &["rolebinding", "rb", "-n", &ns])["subjects"][0]["name"],
            "alice"
        );
        assert_eq!(
            get_json(&skiff, &["resourcequota", "q", "-n", &ns])["spec"]["hard"]["pods"],
            "10"
        );
        assert_eq!(get_json(&skiff, &["pdb", "pdb", "-n", &ns])["spec"]["minAvailable"], 1);
        assert_eq!(
            get_json(&skiff, &["ingress", "ing", "-n", &ns])["spec"]["rules"][0]["host"],
            "example.com"
        );
        assert_eq!(get_json(&skiff, &["priorityclass", &pc])["value"], 1000);
        assert_eq!(
            get_json(&skiff, &["clusterrolebinding", &format!("crb-{i}")])["roleRef"]["name"],
            cr.as_str()
        );
    }
}
