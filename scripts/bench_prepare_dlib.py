"""Frames per second of `pgflow-prepare` with dlib, in one CPU process, on VoxCeleb2-like clips.

VoxCeleb2's clips are 224x224 H.264 at 25 fps with one large face. No VoxCeleb2 clip ships here, so the clips
are made from a real photo (scikit-image's astronaut): a 224x224 window around her face, turning and drifting,
4 clips x 50 frames. Prints frames/s for: decoding only; every frame kept (--size 64 and --size 256); and
`--fps 5` (every 5th frame of a 25 fps video), which is what a VoxCeleb2 run would use.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/bench_prepare_dlib.py
"""
import tempfile, time
from pathlib import Path

import imageio.v3 as iio
import numpy as np
from PIL import Image
from skimage import data as skdata

from pgflow.landmarks import Clip, iter_frames, load_detector, prepare

ASTRO = skdata.astronaut()

def clip(seed: int, n: int = 50) -> np.ndarray:
    frames = []
    for t in range(n):
        a = 8 * np.sin(t / 7 + seed); dx, dy = 20 * np.sin(t / 11), 10 * np.cos(t / 13)
        im = Image.fromarray(ASTRO).rotate(a, resample=Image.Resampling.BILINEAR, center=(220, 130), translate=(dx, dy))
        frames.append(np.asarray(im.crop((110, 20, 340, 250)).resize((224, 224), Image.Resampling.BILINEAR)))
    return np.stack(frames)

def main():
    det = load_detector('dlib')
    with tempfile.TemporaryDirectory() as d:
        src = Path(d, 'src')
        for c in range(4):
            (src / f'id{c:05d}' / 'yt').mkdir(parents=True)
            iio.imwrite(src / f'id{c:05d}' / 'yt' / '00001.mp4', clip(c), plugin='pyav', codec='libx264', fps=25)
        total = 200
        t = time.perf_counter(); n = sum(sum(1 for _ in iter_frames(Clip(p.parts[-3], 'yt', p))) for p in sorted(src.rglob('*.mp4')))
        print(f"decode only: {n / (time.perf_counter() - t):.0f} frames/s")
        for name, kw in [('every frame, --size 64', dict(size=64)), ('every frame, --size 256', dict(size=256)),
                         ('--fps 5, --size 64', dict(size=64, fps=5))]:
            out = Path(d, f'out{len(name)}{kw}'.replace(' ', ''))
            t = time.perf_counter(); s = prepare(src, out, detector=det, progress=False, **kw); dt = time.perf_counter() - t
            kept = s['frames_written'] + s['frames_without_face']
            print(f"{name}: {s['frames_written']} of {kept} kept frames with a face; {kept / dt:.1f} kept frames/s, "
                  f"{total / dt:.0f} video frames/s; {sum(f.stat().st_size for f in out.rglob('*') if f.is_file()) / max(kept, 1) / 1024:.1f} KiB on disk per frame")

if __name__ == '__main__': main()
