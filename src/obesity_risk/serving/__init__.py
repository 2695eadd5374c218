"""Serving: the one inference contract (:class:`~obesity_risk.serving.predictor.Predictor`),
its compiled and native fast paths, explanations, file and Dask scoring. Never imports training."""
