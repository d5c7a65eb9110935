"""Print two request lines for the edge function: the whole catalog, then three queries.

The queries are catalog wines with measurement noise added, so their nearest neighbours are known.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

catalog = pd.read_csv(Path(__file__).with_name("sample.csv"))
rng = np.random.default_rng(0)
picks = [5, 70, 140]
queries = catalog.iloc[picks] * (1 + rng.normal(0, 0.02, (len(picks), catalog.shape[1])))
print(json.dumps({"instances": catalog.to_dict("records")}))
print(json.dumps({"instances": queries.to_dict("records")}))
