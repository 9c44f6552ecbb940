"""Bits per dimension of three kinds of image under each release model: what the familiarity gate reads.

    python scripts/likelihood_study.py [--real data/real/prepared/test] [--out nbs/quality/likelihood.json]

- synthetic: held-out synthetic faces (SynthFaces('val')), under their own landmarks;
- real: frames of held-out real people (a prepared folder, by default the real corpus's test split);
- not a face: scikit-image's pictures (a cat, coffee, a rocket, textures, text, coins, ...: all bundled, no download), uniform noise and flat grey,
  64x64 centre crops, each under the landmarks of a real frame (what a detector could have claimed).
Each model's fitted gate band (config gate_low .. gate_bits, width gate_width) is stored beside its numbers.
`nbs/12_quality.ipynb` draws the picture from the JSON, so it needs neither the models' data nor this script.
"""
import argparse, json
from pathlib import Path
import numpy as np
import torch
import torch.nn.functional as F
from pgflow.model import PGFlow
from pgflow.synth import SynthFaces
from pgflow.data import FaceFrames

ROOT = Path(__file__).resolve().parents[1]
NOT_FACES = ('chelsea', 'coffee', 'rocket', 'brick', 'grass', 'gravel', 'hubble_deep_field', 'immunohistochemistry', 'moon', 'text', 'page', 'horse', 'retina', 'colorwheel', 'logo', 'coins', 'clock', 'cell')

def not_face_images(size: int, n_noise: int = 8) -> tuple[list, torch.Tensor]:
    "Names and `[N, 3, size, size]` images that are not faces."
    from skimage import data
    names, ims = [], []
    for name in NOT_FACES:
        a = getattr(data, name)()
        a = np.stack([a] * 3, -1) if a.ndim == 2 else a[..., :3]
        h, w = a.shape[:2]; s = min(h, w)
        t = torch.from_numpy(np.ascontiguousarray(a[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s])).permute(2, 0, 1)[None].float() / 255
        names.append(name); ims.append(F.interpolate(t, size=size, mode='area')[0])
    g = torch.Generator().manual_seed(0)
    for i in range(n_noise): names.append('noise'); ims.append(torch.rand(3, size, size, generator=g))
    names.append('grey'); ims.append(torch.full((3, size, size), 0.5))
    return names, torch.stack(ims)

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--models', nargs='+', default=[str(ROOT / 'nbs/models/synth64'), str(ROOT / 'nbs/models/real64')])
    ap.add_argument('--real', default=str(ROOT / 'data/real/prepared/test'))
    ap.add_argument('--n', type=int, default=256, help='images per face population')
    ap.add_argument('--out', default=str(ROOT / 'nbs/quality/likelihood.json'))
    a = ap.parse_args()
    torch.manual_seed(0)
    synth = SynthFaces('val', size=64)
    sx = torch.cat([synth[i][0] for i in range(a.n // 4)]); sl = torch.cat([synth[i][1] for i in range(a.n // 4)])
    real = FaceFrames(a.real, size=64)
    pick = torch.linspace(0, len(real) - 1, min(a.n, len(real))).round().long().tolist()
    items = [real.load(i) for i in pick]
    rx = torch.stack([it[0] for it in items]); rl = torch.stack([torch.as_tensor(it[1]) for it in items]).float()
    names, nx = not_face_images(64)
    nl = rl[:len(nx)]
    out = {'populations': {'synthetic': 'SynthFaces val (held-out synthetic people)', 'real': f'{a.real} (held-out real people)',
                           'not_face': names}, 'models': {}}
    for m in a.models:
        model = PGFlow.from_pretrained(m).eval()
        bits = lambda x, l: torch.cat([model.source_bits(x[i:i + 64], l[i:i + 64]) for i in range(0, len(x), 64)]).tolist()
        c = model.config
        out['models'][Path(m).name] = {'synthetic': bits(sx, sl), 'real': bits(rx, rl), 'not_face': bits(nx, nl),
                                       'gate': {'gate_low': c.gate_low, 'gate_bits': c.gate_bits, 'gate_width': c.gate_width}}
        print(Path(m).name, {k: f"median {np.median(v):.2f}" for k, v in out['models'][Path(m).name].items() if k != 'gate'})
    Path(a.out).write_text(json.dumps(out, indent=1))
    print(f'wrote {a.out}')

if __name__ == '__main__':
    main()
