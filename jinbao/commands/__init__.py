"""CLI sub-command groups, one module each (`app = typer.Typer()`), registered in jinbao/cli.py."""
