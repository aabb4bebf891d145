"""FitSync: the open-source platform for gyms, studios and personal trainers."""

__version__ = "0.1.0"
