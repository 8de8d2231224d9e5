"""The stock ledger's tables: changes to levels (`level.py`), ledger rows (`movement.py`), the
posting statement that writes both (`posting.py`) and the reads of both (`read.py`)."""
