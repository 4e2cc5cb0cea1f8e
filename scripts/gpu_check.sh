#!/usr/bin/env bash
# GPU checks in under 5 minutes on one GPU: the CUDA tests, the renderer's tests on a CUDA machine,
# the render benchmark (CPU and CUDA side by side, batched renders per second), the style benchmark,
# and the learning-loop benchmark (flat searches run on faiss-gpu when it sees the GPU).
#   scripts/gpu_check.sh            # uses .venv/bin/python when present, else python3
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
"$PY" -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print('torch', torch.__version__, \
torch.cuda.get_device_name())"
status=0
"$PY" -m pytest -q -p no:cacheprovider tests/renderer || status=1
"$PY" -m prismarec.scripts.bench_render --n3 1 120
"$PY" -m prismarec.scripts.bench_style --repeats 3 --gatys-iters 3  # onnxruntime uses CUDA when onnxruntime-gpu is installed
"$PY" -c "import faiss; print('faiss', faiss.__version__, 'GPUs seen by faiss:', faiss.get_num_gpus())"
"$PY" -m prismarec.scripts.bench_recommend --sizes 1000 100000 --queries 20
exit $status
