"""The bottom layer: what every other package shares (errors, YAML reading, atomic files; the shared TSV
record helper belongs here too). It imports no other jinbao package (docs/architecture.md)."""
