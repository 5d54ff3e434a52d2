#!/usr/bin/python3
"""Summary of bench/drift_nights.sh: per series and PSI floor, the sensors each night names."""
import glob
import json
import os
import sys


def main():
    work = sys.argv[1]
    for series in ("planted", "clean0", "clean2"):
        for floor in ("0.25", "1e-6"):
            files = sorted(glob.glob(os.path.join(work, series, f"reports_{floor}", "night_*.json")))
            if not files:
                continue
            print(f"## {series}, PSI floor {floor}")
            alarms = 0
            for f in files:
                d = json.load(open(f))["monitoring"]["drift"]
                sensors = []
                for c in d["drifted"]:
                    s = c["column"].split("/")[0]
                    if s not in sensors:
                        sensors.append(s)
                top = max(d["columns"], key=lambda c: c["psi"])
                lows = min(c["psi_threshold"] for c in d["columns"])
                alarms += 1 if sensors else 0
                print(f"{os.path.basename(f)}: wafers {d['wafers']}, threshold {lows:.3f}-"
                      f"{d['applied_psi_threshold']:.3f}, largest PSI {top['psi']:.3f} ({top['column']}), "
                      f"named {len(d['drifted'])} columns of {sensors or 'no sensor'}")
            print(f"nights naming any column: {alarms} of {len(files)}\n")


if __name__ == "__main__":
    main()
