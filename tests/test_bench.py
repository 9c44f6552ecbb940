"pgflow-bench end to end: the CLI (console script and `python -m`) writes a JSON report and prints the tables."
import json, os, subprocess, sys
from pathlib import Path

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
