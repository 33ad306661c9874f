"""PRD Drift Comparator: claims in planning docs checked against a git revision."""
