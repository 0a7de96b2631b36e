"""Events posted to the ingest API: their durable buffer, their checks, and their micro-batches into the lake."""
