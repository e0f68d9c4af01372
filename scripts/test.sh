#!/usr/bin/env bash
# Every check and test of the project: formatting, lints, the Rust tests
# (unit, integration against real Node.js workers, doc tests) and the
# js-client's own `node --test` suite. CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "Rust tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
else
  cargo test --workspace --no-fail-fast --lib --bins --tests --examples
fi

step "doc tests"
cargo test --workspace --doc

step "js-client: node --test"
(cd js-client && node --test test/)
