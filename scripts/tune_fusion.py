"""Choose `pgflow.quality.disagreement_fusion`'s settings for the release model on pairs and videos that
`nbs/12_quality.ipynb` does not score: held-out pairs 48-175 and the seed-1 synthetic videos (frames 1-7).

    python scripts/tune_fusion.py [MODEL]        # default nbs/models/synth64; writes nbs/quality/fusion.json

The choice maximises the smallest relative margin over the warp across both sets and all three metrics
(L1: relative decrease, PSNR: dB / 10, SSIM: relative increase); every grid row is kept in the file.
"""
import sys, json, itertools, torch
from pathlib import Path
from pgflow.model import PGFlow
from pgflow.synth import SynthFaces
from pgflow.warp import landmark_warp
from pgflow.metrics import synthetic_videos
from pgflow.quality import image_scores, disagreement_fusion, video_pairs
from pgflow.fileio import atomic_write

GRID = dict(threshold=(0.15, 0.2, 0.25, 0.3), soft=(0.1,), dilate=(0, 1, 2), grow=(1.0, 1.1, 1.2))

def transfers(model, pairs):
    "(the flow's transfer without any fusion mask, the warp, target landmarks, ground truth) of `pairs`."
    src, slm, tlm, gt = pairs
    with torch.no_grad(): flow = model.transfer(src, slm, tlm, 0.0, fuse=False).clamp(0, 1)
    return flow, landmark_warp(src, slm, tlm), tlm, gt

def tuning_sets(model):
    "name -> `transfers` on data the notebook does not score."
    return {'pairs 48-175': transfers(model, SynthFaces('val', size=64).transfer_batch(128, start=48)),
            'videos seed 1': transfers(model, video_pairs(synthetic_videos(8, 8, 64, seed=1)))}

def margin(s, w):
    "Smallest relative margin of scores `s` over the warp's `w` (> 0: better on all three)."
    return min((w['l1'] - s['l1']) / w['l1'], (s['psnr'] - w['psnr']) / 10, (s['ssim'] - w['ssim']) / w['ssim'])

if __name__ == '__main__':
    torch.set_num_threads(2)
    path = sys.argv[1] if len(sys.argv) > 1 else 'nbs/models/synth64'
    model = PGFlow.from_pretrained(path).eval()
    sets = tuning_sets(model)
    warp = {k: image_scores(s[1], s[3]) for k, s in sets.items()}
    rows = []
    for values in itertools.product(*GRID.values()):
        kw = dict(zip(GRID, values))
        scores = {k: image_scores(disagreement_fusion(s[0], s[1], s[2], **kw)[0], s[3]) for k, s in sets.items()}
        rows.append(dict(settings=kw, scores=scores, margin=min(margin(scores[k], warp[k]) for k in sets)))
    best = max(rows, key=lambda r: r['margin'])
    out = dict(model=path, command=f"python scripts/tune_fusion.py {path}", warp=warp, chosen=best['settings'],
               chosen_scores=best['scores'], chosen_margin=best['margin'], grid=rows)
    atomic_write(Path('nbs/quality/fusion.json'), lambda p: Path(p).write_text(json.dumps(out, indent=1)))
    print('warp', warp); print('chosen', best['settings'], best['scores'], 'margin', round(best['margin'], 4))
