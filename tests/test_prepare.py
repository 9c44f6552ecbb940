"""pgflow-prepare end to end (a subprocess, as a user runs it) and face-alignment loaded offline.

The CLI runs on a synthetic video and an image folder with a `KnownLandmarksDetector` (true landmarks),
handed to the CLI through `--detector module:name`; face-alignment is built from weight files the test
writes itself (the real FAN / S3FD architectures, random weights), with every download path made to fail.
"""
import csv, json, os, shutil, subprocess, sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from pgflow.landmarks import (FaceAlignmentDetector, KnownLandmarksDetector, LandmarkDetector, face_alignment_weight_files,
                              face_box, crop_face, synthetic_footage)
from pgflow.posemap import normalize_landmarks, denormalize_landmarks

SIZE = 32


def _cli():
    exe = Path(sys.executable).parent / 'pgflow-prepare'
    return [str(exe)] if exe.exists() else [sys.executable, '-c', 'from pgflow.landmarks import main; main()']


def _snapshot(root):
    return {str(p.relative_to(root)): (p.stat().st_mtime_ns, p.read_bytes()) for p in sorted(root.rglob('*')) if p.is_file()}


@pytest.fixture
def source(tmp_path):
    "SRC with a VoxCeleb2-style video and an image folder, the detector module for the CLI, and the truth."
    src = tmp_path / 'src'
    video, vid_lm = synthetic_footage(person=11, n_frames=5, seed=1)
    (src / 'id00042' / 'yt123').mkdir(parents=True)
    iio.imwrite(src / 'id00042/yt123/00001.mp4', video, plugin='pyav', codec='libx264', fps=25)
    decoded = iio.imread(src / 'id00042/yt123/00001.mp4', plugin='pyav')  # what prepare sees (H.264 is lossy)
    images, img_lm = synthetic_footage(person=12, n_frames=3, seed=2)
    (src / 'carol' / 'sess').mkdir(parents=True)
    for i, im in enumerate(images): iio.imwrite(src / f'carol/sess/{i:03d}.png', im)
    KnownLandmarksDetector(np.concatenate([video, images]), np.concatenate([vid_lm, img_lm])).save(tmp_path / 'known.npz')
    (tmp_path / 'known_detector.py').write_text(
        'from pgflow.landmarks import KnownLandmarksDetector\n'
        f'def make(): return KnownLandmarksDetector.from_npz({str(tmp_path / "known.npz")!r})\n')
    truth = {('id00042', 'yt123_00001'): (decoded, vid_lm, [f'{i:06d}' for i in range(5)]),
             ('carol', 'sess'): (images, img_lm, [f'{i:03d}' for i in range(3)])}
    return src, truth


def _run(tmp_path, src, out):
    env = {**os.environ, 'PYTHONPATH': os.pathsep.join([str(tmp_path), os.environ.get('PYTHONPATH', '')]), 'OMP_NUM_THREADS': '1'}
    r = subprocess.run(_cli() + [str(src), str(out), '--size', str(SIZE), '--detector', 'known_detector:make',
                                 '--batch-size', '2', '--quiet'], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout)


