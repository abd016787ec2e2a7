"""optsearch: simplify."""
