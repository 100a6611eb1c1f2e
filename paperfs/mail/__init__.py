"""Mail intake: IMAP accounts, the rules of mail.yml, records, polling and IDLE (docs/mail.md)."""
