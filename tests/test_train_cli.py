"""End-to-end tests of `pgflow-train`: the console script, and two-process data parallelism under torchrun."""
import importlib.util, json, os, subprocess, sys
from pathlib import Path

import pytest

from cli_env import BIN, cli_env as _env
TINY = ["--cpu", "--image-size", "16", "--flow-steps", "1", "--batch-size", "2", "--val-pairs", "4",
        "--sample-every", "2", "--checkpoint-every", "2", "--log-every", "1"]


def _run(cmd, cwd):
    r = subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"{cmd} failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r.stdout + r.stderr


def test_cli_writes_model_samples_metrics(tmp_path):
    out = tmp_path / "run"
    log = _run([str(BIN / "pgflow-train"), *TINY, "--steps", "3", "--out", str(out)], tmp_path)
    assert "processes: 1" in log and "device: cpu" in log
    from pgflow.model import PGFlow
    model = PGFlow.from_pretrained(out / "model")
    assert model.config.image_size == 16
    assert sorted(p.name for p in (out / "samples").glob("*.png")) == ["step-00000002.png", "step-00000003.png"]
    m = json.loads((out / "metrics.json").read_text())
    for k in ("psnr", "ssim", "l1", "bits_per_dim"):
        assert isinstance(m[k], float), k
    assert list(m["baselines"]) == ["copy_source", "mean_image", "warp"]
    for b in m["baselines"].values():
        assert set(b) == {"psnr", "ssim", "l1"}
    # the last line gives L1 / PSNR / SSIM of the model and of every baseline, and says where the model loses
    last = [line for line in log.splitlines() if line.startswith("pgflow-train: done")][-1]
    for name in ("model", "copy_source", "mean_image", "warp"): assert f"{name} " in last, last
    assert last.count(" dB / ") == 4 and ("Verdict: model loses to" in last or "Verdict: model beats every baseline" in last), last
    assert [p["step"] for p in m["curve"]] == [2, 3]
    assert m["step"] == 3 and len(m["train"]["loss_history"]) == 3
    assert (out / "checkpoints" / "step-00000003").is_dir()
    assert (out / "curves.png").stat().st_size > 10_000                       # loss and validation curves
    if importlib.util.find_spec("tensorboard"):                             # --log-with auto: TensorBoard, in the run folder
        assert list((out / "pgflow").glob("events.out.tfevents.*")), sorted(out.iterdir())


def test_cli_log_with(tmp_path):
    out = tmp_path / "none"
    _run([str(BIN / "pgflow-train"), *TINY, "--steps", "1", "--out", str(out), "--log-with", "none"], tmp_path)
    assert (out / "model").is_dir() and not (out / "pgflow").exists()      # no tracker, no tracker files
    for name in ("trackio", "wandb"):
        if importlib.util.find_spec(name): continue
        r = subprocess.run([str(BIN / "pgflow-train"), *TINY, "--steps", "1", "--out", str(tmp_path / name), "--log-with", name],
                           env=_env(), capture_output=True, text=True, timeout=600)
        assert r.returncode != 0 and "Traceback" not in r.stderr, r.stderr[-2000:]
        assert r.stderr.strip().splitlines()[-1] == (f"pgflow-train: error: --log-with {name}: the {name} package is not installed "
                                                     f"(pip install {name}), or pass --log-with none"), r.stderr[-2000:]


def test_cli_config_file_and_resume(tmp_path):
    out = tmp_path / "run"
    cfg = tmp_path / "run.yaml"
    cfg.write_text(f"steps: 2\nout: {out}\nimage-size: 16\n")
    _run([str(BIN / "pgflow-train"), "--config", str(cfg), *TINY], tmp_path)
    # a longer run resumed from the finished one continues at step 2
    log = _run([str(BIN / "pgflow-train"), "--config", str(cfg), *TINY, "--steps", "3", "--resume"], tmp_path)
    assert "resuming at step 2" in log
    m = json.loads((out / "metrics.json").read_text())
    assert m["step"] == 3 and m["config"]["steps"] == 3


def test_torchrun_two_processes_identical_weights(tmp_path):
    out = tmp_path / "ddp"
    log = _run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                "-m", "pgflow.train", *TINY, "--steps", "3", "--out", str(out)], tmp_path)
    assert "processes: 2" in log
    m = json.loads((out / "metrics.json").read_text())
    t = m["train"]
    assert t["processes"] == 2 and len(t["replica_checksums"]) == 2
    assert t["replica_checksums"][0] == t["replica_checksums"][1] and t["replicas_identical"]
    # each process wrote its own RNG state: real data parallelism, not one process twice
    ck = out / "checkpoints" / "step-00000003"
    assert sorted(p.name for p in ck.glob("rng_*")) == \
        ["rng_0.json", "rng_0.safetensors", "rng_1.json", "rng_1.safetensors"]
    man = json.loads((ck / "manifest.json").read_text())
    assert man["processes"] == 2 and "rng_1.safetensors" in man["files"]
    assert not [p for p in ck.iterdir() if p.suffix in (".pkl", ".bin", ".pt")]      # nothing to unpickle
    # both processes resume from the checkpoint the main process picked, each with its own RNG state
    log = _run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                "-m", "pgflow.train", *TINY, "--steps", "4", "--out", str(out), "--resume"], tmp_path)
    assert "resuming at step 3" in log
    t = json.loads((out / "metrics.json").read_text())["train"]
    assert t["replicas_identical"] and len(t["loss_history"]) == 4
