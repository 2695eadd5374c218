"""The classes stored inside a pickled pipeline (target encoding, the blend, the
calibration map): imported by every process that loads a model, so they import nothing heavy."""
