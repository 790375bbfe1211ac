"""Where supercon's served model lived: models logged before the composition kind took it over run code
that imports `SuperconModel` from here, so the name stays (tasks/composition/served_model.py)."""

from physml.tasks.composition.served_model import CompositionModel as SuperconModel

__all__ = ["SuperconModel"]
