"""The CLI's sub-command groups, one module each, every one a `typer.Typer()` named `app` that
`jinbao/cli.py` mounts with one line. Commands parse options, call the layer below and print: no domain
logic here."""
