#!/bin/sh
#  A real service would be restarted here; the demo records the switch.
set -eu
echo "$JADUGAR_VERSION" > "$JADUGAR_SHARED_DIR/running-version"
echo "hello $JADUGAR_VERSION activated on $JADUGAR_HOST ($JADUGAR_ENV), previous: ${JADUGAR_PREVIOUS_VERSION:-none}"
