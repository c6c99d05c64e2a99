"""The Widget operator, written with kopf: the same job as examples/widget-operator (kube-rs).

Each Widget (example.skiff.dev/v1, CRD in crds/widgets.example.skiff.dev.yaml) gets a ConfigMap
`<name>-widget` it owns (kopf.adopt), holding `message` and `text` (the message repeated `repeat`
times). The status subresource reports phase, observedGeneration, the ConfigMap's name and a Ready
condition. kopf's finalizer keeps a deleted Widget until its ConfigMap is gone.

Run:  kopf run --standalone --namespace default examples/kopf-operator/operator.py
"""

import datetime

import kopf
import kubernetes

GROUP, VERSION, PLURAL = "example.skiff.dev", "v1", "widgets"
FINALIZER = "example.skiff.dev/kopf-cleanup"
MANAGED_BY = ("app.kubernetes.io/managed-by", "kopf-widget-operator")


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_):
    """Use our own finalizer name, and load the kubeconfig for the handlers' API calls."""
    settings.persistence.finalizer = FINALIZER
    kubernetes.config.load_kube_config()


def config_map_name(name):
    return f"{name}-widget"


def desired_config_map(name, spec):
    """The ConfigMap a Widget's spec asks for (owner, namespace: set by kopf.adopt)."""
    message = spec["message"]
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": config_map_name(name), "labels": dict([MANAGED_BY])},
        "data": {"message": message, "text": " ".join([message] * int(spec.get("repeat", 1)))},
    }


def ready_condition(status, generation, config_map):
    """The Ready condition; its transition time stays put while it was already True."""
    previous = next(
        (c for c in status.get("conditions") or [] if c.get("type") == "Ready" and c.get("status") == "True"),
        None,
    )
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "type": "Ready",
        "status": "True",
        "reason": "ConfigMapSynced",
        "message": f"ConfigMap {config_map} matches the spec",
        "observedGeneration": generation,
        "lastTransitionTime": previous["lastTransitionTime"] if previous else now,
    }


@kopf.on.resume(GROUP, VERSION, PLURAL)
@kopf.on.create(GROUP, VERSION, PLURAL)
@kopf.on.update(GROUP, VERSION, PLURAL, field="spec")
def sync(name, namespace, spec, meta, status, body, patch, **_):
    """Create or replace the owned ConfigMap, then report it in the status subresource."""
    config_map = desired_config_map(name, spec)
    kopf.adopt(config_map, owner=body)
    api = kubernetes.client.CoreV1Api()
    try:
        api.create_namespaced_config_map(namespace, config_map)
    except kubernetes.client.ApiException as error:
        if error.status != 409:
            raise
        api.replace_namespaced_config_map(config_map_name(name), namespace, config_map)
    generation = meta.get("generation")
    patch.status["phase"] = "Ready"
    patch.status["observedGeneration"] = generation
    patch.status["configMap"] = config_map_name(name)
    patch.status["conditions"] = [ready_condition(status, generation, config_map_name(name))]
    kopf.info(body, reason="Synced", message=f"ConfigMap {config_map_name(name)} holds generation {generation}")


@kopf.on.delete(GROUP, VERSION, PLURAL)
def cleanup(name, namespace, body, **_):
    """Delete the owned ConfigMap (gone already is fine); kopf then drops its finalizer."""
    try:
        kubernetes.client.CoreV1Api().delete_namespaced_config_map(config_map_name(name), namespace)
    except kubernetes.client.ApiException as error:
        if error.status != 404:
            raise
        return
    kopf.info(body, reason="Cleaned", message=f"deleted ConfigMap {config_map_name(name)}")
