"""Report stage: one self-contained HTML file per run."""
