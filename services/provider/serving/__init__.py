"""Serving one sealed job: open it, run the engine, seal every delta, sign the receipt."""
