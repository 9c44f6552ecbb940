"pgflow-bench end to end: the CLI (console script and `python -m`) writes a JSON report and prints the tables; each subcommand runs for real on the tiny preset."
import json, os, subprocess, sys
from pathlib import Path

import pytest

from pgflow.bench import ideal_seconds

ENV = dict(os.environ, OMP_NUM_THREADS='1')
BIN = Path(sys.executable).parent


def _run(cmd, tmp_path):
    p = subprocess.run(cmd, capture_output=True, text=True, env=ENV, cwd=tmp_path, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    return p


def test_cli_train_infer_flops(tmp_path):
    out = tmp_path / 'bench.json'
    p = _run([str(BIN / 'pgflow-bench'), '--preset', 'tiny', '--batch-size', '4', '--repeats', '1',
              '--only', 'train,infer,flops', '--threads', '1', '--json', str(out)], tmp_path)
    rep = json.loads(out.read_text())
    assert rep['machine']['threads'] == 1 and rep['preset'] == 'tiny' and rep['batch_sizes'] == [4]
    train = rep['results']['train']
    assert [t['memory_saving'] for t in train] == [False, True]
    for t in train:   # the numbers are the ones the timings and counts give; how fast is the benchmark's finding, not a test
        assert abs(t['images_per_s']['median'] - 4 / t['step_s']['median']) < 1e-9 * t['images_per_s']['median']
        assert t['peak_mb'] >= t['baseline_mb'] > 0
    assert train[1]['flops_per_image']['total'] > train[0]['flops_per_image']['total']   # memory saving recomputes
    peak = rep['results']['machine_peaks']
    for t, e in zip(train, rep['results']['flops']['train']):
        want = ideal_seconds(t['flops_per_image'], peak) * t['images_per_s']['median']
        assert abs(e['fraction_of_peak'] - want) <= 1e-9 * want, (e, want)
    assert rep['results']['infer']['latency_b1_s']['n'] == 3   # run_benchmark times inference at least 3 times
    assert '### Training step' in p.stdout and '### Inference' in p.stdout and '| 4 | memory-saving |' in p.stdout


def test_module_entry_and_bad_args(tmp_path):
    p = _run([sys.executable, '-m', 'pgflow.bench', '--help'], tmp_path)
    assert '--batch_size' in p.stdout and '--only' in p.stdout
    bad = subprocess.run([sys.executable, '-m', 'pgflow.bench', '--only', 'train,warp'], capture_output=True,
                         text=True, env=ENV, cwd=tmp_path, timeout=120)
    assert bad.returncode != 0 and '--only' in bad.stderr and 'warp' in bad.stderr
    bad = subprocess.run([sys.executable, '-m', 'pgflow.bench', '--batch-size', '6', '--only', 'train'],
                         capture_output=True, text=True, env=ENV, cwd=tmp_path, timeout=120)
    assert bad.returncode != 0 and 'multiple of 4' in bad.stderr


def _fail(cmd, tmp_path):
    "Run `cmd` expecting bad input: exit status 2 and one error line; returns stderr."
    p = subprocess.run(cmd, capture_output=True, text=True, env=ENV, cwd=tmp_path, timeout=300)
    assert p.returncode == 2, (p.returncode, p.stderr[-3000:])
    return p.stderr


def test_subcommands_help(tmp_path):
    for name, flag in (('ab', '--rounds'), ('profile', '--conv_rows'), ('decode', '--model'), ('prepare', '--sizes'), ('video', '--clip')):
        p = _run([str(BIN / 'pgflow-bench'), name, '--help'], tmp_path)
        assert f'usage: pgflow-bench {name}' in p.stdout and flag in p.stdout, p.stdout


def test_ab_two_checkouts(tmp_path):
    import shutil, pgflow
    for side in ('a', 'b'):
        shutil.copytree(Path(pgflow.__file__).parent, tmp_path / side / 'pgflow', ignore=shutil.ignore_patterns('__pycache__'))
    out = tmp_path / 'ab.json'
    p = _run([str(BIN / 'pgflow-bench'), 'ab', str(tmp_path / 'a'), str(tmp_path / 'b'), '--preset', 'tiny', '--batch-size', '4',
              '--steps', '2', '--warmup', '1', '--rounds', '1', '--threads', '1', '--json', str(out)], tmp_path)
    ab = json.loads(out.read_text())
    assert [(r['round'], r['side']) for r in ab['runs']] == [(1, 'a'), (1, 'b')]
    for r in ab['runs']:   # each run timed its own checkout's code
        assert Path(r['pgflow']).resolve().parent == (tmp_path / r['side'] / 'pgflow').resolve()
        assert len(r['times']) == 2 and all(t > 0 for t in r['times'])
    assert abs(ab['b_over_a'] - ab['step_s']['b']['median'] / ab['step_s']['a']['median']) < 1e-12
    assert 'b/a: ' in p.stdout
    err = _fail([str(BIN / 'pgflow-bench'), 'ab', str(tmp_path / 'a'), str(tmp_path / 'nowhere')], tmp_path)
    assert err.startswith('pgflow-bench ab: error: checkout') and 'nowhere' in err, err
    err = _fail([str(BIN / 'pgflow-bench'), 'ab', str(tmp_path / 'a'), str(tmp_path / 'b'), '--batch-size', '6'], tmp_path)
    assert '--batch-size' in err and 'multiple of 4' in err, err


def test_profile(tmp_path):
    out, txt = tmp_path / 'p.json', tmp_path / 'p.txt'
    _run([str(BIN / 'pgflow-bench'), 'profile', '--preset', 'tiny', '--batch-size', '4', '--threads', '1', '--rows', '4',
          '--conv-rows', '3', '--json', str(out), '--output', str(txt)], tmp_path)
    r = json.loads(out.read_text())
    assert (r['preset'], r['batch'], r['threads'], len(r['top_ops'])) == ('tiny', 4, 1, 4)
    secs = [o['self_cpu_s'] for o in r['top_ops']]
    assert secs == sorted(secs, reverse=True) and 0 < sum(secs) <= r['self_cpu_s'] + 1e-9
    assert 0 < len(r['convs']) <= 3 and all('conv' in c['op'] and c['input_shapes'] for c in r['convs'])
    assert txt.read_text().startswith('# pgflow-bench profile --preset tiny') and 'Self CPU time total' in txt.read_text()
    err = _fail([str(BIN / 'pgflow-bench'), 'profile', '--preset', 'huge'], tmp_path)
    assert err.startswith("pgflow-bench profile: error: --preset: unknown preset 'huge'"), err


def test_decode(tmp_path):
    out = tmp_path / 'd.json'
    model = Path(__file__).resolve().parents[1] / 'nbs' / 'models' / 'synth64'
    _run([str(BIN / 'pgflow-bench'), 'decode', '--preset', 'tiny', '--model', str(model), '--batch-size', '4', '--repeats', '1',
          '--threads', '1', '--json', str(out)], tmp_path)
    d = json.loads(out.read_text())
    assert (d['batch'], d['threads'], list(d['results'])) == (4, 1, ['tiny', 'synth64'])
    for r in d['results'].values():
        assert min(r['cold_fp32_s'], r['warm_fp32_s'], r['cold_bf16_s']) > 0, r
        assert 0 <= r['bf16_mean_abs_error'] <= r['bf16_max_abs_error'] <= 1, r
    err = _fail([str(BIN / 'pgflow-bench'), 'decode', '--batch-size', '0'], tmp_path)
    assert err.startswith('pgflow-bench decode: error: --batch-size'), err
    err = _fail([str(BIN / 'pgflow-bench'), 'decode', '--model', str(tmp_path)], tmp_path)
    assert err.startswith('pgflow-bench decode: error: --model'), err


def test_prepare(tmp_path):
    pytest.importorskip('dlib')
    out = tmp_path / 'pp.json'
    _run([str(BIN / 'pgflow-bench'), 'prepare', '--clips', '1', '--frames', '5', '--sizes', '32', '--fps', '5', '--json', str(out)], tmp_path)
    r = json.loads(out.read_text())
    assert (r['detector'], r['video_frames'], r['threads']) == ('dlib', 5, 1)
    assert [(x['name'], x['kept_frames']) for x in r['runs']] == [('every frame, --size 32', 5), ('--fps 5, --size 32', 1)]
    for x in r['runs']:
        assert 0 < x['frames_written'] <= x['kept_frames'] and x['kib_per_frame'] > 0
        assert abs(x['video_frames_per_s'] * x['seconds'] - 5) < 1e-6
    err = _fail([str(BIN / 'pgflow-bench'), 'prepare', '--detector', 'dlb', '--clips', '1', '--frames', '1'], tmp_path)
    assert err.startswith('pgflow-bench prepare: error: detector: expected one of'), err
