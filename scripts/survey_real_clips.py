"""Survey real talking-head clips in fetched repositories and write data/real/manifest.csv (issue 21).

    .venv/bin/python scripts/survey_real_clips.py scan  --repos /work/.mirror --scratch /work/realscratch
    .venv/bin/python scripts/survey_real_clips.py sheet --scratch /work/realscratch A.mp4 B.mp4 ...   # a contact sheet PNG
    .venv/bin/python scripts/survey_real_clips.py plan  --repos /work/.mirror --scratch /work/realscratch

`scan` reads each candidate video (the folders in CANDIDATES, minus EXCLUDE) from the repositories' git objects
(`git cat-file blob HEAD:path`), samples 12 frames evenly, finds faces with dlib's HOG detector and embeds the
largest with dlib's 128-D face-recognition network; it caches one JSON per clip in SCRATCH/scan/.
`plan` drops clips with a face in under 75% of the sampled frames, with several faces in over 20% of them, or
whose frames are not all one person (two frame embeddings 0.6 apart or more); joins clips into persons by average
linkage at 0.5 on the clips' mean embeddings (dlib's usual same-person threshold is 0.6: conservative), merges
and splits as SAME/DIFFERENT say (after looking at contact sheets of the borderline pairs), keeps at most 3 clips
per person (longest first, then other repositories / folders first), names persons p001.. in order of their
first clip, splits them by person and writes the manifest.
"""
import argparse, csv, hashlib, json, re, subprocess, sys
from pathlib import Path

import numpy as np

# repo -> the folders whose videos are real camera footage (inputs / samples / examples, never a method's results)
CANDIDATES = {
    'FuxiVirtualHuman/styletalk': ['samples/source_video/video/', 'samples/style_clips/video/'],
    'tanshuai0219/EDTalk': ['test_data/'],
    'filby89/spectre': ['samples/LRS3/', 'samples/MEAD/'],
    'ali-vilab/dreamtalk': ['data/style_clip/video/'],
    'OpenTalker/video-retalking': ['examples/face/'],
    'OpenTalker/SadTalker': ['examples/ref_video/'],
    'yerfor/MimicTalk': ['data/raw/examples/'],
    'Zielon/metrical-tracker': ['input/'],
    'yoyo-nb/Thin-Plate-Spline-Motion-Model': ['assets/'],
    'Weizhi-Zhong/IP_LAP': ['test/template_video/'],
}
VIDEO = re.compile(r'\.(mp4|avi|mov|webm)$', re.I)
# held out for independent evaluation: KwaiVGI/LivePortrait's clips and anything named like them (d0.mp4, s3.jpg, ...)
EXCLUDE = re.compile(r'liveportrait|(^|/)[ds]\d*\.(mp4|avi|mov|webm|jpg|png)$', re.I)
# decided after looking at contact sheets (`sheet`): pairs of clips (repo:path) that are / are not the same person
# (a key or key prefix on each side: every clip matching one is kept apart from every clip matching the other)
SAME: list[tuple[str, str]] = []
DIFFERENT: list[tuple[str, str]] = [
    ('FuxiVirtualHuman/styletalk:samples/source_video/video/andrew_clip_', 'tanshuai0219/EDTalk:test_data/pose_source2.mp4'),
    ('OpenTalker/video-retalking:examples/face/1.mp4', 'ali-vilab/dreamtalk:data/style_clip/video/M030_'),
    ('OpenTalker/video-retalking:examples/face/1.mp4', 'filby89/spectre:samples/MEAD/M030_'),
]
DROP: dict[str, str] = {}   # repo:path -> why (not real footage, several people, ...)
# split targets: shares of the persons and of the frames; persons are dealt out greedily towards both
TARGET = {'train': (0.58, 0.59), 'val': (0.18, 0.13), 'test': (0.24, 0.28)}
N_SAMPLES, FPS, MAX_FRAMES, MAX_CLIPS = 12, 10, 150, 3

