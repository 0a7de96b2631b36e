"""The `shopflow` command line: thin commands that parse, call the API and print."""
