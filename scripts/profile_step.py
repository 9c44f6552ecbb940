"""Where the time of one v3_64 PGFlowObjective training step goes (16 images, 2 threads): the convolutions
grouped by input shape, by self CPU time (torch.profiler).

    OMP_NUM_THREADS=2 python scripts/profile_step.py > nbs/bench/profile_v3_64_step.txt
"""
import torch, time
from torch.profiler import profile, ProfilerActivity
from pgflow.model import PGFlow, PGFlowConfig
from pgflow.losses import PGFlowObjective
torch.manual_seed(0); torch.set_num_threads(2)
m = PGFlow(PGFlowConfig.v3_64()); obj = PGFlowObjective(m)
x = torch.rand(4, 4, 3, 64, 64); lm = 0.5 + 0.3 * (torch.rand(1, 1, 68, 2) - 0.5) + 0.01 * torch.randn(4, 4, 68, 2)
with torch.no_grad(): m.encode(x.flatten(0, 1), lm.flatten(0, 1))
opt = torch.optim.Adam(m.parameters(), lr=1e-5)
def step():
    out = obj(x, lm); loss = sum(out.values()); opt.zero_grad(); loss.backward(); opt.step()
step()
t = time.perf_counter(); step(); print('step', time.perf_counter() - t)
with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as p: step()
print(p.key_averages().table(sort_by="self_cpu_time_total", row_limit=12, max_name_column_width=32))
ka = p.key_averages(group_by_input_shape=True)
rows = sorted([e for e in ka if e.key in ("aten::mkldnn_convolution", "aten::convolution_backward")], key=lambda e: -e.self_cpu_time_total)
for e in rows[:22]: print(e.key[6:16], f"{e.self_cpu_time_total/1e6:.3f}s", e.count, str(e.input_shapes)[:150])
