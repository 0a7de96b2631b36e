"""A pipeline run: extract sources into the lake, load the lake into the warehouse."""
