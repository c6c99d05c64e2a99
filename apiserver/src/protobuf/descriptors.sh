#!/usr/bin/env bash
# Regenerates k8s.pb: the FileDescriptorSet (no comments) of the Kubernetes 1.35 built-in API
# protos, compiled with protoc from the generated.proto files the k8s-rs-pb crate ships.
# Usage: apiserver/src/protobuf/descriptors.sh   (needs protoc and the crate in the cargo registry)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/k8s-rs-pb-0.5.0/src/v1_35 | head -n1)"
cd "$src"
protos=(
  api/core/v1 api/admissionregistration/v1 api/admissionregistration/v1beta1
  api/admissionregistration/v1alpha1 api/apps/v1 api/authentication/v1 api/authentication/v1beta1
  api/authentication/v1alpha1 api/authorization/v1 api/autoscaling/v1 api/autoscaling/v2 api/batch/v1
  api/certificates/v1 api/certificates/v1beta1 api/certificates/v1alpha1 api/coordination/v1
  api/coordination/v1beta1 api/coordination/v1alpha2 api/discovery/v1 api/events/v1
  api/flowcontrol/v1 api/apiserverinternal/v1alpha1 api/networking/v1 api/networking/v1beta1
  api/node/v1 api/policy/v1 api/rbac/v1 api/resource/v1 api/resource/v1beta1 api/resource/v1beta2
  api/resource/v1alpha3 api/scheduling/v1 api/storage/v1 api/storage/v1beta1 api/storage/v1alpha1
  api/storagemigration/v1beta1 apiextensions_apiserver/pkg/apis/apiextensions/v1
  kube_aggregator/pkg/apis/apiregistration/v1 apimachinery/pkg/apis/meta/v1
)
protoc -I . --include_imports --descriptor_set_out="$here/k8s.pb" \
  $(printf '%s/generated.proto ' "${protos[@]}") 2>&1 | { grep -v 'is unused' || true; }
