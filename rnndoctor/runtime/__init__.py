"""The live run: the session over the user's objects and everything measured from it (layout, batches, steps, facts)."""
