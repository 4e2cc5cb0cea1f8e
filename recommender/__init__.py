"""Choose render parameters for a new photo from curators' verdicts: neighbour votes, a taste model, fallbacks."""

from .ranking import best_per_photo, rank
from .recommend import Recommendation, recommend, recommend_for_vector

__all__ = ["Recommendation", "best_per_photo", "rank", "recommend", "recommend_for_vector"]
