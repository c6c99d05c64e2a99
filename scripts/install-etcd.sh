#!/usr/bin/env bash
# Installs what skiff-bench needs for its peer: etcd (Debian's etcd-server package, /usr/bin/etcd) and
# protoc (protobuf-compiler with libprotobuf-dev's well-known types, used when building the etcd-client crate). Idempotent: does nothing when
# both are already there.
set -euo pipefail
missing=()
[ -x /usr/bin/etcd ] || missing+=(etcd-server)
command -v protoc >/dev/null || missing+=(protobuf-compiler)
# protoc's well-known types (google/protobuf/*.proto), a recommendation apt skips here.
[ -f /usr/include/google/protobuf/descriptor.proto ] || missing+=(libprotobuf-dev)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
/usr/bin/etcd --version | sed -n 1p
