"End-to-end runs of `pgflow-transfer` and `pgflow-eval` as subprocesses, on synthetic faces with landmark files."
import json, os, subprocess, sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import torch

BIN = Path(sys.executable).parent
ENV = {**os.environ, 'OMP_NUM_THREADS': '1'}


def run(cmd, *args, env=None):
    exe = BIN / cmd
    argv = [str(exe)] if exe.exists() else [sys.executable, '-c', f"from pgflow.{'transfer' if cmd == 'pgflow-transfer' else 'metrics'} import main; main()"]
    return subprocess.run(argv + [str(a) for a in args], capture_output=True, text=True, env=env or ENV, timeout=300)


def photo(person, pose, size=64):
    from pgflow.synth import render
    from pgflow.posemap import denormalize_landmarks
    img, lm = render(person, pose, size)
    return (img.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8), denormalize_landmarks(lm.numpy(), (0, 0, size, size))


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    "A tiny model, a source photo with a .pts file, driving frames (folder + mp4) with landmark files."
    from pgflow.model import PGFlow, PGFlowConfig
    from pgflow.posemap import write_pts
    from pgflow.landmarks import KnownLandmarksDetector
    d = tmp_path_factory.mktemp('transfer')
    torch.manual_seed(0)
    model = PGFlow(PGFlowConfig.tiny())
    model.train(); model.encode(torch.rand(4, 3, 32, 32), torch.rand(4, 68, 2) * 0.5 + 0.25)
    with torch.no_grad():  # couplings start as the identity: perturb them so that the output depends on the pose
        for name, p in model.named_parameters():  # the zero-initialised last layer of each coupling net
            if 'coupling' in name and '.4.' in name: p.add_(0.1 * torch.randn_like(p))
    model.eval().save_pretrained(d / 'model')
    src, src_px = photo(1, 10)
    iio.imwrite(d / 'src.png', src); write_pts(d / 'src.pts', src_px)
    (d / 'frames').mkdir(); (d / 'frames_lm').mkdir()
    drv = [photo(2, q) for q in (20, 21, 22, 23)]
    for i, (img, px) in enumerate(drv):
        iio.imwrite(d / 'frames' / f'f{i}.png', img); np.save(d / 'frames_lm' / f'f{i}.npy', px)
    iio.imwrite(d / 'drv.mp4', np.stack([img for img, _ in drv]), plugin='pyav', codec='libx264', fps=5)
    np.save(d / 'drv_lm.npy', np.stack([px for _, px in drv]))
    # a detector a subprocess can load by name: it knows the source photo only
    KnownLandmarksDetector([src], src_px[None]).save(d / 'known.npz')
    (d / 'knowndet.py').write_text("from pgflow.landmarks import KnownLandmarksDetector\n"
                                   f"def make(): return KnownLandmarksDetector.from_npz({str(d / 'known.npz')!r})\n")
    return d


def test_image_to_png_pasted_back(files):
    d = files
    r = run('pgflow-transfer', '--model', d / 'model', '--source', d / 'src.png', '--driving', d / 'frames' / 'f1.png',
            '--out', d / 'out.png', '--source-landmarks', d / 'src.pts', '--driving-landmarks', d / 'frames_lm' / 'f1.npy', '--quiet')
    assert r.returncode == 0, r.stderr
    out = iio.imread(d / 'out.png')
    assert out.shape == (64, 64, 3) and not np.array_equal(out, iio.imread(d / 'src.png'))


def test_folder_to_gif_side_by_side(files):
    d = files
    r = run('pgflow-transfer', '--model', d / 'model', '--source', d / 'src.png', '--driving', d / 'frames', '--out', d / 'side.gif',
            '--source_landmarks', d / 'src.pts', '--driving_landmarks', d / 'frames_lm', '--layout', 'side', '--quiet')
    assert r.returncode == 0, r.stderr
    gif = iio.imread(d / 'side.gif', index=None)
    assert gif.shape[:3] == (4, 256, 768)


def test_video_to_mp4_relative_and_absolute_differ(files):
    d = files
    outs = {}
    for mode in ('relative', 'absolute'):
        r = run('pgflow-transfer', '--model', d / 'model', '--source', d / 'src.png', '--driving', d / 'drv.mp4',
                '--out', d / f'{mode}.mp4', '--source-landmarks', d / 'src.pts', '--driving-landmarks', d / 'drv_lm.npy',
                '--mode', mode, '--layout', 'crop', '--quiet')
        assert r.returncode == 0, r.stderr
        outs[mode] = iio.imread(d / f'{mode}.mp4', plugin='pyav')
        assert outs[mode].shape == (4, 32, 32, 3)
        assert iio.immeta(d / f'{mode}.mp4', plugin='pyav')['fps'] == 5
    assert np.abs(outs['relative'].astype(int) - outs['absolute']).mean() > 1


