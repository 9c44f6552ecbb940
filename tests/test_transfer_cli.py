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
    "A detector named module:name finds the source's landmarks: the output is the one the landmark file gives."
    d = files
    env = {**ENV, 'PYTHONPATH': f"{d}{os.pathsep}{ENV.get('PYTHONPATH', '')}"}
    common = ['--model', d / 'model', '--source', d / 'src.png', '--driving', d / 'frames' / 'f0.png',
              '--driving-landmarks', d / 'frames_lm' / 'f0.npy', '--quiet']
    r = run('pgflow-transfer', *common, '--out', d / 'det.png', '--detector', 'knowndet:make', env=env)
    assert r.returncode == 0, r.stderr
    r = run('pgflow-transfer', *common, '--out', d / 'pts.png', '--source-landmarks', d / 'src.pts')
    assert r.returncode == 0, r.stderr
    by_det, by_file = iio.imread(d / 'det.png'), iio.imread(d / 'pts.png')
    assert by_det.shape == (64, 64, 3) and not np.array_equal(by_det, iio.imread(d / 'src.png'))
    assert np.abs(by_det.astype(int) - by_file).max() <= 1   # .pts keeps 3 decimals: the same crop, the same output


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
    r = run('pgflow-transfer', *base, '--weights-dir', tmp_path / 'no_weights', '--detector', 'face-alignment')
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
    md = (tmp_path / 'rep' / 'report.md').read_text()
    assert set(rep['published_voxceleb']) == {'X2Face', 'Monkey-Net', 'FOMM'}
    for name, v in rep['published_voxceleb'].items():   # the Markdown shows the numbers the JSON holds
        assert f"| {name} | {v['l1']:.3f} | {v['akd']:.3f} | {v['aed']:.3f} |" in md, name
    assert '| reconstruction | copy_source |' in md
    assert '| reconstruction | warp |' in md and '| cross_identity | warp |' in md
    one_line_error(run('pgflow-eval', '--model', tmp_path, '--out', tmp_path / 'x.json'), 'not a pgflow model')


# ---------------------------------------------------------------- real photos, dlib, no landmark files

@pytest.fixture(scope='module')
def astro(tmp_path_factory):
    "skimage's astronaut photo (a real face), a driving mp4 of it turning with a blank frame at index 2, a blank image."
    from PIL import Image
    from skimage import data as skdata
    d = tmp_path_factory.mktemp('astro')
    img = skdata.astronaut()
    iio.imwrite(d / 'astro.png', img)
    turned = [np.asarray(Image.fromarray(img).rotate(a, resample=Image.Resampling.BICUBIC, center=(220, 130))) for a in (0, 5, 10)]
    iio.imwrite(d / 'drv.mp4', np.stack(turned[:2] + [np.zeros_like(img)] + turned[2:]), plugin='pyav', codec='libx264', fps=10)
    iio.imwrite(d / 'blank.png', np.full((128, 128, 3), 90, np.uint8))
    return d


def test_real_photo_to_mp4_with_dlib(files, astro):
    "pgflow-transfer on a real photo and a real-photo video, no landmark files, --detector dlib: pasted back, the gap reported by number."
    r = run('pgflow-transfer', '--model', files / 'model', '--source', astro / 'astro.png', '--driving', astro / 'drv.mp4',
            '--out', astro / 'out.mp4', '--detector', 'dlib', '--quiet')
    assert r.returncode == 0, r.stderr
    lines = r.stderr.strip().splitlines()
    assert lines == [f"warning: {astro / 'drv.mp4'}: no face in 1 of 4 frames (frame 2, counted from 0); "
                     "they reuse the landmarks of the last frame with a face"], r.stderr
    out = iio.imread(astro / 'out.mp4', plugin='pyav')
    src = iio.imread(astro / 'astro.png')
    assert out.shape == (4, 512, 512, 3)
    diff = np.abs(out.astype(int) - src).mean(-1)          # H.264 is lossy: compare region means
    assert diff[:, 300:].mean() < 4 < diff[:, 100:180, 180:270].mean()   # the body untouched, the face replaced
    r = run('pgflow-transfer', '--model', files / 'model', '--source', astro / 'astro.png', '--driving', astro / 'drv.mp4',
            '--out', astro / 'side.gif', '--layout', 'side', '--detector', 'dlib', '--quiet')
    assert r.returncode == 0 and iio.imread(astro / 'side.gif', index=None).shape[:3] == (4, 256, 768), r.stderr


