"""E-mails as documents: an .eml parsed, rendered, its parts chosen and linked
(docs/mail-documents.md). The stage is consume/stages/mail.py."""