def test_cli_end_to_end_and_resume(tmp_path, source):
    src, truth = source
    out = tmp_path / 'out'
    s1 = _run(tmp_path, src, out)
    assert (s1['clips'], s1['done'], s1['skipped'], s1['frames_written'], s1['meta_rows']) == (2, 2, 0, 8, 8)
    assert s1['no_faces'] == s1['unreadable'] == s1['frames_without_face'] == 0
    with open(out / 'meta.csv') as fh: rows = list(csv.DictReader(fh))
    assert sorted(rows[0]) == ['identity', 'path', 'video'] and len(rows) == 8
    listed = {r['path']: (r['identity'], r['video']) for r in rows}
    for (identity, video), (frames, lms, names) in truth.items():
        for frame, lm, name in zip(frames, lms, names):
            path = f'frames/{identity}/{video}/{name}.png'
            assert listed[path] == (identity, video)
            box = face_box(lm)
            got = np.load(out / 'landmarks' / identity / video / f'{name}.npy')
            assert got.shape == (68, 2) and got.dtype == np.float32
            np.testing.assert_allclose(got, normalize_landmarks(lm.astype(np.float64), box), atol=1e-5)
            # in the SIZE-pixel crop, the landmarks sit where the frame's pixels went (the resize's scale)
            side = box[2] - box[0]
            np.testing.assert_allclose(got * SIZE - 0.5, (lm + 0.5 - np.array(box[:2])) * SIZE / side - 0.5, atol=1e-3)
            np.testing.assert_allclose(denormalize_landmarks(got.astype(np.float64), box), lm, atol=1e-3)
            crop = iio.imread(out / path)
            assert crop.shape == (SIZE, SIZE, 3)
            np.testing.assert_array_equal(crop, crop_face(frame, box, SIZE))
    # second run: nothing to do, not one file touched
    before = _snapshot(out)
    s2 = _run(tmp_path, src, out)
    assert (s2['done'], s2['skipped'], s2['frames_written'], s2['meta_rows']) == (0, 2, 0, 8)
    assert _snapshot(out) == before


def test_face_frames_reads_the_output(tmp_path, source):
    "pgflow.data.FaceFrames finds every prepared frame, with its landmarks, identity and video."
    from pgflow.data import FaceFrames
    src, truth = source
    out = tmp_path / 'out'
    _run(tmp_path, src, out)
    frames = FaceFrames(out)
    assert len(frames) == 8 and frames.size == SIZE
    assert frames.identity_names == ['carol', 'id00042']
    assert frames.video_names == [('carol', 'sess'), ('id00042', 'yt123_00001')]
    for (identity, video), (_, lms, names) in truth.items():
        for lm, name in zip(lms, names):
            i = frames.paths.index(f'frames/{identity}/{video}/{name}.png')
            np.testing.assert_allclose(frames.landmarks[i].numpy(), normalize_landmarks(lm.astype(np.float64), face_box(lm)), atol=1e-5)
            image, landmarks, ident = frames[i]
            assert image.shape == (3, SIZE, SIZE) and frames.identity_names[ident] == identity
            np.testing.assert_array_equal((image.permute(1, 2, 0).numpy() * 255).round(), iio.imread(out / frames.paths[i]))


