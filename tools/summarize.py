"""Write the seed log's results tables (bbox, segm) and an AP bar chart from work dirs.

    python tools/summarize.py work_dirs/ [--out RESULTS.md]

Each work dir is one run named after its config (mmdet's default); see
mmdet_evonorm/analysis/results_table.py for what is read. The chart is written next to
``--out`` (``RESULTS.png``). Existing outputs are never overwritten.
"""

import sys

from mmdet_evonorm.analysis.cli import summarize

if __name__ == "__main__":
    sys.exit(summarize())
