"""The build side: scikit-learn model + sample -> verified ONNX bundle."""

from slpack.bundler.builder import BuildOptions, BuildResult, build_bundle

__all__ = ["BuildOptions", "BuildResult", "build_bundle"]
