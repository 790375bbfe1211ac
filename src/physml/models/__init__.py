"""Models: each is a scikit-learn estimator, wrapped with its scaler in one Pipeline."""
