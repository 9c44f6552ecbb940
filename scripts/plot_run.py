"""Plot a training run's curves from its metrics.json: the training loss, and validation PSNR / SSIM / L1
against the baselines (copy_source, mean_image, warp). `pgflow-train` draws the same figure into the run
folder (`curves.png`) at the end of every run; this redraws it, e.g. for a published model.

    python scripts/plot_run.py runs/synth64/metrics.json nbs/models/synth64/curves.png
"""
import json, sys
from pathlib import Path

from pgflow.runplots import plot_curves


def main(src, out):
    plot_curves(json.loads(Path(src).read_text()), out)
    print(f"plot_run: wrote {out}")


if __name__ == "__main__":
    if len(sys.argv) != 3: sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