def git_dir(repos: Path, repo: str) -> Path:
    d = repos / repo.replace('/', '+') / 'repo'
    return d if d.exists() else repos / repo.replace('/', '+')

def git(gd: Path, *args) -> bytes: return subprocess.run(['git', '--git-dir', str(gd), *args], check=True, capture_output=True).stdout

def candidates(repos: Path):
    "Yield (repo, commit, path, blob size) of every candidate video whose blob is in the snapshot."
    for repo, folders in CANDIDATES.items():
        gd = git_dir(repos, repo)
        if not gd.exists(): print(f"missing repo {repo}", file=sys.stderr); continue
        commit = git(gd, 'rev-parse', 'HEAD').decode().strip()
        for line in git(gd, 'ls-tree', '-r', '-l', commit).decode().splitlines():
            meta, path = line.split('\t', 1)
            _, _, sha, size = meta.split()
            if not (VIDEO.search(path) and any(path.startswith(f) for f in folders)) or EXCLUDE.search(path): continue
            if subprocess.run(['git', '--git-dir', str(gd), 'cat-file', '-e', sha]).returncode: continue  # blob absent
            yield repo, commit, path, int(size)

def key(repo, path): return f"{repo}:{path}"
def slug(s): return re.sub(r'[^A-Za-z0-9]+', '_', s).strip('_')

def scan_clip(file: Path, det, emb):
    import av
    from PIL import Image
    with av.open(str(file)) as c:
        s = c.streams.video[0]; fps = float(s.average_rate or 25)
        frames = [f.to_ndarray(format='rgb24') for f in c.decode(video=0)]
    n = len(frames)
    idx = np.linspace(0, n - 1, min(N_SAMPLES, n)).round().astype(int)
    out = dict(n_frames=n, fps=fps, hw=list(frames[0].shape[:2]), faces=[], emb=[], idx=idx.tolist())
    for i in idx:
        im = np.ascontiguousarray(frames[i])   # PyAV pads rows; dlib wants contiguous arrays
        scale = min(1.0, 640 / max(im.shape[:2]))
        if scale < 1: im = np.array(Image.fromarray(im).resize((round(im.shape[1] * scale), round(im.shape[0] * scale))))
        rects = det.boxes(im)
        out['faces'].append(len(rects))
        if rects: out['emb'].append(np.asarray(emb.net.compute_face_descriptor(im, det.predictor(im, rects[0]))).tolist())
    return out

def scan(a):
    from pgflow.landmarks import DlibDetector, DlibEmbedder
    det = DlibDetector(); emb = DlibEmbedder(detector=det)
    sd = Path(a.scratch); (sd / 'clips').mkdir(parents=True, exist_ok=True); (sd / 'scan').mkdir(exist_ok=True)
    for repo, commit, path, size in candidates(Path(a.repos)):
        name = slug(key(repo, path)); j = sd / 'scan' / f'{name}.json'
        if j.exists(): continue
        data = git(git_dir(Path(a.repos), repo), 'cat-file', 'blob', f'{commit}:{path}')
        if data.startswith(b'version https://git-lfs'): print('LFS pointer', repo, path); continue
        f = sd / 'clips' / f'{name}{Path(path).suffix}'; f.write_bytes(data)
        r = dict(repo=repo, commit=commit, path=path, bytes=len(data), sha256=hashlib.sha256(data).hexdigest(), file=str(f))
        try: r.update(scan_clip(f, det, emb))
        except Exception as e: r['error'] = repr(e)
        j.write_text(json.dumps(r)); print(name, r.get('n_frames'), r.get('faces'), flush=True)

