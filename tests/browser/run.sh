#!/usr/bin/env bash
# Browser tests of the web UI: installs what is missing (Debian Chromium, node
# and npm, the npm packages), builds the pricetrack binary and runs the tests
# with node's runner. Quiet and quick when everything is already there.
# Screenshots land in tests/browser/artifacts/.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

as_root() {
    if [ "$(id -u)" = 0 ]; then
        "$@"
    elif command -v sudo >/dev/null; then
        sudo "$@"
    else
        echo "installing needs root (or sudo): $*" >&2
        exit 1
    fi
}

# The browser comes from Debian, never from a download; node and npm too when
# the machine has none (a node installed otherwise is used as it is).
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing from Debian: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

cd "$here"
# Never let playwright fetch a browser of its own: Debian's chromium is used.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
# npm ci wipes and reinstalls node_modules; skip it when the locked version is there.
installed_matches_lock() {
    node -e '
        const lock = require("./package-lock.json").packages["node_modules/playwright-core"].version;
        const have = require("./node_modules/playwright-core/package.json").version;
        process.exit(lock === have ? 0 : 1);
    ' 2>/dev/null
}
if ! installed_matches_lock; then
    npm ci --no-audit --no-fund --loglevel=error
fi

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
