"""The kernel registry: the one list of what the interpreter evaluates faithfully.

Each entry maps an ONNX operator (``domain:op_type``, the default domain written ``ai.onnx``) to
the module and factory that build its kernel, and to the attribute values the kernel implements
(an attribute not named accepts any value; every element of a list attribute must be allowed).
The build side (``slpack.pycompile``) reads this table to decide what a graph needs that is
missing, so a kernel added here is compiled for at once and nothing can be compiled that the
runtime would refuse.

The program loader imports only the modules the program's steps name: a linear model never pays
for the tree or text kernels.
"""

from __future__ import annotations

MAGIC = b"SLPYRT"
"""First bytes of a compiled program."""
VERSION = 2
"""The program layout this runtime reads; bumped on any change an older runtime would misread."""

_TRANSFORMS: tuple[object, ...] = ("NONE", "LOGISTIC", "SOFTMAX", "SOFTMAX_ZERO", "PROBIT")
_TREE: dict[str, tuple[object, ...]] = {
    "post_transform": _TRANSFORMS,
    "aggregate_function": ("SUM", "AVERAGE", "MIN", "MAX"),
    "nodes_modes": ("BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT", "LEAF"),
}

Constraints = dict[str, tuple[object, ...]]
KERNELS: dict[str, tuple[str, str, Constraints]] = {
    # elementwise arithmetic and logic (elementwise.py)
    "ai.onnx:Abs": ("elementwise", "unary", {}),
    "ai.onnx:Neg": ("elementwise", "unary", {}),
    "ai.onnx:Sqrt": ("elementwise", "unary", {}),
    "ai.onnx:Exp": ("elementwise", "unary", {}),
    "ai.onnx:Log": ("elementwise", "unary", {}),
    "ai.onnx:Reciprocal": ("elementwise", "unary", {}),
    "ai.onnx:Sigmoid": ("elementwise", "unary", {}),
    "ai.onnx:Tanh": ("elementwise", "unary", {}),
    "ai.onnx:Relu": ("elementwise", "unary", {}),
    "ai.onnx:Erf": ("elementwise", "unary", {}),
    "ai.onnx:Floor": ("elementwise", "unary", {}),
    "ai.onnx:Ceil": ("elementwise", "unary", {}),
    "ai.onnx:Round": ("elementwise", "unary", {}),
    "ai.onnx:Sign": ("elementwise", "unary", {}),
    "ai.onnx:Softplus": ("elementwise", "unary", {}),
    "ai.onnx:IsNaN": ("elementwise", "unary", {}),
    "ai.onnx:IsInf": ("elementwise", "unary", {}),
    "ai.onnx:Not": ("elementwise", "unary", {}),
    "ai.onnx:Identity": ("elementwise", "identity", {}),
    "ai.onnx:Add": ("elementwise", "binary", {}),
    "ai.onnx:Sub": ("elementwise", "binary", {}),
    "ai.onnx:Mul": ("elementwise", "binary", {}),
    "ai.onnx:Div": ("elementwise", "binary", {}),
    "ai.onnx:Pow": ("elementwise", "binary", {}),
    "ai.onnx:Equal": ("elementwise", "binary", {}),
    "ai.onnx:Less": ("elementwise", "binary", {}),
    "ai.onnx:LessOrEqual": ("elementwise", "binary", {}),
    "ai.onnx:Greater": ("elementwise", "binary", {}),
    "ai.onnx:GreaterOrEqual": ("elementwise", "binary", {}),
    "ai.onnx:And": ("elementwise", "binary", {}),
    "ai.onnx:Or": ("elementwise", "binary", {}),
    "ai.onnx:Xor": ("elementwise", "binary", {}),
    "ai.onnx:Sum": ("elementwise", "variadic", {}),
    "ai.onnx:Max": ("elementwise", "variadic", {}),
    "ai.onnx:Min": ("elementwise", "variadic", {}),
    "ai.onnx:Mean": ("elementwise", "variadic", {}),
    "ai.onnx:Where": ("elementwise", "where", {}),
    "ai.onnx:Clip": ("elementwise", "clip", {}),
    "ai.onnx:Cast": ("elementwise", "cast", {}),
    # shapes, selection and layout (shape.py)
    "ai.onnx:Reshape": ("shape", "reshape", {"allowzero": (0,)}),
    "ai.onnx:Flatten": ("shape", "reshape", {}),
    "ai.onnx:Squeeze": ("shape", "reshape", {}),
    "ai.onnx:Unsqueeze": ("shape", "reshape", {}),
    "ai.onnx:Shape": ("shape", "shape_of", {}),
    "ai.onnx:ConstantOfShape": ("shape", "constant_of_shape", {}),
    "ai.onnx:Concat": ("shape", "concat", {}),
    "ai.onnx:Gather": ("shape", "gather", {}),
    "ai.onnx:Slice": ("shape", "slice_", {}),
    "ai.onnx:Transpose": ("shape", "transpose", {}),
    "ai.onnx.ml:ArrayFeatureExtractor": ("shape", "array_feature_extractor", {}),
    # reductions and selections along an axis (reduce.py)
    "ai.onnx:ReduceSum": ("reduce", "reduce", {}),
    "ai.onnx:ReduceMean": ("reduce", "reduce", {}),
    "ai.onnx:ReduceMax": ("reduce", "reduce", {}),
    "ai.onnx:ReduceMin": ("reduce", "reduce", {}),
    "ai.onnx:ReduceProd": ("reduce", "reduce", {}),
    "ai.onnx:ReduceSumSquare": ("reduce", "reduce", {}),
    "ai.onnx:ReduceLogSumExp": ("reduce", "reduce", {}),
    "ai.onnx:ReduceL1": ("reduce", "reduce", {}),
    "ai.onnx:ReduceL2": ("reduce", "reduce", {}),
    "ai.onnx:ArgMax": ("reduce", "arg", {}),
    "ai.onnx:ArgMin": ("reduce", "arg", {}),
    "ai.onnx:TopK": ("reduce", "topk", {}),
    "ai.onnx:Softmax": ("reduce", "softmax", {}),
    "ai.onnx:LogSoftmax": ("reduce", "softmax", {}),
    # matrix products (linalg.py)
    "ai.onnx:MatMul": ("linalg", "gemm", {}),
    "ai.onnx:Gemm": ("linalg", "gemm", {}),
    # preprocessing (preprocess.py)
    "ai.onnx.ml:Scaler": ("preprocess", "scaler", {}),
    "ai.onnx.ml:Imputer": ("preprocess", "imputer", {}),
    "ai.onnx.ml:Normalizer": ("preprocess", "normalizer", {"norm": ("MAX", "L1", "L2")}),
    "ai.onnx.ml:Binarizer": ("preprocess", "binarizer", {}),
    "ai.onnx.ml:LabelEncoder": ("preprocess", "lookup", {}),
    "ai.onnx.ml:CategoryMapper": ("preprocess", "lookup", {}),
    "ai.onnx.ml:OneHotEncoder": ("preprocess", "one_hot", {}),
    # linear and kernel models (linear.py)
    "ai.onnx.ml:LinearClassifier": (
        "linear",
        "linear_classifier",
        {"post_transform": _TRANSFORMS},
    ),
    "ai.onnx.ml:LinearRegressor": ("linear", "linear_regressor", {"post_transform": ("NONE",)}),
    "ai.onnx.ml:SVMClassifier": (
        "linear",
        "svm_classifier",
        {"post_transform": _TRANSFORMS, "kernel_type": ("LINEAR", "POLY", "RBF", "SIGMOID")},
    ),
    "ai.onnx.ml:SVMRegressor": (
        "linear",
        "svm_regressor",
        {"post_transform": ("NONE",), "kernel_type": ("LINEAR", "POLY", "RBF", "SIGMOID")},
    ),
    # tree ensembles (trees.py)
    "ai.onnx.ml:TreeEnsembleClassifier": ("trees", "tree_classifier", _TREE),
    "ai.onnx.ml:TreeEnsembleRegressor": ("trees", "tree_regressor", _TREE),
    # text (text.py)
    "ai.onnx:StringNormalizer": (
        "text",
        "string_normalizer",
        {"locale": ("", "C"), "case_change_action": ("NONE", "LOWER", "UPPER")},
    ),
    "com.microsoft:Tokenizer": ("text", "tokenizer", {}),
    "ai.onnx:TfIdfVectorizer": ("text", "tfidf", {"mode": ("TF", "IDF", "TFIDF")}),
    # control flow (control.py)
    "ai.onnx:Scan": (
        "control",
        "scan",
        {
            "scan_input_axes": (0,),
            "scan_input_directions": (0,),
            "scan_output_axes": (0,),
            "scan_output_directions": (0,),
        },
    ),
}
