"""The event log (table `events`): appends, pages, positions, scans and the rebase."""
