"""Real servers for integration tests: Dovecot (IMAP) and aiosmtpd (SMTP) on 127.0.0.1."""
