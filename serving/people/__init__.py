"""What people add beside the model: CSM sentiment, band overrides, and the audit log of both."""
