"""The stock ledger: movements, transfers, counts and batches, their errors and references,
strict quantities, and that concurrent postings never lose, double or overdraw stock."""
