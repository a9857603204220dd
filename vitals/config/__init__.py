"""The bottom layer: configuration any stage may import (settings, the MLflow store)."""
