"""Make the README picture, nbs/images/transfer.png, from the release model.

    python scripts/make_figure.py [--model nbs/models/synth64] [--out nbs/images/transfer.png] [--rows 4]

Held-out synthetic identities (SynthFaces('val'), the 12_quality protocol's pairs 0..rows-1).
Columns, labelled: source | target pose (the target landmarks drawn) | pgflow (`model.transfer`,
temperature 0) | warp (`pgflow.evaluation.baseline_images`) | ground truth. Each face is upscaled to
128 px (nearest neighbour, so no detail is invented), and the PSNR of pgflow and warp is printed under them.
"""
import argparse
from pathlib import Path
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch
from pgflow.model import PGFlow
from pgflow.evaluation import quality_pairs
from pgflow.evaluation import baseline_images
from pgflow.imagemetrics import psnr

ROOT = Path(__file__).resolve().parents[1]

def landmark_image(lm: torch.Tensor, size: int) -> torch.Tensor:
    "The 68 landmarks as light dots on a dark background, `[3, size, size]`."
    img = torch.full((3, size, size), 0.12)
    px = (lm * size).floor().long().clamp(0, size - 1)
    img[:, px[:, 1], px[:, 0]] = 0.95
    return img

def draw_face(ax, im: torch.Tensor, up: int, title: str = "", note: str = "", title_size: float = 11, note_size: float = 9):
    "One face `[3, S, S]` into `ax`, upscaled to `up` px by nearest neighbour (nothing invented), with an optional title and note under it."
    big = torch.nn.functional.interpolate(im[None], size=(up, up), mode="nearest")[0]
    ax.imshow(big.permute(1, 2, 0).numpy()); ax.set_xticks([]); ax.set_yticks([])
    if title: ax.set_title(title, fontsize=title_size)
    if note: ax.set_xlabel(note, fontsize=note_size)

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(ROOT / "nbs/models/synth64"))
    ap.add_argument("--out", default=str(ROOT / "nbs/images/transfer.png"))
    ap.add_argument("--rows", type=int, default=4)
    a = ap.parse_args()
    model = PGFlow.from_pretrained(a.model).eval()
    S = model.config.image_size
    src, slm, tlm, gt = quality_pairs(a.rows, S)
    with torch.no_grad(): out = model.transfer(src, slm, tlm, temperature=0.0).clamp(0, 1)
    warped = baseline_images(src, slm, tlm)['warp']
    cols = ["source", "target pose", "pgflow", "warp", "ground truth"]
    up = 128
    fig, axes = plt.subplots(a.rows, len(cols), figsize=(len(cols) * 1.45, a.rows * 1.6), dpi=100, squeeze=False)
    for r in range(a.rows):
        ims = [src[r], landmark_image(tlm[r], S), out[r], warped[r], gt[r]]
        notes = ["", "", f"{psnr(out[r:r+1], gt[r:r+1]).item():.1f} dB", f"{psnr(warped[r:r+1], gt[r:r+1]).item():.1f} dB", ""]
        for c, (im, note) in enumerate(zip(ims, notes)):
            draw_face(axes[r][c], im, up, cols[c] if r == 0 else "", note)
    fig.suptitle(f"Held-out identities, {S}x{S}, upscaled to {up} px; PSNR against the ground truth", fontsize=9)
    fig.tight_layout()
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(a.out)
    print(f"make_figure: wrote {a.out} from {a.model}")

if __name__ == "__main__":
    main()