def test_real_photo_errors(files, astro, tmp_path):
    "A source with no face, and an output folder that cannot take the file (a file-size limit): one line each, nothing written."
    import resource
    r = run('pgflow-transfer', '--model', files / 'model', '--source', astro / 'blank.png', '--driving', astro / 'astro.png',
            '--out', tmp_path / 'o.png', '--detector', 'dlib')
    one_line_error(r, 'blank.png', 'no face found in the source image')
    out = tmp_path / 'limited' / 'o.png'
    exe = BIN / 'pgflow-transfer'
    argv = [str(exe)] if exe.exists() else [sys.executable, '-c', 'from pgflow.transfer import main; main()']
    r = subprocess.run(argv + [str(a) for a in ('--model', files / 'model', '--source', astro / 'astro.png', '--driving', astro / 'astro.png',
                                                '--out', out, '--detector', 'dlib', '--quiet')],
                       capture_output=True, text=True, env=ENV, timeout=300,
                       preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000)))
    one_line_error(r, str(out.parent), 'cannot write o.png', 'too large')
    assert list(out.parent.iterdir()) == []                # no half-written file, no temp file


def test_eval_real_photos_fomm_protocol_with_dlib(files, astro, tmp_path):
    "pgflow-prepare (dlib) on real photos, then pgflow-eval --detector dlib --identity_net dlib: akd, aed, detected for every method, checked by hand."
    from PIL import Image
    from pgflow.landmarks import DlibDetector, DlibEmbedder
    from pgflow.metrics import dataset_videos, detect_normalised, akd
    img = iio.imread(astro / 'astro.png')
    for ident, im in (('astro', img), ('mirror', np.ascontiguousarray(img[:, ::-1]))):   # two "people" (a mirror image: plumbing only)
        (tmp_path / 'src' / ident / 'turn').mkdir(parents=True)
        for i, a in enumerate((0, 5, 10)):
            Image.fromarray(im).rotate(a, resample=Image.Resampling.BICUBIC, center=(256, 130)).save(tmp_path / 'src' / ident / 'turn' / f'{i}.png')
    prep = BIN / 'pgflow-prepare'
    argv = [str(prep)] if prep.exists() else [sys.executable, '-c', 'from pgflow.landmarks import main; main()']
    r = subprocess.run(argv + [str(tmp_path / 'src'), str(tmp_path / 'data'), '--size', '32', '--detector', 'dlib', '--quiet'],
                       capture_output=True, text=True, env=ENV, timeout=300)
    assert r.returncode == 0 and json.loads(r.stdout)['frames_written'] == 6, r.stderr
    r = run('pgflow-eval', '--model', files / 'model', '--data', tmp_path / 'data', '--out', tmp_path / 'rep.json',
            '--videos', '2', '--frames', '3', '--detector', 'dlib', '--identity_net', 'dlib', '--quiet')
    assert r.returncode == 0, r.stderr
    rep = json.loads((tmp_path / 'rep.json').read_text())
    for task in ('reconstruction', 'cross_identity'):
        for method, v in rep['results'][task].items():
            assert {'akd', 'aed', 'detected'} <= set(v) and 0 <= v['detected'] <= 1 and v['aed'] >= 0, (task, method, v)
    # by hand, on the frames the protocol reads: copy_source repeats frame 0 of each video
    vids = dataset_videos(tmp_path / 'data', 32, 2, 3)
    det, emb = DlibDetector(), DlibEmbedder()
    akds, found, aeds = [], [], []
    for v in vids:
        lm = detect_normalised(det, v.images)
        per_frame = akd(lm[:1].expand(3, -1, -1), lm)
        akds += per_frame[~torch.isnan(per_frame)].tolist(); found += (~torch.isnan(per_frame)).tolist()
        aeds += (emb(v.images[:1].expand(3, -1, -1, -1)) - emb(v.images)).norm(dim=1).tolist()
    copy = rep['results']['reconstruction']['copy_source']
    assert abs(copy['akd'] - np.mean(akds)) < 1e-3 and abs(copy['detected'] - np.mean(found)) < 1e-6, (copy, akds, found)
    assert abs(copy['aed'] - np.mean(aeds)) < 1e-4, (copy['aed'], aeds)
    assert copy['akd'] > 0.5 and copy['aed'] > 0    # the frames turn: copying frame 0 is not exact
    md = (tmp_path / 'rep.md').read_text()
    assert 'OpenFace' in md and 'AED ↓' in md and 'faces found' in md
