"""The README contact sheet of `pgflow-transfer` on a real video at the photo's own resolution, nbs/images/video_fullres.jpg.

    python scripts/make_video_figure.py VIDEO [--frames 20 40 60] [--model nbs/models/real64]

Self-reenactment of a held-out person (the source is the video's first frame, the driving video is the video itself, so
each output has its truth): for each chosen frame, the face's region (its landmark box grown by a quarter on each side,
`pgflow.videobench.face_region`) at the photo's own size in four panels: the truth, the 64-px output pasted back (what
`--layout output` gave before), the full-resolution warp, and pgflow's output (`--layout output` now). PSNR over the
region under each. Nothing is resampled for the picture beyond fitting the sheet's width.
"""
import argparse
from pathlib import Path
import numpy as np
from PIL import Image, ImageDraw
from pgflow.composite import composite, paste_face, to_float, to_uint8
from pgflow.frames import open_frames
from pgflow.posemap import denormalize_landmarks
from pgflow.transfer import Reenactor, default_model, load_model, make_detector, render_output, training_margin
from pgflow.videobench import face_region, region_psnr

ROOT = Path(__file__).resolve().parents[1]

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("video"); ap.add_argument("--frames", type=int, nargs="+", default=[20, 40, 60])
    ap.add_argument("--model", default=None); ap.add_argument("--out", default=str(ROOT / "nbs/images/video_fullres.jpg"))
    ap.add_argument("--width", type=int, default=1400)
    a = ap.parse_args()
    model = a.model or default_model(); det = make_detector("dlib")
    reen = Reenactor(load_model(model), det, margin=training_margin(model)[0])
    s = open_frames(a.video); src = reen.prepare(next(iter(s)))
    rows = []
    for p in reen.poses(src, (f for i, f in enumerate(s) if i <= max(a.frames)), mode="relative"):
        if p.index not in a.frames: continue
        box = face_region(det.detect([p.driving])[0], p.driving.shape); l, t, r, b = box
        tgt = np.asarray(denormalize_landmarks(p.target, src.box), np.float32)
        panels = {"truth": p.driving, "64-px output pasted back": paste_face(src.image, to_uint8(p.output), src.box),
                  "full-resolution warp": to_uint8(composite(to_float(src.image), src.box, src.landmarks_px, tgt, p.warp, p.warp, p.mask)),
                  "pgflow (--layout output)": render_output(src, p, reen.correction)}
        tiles = []
        for name, im in panels.items():
            tile = Image.fromarray(np.ascontiguousarray(im[t:b, l:r]))
            label = name if name == "truth" else f"{name}: {region_psnr(im, p.driving, box):.2f} dB"
            d = ImageDraw.Draw(tile); d.rectangle((0, 0, tile.width, 16), fill=(0, 0, 0)); d.text((4, 2), f"frame {p.index}, {label}", fill=(255, 255, 255))
            tiles.append(tile)
        rows.append(tiles)
    w, h = rows[0][0].size
    sheet = Image.new("RGB", (w * 4, h * len(rows)))
    for r, tiles in enumerate(rows):
        for c, tile in enumerate(tiles): sheet.paste(tile.resize((w, h)), (c * w, r * h))
    if sheet.width > a.width: sheet = sheet.resize((a.width, round(sheet.height * a.width / sheet.width)), Image.Resampling.LANCZOS)
    sheet.save(a.out, quality=85)
    print(f"wrote {a.out} ({sheet.width}x{sheet.height})")

if __name__ == "__main__":
    main()
