"""Exchange patterns: Notified Pull (with Push and Pull); both halves of each."""
