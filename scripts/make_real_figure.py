"""The README strip of held-out real people, nbs/images/real_transfer.png.

    python scripts/make_real_figure.py [--model nbs/models/real64] [--data data/real/prepared/test] [--rows 6]

Self-reenactment, as `pgflow-eval --spread --skip-first` scores it: for each of the first `rows` people of the
prepared folder (people no model here was trained on), the source is the first frame of their first video and
the driving frame is the one of 12 spread over the video whose landmarks moved most from the source's; the
driving frame is also the ground truth. Columns: source | driving = truth | pgflow (`model.transfer`) |
flow alone (`fuse=False`) | warp (`baseline_images`) | copy of the source, with PSNR / SSIM against the truth under
each. Faces are upscaled to 128 px by nearest neighbour, so nothing is invented by the picture.
"""
import argparse
from pathlib import Path
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch
from pgflow.model import PGFlow
from pgflow.metrics import dataset_videos
from pgflow.evaluation import baseline_images
from pgflow.imagemetrics import psnr, ssim
from make_figure import draw_face   # scripts/ is on the path when this runs as a script

ROOT = Path(__file__).resolve().parents[1]

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(ROOT / "nbs/models/real64"))
    ap.add_argument("--data", default=str(ROOT / "data/real/prepared/test"))
    ap.add_argument("--out", default=str(ROOT / "nbs/images/real_transfer.png"))
    ap.add_argument("--rows", type=int, default=6)
    a = ap.parse_args()
    model = PGFlow.from_pretrained(a.model).eval()
    S = model.config.image_size
    vids = dataset_videos(a.data, S, n_videos=a.rows, frames=12, spread=True)
    cols = ["source", "driving = truth", "pgflow", "flow alone", "warp", "copy source"]
    up = 128
    fig, axes = plt.subplots(len(vids), len(cols), figsize=(len(cols) * 1.45, len(vids) * 1.65), dpi=72, squeeze=False)
    for r, v in enumerate(vids):
        move = (v.landmarks - v.landmarks[:1]).norm(dim=-1).mean(-1)
        t = int(move[1:].argmax()) + 1
        src, slm, tlm, gt = v.images[:1], v.landmarks[:1], v.landmarks[t:t + 1], v.images[t:t + 1]
        with torch.no_grad():
            out, flow = model.transfer(src, slm, tlm).clamp(0, 1), model.transfer(src, slm, tlm, fuse=False).clamp(0, 1)
        base = baseline_images(src, slm, tlm)
        ims = [src[0], gt[0], out[0], flow[0], base['warp'][0], base['copy_source'][0]]
        for c, im in enumerate(ims):
            note = f"{psnr(im[None], gt).item():.1f} dB / {ssim(im[None], gt).item():.2f}" if c >= 2 else ""
            draw_face(axes[r][c], im, up, cols[c] if r == 0 else "", note, title_size=10, note_size=8)
            if c == 0: axes[r][c].set_ylabel(v.identity, fontsize=8)
    fig.suptitle(f"Held-out real people ({Path(a.model).name}), {S}x{S} upscaled to {up} px; PSNR / SSIM against the truth", fontsize=9)
    fig.tight_layout()
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(a.out)
    print(f"make_real_figure: wrote {a.out} from {a.model}")

if __name__ == "__main__":
    main()
