"""Choose render parameters for a new photo from the verdicts on its nearest neighbours."""

from .learned import LearnedRecommender
from .ranking import best_per_photo, rank
from .recommend import Recommendation, recommend, recommend_for_vector

__all__ = ["LearnedRecommender", "Recommendation", "best_per_photo", "rank", "recommend", "recommend_for_vector"]
