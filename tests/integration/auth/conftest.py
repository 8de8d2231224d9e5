"""Accounts and sign-in: registration, users, look-alike emails, password and token grants,
sessions, device tokens, login rate limits and lockout, signing keys and their rotation."""
