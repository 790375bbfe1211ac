"""Data: locating, downloading, loading and validating the studies' data sets."""
