"""What the database becomes for a reader: tables in several formats, diffs, figures."""
