"""`pgflow-transfer` on real faces made offline (scikit-image's astronaut, dlib landmarks, the shipped real-face model):
a moving and zooming video, the photo's own resolution, the motion saved and replayed, two faces in one photo, and memory
that does not grow with the video's length."""
import os, subprocess, sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pgflow.frames import read_frames, read_image, write_frames
from pgflow.landmarks import DlibDetector, face_box

BIN = Path(sys.executable).parent
ENV = {**os.environ, 'OMP_NUM_THREADS': '1'}
RSS = ("import sys\nfrom pgflow.transfer import main\ntry: main(sys.argv[1:])\nexcept SystemExit as e: assert not e.code, e.code\n"
       "print('maxrss_kb', open('/proc/self/status').read().split('VmHWM:')[1].split()[0])")   # not ru_maxrss: inherited at fork


def transfer(*args, rss=False):
    argv = [sys.executable, '-c', RSS] if rss else [str(BIN / 'pgflow-transfer')]
    return subprocess.run(argv + [str(a) for a in args], capture_output=True, text=True, env=ENV, timeout=600)


def astronaut():
    from skimage import data
    return data.astronaut()


def moving_zoom(n, size=256, start=440, end=330):
    "`n` frames: a square crop over the astronaut that shrinks from `start` to `end` px (zooming in) and slides, resized to `size`."
    img, out = Image.fromarray(astronaut()), []
    for t in np.linspace(0, 1, n):
        side = start + (end - start) * t
        cx, cy = 230 + 20 * np.sin(2 * np.pi * t), 160
        box = (cx - side / 2, max(cy - side / 2, 0), cx + side / 2, max(cy - side / 2, 0) + side)
        out.append(np.asarray(img.resize((size, size), Image.Resampling.BILINEAR, box=box)))
    return out


@pytest.fixture(scope='module')
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp('video')
    write_frames(d / 'astro.png', [astronaut()])
    write_frames(d / 'zoom.mp4', moving_zoom(20), fps=10)
    return d


def sharpness(img, box):
    from scipy.ndimage import laplace
    l, t, r, b = (max(int(round(v)), 0) for v in box)
    return laplace(img[t:b, l:r].mean(-1).astype(float)).var()


def test_zoom_video_at_full_resolution(clips):
    d = clips
    r = transfer('--source', d / 'astro.png', '--driving', d / 'zoom.mp4', '--out', d / 'out.mp4', '--detector', 'dlib',
                 '--save-landmarks', d / 'motion.npy', '--quiet')
    assert r.returncode == 0, r.stderr
    out = read_frames(d / 'out.mp4')
    assert (len(out), out.fps, out.images[0].shape) == (20, 10.0, (512, 512, 3))          # frame count, rate and the photo's size
    motion, src_px = np.load(d / 'motion.npy'), DlibDetector().detect([astronaut()])[0]
    assert motion.shape == (20, 68, 2) and np.abs(motion[0] - src_px).max() < 0.01     # relative: frame 0 is the source's pose
    grow = np.ptp(motion[-1], 0).max() / np.ptp(motion[0], 0).max()
    assert 1.2 < grow < 1.5, grow                                                       # the driving zoom (440 -> 330 px: 1.33x)
    box = face_box(src_px, 1.0)
    box = (box[0] - (box[2] - box[0]) / 4, box[1] - (box[3] - box[1]) / 4, box[2] + (box[2] - box[0]) / 4, box[3] + (box[3] - box[1]) / 4)
    # the photo's own sharpness where the face has hardly moved yet (zooming in later magnifies it, which lowers this measure)
    assert min(sharpness(f, box) for f in out.images[:4]) > 0.5 * sharpness(astronaut(), box)


def test_motion_template_replays_without_driving_frames(clips):
    d = clips
    if not (d / 'motion.npy').exists(): pytest.skip('needs test_zoom_video_at_full_resolution first')
    r = transfer('--source', d / 'astro.png', '--driving-landmarks', d / 'motion.npy', '--out', d / 'again.mp4', '--fps', '12',
                 '--detector', 'dlib', '--quiet')
    assert r.returncode == 0, r.stderr
    again = read_frames(d / 'again.mp4')
    assert (len(again), again.fps, again.images[0].shape) == (20, 12.0, (512, 512, 3))
    first = read_frames(d / 'out.mp4')
    assert np.abs(np.stack(again.images).astype(int) - np.stack(first.images)).mean() < 2   # the same motion (H.264 is lossy)


def test_two_faces_largest_by_default_and_face_flag(clips, tmp_path):
    "A small astronaut on the left (found only at dlib's second scale) and a full-size one on the right."
    small = np.asarray(Image.fromarray(astronaut()).resize((170, 170), Image.Resampling.LANCZOS))
    pair = np.zeros((512, 700, 3), np.uint8); pair[300:470, 10:180] = small; pair[:, 188:] = astronaut()
    write_frames(tmp_path / 'pair.png', [pair])
    drive = moving_zoom(2)[1]
    write_frames(tmp_path / 'drive.png', [drive])
    changed = {}
    for face in (None, '1'):
        out = tmp_path / f'out{face}.png'
        r = transfer('--source', tmp_path / 'pair.png', '--driving', tmp_path / 'drive.png', '--out', out, '--detector', 'dlib',
                     '--quiet', *(['--face', face] if face else []))
        assert r.returncode == 0, r.stderr
        assert '2 faces, numbered left to right' in r.stderr and f"animating face {face or 2}" in r.stderr, r.stderr
        diff = np.abs(read_image(out).astype(int) - pair).sum(-1) > 0
        changed[face] = np.argwhere(diff)[:, 1]                                             # columns that changed
    assert changed[None].min() > 188 and changed['1'].max() < 188, (changed[None].min(), changed['1'].max())
    r = transfer('--source', tmp_path / 'pair.png', '--driving', tmp_path / 'drive.png', '--out', tmp_path / 'x.png',
                 '--detector', 'dlib', '--face', '3')
    assert r.returncode == 2 and r.stderr.startswith('error: ') and '--face 3: only 2 faces found' in r.stderr, r.stderr
    assert not (tmp_path / 'x.png').exists()


def test_memory_does_not_grow_with_the_video(tmp_path):
    "The same 320x320 clip, 40 and 240 frames long, with landmark files (no detection): peak memory stays within 40 MB."
    base = moving_zoom(40, size=320)
    px = np.stack(DlibDetector().detect(base))
    write_frames(tmp_path / 'src.png', [base[0]]); np.save(tmp_path / 'src.npy', px[0])
    peaks = {}
    for n in (40, 240):
        frames = [base[i % 40] for i in range(n)]
        write_frames(tmp_path / f'd{n}.mp4', frames, fps=25)
        np.save(tmp_path / f'd{n}.npy', np.stack([px[i % 40] for i in range(n)]))
        r = transfer('--source', tmp_path / 'src.png', '--source-landmarks', tmp_path / 'src.npy', '--driving', tmp_path / f'd{n}.mp4',
                     '--driving-landmarks', tmp_path / f'd{n}.npy', '--out', tmp_path / f'o{n}.mp4', '--quiet', rss=True)
        assert r.returncode == 0, r.stderr
        peaks[n] = int(r.stdout.split('maxrss_kb')[-1]) / 1024
        assert len(read_frames(tmp_path / f'o{n}.mp4')) == n
    # held in memory, 200 more frames would be 200 x 2 x 300 KB (driving and output) = 120 MB, float copies not counted
    assert peaks[240] - peaks[40] < 40, peaks
