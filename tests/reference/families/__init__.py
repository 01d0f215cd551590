"""One module per model family of the PyTorch reference; see README.md in this directory."""
