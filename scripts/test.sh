#!/usr/bin/env bash
# Runs the whole test suite: installs the client tools the end-to-end tests drive, then every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-tools.sh
bash scripts/install-etcd.sh
bash scripts/install-python.sh
cargo test --workspace --locked --no-fail-fast "$@"