def test_cli_errors_name_the_problem(tmp_path):
    "Missing weights or a missing SRC: exit code 2 and a message, not a traceback; nothing is downloaded (no network here)."
    env = {**os.environ, 'TORCH_HOME': str(tmp_path / 'torch_home'), 'OMP_NUM_THREADS': '1'}
    r = subprocess.run(_cli() + [str(tmp_path), str(tmp_path / 'out'), '--weights-dir', str(tmp_path / 'w'), '--detector', 'face-alignment'],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 2 and 'Traceback' not in r.stderr, r.stderr
    assert '2DFAN4' in r.stderr and 's3fd' in r.stderr and str(tmp_path / 'w') in r.stderr
    assert not (tmp_path / 'torch_home').exists() and not (tmp_path / 'w').exists()
    (tmp_path / 'known_detector.py').write_text('from pgflow.landmarks import KnownLandmarksDetector\n'
                                                'import numpy as np\n'
                                                'def make(): return KnownLandmarksDetector(np.zeros((1, 8, 8, 3), np.uint8), np.zeros((1, 68, 2)))\n')
    r = subprocess.run(_cli() + [str(tmp_path / 'nope'), str(tmp_path / 'out'), '--detector', 'known_detector:make'],
                       capture_output=True, text=True, env={**env, 'PYTHONPATH': str(tmp_path)}, timeout=120)
    assert r.returncode == 2 and 'nope' in r.stderr and 'expected a folder' in r.stderr, r.stderr


def _one_face_s3fd():
    "The real S3FD architecture, weights set so that it finds exactly one (large) face per image, from its coarsest head."
    from face_alignment.detection.sfd.net_s3fd import s3fd
    net = s3fd()
    with torch.no_grad():
        for name, m in net.named_children():
            if 'mbox' not in name: continue
            m.weight.zero_(); m.bias.zero_()
            if 'mbox_conf' in name:  # last channel = face score; background wins everywhere but conv7_2
                face = name.startswith('conv7_2')
                m.bias.fill_(-10. if face else 10.); m.bias[-1] = 10. if face else -10.
    return net


def test_face_alignment_offline_from_local_weights(tmp_path, monkeypatch):
    "The real FaceAlignment is built from local files only (real FAN / S3FD architectures, test-made weights)."
    import face_alignment.utils as fa_utils
    from face_alignment.models import FAN

    def no_download(*a, **k): raise AssertionError(f'download attempted: {a[:1]}')
    for mod, name in [(torch.hub, 'download_url_to_file'), (torch.hub, 'load_state_dict_from_url'),
                      (fa_utils, 'download_url_to_file'), (fa_utils, 'load_file_from_url')]:
        monkeypatch.setattr(mod, name, no_download)
    # face-alignment's heatmap decoding is numba-jitted: ~30 s of compiling once per process; run it as Python here
    for name in ('_get_preds_fromhm', 'transform_np'):
        monkeypatch.setattr(fa_utils, name, getattr(fa_utils, name).py_func)
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))  # an empty cache: nothing found by accident
    files = face_alignment_weight_files()
    weights = tmp_path / 'weights'
    weights.mkdir()
    with pytest.raises(FileNotFoundError, match='2DFAN4'):
        FaceAlignmentDetector(device='cpu', weights_dir=weights)
    torch.manual_seed(0)
    torch.save(FAN(4).state_dict(), weights / files['fan'][0])
    torch.save(_one_face_s3fd().state_dict(), weights / files['sfd'][0])
    det = FaceAlignmentDetector(device='cpu', weights_dir=weights, batch_size=2)
    assert isinstance(det, LandmarkDetector) and det.device == 'cpu'
    frames, _ = synthetic_footage(person=1, n_frames=2, seed=0)
    found = det.detect(list(frames) + [frames[0][:80, :90]])   # two frame sizes: two batches
    assert len(found) == 3
    for pts in found:  # random FAN weights: where the points land means nothing, their form does
        assert pts.shape == (68, 2) and pts.dtype == np.float32 and np.isfinite(pts).all()
    np.testing.assert_array_equal(found[0], det.detect([frames[0]])[0])   # batched = one at a time


# ---------------------------------------------------------------- dlib, real photos, sharding, failures

def _astronaut_source(root, n=3):
    "SRC/astro/shots/*.png: skimage's astronaut photo (a real face) at n scales/offsets; returns the images."
    from PIL import Image
    from skimage import data as skdata
    astro = skdata.astronaut()
    (root / 'astro' / 'shots').mkdir(parents=True)
    images = []
    for i in range(n):
        side = 512 - 96 * i
        im = np.asarray(Image.fromarray(astro).resize((side, side), Image.Resampling.BICUBIC))
        im = np.pad(im, ((8 * i, 0), (16 * i, 0), (0, 0)))
        iio.imwrite(root / 'astro' / 'shots' / f'{i:02d}.png', im)
        images.append(im)
    return images


