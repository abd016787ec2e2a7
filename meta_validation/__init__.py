"""optsearch: meta_validation."""
