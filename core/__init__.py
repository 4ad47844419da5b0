"""The bottom layer: what every other package shares and nothing else (errors, YAML/TSV I/O, atomic files,
findings). It imports no other jinbao package."""
