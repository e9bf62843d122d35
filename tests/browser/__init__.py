"""Real-browser tests and the helpers that start a JupyterLab server for tests (``labserver``)."""
