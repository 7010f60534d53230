#!/bin/sh
#  Smoke test: the running version is the one just deployed, and the
#  release is not marked broken.
set -eu
running=$(cat "$JADUGAR_SHARED_DIR/running-version")
if [ "$running" != "$JADUGAR_VERSION" ]; then
    echo "smoke: running $running, expected $JADUGAR_VERSION"
    exit 1
fi
if [ -f "$JADUGAR_RELEASE_DIR/BROKEN" ]; then
    echo "smoke: GET /health -> 500 ($(cat "$JADUGAR_RELEASE_DIR/BROKEN"))"
    exit 1
fi
echo "smoke: hello $JADUGAR_VERSION is healthy"
