"""Business rules and transaction decisions. Raise `src.core.exceptions`, never HTTP errors."""
