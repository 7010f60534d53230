#!/bin/sh
#  The demo's "database": one line a version in $JADUGAR_SHARED_DIR/schema
#  (a real release would ALTER TABLE here). Runs once per environment,
#  before the release is activated; running it again changes nothing.
set -eu
schema="$JADUGAR_SHARED_DIR/schema"
touch "$schema"
grep -qx "$JADUGAR_VERSION" "$schema" || echo "$JADUGAR_VERSION" >> "$schema"
echo "migrate_up $JADUGAR_VERSION on $JADUGAR_HOST: schema is now $(tr '\n' ' ' < "$schema")"
