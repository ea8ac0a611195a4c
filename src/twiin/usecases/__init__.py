"""Use cases on top of the exchange patterns: BgZ (query set, data categories)."""

from twiin.usecases import bgz

__all__ = ["bgz"]
