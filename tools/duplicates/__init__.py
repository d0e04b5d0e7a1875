"""Detect duplicates and suggest alternative images (issue 5).

For other operations (e.g. the photobook): ``group_photos`` groups a user's photos (``Image``
rows or ``PhotoFeatures``) into duplicate groups, each with the copy to keep, and similar
groups (bursts) ranked best first; ``Grouping.redundant_copies()`` and
``Grouping.best_per_moment()`` are the image ids to leave out.
"""

from __future__ import annotations

from tools.duplicates.features import PhotoFeatures, from_image
from tools.duplicates.grouping import DuplicateGroup, Grouping, SimilarGroup, group_photos
from tools.duplicates.operations import register

__all__ = ["DuplicateGroup", "Grouping", "PhotoFeatures", "SimilarGroup", "from_image", "group_photos", "register"]
