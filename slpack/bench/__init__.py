"""``slpack bench``: slpack's function against the same pipeline served by scikit-learn.

:mod:`~slpack.bench.measure` runs both (and the floor) in isolated interpreters, interleaved;
:mod:`~slpack.bench.report` turns the raw measurements into figures, ratios and aims.
"""
