#!/usr/bin/env bash
# IRC conformance: irctest (the suite Ergo, InspIRCd and ngIRCd run) against
# our IRC front, started per test by conformance/twistedchat_controller.py.
#
# usage: conformance/irctest.sh [PYTEST_ARGS...]
#
# Sets itself up on first use (needs ../shared/irctest beside the repository,
# and the package registry): extracts irctest into $IRCTEST_CACHE (default
# /tmp/twistedchat-irctest), makes a venv there with irctest's requirements.
# The server is the twistd of .venv (README's set-up), or $TWISTEDCHAT_TWISTD.
#
# Runs the Makefile-default selection once with 2 workers, prints the counts
# of the three selections of ../shared/irctest/README.md (classic, classic +
# modern, Makefile default) taken from that one run, then irctest's
# chathistory tests (marked "services" upstream, though they need none here).
# Exits non-zero if any test failed or errored.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
shared="${TWISTEDCHAT_SHARED:-$root/../shared}/irctest"
cache="${IRCTEST_CACHE:-${TMPDIR:-/tmp}/twistedchat-irctest}"
archive="$(ls "$shared"/irctest-*.tar.gz | head -n 1)"
version="$(basename "$archive" .tar.gz)"

if [ ! -f "$cache/$version/ready" ]; then
    echo "== setting up $version in $cache/$version"
    rm -rf "${cache:?}/$version"
    mkdir -p "$cache/$version"
    tar -xzf "$archive" -C "$cache/$version"
    python3 -m venv "$cache/$version/venv"
    "$cache/$version/venv/bin/pip" install --quiet \
        -r "$cache/$version/irctest/requirements.txt" pytest-xdist pytest-timeout
    touch "$cache/$version/ready"
fi

export IRCTEST_PYTHON="$cache/$version/venv/bin/python"
export IRCTEST_TIMEOUT="${IRCTEST_TIMEOUT:-60}"
export TWISTEDCHAT_TWISTD="${TWISTEDCHAT_TWISTD:-$root/.venv/bin/twistd}"
export PYTHONPATH="$root/conformance${PYTHONPATH:+:$PYTHONPATH}"
irctest="$cache/$version/irctest"
run="$shared/run.sh"
controller=twistedchat_controller
makefile_default='not services and not implementation-specific and not deprecated and not strict'
results="$(mktemp -d)"
trap 'rm -rf "$results"' EXIT

status=0
"$run" "$irctest" "$controller" -n 2 -q -rfE -m "$makefile_default" \
    --junitxml="$results/default.xml" "$@" | grep -E '^(FAILED|ERROR)|^run\.sh: wall' || true
for selection in classic modern default; do
    case $selection in
        classic) markers='(RFC1459 or RFC2812) and not IRCv3 and not services and not implementation-specific and not deprecated and not strict' ;;
        modern) markers='(RFC1459 or RFC2812 or modern) and not IRCv3 and not services and not implementation-specific and not deprecated and not strict' ;;
        default) markers="$makefile_default" ;;
    esac
    (cd "$irctest" && "$IRCTEST_PYTHON" -m pytest -p no:cacheprovider --controller "$controller" \
        -m "$markers" --collect-only -q "$@" 2>/dev/null) | grep -E '^[^ ]+::' > "$results/$selection.ids" || true
done
"$IRCTEST_PYTHON" "$root/conformance/summary.py" "$results/default.xml" \
    classic="$results/classic.ids" "classic+modern=$results/modern.ids" \
    "Makefile default=$results/default.ids" || status=1

echo "== chathistory (draft/chathistory from the JSON Lines history)"
"$run" "$irctest" "$controller" -n 2 -q -rfE \
    -m 'not implementation-specific and not deprecated and not strict' \
    --junitxml="$results/chathistory.xml" "$irctest/irctest/server_tests/chathistory.py" \
    | grep -E '^(FAILED|ERROR)|^run\.sh: wall' || true
"$IRCTEST_PYTHON" "$root/conformance/summary.py" "$results/chathistory.xml" chathistory=all || status=1
exit "$status"