def load_scans(sd: Path):
    rows = [json.loads(p.read_text()) for p in sorted((sd / 'scan').glob('*.json'))]
    keep, dropped, seen = [], [], {}
    for r in rows:
        k = key(r['repo'], r['path']); f = r.get('faces', [])
        why = (DROP.get(k) or r.get('error') or
               (len(r['emb']) < 0.75 * len(f) and f"face in {len(r['emb'])}/{len(f)} frames") or
               (sum(x > 1 for x in f) > 0.2 * len(f) and f"several faces in {sum(x > 1 for x in f)}/{len(f)} frames"))
        if not why:
            e = np.asarray(r['emb']); d = np.linalg.norm(e[:, None] - e[None], axis=-1).max()
            if d >= 0.6: why = f"frames not one person (max distance {d:.2f})"
        if not why and r['sha256'] in seen: why = f"the same file as {seen[r['sha256']]}"
        seen.setdefault(r['sha256'], k)
        if why: dropped.append((k, why))
        else: r['mean'] = np.asarray(r['emb']).mean(0); keep.append(r)
    return keep, dropped

def cluster(rows, threshold=0.5):
    "Average-linkage clusters of the clips' mean embeddings, with the SAME/DIFFERENT decisions applied."
    keys = [key(r['repo'], r['path']) for r in rows]
    m = np.stack([r['mean'] for r in rows]); D = np.linalg.norm(m[:, None] - m[None], axis=-1)
    match = lambda prefix: [i for i, k in enumerate(keys) if k.startswith(prefix)]
    for pairs, v in ((SAME, 0), (DIFFERENT, 9)):
        for a_, b_ in pairs:
            for i in match(a_):
                for j in match(b_): D[i, j] = D[j, i] = v
    groups = [[i] for i in range(len(rows))]
    while True:
        best = None
        for x in range(len(groups)):
            for y in range(x + 1, len(groups)):
                sub = D[np.ix_(groups[x], groups[y])]
                if (sub >= 9).any(): continue
                d = sub.mean()
                if d < threshold and (best is None or d < best[0]): best = (d, x, y)
        if best is None: break
        _, x, y = best; groups[x] += groups.pop(y)
    return groups, D, keys

def sheet(a):
    "A contact sheet PNG (4 frames per clip, one row each) of the scanned clips named on the command line."
    import av
    from PIL import Image
    sd = Path(a.scratch); rows = []
    for name in a.clips:
        fs = [f.to_ndarray(format='rgb24') for f in av.open(str(sd / 'clips' / name)).decode(video=0)]
        ims = [Image.fromarray(fs[i]).resize((160, round(160 * fs[i].shape[0] / fs[i].shape[1])))
               for i in np.linspace(0, len(fs) - 1, 4).round().astype(int)]
        row = Image.new('RGB', (640, max(i.height for i in ims)))
        for j, im in enumerate(ims): row.paste(im, (160 * j, 0))
        rows.append(row)
    out = Image.new('RGB', (640, sum(r.height for r in rows)))
    y = 0
    for r in rows: out.paste(r, (0, y)); y += r.height
    out.save(a.out); print(a.out)

