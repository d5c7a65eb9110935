"""slpack: put a scikit-learn pipeline behind a serverless function.

The build side (this package) converts and verifies; the run side is ``slpack_handler``
(``handlers/``), which needs only numpy and onnxruntime.
"""

__version__ = "0.1.0"
