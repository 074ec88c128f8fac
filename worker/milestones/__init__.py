"""Milestones: the meetings and deadlines of the plan, and the reminders about them."""
