"""Course authoring: drafts written in the browser editor, published as signed packs.

``drafts`` holds the draft domain (courses, modules, items, media, revisions),
``source`` writes a pack's source folder (the one writer shared by publish and export),
``publish`` turns a draft into a pack through ``build``, ``signing`` and ``install``.
"""
