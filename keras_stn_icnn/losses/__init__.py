"""Training losses of the zoo models, one family per module."""
