"""Training: splits, tuning, selection, blending and calibration fitting, candidates,
evaluation, promotion, the trainer. Nothing below it imports it."""
