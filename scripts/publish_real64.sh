#!/usr/bin/env bash
# Publish the real-face release model after its training run has finished (see nbs/models/real64/README.md):
# copy the model, its metrics.json and the crop settings (prepare.json: the training margin pgflow-transfer reads)
# into nbs/models/real64, plot its curves, fit its fusion mask and familiarity gate on the validation people
# (people the flow never trained on; fusion.txt), evaluate it on the test people (eval.json / eval.md) and draw the
# README strip. Needs the prepared real corpus (data/real/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${1:-runs/real64}
DST=nbs/models/real64
DATA=data/real/prepared
[ -f "$RUN/model/model.safetensors" ] || { echo "error: $RUN/model/model.safetensors not found: train first (nbs/models/real64/README.md)" >&2; exit 2; }
for s in train val test; do [ -f "$DATA/$s/meta.csv" ] || { echo "error: $DATA/$s/meta.csv not found: build the corpus first (data/real/README.md)" >&2; exit 2; }; done
mkdir -p "$DST"
cp "$RUN/model/config.json" "$RUN/model/model.safetensors" "$DATA/train/prepare.json" "$DST/"
.venv/bin/python - "$RUN/metrics.json" "$DST/metrics.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
m["train"].pop("loss_history", None)        # kept in the run folder; the curve picture shows it
json.dump(m, open(sys.argv[2], "w"), indent=2)
PY
.venv/bin/python scripts/plot_run.py "$RUN/metrics.json" "$DST/curves.png"
.venv/bin/pgflow-fuse --model "$DST" --data "$DATA/val" | grep -v 'it/s' | tee "$DST/fusion.txt"
.venv/bin/pgflow-eval --model "$DST" --data "$DATA/test" --videos 10 --frames 24 --spread --skip-first \
    --detector dlib --identity-net dlib --out "$DST/eval.json" --quiet
.venv/bin/python scripts/make_real_figure.py --model "$DST" --data "$DATA/test"
ls -la "$DST"
