"""optsearch: search."""
