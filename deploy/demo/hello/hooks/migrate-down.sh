#!/bin/sh
#  Undoes exactly what migrate-up.sh of the same release did: its line
#  leaves $JADUGAR_SHARED_DIR/schema. Run by a rollback that crosses this
#  release, or by `jadctl db-rollback`.
set -eu
schema="$JADUGAR_SHARED_DIR/schema"
touch "$schema"
grep -vx "$JADUGAR_VERSION" "$schema" > "$schema.new" || true
mv "$schema.new" "$schema"
echo "migrate_down $JADUGAR_VERSION on $JADUGAR_HOST: schema is now $(tr '\n' ' ' < "$schema")"
