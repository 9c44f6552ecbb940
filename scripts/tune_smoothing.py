"""Choose the landmark smoothing of `pgflow.transfer` on the validation people's clips (never the test people's).

For every clip under data/real/raw/val, dlib's landmarks of every frame at the clip's own rate (cached in --cache),
then for the look-ahead smoother (`CenteredSmoother`, by radius) and the causal One-Euro filter (by min_cutoff, beta):
the jitter of the smoothed landmarks as a share of the raw jitter, and how far smoothing moves them: the mean distance
between smoothed and raw landmarks in face sizes (lag, and the noise removed). Writes nbs/bench/smoothing.json.
Usage: python scripts/tune_smoothing.py [--cache /tmp/val_landmarks.npz]"""
import argparse, json, sys
from pathlib import Path
import numpy as np
from pgflow.frames import open_frames
from pgflow.landmarks import DlibDetector
from pgflow.motion import smooth_landmarks, jitter, detect_faces, landmark_box, FaceTracker, CenteredSmoother
from pgflow.fileio import write_json

ap = argparse.ArgumentParser(); ap.add_argument('--cache', default='/tmp/val_landmarks.npz'); ap.add_argument('--out', default='nbs/bench/smoothing.json')
args = ap.parse_args()
clips = sorted(Path('data/real/raw/val').glob('*/*.mp4'))
if not clips: sys.exit("no validation clips: build the real corpus first (data/real/README.md)")
cache = Path(args.cache)
tracks = dict(np.load(cache)) if cache.exists() else {}
det = DlibDetector()
for c in clips:
    key = f'{c.parent.name}/{c.stem}'
    if key in tracks: continue
    s, tracker, lms = open_frames(c), FaceTracker(), []
    for img in s:
        faces = detect_faces(det, img, scales=(0,))
        k = tracker.pick([landmark_box(f) for f in faces])
        lms.append(faces[k] if k is not None else (lms[-1] if lms else None))
    lms = [l for l in lms if l is not None]
    tracks[key] = np.stack(lms); tracks[key + ':fps'] = np.array(s.fps)
    np.savez(cache, **tracks); print(key, len(lms), file=sys.stderr)
def centered(x, radius):
    sm = CenteredSmoother(radius)
    return np.stack([o for o in (sm.push(l) for l in x) if o is not None] + sm.flush())

def score(smooth):
    ratios, moves = [], []
    for key in [k for k in tracks if not k.endswith(':fps')]:
        raw, fps = tracks[key], float(tracks[key + ':fps'])
        sm = smooth(raw, fps)
        ratios.append(jitter(sm) / jitter(raw)); moves.append(np.linalg.norm(sm - raw, axis=-1).mean() / np.ptp(raw, 1).max(-1).mean())
    return dict(jitter_ratio=float(np.mean(ratios)), jitter_ratio_max=float(np.max(ratios)), moved_face_sizes=float(np.mean(moves)))

rows = [dict(kind='centered', radius=r, **score(lambda x, fps, r=r: centered(x, r))) for r in (1, 2, 3, 4, 5, 6, 7)]
rows += [dict(kind='one-euro', min_cutoff=mc, beta=b, **score(lambda x, fps, mc=mc, b=b: smooth_landmarks(x, fps, mc, b)))
         for mc in (0.5, 1.0, 2.0, 4.0) for b in (0.0, 1.0, 3.0, 10.0, 30.0)]
for r in rows: print(r)
MARGIN = 0.45   # the target is at most half the raw jitter; ask every validation clip for a little less
ok = [r for r in rows if r['jitter_ratio_max'] <= MARGIN]
best = min(ok, key=lambda r: r['moved_face_sizes']) if ok else None
print(f'chosen (least moved with every clip at most {MARGIN} of the raw jitter):', best)
write_json(args.out, dict(clips=[f'{c.parent.name}/{c.name}' for c in clips], grid=rows, chosen=best,
                          rule=f'least movement among settings whose every validation clip keeps at most {MARGIN} of the raw jitter'))
