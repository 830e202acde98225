#!/usr/bin/env python3
"""bench/profile_from_measure_log.py: rebuild a profile database from what `tetri profile measure
--degrees` printed, for a run whose database did not come back from the GPU machine (session 5:
the device tool returned the log, bench/results/h200/session5/measure_degrees.txt, but not the
.db). Every number comes from the log; nothing is estimated:

  degree-1 rows      median, p10, p90, CV and the SM clocks seen, as printed (source 'measured')
  degree-k rows      median, p10, p90, CV as printed: the widest rank's compute measured on the GPU
                     plus the all-to-alls modelled on the link (source
                     'measured-compute+modelled-comm'); the log's compute and comm split goes into
                     the method text
  prepare stage      as printed
  migration          the request state's bytes over the link model, the formula of
                     cli/cmd_profile_measure.c (modelled_migration_ns): latent f32 + text bf16 +
                     the modulation table of 20 steps + sigmas, floor + bytes / bandwidth
  hardware           the link model's row copied from profiles/default.db (figures and source)

usage: bench/profile_from_measure_log.py LOG OUT.db [--link-from profiles/default.db]
"""
import re
import sqlite3
import sys
import os

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# dit_layout_build's mod_total (every block's modulation row) and the token widths, per model
MODEL = {"flux-dev": {"mod_total": 1056768, "tin": 64, "text_dim": 4096, "T": 512},
         "sd3-medium": {"mod_total": 439296, "tin": 64, "text_dim": 4096, "T": 333}}
STEPS = 20  # the schedule profile measure's slots follow (its --steps default)


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    log, out = argv[1], argv[2]
    link_db = argv[argv.index("--link-from") + 1] if "--link-from" in argv else os.path.join(SRC, "profiles/default.db")
    text = open(log).read().splitlines()
    gpu, hw = None, None
    rows, stages = [], []
    for line in text:
        m = re.match(r"# tetri profile measure on device \d+: (.*)$", line)
        if m:
            gpu = m.group(1)
        m = re.match(r"# into .*, hardware '(\w+)'", line)
        if m:
            hw = m.group(1)
        m = re.match(r"(\S+)\s+(\d+)\s+prepare ([\d.]+) ms", line)
        if m:
            stages.append((m.group(1), int(m.group(2)), round(float(m.group(3)) * 1e6)))
            continue
        m = re.match(r"(\S+)\s+(\d+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+(\d+)\.\.(\d+)\s+(\S+)$", line)
        if m:
            model, res, batch = m.group(1), int(m.group(2)), int(m.group(3))
            med, p10, p90, cv = (float(m.group(i)) for i in (4, 5, 6, 7))
            method = (f"tetri profile measure: CUDA graph of one step, {m.group(10)} attention, 20 samples after 5 warm-up; {gpu}; "
                      f"SM clock seen {m.group(8)}..{m.group(9)} MHz (row rebuilt from the command's printed output, {log})")
            rows.append((model, res, batch, 1, med, p10, p90, cv, "measured", method))
            continue
        m = re.match(r"(\S+)\s+(\d+)\s+(\d+)\s+(\d)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+compute\s+([\d.]+) \+ comm\s+([\d.]+)", line)
        if m:
            model, res, batch, k = m.group(1), int(m.group(2)), int(m.group(3)), int(m.group(4))
            med, p10, p90, cv = (float(m.group(i)) for i in (5, 6, 7, 8))
            method = (f"tetri profile measure --degrees: the widest rank of {k} computed alone (CUDA graph, null transport) "
                      f"{m.group(9)} ms median over 20 samples after 5 warm-up on {gpu}; + {m.group(10)} ms of all-to-alls modelled "
                      f"on {hw}'s link (2 per block) (row rebuilt from the command's printed output, {log})")
            rows.append((model, res, batch, k, med, p10, p90, cv, "measured-compute+modelled-comm", method))
    if not gpu or not hw or not rows:
        sys.exit(f"{log}: no 'tetri profile measure' header or rows")
    src = sqlite3.connect(link_db)
    hrow = src.execute("SELECT * FROM hardware WHERE name = ?", (hw,)).fetchone()
    if not hrow:
        sys.exit(f"{link_db}: no hardware '{hw}' to take the link model from")
    gbps, lat_us = hrow[5], hrow[8]
    if os.path.exists(out):
        os.unlink(out)
    db = sqlite3.connect(out)
    db.executescript(open(os.path.join(SRC, "profiles/schema.sql")).read())
    db.executemany("INSERT INTO meta VALUES (?, ?)", [("kind", "tetri-profile"), ("schema_version", "2"),
                                                      ("generator", "bench/profile_from_measure_log.py " + os.path.basename(log)),
                                                      ("default_hardware", hw)])
    gpu_name = gpu.split(",")[0]
    db.execute("INSERT INTO hardware VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", (hw, gpu_name) + tuple(hrow[2:]))
    for model, res, batch, k, med, p10, p90, cv, source, method in rows:
        db.execute("INSERT INTO step_latency VALUES (?, ?, ?, ?, ?, ?, 1, ?, 'nvlink', ?, ?, ?, ?, 20, ?, '2026-12-03', ?)",
                   (hw, model, res, res, k, k, batch, round(med * 1e6), round(p10 * 1e6), round(p90 * 1e6), cv, source, method))
    for model, res, ns in stages:
        db.execute("INSERT INTO stage_latency VALUES (?, ?, ?, ?, 'prepare', ?, 'measured')", (hw, model, res, res, ns))
        s = MODEL[model]
        n = (res // 16) ** 2
        nbytes = n * s["tin"] * 4.0 + s["T"] * s["text_dim"] * 2.0 + STEPS * s["mod_total"] * 2.0 + (STEPS + 1) * 4.0
        db.execute("INSERT INTO migration VALUES (?, ?, ?, ?, 'nvlink', ?, 'analytic')",
                   (hw, model, res, res, round((lat_us * 1e-6 + nbytes / (gbps * 1e9)) * 1e9)))
    db.commit()
    print(f"wrote {out}: {len(rows)} step rows, {len(stages)} prepare rows and migration rows of '{hw}' ({gpu_name})")


if __name__ == "__main__":
    main(sys.argv)
