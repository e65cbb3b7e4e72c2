#!/usr/bin/env bash
# Browser tests of the web UI: installs what is missing (Debian Chromium, the npm
# packages), builds the pricetrack binary and runs the tests with node's runner.
# Screenshots land in tests/browser/artifacts/.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

if [ ! -x /usr/bin/chromium ]; then
    echo "installing Debian's chromium"
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
    else
        sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
    fi
fi
if ! command -v node >/dev/null; then
    echo "node is required (Debian: apt-get install nodejs npm)" >&2
    exit 1
fi

cd "$here"
# Never let playwright fetch a browser of its own: Debian's chromium is used.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
npm ci --no-audit --no-fund --loglevel=error

# PRICETRACK_BIN names a binary already built (CI passes the one `cargo test`
# built, whose dependency features differ from a plain `cargo build`'s).
if [ -z "${PRICETRACK_BIN:-}" ]; then
    cd "$root"
    cargo build --locked -p pricetrack-server --bin pricetrack
    target_dir="${CARGO_TARGET_DIR:-$root/target}"
    export PRICETRACK_BIN="$target_dir/debug/pricetrack"
fi

cd "$here"
node --test --test-concurrency=1 ui.test.mjs
