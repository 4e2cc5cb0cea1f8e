"""onnxruntime sessions, made one way for every network prismarec runs through it."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import onnxruntime


def onnx_session(model: str | bytes, threads: int | None = None) -> onnxruntime.InferenceSession:
    """A session on CUDA when present, else the CPU, quiet, with `threads` if given."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    if threads:
        options.intra_op_num_threads = options.inter_op_num_threads = threads
    providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in ort.get_available_providers()]
    return ort.InferenceSession(model, options, providers=providers)
