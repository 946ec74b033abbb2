"""Building blocks shared by several methods (one job per module; not methods themselves)."""
