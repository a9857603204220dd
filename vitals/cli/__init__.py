"""The `vitals` command line: one typer app on top of every stage (nothing imports it)."""
