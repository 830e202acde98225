#!/usr/bin/env python3
"""bench/compare_ref.py: the side-by-side table of one device call.

Reads tetri bench-step's tables (bench_flux.txt, bench_sd3.txt) and the PyTorch reference's output
(torch_ref.txt, its last line a JSON object "model-res": ms) from one folder, and prints the
markdown table the benchmark notes carry: GPU, model, resolution, both times, ratio, target, met.
tetri's time is the step (graph replay) plus the request's one-off conditioning spread over the
28 steps of the schedule (the "+prep/28" column), so nothing tetri moved out of the step is lost.

usage: bench/compare_ref.py DIR
"""
import json
import os
import sys

TARGETS = {256: 0.5, 512: 0.5, 1024: 1.0, 2048: 1.0}


def read_bench(path):
    """{res: (ms, tokens)} from a bench-step table. Data rows are: res, tokens, ms/step, p10-p90,
    TFLOP/s, mem GiB, prep ms, +prep/28, attention[, eager ms] (older logs: the first six)."""
    rows = {}
    if not os.path.exists(path):
        return rows
    for line in open(path):
        f = line.split()
        if not f or not f[0].isdigit():
            continue
        ms = float(f[7]) if len(f) >= 9 else float(f[2])
        rows[int(f[0])] = (ms, f[1])
    return rows


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    d = sys.argv[1]
    gpu = 'unknown GPU'
    gpath = os.path.join(d, 'gpu.txt')
    if os.path.exists(gpath):
        lines = [l for l in open(gpath) if l.strip() and not l.startswith('name')]
        if lines:
            gpu = lines[0].split(',')[0].strip()
    ref = {}
    rpath = os.path.join(d, 'torch_ref.txt')
    if os.path.exists(rpath):
        for line in open(rpath):
            if line.startswith('{'):
                ref = json.loads(line)
    print(f'**{gpu}**\n')
    print('| model | res | tokens (img+txt) | tetri ms/step | PyTorch ms/step | ratio | target | met |')
    print('|---|---|---|---|---|---|---|---|')
    missed = 0
    for key, name, fname in (('flux', 'FLUX.1-dev', 'bench_flux.txt'), ('sd3', 'SD3-medium', 'bench_sd3.txt')):
        ours = read_bench(os.path.join(d, fname))
        for res in sorted(ours):
            ms, tok = ours[res]
            r = ref.get(f'{key}-{res}')
            if r is None:
                print(f'| {name} | {res} | {tok} | {ms:.2f} | - | - | - | - |')
                continue
            ratio = ms / r
            t = TARGETS.get(res)
            met = '-' if t is None else ('yes' if ratio <= t else '**no**')
            missed += met == '**no**'
            print(f'| {name} | {res} | {tok} | {ms:.2f} | {r:.2f} | {ratio:.2f} | {"<= %.1f" % t if t else "-"} | {met} |')
    print(f'\n{missed} target(s) missed')


if __name__ == '__main__':
    main()
