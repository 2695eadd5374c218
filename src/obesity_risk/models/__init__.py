"""Model families, tuning, training and the registry."""
