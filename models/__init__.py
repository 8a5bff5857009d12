"""Training layer (PyTorch): datasets, models, training and evaluation."""
