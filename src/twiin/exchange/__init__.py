"""Twiin exchange patterns: Notified Pull, TA Notifications, TA Workflow, Push and Pull."""
