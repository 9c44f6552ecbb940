"""Choose how much of the model's 64-px correction goes on top of the full-resolution warp (`pgflow.transfer.CORRECTION`),
on the validation people's clips (never the test people's): self-reenactment (source = frame 0, driving = the clip, raw
landmarks), every other frame of the first 40, PSNR over the face's region for strengths 0 (the warp) to 1, and the plain
blend of `composite(detail=False)`. Writes nbs/bench/correction.json. Usage: python scripts/tune_correction.py [MODEL]"""
import glob, sys
import numpy as np
from pgflow.composite import composite, to_float, to_uint8
from pgflow.fileio import write_json
from pgflow.frames import open_frames
from pgflow.posemap import denormalize_landmarks
from pgflow.transfer import Reenactor, make_detector, default_model, load_model, training_margin
from pgflow.videobench import face_region, region_psnr

model = sys.argv[1] if len(sys.argv) > 1 else default_model()
det, net = make_detector('dlib'), load_model(model)
reen = Reenactor(net, det, margin=training_margin(model)[0])
clips = sorted(glob.glob('data/real/raw/val/*/*.mp4'))
if not clips: sys.exit("no validation clips: build the real corpus first (data/real/README.md)")
strengths, per_clip = (0.0, 0.25, 0.5, 0.75, 1.0), {}
for c in clips:
    s = open_frames(c); src = reen.prepare(next(iter(s)))
    frames = (f for i, f in enumerate(s) if i < 40 and i % 2 == 0)
    acc = {str(a): [] for a in strengths} | {'blend': []}
    for p in reen.poses(src, frames, mode='relative', smooth=False):
        lm = det.detect([p.driving])[0]
        if p.index == 0 or lm is None: continue
        box, tgt = face_region(lm, p.driving.shape), np.asarray(denormalize_landmarks(p.target, src.box), np.float32)
        score = lambda **kw: region_psnr(to_uint8(composite(to_float(src.image), src.box, src.landmarks_px, tgt, p.output, p.warp, p.mask, **kw)), p.driving, box)
        for a in strengths: acc[str(a)].append(score(strength=a))
        acc['blend'].append(score(detail=False))
    per_clip[c] = {k: float(np.mean(v)) for k, v in acc.items()}
    print(c, ' '.join(f'{k}:{v:.2f}' for k, v in per_clip[c].items()), flush=True)
mean = {k: float(np.mean([r[k] for r in per_clip.values()])) for k in acc}
best = max(strengths, key=lambda a: mean[str(a)])
print('mean PSNR by strength', mean, 'chosen', best)
write_json('nbs/bench/correction.json', dict(model=str(model), clips=clips, per_clip=per_clip, mean_psnr=mean, chosen=best,
                                             rule='the strength with the highest mean PSNR over the validation clips'))
