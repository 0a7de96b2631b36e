"""Tests of the example pipelines in examples/: each runs end to end on the sample data it ships."""
