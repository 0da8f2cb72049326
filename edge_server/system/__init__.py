"""The Pi itself: power flags, the clock, USB sticks, and the root helper that acts on them.

Plain functions without Flask (issue 19): the Site page, ``kru doctor`` and sync read them.
Anything that needs root goes through :mod:`.helper`, one narrow request at a time.
"""
