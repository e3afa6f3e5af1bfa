"""Placeholder: being written."""
def main() -> None:  # pragma: no cover
    raise SystemExit("not yet")
