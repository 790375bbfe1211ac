"""Pieces every task's models share: the Keras epoch reporter, the pyfunc base class."""
