"""Let Ralph's file-system LRS take more than one write (only on the Ralph test server).

Ralph 5.1.0's ``fs`` LRS backend writes every POST with the ``index`` operation to one file,
which refuses to write a file that exists: its second POST fails with 500. The tests put this
directory on the LRS process's PYTHONPATH so Python imports this module at start-up (in
uvicorn's worker process too) and the backend appends instead. Ralph's API, validation and
duplicate-id checks are unchanged.
"""

try:
    from ralph.backends.data.base import BaseOperationType
    from ralph.backends.lrs.fs import FSLRSBackend
except ImportError:  # not Ralph's virtualenv
    pass
else:
    FSLRSBackend.default_operation_type = BaseOperationType.APPEND
