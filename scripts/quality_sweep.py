"""Train and measure the transfer-quality candidates of nbs/12_quality.ipynb.

    python scripts/quality_sweep.py NAME [NAME ...]     # train (if not yet trained) and measure
    python scripts/quality_sweep.py --list              # the candidates and their settings

Each candidate is a set of `TrainConfig` overrides on a common base (64x64 synthetic faces,
300 steps x 8 quadruplets, one thread; runs in runs/quality/NAME). Its decomposition on the 48
held-out pairs (`pgflow.quality.transfer_decomposition`) is appended to nbs/quality/results.jsonl
with the command that made it. Two candidates at a time use both cores of a 2-core machine.
"""
import json, os, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASE = dict(image_size=64, steps=300, batch_size=8, sample_every=10**9, checkpoint_every=10**9, log_every=50,
            val_pairs=16, cpu=True)
CANDIDATES = {
    "base300": {},                                                    # tiny(64) as the original: N(0, I) split priors
    "prior300": {"model": {"learned_prior": True}},                   # + learned pose-conditioned split priors
    "prior300_x5t0": {"model": {"learned_prior": True}, "cross_l1": 5, "temperature": 0},  # + cross-L1 x5, training splits at the prior mean
    "wide300": {"model": {"learned_prior": True, "steps": [2, 2, 4, 4, 4, 4, 2], "hidden": [16, 16, 32, 64, 64, 128, 64]}},  # learned priors, 2x steps and 2-4x width at 16x16 and below (4.6M params)
    "prior300_x5t0_q20": {"model": {"learned_prior": True}, "cross_l1": 5, "temperature": 0, "quadruplet": 20},  # + 4x the quadruplet weight (a more pose-free w?)
    "prior300_x5t0_nll01": {"model": {"learned_prior": True}, "cross_l1": 5, "temperature": 0, "nll": 0.1},      # + a tenth of the NLL weight
    "prior300_x5t0_lr5e3": {"model": {"learned_prior": True}, "cross_l1": 5, "temperature": 0, "lr": 5e-3},      # + 2.5x the peak learning rate
    "prior300_x5t0_const": {"model": {"learned_prior": True}, "cross_l1": 5, "temperature": 0, "min_lr_ratio": 1.0},  # + constant learning rate after warm-up
}

def run(name: str):
    import torch
    torch.set_num_threads(int(os.environ.get("PGFLOW_THREADS", "1")))
    from pgflow.train import TrainConfig, train
    from pgflow.model import PGFlow
    from pgflow.quality import quality_pairs, transfer_decomposition
    out = ROOT / "runs" / "quality" / name
    cfg = TrainConfig(**{**BASE, "out": str(out), **CANDIDATES[name]})
    t0 = time.time()
    if not (out / "model").exists(): train(cfg)
    seconds = time.time() - t0
    model = PGFlow.from_pretrained(out / "model")
    res = dict(name=name, overrides=CANDIDATES[name], command=f"python scripts/quality_sweep.py {name}",
               steps=cfg.steps, batch_size=cfg.batch_size, params=model.num_params(),
               **transfer_decomposition(model, quality_pairs()))
    if seconds > 60: res["train_seconds"] = round(seconds)
    with open(ROOT / "nbs" / "quality" / "results.jsonl", "a") as f: f.write(json.dumps(res) + "\n")
    print(json.dumps(res))

if __name__ == "__main__":
    if "--list" in sys.argv[1:] or len(sys.argv) < 2:
        for k, v in CANDIDATES.items(): print(f"{k:16s} {json.dumps(v)}")
    else:
        for name in sys.argv[1:]:
            if name not in CANDIDATES: sys.exit(f"quality_sweep: unknown candidate {name!r}; --list shows them")
            run(name)