def test_cli_dlib_on_a_real_photo(tmp_path):
    "`pgflow-prepare` with no face-alignment weights falls back to dlib (auto) and crops the real face where dlib puts it."
    from pgflow.landmarks import DlibDetector
    images = _astronaut_source(tmp_path / 'src')
    env = {**os.environ, 'TORCH_HOME': str(tmp_path / 'torch_home'), 'OMP_NUM_THREADS': '1'}
    r = subprocess.run(_cli() + [str(tmp_path / 'src'), str(tmp_path / 'out'), '--size', '64', '--quiet'],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    s = json.loads(r.stdout)
    assert (s['frames_written'], s['frames_without_face'], s['meta_rows']) == (3, 0, 3)
    det = DlibDetector()
    for i, im in enumerate(images):
        lm = det.detect([im])[0]
        got = np.load(tmp_path / 'out' / 'landmarks' / 'astro' / 'shots' / f'{i:02d}.npy')
        np.testing.assert_allclose(got, normalize_landmarks(lm.astype(np.float64), face_box(lm)), atol=1e-6)
        np.testing.assert_array_equal(iio.imread(tmp_path / 'out' / 'frames' / 'astro' / 'shots' / f'{i:02d}.png'),
                                      crop_face(im, face_box(lm), 64))
        assert 0.1 < got.min() and got.max() < 0.9   # the face, with its margin, fills the crop


def _clip_source(tmp_path, n_clips=4, n_frames=6, slow=0.0):
    "SRC with `n_clips` synthetic videos and a detector module `slowdet:make` (KnownLandmarksDetector) that counts its calls in calls.txt."
    src = tmp_path / 'src'
    frames, lms = [], []
    for c in range(n_clips):
        video, lm = synthetic_footage(person=20 + c, n_frames=n_frames, seed=c)
        (src / f'p{c}').mkdir(parents=True)
        iio.imwrite(src / f'p{c}' / 'clip.mp4', video, plugin='pyav', codec='libx264', fps=25)
        frames.append(video); lms.append(lm)
    KnownLandmarksDetector(np.concatenate(frames), np.concatenate(lms)).save(tmp_path / 'known.npz')
    (tmp_path / 'slowdet.py').write_text(
        'import time\nfrom pgflow.landmarks import KnownLandmarksDetector\n'
        'class Slow:\n'
        f'    def __init__(self): self.inner = KnownLandmarksDetector.from_npz({str(tmp_path / "known.npz")!r})\n'
        '    def detect(self, images):\n'
        f'        with open({str(tmp_path / "calls.txt")!r}, "a") as f: f.write("x")\n'
        f'        time.sleep({slow})\n'
        '        return self.inner.detect(images)\n'
        'def make(): return Slow()\n')
    return src


def _env(tmp_path, **extra):
    return {**os.environ, 'PYTHONPATH': os.pathsep.join([str(tmp_path), os.environ.get('PYTHONPATH', '')]), 'OMP_NUM_THREADS': '1', **extra}


def _args(src, out, *more):
    return [str(src), str(out), '--size', '32', '--detector', 'slowdet:make', '--batch-size', '2', '--quiet', *more]


def _reference(tmp_path, **clip_kw):
    "A clip source and its environment, and one uninterrupted run into tmp_path/'ref' (what the fault tests compare with)."
    src = _clip_source(tmp_path, **clip_kw)
    env = _env(tmp_path)
    r = subprocess.run(_cli() + _args(src, tmp_path / 'ref'), capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    return src, env


def _outputs(out):
    "{path: bytes} of meta.csv, frames/ and landmarks/ (what training reads)."
    files = [out / 'meta.csv', *sorted((out / 'frames').rglob('*')), *sorted((out / 'landmarks').rglob('*'))]
    return {str(p.relative_to(out)): p.read_bytes() for p in files if p.is_file()}


def _no_debris(out):
    assert not (out / '.tmp').exists(), list((out / '.tmp').rglob('*'))
    assert not [p for p in out.rglob('*') if '.tmp' in p.name], [p for p in out.rglob('*') if '.tmp' in p.name]
    for p in (out / 'frames').rglob('*.png'): iio.imread(p)          # every frame whole
    for p in (out / 'landmarks').rglob('*.npy'): assert np.load(p).shape == (68, 2)


def test_sigkill_and_rerun_gives_the_same_dataset(tmp_path):
    "Killed (SIGKILL) three times at different points and rerun: meta.csv, frames and landmarks byte-identical to one uninterrupted run."
    import signal, time
    src, env = _reference(tmp_path, slow=0.15)
    calls = tmp_path / 'calls.txt'
    total = calls.stat().st_size   # 4 clips x 3 batches
    out = tmp_path / 'out'
    for kill_after in (2, 4, 3):   # detector calls into each run: mid-clip, at a clip's end, mid-clip
        calls.write_text('')
        p = subprocess.Popen(_cli() + _args(src, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        while calls.stat().st_size < kill_after and p.poll() is None: time.sleep(0.01)
        p.send_signal(signal.SIGKILL); p.wait()
        assert p.returncode == -signal.SIGKILL, 'the run ended before it could be killed'
    calls.write_text('')
    r = subprocess.run(_cli() + _args(src, out), capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert 0 < calls.stat().st_size < total, 'the killed runs did not leave finished clips to skip'
    assert _outputs(out) == _outputs(tmp_path / 'ref')
    _no_debris(out)


def test_full_disk_is_one_line_and_leaves_nothing_half_written(tmp_path):
    "A file-size limit (the kernel's EFBIG) and an injected ENOSPC mid-run: one `error:` line naming OUT, no traceback, no debris; a rerun finishes the job."
    import errno, resource
    src, env = _reference(tmp_path)
    ref = _outputs(tmp_path / 'ref')

    def small_files():   # in the child: no file may grow past 600 bytes (crops are larger; SIGXFSZ is ignored by Python)
        resource.setrlimit(resource.RLIMIT_FSIZE, (600, 600))
    out = tmp_path / 'limited'
    r = subprocess.run(_cli() + _args(src, out), capture_output=True, text=True, env=env, timeout=300, preexec_fn=small_files)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and 'Traceback' not in r.stderr, r.stderr
    assert lines[0].startswith('pgflow-prepare: error: cannot write into') and str(out) in lines[0] and 'too large' in lines[0], lines[0]
    _no_debris(out)
    assert not list((out / 'frames').rglob('*.png')) if (out / 'frames').exists() else True

    # ENOSPC after the 13th .npy: clips 0 and 1 (6 frames each) are finished, clip 2 is not
    out = tmp_path / 'full'
    code = ('import errno, numpy as np, sys\n'
            'real, n = np.save, [0]\n'
            'def save(*a, **k):\n'
            '    n[0] += 1\n'
            '    if n[0] > 13: raise OSError(errno.ENOSPC, "No space left on device")\n'
            '    return real(*a, **k)\n'
            'np.save = save\n'
            'sys.argv = ["pgflow-prepare"] + sys.argv[1:]\n'
            'from pgflow.landmarks import main; main()\n')
    r = subprocess.run([sys.executable, '-c', code, *_args(src, out)], capture_output=True, text=True, env=env, timeout=300)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and 'Traceback' not in r.stderr, r.stderr
    assert str(out) in lines[0] and 'No space left on device' in lines[0], lines[0]
    _no_debris(out)
    with open(out / 'meta.csv') as fh: rows = list(csv.DictReader(fh))
    assert sorted({r['identity'] for r in rows}) == ['p0', 'p1'] and len(rows) == 12   # the finished clips, listed
    assert sorted(p.name for p in (out / 'frames').iterdir()) == ['p0', 'p1']
    r = subprocess.run(_cli() + _args(src, out), capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert json.loads(r.stdout)['skipped'] == 2 and _outputs(out) == ref


def test_shards_from_torchrun_env(tmp_path):
    "Two processes with RANK/WORLD_SIZE (as torchrun / accelerate launch set them) share one OUT: the same dataset as one run."
    src, env = _reference(tmp_path)
    procs = [subprocess.Popen(_cli() + _args(src, tmp_path / 'out'), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**env, 'RANK': str(k), 'WORLD_SIZE': '2', 'LOCAL_RANK': str(k)}) for k in range(2)]
    summaries = []
    for p in procs:
        o, e = p.communicate(timeout=300)
        assert p.returncode == 0, e[-3000:]
        summaries.append(json.loads(o))
    assert [s['shard'] for s in summaries] == ['0/2 (2 of 4 clips)', '1/2 (2 of 4 clips)']
    assert [s['frames_written'] for s in summaries] == [12, 12]
    assert _outputs(tmp_path / 'out') == _outputs(tmp_path / 'ref')   # the shard that finished last wrote the whole meta.csv
    r = subprocess.run(_cli() + _args(src, tmp_path / 'out'), capture_output=True, text=True, env=env, timeout=300)  # nothing left to do
    assert json.loads(r.stdout)['skipped'] == 4
    assert _outputs(tmp_path / 'out') == _outputs(tmp_path / 'ref')
    _no_debris(tmp_path / 'out')
