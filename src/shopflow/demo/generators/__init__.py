"""The data generators, one module per example shop; `shopflow.demo` exports their entry points."""
