"""A learned alternative: predict each parameter from the embedding with scikit-learn.

Unlike the kNN ranking it treats parameters independently, which is what the evaluation
compares against.
"""

from __future__ import annotations

from dataclasses import fields

import numpy as np
from sklearn.linear_model import LogisticRegression, Ridge

from renderer.params import RANGES, RenderParams


class LearnedRecommender:
    """Ridge regression for numeric fields, logistic regression for categorical ones."""

    def __init__(self) -> None:
        self.models: dict[str, object] = {}
        self.constants: dict[str, object] = {}

    def fit(self, embeddings: np.ndarray, targets: list[RenderParams]) -> LearnedRecommender:
        if len(targets) == 0:
            raise ValueError("nothing to learn from: no curated photos")
        for f in fields(RenderParams):
            values = [getattr(t, f.name) for t in targets]
            if len(set(map(repr, values))) == 1:
                self.constants[f.name] = values[0]
            elif f.name in RANGES and all(isinstance(v, int | float) for v in values):
                self.models[f.name] = Ridge(alpha=1.0).fit(embeddings, np.array(values, float))
            else:
                labels = [repr(v) for v in values]
                model = LogisticRegression(max_iter=500, C=10.0).fit(embeddings, labels)
                self.models[f.name] = (model, dict(zip(labels, values, strict=True)))
        return self

    def predict(self, embedding: np.ndarray) -> RenderParams:
        x = np.atleast_2d(embedding)
        out = dict(self.constants)
        types = {f.name: str(f.type) for f in fields(RenderParams)}
        for name, model in self.models.items():
            if isinstance(model, tuple):
                clf, decode = model
                out[name] = decode[clf.predict(x)[0]]
            else:
                low, high = RANGES[name]
                value = float(np.clip(model.predict(x)[0], low, high))
                out[name] = int(round(value)) if types[name].startswith("int") else value
        return RenderParams.from_dict(out)
