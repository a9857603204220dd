"""Features stage: the data contract, sample data, point-in-time feature snapshots and labels."""