def test_detector_by_name(files):
    d = files
    env = {**ENV, 'PYTHONPATH': f"{d}{os.pathsep}{ENV.get('PYTHONPATH', '')}"}
    r = run('pgflow-transfer', '--model', d / 'model', '--source', d / 'src.png', '--driving', d / 'frames' / 'f0.png',
            '--out', d / 'det.png', '--driving-landmarks', d / 'frames_lm' / 'f0.npy', '--detector', 'knowndet:make', '--quiet', env=env)
    assert r.returncode == 0, r.stderr


def one_line_error(r, *fragments):
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: ') and 'Traceback' not in r.stderr, r.stderr
    for f in fragments: assert str(f) in lines[0], (f, lines[0])


def test_bad_inputs(files, tmp_path):
    d = files
    base = ['--model', d / 'model', '--source', d / 'src.png', '--driving', d / 'frames' / 'f0.png', '--out', tmp_path / 'o.png']
    lms = ['--source-landmarks', d / 'src.pts', '--driving-landmarks', d / 'frames_lm' / 'f0.npy']
    # an image with no face (the detector finds none in a blank image)
    iio.imwrite(tmp_path / 'blank.png', np.zeros((64, 64, 3), np.uint8))
    env = {**ENV, 'PYTHONPATH': f"{d}{os.pathsep}{ENV.get('PYTHONPATH', '')}"}
    r = run('pgflow-transfer', *base[:2], '--source', tmp_path / 'blank.png', *base[4:], '--driving-landmarks', d / 'frames_lm' / 'f0.npy',
            '--detector', 'knowndet:make', env=env)
    one_line_error(r, 'blank.png', 'no face found')
    # an unreadable image
    (tmp_path / 'broken.png').write_text('this is not a png')
    one_line_error(run('pgflow-transfer', *base[:2], '--source', tmp_path / 'broken.png', *base[4:], *lms), 'broken.png', 'cannot read')
    # a model folder that is not a pgflow model
    (tmp_path / 'notamodel').mkdir()
    one_line_error(run('pgflow-transfer', '--model', tmp_path / 'notamodel', *base[2:], *lms), 'notamodel', 'not a pgflow model')
    # a landmark file of the wrong shape
    np.save(tmp_path / 'wrong.npy', np.zeros((5, 2)))
    one_line_error(run('pgflow-transfer', *base, '--source-landmarks', tmp_path / 'wrong.npy', '--driving-landmarks', d / 'frames_lm' / 'f0.npy'),
                   'wrong.npy', '[68, 2]')
    # missing landmark file for a frame of a folder
    (tmp_path / 'lm_partial').mkdir(); np.save(tmp_path / 'lm_partial' / 'f0.npy', np.load(d / 'frames_lm' / 'f0.npy'))
    one_line_error(run('pgflow-transfer', *base[:4], '--driving', d / 'frames', '--out', tmp_path / 'o.gif',
                       '--source-landmarks', d / 'src.pts', '--driving-landmarks', tmp_path / 'lm_partial'), 'lm_partial', "'f1'")
    # face-alignment without weights: no download, a clear error
    r = run('pgflow-transfer', *base, '--weights-dir', tmp_path / 'no_weights')
    one_line_error(r, 'face-alignment', 'landmarks')
    assert not (tmp_path / 'o.png').exists()


def test_eval_synthetic_writes_json_and_markdown(files, tmp_path):
    r = run('pgflow-eval', '--model', files / 'model', '--data', 'synthetic', '--out', tmp_path / 'rep' / 'report.json',
            '--videos', '2', '--frames', '3', '--quiet')
    assert r.returncode == 0, r.stderr
    rep = json.loads((tmp_path / 'rep' / 'report.json').read_text())
    for task in ('reconstruction', 'cross_identity'):
        assert list(rep['results'][task]) == ['pgflow', 'copy_source', 'mean_image', 'warp']
        for v in rep['results'][task].values(): assert 0 <= v['l1'] < 1 and v['n'] == 6
    assert rep['published_voxceleb']['FOMM'] == {'l1': 0.043, 'akd': 1.294, 'aed': 0.14}
    md = (tmp_path / 'rep' / 'report.md').read_text()
    assert '| reconstruction | copy_source |' in md and '| FOMM | 0.043 | 1.294 | 0.140 |' in md
    assert '| reconstruction | warp |' in md and '| cross_identity | warp |' in md
    one_line_error(run('pgflow-eval', '--model', tmp_path, '--out', tmp_path / 'x.json'), 'not a pgflow model')
