#!/usr/bin/env bash
# Publish the release model after `pgflow-train --preset small` (runs/synth64) has finished:
# copy the model, its metrics.json and config into nbs/models/synth64, plot its curves, give it a learned
# fusion mask (pgflow-fuse: about 6 minutes here; its report goes to fusion.txt) and familiarity gate (gate.txt), evaluate it with
# pgflow-eval on synthetic 64x64 videos, and redraw the README picture.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${1:-runs/synth64}
DST=nbs/models/synth64
[ -f "$RUN/model/model.safetensors" ] || { echo "error: $RUN/model/model.safetensors not found: train first with: pgflow-train --preset small" >&2; exit 2; }
mkdir -p "$DST"
cp "$RUN/model/config.json" "$RUN/model/model.safetensors" "$DST/"
.venv/bin/python - "$RUN/metrics.json" "$DST/metrics.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
m["train"].pop("loss_history", None)        # kept in the run folder; the curve picture shows it
json.dump(m, open(sys.argv[2], "w"), indent=2)
PY
.venv/bin/python scripts/plot_run.py "$RUN/metrics.json" "$DST/curves.png"
.venv/bin/pgflow-fuse --model "$DST" | tee "$DST/fusion.txt"
# the familiarity gate alone (quantile and width chosen on the real corpus's validation people: nbs/13_real.ipynb)
.venv/bin/pgflow-fuse --model "$DST" --steps 0 --data synthetic --gate 0.98 --gate-width 0.1 | tee "$DST/gate.txt"
.venv/bin/pgflow-eval --model "$DST" --data synthetic --out "$DST/eval.json" --quiet
.venv/bin/python scripts/make_figure.py --model "$DST" --out nbs/images/transfer.png
ls -la "$DST"
