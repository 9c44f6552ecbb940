"""Plot a training run's curves from its metrics.json: the training loss, and validation PSNR / SSIM / L1
against the baselines (copy_source, mean_image, warp).

    python scripts/plot_run.py runs/synth64/metrics.json nbs/models/synth64/curves.png
"""
import json, sys
from pathlib import Path
import numpy as np
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

def main(src, out):
    m = json.loads(Path(src).read_text())
    loss = np.asarray(m["train"]["loss_history"], dtype=float)
    k = max(1, len(loss) // 50)
    smooth = np.convolve(loss, np.ones(k) / k, mode="valid")
    curve = m["curve"]
    steps = [p["step"] for p in curve]
    fig, axes = plt.subplots(1, 4, figsize=(13, 2.8), dpi=80)
    axes[0].plot(np.arange(len(loss)) + 1, loss, color="0.8", lw=0.5)
    axes[0].plot(np.arange(len(smooth)) + k, smooth, color="C0")
    axes[0].set_ylim(min(loss) - 0.2, np.percentile(loss, 99))
    axes[0].set_title("training loss (sum of weighted terms)", fontsize=9); axes[0].set_xlabel("step")
    for ax, key, name in zip(axes[1:], ("psnr", "ssim", "l1"), ("PSNR dB (higher is better)", "SSIM (higher is better)", "L1 (lower is better)")):
        ax.plot(steps, [p[key] for p in curve], "o-", color="C0", label="pgflow", ms=3)
        for i, (b, v) in enumerate(m["baselines"].items()):
            ax.axhline(v[key], color=f"C{i + 1}", ls="--", lw=1, label=b)
        ax.set_title(f"held-out cross-pose {name}", fontsize=9); ax.set_xlabel("step")
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    print(f"plot_run: wrote {out}")

if __name__ == "__main__":
    if len(sys.argv) != 3: sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
