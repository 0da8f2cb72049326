"""Blended courses and continuous professional development (issue 16): face-to-face
sessions and attendance, course completion rules, certificates."""
