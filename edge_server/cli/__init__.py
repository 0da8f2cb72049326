"""The ``kru`` command line: a click group whose commands call one library function each."""