def plan(a):
    sd = Path(a.scratch); rows, dropped = load_scans(sd)
    for k, why in dropped: print(f"drop {k}: {why}")
    groups, D, keys = cluster(rows)
    # borderline pairs across persons, to look at before trusting the clusters
    gid = {i: g for g, members in enumerate(groups) for i in members}
    for i in range(len(rows)):
        for j in range(i + 1, len(rows)):
            if gid[i] != gid[j] and D[i, j] < 0.65: print(f"borderline {D[i, j]:.3f} {keys[i]} {keys[j]}")
            if gid[i] == gid[j] and D[i, j] > 0.45: print(f"loose      {D[i, j]:.3f} {keys[i]} {keys[j]}")
    frames = lambda r: min(MAX_FRAMES, int(r['n_frames'] / r['fps'] * FPS))
    persons = []
    for g in groups:
        rs = sorted((rows[i] for i in g), key=lambda r: (-frames(r), -r['n_frames'], r['repo'], r['path']))
        chosen, seen = [], set()
        for r in rs:   # longest first; other repositories / folders before more of the same
            if len(chosen) == MAX_CLIPS: break
            if (r['repo'], str(Path(r['path']).parent)) not in seen: chosen.append(r); seen.add((r['repo'], str(Path(r['path']).parent)))
        for r in rs:
            if len(chosen) < MAX_CLIPS and r not in chosen: chosen.append(r)
        persons.append(sorted(chosen, key=lambda r: (r['repo'], r['path'])))
    persons.sort(key=lambda cs: (cs[0]['repo'], cs[0]['path']))
    # splits: persons in the order of a hash of their first clip, each to the split that brings the shares of
    # persons and of frames (overall and within the person's first repository) closest to TARGET
    order = sorted(range(len(persons)), key=lambda p: hashlib.sha256(key(persons[p][0]['repo'], persons[p][0]['path']).encode()).hexdigest())
    pf = {p: sum(frames(r) for r in persons[p]) for p in order}
    N, F = len(persons), sum(pf.values())
    count = {s: [0, 0] for s in TARGET}; by_repo = {}
    def loss(cnt, n, f): return sum((cnt[s][0] / n - TARGET[s][0]) ** 2 + (cnt[s][1] / f - TARGET[s][1]) ** 2 for s in TARGET)
    split = {}
    for p in order:
        repo = persons[p][0]['repo']; rc = by_repo.setdefault(repo, {s: [0, 0] for s in TARGET})
        rn, rf = sum(1 for q in order if persons[q][0]['repo'] == repo), sum(pf[q] for q in order if persons[q][0]['repo'] == repo)
        def after(s):
            c = {k: list(v) for k, v in count.items()}; c[s][0] += 1; c[s][1] += pf[p]
            r = {k: list(v) for k, v in rc.items()}; r[s][0] += 1; r[s][1] += pf[p]
            return loss(c, N, F) + 0.3 * loss(r, rn, rf)
        s = min(TARGET, key=lambda s: (after(s), s))
        split[p] = s; count[s][0] += 1; count[s][1] += pf[p]; rc[s][0] += 1; rc[s][1] += pf[p]
    out = []
    for p, cs in enumerate(persons):
        pid = f"p{p + 1:03d}"
        names = set()
        for r in cs:
            p_ = Path(r['path']); stem = p_.stem if p_.stem.lower() not in ('video', 'clip') else f"{p_.parent.name}_{p_.stem}"
            stem = slug(f"{r['repo'].split('/')[1]}_{stem}").lower()
            assert stem not in names; names.add(stem)
            out.append(dict(repo=r['repo'], commit=r['commit'], path=r['path'], sha256=r['sha256'], bytes=r['bytes'],
                            person=pid, split=split[p], clip=f"{pid}/{stem}{Path(r['path']).suffix.lower()}", frames=frames(r)))
    tot = {}
    for r in out:
        t = tot.setdefault(r['split'], [set(), 0, 0]); t[0].add(r['person']); t[1] += 1; t[2] += r['frames']
    for s, (ps, nc, nf) in sorted(tot.items()): print(f"{s}: {len(ps)} persons, {nc} clips, ~{nf} frames")
    for p in sorted({r['person'] for r in out}):
        rs = [r for r in out if r['person'] == p]
        print(p, rs[0]['split'], sum(r['frames'] for r in rs), ' '.join(f"{r['repo'].split('/')[1]}:{Path(r['path']).name}" for r in rs))
    Path(a.manifest).parent.mkdir(parents=True, exist_ok=True)
    with open(a.manifest, 'w', newline='') as f:
        w = csv.DictWriter(f, fieldnames=['repo', 'commit', 'path', 'sha256', 'bytes', 'person', 'split', 'clip'], extrasaction='ignore')
        w.writeheader(); w.writerows(out)
    print(f"wrote {a.manifest}: {len(out)} clips")

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('cmd', choices=['scan', 'plan', 'sheet']); ap.add_argument('clips', nargs='*')
    ap.add_argument('--repos', default='/work/.mirror'); ap.add_argument('--scratch', default='/work/realscratch')
    ap.add_argument('--manifest', default='data/real/manifest.csv'); ap.add_argument('--out', default='/work/realscratch/sheet.png')
    a = ap.parse_intermixed_args()
    {'scan': scan, 'plan': plan, 'sheet': sheet}[a.cmd](a)
