"""The prepare stages that run in workers (detect, convert, text/OCR, dates)."""
