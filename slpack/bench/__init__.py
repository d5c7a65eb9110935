"""``slpack bench``: both of slpack's runtimes against scikit-learn and against their floors.

:mod:`~slpack.bench.variants` makes the runtime a bundle does not ship from its own files;
:mod:`~slpack.bench.measure` runs every function in isolated interpreters, taking turns;
:mod:`~slpack.bench.report` turns the raw measurements into figures, ratios and aims.
"""
