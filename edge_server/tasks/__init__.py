"""Tasks (issue 15): learners hand in files for a pack's ``task`` item; instructors review
them with the item's rubric. The files stay on the Pi; the ``submitted`` and ``reviewed``
events (metadata, checksums, rubric result) are the record that syncs to central."""
