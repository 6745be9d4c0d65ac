"""Operating the app: `python -m ops.cluster` (make cluster)."""
