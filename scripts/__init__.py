"""Benchmarks, evaluations, figures and the demo curation, run as `python -m prismarec.scripts.NAME`."""
