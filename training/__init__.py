"""Training stage of Vitals."""
