"""Time one preset's training step (PGFlowObjective, Adam, 16 images) from a given checkout of pgflow: run it
for two checkouts one after the other, alternating, to compare code on a shared machine (absolute times drift
between sessions; only the interleaved ratio means much).

    git worktree add /tmp/old <rev>
    for r in 1 2; do for d in /tmp/old .; do OMP_NUM_THREADS=2 python scripts/ab_step.py $d small 0 7; done; done

Arguments: CHECKOUT PRESET MEMORY_SAVING(0/1) STEPS. Prints the median and minimum of STEPS timed steps (after 3 untimed).
"""
import sys, time
from pathlib import Path
root = str(Path(sys.argv[1]).resolve())
sys.path.insert(0, root)
import torch, pgflow
if not pgflow.__file__.startswith(root): raise SystemExit(f"ab_step: imported pgflow from {pgflow.__file__}, not from {root}")
from pgflow.bench import build_model, make_objective, random_quadruplets
torch.set_num_threads(2); torch.manual_seed(0)
preset, ms, n = sys.argv[2], sys.argv[3] == '1', int(sys.argv[4])
model = build_model(preset, ms, 'cpu'); obj, _ = make_objective(model)
opt = torch.optim.Adam(model.parameters(), lr=1e-4)
images, landmarks = random_quadruplets(16, model.config.image_size)
with torch.no_grad(): model.train(); model.encode(images.flatten(0, 1), landmarks.flatten(0, 1))
def step():
    opt.zero_grad(set_to_none=True); obj(images, landmarks)['loss'].backward(); opt.step()
for _ in range(3): step()
ts = []
for _ in range(n):
    t = time.perf_counter(); step(); ts.append(time.perf_counter() - t)
ts.sort(); print(root, preset, 'memory-saving' if ms else 'standard', f"median {ts[len(ts) // 2]:.4f} s, min {ts[0]:.4f} s")
