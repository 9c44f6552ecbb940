"""Prototype candidate for nbs/12_quality.ipynb, outside the package: a PGFlow whose pose condition also
carries a *guide*, the source face piecewise-affine-warped to the pose (the landmark-warp baseline's image).

    python scripts/guided_prototype.py STEPS [THREADS]            # guide as extra condition channels
    RESID=1 python scripts/guided_prototype.py STEPS [THREADS]     # and the flow models x - guide (a residual over the warp)
    MODE=prior python scripts/guided_prototype.py STEPS [THREADS]  # residual, trained on the test-time path (decode w = 0)

Training: tiny(64) with learned priors, 8 quadruplets per step, Adam 2e-3 (warm-up 50, cosine), NLL + 5 x quadruplet
+ self L1 + 5 x cross L1 at temperature 0. Frame a1 is encoded under its pose with guide = a2 warped to a1's pose;
its code is decoded under a2's pose with guide = a1 warped to a2's pose (and b1/b2 alike). At test the source is its
own guide for the encode, and the decode's guide is the source warped to the target. Scores: the 48 held-out pairs
of `pgflow.quality.quality_pairs` (the 12_quality protocol).

MODE=prior removes the train/test mismatch of the two above (in training the encode saw the partner's warp, whose
residual leaks the answer; at test it sees a zero residual): the flow is only the density of frame - partner's warp
under the frame's pose and that warp, and the cross term decodes w = 0 at temperature 0 exactly as the test does.
It logs the batch's warp L1 beside its cross L1 (both x 5). Results and logs: nbs/quality/guided.jsonl and
nbs/quality/guided*.log. Not integrated into pgflow: neither variant beat the warp on all three metrics at 300 steps.
"""
import sys, time, json, math, numpy as np, torch, torch.nn.functional as F
from pathlib import Path
from dataclasses import dataclass
from scipy.spatial import Delaunay
from pgflow.model import PGFlow, PGFlowConfig, dequantize
from pgflow.losses import nll_loss, quadruplet_loss, reconstruction_l1
from pgflow.synth import SynthFaces
from pgflow.warp import border_points
from pgflow.quality import quality_pairs, image_scores
torch.set_num_threads(int(sys.argv[2]) if len(sys.argv) > 2 else 2)
G = 12
import os
RESID = os.environ.get('RESID') == '1'
MODE = os.environ.get('MODE', 'partner')    # partner: encode under the partner's warp (session 2); prior: decode w = 0 (the test-time path)
WIDE = int(os.environ.get('WIDE', '1'))     # multiply the subnet widths
if MODE == 'prior': RESID = True
@dataclass
class WCfg(PGFlowConfig):
    @property
    def cond_channels(self): return 68 + int(self.pose_edges) + G

def grid_np(s_lm, t_lm, S):
    size = np.array([S, S], float); hi = size - 1
    s = np.clip(s_lm * size - 0.5, 0, hi); t = np.clip(t_lm * size - 0.5, 0, hi)
    b = border_points(S, S)
    T, Sp = np.concatenate([t, b]), np.concatenate([s, b])
    tri = Delaunay(T)
    yy, xx = np.mgrid[0:S, 0:S]
    P = np.stack([xx.ravel(), yy.ravel()], 1).astype(float)
    k = tri.find_simplex(P); inside = k >= 0
    X = tri.transform[k[inside]]
    bc = np.einsum('nij,nj->ni', X[:, :2], P[inside] - X[:, 2])
    bary = np.concatenate([bc, 1 - bc.sum(1, keepdims=True)], 1)
    Q = P.copy(); Q[inside] = np.einsum('ni,nij->nj', bary, Sp[tri.simplices[k[inside]]])
    return ((Q + 0.5) / S * 2 - 1).reshape(S, S, 2)

def warp(x, s_lm, t_lm):
    S = x.shape[-1]
    g = torch.tensor(np.stack([grid_np(a, b, S) for a, b in zip(s_lm.numpy(), t_lm.numpy())]), dtype=x.dtype)
    return F.grid_sample(x, g, mode='bilinear', padding_mode='border', align_corners=False)

def conds(model, lm, guide):
    base = model.conditions(lm)
    out = []
    for c in base:
        if c is None: out.append(None); continue
        s = c.shape[-1]
        g = F.adaptive_avg_pool2d(guide - 0.5, 2 * s)
        out.append(torch.cat([c, F.pixel_unshuffle(g, 2)], 1))
    return out

swap_idx = [1, 0, 3, 2]
def objective_prior(model, x4, lm4, cross_w=5.0):
    "MODE=prior: the flow is the density of (frame - partner's warp) under the frame's pose and that warp; the transfer decodes w = 0 at temperature 0, as at test."
    N = x4.shape[0]
    x, lm = x4.flatten(0, 1), lm4.flatten(0, 1)
    g = warp(x4[:, swap_idx].flatten(0, 1), lm4[:, swap_idx].flatten(0, 1), lm)   # partner warped to this frame's pose
    c = conds(model, lm, g)
    lat = model.encode(dequantize(x, 8) - g + 0.5, c)
    out = {"nll": nll_loss(lat.log_p, lat.logdet, x[0].numel(), 8).mean()}
    pred = model.decode(torch.zeros_like(lat.w), c, None, 0.0) + g - 0.5
    out["cross_l1"] = cross_w * reconstruction_l1(pred, x)
    out["warp_l1"] = cross_w * reconstruction_l1(g, x).detach()      # the bar, same batch (not in the loss)
    out["loss"] = out["nll"] + out["cross_l1"]
    return out

