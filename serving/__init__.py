"""Serving stage of Vitals."""
