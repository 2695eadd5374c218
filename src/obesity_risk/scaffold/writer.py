"""The scaffolded configuration as commented YAML: what was decided, then the sections a user
is likely to change next, commented out with their packaged defaults."""

from __future__ import annotations

from typing import Any

import yaml

_NEXT = """\
# ----------------------------------------------------------------------------------------------
# Everything else comes from the packaged defaults (`obesity-risk config` prints the merged
# result). The settings a new dataset changes most often:
#
# models:
#   metric: null         # null: accuracy (classification) or rmse (regression); also
#                        # balanced_accuracy | f1_macro | log_loss | roc_auc (binary) | mae | r2
#   threshold: auto      # binary: the positive class's decision threshold (auto: on validation)
#   interval_coverage: 0.9  # regression: the share of rows each prediction's interval covers
# evaluation:
#   slices:              # default: one per categorical column with at most 10 categories
#     - {column: <categorical column>}
#     - {column: <numeric column>, bins: [0, 10, 100]}
#   gate:
#     min_score: null    # a validation models.metric worse than this is never promoted
# features:
#   engineered:          # computed inside the pipeline (ops: obesity_risk.formulas)
#     - {name: ratio_ab, op: ratio, inputs: {num: <column>, den: <column>}}
#
# Next: obesity-risk train --config THIS_FILE --budget smoke   (then default)
#       obesity-risk serve --config THIS_FILE
"""


def _comment(lines: list[str]) -> str:
    # a column name may hold a line break: a comment stays one line
    return "".join(f"# {' '.join(line.splitlines())}\n" for line in lines)


def render(data: dict[str, Any], notes: list[str], output: str = "THIS_FILE") -> str:
    """The YAML of ``data`` with ``notes`` as a header and a guide to the other sections."""
    head = _comment(
        [
            "Written by `obesity-risk init`: every column typed from the whole file.",
            "A numeric column's description gives its observed range; add min/max to refuse",
            "values outside a valid range (the API and batch scoring refuse them too).",
            "Categories are the observed ones: a value outside them is refused. Decisions:",
            *[f"  - {note}" for note in notes],
        ]
    )
    body = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    return head + body + _NEXT.replace("THIS_FILE", output)
