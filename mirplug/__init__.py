"""mirplug: a plugin-based framework for music information retrieval with deep learning.

The core imports nothing heavy at module level so that ``mirplug --help`` and
``mirplug plugins`` answer quickly; torch and datasets are imported where they are used.
"""

__version__ = "0.1.0"
