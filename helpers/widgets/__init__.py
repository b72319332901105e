"""Interactive explorers for the notebooks (ipywidgets 8): display the widget each function returns.

    sliding_filter_explorer()   # notebooks 01 and 02: a filter sliding over a padded input, with dilation
    pooling_explorer()          # notebook 03: max or average pooling, and its matrix A_MaxPool / A_AvgPool
    architecture_explorer()     # notebook 04: layer tables and memory / parameter bar charts of classic networks

The logic lives in plain Python classes (``SlidingFilter``, ``Pooling``, ``ArchitectureTable``) that the
widgets only drive, so everything also runs headless (nbclient, unit tests). Every widget carries a CSS class
``convnets-...`` for browser tests.
"""
from .architecture import ArchitectureExplorer, ArchitectureTable, architecture_explorer
from .pooling import Pooling, PoolingExplorer, pooling_explorer
from .sliding import SlidingFilter, SlidingFilterExplorer, sliding_filter_explorer

__all__ = ["ArchitectureExplorer", "ArchitectureTable", "Pooling", "PoolingExplorer", "SlidingFilter",
           "SlidingFilterExplorer", "architecture_explorer", "pooling_explorer", "sliding_filter_explorer"]
