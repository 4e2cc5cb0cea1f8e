"""Choose render parameters for a new photo from curators' verdicts: neighbour votes, a taste model, fallbacks.

The package itself stays light, so that `ranking` and the CLI's `--help` load without
scikit-learn and torch: import what you need from `recommender.recommend` (the entry points),
`recommender.ranking` and the other modules.
"""

# Below this cosine similarity a photo is not a neighbour worth copying: on the demo curation
# (EfficientNet-Lite0), crops of one scene score 0.70-0.98 and another scene at most 0.37.
MIN_SIMILARITY = 0.5

