"""The `cocore` command-line tool for auditors and operators."""
