"""Train and measure the transfer-quality candidates of nbs/12_quality.ipynb.

    python scripts/quality_sweep.py NAME [NAME ...]     # train (if not yet trained) and measure
    python scripts/quality_sweep.py --list              # the candidates and their settings

Each candidate is a set of `TrainConfig` overrides on a common base (`pgflow.quality.CANDIDATES` and
`SWEEP_BASE`: 64x64 synthetic faces, 300 steps x 8 quadruplets, one thread; runs in runs/quality/NAME). Its decomposition on the 48
held-out pairs (`pgflow.quality.transfer_decomposition`) is appended to nbs/quality/results.jsonl
with the command that made it. Two candidates at a time use both cores of a 2-core machine.
"""
import json, os, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
from pgflow.quality import SWEEP_BASE as BASE, CANDIDATES   # the candidates live in nbs/12_quality.ipynb

def run(name: str):
    import torch
    torch.set_num_threads(int(os.environ.get("PGFLOW_THREADS", "1")))
    from pgflow.train import TrainConfig, train
    from pgflow.model import PGFlow
    from pgflow.evaluation import quality_pairs
    from pgflow.quality import transfer_decomposition
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
