"""Training logs: reading them (`training_logs`) and judging their curves (`curves`)."""
