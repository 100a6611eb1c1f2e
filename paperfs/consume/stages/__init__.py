"""The prepare stages, one module each, run in workers: detect, convert, split, text (ocr), dates (content_dates), classify."""
