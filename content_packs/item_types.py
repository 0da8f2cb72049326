"""The kinds of item a pack may hold, and the word a person reads for each.

``ITEM_TYPES`` is the item ``type`` enum of manifest.schema.json, in its order;
tests/test_item_type_labels.py keeps the two, and the labels, in step.
"""

from __future__ import annotations

from edge_server.base.errors import N_

ITEM_TYPES = ("lesson", "video", "audio", "pdf", "image", "quiz", "html5", "task", "observation")

# msgids: pages translate the one label they show (``_(labels[kind])``); Khmer in learn.po,
# tasks.po and practicum.po.
TYPE_LABELS: dict[str, str] = {
    "lesson": N_("Lesson"),
    "video": N_("Video"),
    "audio": N_("Audio"),
    "pdf": N_("PDF"),
    "image": N_("Image"),
    "quiz": N_("Quiz"),
    "html5": N_("Activity"),
    "task": N_("Task"),
    "observation": N_("Observation"),
}
