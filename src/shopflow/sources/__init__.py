"""Sources: where data comes from. Each yields Arrow record batches."""
