"""The lifecycle module: retention stages, their history, churn reasons and win-back lists."""
