"""What webhooks need below the layers: signatures, the HTTP sender and the SSRF guard."""
