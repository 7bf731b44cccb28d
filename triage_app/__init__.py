"""TicketTriage: local transformer triage of support tickets."""
__version__ = "0.1.0"
