"""Decoding a batch of frames (eval, no_grad): cold (new pose-map tensors each call) against warm (the same tensors:
the levels' cached pose features), and float32 against bfloat16 autocast (`pgflow.model.inference_precision`), with the
bf16 output's pixel error. v3_64 with random weights (ActNorm initialised) and the release model nbs/models/synth64.

    OMP_NUM_THREADS=2 python scripts/decode_bench.py [BATCH]     # writes nbs/bench/decode.json
"""
import sys, time, statistics, torch, json
from pgflow.model import PGFlow, PGFlowConfig
torch.manual_seed(0); torch.set_num_threads(2)
B = int(sys.argv[1]) if len(sys.argv) > 1 else 16
def timeit(f, n=3):
    f(); ts = []
    for _ in range(n):
        t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
    return statistics.median(ts)
res = {}
for name, model in (('v3_64', PGFlow(PGFlowConfig.v3_64())), ('synth64', PGFlow.from_pretrained('nbs/models/synth64'))):
    x = torch.rand(B, 3, 64, 64)
    lm = 0.5 + 0.3 * (torch.rand(1, 68, 2) - 0.5) + 0.01 * torch.randn(B, 68, 2)
    if name == 'v3_64':
        with torch.no_grad(): model.train(); model.encode(x, lm)
    else:
        from pgflow.quality import quality_pairs
        src, slm, tlm, gt = quality_pairs(B, 64); x, lm = src, slm
    model.eval()
    with torch.no_grad():
        w = model.encode(x, lm).w
        conds = model.conditions(lm.roll(1, 0))
        fresh = lambda: [c.clone() if c is not None else None for c in conds]
        r = {}
        r['cold_fp32_s'] = timeit(lambda: model.decode(w, fresh(), None, 0.0))
        r['warm_fp32_s'] = timeit(lambda: model.decode(w, conds, None, 0.0))
        ref = model.decode(w, conds, None, 0.0)
        def bf16(c):
            with torch.autocast('cpu', dtype=torch.bfloat16): return model.decode(w, c, None, 0.0)
        r['cold_bf16_s'] = timeit(lambda: bf16(fresh()))
        out = bf16(fresh()).float()
        r['bf16_max_abs_error'] = (out.clamp(0, 1) - ref.clamp(0, 1)).abs().max().item()
        r['bf16_mean_abs_error'] = (out.clamp(0, 1) - ref.clamp(0, 1)).abs().mean().item()
    res[name] = r
    print(name, json.dumps(r), flush=True)
import platform
with open('nbs/bench/decode.json', 'w') as f: json.dump(dict(batch=B, threads=2, torch=torch.__version__, results=res), f, indent=1)
