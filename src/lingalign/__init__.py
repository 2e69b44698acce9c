"""lingalign: align languages during instruction tuning (CoIT / MuIT) and measure the result.

Stages live in sub-packages (data, train, evaluate, scaling, analysis, report); each reads and
writes plain files with a manifest so it can run alone, be cached and resume.
"""

__version__ = "0.1.0"