def objective(model, x4, lm4, cross_w=5.0):
    if MODE == 'prior': return objective_prior(model, x4, lm4, cross_w)
    N = x4.shape[0]
    guide_src = x4[:, swap_idx]                           # a2 for a1, ...
    x, lm = x4.flatten(0, 1), lm4.flatten(0, 1)
    gs, gl = guide_src.flatten(0, 1), lm4[:, swap_idx].flatten(0, 1)
    g_enc = warp(gs, gl, lm)                              # other frame of the same person warped to this pose
    ce = conds(model, lm, g_enc)
    xin = dequantize(x, 8) - g_enc + 0.5 if RESID else dequantize(x, 8)
    lat = model.encode(xin, ce)
    out = {"nll": nll_loss(lat.log_p, lat.logdet, x[0].numel(), 8).mean(),
           "quadruplet": 5 * quadruplet_loss(lat.w.view(N, 4, *lat.w.shape[1:]), 0.0, 0.3)}
    out["self_l1"] = reconstruction_l1(model.decode(lat.w, ce, temperature=0.0) + ((g_enc - 0.5) if RESID else 0), x)
    swap = torch.arange(4 * N).view(N, 4)[:, swap_idx].flatten()
    g_x = warp(x, lm, lm[swap])                            # a1 warped to a2's pose
    cross = model.decode(lat.w, conds(model, lm[swap], g_x), temperature=0.0) + ((g_x - 0.5) if RESID else 0)
    out["cross_l1"] = cross_w * reconstruction_l1(cross, x[swap])
    out["loss"] = sum(out.values())
    return out

@torch.no_grad()
def evaluate(model, pairs):
    model.eval()
    src, slm, tlm, gt = pairs
    g_t = warp(src, slm, tlm)
    ct = conds(model, tlm, g_t)
    off = (g_t - 0.5) if RESID else 0
    w_self = model.encode(src - src + 0.5 if RESID else src, conds(model, slm, src)).w          # the source as its own guide
    if MODE == 'prior':
        res = {'transfer': image_scores(model.decode(torch.zeros(len(src), *model.config.latent_shape()), ct, None, 0.0) + off, gt),
               'guide_only': image_scores(g_t, gt)}
        model.train(); return res
    res = {'transfer_selfguide': image_scores(model.decode(w_self, ct, None, 0.0) + off, gt),
           'transfer_w0': image_scores(model.decode(torch.zeros_like(w_self), ct, None, 0.0) + off, gt),
           'guide_only': image_scores(g_t, gt)}
    model.train()
    return res

if __name__ == '__main__':
    steps = int(sys.argv[1])
    torch.manual_seed(0)
    base = PGFlowConfig.tiny(64, learned_prior=True)
    cfg = WCfg(**{**base.to_dict(), 'hidden': tuple(h * WIDE for h in base.hidden)})
    model = PGFlow(cfg)
    train = SynthFaces("train", size=64, seed=0, length=100000)
    pairs = quality_pairs(48, 64)
    # actnorm init
    items = [train[i] for i in range(16)]
    x4 = torch.stack([it[0] for it in items]); lm4 = torch.stack([it[1] for it in items])
    model.train()
    with torch.no_grad(): objective(model, x4, lm4)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3, betas=(0.9, 0.99))
    g = torch.Generator().manual_seed(0)
    t0 = time.time()
    for step in range(steps):
        lr = 2e-3 * min(1, (step + 1) / 50) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1, max(0, step - 50) / max(1, steps - 50)))))
        for pg in opt.param_groups: pg['lr'] = lr
        idx = torch.randint(0, len(train), (8,), generator=g).tolist()
        items = [train[i] for i in idx]
        x4 = torch.stack([it[0] for it in items]); lm4 = torch.stack([it[1] for it in items])
        out = objective(model, x4, lm4)
        opt.zero_grad(); out['loss'].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0); opt.step()
        if step % 50 == 0 or step == steps - 1:
            print(step, f"{time.time()-t0:.0f}s", {k: round(v.item(), 4) for k, v in out.items()}, flush=True)
    res = evaluate(model, pairs)
    print(json.dumps(res, indent=1))
    tag = ('_prior' if MODE == 'prior' else '_residual' if RESID else '') + (f'_wide{WIDE}' if WIDE > 1 else '')
    row = dict(name=f"guided{tag}{steps}", steps=steps, batch_size=8, params=model.num_params(),
               command=f"{'MODE=prior ' if MODE == 'prior' else 'RESID=1 ' if RESID else ''}{f'WIDE={WIDE} ' if WIDE > 1 else ''}python scripts/guided_prototype.py {steps}", **res)
    with open('nbs/quality/guided.jsonl', 'a') as f: f.write(json.dumps(row) + '\n')
    Path('runs/guided').mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), f'runs/guided/guided{tag}{steps}.pt')
