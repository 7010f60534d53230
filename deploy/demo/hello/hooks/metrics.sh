#!/bin/sh
#  Metrics of the demo app: "name value" lines. A release with an
#  ERROR_RATE file reports that error rate (it passes its smoke test, but
#  its users see errors).
if [ -f "$JADUGAR_RELEASE_DIR/ERROR_RATE" ]; then
    echo "http_error_rate $(cat "$JADUGAR_RELEASE_DIR/ERROR_RATE")"
else
    echo "http_error_rate 0.001"
fi
echo "http_requests_total{code=\"200\"} $(date +%s)"
