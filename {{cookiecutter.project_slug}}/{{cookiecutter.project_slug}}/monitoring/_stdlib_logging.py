"""The standard library logging switches that make every LogRecord cheaper.

Each LogRecord looks up its caller (a walk up the stack frames) and the current
thread and process names, and no line of ours renders any of them (logs.py).
The logging HOWTO's "Optimization" section lists the switches that skip them:
`logThreads`, `logProcesses` and `logMultiprocessing` are documented module
attributes; `_srcfile = None` is private, a module global that Logger._log
checks before calling findCaller.

Written against CPython 3.11 (where the access line was measured with these
switches). If a release renames `_srcfile` or stops reading it, setting it does
nothing and every record walks the stack again: lines stay the same, each one
slower. The test `test_records_skip_the_caller_thread_and_process_lookups`
(tests/test_logging.py) fails when that happens: fix this module.
"""

import logging


def skip_unrendered_record_attributes() -> None:
    """No caller, thread or process lookup for the records of this process."""
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
